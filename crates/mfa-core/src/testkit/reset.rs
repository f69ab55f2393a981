//! `reset_user`: everything of one user at once, and racing verifications.

use super::challenges::*;
use super::counters::*;
use super::*;

/// Everything the reset must remove, and what it must leave.
pub(super) struct ResetFixture {
    alice_challenges: Vec<ChallengeId>,
    usernameless: ChallengeId,
    bobs: ChallengeId,
}

pub(super) async fn reset_fixture<S: Store>(store: &S) -> ResetFixture {
    let alice = user("alice");
    insert(
        store,
        factor_record("alice", "key", 1, b"").with_lookup_key(credential(b"alice's key")),
    )
    .await;
    insert(
        store,
        factor_record("alice", "sms", 2, b"").with_lookup_key(phone("+15551234567")),
    )
    .await;
    insert(store, factor_record("bob", "key", 3, b"")).await;
    let mut alice_challenges = Vec::new();
    for seed in 100..102 {
        let id = challenge_id(seed);
        put(store, challenge(&id, owner("alice"), 10_000)).await;
        alice_challenges.push(id);
    }
    let usernameless = challenge_id(102);
    put(
        store,
        challenge(&usernameless, ChallengeOwner::Usernameless, 10_000),
    )
    .await;
    let bobs = challenge_id(103);
    put(store, challenge(&bobs, owner("bob"), 10_000)).await;
    for d in [
        device("alice", "laptop", 0, 1, 10_000),
        device("bob", "laptop", 0, 1, 10_000),
    ] {
        store
            .remember_device(d)
            .await
            .unwrap_or_else(|e| panic!("remember_device failed: {e}"));
    }
    let window = Duration::from_secs(3_600);
    let now = Timestamp::from_unix_secs(10);
    for key in [
        FailureKey::user(&alice),
        FailureKey::factor(&alice, &fid("sms")),
        FailureKey::limit(&alice, UserLimit::CodesSent),
        FailureKey::factor_sends(&alice, &fid("sms")),
        FailureKey::user(&user("bob")),
        FailureKey::destination("+15551234567").unwrap_or_else(|e| panic!("{e}")),
        FailureKey::client_ip("192.0.2.1".parse().unwrap_or_else(|e| panic!("{e}"))),
        FailureKey::credential(b"alice's key", None).unwrap_or_else(|e| panic!("{e}")),
    ] {
        store.record_failure(&key, now, window).await.ok();
    }
    ResetFixture {
        alice_challenges,
        usernameless,
        bobs,
    }
}

/// The reset removes the user's factors, lookup keys, challenges, devices and counters,
/// bumps the generation, and leaves everyone else's state.
///
/// # Panics
///
/// When the store breaks a promise of [`UserStore::reset_user`].
pub async fn reset_user<S: Store>(store: &S) {
    let alice = user("alice");
    let fx = reset_fixture(store).await;
    let summary = store
        .reset_user(&alice)
        .await
        .unwrap_or_else(|e| panic!("reset_user failed: {e}"));
    assert_eq!(
        (
            summary.factors,
            summary.challenges,
            summary.devices,
            summary.failure_counters,
            summary.generation
        ),
        (2, 2, 1, 4, Generation::new(1)),
        "what the reset removed"
    );
    assert!(store.list_factors(&alice).await.is_ok_and(|l| l.is_empty()));
    for id in &fx.alice_challenges {
        assert_eq!(peek(store, id, &owner("alice"), 10).await, None);
    }
    assert!(
        store
            .list_devices(&alice, Timestamp::EPOCH)
            .await
            .is_ok_and(|l| l.is_empty())
    );
    let window = Duration::from_secs(3_600);
    assert_eq!(
        count(store, &FailureKey::user(&alice), 10, window).await,
        None
    );
    for key in [
        FailureKey::factor(&alice, &fid("sms")),
        FailureKey::limit(&alice, UserLimit::CodesSent),
        FailureKey::factor_sends(&alice, &fid("sms")),
    ] {
        assert_eq!(count(store, &key, 10, window).await, None, "{key:?}");
    }
    let gen_now = store.user_state(&alice).await.ok().map(|s| s.generation);
    assert_eq!(gen_now, Some(Generation::new(1)));
    // Her lookup keys are free again.
    insert(
        store,
        factor_record("zed", "key", 4, b"").with_lookup_key(credential(b"alice's key")),
    )
    .await;
    // Everyone else's state stays.
    assert!(read(store, "bob", "key").await.is_some());
    assert!(
        peek(store, &fx.usernameless, &ChallengeOwner::Usernameless, 10)
            .await
            .is_some()
    );
    assert!(peek(store, &fx.bobs, &owner("bob"), 10).await.is_some());
    assert!(
        store
            .list_devices(&user("bob"), Timestamp::EPOCH)
            .await
            .is_ok_and(|l| l.len() == 1)
    );
    assert_eq!(
        count(store, &FailureKey::user(&user("bob")), 10, window).await,
        Some(1)
    );
    let number = FailureKey::destination("+15551234567").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        count(store, &number, 10, window).await,
        Some(1),
        "destination counters stay"
    );
    let credential = FailureKey::credential(b"alice's key", None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        count(store, &credential, 10, window).await,
        Some(1),
        "counters no user owns stay"
    );
    // A second reset finds nothing, and bumps again.
    let again = store.reset_user(&alice).await.ok();
    assert_eq!(
        again.map(|s| (
            s.factors,
            s.challenges,
            s.devices,
            s.failure_counters,
            s.generation
        )),
        Some((0, 0, 0, 0, Generation::new(2)))
    );
}

/// What one racer in [`reset_race`] did: how often it succeeded before it stopped, and
/// the error it stopped on, if any.
#[derive(Debug)]
enum Raced {
    Reset(Result<crate::store::ResetSummary, StoreError>),
    Looped {
        what: &'static str,
        successes: usize,
        stopped_on: Option<StoreError>,
    },
}

/// How many rounds a racer in [`reset_race`] makes before deciding the reset never
/// took effect.
const MAX_ROUNDS: usize = 100_000;

/// A reset races with verifications (compare-and-swaps on factors and challenges) and
/// sign-ins remembering a device at the old generation. Each of those racers keeps
/// going, round after round, until the user's generation moves, so whenever the reset
/// lands, some of them are in flight around it. Afterwards nothing of the user is left.
///
/// # Panics
///
/// When a factor, challenge or device survives the reset, the reset's summary does not
/// match what was there, or a racer fails otherwise than by losing.
pub async fn reset_race<S: Store + 'static>(store: Arc<S>) {
    const FACTORS: usize = 8;
    let alice = user("alice");
    let mut challenges = Vec::new();
    for i in 0..FACTORS {
        insert(&*store, factor_record("alice", &format!("f{i}"), 1, b"v1")).await;
        let c = challenge(&challenge_id(200 + i as u64), owner("alice"), 10_000);
        put(&*store, c.clone()).await;
        challenges.push(c);
    }
    let generation = store
        .user_state(&alice)
        .await
        .unwrap_or_else(|e| panic!("user_state failed: {e}"))
        .generation;
    let challenges = Arc::new(challenges);
    let results = race(RACERS, |i| {
        let store = Arc::clone(&store);
        let challenges = Arc::clone(&challenges);
        async move {
            let alice = user("alice");
            if i == 0 {
                // Let the other racers get going, so the reset lands among them.
                for _ in 0..RACERS {
                    tokio::task::yield_now().await;
                }
                return Raced::Reset(store.reset_user(&alice).await);
            }
            let now = Timestamp::from_unix_secs(10);
            let what = match i % 3 {
                0 => "device",
                1 => "factor",
                _ => "challenge",
            };
            let mut successes = 0;
            for round in 0..MAX_ROUNDS {
                match store.user_state(&alice).await {
                    Ok(s) if s.generation != generation => break,
                    Ok(_) => {}
                    Err(e) => panic!("user_state failed: {e}"),
                }
                let step = match i % 3 {
                    0 => {
                        let d =
                            device("alice", &format!("device-{i}"), generation.get(), 1, 10_000);
                        store.remember_device(d).await.map(|()| true)
                    }
                    1 => match store
                        .factor(&alice, &fid(&format!("f{}", i % FACTORS)))
                        .await
                    {
                        Ok(Some(f)) => {
                            let mut next = f.value.clone();
                            next.data = RecordData::plain(format!("{i}/{round}").into_bytes());
                            next.last_used_at = Some(now);
                            match store.update_factor_if_version(next, f.version).await {
                                Err(StoreError::Conflict) => Ok(false),
                                other => other.map(|_| true),
                            }
                        }
                        Ok(None) => Err(StoreError::NotFound),
                        Err(e) => Err(e),
                    },
                    _ => {
                        let Some(c) = challenges.get(i % FACTORS) else {
                            panic!("fixture too small")
                        };
                        match store.challenge(&c.id, &c.owner, now).await {
                            Ok(Some(cur)) => {
                                let mut next = c.clone();
                                next.data = RecordData::plain(format!("{i}/{round}").into_bytes());
                                match store
                                    .update_challenge_if_version(next, cur.version, now)
                                    .await
                                {
                                    Err(StoreError::Conflict) => Ok(false),
                                    other => other.map(|_| true),
                                }
                            }
                            Ok(None) => Err(StoreError::NotFound),
                            Err(e) => Err(e),
                        }
                    }
                };
                match step {
                    Ok(won) => successes += usize::from(won),
                    Err(e) => {
                        return Raced::Looped {
                            what,
                            successes,
                            stopped_on: Some(e),
                        };
                    }
                }
                if round + 1 == MAX_ROUNDS {
                    panic!("reset_user never took effect in {MAX_ROUNDS} rounds of a racer");
                }
                tokio::task::yield_now().await;
            }
            Raced::Looped {
                what,
                successes,
                stopped_on: None,
            }
        }
    })
    .await;
    let mut remembered = 0;
    let mut summary = None;
    for r in results {
        match r {
            Raced::Reset(Ok(s)) => summary = Some(s),
            Raced::Looped {
                what,
                successes,
                stopped_on,
            } => {
                let expected_stop = match what {
                    // A device remembered at the old generation after the reset is refused.
                    "device" => matches!(stopped_on, None | Some(StoreError::Conflict)),
                    // A verification after the reset finds nothing to update.
                    _ => matches!(stopped_on, None | Some(StoreError::NotFound)),
                };
                assert!(
                    expected_stop,
                    "a {what} racer failed otherwise than by losing: {stopped_on:?}"
                );
                if what == "device" && successes > 0 {
                    remembered += 1;
                }
            }
            Raced::Reset(Err(e)) => panic!("reset_user must succeed: {e}"),
        }
    }
    let Some(summary) = summary else {
        panic!("reset_user must succeed")
    };
    let left = store.list_factors(&alice).await.unwrap_or_default();
    assert!(left.is_empty(), "factors survived the reset: {left:?}");
    for c in challenges.iter() {
        let survived = peek(&*store, &c.id, &owner("alice"), 10).await;
        assert!(
            survived.is_none(),
            "a challenge survived the reset: {survived:?}"
        );
    }
    let devices = store
        .list_devices(&alice, Timestamp::EPOCH)
        .await
        .unwrap_or_default();
    assert!(
        devices.is_empty(),
        "devices survived the reset: {devices:?}"
    );
    assert_eq!(
        (summary.factors, summary.challenges, summary.devices),
        (FACTORS, FACTORS, remembered),
        "the reset removed every factor and challenge, and every device remembered before it"
    );
    let now = store.user_state(&alice).await.ok().map(|s| s.generation);
    assert_eq!(
        now,
        generation.next(),
        "the generation moved by exactly one"
    );
    assert_eq!(Some(summary.generation), generation.next());
}
