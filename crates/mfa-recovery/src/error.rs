//! The crate's error.

use mfa_core::{InvalidInput, RandomError, RejectReason, Rejected};

use crate::code::CodeError;
use mfa_core::KeyId;

/// Everything that can go wrong in this crate.
///
/// Two variants are the user's doing and count as failed attempts
/// ([`is_rejection`](Error::is_rejection)): [`Error::Code`] (the input is not a code of
/// the right shape; its message is safe to show, since the format is public) and
/// [`Error::Rejected`] (a well-formed code that does not verify; opaque). The others are
/// the service's: bad configuration, a record naming a retired key, a failed RNG.
///
/// Converting into [`mfa_core::Error`] keeps that split: [`Error::Code`] becomes a
/// rejection with reason [`RejectReason::Malformed`] and the message as its log-only
/// detail, so a service speaking only the facade counts it and shows nothing.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The typed code could not be read (empty, wrong length, a character outside the
    /// alphabet).
    #[error(transparent)]
    Code(#[from] CodeError),
    /// A configuration value or a stored record is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A well-formed code did not verify: wrong, already used, or from a replaced set.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The record names a pepper key that is not in the keyring.
    #[error("pepper key {0} is not in the keyring")]
    UnknownKey(KeyId),
}

impl Error {
    /// Whether the user caused this (a malformed or wrong code), so the service should
    /// count it towards rate limits and lockout.
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::Code(_) | Self::Rejected(_))
    }

    pub(crate) fn rejected(reason: RejectReason) -> Self {
        Self::Rejected(Rejected::new(reason))
    }
}

impl From<Error> for mfa_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Code(c) => Rejected::with_detail(RejectReason::Malformed, c.to_string()).into(),
            Error::Invalid(i) => i.into(),
            Error::Random(r) => r.into(),
            Error::Rejected(r) => r.into(),
            Error::UnknownKey(id) => InvalidInput::new(
                "recovery record",
                format!("pepper key {id} is not in the keyring"),
            )
            .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_codes_are_counted_but_opaque_in_the_facade() {
        let e = Error::from(CodeError::WrongLength {
            expected: 24,
            found: 23,
        });
        assert!(e.is_rejection());
        assert_eq!(
            e.to_string(),
            "recovery code must have 24 letters and digits, not 23"
        );
        let core: mfa_core::Error = e.into();
        assert!(core.is_rejection());
        assert_eq!(core.to_string(), "verification failed");
        let mfa_core::Error::Rejected(r) = core else {
            unreachable!()
        };
        assert_eq!(r.reason(), RejectReason::Malformed);
        assert!(r.detail().is_some_and(|d| d.contains("24")));
    }

    #[test]
    fn service_errors_are_not_rejections() {
        let e = Error::UnknownKey(KeyId::new("old").unwrap());
        assert!(!e.is_rejection());
        let core: mfa_core::Error = e.into();
        assert!(!core.is_rejection());
        assert!(core.to_string().contains("old"));
    }
}
