//! What to generate: mode, code length, hashing.

use mfa_core::InvalidInput;
#[cfg(feature = "argon2")]
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How long codes are and how they are shown.
///
/// Each symbol carries 5 bits, so the length is the entropy asked for divided by 5,
/// rounded up. The default is 120 bits: 24 symbols in six groups of four
/// (`ABCD-EFGH-JKMN-PQRS-TVWX-YZ01`).
///
/// ```
/// use mfa_recovery::CodeFormat;
///
/// let f = CodeFormat::with_entropy_bits(112)?;
/// assert_eq!((f.symbols(), f.entropy_bits()), (23, 115));
/// assert!(CodeFormat::with_entropy_bits(63).is_err());
/// # Ok::<(), mfa_recovery::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct CodeFormat {
    symbols: u8,
    group: u8,
}

impl CodeFormat {
    /// The least entropy a code may have (NIST SP 800-63B rev4 §3.1.2.1: 64 bits).
    pub const MIN_ENTROPY_BITS: u16 = 64;
    /// The most entropy a code may have: 64 symbols.
    pub const MAX_ENTROPY_BITS: u16 = 320;
    /// The least entropy a code stored with the fast keyed hash (HMAC-SHA-256) may have
    /// (NIST SP 800-63B rev4 §3.1.2.1: 112 bits).
    pub const MIN_FAST_HASH_BITS: u16 = 112;

    /// A format with at least `bits` of entropy, in groups of four.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `bits` is below [`CodeFormat::MIN_ENTROPY_BITS`] or
    /// above [`CodeFormat::MAX_ENTROPY_BITS`].
    pub fn with_entropy_bits(bits: u16) -> Result<Self, Error> {
        if !(Self::MIN_ENTROPY_BITS..=Self::MAX_ENTROPY_BITS).contains(&bits) {
            return Err(InvalidInput::new("code entropy", "must be 64 to 320 bits").into());
        }
        let symbols = u8::try_from(bits.div_ceil(5))
            .map_err(|_| InvalidInput::new("code entropy", "must be 64 to 320 bits"))?;
        Ok(Self { symbols, group: 4 })
    }

    /// The same format shown in groups of `group` symbols.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless `group` is 3 to 8.
    pub fn with_group_size(self, group: u8) -> Result<Self, Error> {
        if !(3..=8).contains(&group) {
            return Err(InvalidInput::new("code group size", "must be 3 to 8").into());
        }
        Ok(Self { group, ..self })
    }

    /// Random symbols per code (the entropy divided by 5, rounded up).
    pub fn symbols(&self) -> usize {
        usize::from(self.symbols)
    }

    /// The entropy of a code: 5 bits per random symbol.
    pub fn entropy_bits(&self) -> u16 {
        u16::from(self.symbols) * 5
    }

    /// Symbols per hyphen-separated group.
    pub fn group_size(&self) -> usize {
        usize::from(self.group)
    }
}

impl Default for CodeFormat {
    fn default() -> Self {
        Self {
            symbols: 24,
            group: 4,
        }
    }
}

/// How many codes a user has and how they are used up.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RecoveryMode {
    /// One code at a time (NIST SP 800-63B rev4 §4.2.1.1): using it consumes it and
    /// issues its successor in the same record update; the new code is returned once,
    /// to show to the user.
    Rotating,
    /// A set of single-use codes (GitHub, Kratos): each is consumed on use; generating
    /// again replaces the whole set.
    Set {
        /// How many codes a set has: 1 to [`RecoveryMode::MAX_SET_SIZE`].
        count: usize,
    },
}

impl RecoveryMode {
    /// The largest set accepted.
    pub const MAX_SET_SIZE: usize = 256;

    /// A set of `count` codes.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless `count` is 1 to [`RecoveryMode::MAX_SET_SIZE`].
    pub fn set(count: usize) -> Result<Self, Error> {
        if !(1..=Self::MAX_SET_SIZE).contains(&count) {
            return Err(InvalidInput::new("recovery code count", "must be 1 to 256").into());
        }
        Ok(Self::Set { count })
    }

    pub(crate) fn count(self) -> usize {
        match self {
            Self::Rotating => 1,
            Self::Set { count } => count,
        }
    }
}

impl Default for RecoveryMode {
    /// A set of ten codes.
    fn default() -> Self {
        Self::Set { count: 10 }
    }
}

/// How codes are stored.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum Hashing {
    /// Argon2id, salted per code and keyed with the pepper: for codes of 64 to 111 bits,
    /// which NIST SP 800-63B rev4 §3.1.2.1 requires to be stored with a salted
    /// password hash. Exactly one Argon2id evaluation per verification.
    #[cfg(feature = "argon2")]
    #[cfg_attr(docsrs, doc(cfg(feature = "argon2")))]
    Argon2id(Argon2Params),
    /// HMAC-SHA-256 under the pepper: for codes of 112 bits or more. One HMAC per
    /// verification whatever the number of codes.
    #[default]
    HmacSha256,
}

/// Argon2id cost parameters (RFC 9106 §3.1), stored in each record so that changing the
/// configuration does not break existing records.
///
/// The default is m = 19 MiB, t = 2, p = 1, the OWASP minimum and the RustCrypto
/// `argon2` default: about 36 ms per evaluation on the reference machine. Because each
/// verification costs exactly one evaluation, there is no need to go below it.
#[cfg(feature = "argon2")]
#[cfg_attr(docsrs, doc(cfg(feature = "argon2")))]
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Argon2Params {
    /// Memory in KiB.
    m_kib: u32,
    /// Passes over memory.
    t: u32,
    /// Lanes.
    p: u32,
}

#[cfg(feature = "argon2")]
impl Argon2Params {
    /// Parameters with `m_kib` KiB of memory, `t` passes and `p` lanes.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the `argon2` crate refuses them (m below 8·p KiB,
    /// t or p zero, p above 2²⁴ − 1).
    pub fn new(m_kib: u32, t: u32, p: u32) -> Result<Self, Error> {
        let params = Self { m_kib, t, p };
        params.to_argon2()?;
        Ok(params)
    }

    /// Memory in KiB.
    pub fn m_kib(&self) -> u32 {
        self.m_kib
    }

    /// Passes over memory.
    pub fn t(&self) -> u32 {
        self.t
    }

    /// Lanes.
    pub fn p(&self) -> u32 {
        self.p
    }

    pub(crate) fn to_argon2(self) -> Result<argon2::Params, InvalidInput> {
        argon2::Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| InvalidInput::new("argon2id parameters", e.to_string()))
    }
}

#[cfg(feature = "argon2")]
impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            m_kib: argon2::Params::DEFAULT_M_COST,
            t: argon2::Params::DEFAULT_T_COST,
            p: argon2::Params::DEFAULT_P_COST,
        }
    }
}

/// What [`RecoveryFactor`](crate::RecoveryFactor) generates: mode, format and hashing.
///
/// The default is a set of ten 120-bit codes hashed with HMAC-SHA-256. The pairing is
/// enforced when the factor is built: a code shorter than 112 bits cannot be stored
/// with the fast hash.
///
/// ```
/// use mfa_recovery::{CodeFormat, RecoveryMode, RecoveryConfig};
///
/// let config = RecoveryConfig::default()
///     .with_mode(RecoveryMode::set(16)?)
///     .with_format(CodeFormat::with_entropy_bits(128)?);
/// assert_eq!(config.format().symbols(), 26);
/// # Ok::<(), mfa_recovery::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct RecoveryConfig {
    mode: RecoveryMode,
    format: CodeFormat,
    hashing: Hashing,
}

impl RecoveryConfig {
    /// One rotating code of 120 bits, hashed with HMAC-SHA-256.
    pub fn rotating() -> Self {
        Self {
            mode: RecoveryMode::Rotating,
            ..Self::default()
        }
    }

    /// Short codes (70 bits: 14 random symbols after a 2-symbol index, shown as
    /// `ABCD-EFGH-JKMN-PQRS`) stored with Argon2id under the given parameters.
    #[cfg(feature = "argon2")]
    #[cfg_attr(docsrs, doc(cfg(feature = "argon2")))]
    pub fn short_codes(params: Argon2Params) -> Self {
        Self {
            mode: RecoveryMode::default(),
            format: CodeFormat {
                symbols: 14,
                group: 4,
            },
            hashing: Hashing::Argon2id(params),
        }
    }

    /// The same configuration with another mode.
    pub fn with_mode(self, mode: RecoveryMode) -> Self {
        Self { mode, ..self }
    }

    /// The same configuration with another code format.
    pub fn with_format(self, format: CodeFormat) -> Self {
        Self { format, ..self }
    }

    /// The same configuration with another hashing scheme.
    pub fn with_hashing(self, hashing: Hashing) -> Self {
        Self { hashing, ..self }
    }

    /// The mode.
    pub fn mode(&self) -> RecoveryMode {
        self.mode
    }

    /// The code format.
    pub fn format(&self) -> CodeFormat {
        self.format
    }

    /// The hashing scheme.
    pub fn hashing(&self) -> Hashing {
        self.hashing
    }

    /// Checks the NIST pairing of entropy and hash, and the mode's count.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let RecoveryMode::Set { count } = self.mode {
            RecoveryMode::set(count)?;
        }
        match self.hashing {
            Hashing::HmacSha256 => {
                if self.format.entropy_bits() < CodeFormat::MIN_FAST_HASH_BITS {
                    return Err(InvalidInput::new(
                        "recovery configuration",
                        "codes below 112 bits must be stored with Argon2id, not HMAC-SHA-256",
                    )
                    .into());
                }
            }
            #[cfg(feature = "argon2")]
            Hashing::Argon2id(params) => {
                params.to_argon2()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_to_symbols() {
        for (bits, symbols) in [
            (64, 13),
            (65, 13),
            (66, 14),
            (112, 23),
            (120, 24),
            (320, 64),
        ] {
            let f = CodeFormat::with_entropy_bits(bits).unwrap();
            assert_eq!(f.symbols(), symbols, "{bits}");
            assert!(f.entropy_bits() >= bits);
        }
        assert!(CodeFormat::with_entropy_bits(321).is_err());
        assert_eq!(CodeFormat::default().entropy_bits(), 120);
    }

    #[test]
    fn fast_hash_needs_112_bits() {
        // 110 bits is 22 symbols, 110 bits: too short for the fast hash.
        let short = CodeFormat::with_entropy_bits(110).unwrap();
        let e = RecoveryConfig::default()
            .with_format(short)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("112 bits"), "{e}");
        // Asking for 111 bits rounds up to 23 symbols, 115 bits: the real entropy counts.
        for bits in [111, 112] {
            let ok = CodeFormat::with_entropy_bits(bits).unwrap();
            assert!(RecoveryConfig::default().with_format(ok).validate().is_ok());
        }
    }

    #[test]
    fn set_sizes() {
        assert!(RecoveryMode::set(0).is_err());
        assert!(RecoveryMode::set(257).is_err());
        assert_eq!(RecoveryMode::set(256).unwrap().count(), 256);
        let bad = RecoveryConfig::default().with_mode(RecoveryMode::Set { count: 0 });
        assert!(bad.validate().is_err());
    }
}
