//! The service's metrics, through the `metrics` facade.

use mfa_core::{Channel, FactorKind};

use crate::audit::{AuditEvent, EventKind};

/// The metric names (Prometheus style), and their labels.
pub mod names {
    /// Counter, labels `kind`, `outcome` (`accepted`, `rejected`, `locked`, `backoff`,
    /// `error`) and `reason` (a rejection's reason, `none` otherwise).
    pub const VERIFICATIONS: &str = "mfa_verifications_total";
    /// Histogram (seconds) of `Service::verify` and `finish_passkey_signin`, label
    /// `outcome`.
    pub const VERIFICATION_DURATION: &str = "mfa_verification_duration_seconds";
    /// Counter, labels `kind` and `stage` (`started`, `confirmed`, `imported`).
    pub const ENROLLMENTS: &str = "mfa_enrollments_total";
    /// Counter of MFA resets.
    pub const RESETS: &str = "mfa_resets_total";
    /// Counter, label `scope` (`factor`, `account`): lockouts started, and for a factor
    /// also extended (each attempt at a locked factor extends its lock).
    pub const LOCKOUTS: &str = "mfa_lockouts_total";
    /// Counter, labels `channel` (`sms`, `voice`, `email`) and `country` (the calling
    /// code, `none` for email).
    pub const CODES_SENT: &str = "mfa_codes_sent_total";
    /// Counter of push approvals sent.
    pub const PUSHES_SENT: &str = "mfa_pushes_sent_total";
    /// Counter, label `answer` (`approved`, `denied`).
    pub const PUSHES_ANSWERED: &str = "mfa_pushes_answered_total";
    /// Histogram (seconds), labels `operation` (the store method) and `result` (`ok`,
    /// `error`), recorded by [`Metered`](super::super::Metered).
    pub const STORE_DURATION: &str = "mfa_store_operation_duration_seconds";
    /// Counter, label `result` (`delivered`, `retry`), of the outbox sender.
    pub const OUTBOX_DELIVERIES: &str = "mfa_outbox_deliveries_total";
}

/// Registers the help text and unit of every metric with the installed recorder (call
/// once after installing it; optional).
pub fn describe_metrics() {
    use ::metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(
        names::VERIFICATIONS,
        "Verifications by factor kind, outcome and reject reason"
    );
    describe_histogram!(
        names::VERIFICATION_DURATION,
        Unit::Seconds,
        "Time to verify a response"
    );
    describe_counter!(
        names::ENROLLMENTS,
        "Factors enrolled, confirmed and imported, by kind"
    );
    describe_counter!(names::RESETS, "MFA resets by an operator");
    describe_counter!(
        names::LOCKOUTS,
        "Lockouts of a factor or of a whole account"
    );
    describe_counter!(
        names::CODES_SENT,
        "Out-of-band codes sent, by channel and country calling code"
    );
    describe_counter!(names::PUSHES_SENT, "Push approvals sent");
    describe_counter!(names::PUSHES_ANSWERED, "Push approvals answered, by answer");
    describe_histogram!(
        names::STORE_DURATION,
        Unit::Seconds,
        "Store operation latency by operation"
    );
    describe_counter!(
        names::OUTBOX_DELIVERIES,
        "Security event deliveries by result"
    );
}

fn kind_label(kind: Option<FactorKind>) -> &'static str {
    kind.map_or("unknown", FactorKind::as_str)
}

/// Counts what an audit event says happened.
pub(crate) fn record(event: &AuditEvent) {
    let kind = kind_label(event.kind);
    match &event.event {
        EventKind::Verified { .. } => verification(kind, "accepted", "none"),
        EventKind::Failed { reason } => {
            let outcome = match *reason {
                "locked" | "backoff" | "error" => reason,
                _ => "rejected",
            };
            verification(kind, outcome, reason);
        }
        EventKind::Enrolled => enrollment(kind, "started"),
        EventKind::Confirmed => enrollment(kind, "confirmed"),
        EventKind::Imported { .. } => enrollment(kind, "imported"),
        EventKind::Reset { .. } => ::metrics::counter!(names::RESETS).increment(1),
        EventKind::Locked { .. } => {
            ::metrics::counter!(names::LOCKOUTS, "scope" => "factor").increment(1);
        }
        EventKind::AccountLocked { .. } => {
            ::metrics::counter!(names::LOCKOUTS, "scope" => "account").increment(1);
        }
        EventKind::PushDenied => push_answered("denied"),
        _ => {}
    }
}

/// A verification refused before any factor was read (the lockout gate), or failed
/// with an error that emitted no event. A success of a built-in kind, the one outcome
/// every sign-in reaches, has its key in a static (no allocation per call).
pub(crate) fn verification(kind: &'static str, outcome: &'static str, reason: &'static str) {
    macro_rules! accepted {
        ($($kind:literal),*) => {
            match kind {
                $($kind => {
                    ::metrics::counter!(names::VERIFICATIONS, "kind" => $kind, "outcome" => "accepted", "reason" => "none")
                        .increment(1);
                    return;
                })*
                _ => {}
            }
        };
    }
    if outcome == "accepted" && reason == "none" {
        accepted!(
            "email",
            "hotp",
            "push",
            "recovery-code",
            "sms",
            "totp",
            "voice",
            "webauthn",
            "webauthn-cross-platform",
            "webauthn-platform"
        );
    }
    ::metrics::counter!(names::VERIFICATIONS, "kind" => kind, "outcome" => outcome, "reason" => reason)
        .increment(1);
}

/// The verification's latency, its key in a static for every outcome
/// `observe_verification` names.
pub(crate) fn verification_duration(outcome: &'static str, seconds: f64) {
    macro_rules! by_outcome {
        ($($outcome:literal),*) => {
            match outcome {
                $($outcome => ::metrics::histogram!(names::VERIFICATION_DURATION, "outcome" => $outcome).record(seconds),)*
                _ => ::metrics::histogram!(names::VERIFICATION_DURATION, "outcome" => outcome).record(seconds),
            }
        };
    }
    by_outcome!("accepted", "backoff", "error", "locked", "rejected");
}

fn enrollment(kind: &'static str, stage: &'static str) {
    ::metrics::counter!(names::ENROLLMENTS, "kind" => kind, "stage" => stage).increment(1);
}

/// A code sent: the channel, and the country calling code of a phone number (a
/// number below 1000, so the label stays bounded).
pub(crate) fn code_sent(channel: Channel, country: Option<u16>) {
    let channel = match channel {
        Channel::Sms => "sms",
        Channel::Voice => "voice",
        Channel::Email => "email",
        _ => "other",
    };
    let country = country.map_or_else(|| "none".to_owned(), |c| c.min(999).to_string());
    ::metrics::counter!(names::CODES_SENT, "channel" => channel, "country" => country).increment(1);
}

pub(crate) fn push_sent() {
    ::metrics::counter!(names::PUSHES_SENT).increment(1);
}

pub(crate) fn push_answered(answer: &'static str) {
    ::metrics::counter!(names::PUSHES_ANSWERED, "answer" => answer).increment(1);
}

pub(crate) fn store_duration(operation: &'static str, ok: bool, seconds: f64) {
    let result = if ok { "ok" } else { "error" };
    ::metrics::histogram!(names::STORE_DURATION, "operation" => operation, "result" => result)
        .record(seconds);
}

#[cfg(feature = "webhook")]
pub(crate) fn outbox_delivery(delivered: bool) {
    let result = if delivered { "delivered" } else { "retry" };
    ::metrics::counter!(names::OUTBOX_DELIVERIES, "result" => result).increment(1);
}
