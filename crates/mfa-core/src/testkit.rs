//! Test helpers, and the store conformance suite every backend runs.
//!
//! ```
//! # async fn demo() {
//! # struct MyStore;
//! // In a backend's tests (needs a multi-threaded tokio runtime for the races):
//! // #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! // async fn conformance() {
//! //     mfa_core::testkit::conformance(|| MyStore::new()).await;
//! // }
//! # }
//! ```
//!
//! Each check builds a fresh store with the factory, so checks never see each other's
//! data. The suite panics (through `assert!`) on the first broken promise, naming it.
#![allow(
    clippy::panic,
    clippy::missing_panics_doc,
    reason = "a conformance suite reports broken promises by panicking, as a test does"
)]

use std::borrow::ToOwned;
use std::format;
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::clock::Timestamp;
use crate::id::{FactorId, FactorKind, UserId};
use crate::random::{RandomError, SecureRandom};
use crate::store::{
    ChallengeId, ChallengeStore, DeviceStore, FactorRecord, FactorStore, FailureKey, FailureStore,
    PendingChallenge, RememberedDevice, Store, StoreError, Version,
};

/// A deterministic random source for tests. **Never use it in production.**
#[derive(Debug)]
pub struct SeededRandom(StdRng);

impl SeededRandom {
    /// A source that yields the same bytes for the same seed.
    pub fn new(seed: u64) -> Self {
        Self(StdRng::seed_from_u64(seed))
    }
}

impl SecureRandom for SeededRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        rand::Rng::fill_bytes(&mut self.0, dest);
        Ok(())
    }
}

/// How many tasks the race checks start.
const RACERS: u32 = 32;

/// Runs every check of the suite, each on a fresh store from `new_store`.
///
/// Must run on a multi-threaded tokio runtime so the race checks really race.
///
/// # Panics
///
/// On the first promise of the store traits that the backend breaks.
pub async fn conformance<S, F>(new_store: F)
where
    S: Store + 'static,
    F: Fn() -> S,
{
    factor_crud(&new_store()).await;
    factor_cas_race(Arc::new(new_store())).await;
    challenges(&new_store()).await;
    challenge_take_race(Arc::new(new_store())).await;
    failures(&new_store()).await;
    failure_count_race(Arc::new(new_store())).await;
    devices(&new_store()).await;
}

/// A factor record for tests.
pub fn factor_record(user: &str, id: &str, created_at: u64, data: &[u8]) -> FactorRecord {
    FactorRecord {
        id: FactorId::new(id).unwrap_or_else(|e| panic!("test factor id {id:?}: {e}")),
        user: UserId::new(user).unwrap_or_else(|e| panic!("test user id {user:?}: {e}")),
        kind: FactorKind::Totp,
        label: format!("{id} label"),
        confirmed: true,
        created_at: Timestamp::from_unix_secs(created_at),
        last_used_at: None,
        data: data.to_vec(),
    }
}

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap_or_else(|e| panic!("test user id {s:?}: {e}"))
}

fn fid(s: &str) -> FactorId {
    FactorId::new(s).unwrap_or_else(|e| panic!("test factor id {s:?}: {e}"))
}

/// Insert, read, list, compare-and-swap, remove, remove-all.
///
/// # Panics
///
/// When the store breaks a promise of [`FactorStore`].
pub async fn factor_crud<S: FactorStore>(store: &S) {
    let alice = user("alice");
    let a1 = factor_record("alice", "a1", 200, b"one");
    let a2 = factor_record("alice", "a2", 100, b"two");
    let b1 = factor_record("bob", "a1", 50, b"bob's");

    assert_eq!(
        store.insert_factor(a1.clone()).await.ok(),
        Some(Version::INITIAL)
    );
    assert_eq!(
        store.insert_factor(a2.clone()).await.ok(),
        Some(Version::INITIAL)
    );
    // The same factor id under another user is a different factor.
    assert_eq!(
        store.insert_factor(b1.clone()).await.ok(),
        Some(Version::INITIAL)
    );
    let dup = store
        .insert_factor(factor_record("alice", "a1", 1, b"dup"))
        .await;
    assert!(
        matches!(dup, Err(StoreError::AlreadyExists)),
        "duplicate insert must fail with AlreadyExists: {dup:?}"
    );
    let read = store.factor(&alice, &fid("a1")).await.ok().flatten();
    let read = read.unwrap_or_else(|| panic!("inserted factor must be readable"));
    assert_eq!(read.value, a1, "duplicate insert must not overwrite");
    assert_eq!(read.version, Version::INITIAL);
    assert!(matches!(store.factor(&alice, &fid("zz")).await, Ok(None)));

    // Oldest first.
    let list = store.list_factors(&alice).await.unwrap_or_default();
    let ids: Vec<_> = list.iter().map(|v| v.value.id.as_str()).collect();
    assert_eq!(ids, ["a2", "a1"], "list_factors must sort oldest first");
    assert!(
        store
            .list_factors(&user("nobody"))
            .await
            .is_ok_and(|l| l.is_empty())
    );

    // Compare-and-swap.
    let mut updated = a1.clone();
    updated.data = b"one, updated".to_vec();
    updated.last_used_at = Some(Timestamp::from_unix_secs(300));
    let v2 = store
        .update_factor_if_version(updated.clone(), Version::INITIAL)
        .await;
    assert_eq!(
        v2.ok(),
        Some(Version::new(2)),
        "CAS on the current version succeeds"
    );
    let mut stale = a1.clone();
    stale.data = b"stale".to_vec();
    let lost = store
        .update_factor_if_version(stale, Version::INITIAL)
        .await;
    assert!(
        matches!(lost, Err(StoreError::Conflict)),
        "stale CAS: {lost:?}"
    );
    let now = store.factor(&alice, &fid("a1")).await.ok().flatten();
    assert_eq!(
        now.map(|v| (v.value, v.version)),
        Some((updated, Version::new(2)))
    );
    let missing = store
        .update_factor_if_version(factor_record("alice", "zz", 1, b""), Version::INITIAL)
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound)),
        "CAS on missing: {missing:?}"
    );
    assert!(
        matches!(store.factor(&alice, &fid("zz")).await, Ok(None)),
        "CAS must not insert"
    );

    // Remove one, then all.
    assert!(matches!(
        store.remove_factor(&alice, &fid("a2")).await,
        Ok(true)
    ));
    assert!(matches!(
        store.remove_factor(&alice, &fid("a2")).await,
        Ok(false)
    ));
    store
        .insert_factor(factor_record("alice", "a3", 300, b""))
        .await
        .ok();
    assert_eq!(store.remove_all_factors(&alice).await.ok(), Some(2));
    assert!(store.list_factors(&alice).await.is_ok_and(|l| l.is_empty()));
    // Bob is untouched.
    let bob = store.factor(&user("bob"), &fid("a1")).await.ok().flatten();
    assert_eq!(bob.map(|v| v.value), Some(b1));
    // A removed id can be enrolled again, starting over at the initial version.
    assert_eq!(store.insert_factor(a2).await.ok(), Some(Version::INITIAL));
}

/// Many tasks race to compare-and-swap the same version: exactly one wins.
///
/// # Panics
///
/// When zero or several updates succeed, or a loser is not told `Conflict`.
pub async fn factor_cas_race<S: FactorStore + 'static>(store: Arc<S>) {
    store
        .insert_factor(factor_record("racer", "f", 1, b"v1"))
        .await
        .ok();
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let rec = factor_record("racer", "f", 1, format!("winner {i}").as_bytes());
            store.update_factor_if_version(rec, Version::INITIAL).await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(v)) => {
                assert_eq!(v, Version::new(2));
                wins += 1;
            }
            Ok(Err(StoreError::Conflict)) => {}
            other => panic!("a losing CAS must be Conflict, got {other:?}"),
        }
    }
    assert_eq!(
        wins, 1,
        "exactly one of {RACERS} racing CAS updates must win"
    );
    let final_rec = store.factor(&user("racer"), &fid("f")).await.ok().flatten();
    let final_rec = final_rec.unwrap_or_else(|| panic!("raced record must exist"));
    assert_eq!(final_rec.version, Version::new(2));
    assert!(final_rec.value.data.starts_with(b"winner "));
}

fn challenge(id: &ChallengeId, expires_at: u64) -> PendingChallenge {
    PendingChallenge {
        id: id.clone(),
        user: user("carol"),
        factor: Some(fid("f1")),
        data: b"state".to_vec(),
        expires_at: Timestamp::from_unix_secs(expires_at),
    }
}

fn challenge_id(seed: u64) -> ChallengeId {
    ChallengeId::generate(&mut SeededRandom::new(seed))
        .unwrap_or_else(|e| panic!("seeded random cannot fail: {e}"))
}

/// Put, take once, expiry at the boundary, duplicate ids, purge.
///
/// # Panics
///
/// When the store breaks a promise of [`ChallengeStore`].
pub async fn challenges<S: ChallengeStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let c1 = challenge(&challenge_id(1), 1_000);
    assert!(store.put_challenge(c1.clone()).await.is_ok());
    let dup = store.put_challenge(challenge(&c1.id, 5_000)).await;
    assert!(
        matches!(dup, Err(StoreError::AlreadyExists)),
        "duplicate put: {dup:?}"
    );
    // Taking at exactly expires_at still works; the duplicate did not overwrite.
    let taken = store.take_challenge(&c1.id, t(1_000)).await.ok().flatten();
    assert_eq!(taken, Some(c1.clone()));
    assert!(
        matches!(store.take_challenge(&c1.id, t(900)).await, Ok(None)),
        "a challenge is taken once"
    );

    // Expired: not returned, and gone for good (even if the clock goes back).
    let c2 = challenge(&challenge_id(2), 1_000);
    store.put_challenge(c2.clone()).await.ok();
    assert!(matches!(
        store.take_challenge(&c2.id, t(1_001)).await,
        Ok(None)
    ));
    assert!(matches!(
        store.take_challenge(&c2.id, t(999)).await,
        Ok(None)
    ));

    // Purge removes only the expired ones.
    let live = challenge(&challenge_id(3), 2_000);
    store
        .put_challenge(challenge(&challenge_id(4), 1_000))
        .await
        .ok();
    store
        .put_challenge(challenge(&challenge_id(5), 1_500))
        .await
        .ok();
    store.put_challenge(live.clone()).await.ok();
    assert_eq!(store.purge_expired_challenges(t(1_600)).await.ok(), Some(2));
    assert_eq!(
        store
            .take_challenge(&live.id, t(1_600))
            .await
            .ok()
            .flatten(),
        Some(live)
    );
}

/// Many tasks race to take one challenge: exactly one gets it.
///
/// # Panics
///
/// When zero or several tasks get the challenge.
pub async fn challenge_take_race<S: ChallengeStore + 'static>(store: Arc<S>) {
    let id = challenge_id(42);
    store.put_challenge(challenge(&id, 10_000)).await.ok();
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&store);
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .take_challenge(&id, Timestamp::from_unix_secs(5))
                .await
        }));
    }
    let mut got = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(Some(_))) => got += 1,
            Ok(Ok(None)) => {}
            other => panic!("take_challenge failed: {other:?}"),
        }
    }
    assert_eq!(
        got, 1,
        "exactly one of {RACERS} racing takes must get the challenge"
    );
}

/// Increment, window expiry, clear, independent keys.
///
/// # Panics
///
/// When the store breaks a promise of [`FailureStore`].
pub async fn failures<S: FailureStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let window = Duration::from_secs(600);
    let total = FailureKey {
        user: user("dave"),
        factor: None,
    };
    let one = FailureKey {
        user: user("dave"),
        factor: Some(fid("f1")),
    };
    assert!(matches!(
        store.failures(&total, t(0), window).await,
        Ok(None)
    ));
    let f = store.record_failure(&total, t(100), window).await.ok();
    assert_eq!(
        f.map(|f| (f.count, f.first_at, f.last_at)),
        Some((1, t(100), t(100)))
    );
    let f = store.record_failure(&total, t(200), window).await.ok();
    assert_eq!(
        f.map(|f| (f.count, f.first_at, f.last_at)),
        Some((2, t(100), t(200)))
    );
    // Keys are independent.
    assert!(matches!(
        store.failures(&one, t(200), window).await,
        Ok(None)
    ));
    assert_eq!(
        store
            .record_failure(&one, t(200), window)
            .await
            .ok()
            .map(|f| f.count),
        Some(1)
    );
    // Still inside the window (600 s after the last failure).
    let seen = store.failures(&total, t(800), window).await.ok().flatten();
    assert_eq!(seen.map(|f| f.count), Some(2));
    // Past the window: forgotten, and the next failure starts over.
    assert!(matches!(
        store.failures(&total, t(801), window).await,
        Ok(None)
    ));
    let f = store.record_failure(&total, t(900), window).await.ok();
    assert_eq!(f.map(|f| (f.count, f.first_at)), Some((1, t(900))));
    // Clear.
    assert!(store.clear_failures(&total).await.is_ok());
    assert!(matches!(
        store.failures(&total, t(901), window).await,
        Ok(None)
    ));
    let long = Duration::from_secs(3_600);
    let other = store.failures(&one, t(901), long).await.ok().flatten();
    assert_eq!(
        other.map(|f| f.count),
        Some(1),
        "clearing one key leaves others"
    );
}

/// Many tasks record a failure at once: the count rises by exactly that many.
///
/// # Panics
///
/// When increments are lost.
pub async fn failure_count_race<S: FailureStore + 'static>(store: Arc<S>) {
    let key = FailureKey {
        user: user("erin"),
        factor: None,
    };
    let window = Duration::from_secs(3600);
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&store);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_failure(&key, Timestamp::from_unix_secs(10), window)
                .await
        }));
    }
    let mut counts = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(f)) => counts.push(f.count),
            other => panic!("record_failure failed: {other:?}"),
        }
    }
    counts.sort_unstable();
    let expected: Vec<u32> = (1..=RACERS).collect();
    assert_eq!(
        counts, expected,
        "each racing increment must see a distinct count"
    );
    let f = store
        .failures(&key, Timestamp::from_unix_secs(10), window)
        .await
        .ok()
        .flatten();
    assert_eq!(f.map(|f| f.count), Some(RACERS));
}

fn device(user_id: &str, id: &str, created: u64, expires: u64) -> RememberedDevice {
    RememberedDevice {
        user: user(user_id),
        device_id: id.to_owned(),
        label: format!("{id} browser"),
        created_at: Timestamp::from_unix_secs(created),
        expires_at: Timestamp::from_unix_secs(expires),
    }
}

/// Remember, look up, expiry, list, replace, forget one, forget all.
///
/// # Panics
///
/// When the store breaks a promise of [`DeviceStore`].
pub async fn devices<S: DeviceStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let frank = user("frank");
    let d1 = device("frank", "d1", 200, 1_000);
    let d2 = device("frank", "d2", 100, 2_000);
    assert!(store.remember_device(d1.clone()).await.is_ok());
    assert!(store.remember_device(d2.clone()).await.is_ok());
    store
        .remember_device(device("gina", "d1", 1, 5_000))
        .await
        .ok();

    assert_eq!(
        store
            .remembered_device(&frank, "d1", t(1_000))
            .await
            .ok()
            .flatten(),
        Some(d1.clone())
    );
    assert!(matches!(
        store.remembered_device(&frank, "d1", t(1_001)).await,
        Ok(None)
    ));
    assert!(matches!(
        store.remembered_device(&frank, "nope", t(0)).await,
        Ok(None)
    ));
    let listed = store.list_devices(&frank, t(500)).await.unwrap_or_default();
    assert_eq!(listed, [d2.clone(), d1.clone()], "oldest first");
    let listed = store
        .list_devices(&frank, t(1_500))
        .await
        .unwrap_or_default();
    assert_eq!(
        listed,
        std::slice::from_ref(&d2),
        "expired devices are not listed"
    );

    // Remembering again replaces (extends) the entry.
    let d1_again = device("frank", "d1", 1_100, 3_000);
    store.remember_device(d1_again.clone()).await.ok();
    assert_eq!(
        store
            .remembered_device(&frank, "d1", t(2_500))
            .await
            .ok()
            .flatten(),
        Some(d1_again)
    );

    assert!(matches!(store.forget_device(&frank, "d2").await, Ok(true)));
    assert!(matches!(store.forget_device(&frank, "d2").await, Ok(false)));
    store
        .remember_device(device("frank", "d3", 300, 4_000))
        .await
        .ok();
    assert_eq!(store.forget_all_devices(&frank).await.ok(), Some(2));
    assert!(
        store
            .list_devices(&frank, t(0))
            .await
            .is_ok_and(|l| l.is_empty())
    );
    // Another user's device with the same id is untouched.
    assert!(matches!(
        store.remembered_device(&user("gina"), "d1", t(10)).await,
        Ok(Some(_))
    ));
}
