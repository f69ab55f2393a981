//! Errors shared by every crate of mfa-rs.

use alloc::borrow::Cow;
use core::fmt;

use crate::random::RandomError;
use crate::store::StoreError;

/// A crate-local result alias.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in the facade.
///
/// Factor crates have their own error types and convert into this one; the service
/// speaks only this. Two groups matter to callers:
///
/// - [`Error::Invalid`]: the input could not be parsed or is out of range. The message
///   names what was wrong, so it may be shown to whoever sent the input.
/// - [`Error::Rejected`]: a verification failed. Its message is always
///   `verification failed`, whatever the cause; the cause is available to logs through
///   [`Rejected::reason`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that could not be parsed or is out of range.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The operating system's random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A verification failed; opaque to the end user.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The store failed or reported a conflict.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// Shorthand for an [`InvalidInput`] error.
    pub fn invalid(what: &'static str, problem: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid(InvalidInput::new(what, problem))
    }

    /// Shorthand for a [`Rejected`] error with the given log-only reason.
    pub fn rejected(reason: RejectReason) -> Self {
        Self::Rejected(Rejected::new(reason))
    }

    /// Whether this error is a failed verification (which a service counts towards
    /// rate limits), as opposed to bad input or an infrastructure failure.
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }
}

/// Input that could not be parsed or is out of range: names the field and the problem.
///
/// ```
/// let err = mfa_core::UserId::new("").unwrap_err();
/// assert_eq!(err.to_string(), "invalid user id: must not be empty");
/// ```
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("invalid {what}: {problem}")]
pub struct InvalidInput {
    what: &'static str,
    problem: Cow<'static, str>,
}

impl InvalidInput {
    /// Builds an error saying that `what` is invalid because of `problem`.
    ///
    /// By convention `what` is a lowercase noun phrase (`"user id"`) and `problem` a
    /// lowercase phrase without a trailing period (`"must not be empty"`).
    pub fn new(what: &'static str, problem: impl Into<Cow<'static, str>>) -> Self {
        Self {
            what,
            problem: problem.into(),
        }
    }

    /// The name of the invalid field or value.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// What was wrong with it.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

/// A failed verification.
///
/// Its `Display` is always `verification failed`: a wrong code, an unknown factor, an
/// expired challenge and a replay look the same to the end user, so an attacker learns
/// nothing from the message. The precise [`RejectReason`] is for audit logs only.
///
/// ```
/// use mfa_core::{RejectReason, Rejected};
///
/// let err = Rejected::new(RejectReason::Replay);
/// assert_eq!(err.to_string(), "verification failed");
/// assert_eq!(err.reason(), RejectReason::Replay);
/// ```
#[derive(Clone, Eq, PartialEq, thiserror::Error)]
#[error("verification failed")]
pub struct Rejected {
    reason: RejectReason,
    detail: Option<Cow<'static, str>>,
}

impl Rejected {
    /// A rejection for the given reason.
    pub fn new(reason: RejectReason) -> Self {
        Self {
            reason,
            detail: None,
        }
    }

    /// A rejection with a free-form detail for logs, e.g. a WebAuthn conformance code.
    pub fn with_detail(reason: RejectReason, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            reason,
            detail: Some(detail.into()),
        }
    }

    /// Why the response was refused; for audit logs only, never for the end user.
    pub fn reason(&self) -> RejectReason {
        self.reason
    }

    /// A more precise description for logs, when the factor gave one.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("reason", &self.reason)
            .field("detail", &self.detail)
            .finish()
    }
}

/// Why a verification failed. For logs and metrics only: see [`Rejected`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The response was bound to another challenge, origin or relying party.
    BindingMismatch,
    /// A push approval was denied on the user's device: a possible fraud attempt, worth
    /// an audit event and a notice to the user.
    Denied,
    /// The challenge or code has expired.
    Expired,
    /// A challenge's attempts are used up; a new challenge is needed.
    Exhausted,
    /// The factor is disabled or not yet confirmed.
    FactorDisabled,
    /// The response could not be parsed (wrong length, bad encoding, malformed structure).
    Malformed,
    /// A WebAuthn requirement (user presence, user verification, backup eligibility) failed.
    RequirementNotMet,
    /// The response was valid once but has already been used, or a newer one was used.
    Replay,
    /// A signature did not verify.
    BadSignature,
    /// A WebAuthn sign count went backwards: a possible cloned authenticator.
    CounterRegression,
    /// No pending challenge matches.
    UnknownChallenge,
    /// No enrolled factor matches.
    UnknownFactor,
    /// The code or response is simply wrong.
    WrongCode,
    /// The code was sent to another destination (phone number, email address) than the
    /// one it is checked against.
    WrongDestination,
}

impl RejectReason {
    /// A stable snake_case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadSignature => "bad_signature",
            Self::BindingMismatch => "binding_mismatch",
            Self::CounterRegression => "counter_regression",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Exhausted => "exhausted",
            Self::FactorDisabled => "factor_disabled",
            Self::Malformed => "malformed",
            Self::Replay => "replay",
            Self::RequirementNotMet => "requirement_not_met",
            Self::UnknownChallenge => "unknown_challenge",
            Self::UnknownFactor => "unknown_factor",
            Self::WrongCode => "wrong_code",
            Self::WrongDestination => "wrong_destination",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_displays_the_same() {
        let reasons = [
            RejectReason::BadSignature,
            RejectReason::BindingMismatch,
            RejectReason::CounterRegression,
            RejectReason::Denied,
            RejectReason::Expired,
            RejectReason::Exhausted,
            RejectReason::FactorDisabled,
            RejectReason::Malformed,
            RejectReason::Replay,
            RejectReason::RequirementNotMet,
            RejectReason::UnknownChallenge,
            RejectReason::UnknownFactor,
            RejectReason::WrongCode,
            RejectReason::WrongDestination,
        ];
        for reason in reasons {
            let err = Error::rejected(reason);
            assert_eq!(err.to_string(), "verification failed");
            assert!(err.is_rejection());
            let Error::Rejected(r) = err else {
                unreachable!()
            };
            assert_eq!(r.reason(), reason);
            // The snake_case name and the serde name agree.
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
    }

    #[test]
    fn detail_is_only_in_debug() {
        let r = Rejected::with_detail(RejectReason::BadSignature, "es256 signature");
        assert_eq!(r.to_string(), "verification failed");
        assert_eq!(r.detail(), Some("es256 signature"));
        assert!(format!("{r:?}").contains("es256 signature"));
    }

    #[test]
    fn invalid_input_names_field_and_problem() {
        let e = Error::invalid("digits", "must be between 6 and 10");
        assert_eq!(e.to_string(), "invalid digits: must be between 6 and 10");
        assert!(!e.is_rejection());
    }
}
