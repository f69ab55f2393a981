//! A store wrapper that times every operation.

use std::time::{Duration, Instant};

use mfa_core::store::{
    AttemptCount, AttemptRequest, AttemptStore, AuditEntry, Begun, ChallengeId, ChallengeOwner,
    ChallengeStore, Change, Committed, DeviceStore, FactorRecord, FactorStore, FailureKey,
    FailureStore, Failures, Generation, JournalFn, JournalStore, LookupKey, OutboxMessage,
    PendingChallenge, RememberedDevice, ResetSummary, Store, StoreError, Success, UserState,
    UserStore, VerificationStore, Version, Versioned,
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

/// Times every operation of the five store traits, each under its own name (the list is
/// `mfa_core::store_operations!`, written once for every wrapper).
macro_rules! metered {
    ([] $( $store:ident { $( $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )* } )*) => {
        $(
            impl<S: Store> $store for Metered<S> { $(
                async fn $name(&self, $($arg: $ty),*) -> Result<$ret, StoreError> {
                    timed(stringify!($name), self.0.$name($($arg),*)).await
                }
            )* }
        )*
    };
}

mfa_core::store_operations!(metered!);

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
