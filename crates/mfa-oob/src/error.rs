//! The crate's error.

use mfa_core::{InvalidInput, RandomError, RejectReason, Rejected};

use crate::destination::DestinationError;
use crate::limits::LimitError;
use crate::push::EncodingError;

/// Everything that can go wrong in this crate.
///
/// | variant | whose doing | counts as a failed attempt | in the facade |
/// | --- | --- | --- | --- |
/// | [`Error::Rejected`] | the user's (wrong, expired, exhausted, denied, replayed) | yes | [`mfa_core::Error::Rejected`] |
/// | [`Error::Encoding`] | the device's (a push response that does not decode) | yes | a rejection, reason `malformed` |
/// | [`Error::Destination`] | the user's input at enrollment | no | [`mfa_core::Error::Invalid`] |
/// | [`Error::Limited`] | nobody's fault yet: a cooldown or cap | no | [`mfa_core::Error::Invalid`] (what: `send limit`) |
/// | [`Error::Pending`] | nobody's: the push is not answered yet | no | [`mfa_core::Error::Invalid`] (what: `push`) |
/// | [`Error::Invalid`] | the service's: configuration, a stored value, misuse | no | [`mfa_core::Error::Invalid`] |
/// | [`Error::Random`] | the platform's | no | [`mfa_core::Error::Random`] |
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A phone number or email address was refused.
    #[error(transparent)]
    Destination(#[from] DestinationError),
    /// A push response did not decode.
    #[error(transparent)]
    Encoding(#[from] EncodingError),
    /// A configuration value, a stored value or a call sequence is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// A send was refused by a resend or abuse limit.
    #[error(transparent)]
    Limited(#[from] LimitError),
    /// The push transaction has no answer yet: keep polling.
    #[error("the push approval has not been answered yet")]
    Pending,
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A verification failed; opaque to the end user.
    #[error(transparent)]
    Rejected(#[from] Rejected),
}

impl Error {
    /// Whether the user (or their device) caused this, so the service should count it
    /// towards rate limits and lockout.
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::Encoding(_) | Self::Rejected(_))
    }

    /// The log-only reason of a rejection ([`RejectReason::Malformed`] for an
    /// encoding error), or `None` for errors that are not rejections.
    pub fn reject_reason(&self) -> Option<RejectReason> {
        match self {
            Self::Rejected(r) => Some(r.reason()),
            Self::Encoding(_) => Some(RejectReason::Malformed),
            _ => None,
        }
    }

    pub(crate) fn rejected(reason: RejectReason) -> Self {
        Self::Rejected(Rejected::new(reason))
    }

    pub(crate) fn rejected_because(reason: RejectReason, detail: &'static str) -> Self {
        Self::Rejected(Rejected::with_detail(reason, detail))
    }
}

impl From<Error> for mfa_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Destination(d) => InvalidInput::new("destination", d.to_string()).into(),
            Error::Encoding(c) => {
                Rejected::with_detail(RejectReason::Malformed, c.to_string()).into()
            }
            Error::Invalid(i) => i.into(),
            Error::Limited(l) => InvalidInput::new("send limit", l.to_string()).into(),
            Error::Pending => InvalidInput::new("push", "not answered yet").into(),
            Error::Random(r) => r.into(),
            Error::Rejected(r) => r.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_stay_opaque_in_the_facade() {
        for reason in [
            RejectReason::Denied,
            RejectReason::Exhausted,
            RejectReason::Expired,
            RejectReason::WrongCode,
            RejectReason::WrongDestination,
        ] {
            let e = Error::rejected(reason);
            assert!(e.is_rejection());
            assert_eq!(e.reject_reason(), Some(reason));
            let core: mfa_core::Error = e.into();
            assert_eq!(core.to_string(), "verification failed");
            assert!(core.is_rejection());
        }
        let enc = Error::from(EncodingError::Base64);
        assert!(enc.is_rejection());
        let core: mfa_core::Error = enc.into();
        assert_eq!(core.to_string(), "verification failed");
    }

    #[test]
    fn limits_and_pending_are_not_rejections() {
        let e = Error::from(LimitError::UserCap { max: 10 });
        assert!(!e.is_rejection());
        let core: mfa_core::Error = e.into();
        assert!(!core.is_rejection());
        assert!(
            core.to_string().starts_with("invalid send limit: "),
            "{core}"
        );
        assert!(!mfa_core::Error::from(Error::Pending).is_rejection());
    }
}
