//! A store composed of a durable store and a hot store.

use std::future::Future;
use std::time::Duration;

use mfa_core::store::{
    AttemptCount, AttemptRequest, AttemptStore, Begun, ChallengeId, ChallengeOwner, ChallengeStore,
    DeviceStore, FactorRecord, FactorStore, FailureKey, FailureStore, Failures, Generation,
    LookupKey, PendingChallenge, RememberedDevice, ResetSummary, Store, StoreError, Success,
    UserState, UserStore, VerificationStore, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};

/// A store of challenges and failure counters that can also drop one user's share of
/// them: what [`Split`] needs from its hot half.
pub trait HotStore: AttemptStore {
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
    (@ VerificationStore $ops:tt) => {};
    (@ $store:ident { $( $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )* }) => {
        impl<D: Store, H: HotStore> $store for Split<D, H> { $(
            async fn $name(&self, $($arg: $ty),*) -> Result<$ret, StoreError> {
                route!(% $store self).$name($($arg),*).await
            }
        )* }
    };
    (% ChallengeStore $self:ident) => { $self.hot };
    (% FailureStore $self:ident) => { $self.hot };
    (% AttemptStore $self:ident) => { $self.hot };
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

/// Runs two futures at once (on the caller's task) and returns both outputs.
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => std::task::Poll::Ready((x, y)),
            (x, y) => {
                (ra, rb) = (x, y);
                std::task::Poll::Pending
            }
        }
    })
    .await
}

/// A verification's steps across the two halves.
///
/// The begin runs both halves **at once**: the hot store counts the attempt (and reads
/// or takes its challenge) while the durable store lists the user's factors, so it costs
/// one round trip of the slower half. (The listing is wasted on a refused attempt; it
/// changes nothing.)
///
/// The commit cannot be one transaction over two stores, so its steps run in the order
/// that keeps every single-use promise, each one step of its store:
///
/// 1. with a challenge to take, the hot store checks it is there (a conflict, and
///    nothing written, when it is not);
/// 2. the durable store swaps the factor — the compare-and-swap that makes a code
///    single-use, so a replayed code goes no further;
/// 3. the hot store takes the challenge and clears the counters, in one script. The
///    take is what makes an out-of-band code or a push single-use: of two commits of
///    one challenge only one gets past it, and the other returns
///    [`StoreError::Conflict`] — after its swap, which for such a challenge only
///    records the factor's last use.
///
/// So a stale version or a missing challenge writes nothing, as on one store; what two
/// stores cannot promise is that a commit which loses the take at step 3 to a racing one
/// leaves no trace at step 2. A failure of step 3's clearing after a won swap returns
/// [`StoreError::Backend`]: the success is spent, the counters stay higher than they
/// should (they never let anyone in).
impl<D: Store, H: HotStore> VerificationStore for Split<D, H> {
    async fn begin_verification(&self, request: &AttemptRequest<'_>) -> Result<Begun, StoreError> {
        let (attempt, factors) = both(
            self.hot.count_attempt(request),
            self.durable.list_factors(request.user),
        )
        .await;
        let attempt = attempt?;
        let factors = if attempt.verdict == mfa_core::store::Verdict::Proceed {
            factors?
        } else {
            Vec::new()
        };
        Ok(Begun::new(attempt, factors))
    }

    async fn commit_verification(
        &self,
        success: Success<'_>,
    ) -> Result<Option<Version>, StoreError> {
        let Success {
            user,
            factor,
            update,
            take,
            now,
            ..
        } = success;
        if let Some(id) = take {
            let owner = ChallengeOwner::User(user.clone());
            if self.hot.challenge(id, &owner, now).await?.is_none() {
                return Err(StoreError::Conflict);
            }
        }
        let version = match update {
            Some((record, expected)) => Some(
                self.durable
                    .update_factor_if_version(record, expected)
                    .await?,
            ),
            None => None,
        };
        self.hot.settle_attempt(user, factor, take, now).await?;
        Ok(version)
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
