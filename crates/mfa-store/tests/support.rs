//! What the backend tests share: finding the test servers, per-run schemas and key
//! prefixes, unique temporary files, and the 64-way races across two store instances.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, FactorStore, FailureKey, FailureStore, LookupKey,
    PendingChallenge, RecordData, StoreError,
};
use mfa_core::testkit::{self, SeededRandom, race};
use mfa_core::{Timestamp, UserId};

/// Tests on the shared Redis Cluster hold this for reading; the fault tests, which
/// kill a master or migrate slots, hold it for writing, so they never run beside them.
pub(crate) static REDIS_CLUSTER: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// How many tasks the cross-instance races start.
pub(crate) const RACERS: usize = 64;

/// A name no other test (or test run) uses: process id, a random salt and a counter.
pub(crate) fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    // A per-process random number, so runs that reuse a process id do not collide.
    static SALT: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let salt = SALT.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let h = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        u32::try_from(h >> 32).unwrap_or(0)
    });
    format!("{prefix}_{}_{salt}_{n}", std::process::id())
}

/// A unique SQLite file in the temporary directory, removed (with its WAL files) on
/// drop.
pub(crate) struct TempDb(pub(crate) std::path::PathBuf);

impl TempDb {
    pub(crate) fn new(prefix: &str) -> Self {
        Self(std::env::temp_dir().join(format!("{}.sqlite3", unique(prefix))))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The server named by `var`, or `None` after saying the test skips. With
/// `MFA_REQUIRE_EXTERNAL=1` a missing variable fails the test instead.
pub(crate) fn server(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
                "{test}: {var} is not set and MFA_REQUIRE_EXTERNAL=1"
            );
            eprintln!("{test}: skipped ({var} is not set)");
            None
        }
    }
}

/// Whether a server that is set but unreachable should skip (`true`) or fail.
pub(crate) fn unreachable(test: &str, what: &str, e: &dyn std::fmt::Display) -> bool {
    assert!(
        std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
        "{test}: {what} is unreachable and MFA_REQUIRE_EXTERNAL=1: {e}"
    );
    eprintln!("{test}: skipped ({what} is unreachable: {e})");
    true
}

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

/// 64 concurrent attempts through two instances `a` and `b` of one store (two pools,
/// two connections, two clients), alternating: one factor CAS version, one challenge
/// take and one lookup-key insert each have exactly one winner, and 64 failure
/// increments count exactly 64.
pub(crate) async fn races_across_instances<A, B>(a: Arc<A>, b: Arc<B>)
where
    A: FactorStore + ChallengeStore + FailureStore + 'static,
    B: FactorStore + ChallengeStore + FailureStore + 'static,
{
    // Compare-and-swap on one version.
    let rec = testkit::factor_record("racer", "totp", 1, b"v1");
    let v1 = a.insert_factor(rec.clone()).await.unwrap();
    let results = race(RACERS, |i| {
        let (a, b) = (Arc::clone(&a), Arc::clone(&b));
        let mut next = rec.clone();
        next.data = RecordData::plain(format!("won by {i}").into_bytes());
        async move {
            if i % 2 == 0 {
                a.update_factor_if_version(next, v1).await
            } else {
                b.update_factor_if_version(next, v1).await
            }
        }
    })
    .await;
    one_winner(&results, "CAS on a version", |e| {
        matches!(e, StoreError::Conflict)
    });
    let stored = b.factor(&user("racer"), &rec.id).await.unwrap().unwrap();
    assert_ne!(stored.version, v1);

    // One challenge taken once.
    let id = ChallengeId::generate(&mut SeededRandom::new(64)).unwrap();
    let owner = ChallengeOwner::User(user("racer"));
    let c = PendingChallenge::new(
        id.clone(),
        owner.clone(),
        RecordData::plain(b"challenge".to_vec()),
        Timestamp::from_unix_secs(10_000),
    );
    a.put_challenge(c).await.unwrap();
    let results = race(RACERS, |i| {
        let (a, b) = (Arc::clone(&a), Arc::clone(&b));
        let (id, owner) = (id.clone(), owner.clone());
        async move {
            let now = Timestamp::from_unix_secs(10);
            if i % 2 == 0 {
                a.take_challenge(&id, &owner, now).await
            } else {
                b.take_challenge(&id, &owner, now).await
            }
        }
    })
    .await;
    let taken = results.iter().filter(|r| matches!(r, Ok(Some(_)))).count();
    assert_eq!(taken, 1, "exactly one take gets the challenge: {results:?}");
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    // One lookup key claimed once.
    let key = LookupKey::webauthn_credential(b"raced credential").unwrap();
    let results = race(RACERS, |i| {
        let (a, b) = (Arc::clone(&a), Arc::clone(&b));
        let rec = testkit::factor_record(&format!("claimer-{i}"), "key", 1, b"pk")
            .with_lookup_key(key.clone());
        async move {
            if i % 2 == 0 {
                a.insert_factor(rec).await
            } else {
                b.insert_factor(rec).await
            }
        }
    })
    .await;
    one_winner(&results, "insert claiming the key", |e| {
        matches!(e, StoreError::LookupKeyTaken)
    });

    // 64 increments count 64.
    let key = FailureKey::destination("+15557654321").unwrap();
    let window = Duration::from_secs(3_600);
    let results = race(RACERS, |i| {
        let (a, b) = (Arc::clone(&a), Arc::clone(&b));
        let key = key.clone();
        async move {
            let now = Timestamp::from_unix_secs(10);
            if i % 2 == 0 {
                a.record_failure(&key, now, window).await
            } else {
                b.record_failure(&key, now, window).await
            }
        }
    })
    .await;
    let mut counts: Vec<u32> = results.into_iter().map(|r| r.unwrap().count).collect();
    counts.sort_unstable();
    let expected: Vec<u32> = (1..=64).collect();
    assert_eq!(counts, expected, "each increment sees a distinct count");
    let f = a
        .failures(&key, Timestamp::from_unix_secs(10), window)
        .await
        .unwrap()
        .map(|f| f.count);
    assert_eq!(f, Some(64));
}

/// Exactly one of `results` is a success, and `lost` accepts every other one's error.
fn one_winner<T: std::fmt::Debug>(
    results: &[Result<T, StoreError>],
    what: &str,
    lost: impl Fn(&StoreError) -> bool,
) {
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one {what} wins: {results:?}");
    let refused = results.iter().all(|r| r.as_ref().err().is_none_or(&lost));
    assert!(
        refused,
        "every other {what} is refused as expected: {results:?}"
    );
}
