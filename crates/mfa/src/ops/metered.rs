//! A store wrapper that times every operation.

use std::time::{Duration, Instant};

use mfa_core::store::{
    AuditEntry, ChallengeId, ChallengeOwner, ChallengeStore, Change, Committed, DeviceStore,
    FactorRecord, FactorStore, FailureKey, FailureStore, Failures, Generation, JournalFn,
    JournalStore, LookupKey, OutboxMessage, PendingChallenge, RememberedDevice, ResetSummary,
    Store, StoreError, UserState, UserStore, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};

/// Any [`Store`], with the latency of each operation recorded as the histogram
/// `mfa_store_operation_duration_seconds{operation, result}` (the store method's name;
/// `ok` or `error`). Wrap the store given to [`Service::builder`](crate::Service::builder):
/// `Service::builder(Metered::new(store), policy, keys)`.
#[derive(Clone, Debug)]
pub struct Metered<S>(S);

impl<S> Metered<S> {
    /// Wraps `store`.
    pub fn new(store: S) -> Self {
        Self(store)
    }

    /// The store inside.
    pub fn inner(&self) -> &S {
        &self.0
    }

    /// Takes the store back.
    pub fn into_inner(self) -> S {
        self.0
    }
}

async fn timed<T>(
    operation: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let start = Instant::now();
    let out = call.await;
    super::metrics::store_duration(operation, out.is_ok(), start.elapsed().as_secs_f64());
    out
}

impl<S: Store> FactorStore for Metered<S> {
    async fn insert_factor(&self, record: FactorRecord) -> Result<Version, StoreError> {
        timed("insert_factor", self.0.insert_factor(record)).await
    }

    async fn factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        timed("factor", self.0.factor(user, id)).await
    }

    async fn factor_by_lookup_key(
        &self,
        key: &LookupKey,
        user: Option<&UserId>,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        timed(
            "factor_by_lookup_key",
            self.0.factor_by_lookup_key(key, user),
        )
        .await
    }

    async fn list_factors(
        &self,
        user: &UserId,
    ) -> Result<Vec<Versioned<FactorRecord>>, StoreError> {
        timed("list_factors", self.0.list_factors(user)).await
    }

    async fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        timed(
            "update_factor_if_version",
            self.0.update_factor_if_version(record, expected),
        )
        .await
    }

    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> Result<bool, StoreError> {
        timed("remove_factor", self.0.remove_factor(user, id)).await
    }
}

impl<S: Store> ChallengeStore for Metered<S> {
    async fn put_challenge(&self, challenge: PendingChallenge) -> Result<Version, StoreError> {
        timed("put_challenge", self.0.put_challenge(challenge)).await
    }

    async fn challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
        timed("challenge", self.0.challenge(id, owner, now)).await
    }

    async fn update_challenge_if_version(
        &self,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        timed(
            "update_challenge_if_version",
            self.0.update_challenge_if_version(challenge, expected, now),
        )
        .await
    }

    async fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        timed("take_challenge", self.0.take_challenge(id, owner, now)).await
    }

    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        timed(
            "purge_expired_challenges",
            self.0.purge_expired_challenges(now),
        )
        .await
    }
}

impl<S: Store> FailureStore for Metered<S> {
    async fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        timed("record_failure", self.0.record_failure(key, now, window)).await
    }

    async fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Option<Failures>, StoreError> {
        timed("failures", self.0.failures(key, now, window)).await
    }

    async fn clear_failures(&self, key: &FailureKey) -> Result<(), StoreError> {
        timed("clear_failures", self.0.clear_failures(key)).await
    }

    async fn purge_failures(&self, now: Timestamp) -> Result<usize, StoreError> {
        timed("purge_failures", self.0.purge_failures(now)).await
    }
}

impl<S: Store> DeviceStore for Metered<S> {
    async fn remember_device(&self, device: RememberedDevice) -> Result<(), StoreError> {
        timed("remember_device", self.0.remember_device(device)).await
    }

    async fn remembered_device(
        &self,
        user: &UserId,
        device_id: &str,
        now: Timestamp,
    ) -> Result<Option<RememberedDevice>, StoreError> {
        timed(
            "remembered_device",
            self.0.remembered_device(user, device_id, now),
        )
        .await
    }

    async fn list_devices(
        &self,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RememberedDevice>, StoreError> {
        timed("list_devices", self.0.list_devices(user, now)).await
    }

    async fn forget_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError> {
        timed("forget_device", self.0.forget_device(user, device_id)).await
    }
}

impl<S: Store> UserStore for Metered<S> {
    async fn user_state(&self, user: &UserId) -> Result<UserState, StoreError> {
        timed("user_state", self.0.user_state(user)).await
    }

    async fn bump_generation(&self, user: &UserId) -> Result<Generation, StoreError> {
        timed("bump_generation", self.0.bump_generation(user)).await
    }

    async fn reset_user(&self, user: &UserId) -> Result<ResetSummary, StoreError> {
        timed("reset_user", self.0.reset_user(user)).await
    }
}

impl<S: Store> JournalStore for Metered<S> {
    fn keeps_journal(&self) -> bool {
        self.0.keeps_journal()
    }

    async fn commit_journaled(
        &self,
        change: Change,
        journal: JournalFn,
    ) -> Result<Committed, StoreError> {
        timed("commit_journaled", self.0.commit_journaled(change, journal)).await
    }

    async fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        timed("audit_entries", self.0.audit_entries(after, limit)).await
    }

    async fn outbox_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        timed("outbox_due", self.0.outbox_due(now, limit)).await
    }

    async fn outbox_delivered(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        timed("outbox_delivered", self.0.outbox_delivered(id, now)).await
    }

    async fn outbox_retry(&self, id: &str, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        timed("outbox_retry", self.0.outbox_retry(id, next_attempt_at)).await
    }
}
