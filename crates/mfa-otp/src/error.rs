//! The crate's errors: typed input errors that name what was wrong, and the facade's
//! opaque [`Rejected`] for failed verifications.

use alloc::string::ToString as _;
use core::fmt;

use mfa_core::{InvalidInput, RandomError};
pub use mfa_core::{RejectReason, Rejected};

use crate::params::UnknownAlgorithm;
use crate::uri::UriError;

/// Everything that can go wrong in this crate.
///
/// Two groups matter to callers:
///
/// - every variant except [`Error::Rejected`] is bad input or configuration (a malformed
///   secret, 11 digits, a time before `T0`); its message names what was wrong.
/// - [`Error::Rejected`]: a code did not verify. It is [`mfa_core::Rejected`]: its
///   message is always `verification failed`; the cause is for logs only
///   ([`Rejected::reason`]: [`RejectReason::Malformed`], [`RejectReason::Replay`] or
///   [`RejectReason::WrongCode`]).
///
/// It converts into [`mfa_core::Error`] variant by variant: a rejection stays the same
/// [`Rejected`], a random-source failure the same [`RandomError`], and every input error
/// becomes an [`InvalidInput`] with the field name and problem this error displays.
///
/// ```
/// use mfa_otp::{Digits, Error};
///
/// let e = Digits::new(11).unwrap_err();
/// assert_eq!(e.to_string(), "invalid digits: must be between 6 and 10, got 11");
/// let mfa_core::Error::Invalid(input) = mfa_core::Error::from(e) else { unreachable!() };
/// assert_eq!((input.what(), input.problem()), ("digits", "must be between 6 and 10, got 11"));
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Error {
    /// An algorithm name other than SHA1, SHA256 or SHA512.
    Algorithm(UnknownAlgorithm),
    /// A counter cannot move past `u64::MAX`: the HOTP key is used up.
    CounterExhausted,
    /// The number of digits is outside 6 to 10.
    Digits(u64),
    /// The TOTP period is zero.
    Period,
    /// A challenge option an OTP cannot honour ([`mfa_core::StartOptions`]).
    Options(InvalidInput),
    /// The random source failed.
    Random(RandomError),
    /// A code did not verify; opaque to the end user.
    Rejected(Rejected),
    /// A shared secret could not be decoded or is too short.
    Secret(SecretError),
    /// `now` is before the TOTP epoch `T0`, so there is no time step.
    TimeBeforeT0 {
        /// The time given, in Unix seconds.
        now: u64,
        /// The TOTP epoch, in Unix seconds.
        t0: u64,
    },
    /// An otpauth:// URI could not be parsed or built.
    Uri(UriError),
    /// A verification window is larger than the crate allows.
    Window {
        /// The largest window allowed.
        max: u32,
        /// The window asked for.
        got: u32,
    },
}

impl Error {
    /// Whether this error is a failed verification (which a service counts towards rate
    /// limits), as opposed to bad input or configuration.
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }

    /// The field the error is about, as [`InvalidInput::what`] names it.
    fn field(&self) -> &'static str {
        match self {
            Self::Algorithm(_) => "algorithm",
            Self::CounterExhausted => "counter",
            Self::Digits(_) => "digits",
            Self::Period => "period",
            Self::Secret(_) => "secret",
            Self::TimeBeforeT0 { .. } => "time",
            Self::Uri(_) => UriError::FIELD,
            Self::Window { .. } => "window",
            Self::Options(e) => e.what(),
            Self::Random(_) => "random source",
            Self::Rejected(_) => "code",
        }
    }

    /// Writes what was wrong with [`Error::field`]: for input errors, the part of the
    /// message after `invalid <field>: `.
    fn fmt_problem(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Algorithm(_) => f.write_str(UnknownAlgorithm::PROBLEM),
            Self::CounterExhausted => f.write_str("no counter follows u64::MAX"),
            Self::Digits(got) => write!(f, "must be between 6 and 10, got {got}"),
            Self::Period => f.write_str("must be at least 1 second"),
            Self::Secret(e) => fmt::Display::fmt(e, f),
            Self::TimeBeforeT0 { now, t0 } => write!(f, "{now} is before t0 {t0}"),
            Self::Uri(e) => e.fmt_problem(f),
            Self::Window { max, got } => {
                write!(f, "at most {max} steps on each side, got {got}")
            }
            Self::Options(e) => f.write_str(e.problem()),
            Self::Random(e) => fmt::Display::fmt(e, f),
            Self::Rejected(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// [`Error::fmt_problem`] as a value that displays.
struct Problem<'a>(&'a Error);

impl fmt::Display for Problem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_problem(f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The facade's errors display as they are.
            Self::Options(e) => fmt::Display::fmt(e, f),
            Self::Random(e) => fmt::Display::fmt(e, f),
            Self::Rejected(e) => fmt::Display::fmt(e, f),
            _ => write!(f, "invalid {}: {}", self.field(), Problem(self)),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Secret(e) => Some(e),
            _ => None,
        }
    }
}

impl From<UnknownAlgorithm> for Error {
    fn from(e: UnknownAlgorithm) -> Self {
        Self::Algorithm(e)
    }
}

impl From<InvalidInput> for Error {
    fn from(e: InvalidInput) -> Self {
        Self::Options(e)
    }
}

impl From<RandomError> for Error {
    fn from(e: RandomError) -> Self {
        Self::Random(e)
    }
}

impl From<Rejected> for Error {
    fn from(e: Rejected) -> Self {
        Self::Rejected(e)
    }
}

impl From<RejectReason> for Error {
    fn from(reason: RejectReason) -> Self {
        Self::Rejected(Rejected::new(reason))
    }
}

impl From<SecretError> for Error {
    fn from(e: SecretError) -> Self {
        Self::Secret(e)
    }
}

impl From<UriError> for Error {
    fn from(e: UriError) -> Self {
        Self::Uri(e)
    }
}

impl From<Error> for mfa_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Rejected(r) => Self::Rejected(r),
            Error::Random(r) => Self::Random(r),
            Error::Options(i) => Self::Invalid(i),
            input => Self::invalid(input.field(), Problem(&input).to_string()),
        }
    }
}

/// Why a shared secret was refused.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum SecretError {
    /// Nothing left after removing spaces, hyphens and padding.
    #[error("empty")]
    Empty,
    /// A character outside the base32 alphabet (RFC 4648 §6), with its position in the
    /// input (counted in characters).
    #[error("{character:?} at position {position} is not base32")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its position in the input, counted in characters from 0.
        position: usize,
    },
    /// A number of base32 characters that no byte string encodes to (1, 3 or 6 mod 8).
    #[error("{0} base32 characters cannot encode whole bytes")]
    InvalidLength(usize),
    /// `=` padding followed by more characters.
    #[error("padding '=' is only allowed at the end")]
    MisplacedPadding,
    /// Shorter than 128 bits (RFC 4226 §4); use a `danger_` constructor to accept it.
    #[error("{bits} bits is shorter than the 128-bit minimum (RFC 4226 section 4)")]
    TooShort {
        /// The length of the secret given, in bits.
        bits: usize,
    },
}
