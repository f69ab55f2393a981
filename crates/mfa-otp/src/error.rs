//! The crate's errors: typed input errors that name what was wrong, and one opaque
//! rejection for failed verifications.

use core::fmt;

use crate::params::UnknownAlgorithm;
use crate::uri::UriError;

/// Everything that can go wrong in this crate.
///
/// Two groups matter to callers:
///
/// - every variant except [`Error::Rejected`] is bad input or configuration (a malformed
///   secret, 11 digits, a time before `T0`); its message names what was wrong.
/// - [`Error::Rejected`]: a code did not verify. Its message is always
///   `verification failed`; the cause is for logs only ([`Rejected::reason`]).
///
/// With the `std` feature it converts into [`mfa_core::Error`].
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum Error {
    /// An algorithm name other than SHA1, SHA256 or SHA512.
    #[error(transparent)]
    Algorithm(#[from] UnknownAlgorithm),
    /// A counter cannot move past `u64::MAX`: the HOTP key is used up.
    #[error("invalid counter: no counter follows u64::MAX")]
    CounterExhausted,
    /// The number of digits is outside 6 to 10.
    #[error("invalid digits: must be between 6 and 10, got {0}")]
    Digits(u64),
    /// The TOTP period is zero.
    #[error("invalid period: must be at least 1 second")]
    Period,
    /// A challenge option an OTP cannot honour ([`mfa_core::StartOptions`]).
    #[cfg(feature = "std")]
    #[error(transparent)]
    Options(#[from] mfa_core::InvalidInput),
    /// The operating system's random source failed.
    #[cfg(feature = "std")]
    #[error(transparent)]
    Random(#[from] mfa_core::RandomError),
    /// A code did not verify; opaque to the end user.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// A shared secret could not be decoded or is too short.
    #[error("invalid secret: {0}")]
    Secret(#[from] SecretError),
    /// `now` is before the TOTP epoch `T0`, so there is no time step.
    #[error("invalid time: {now} is before t0 {t0}")]
    TimeBeforeT0 {
        /// The time given, in Unix seconds.
        now: u64,
        /// The TOTP epoch, in Unix seconds.
        t0: u64,
    },
    /// An otpauth:// URI could not be parsed or built.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// A verification window is larger than the crate allows.
    #[error("invalid window: at most {max} steps on each side, got {got}")]
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

/// A code that did not verify.
///
/// Its `Display` is always `verification failed`, whatever the cause, so an end user (or
/// an attacker) learns nothing from it. The precise [`RejectReason`] is for audit logs.
///
/// ```
/// use mfa_otp::{Hotp, HotpParams, Secret};
///
/// let secret = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
/// let key = Hotp::new(&secret, HotpParams::default());
/// let err = key.verify("000000", 0, 0).unwrap_err();
/// assert_eq!(err.to_string(), "verification failed");
/// # Ok::<(), mfa_otp::Error>(())
/// ```
#[derive(Clone, Copy, Eq, PartialEq, thiserror::Error)]
#[error("verification failed")]
pub struct Rejected {
    reason: RejectReason,
}

impl Rejected {
    /// A rejection for the given reason.
    pub const fn new(reason: RejectReason) -> Self {
        Self { reason }
    }

    /// Why the code was refused; for audit logs only, never for the end user.
    pub const fn reason(&self) -> RejectReason {
        self.reason
    }
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("reason", &self.reason)
            .finish()
    }
}

/// Why a code was refused. For logs and metrics only: see [`Rejected`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RejectReason {
    /// The code is not a string of exactly the configured number of ASCII digits.
    Malformed,
    /// The code matched a step (or counter) at or before the last accepted one.
    Replay,
    /// The code matched nothing in the window.
    WrongCode,
}

impl RejectReason {
    /// A stable snake_case name for logs and metrics (the same as `mfa_core`'s).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Replay => "replay",
            Self::WrongCode => "wrong_code",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<RejectReason> for Error {
    fn from(reason: RejectReason) -> Self {
        Self::Rejected(Rejected::new(reason))
    }
}

#[cfg(feature = "std")]
impl From<RejectReason> for mfa_core::RejectReason {
    fn from(reason: RejectReason) -> Self {
        match reason {
            RejectReason::Malformed => Self::Malformed,
            RejectReason::Replay => Self::Replay,
            RejectReason::WrongCode => Self::WrongCode,
        }
    }
}

#[cfg(feature = "std")]
impl From<Rejected> for mfa_core::Rejected {
    fn from(r: Rejected) -> Self {
        Self::new(r.reason.into())
    }
}

#[cfg(feature = "std")]
impl From<Error> for mfa_core::Error {
    fn from(e: Error) -> Self {
        use std::string::ToString as _;
        let what = match &e {
            Error::Rejected(r) => return Self::Rejected((*r).into()),
            Error::Random(r) => return Self::Random(r.clone()),
            Error::Options(i) => return Self::Invalid(i.clone()),
            Error::Algorithm(_) => "algorithm",
            Error::CounterExhausted => "counter",
            Error::Digits(_) => "digits",
            Error::Period => "period",
            Error::Secret(_) => "secret",
            Error::TimeBeforeT0 { .. } => "time",
            Error::Uri(_) => "otpauth uri",
            Error::Window { .. } => "window",
        };
        // The message already starts with "invalid <what>: "; keep only the problem.
        let message = e.to_string();
        let problem = message
            .split_once(": ")
            .map_or(message.as_str(), |(_, p)| p)
            .to_string();
        Self::invalid(what, problem)
    }
}
