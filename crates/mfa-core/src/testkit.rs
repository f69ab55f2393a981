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
//!
//! Beside the suite: [`Faulty`], a store that forwards every operation to another one
//! through a [`Hook`] that may fail it or do it another way (a broken backend, a store
//! that is down), so a test writes only the operations it changes; [`race`], the
//! barrier the race checks use; and [`on_own_thread`], for async clean-up in `Drop`.
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
    ChallengeId, ChallengeOwner, ChallengeStore, DestinationKey, DeviceStore, FactorRecord,
    FactorStore, FailureKey, FailureStore, Generation, LookupKey, LookupScope, NEVER_LAPSES,
    PendingChallenge, RecordData, RememberedDevice, Store, StoreError, UserLimit, UserStore,
    Version,
};

mod attempts;
mod challenges;
mod counters;
mod factors;
mod faulty;
mod journal;
mod reset;

pub use attempts::{account_race, attempt_race, attempts, commit_race, verification_steps};
pub use challenges::{
    challenge_owners, challenge_take_race, challenge_update_race, challenge_updates, challenges,
};
pub use counters::{
    devices, failure_count_race, failures, failures_that_never_lapse, generation_bump_race, users,
};
pub use factors::{
    factor_cas_race, factor_crud, factor_versions_never_restart, lookup_key_race, lookup_keys,
};
pub use faulty::{Faulty, Hook, Operation};
pub use journal::{journal, journal_append_race, journal_conformance};
pub use reset::{reset_race, reset_user};

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
    failures_that_never_lapse(&new_store()).await;
    failure_count_race(Arc::new(new_store())).await;
    devices(&new_store()).await;
    users(&new_store()).await;
    generation_bump_race(Arc::new(new_store())).await;
    reset_user(&new_store()).await;
    reset_race(Arc::new(new_store())).await;
    attempts(&new_store()).await;
    verification_steps(&new_store()).await;
    attempt_race(Arc::new(new_store())).await;
    account_race(Arc::new(new_store())).await;
    commit_race(Arc::new(new_store())).await;
}

/// Starts `n` tasks made by `make`, releases them together through a barrier, and
/// returns their results in order.
///
/// # Panics
///
/// When a task panics.
pub async fn race<T, Fut>(n: usize, make: impl Fn(usize) -> Fut) -> Vec<T>
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

/// Runs `work` to completion on a thread of its own with a runtime of its own, and
/// waits for it: for clean-up in `Drop`, which may run inside a test's runtime, where
/// blocking on a future would panic. Returns whether `work` finished without panicking.
pub fn on_own_thread<F, Fut>(work: F) -> bool
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a runtime for clean-up: {e}"));
        rt.block_on(work());
    })
    .join()
    .is_ok()
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
