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

/// Implements the store traits but `UserStore` (below) by forwarding each operation
/// to the half that holds its data: challenges and counters to `hot`, the rest to
/// `durable`.
macro_rules! route {
    ([] $( $store:ident $ops:tt )*) => { $( route!(@ $store $ops); )* };
    (@ UserStore $ops:tt) => {};
    (@ $store:ident { $( $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )* }) => {
        impl<D: Store, H: HotStore> $store for Split<D, H> { $(
            async fn $name(&self, $($arg: $ty),*) -> Result<$ret, StoreError> {
                route!(% $store self).$name($($arg),*).await
            }
        )* }
    };
    (% ChallengeStore $self:ident) => { $self.hot };
    (% FailureStore $self:ident) => { $self.hot };
    (% $store:ident $self:ident) => { $self.durable };
}

mfa_core::store_operations!(route!);

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
