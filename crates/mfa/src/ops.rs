//! For the people who run it: metrics, tracing fields, Security Event Tokens, the
//! outbox sender and the tamper-evident audit log.
//!
//! Everything here is opt-in; a service built without it behaves as before.
//!
//! * **Metrics** through the [`metrics`](::metrics) facade: the service records counters and
//!   histograms ([`names`] lists them); nothing is exported until the application installs
//!   a recorder (the web demo installs Prometheus' and serves `/metrics`). Labels have
//!   bounded values only — factor kinds, outcomes, reject reasons, channels, country
//!   calling codes, store operations — never a user id, destination or code.
//!   [`describe_metrics`] registers their help texts. [`Metered`] wraps a store to time
//!   each operation.
//! * **Tracing**: every public `Service` call opens a span `mfa.<call>` (level `INFO`,
//!   target `mfa::service`) with `user` (as configured by [`UserField`]: plain, keyed hash
//!   or omitted), `factor` where the call names one, and `kind` and `outcome` filled in
//!   by the audit events it emits (`verified`, `failed`, `factor_removed`, …).
//! * **Journal** ([`Journaling`], [`ServiceBuilder::journal`](crate::ServiceBuilder::journal)):
//!   every audit event is appended to the store's hash-chained audit log, and (feature
//!   `events`) the CAEP / RISC Security Event Tokens it implies to the outbox, **in the
//!   same transaction as the change** for removals, renames, confirmations, WebAuthn and
//!   push registrations, resets and forgotten devices. Events without a store change of
//!   their own (a failed verification, a lockout — its counter is a separate atomic
//!   increment) are appended in a transaction of their own right after.
//! * **Outbox sender** (feature `webhook`, [`OutboxSender`]): delivers the outbox at least
//!   once by webhook POST (RFC 8935), retrying with exponential backoff; the SET's `jti`
//!   is the idempotency key.

#[cfg(feature = "events")]
mod events;
#[cfg(feature = "events")]
mod head;
mod journaling;
mod metered;
mod metrics;
#[cfg(feature = "webhook")]
mod outbox;

#[cfg(feature = "events")]
pub use events::{ChangeType, EventSigner, Initiator, SecurityEvent, event_types};
#[cfg(feature = "events")]
pub use head::{AuditHead, verify_audit_head};
pub(crate) use journaling::{JournalBuilder, SecurityEventSlot};
pub use journaling::{Journaling, UserField};
pub use metered::Metered;
pub use metrics::{describe_metrics, names};
#[cfg(feature = "webhook")]
pub use outbox::{OutboxSender, RetryPolicy, SendReport};

pub(crate) use self::metrics::{
    code_sent as metrics_code_sent, push_answered as metrics_push_answered,
    push_sent as metrics_push_sent, record as record_metrics, verification as metrics_verification,
    verification_duration as metrics_verification_duration,
};
