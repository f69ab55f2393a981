//! A verification's store steps: the counted attempt, the commit of a success, and their
//! races.

use super::challenges::{challenge, challenge_id, peek, put};
use super::counters::count;
use super::*;
use crate::store::{
    AttemptCount, AttemptRequest, AttemptRules, AttemptStore, ChallengeUse, Success, Verdict,
    VerificationStore,
};

const WINDOW: Duration = Duration::from_secs(600);

/// Rules with no wait for the first two failures, 10 s after the second, a lock of
/// 100 s from the third on, and the account locked at `account_limit`.
fn rules(account_limit: u32) -> AttemptRules {
    AttemptRules::new(
        account_limit,
        WINDOW,
        &[Duration::ZERO, Duration::ZERO, Duration::from_secs(10)],
        Duration::from_secs(100),
    )
    .unwrap_or_else(|e| panic!("test rules: {e}"))
}

async fn attempt<S: AttemptStore>(
    store: &S,
    u: &UserId,
    f: &FactorId,
    rules: &AttemptRules,
    now: u64,
    challenge: Option<ChallengeUse<'_>>,
) -> AttemptCount {
    let mut req = AttemptRequest::new(u, f, rules, Timestamp::from_unix_secs(now));
    if let Some(c) = challenge {
        req = req.with_challenge(c);
    }
    store
        .count_attempt(&req)
        .await
        .unwrap_or_else(|e| panic!("count_attempt at {now} failed: {e}"))
}

async fn counts<S: FailureStore>(store: &S, u: &UserId, f: &FactorId, now: u64) -> (u32, u32) {
    (
        count(store, &FailureKey::user(u), now, NEVER_LAPSES)
            .await
            .unwrap_or(0),
        count(store, &FailureKey::factor(u, f), now, WINDOW)
            .await
            .unwrap_or(0),
    )
}

/// The verdicts of [`AttemptRules`] in sequence: proceed (counted on factor and
/// account), backoff (counted nowhere), locked (counted on the factor only), the lock's
/// end, the account's lock (counted nowhere, and never lapsing); the counters as they
/// were; a challenge read or taken only on proceed; and `settle_attempt`.
///
/// # Panics
///
/// When the store judges or counts otherwise.
pub async fn attempts<S: AttemptStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let (erin, f1) = (user("erin"), fid("f1"));
    let r = rules(4);
    let a = attempt(store, &erin, &f1, &r, 100, None).await;
    assert_eq!(a.verdict, Verdict::Proceed);
    assert!(a.account.is_none() && a.factor.is_none(), "{a:?}");
    assert_eq!(counts(store, &erin, &f1, 100).await, (1, 1));
    let a = attempt(store, &erin, &f1, &r, 100, None).await;
    assert_eq!(a.verdict, Verdict::Proceed);
    assert_eq!(a.factor.map(|f| (f.count, f.last_at)), Some((1, t(100))));
    assert_eq!(a.account.map(|f| f.count), Some(1));
    // Two failures: the third attempt waits 10 s, and a refused one counts nowhere.
    let a = attempt(store, &erin, &f1, &r, 105, None).await;
    assert_eq!(a.verdict, Verdict::Backoff { until: t(110) });
    assert_eq!(counts(store, &erin, &f1, 105).await, (2, 2));
    let a = attempt(store, &erin, &f1, &r, 110, None).await;
    assert_eq!(a.verdict, Verdict::Proceed);
    assert_eq!(counts(store, &erin, &f1, 110).await, (3, 3));
    // Three failures: locked for 100 s; an attempt then extends the lock on the
    // factor, never the account's count.
    let a = attempt(store, &erin, &f1, &r, 150, None).await;
    assert_eq!(a.verdict, Verdict::Locked { until: t(250) });
    assert_eq!(counts(store, &erin, &f1, 150).await, (3, 4));
    let a = attempt(store, &erin, &f1, &r, 249, None).await;
    assert_eq!(a.verdict, Verdict::Locked { until: t(349) });
    let a = attempt(store, &erin, &f1, &r, 349, None).await;
    assert_eq!(a.verdict, Verdict::Proceed, "the lock ended");
    assert_eq!(counts(store, &erin, &f1, 349).await, (4, 6));
    // The account's limit (4): refused on every factor, whatever time passes.
    let f2 = fid("f2");
    for now in [400, 400 + 86_400 * 90] {
        let a = attempt(store, &erin, &f2, &r, now, None).await;
        assert_eq!(a.verdict, Verdict::AccountLocked, "at {now}");
        assert_eq!(a.account.map(|f| f.count), Some(4));
    }
    assert_eq!(counts(store, &erin, &f2, 400).await, (4, 0));
    // The factor's counter lapses after its window; the account's never does.
    let later = 349 + 601;
    assert_eq!(counts(store, &erin, &f1, later).await, (4, 0));
    // settle_attempt clears both; another factor's counter stays.
    let f3 = fid("f3");
    let frank = user("frank");
    assert_eq!(
        attempt(store, &frank, &f3, &r, 1_000, None).await.verdict,
        Verdict::Proceed
    );
    store
        .settle_attempt(&erin, &f1, None, t(1_000))
        .await
        .unwrap_or_else(|e| panic!("settle_attempt failed: {e}"));
    assert_eq!(counts(store, &erin, &f1, 1_000).await, (0, 0));
    assert_eq!(counts(store, &frank, &f3, 1_000).await, (1, 1));
    assert_eq!(
        attempt(store, &erin, &f2, &r, 1_000, None).await.verdict,
        Verdict::Proceed,
        "a success unlocks the account"
    );

    // Challenges: read without consuming, take once, only the user's own, unexpired,
    // and only on proceed. Each attempt at its own factor, so none is held back.
    let gina = user("gina");
    let generous = rules(1_000);
    let id = challenge_id(7);
    let other = challenge_id(8);
    let v = put(
        store,
        challenge(&id, ChallengeOwner::User(gina.clone()), 5_000),
    )
    .await;
    put(store, challenge(&other, owner("hank"), 5_000)).await;
    let c = |n: &str| fid(n);
    let a = attempt(
        store,
        &gina,
        &c("c1"),
        &generous,
        2_000,
        Some(ChallengeUse::Read(&id)),
    )
    .await;
    assert_eq!(a.verdict, Verdict::Proceed);
    assert_eq!(a.challenge.as_ref().map(|c| c.version), Some(v));
    assert_eq!(
        a.challenge.map(|c| c.value.data.expose_bytes().to_vec()),
        Some(b"state".to_vec())
    );
    let a = attempt(
        store,
        &gina,
        &c("c2"),
        &generous,
        2_000,
        Some(ChallengeUse::Read(&other)),
    )
    .await;
    assert!(a.challenge.is_none(), "another user's challenge");
    let a = attempt(
        store,
        &gina,
        &c("c3"),
        &generous,
        2_000,
        Some(ChallengeUse::Take(&other)),
    )
    .await;
    assert!(
        a.challenge.is_none(),
        "another user's challenge is not taken"
    );
    // Refused: the challenge is not taken.
    let strict = rules(1);
    let a = attempt(
        store,
        &gina,
        &c("c4"),
        &strict,
        2_000,
        Some(ChallengeUse::Take(&id)),
    )
    .await;
    assert_eq!(a.verdict, Verdict::AccountLocked);
    assert!(a.challenge.is_none());
    assert!(peek(store, &id, &owner("gina"), 2_000).await.is_some());
    let a = attempt(
        store,
        &gina,
        &c("c5"),
        &generous,
        2_000,
        Some(ChallengeUse::Take(&id)),
    )
    .await;
    assert_eq!(
        a.challenge.map(|c| c.value.data.expose_bytes().to_vec()),
        Some(b"state".to_vec()),
        "taken"
    );
    assert!(peek(store, &id, &owner("gina"), 2_000).await.is_none());
    let a = attempt(
        store,
        &gina,
        &c("c6"),
        &generous,
        2_000,
        Some(ChallengeUse::Take(&id)),
    )
    .await;
    assert!(a.challenge.is_none(), "taken once");
    assert!(peek(store, &other, &owner("hank"), 2_000).await.is_some());
    // settle_attempt with a take: a challenge that is gone is a conflict and clears
    // nothing.
    let before = counts(store, &gina, &c("c6"), 2_000).await;
    assert_eq!(before.1, 1);
    assert!(matches!(
        store
            .settle_attempt(&gina, &c("c6"), Some(&id), t(2_000))
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(counts(store, &gina, &c("c6"), 2_000).await, before);
    let third = challenge_id(9);
    put(store, challenge(&third, owner("gina"), 5_000)).await;
    store
        .settle_attempt(&gina, &c("c6"), Some(&third), t(2_000))
        .await
        .unwrap_or_else(|e| panic!("settle_attempt with a take failed: {e}"));
    assert!(peek(store, &third, &owner("gina"), 2_000).await.is_none());
    assert_eq!(counts(store, &gina, &c("c6"), 2_000).await, (0, 0));
    // Expired: not read, and not taken.
    let late = challenge_id(10);
    put(store, challenge(&late, owner("gina"), 5_000)).await;
    for (f, u) in [
        ("c7", ChallengeUse::Read(&late)),
        ("c8", ChallengeUse::Take(&late)),
    ] {
        let a = attempt(store, &gina, &c(f), &generous, 5_001, Some(u)).await;
        assert_eq!(a.verdict, Verdict::Proceed);
        assert!(a.challenge.is_none(), "an expired challenge: {u:?}");
    }
}

/// `begin_verification` lists the user's factors on proceed (oldest first) and none
/// on a refusal; `commit_verification` swaps, takes and clears all together or writes
/// nothing.
///
/// # Panics
///
/// When the store lists, swaps, takes or clears otherwise.
pub async fn verification_steps<S: VerificationStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let ivy = user("ivy");
    let (f1, f2) = (fid("f1"), fid("f2"));
    let v2 = insert(store, factor_record("ivy", "f2", 20, b"two")).await;
    let v1 = insert(store, factor_record("ivy", "f1", 10, b"one")).await;
    insert(store, factor_record("jack", "f1", 5, b"jack's")).await;
    let r = rules(3);
    let begin = |now: u64, c: Option<ChallengeUse<'static>>| {
        let r = r.clone();
        let (ivy, f1) = (ivy.clone(), f1.clone());
        async move {
            let mut req = AttemptRequest::new(&ivy, &f1, &r, t(now));
            if let Some(c) = c {
                req = req.with_challenge(c);
            }
            store
                .begin_verification(&req)
                .await
                .unwrap_or_else(|e| panic!("begin_verification failed: {e}"))
        }
    };
    let b = begin(100, None).await;
    assert_eq!(b.attempt.verdict, Verdict::Proceed);
    let listed: Vec<_> = b
        .factors
        .iter()
        .map(|f| {
            (
                f.value.id.as_str().to_owned(),
                f.version,
                data_of(&f.value).to_vec(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("f1".to_owned(), v1, b"one".to_vec()),
            ("f2".to_owned(), v2, b"two".to_vec())
        ],
        "the user's factors, oldest first"
    );
    let b = begin(100, None).await;
    assert_eq!(b.attempt.verdict, Verdict::Proceed);
    let b = begin(101, None).await;
    assert!(matches!(b.attempt.verdict, Verdict::Backoff { .. }));
    assert!(b.factors.is_empty(), "nothing listed for a refused attempt");
    assert_eq!(counts(store, &ivy, &f1, 101).await, (2, 2));

    // A commit with a stale version writes nothing: the counters and the challenge stay.
    let id = challenge_id(11);
    put(store, challenge(&id, owner("ivy"), 5_000)).await;
    let mut rec = factor_record("ivy", "f1", 10, b"one, used");
    rec.last_used_at = Some(t(200));
    let stale = store
        .commit_verification(
            Success::new(&ivy, &f1, t(200))
                .with_update(rec.clone(), v2)
                .with_take(&id),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    assert!(peek(store, &id, &owner("ivy"), 200).await.is_some());
    assert_eq!(counts(store, &ivy, &f1, 200).await, (2, 2));
    assert_eq!(read(store, "ivy", "f1").await.map(|r| r.1), Some(v1));
    // A challenge that is not there: a conflict, and the factor is not swapped.
    let gone = challenge_id(12);
    let r2 = store
        .commit_verification(
            Success::new(&ivy, &f1, t(200))
                .with_update(rec.clone(), v1)
                .with_take(&gone),
        )
        .await;
    assert!(matches!(r2, Err(StoreError::Conflict)), "{r2:?}");
    assert_eq!(read(store, "ivy", "f1").await.map(|r| r.1), Some(v1));
    assert_eq!(counts(store, &ivy, &f1, 200).await, (2, 2));
    // An expired challenge cannot be taken either.
    let r3 = store
        .commit_verification(
            Success::new(&ivy, &f1, t(5_001))
                .with_update(rec.clone(), v1)
                .with_take(&id),
        )
        .await;
    assert!(matches!(r3, Err(StoreError::Conflict)), "{r3:?}");
    assert_eq!(read(store, "ivy", "f1").await.map(|r| r.1), Some(v1));
    // All of it.
    let v = store
        .commit_verification(
            Success::new(&ivy, &f1, t(200))
                .with_update(rec.clone(), v1)
                .with_take(&id),
        )
        .await
        .unwrap_or_else(|e| panic!("commit_verification failed: {e}"));
    let (now_rec, now_v) = read(store, "ivy", "f1")
        .await
        .unwrap_or_else(|| panic!("f1 is gone"));
    assert_eq!(v, Some(now_v));
    assert!(now_v > v1 && now_v > v2);
    assert_eq!(data_of(&now_rec), b"one, used");
    assert_eq!(now_rec.last_used_at, Some(t(200)));
    assert!(
        peek(store, &id, &owner("ivy"), 200).await.is_none(),
        "taken"
    );
    assert_eq!(counts(store, &ivy, &f1, 200).await, (0, 0), "cleared");
    // The same version again is a replay.
    let again = store
        .commit_verification(Success::new(&ivy, &f1, t(201)).with_update(rec.clone(), v1))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    // A removed factor.
    assert!(store.remove_factor(&ivy, &f2).await.is_ok_and(|r| r));
    let removed = store
        .commit_verification(
            Success::new(&ivy, &f2, t(202)).with_update(factor_record("ivy", "f2", 20, b"two"), v2),
        )
        .await;
    assert!(matches!(removed, Err(StoreError::NotFound)), "{removed:?}");
    assert!(read(store, "ivy", "f2").await.is_none(), "not re-created");
    // Counters only.
    assert_eq!(begin(300, None).await.attempt.verdict, Verdict::Proceed);
    let none = store
        .commit_verification(Success::new(&ivy, &f1, t(300)))
        .await
        .unwrap_or_else(|e| panic!("commit_verification failed: {e}"));
    assert_eq!(none, None);
    assert_eq!(counts(store, &ivy, &f1, 300).await, (0, 0));
    assert!(
        read(store, "jack", "f1").await.is_some(),
        "another user's factor untouched"
    );
}

/// [`RACERS`] attempts at one factor released together are judged as a sequence:
/// exactly as many proceed as the rules let a sequence through (two free failures and a
/// third before the lock), the rest are locked and counted on the factor only.
///
/// # Panics
///
/// When more or fewer proceed, or the counters do not add up.
pub async fn attempt_race<S: AttemptStore + 'static>(store: Arc<S>) {
    let rules = Arc::new(
        AttemptRules::new(
            1_000,
            WINDOW,
            &[Duration::ZERO; 3],
            Duration::from_secs(600),
        )
        .unwrap_or_else(|e| panic!("{e}")),
    );
    let verdicts = race(RACERS, |_| {
        let (store, rules) = (Arc::clone(&store), Arc::clone(&rules));
        async move {
            let (u, f) = (user("kate"), fid("f1"));
            let req = AttemptRequest::new(&u, &f, &rules, Timestamp::from_unix_secs(50));
            store.count_attempt(&req).await.map(|a| a.verdict)
        }
    })
    .await;
    let mut proceed = 0;
    for v in verdicts {
        match v {
            Ok(Verdict::Proceed) => proceed += 1,
            Ok(Verdict::Locked { .. }) => {}
            other => panic!("a racing attempt got {other:?}"),
        }
    }
    assert_eq!(
        proceed, 3,
        "of {RACERS} racing attempts exactly 3 may be verified"
    );
    assert_eq!(
        counts(&*store, &user("kate"), &fid("f1"), 50).await,
        (3, 32),
        "every attempt counted on the factor, only the verified ones on the account"
    );
}

/// [`RACERS`] attempts at as many factors of one user released together: exactly the
/// account's limit proceed.
///
/// # Panics
///
/// When more or fewer proceed.
pub async fn account_race<S: AttemptStore + 'static>(store: Arc<S>) {
    let rules = Arc::new(rules(5));
    let verdicts = race(RACERS, |i| {
        let (store, rules) = (Arc::clone(&store), Arc::clone(&rules));
        async move {
            let (u, f) = (user("liam"), fid(&format!("f{i}")));
            let req = AttemptRequest::new(&u, &f, &rules, Timestamp::from_unix_secs(50));
            store.count_attempt(&req).await.map(|a| a.verdict)
        }
    })
    .await;
    let mut proceed = 0;
    for v in verdicts {
        match v {
            Ok(Verdict::Proceed) => proceed += 1,
            Ok(Verdict::AccountLocked) => {}
            other => panic!("a racing attempt got {other:?}"),
        }
    }
    assert_eq!(
        proceed, 5,
        "of {RACERS} racing attempts on many factors exactly the account's limit may be verified"
    );
}

/// [`RACERS`] attempts (each at its own factor) that take one challenge: exactly one
/// gets it; and as many commits of one version: exactly one wins.
///
/// # Panics
///
/// When zero or several get the challenge or win the commit.
pub async fn commit_race<S: VerificationStore + 'static>(store: Arc<S>) {
    let id = Arc::new(challenge_id(21));
    put(&*store, challenge(&id, owner("mia"), 5_000)).await;
    let rules = Arc::new(rules(1_000));
    let taken = race(RACERS, |i| {
        let (store, rules, id) = (Arc::clone(&store), Arc::clone(&rules), Arc::clone(&id));
        async move {
            let (u, f) = (user("mia"), fid(&format!("f{i}")));
            let req = AttemptRequest::new(&u, &f, &rules, Timestamp::from_unix_secs(50))
                .with_challenge(ChallengeUse::Take(&id));
            store
                .count_attempt(&req)
                .await
                .map(|a| a.challenge.is_some())
        }
    })
    .await;
    let got = taken
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("count_attempt failed: {e}")))
        .filter(|&g| g)
        .count();
    assert_eq!(
        got, 1,
        "exactly one of {RACERS} racing attempts takes the challenge"
    );

    let v = insert(&*store, factor_record("mia", "f1", 1, b"before")).await;
    let won = race(RACERS, |i| {
        let store = Arc::clone(&store);
        async move {
            let (u, f) = (user("mia"), fid("f1"));
            let rec = factor_record("mia", "f1", 1, format!("after {i}").as_bytes());
            store
                .commit_verification(
                    Success::new(&u, &f, Timestamp::from_unix_secs(60)).with_update(rec, v),
                )
                .await
        }
    })
    .await;
    let mut wins = Vec::new();
    for (i, r) in won.into_iter().enumerate() {
        match r {
            Ok(_) => wins.push(i),
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("a racing commit failed with {e}"),
        }
    }
    assert_eq!(wins.len(), 1, "exactly one of {RACERS} racing commits wins");
    let data = read(&*store, "mia", "f1")
        .await
        .map(|r| data_of(&r.0).to_vec());
    assert_eq!(
        data,
        wins.first().map(|i| format!("after {i}").into_bytes())
    );
}
