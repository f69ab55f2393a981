//! Parameters shared by HOTP and TOTP: the hash, the number of digits, the period.

use core::fmt;
use core::num::NonZeroU64;
use core::str::FromStr;

use alloc::string::String;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The HMAC hash function (RFC 6238 §1.2 allows SHA-1, SHA-256 and SHA-512).
///
/// Parses in any case (`sha256`, `SHA256`, `Sha256`; also `SHA-256`); displays and
/// serialises in the upper case of the Key URI Format (`SHA256`).
///
/// ```
/// use mfa_otp::Algorithm;
///
/// assert_eq!("sha512".parse::<Algorithm>()?, Algorithm::Sha512);
/// assert_eq!(Algorithm::Sha256.to_string(), "SHA256");
/// # Ok::<(), mfa_otp::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq, Serialize)]
#[serde(into = "&'static str")]
pub enum Algorithm {
    /// HMAC-SHA-1: the RFC 4226 default, and what every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// Every algorithm.
    pub const ALL: [Algorithm; 3] = [Self::Sha1, Self::Sha256, Self::Sha512];

    /// The Key URI Format name: `SHA1`, `SHA256` or `SHA512`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an [`Algorithm`].
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[error("invalid algorithm: {}", Self::PROBLEM)]
pub struct UnknownAlgorithm;

impl UnknownAlgorithm {
    /// What was wrong, without the `invalid algorithm: ` prefix.
    pub(crate) const PROBLEM: &'static str = "expected SHA1, SHA256 or SHA512";
}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, UnknownAlgorithm> {
        Self::ALL
            .into_iter()
            .find(|a| {
                let name = a.as_str();
                s.eq_ignore_ascii_case(name)
                    || (s.len() == name.len() + 1
                        && s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("sha"))
                        && s.get(3..4) == Some("-")
                        && s.get(4..) == name.get(3..))
            })
            .ok_or(UnknownAlgorithm)
    }
}

impl TryFrom<String> for Algorithm {
    type Error = UnknownAlgorithm;

    fn try_from(s: String) -> Result<Self, UnknownAlgorithm> {
        s.parse()
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    /// As [`FromStr`], from the deserializer's text as it lends it: every stored OTP
    /// record names its algorithm, and a verification reads one, so no `String` is
    /// allocated for it.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Algorithm;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("SHA1, SHA256 or SHA512")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Algorithm, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Name)
    }
}

impl From<Algorithm> for &'static str {
    fn from(a: Algorithm) -> Self {
        a.as_str()
    }
}

/// The number of digits of a code: 6 to 10.
///
/// 6 to 8 are what RFC 4226 §5.3 describes and apps show. 9 is the largest length at
/// which every value can occur (10⁹ < 2³¹). 10 digits is the 31-bit truncated value
/// zero-padded: its first digit is only ever 0, 1 or 2, so it carries 31 bits, not 33.
///
/// ```
/// use mfa_otp::Digits;
///
/// assert_eq!(Digits::new(8)?.get(), 8);
/// assert!(Digits::new(5).is_err());
/// assert!(Digits::new(11).is_err());
/// # Ok::<(), mfa_otp::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Digits(u8);

impl Digits {
    /// Six digits: the default everywhere.
    pub const SIX: Self = Self(6);
    /// Eight digits.
    pub const EIGHT: Self = Self(8);
    /// The fewest digits accepted.
    pub const MIN: u8 = 6;
    /// The most digits accepted.
    pub const MAX: u8 = 10;

    /// `n` digits.
    ///
    /// # Errors
    ///
    /// [`Error::Digits`] unless `6 <= n <= 10`.
    pub const fn new(n: u8) -> Result<Self, Error> {
        if n < Self::MIN || n > Self::MAX {
            return Err(Error::Digits(n as u64));
        }
        Ok(Self(n))
    }

    /// The number of digits.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl Default for Digits {
    fn default() -> Self {
        Self::SIX
    }
}

impl TryFrom<u8> for Digits {
    type Error = Error;

    fn try_from(n: u8) -> Result<Self, Error> {
        Self::new(n)
    }
}

impl From<Digits> for u8 {
    fn from(d: Digits) -> Self {
        d.0
    }
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The TOTP time step `X` of RFC 6238 §4.1, in seconds: at least 1.
///
/// ```
/// use mfa_otp::Period;
///
/// assert_eq!(Period::default().secs(), 30);
/// assert!(Period::new(0).is_err());
/// # Ok::<(), mfa_otp::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Period(NonZeroU64);

impl Period {
    /// 30 seconds: the RFC 6238 default and what every app uses.
    pub const THIRTY_SECONDS: Self = match NonZeroU64::new(30) {
        Some(p) => Self(p),
        None => Self(NonZeroU64::MIN),
    };

    /// A period of `secs` seconds.
    ///
    /// # Errors
    ///
    /// [`Error::Period`] when `secs` is 0.
    pub const fn new(secs: u64) -> Result<Self, Error> {
        match NonZeroU64::new(secs) {
            Some(p) => Ok(Self(p)),
            None => Err(Error::Period),
        }
    }

    /// The period in seconds.
    pub const fn secs(self) -> u64 {
        self.0.get()
    }

    pub(crate) const fn non_zero(self) -> NonZeroU64 {
        self.0
    }
}

impl Default for Period {
    fn default() -> Self {
        Self::THIRTY_SECONDS
    }
}

impl TryFrom<u64> for Period {
    type Error = Error;

    fn try_from(secs: u64) -> Result<Self, Error> {
        Self::new(secs)
    }
}

impl From<Period> for u64 {
    fn from(p: Period) -> Self {
        p.secs()
    }
}
