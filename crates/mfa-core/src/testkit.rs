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
//!
//! The race checks start [`RACERS`] tasks that each prepare their call, wait on one
//! barrier, and then all make it at once, so a backend that reads, awaits and then
//! writes loses updates visibly; `mfa-store`'s tests show the suite catching such a
//! backend, one broken operation at a time.
#![allow(
    clippy::panic,
    clippy::missing_panics_doc,
    clippy::too_many_lines,
    reason = "a conformance suite reports broken promises by panicking, as a test does"
)]

use std::borrow::ToOwned;
use std::format;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::Barrier;

use crate::clock::Timestamp;
use crate::id::{FactorId, FactorKind, UserId};
use crate::random::{RandomError, SecureRandom};
use crate::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, DeviceStore, FactorRecord, FactorStore,
    FailureKey, FailureStore, Generation, LookupKey, LookupScope, PendingChallenge, RecordData,
    RememberedDevice, Store, StoreError, UserStore, Version,
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
pub const RACERS: usize = 32;

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
    factor_versions_never_restart(&new_store()).await;
    lookup_keys(&new_store()).await;
    factor_cas_race(Arc::new(new_store())).await;
    lookup_key_race(Arc::new(new_store())).await;
    challenges(&new_store()).await;
    challenge_owners(&new_store()).await;
    challenge_updates(&new_store()).await;
    challenge_take_race(Arc::new(new_store())).await;
    challenge_update_race(Arc::new(new_store())).await;
    failures(&new_store()).await;
    failure_count_race(Arc::new(new_store())).await;
    devices(&new_store()).await;
    users(&new_store()).await;
    generation_bump_race(Arc::new(new_store())).await;
    reset_user(&new_store()).await;
    reset_race(Arc::new(new_store())).await;
}

/// Starts `n` tasks made by `make`, releases them together through a barrier, and
/// returns their results in order.
async fn race<T, Fut>(n: usize, make: impl Fn(usize) -> Fut) -> Vec<T>
where
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let call = make(i);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            call.await
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        match t.await {
            Ok(v) => out.push(v),
            Err(e) => panic!("a racing task failed: {e}"),
        }
    }
    out
}

/// A confirmed TOTP factor record for tests, its data stored plain.
pub fn factor_record(user: &str, id: &str, created_at: u64, data: &[u8]) -> FactorRecord {
    FactorRecord::new(
        self::user(user),
        fid(id),
        FactorKind::Totp,
        RecordData::plain(data.to_vec()),
        Timestamp::from_unix_secs(created_at),
    )
    .with_label(format!("{id} label"))
    .with_confirmed(true)
}

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap_or_else(|e| panic!("test user id {s:?}: {e}"))
}

fn fid(s: &str) -> FactorId {
    FactorId::new(s).unwrap_or_else(|e| panic!("test factor id {s:?}: {e}"))
}

fn owner(s: &str) -> ChallengeOwner {
    ChallengeOwner::User(user(s))
}

fn credential(bytes: &[u8]) -> LookupKey {
    LookupKey::webauthn_credential(bytes).unwrap_or_else(|e| panic!("test key: {e}"))
}

fn phone(number: &str) -> LookupKey {
    LookupKey::phone(number).unwrap_or_else(|e| panic!("test phone: {e}"))
}

fn data_of(rec: &FactorRecord) -> &[u8] {
    rec.data.expose_bytes()
}

async fn read<S: FactorStore>(store: &S, u: &str, id: &str) -> Option<(FactorRecord, Version)> {
    match store.factor(&user(u), &fid(id)).await {
        Ok(v) => v.map(|v| (v.value, v.version)),
        Err(e) => panic!("factor({u}, {id}) failed: {e}"),
    }
}

async fn insert<S: FactorStore>(store: &S, rec: FactorRecord) -> Version {
    let what = format!("insert_factor({}, {})", rec.user, rec.id);
    store
        .insert_factor(rec)
        .await
        .unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

/// Insert, read, list, compare-and-swap, remove.
///
/// # Panics
///
/// When the store breaks a promise of [`FactorStore`].
pub async fn factor_crud<S: FactorStore>(store: &S) {
    let alice = user("alice");
    let a1 = factor_record("alice", "a1", 200, b"one");
    let a2 = factor_record("alice", "a2", 100, b"two");
    let b1 = factor_record("bob", "a1", 50, b"bob's");

    let v1 = insert(store, a1.clone()).await;
    insert(store, a2.clone()).await;
    // The same factor id under another user is a different factor.
    insert(store, b1.clone()).await;
    let dup = store
        .insert_factor(factor_record("alice", "a1", 1, b"dup"))
        .await;
    assert!(
        matches!(dup, Err(StoreError::AlreadyExists)),
        "duplicate insert must fail with AlreadyExists: {dup:?}"
    );
    assert_eq!(
        read(store, "alice", "a1").await,
        Some((a1.clone(), v1)),
        "a duplicate insert must not overwrite, and a read returns the inserted version"
    );
    assert!(read(store, "alice", "zz").await.is_none());

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
    updated.data = RecordData::plain(b"one, updated".to_vec());
    updated.last_used_at = Some(Timestamp::from_unix_secs(300));
    let v2 = store
        .update_factor_if_version(updated.clone(), v1)
        .await
        .unwrap_or_else(|e| panic!("CAS on the current version must succeed: {e}"));
    assert!(v2 > v1, "a successful CAS returns a greater version");
    let mut stale = a1.clone();
    stale.data = RecordData::plain(b"stale".to_vec());
    let lost = store.update_factor_if_version(stale, v1).await;
    assert!(
        matches!(lost, Err(StoreError::Conflict)),
        "stale CAS: {lost:?}"
    );
    assert_eq!(read(store, "alice", "a1").await, Some((updated, v2)));
    let missing = store
        .update_factor_if_version(factor_record("alice", "zz", 1, b""), v1)
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound)),
        "CAS on missing: {missing:?}"
    );
    assert!(
        read(store, "alice", "zz").await.is_none(),
        "CAS must not insert"
    );

    // Remove.
    assert!(matches!(
        store.remove_factor(&alice, &fid("a2")).await,
        Ok(true)
    ));
    assert!(matches!(
        store.remove_factor(&alice, &fid("a2")).await,
        Ok(false)
    ));
    // Bob is untouched.
    assert_eq!(read(store, "bob", "a1").await.map(|r| r.0), Some(b1));
}

/// Versions grow over a factor id's whole history: a removed (or reset) and
/// re-enrolled id never restarts, so a stale compare-and-swap cannot land on the new
/// enrollment.
///
/// # Panics
///
/// When a re-enrolled id gets a version it had before, or a stale CAS succeeds.
pub async fn factor_versions_never_restart<S: FactorStore + UserStore>(store: &S) {
    let alice = user("alice");
    let v1 = insert(store, factor_record("alice", "f", 1, b"first")).await;
    let v2 = store
        .update_factor_if_version(factor_record("alice", "f", 1, b"first, used"), v1)
        .await
        .unwrap_or_else(|e| panic!("CAS failed: {e}"));
    assert!(matches!(
        store.remove_factor(&alice, &fid("f")).await,
        Ok(true)
    ));
    let v3 = insert(store, factor_record("alice", "f", 2, b"second")).await;
    assert!(
        v3 > v2 && v3 > v1,
        "a re-enrolled id must get a version above every earlier one: {v1:?} {v2:?} then {v3:?}"
    );
    for stale in [v1, v2] {
        let r = store
            .update_factor_if_version(factor_record("alice", "f", 1, b"stale"), stale)
            .await;
        assert!(
            matches!(r, Err(StoreError::Conflict)),
            "a CAS from the removed enrollment ({stale:?}) must lose: {r:?}"
        );
    }
    let now = read(store, "alice", "f").await;
    assert_eq!(now.as_ref().map(|r| data_of(&r.0)), Some(&b"second"[..]));

    // The same after a reset.
    store
        .reset_user(&alice)
        .await
        .unwrap_or_else(|e| panic!("reset_user failed: {e}"));
    let v4 = insert(store, factor_record("alice", "f", 3, b"third")).await;
    assert!(v4 > v3, "versions must not restart after reset_user");
    let r = store
        .update_factor_if_version(factor_record("alice", "f", 1, b"stale"), v3)
        .await;
    assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
}

/// Lookup keys: unique in their scope on insert and update, found by the index, freed
/// on removal.
///
/// # Panics
///
/// When the store breaks a lookup-key promise of [`FactorStore`].
pub async fn lookup_keys<S: FactorStore>(store: &S) {
    let alice = user("alice");
    let bob = user("bob");
    let cred = credential(b"credential-1");
    let found = async |key: &LookupKey, u: Option<&UserId>| match store
        .factor_by_lookup_key(key, u)
        .await
    {
        Ok(v) => v.map(|v| {
            (
                v.value.user.as_str().to_owned(),
                v.value.id.as_str().to_owned(),
            )
        }),
        Err(e) => panic!("factor_by_lookup_key failed: {e}"),
    };
    let pair = |u: &str, f: &str| Some((u.to_owned(), f.to_owned()));

    // Global: one holder across all users.
    insert(
        store,
        factor_record("alice", "k1", 1, b"").with_lookup_key(cred.clone()),
    )
    .await;
    for (u, f) in [("bob", "k1"), ("alice", "k2")] {
        let r = store
            .insert_factor(factor_record(u, f, 2, b"").with_lookup_key(cred.clone()))
            .await;
        assert!(
            matches!(r, Err(StoreError::LookupKeyTaken)),
            "a second holder of a global key ({u}/{f}) must be refused: {r:?}"
        );
        assert!(
            read(store, u, f).await.is_none(),
            "a refused insert writes nothing"
        );
    }
    assert_eq!(
        found(&cred, None).await,
        pair("alice", "k1"),
        "usernameless lookup"
    );
    assert_eq!(found(&cred, Some(&alice)).await, pair("alice", "k1"));
    assert_eq!(
        found(&cred, Some(&bob)).await,
        None,
        "another user's key is not found"
    );
    assert_eq!(found(&credential(b"unknown"), None).await, None);

    // Per user: one holder per user.
    let ph = phone("+15551234567");
    insert(
        store,
        factor_record("alice", "p1", 3, b"").with_lookup_key(ph.clone()),
    )
    .await;
    let r = store
        .insert_factor(factor_record("alice", "p2", 4, b"").with_lookup_key(ph.clone()))
        .await;
    assert!(
        matches!(r, Err(StoreError::LookupKeyTaken)),
        "one user cannot hold a per-user key twice: {r:?}"
    );
    insert(
        store,
        factor_record("bob", "p1", 5, b"").with_lookup_key(ph.clone()),
    )
    .await;
    assert_eq!(found(&ph, Some(&alice)).await, pair("alice", "p1"));
    assert_eq!(found(&ph, Some(&bob)).await, pair("bob", "p1"));
    assert_eq!(
        found(&ph, None).await,
        None,
        "a per-user key needs its user"
    );
    // The scope is part of the key: the same namespace and value, globally, is another key.
    let global_phone = LookupKey::new(LookupScope::Global, LookupKey::PHONE, ph.value().to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    insert(
        store,
        factor_record("carol", "g1", 6, b"").with_lookup_key(global_phone.clone()),
    )
    .await;
    assert_eq!(found(&global_phone, None).await, pair("carol", "g1"));

    // Updates: a taken key is refused, a new one moves the index.
    let (k1, v) = read(store, "alice", "k1")
        .await
        .unwrap_or_else(|| panic!("k1 must exist"));
    let r = store
        .update_factor_if_version(k1.clone().with_lookup_key(global_phone.clone()), v)
        .await;
    assert!(
        matches!(r, Err(StoreError::LookupKeyTaken)),
        "an update to a taken key must be refused: {r:?}"
    );
    assert_eq!(
        read(store, "alice", "k1").await,
        Some((k1.clone(), v)),
        "a refused update writes nothing"
    );
    let cred2 = credential(b"credential-2");
    store
        .update_factor_if_version(k1.with_lookup_key(cred2.clone()), v)
        .await
        .unwrap_or_else(|e| panic!("an update to a free key must succeed: {e}"));
    assert_eq!(found(&cred, None).await, None, "the old key is freed");
    assert_eq!(found(&cred2, None).await, pair("alice", "k1"));

    // Removal frees the key.
    insert(
        store,
        factor_record("bob", "k1", 7, b"").with_lookup_key(cred.clone()),
    )
    .await;
    assert!(matches!(
        store.remove_factor(&alice, &fid("k1")).await,
        Ok(true)
    ));
    assert_eq!(found(&cred2, None).await, None, "removal frees the key");
    insert(
        store,
        factor_record("dave", "k1", 8, b"").with_lookup_key(cred2),
    )
    .await;
}

/// Many tasks race to compare-and-swap the same version: exactly one wins.
///
/// # Panics
///
/// When zero or several updates succeed, or a loser is not told `Conflict`.
pub async fn factor_cas_race<S: FactorStore + 'static>(store: Arc<S>) {
    let v1 = insert(&*store, factor_record("racer", "f", 1, b"v1")).await;
    let results = race(RACERS, |i| {
        let store = Arc::clone(&store);
        async move {
            let rec = factor_record("racer", "f", 1, format!("winner {i}").as_bytes());
            store.update_factor_if_version(rec, v1).await
        }
    })
    .await;
    let mut winners = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(v) => winners.push((i, v)),
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("a losing CAS must be Conflict, got {e:?}"),
        }
    }
    let [(winner, version)] = winners[..] else {
        panic!(
            "exactly one of {RACERS} racing CAS updates must win, {} did",
            winners.len()
        );
    };
    let (rec, v) = read(&*store, "racer", "f")
        .await
        .unwrap_or_else(|| panic!("raced record must exist"));
    assert_eq!(v, version);
    assert_eq!(data_of(&rec), format!("winner {winner}").as_bytes());
}

/// Many tasks race to insert factors holding one lookup key: exactly one wins, for a
/// global key across users and for a per-user key within one user.
///
/// # Panics
///
/// When zero or several inserts succeed, or a loser is not told `LookupKeyTaken`.
pub async fn lookup_key_race<S: FactorStore + 'static>(store: Arc<S>) {
    for per_user in [false, true] {
        let key = if per_user {
            phone("+4915112345678")
        } else {
            credential(b"raced credential")
        };
        let results = race(RACERS, |i| {
            let store = Arc::clone(&store);
            let key = key.clone();
            async move {
                let u = if per_user {
                    "racer".to_owned()
                } else {
                    format!("racer-{i}")
                };
                let id = format!("f{i}-{per_user}");
                let rec = factor_record(&u, &id, 1, b"").with_lookup_key(key);
                store.insert_factor(rec).await.map(|_| (u, id))
            }
        })
        .await;
        let mut winners = Vec::new();
        for r in results {
            match r {
                Ok(w) => winners.push(w),
                Err(StoreError::LookupKeyTaken) => {}
                Err(e) => panic!("a losing insert must be LookupKeyTaken, got {e:?}"),
            }
        }
        let [(u, id)] = &winners[..] else {
            panic!(
                "exactly one of {RACERS} inserts with one lookup key must win, {} did \
                 (per user: {per_user})",
                winners.len()
            );
        };
        let holder = store
            .factor_by_lookup_key(&key, Some(&user(u)))
            .await
            .ok()
            .flatten()
            .map(|v| v.value.id);
        assert_eq!(holder, Some(fid(id)), "the index names the winner");
    }
}

fn challenge(id: &ChallengeId, owner: ChallengeOwner, expires_at: u64) -> PendingChallenge {
    PendingChallenge::new(
        id.clone(),
        owner,
        RecordData::plain(b"state".to_vec()),
        Timestamp::from_unix_secs(expires_at),
    )
    .with_factor(fid("f1"))
}

fn challenge_id(seed: u64) -> ChallengeId {
    ChallengeId::generate(&mut SeededRandom::new(seed))
        .unwrap_or_else(|e| panic!("seeded random cannot fail: {e}"))
}

async fn put<S: ChallengeStore>(store: &S, c: PendingChallenge) -> Version {
    store
        .put_challenge(c)
        .await
        .unwrap_or_else(|e| panic!("put_challenge failed: {e}"))
}

async fn peek<S: ChallengeStore>(
    store: &S,
    id: &ChallengeId,
    owner: &ChallengeOwner,
    now: u64,
) -> Option<(PendingChallenge, Version)> {
    match store
        .challenge(id, owner, Timestamp::from_unix_secs(now))
        .await
    {
        Ok(c) => c.map(|c| (c.value, c.version)),
        Err(e) => panic!("challenge() failed: {e}"),
    }
}

async fn take<S: ChallengeStore>(
    store: &S,
    id: &ChallengeId,
    owner: &ChallengeOwner,
    now: u64,
) -> Option<PendingChallenge> {
    store
        .take_challenge(id, owner, Timestamp::from_unix_secs(now))
        .await
        .unwrap_or_else(|e| panic!("take_challenge failed: {e}"))
}

/// Put, take once, expiry at the boundary, duplicate ids, purge.
///
/// # Panics
///
/// When the store breaks a promise of [`ChallengeStore`].
pub async fn challenges<S: ChallengeStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let carol = owner("carol");
    let c1 = challenge(&challenge_id(1), carol.clone(), 1_000);
    put(store, c1.clone()).await;
    let dup = store
        .put_challenge(challenge(&c1.id, carol.clone(), 5_000))
        .await;
    assert!(
        matches!(dup, Err(StoreError::AlreadyExists)),
        "duplicate put: {dup:?}"
    );
    // Taking at exactly expires_at still works; the duplicate did not overwrite.
    assert_eq!(take(store, &c1.id, &carol, 1_000).await, Some(c1.clone()));
    assert_eq!(
        take(store, &c1.id, &carol, 900).await,
        None,
        "a challenge is taken once"
    );

    // Expired: not returned, and gone for good (even if the clock goes back).
    let c2 = challenge(&challenge_id(2), carol.clone(), 1_000);
    put(store, c2.clone()).await;
    assert_eq!(
        peek(store, &c2.id, &carol, 1_001).await,
        None,
        "expired: not read"
    );
    assert_eq!(take(store, &c2.id, &carol, 1_001).await, None);
    assert_eq!(
        take(store, &c2.id, &carol, 999).await,
        None,
        "expired take removes"
    );

    // Purge removes only the expired ones.
    let live = challenge(&challenge_id(3), carol.clone(), 2_000);
    put(store, challenge(&challenge_id(4), carol.clone(), 1_000)).await;
    put(
        store,
        challenge(&challenge_id(5), ChallengeOwner::Usernameless, 1_500),
    )
    .await;
    put(store, live.clone()).await;
    assert_eq!(store.purge_expired_challenges(t(1_600)).await.ok(), Some(2));
    assert_eq!(take(store, &live.id, &carol, 1_600).await, Some(live));
}

/// Every read, update and take names the owner, which must match exactly; a mismatch
/// changes nothing.
///
/// # Panics
///
/// When one user's challenge can be read, updated or taken by another, or a
/// usernameless challenge by naming a user (or the other way round).
pub async fn challenge_owners<S: ChallengeStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let alice = owner("alice");
    let bob = owner("bob");
    let nobody = ChallengeOwner::Usernameless;
    let c = challenge(&challenge_id(10), alice.clone(), 1_000);
    let v = put(store, c.clone()).await;
    for other in [&bob, &nobody] {
        assert_eq!(
            peek(store, &c.id, other, 10).await,
            None,
            "read as {other:?}"
        );
        assert_eq!(
            take(store, &c.id, other, 10).await,
            None,
            "take as {other:?}"
        );
        let mut forged = c.clone();
        forged.owner = other.clone();
        let r = store.update_challenge_if_version(forged, v, t(10)).await;
        assert!(
            matches!(r, Err(StoreError::NotFound)),
            "update as {other:?}: {r:?}"
        );
    }
    assert_eq!(
        peek(store, &c.id, &alice, 10).await,
        Some((c.clone(), v)),
        "a mismatched owner changes nothing"
    );
    assert_eq!(take(store, &c.id, &alice, 10).await, Some(c));

    let u = PendingChallenge::new(
        challenge_id(11),
        nobody.clone(),
        RecordData::plain(b"passkey".to_vec()),
        t(1_000),
    );
    put(store, u.clone()).await;
    assert_eq!(
        take(store, &u.id, &alice, 10).await,
        None,
        "usernameless is not Alice's"
    );
    assert_eq!(take(store, &u.id, &nobody, 10).await, Some(u));
}

/// Reading without consuming, versioned updates, and take as the final consumption.
///
/// # Panics
///
/// When the store breaks a promise of [`ChallengeStore`] about updates.
pub async fn challenge_updates<S: ChallengeStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let alice = owner("alice");
    let c = challenge(&challenge_id(20), alice.clone(), 1_000);
    let v1 = put(store, c.clone()).await;
    assert_eq!(peek(store, &c.id, &alice, 10).await, Some((c.clone(), v1)));
    assert_eq!(
        peek(store, &c.id, &alice, 10).await,
        Some((c.clone(), v1)),
        "reading does not consume"
    );
    let mut step = c.clone();
    step.data = RecordData::plain(b"attempts_left=2".to_vec());
    let v2 = store
        .update_challenge_if_version(step.clone(), v1, t(10))
        .await
        .unwrap_or_else(|e| panic!("update on the current version must succeed: {e}"));
    assert!(v2 > v1);
    assert_eq!(
        peek(store, &c.id, &alice, 10).await,
        Some((step.clone(), v2))
    );
    let r = store
        .update_challenge_if_version(c.clone(), v1, t(10))
        .await;
    assert!(
        matches!(r, Err(StoreError::Conflict)),
        "stale update: {r:?}"
    );
    let mut other_factor = step.clone();
    other_factor.factor = Some(fid("f2"));
    let r = store
        .update_challenge_if_version(other_factor, v2, t(10))
        .await;
    assert!(
        matches!(r, Err(StoreError::NotFound)),
        "an update may not change the factor: {r:?}"
    );
    let r = store
        .update_challenge_if_version(step.clone(), v2, t(1_001))
        .await;
    assert!(
        matches!(r, Err(StoreError::NotFound)),
        "an expired challenge cannot be updated: {r:?}"
    );
    let missing = challenge(&challenge_id(21), alice.clone(), 1_000);
    let r = store
        .update_challenge_if_version(missing.clone(), v1, t(10))
        .await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    assert_eq!(
        peek(store, &missing.id, &alice, 10).await,
        None,
        "update must not insert"
    );

    // Take returns the latest state; after it, the challenge cannot be brought back.
    assert_eq!(take(store, &c.id, &alice, 10).await, Some(step.clone()));
    let r = store.update_challenge_if_version(step, v2, t(10)).await;
    assert!(
        matches!(r, Err(StoreError::NotFound)),
        "a taken challenge cannot be updated: {r:?}"
    );
    assert_eq!(peek(store, &c.id, &alice, 10).await, None);
}

/// Many tasks race to take one challenge: exactly one gets it.
///
/// # Panics
///
/// When zero or several tasks get the challenge.
pub async fn challenge_take_race<S: ChallengeStore + 'static>(store: Arc<S>) {
    let id = challenge_id(42);
    put(&*store, challenge(&id, owner("carol"), 10_000)).await;
    let results = race(RACERS, |_| {
        let store = Arc::clone(&store);
        let id = id.clone();
        async move {
            store
                .take_challenge(&id, &owner("carol"), Timestamp::from_unix_secs(5))
                .await
        }
    })
    .await;
    let mut got = 0;
    for r in results {
        match r {
            Ok(Some(_)) => got += 1,
            Ok(None) => {}
            Err(e) => panic!("take_challenge failed: {e}"),
        }
    }
    assert_eq!(
        got, 1,
        "exactly one of {RACERS} racing takes must get the challenge"
    );
}

/// Many tasks race to update one challenge version: exactly one wins, and its state is
/// what is taken.
///
/// # Panics
///
/// When zero or several updates succeed, or a loser is not told `Conflict`.
pub async fn challenge_update_race<S: ChallengeStore + 'static>(store: Arc<S>) {
    let alice = owner("alice");
    let c = challenge(&challenge_id(43), alice.clone(), 10_000);
    let v = put(&*store, c.clone()).await;
    let results = race(RACERS, |i| {
        let store = Arc::clone(&store);
        let mut next = c.clone();
        next.data = RecordData::plain(format!("decision {i}").into_bytes());
        async move {
            store
                .update_challenge_if_version(next, v, Timestamp::from_unix_secs(5))
                .await
        }
    })
    .await;
    let mut winners = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(_) => winners.push(i),
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("a losing update_challenge must be Conflict, got {e:?}"),
        }
    }
    let [winner] = winners[..] else {
        panic!(
            "exactly one of {RACERS} racing update_challenge calls must win, {} did",
            winners.len()
        );
    };
    let taken = take(&*store, &c.id, &alice, 5).await;
    assert_eq!(
        taken.map(|c| c.data.expose_bytes().to_vec()),
        Some(format!("decision {winner}").into_bytes()),
        "the winner's state is what is taken"
    );
}

async fn count<S: FailureStore>(
    store: &S,
    key: &FailureKey,
    now: u64,
    window: Duration,
) -> Option<u32> {
    store
        .failures(key, Timestamp::from_unix_secs(now), window)
        .await
        .unwrap_or_else(|e| panic!("failures() failed: {e}"))
        .map(|f| f.count)
}

/// Increment, window expiry, clear, independent keys of every kind.
///
/// # Panics
///
/// When the store breaks a promise of [`FailureStore`].
pub async fn failures<S: FailureStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let window = Duration::from_secs(600);
    let dave = user("dave");
    let total = FailureKey::user(&dave);
    let one = FailureKey::factor(&dave, &fid("f1"));
    let number = FailureKey::destination("+15551234567").unwrap_or_else(|e| panic!("{e}"));
    let ip = FailureKey::client_ip("192.0.2.1".parse().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(count(store, &total, 0, window).await, None);
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
    // Keys are independent, whatever their kind.
    for (i, key) in [&one, &number, &ip].into_iter().enumerate() {
        assert_eq!(count(store, key, 200, window).await, None, "{key:?}");
        for _ in 0..=i {
            store.record_failure(key, t(200), window).await.ok();
        }
    }
    assert_eq!(count(store, &one, 200, window).await, Some(1));
    assert_eq!(count(store, &number, 200, window).await, Some(2));
    assert_eq!(count(store, &ip, 200, window).await, Some(3));
    assert_eq!(count(store, &total, 200, window).await, Some(2));
    // Still inside the window (600 s after the last failure).
    assert_eq!(count(store, &total, 800, window).await, Some(2));
    // Past the window: forgotten, and the next failure starts over.
    assert_eq!(count(store, &total, 801, window).await, None);
    let f = store.record_failure(&total, t(900), window).await.ok();
    assert_eq!(f.map(|f| (f.count, f.first_at)), Some((1, t(900))));
    // Clear.
    assert!(store.clear_failures(&total).await.is_ok());
    assert_eq!(count(store, &total, 901, window).await, None);
    let long = Duration::from_secs(3_600);
    assert_eq!(
        count(store, &one, 901, long).await,
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
    let key = FailureKey::destination("+15550000000").unwrap_or_else(|e| panic!("{e}"));
    let window = Duration::from_secs(3600);
    let results = race(RACERS, |_| {
        let store = Arc::clone(&store);
        let key = key.clone();
        async move {
            store
                .record_failure(&key, Timestamp::from_unix_secs(10), window)
                .await
        }
    })
    .await;
    let mut counts = Vec::new();
    for r in results {
        match r {
            Ok(f) => counts.push(f.count),
            Err(e) => panic!("record_failure failed: {e}"),
        }
    }
    counts.sort_unstable();
    let expected: Vec<u32> = (1..=32).collect();
    assert_eq!(
        counts, expected,
        "each racing increment must see a distinct count"
    );
    assert_eq!(count(&*store, &key, 10, window).await, Some(32));
}

fn device(
    user_id: &str,
    id: &str,
    generation: u64,
    created: u64,
    expires: u64,
) -> RememberedDevice {
    RememberedDevice::new(
        user(user_id),
        id,
        Generation::new(generation),
        Timestamp::from_unix_secs(created),
        Timestamp::from_unix_secs(expires),
    )
    .unwrap_or_else(|e| panic!("test device: {e}"))
    .with_label(format!("{id} browser"))
}

/// Remember, look up, expiry, list, replace, forget, and the generation guard.
///
/// # Panics
///
/// When the store breaks a promise of [`DeviceStore`].
pub async fn devices<S: DeviceStore + UserStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let frank = user("frank");
    let d1 = device("frank", "d1", 0, 200, 1_000);
    let d2 = device("frank", "d2", 0, 100, 2_000);
    assert!(store.remember_device(d1.clone()).await.is_ok());
    assert!(store.remember_device(d2.clone()).await.is_ok());
    assert!(
        store
            .remember_device(device("gina", "d1", 0, 1, 5_000))
            .await
            .is_ok()
    );
    let get = async |u: &UserId, id: &str, now: u64| {
        store
            .remembered_device(u, id, t(now))
            .await
            .unwrap_or_else(|e| panic!("remembered_device failed: {e}"))
    };
    assert_eq!(get(&frank, "d1", 1_000).await, Some(d1.clone()));
    assert_eq!(get(&frank, "d1", 1_001).await, None, "expired");
    assert_eq!(get(&frank, "nope", 0).await, None);
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
    let d1_again = device("frank", "d1", 0, 1_100, 3_000);
    assert!(store.remember_device(d1_again.clone()).await.is_ok());
    assert_eq!(get(&frank, "d1", 2_500).await, Some(d1_again));

    assert!(matches!(store.forget_device(&frank, "d2").await, Ok(true)));
    assert!(matches!(store.forget_device(&frank, "d2").await, Ok(false)));

    // The generation guard.
    let ahead = store
        .remember_device(device("frank", "d3", 1, 300, 4_000))
        .await;
    assert!(
        matches!(ahead, Err(StoreError::Conflict)),
        "a device from a generation the user is not at is refused: {ahead:?}"
    );
    let g1 = store
        .bump_generation(&frank)
        .await
        .unwrap_or_else(|e| panic!("bump_generation failed: {e}"));
    let stale = store
        .remember_device(device("frank", "d4", 0, 300, 4_000))
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict)),
        "a device from the old generation is refused after a bump: {stale:?}"
    );
    assert_eq!(
        get(&frank, "d4", 300).await,
        None,
        "a refused device is not stored"
    );
    assert!(
        store
            .remember_device(device("frank", "d5", g1.get(), 300, 4_000))
            .await
            .is_ok()
    );
    let listed: Vec<_> = store
        .list_devices(&frank, t(400))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| (d.device_id, d.generation.get()))
        .collect();
    assert_eq!(
        listed,
        [("d5".to_owned(), 1), ("d1".to_owned(), 0)],
        "devices are listed with their generation, old ones included"
    );
    // Another user's device with the same id is untouched.
    assert!(get(&user("gina"), "d1", 10).await.is_some());
}

/// The user's generation: initial for an unseen user, bumped by one, per user.
///
/// # Panics
///
/// When the store breaks a promise of [`UserStore`] about generations.
pub async fn users<S: UserStore>(store: &S) {
    let hal = user("hal");
    let state = store
        .user_state(&hal)
        .await
        .unwrap_or_else(|e| panic!("user_state failed: {e}"));
    assert_eq!(state.generation, Generation::INITIAL);
    assert_eq!(state.user, hal);
    assert_eq!(
        store.bump_generation(&hal).await.ok(),
        Some(Generation::new(1))
    );
    assert_eq!(
        store.bump_generation(&hal).await.ok(),
        Some(Generation::new(2))
    );
    let state = store.user_state(&hal).await.ok().map(|s| s.generation);
    assert_eq!(state, Some(Generation::new(2)));
    let other = store
        .user_state(&user("ivy"))
        .await
        .ok()
        .map(|s| s.generation);
    assert_eq!(other, Some(Generation::INITIAL), "generations are per user");
}

/// Many tasks bump one user's generation: it rises by exactly that many.
///
/// # Panics
///
/// When bumps are lost.
pub async fn generation_bump_race<S: UserStore + 'static>(store: Arc<S>) {
    let results = race(RACERS, |_| {
        let store = Arc::clone(&store);
        async move { store.bump_generation(&user("jo")).await }
    })
    .await;
    let mut seen: Vec<u64> = results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|e| panic!("bump_generation failed: {e}"))
                .get()
        })
        .collect();
    seen.sort_unstable();
    let expected: Vec<u64> = (1..=32).collect();
    assert_eq!(
        seen, expected,
        "each racing bump must see a distinct generation"
    );
}

/// Everything the reset must remove, and what it must leave.
struct ResetFixture {
    alice_challenges: Vec<ChallengeId>,
    usernameless: ChallengeId,
    bobs: ChallengeId,
}

async fn reset_fixture<S: Store>(store: &S) -> ResetFixture {
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
        FailureKey::user(&user("bob")),
        FailureKey::destination("+15551234567").unwrap_or_else(|e| panic!("{e}")),
        FailureKey::client_ip("192.0.2.1".parse().unwrap_or_else(|e| panic!("{e}"))),
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
        (2, 2, 1, 2, Generation::new(1)),
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
    assert_eq!(
        count(store, &FailureKey::factor(&alice, &fid("sms")), 10, window).await,
        None
    );
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
