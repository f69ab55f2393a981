//! The race checks can fail: a deliberately broken backend that reads, awaits, then
//! writes (as a SQL backend without a transaction or a `WHERE version = ?` would) is
//! caught by the conformance suite, one broken operation at a time. The same wrapper
//! with nothing broken passes, so what fails is the broken operation, not the wrapper.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a poisoned lock is a failed test"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, DeviceStore, FactorRecord, FactorStore,
    FailureKey, FailureStore, Failures, Generation, LookupKey, PendingChallenge, RememberedDevice,
    ResetSummary, StoreError, UserState, UserStore, Version, Versioned,
};
use mfa_core::testkit;
use mfa_core::{FactorId, Timestamp, UserId};
use mfa_store::MemoryStore;

/// Which operation is broken.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Break {
    Nothing,
    /// `update_factor_if_version`: check the version, await, then write unconditionally.
    FactorCas,
    /// `insert_factor`: check the lookup key is free, await, then insert without the index.
    LookupKey,
    /// `take_challenge`: read, await, then delete, returning what was read.
    Take,
    /// `update_challenge_if_version`: check the version, await, then overwrite.
    ChallengeCas,
    /// `record_failure`: read the count, await, then write count + 1.
    FailureCount,
    /// `bump_generation`: read, await, write + 1.
    Bump,
    /// `reset_user`: forget devices, await, then remove the rest and bump.
    Reset,
    /// `purge_failures`: removes every counter idle for a day, as a purge by age that
    /// forgets what never lapses would.
    PurgeByAge,
}

/// The window between read and write; long enough that every racer released by the
/// suite's barrier reads before any writes. Not an assertion on time.
const GAP: Duration = Duration::from_millis(20);

struct BrokenStore {
    inner: MemoryStore,
    broken: Break,
    /// Lookup keys inserted past the index (for `Break::LookupKey`).
    side_index: Mutex<Vec<(LookupKey, UserId, FactorId)>>,
    /// Challenge ids put, so the broken reset can find a user's challenges.
    challenges: Mutex<Vec<(ChallengeId, ChallengeOwner)>>,
    /// Failure keys recorded, so the broken purge can find them.
    keys: Mutex<Vec<FailureKey>>,
}

impl BrokenStore {
    fn new(broken: Break) -> Self {
        Self {
            inner: MemoryStore::new(),
            broken,
            side_index: Mutex::new(Vec::new()),
            challenges: Mutex::new(Vec::new()),
            keys: Mutex::new(Vec::new()),
        }
    }

    fn is(&self, b: Break) -> bool {
        self.broken == b
    }
}

impl FactorStore for BrokenStore {
    async fn insert_factor(&self, record: FactorRecord) -> Result<Version, StoreError> {
        let Some(key) = record
            .lookup_key
            .clone()
            .filter(|_| self.is(Break::LookupKey))
        else {
            return self.inner.insert_factor(record).await;
        };
        if self
            .factor_by_lookup_key(&key, Some(&record.user))
            .await?
            .is_some()
            || self.factor_by_lookup_key(&key, None).await?.is_some()
        {
            return Err(StoreError::LookupKeyTaken);
        }
        tokio::time::sleep(GAP).await;
        let (user, id) = (record.user.clone(), record.id.clone());
        let mut unindexed = record;
        unindexed.lookup_key = None;
        let v = self.inner.insert_factor(unindexed).await?;
        self.side_index.lock().unwrap().push((key, user, id));
        Ok(v)
    }

    async fn factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        self.inner.factor(user, id).await
    }

    async fn factor_by_lookup_key(
        &self,
        key: &LookupKey,
        user: Option<&UserId>,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        if !self.is(Break::LookupKey) {
            return self.inner.factor_by_lookup_key(key, user).await;
        }
        let hit = self
            .side_index
            .lock()
            .unwrap()
            .iter()
            .find(|(k, u, _)| k == key && user.is_none_or(|want| want == u))
            .map(|(_, u, id)| (u.clone(), id.clone()));
        match hit {
            Some((u, id)) => self.inner.factor(&u, &id).await,
            None => Ok(None),
        }
    }

    async fn list_factors(
        &self,
        user: &UserId,
    ) -> Result<Vec<Versioned<FactorRecord>>, StoreError> {
        self.inner.list_factors(user).await
    }

    async fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        if !self.is(Break::FactorCas) {
            return self.inner.update_factor_if_version(record, expected).await;
        }
        let current = self
            .inner
            .factor(&record.user, &record.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if current.version != expected {
            return Err(StoreError::Conflict);
        }
        tokio::time::sleep(GAP).await;
        // The unconditional write: whatever happened meanwhile is overwritten (or, after
        // a removal, re-created).
        self.inner.remove_factor(&record.user, &record.id).await?;
        self.inner.insert_factor(record).await
    }

    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> Result<bool, StoreError> {
        self.inner.remove_factor(user, id).await
    }
}

impl ChallengeStore for BrokenStore {
    async fn put_challenge(&self, challenge: PendingChallenge) -> Result<Version, StoreError> {
        let entry = (challenge.id.clone(), challenge.owner.clone());
        let v = self.inner.put_challenge(challenge).await?;
        self.challenges.lock().unwrap().push(entry);
        Ok(v)
    }

    async fn challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
        self.inner.challenge(id, owner, now).await
    }

    async fn update_challenge_if_version(
        &self,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        if !self.is(Break::ChallengeCas) {
            return self
                .inner
                .update_challenge_if_version(challenge, expected, now)
                .await;
        }
        let current = self
            .inner
            .challenge(&challenge.id, &challenge.owner, now)
            .await?
            .ok_or(StoreError::NotFound)?;
        if current.version != expected {
            return Err(StoreError::Conflict);
        }
        tokio::time::sleep(GAP).await;
        self.inner
            .take_challenge(&challenge.id, &challenge.owner, now)
            .await?;
        self.inner.put_challenge(challenge).await
    }

    async fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        if !self.is(Break::Take) {
            return self.inner.take_challenge(id, owner, now).await;
        }
        let read = self.inner.challenge(id, owner, now).await?;
        tokio::time::sleep(GAP).await;
        self.inner.take_challenge(id, owner, now).await?;
        Ok(read.map(|c| c.value))
    }

    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.inner.purge_expired_challenges(now).await
    }
}

impl FailureStore for BrokenStore {
    async fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        self.keys.lock().unwrap().push(key.clone());
        if !self.is(Break::FailureCount) {
            return self.inner.record_failure(key, now, window).await;
        }
        let before = self.inner.failures(key, now, window).await?;
        tokio::time::sleep(GAP).await;
        // Write `before + 1`, built from increments on a cleared counter.
        self.inner.clear_failures(key).await?;
        let mut after = self.inner.record_failure(key, now, window).await?;
        for _ in 0..before.map_or(0, |f| f.count) {
            after = self.inner.record_failure(key, now, window).await?;
        }
        Ok(after)
    }

    async fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Option<Failures>, StoreError> {
        self.inner.failures(key, now, window).await
    }

    async fn clear_failures(&self, key: &FailureKey) -> Result<(), StoreError> {
        self.inner.clear_failures(key).await
    }

    async fn purge_failures(&self, now: Timestamp) -> Result<usize, StoreError> {
        if !self.is(Break::PurgeByAge) {
            return self.inner.purge_failures(now).await;
        }
        // Whatever was idle for a day goes, including counts that were never to lapse.
        let day = Duration::from_secs(86_400);
        let mut n = self.inner.purge_failures(now).await?;
        let keys = self.keys.lock().unwrap().clone();
        for key in keys {
            if let Some(f) = self.inner.failures(&key, now, Duration::MAX).await?
                && now.saturating_since(f.last_at) > day
            {
                self.inner.clear_failures(&key).await?;
                n += 1;
            }
        }
        Ok(n)
    }
}

impl DeviceStore for BrokenStore {
    async fn remember_device(&self, device: RememberedDevice) -> Result<(), StoreError> {
        self.inner.remember_device(device).await
    }

    async fn remembered_device(
        &self,
        user: &UserId,
        device_id: &str,
        now: Timestamp,
    ) -> Result<Option<RememberedDevice>, StoreError> {
        self.inner.remembered_device(user, device_id, now).await
    }

    async fn list_devices(
        &self,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RememberedDevice>, StoreError> {
        self.inner.list_devices(user, now).await
    }

    async fn forget_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError> {
        self.inner.forget_device(user, device_id).await
    }
}

impl UserStore for BrokenStore {
    async fn user_state(&self, user: &UserId) -> Result<UserState, StoreError> {
        self.inner.user_state(user).await
    }

    async fn bump_generation(&self, user: &UserId) -> Result<Generation, StoreError> {
        if !self.is(Break::Bump) {
            return self.inner.bump_generation(user).await;
        }
        let before = self.inner.user_state(user).await?.generation;
        tokio::time::sleep(GAP).await;
        // Write `before + 1`, built from bumps on top of whatever is there: only correct
        // when nobody bumped meanwhile, so emulate the lost update by bumping only if the
        // generation is still `before`.
        if self.inner.user_state(user).await?.generation == before {
            self.inner.bump_generation(user).await
        } else {
            Ok(before.next().ok_or(StoreError::Conflict)?)
        }
    }

    async fn reset_user(&self, user: &UserId) -> Result<ResetSummary, StoreError> {
        if !self.is(Break::Reset) {
            return self.inner.reset_user(user).await;
        }
        // Step by step, as separate statements without a transaction would.
        let mut devices = 0;
        for d in self.inner.list_devices(user, Timestamp::EPOCH).await? {
            devices += usize::from(self.inner.forget_device(user, &d.device_id).await?);
        }
        tokio::time::sleep(GAP).await;
        let mut factors = 0;
        for f in self.inner.list_factors(user).await? {
            factors += usize::from(self.inner.remove_factor(user, &f.value.id).await?);
            self.inner
                .clear_failures(&FailureKey::factor(user, &f.value.id))
                .await?;
        }
        self.inner.clear_failures(&FailureKey::user(user)).await?;
        let owner = ChallengeOwner::User(user.clone());
        let ids: Vec<_> = self
            .challenges
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, o)| *o == owner)
            .map(|(id, _)| id.clone())
            .collect();
        let mut challenges = 0;
        for id in ids {
            let taken = self
                .inner
                .take_challenge(&id, &owner, Timestamp::EPOCH)
                .await?;
            challenges += usize::from(taken.is_some());
        }
        let generation = self.inner.bump_generation(user).await?;
        Ok(ResetSummary::new(
            factors, challenges, devices, 0, generation,
        ))
    }
}

/// Runs a race check up to `TRIES` times on fresh stores; true as soon as the suite
/// panics. Races are probabilistic (the scheduler may run every racer one after the
/// other), so a check is shown to catch the broken backend if it does so within a few
/// runs; in practice the first run fails.
async fn caught<Fut>(check: impl Fn() -> Fut) -> bool
where
    Fut: Future<Output = ()> + Send + 'static,
{
    const TRIES: usize = 5;
    for _ in 0..TRIES {
        if tokio::spawn(check()).await.is_err_and(|e| e.is_panic()) {
            return true;
        }
    }
    false
}

fn store(b: Break) -> Arc<BrokenStore> {
    Arc::new(BrokenStore::new(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wrapper_with_nothing_broken_passes_the_whole_suite() {
    testkit::conformance(|| BrokenStore::new(Break::Nothing)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_then_write_compare_and_swap_is_caught() {
    assert!(caught(|| testkit::factor_cas_race(store(Break::FactorCas))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_check_then_insert_lookup_key_is_caught() {
    assert!(caught(|| testkit::lookup_key_race(store(Break::LookupKey))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_then_delete_take_is_caught() {
    assert!(caught(|| testkit::challenge_take_race(store(Break::Take))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_then_write_challenge_update_is_caught() {
    assert!(caught(|| testkit::challenge_update_race(store(Break::ChallengeCas))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_then_write_failure_counter_is_caught() {
    assert!(caught(|| testkit::failure_count_race(store(Break::FailureCount))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_then_write_generation_bump_is_caught() {
    assert!(caught(|| testkit::generation_bump_race(store(Break::Bump))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_in_several_steps_is_caught() {
    assert!(caught(|| testkit::reset_race(store(Break::Reset))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_compare_and_swap_that_recreates_a_reset_factor_is_caught() {
    assert!(caught(|| testkit::reset_race(store(Break::FactorCas))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_challenge_update_that_recreates_a_reset_challenge_is_caught() {
    assert!(caught(|| testkit::reset_race(store(Break::ChallengeCas))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_purge_that_forgets_counters_which_never_lapse_is_caught() {
    assert!(
        caught(|| async {
            testkit::failures_that_never_lapse(&BrokenStore::new(Break::PurgeByAge)).await;
        })
        .await
    );
}

impl mfa_core::store::JournalStore for BrokenStore {}
