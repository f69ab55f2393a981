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
    AttemptCount, AttemptRequest, AttemptStore, NEVER_LAPSES, Success, Verdict, VerificationStore,
};
use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, DeviceStore, FactorRecord, FactorStore,
    FailureKey, FailureStore, Failures, Generation, LookupKey, PendingChallenge, ResetSummary,
    StoreError, UserStore, Version, Versioned,
};
use mfa_core::testkit::{self, Faulty, Hook};
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
    /// `count_attempt`: read both counters and judge, await, then count.
    Attempt,
    /// `commit_verification`: check the version, await, then swap through the (broken)
    /// unconditional write.
    Commit,
}

/// The window between read and write; long enough that every racer released by the
/// suite's barrier reads before any writes. Not an assertion on time.
const GAP: Duration = Duration::from_millis(20);

/// The memory store with one operation broken; every other one forwards.
type BrokenStore = Faulty<MemoryStore, Broken>;

struct Broken {
    broken: Break,
    /// Lookup keys inserted past the index (for `Break::LookupKey`).
    side_index: Mutex<Vec<(LookupKey, UserId, FactorId)>>,
    /// Challenge ids put, so the broken reset can find a user's challenges.
    challenges: Mutex<Vec<(ChallengeId, ChallengeOwner)>>,
    /// Failure keys recorded, so the broken purge can find them.
    keys: Mutex<Vec<FailureKey>>,
}

fn broken(broken: Break) -> BrokenStore {
    let hook = Broken {
        broken,
        side_index: Mutex::new(Vec::new()),
        challenges: Mutex::new(Vec::new()),
        keys: Mutex::new(Vec::new()),
    };
    Faulty::new(MemoryStore::new(), hook)
}

impl Broken {
    fn is(&self, b: Break) -> bool {
        self.broken == b
    }
}

impl Hook<MemoryStore> for Broken {
    async fn insert_factor(
        &self,
        inner: &MemoryStore,
        record: FactorRecord,
    ) -> Result<Version, StoreError> {
        let Some(key) = record
            .lookup_key
            .clone()
            .filter(|_| self.is(Break::LookupKey))
        else {
            return inner.insert_factor(record).await;
        };
        let taken = self.factor_by_lookup_key(inner, &key, Some(&record.user));
        if taken.await?.is_some()
            || self
                .factor_by_lookup_key(inner, &key, None)
                .await?
                .is_some()
        {
            return Err(StoreError::LookupKeyTaken);
        }
        tokio::time::sleep(GAP).await;
        let (user, id) = (record.user.clone(), record.id.clone());
        let mut unindexed = record;
        unindexed.lookup_key = None;
        let v = inner.insert_factor(unindexed).await?;
        self.side_index.lock().unwrap().push((key, user, id));
        Ok(v)
    }

    async fn factor_by_lookup_key(
        &self,
        inner: &MemoryStore,
        key: &LookupKey,
        user: Option<&UserId>,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        if !self.is(Break::LookupKey) {
            return inner.factor_by_lookup_key(key, user).await;
        }
        let hit = self
            .side_index
            .lock()
            .unwrap()
            .iter()
            .find(|(k, u, _)| k == key && user.is_none_or(|want| want == u))
            .map(|(_, u, id)| (u.clone(), id.clone()));
        match hit {
            Some((u, id)) => inner.factor(&u, &id).await,
            None => Ok(None),
        }
    }

    async fn update_factor_if_version(
        &self,
        inner: &MemoryStore,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        if !self.is(Break::FactorCas) {
            return inner.update_factor_if_version(record, expected).await;
        }
        let current = inner.factor(&record.user, &record.id).await?;
        if current.ok_or(StoreError::NotFound)?.version != expected {
            return Err(StoreError::Conflict);
        }
        tokio::time::sleep(GAP).await;
        // The unconditional write: whatever happened meanwhile is overwritten (or, after
        // a removal, re-created).
        inner.remove_factor(&record.user, &record.id).await?;
        inner.insert_factor(record).await
    }

    async fn count_attempt(
        &self,
        inner: &MemoryStore,
        request: &AttemptRequest<'_>,
    ) -> Result<AttemptCount, StoreError> {
        if !self.is(Break::Attempt) {
            return inner.count_attempt(request).await;
        }
        let (now, rules) = (request.now, request.rules);
        let account = inner
            .failures(&request.account_key(), now, NEVER_LAPSES)
            .await?;
        let factor = inner
            .failures(&request.factor_key(), now, rules.window())
            .await?;
        let verdict = rules.judge(account, factor, now);
        tokio::time::sleep(GAP).await;
        if matches!(verdict, Verdict::Proceed | Verdict::Locked { .. }) {
            inner
                .record_failure(&request.factor_key(), now, rules.window())
                .await?;
        }
        if verdict == Verdict::Proceed {
            inner
                .record_failure(&request.account_key(), now, NEVER_LAPSES)
                .await?;
        }
        Ok(AttemptCount::new(verdict, account, factor, None))
    }

    async fn commit_verification(
        &self,
        inner: &MemoryStore,
        success: Success<'_>,
    ) -> Result<Option<Version>, StoreError> {
        if !self.is(Break::Commit) {
            return inner.commit_verification(success).await;
        }
        let Some((record, expected)) = success.update.clone() else {
            return inner.commit_verification(success).await;
        };
        let current = inner.factor(&record.user, &record.id).await?;
        if current.ok_or(StoreError::NotFound)?.version != expected {
            return Err(StoreError::Conflict);
        }
        tokio::time::sleep(GAP).await;
        inner.remove_factor(&record.user, &record.id).await?;
        let v = inner.insert_factor(record).await?;
        inner
            .settle_attempt(success.user, success.factor, success.take, success.now)
            .await?;
        Ok(Some(v))
    }

    async fn put_challenge(
        &self,
        inner: &MemoryStore,
        challenge: PendingChallenge,
    ) -> Result<Version, StoreError> {
        let entry = (challenge.id.clone(), challenge.owner.clone());
        let v = inner.put_challenge(challenge).await?;
        self.challenges.lock().unwrap().push(entry);
        Ok(v)
    }

    async fn update_challenge_if_version(
        &self,
        inner: &MemoryStore,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        if !self.is(Break::ChallengeCas) {
            return inner
                .update_challenge_if_version(challenge, expected, now)
                .await;
        }
        let (id, owner) = (&challenge.id, &challenge.owner);
        let current = inner.challenge(id, owner, now).await?;
        if current.ok_or(StoreError::NotFound)?.version != expected {
            return Err(StoreError::Conflict);
        }
        tokio::time::sleep(GAP).await;
        inner.take_challenge(id, owner, now).await?;
        inner.put_challenge(challenge).await
    }

    async fn take_challenge(
        &self,
        inner: &MemoryStore,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        if !self.is(Break::Take) {
            return inner.take_challenge(id, owner, now).await;
        }
        let read = inner.challenge(id, owner, now).await?;
        tokio::time::sleep(GAP).await;
        inner.take_challenge(id, owner, now).await?;
        Ok(read.map(|c| c.value))
    }

    async fn record_failure(
        &self,
        inner: &MemoryStore,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        self.keys.lock().unwrap().push(key.clone());
        if !self.is(Break::FailureCount) {
            return inner.record_failure(key, now, window).await;
        }
        let before = inner.failures(key, now, window).await?;
        tokio::time::sleep(GAP).await;
        // Write `before + 1`, built from increments on a cleared counter.
        inner.clear_failures(key).await?;
        let mut after = inner.record_failure(key, now, window).await?;
        for _ in 0..before.map_or(0, |f| f.count) {
            after = inner.record_failure(key, now, window).await?;
        }
        Ok(after)
    }

    async fn purge_failures(
        &self,
        inner: &MemoryStore,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        if !self.is(Break::PurgeByAge) {
            return inner.purge_failures(now).await;
        }
        // Whatever was idle for a day goes, including counts that were never to lapse.
        let day = Duration::from_secs(86_400);
        let mut n = inner.purge_failures(now).await?;
        let keys = self.keys.lock().unwrap().clone();
        for key in keys {
            if let Some(f) = inner.failures(&key, now, Duration::MAX).await?
                && now.saturating_since(f.last_at) > day
            {
                inner.clear_failures(&key).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    async fn bump_generation(
        &self,
        inner: &MemoryStore,
        user: &UserId,
    ) -> Result<Generation, StoreError> {
        if !self.is(Break::Bump) {
            return inner.bump_generation(user).await;
        }
        let before = inner.user_state(user).await?.generation;
        tokio::time::sleep(GAP).await;
        // Write `before + 1`, built from bumps on top of whatever is there: only correct
        // when nobody bumped meanwhile, so emulate the lost update by bumping only if the
        // generation is still `before`.
        if inner.user_state(user).await?.generation == before {
            inner.bump_generation(user).await
        } else {
            Ok(before.next().ok_or(StoreError::Conflict)?)
        }
    }

    async fn reset_user(
        &self,
        inner: &MemoryStore,
        user: &UserId,
    ) -> Result<ResetSummary, StoreError> {
        if !self.is(Break::Reset) {
            return inner.reset_user(user).await;
        }
        // Step by step, as separate statements without a transaction would.
        let mut devices = 0;
        for d in inner.list_devices(user, Timestamp::EPOCH).await? {
            devices += usize::from(inner.forget_device(user, &d.device_id).await?);
        }
        tokio::time::sleep(GAP).await;
        let mut factors = 0;
        for f in inner.list_factors(user).await? {
            factors += usize::from(inner.remove_factor(user, &f.value.id).await?);
            inner
                .clear_failures(&FailureKey::factor(user, &f.value.id))
                .await?;
        }
        inner.clear_failures(&FailureKey::user(user)).await?;
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
            let taken = inner.take_challenge(&id, &owner, Timestamp::EPOCH).await?;
            challenges += usize::from(taken.is_some());
        }
        let generation = inner.bump_generation(user).await?;
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
    Arc::new(broken(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wrapper_with_nothing_broken_passes_the_whole_suite() {
    testkit::conformance(|| broken(Break::Nothing)).await;
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
async fn an_attempt_judged_before_an_await_and_counted_after_is_caught() {
    assert!(caught(|| testkit::attempt_race(store(Break::Attempt))).await);
    assert!(caught(|| testkit::account_race(store(Break::Attempt))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_that_checks_then_writes_is_caught() {
    assert!(caught(|| testkit::commit_race(store(Break::Commit))).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_purge_that_forgets_counters_which_never_lapse_is_caught() {
    assert!(
        caught(|| async {
            testkit::failures_that_never_lapse(&broken(Break::PurgeByAge)).await;
        })
        .await
    );
}
