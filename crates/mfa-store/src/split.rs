//! A store composed of a durable store and a hot store.

use std::future::Future;
use std::time::Duration;

use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, DeviceStore, FactorRecord, FactorStore,
    FailureKey, FailureStore, Failures, Generation, LookupKey, PendingChallenge, RememberedDevice,
    ResetSummary, Store, StoreError, UserState, UserStore, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};

/// A store of challenges and failure counters that can also drop one user's share of
/// them: what [`Split`] needs from its hot half.
pub trait HotStore: ChallengeStore + FailureStore {
    /// Removes the challenges `user` owns and their `User` and `Factor` failure
    /// counters, in one atomic step of this store; returns `(challenges, counters)`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the store fails (nothing removed).
    fn reset_user_hot(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<(usize, usize), StoreError>> + Send;
}

#[cfg(feature = "redis")]
impl HotStore for crate::RedisStore {
    async fn reset_user_hot(&self, user: &UserId) -> Result<(usize, usize), StoreError> {
        crate::RedisStore::reset_user_hot(self, user).await
    }
}

/// Factors, devices and users in a durable store `D` (PostgreSQL, SQLite); challenges
/// and failure counters in a hot store `H` (Redis).
///
/// Every operation goes to one of the two and keeps that store's atomicity. The one
/// operation that spans both, [`reset_user`](UserStore::reset_user), cannot be one
/// transaction; it runs in this order:
///
/// 1. the durable store's reset, in one transaction: the generation is bumped (every
///    remembered device and device token of the user is dead), and factors, devices
///    (and any challenges or counters the durable store holds) are removed;
/// 2. then the hot store's [`HotStore::reset_user_hot`], one script: the user's
///    challenges and `User`/`Factor` counters.
///
/// Between the two steps a challenge of the user may still be read or taken, but there
/// is nothing left to verify it against: the factor it was issued for is gone, so no
/// verification can succeed. If step 2 fails, the reset returns
/// [`StoreError::Backend`] with step 1 already done; calling it again finishes it (and
/// bumps the generation once more). Counters left behind by such a failure only delay
/// the user, they never let anyone in.
#[derive(Debug, Clone)]
pub struct Split<D, H> {
    durable: D,
    hot: H,
}

impl<D: Store, H: HotStore> Split<D, H> {
    /// Composes the two stores.
    pub fn new(durable: D, hot: H) -> Self {
        Self { durable, hot }
    }

    /// The durable store.
    pub fn durable(&self) -> &D {
        &self.durable
    }

    /// The hot store.
    pub fn hot(&self) -> &H {
        &self.hot
    }
}

impl<D: Store, H: HotStore> FactorStore for Split<D, H> {
    async fn insert_factor(&self, record: FactorRecord) -> Result<Version, StoreError> {
        self.durable.insert_factor(record).await
    }

    async fn factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        self.durable.factor(user, id).await
    }

    async fn factor_by_lookup_key(
        &self,
        key: &LookupKey,
        user: Option<&UserId>,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        self.durable.factor_by_lookup_key(key, user).await
    }

    async fn list_factors(
        &self,
        user: &UserId,
    ) -> Result<Vec<Versioned<FactorRecord>>, StoreError> {
        self.durable.list_factors(user).await
    }

    async fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        self.durable
            .update_factor_if_version(record, expected)
            .await
    }

    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> Result<bool, StoreError> {
        self.durable.remove_factor(user, id).await
    }
}

impl<D: Store, H: HotStore> ChallengeStore for Split<D, H> {
    async fn put_challenge(&self, challenge: PendingChallenge) -> Result<Version, StoreError> {
        self.hot.put_challenge(challenge).await
    }

    async fn challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
        self.hot.challenge(id, owner, now).await
    }

    async fn update_challenge_if_version(
        &self,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        self.hot
            .update_challenge_if_version(challenge, expected, now)
            .await
    }

    async fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        self.hot.take_challenge(id, owner, now).await
    }

    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.hot.purge_expired_challenges(now).await
    }
}

impl<D: Store, H: HotStore> FailureStore for Split<D, H> {
    async fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        self.hot.record_failure(key, now, window).await
    }

    async fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Option<Failures>, StoreError> {
        self.hot.failures(key, now, window).await
    }

    async fn clear_failures(&self, key: &FailureKey) -> Result<(), StoreError> {
        self.hot.clear_failures(key).await
    }

    async fn purge_failures(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.hot.purge_failures(now).await
    }
}

impl<D: Store, H: HotStore> DeviceStore for Split<D, H> {
    async fn remember_device(&self, device: RememberedDevice) -> Result<(), StoreError> {
        self.durable.remember_device(device).await
    }

    async fn remembered_device(
        &self,
        user: &UserId,
        device_id: &str,
        now: Timestamp,
    ) -> Result<Option<RememberedDevice>, StoreError> {
        self.durable.remembered_device(user, device_id, now).await
    }

    async fn list_devices(
        &self,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RememberedDevice>, StoreError> {
        self.durable.list_devices(user, now).await
    }

    async fn forget_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError> {
        self.durable.forget_device(user, device_id).await
    }
}

impl<D: Store, H: HotStore> UserStore for Split<D, H> {
    async fn user_state(&self, user: &UserId) -> Result<UserState, StoreError> {
        self.durable.user_state(user).await
    }

    async fn bump_generation(&self, user: &UserId) -> Result<Generation, StoreError> {
        self.durable.bump_generation(user).await
    }

    async fn reset_user(&self, user: &UserId) -> Result<ResetSummary, StoreError> {
        let durable = self.durable.reset_user(user).await?;
        let (challenges, counters) = self.hot.reset_user_hot(user).await?;
        Ok(ResetSummary::new(
            durable.factors,
            durable.challenges.saturating_add(challenges),
            durable.devices,
            durable.failure_counters.saturating_add(counters),
            durable.generation,
        ))
    }
}

/// The journal lives in the durable store: a change to factors, devices or a reset and
/// its entries commit there together. The hot store's part of a reset (challenges,
/// counters) is not in that transaction (see [`Split`]).
impl<D: Store, H: HotStore> mfa_core::store::JournalStore for Split<D, H> {
    fn keeps_journal(&self) -> bool {
        self.durable.keeps_journal()
    }

    async fn commit_journaled(
        &self,
        change: mfa_core::store::Change,
        journal: mfa_core::store::JournalFn,
    ) -> Result<mfa_core::store::Committed, StoreError> {
        if let mfa_core::store::Change::ResetUser(user) = &change {
            let user = user.clone();
            let out = self.durable.commit_journaled(change, journal).await?;
            let (challenges, counters) = self.hot.reset_user_hot(&user).await?;
            return Ok(match out {
                mfa_core::store::Committed::Reset(d) => {
                    mfa_core::store::Committed::Reset(ResetSummary::new(
                        d.factors,
                        d.challenges.saturating_add(challenges),
                        d.devices,
                        d.failure_counters.saturating_add(counters),
                        d.generation,
                    ))
                }
                other => other,
            });
        }
        self.durable.commit_journaled(change, journal).await
    }

    async fn audit_entries(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<mfa_core::store::AuditEntry>, StoreError> {
        self.durable.audit_entries(after, limit).await
    }

    async fn outbox_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<mfa_core::store::OutboxMessage>, StoreError> {
        self.durable.outbox_due(now, limit).await
    }

    async fn outbox_delivered(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.durable.outbox_delivered(id, now).await
    }

    async fn outbox_retry(&self, id: &str, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        self.durable.outbox_retry(id, next_attempt_at).await
    }
}
