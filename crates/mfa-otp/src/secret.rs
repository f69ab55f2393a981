//! The shared secret of an HOTP or TOTP enrollment.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::base32;
#[cfg(feature = "std")]
use crate::error::Error;
use crate::error::SecretError;

/// The shared secret of an HOTP or TOTP enrollment (the HMAC key, RFC 4226 §5.1 `K`).
///
/// - At least 128 bits (RFC 4226 §4 "MUST"); [`Secret::generate`] draws 160 bits (the
///   RFC's recommendation) from a [`SecureRandom`](mfa_core::SecureRandom) such as
///   [`OsRandom`](mfa_core::OsRandom). Shorter keys exist in the wild (the Google
///   Authenticator wiki's `JBSWY3DPEHPK3PXP` is 80 bits); accept one only through the
///   `danger_` constructors, for importing legacy enrollments, never for new ones.
/// - Zeroized on drop; `Debug` prints `Secret([redacted])`; no `Display`.
/// - Equality is constant-time in the contents.
/// - serde writes canonical base32 (what an authenticator app shows). Deserialising
///   accepts any non-empty length, since stored records are trusted and may hold a
///   legacy key imported with a `danger_` constructor; encrypt them at rest.
#[derive(Clone, ZeroizeOnDrop)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// The smallest secret accepted by the safe constructors: 16 bytes (128 bits).
    pub const MIN_LEN: usize = 16;
    /// The length [`Secret::generate`] uses: 20 bytes (160 bits, RFC 4226 §4).
    pub const DEFAULT_LEN: usize = 20;

    /// A fresh 20-byte secret from `rng` (use [`mfa_core::OsRandom`] in production).
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    #[cfg(feature = "std")]
    pub fn generate(rng: &mut dyn mfa_core::SecureRandom) -> Result<Self, Error> {
        Self::generate_len(Self::DEFAULT_LEN, rng)
    }

    /// A fresh secret of `len` bytes from `rng`; 32 and 64 bytes match the block-free
    /// key sizes RFC 6238 uses for SHA-256 and SHA-512.
    ///
    /// # Errors
    ///
    /// [`SecretError::TooShort`] when `len` is under 16; [`Error::Random`] when the
    /// random source fails.
    #[cfg(feature = "std")]
    pub fn generate_len(len: usize, rng: &mut dyn mfa_core::SecureRandom) -> Result<Self, Error> {
        check_len(len)?;
        let mut bytes = Zeroizing::new(alloc::vec![0u8; len]);
        rng.fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Wraps raw key bytes of at least 16 bytes. The buffer moves in; no copy is left.
    ///
    /// # Errors
    ///
    /// [`SecretError::TooShort`] when shorter than 128 bits.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(bytes);
        check_len(bytes.len())?;
        Ok(Self(bytes))
    }

    /// Decodes a base32 secret as authenticator apps do (any case, spaces, hyphens,
    /// missing or extra `=`), and requires at least 128 bits.
    ///
    /// ```
    /// use mfa_otp::Secret;
    ///
    /// let a = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
    /// let b = Secret::from_base32("gezd-gnbv gy3t-qojq gezd-gnbv gy3t-qojq==")?;
    /// assert_eq!(a, b);
    /// assert_eq!(a.expose_secret(), b"12345678901234567890");
    /// assert!(Secret::from_base32("JBSWY3DPEHPK3PXP").is_err()); // 80 bits
    /// # Ok::<(), mfa_otp::SecretError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`SecretError`] naming the bad character, a length that encodes no whole
    /// bytes, misplaced padding, an empty input or a key under 128 bits.
    pub fn from_base32(text: &str) -> Result<Self, SecretError> {
        let bytes = base32::decode(text)?;
        check_len(bytes.len())?;
        Ok(Self(bytes))
    }

    /// **Dangerous:** wraps a key of any non-empty length, including keys under 128
    /// bits. Only for importing legacy enrollments that cannot be re-keyed.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] when `bytes` is empty.
    pub fn danger_from_short_bytes(bytes: Vec<u8>) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(bytes);
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self(bytes))
    }

    /// **Dangerous:** decodes a base32 key of any non-empty length, including keys under
    /// 128 bits. Only for importing legacy enrollments that cannot be re-keyed.
    ///
    /// # Errors
    ///
    /// A [`SecretError`] when the text is not base32 or is empty.
    pub fn danger_from_base32_short(text: &str) -> Result<Self, SecretError> {
        Ok(Self(base32::decode(text)?))
    }

    /// The canonical base32 form (upper case, no padding): what a user types into an
    /// authenticator app that cannot scan a QR code. It is the secret: never log it.
    pub fn to_base32(&self) -> Zeroizing<String> {
        base32::encode(&self.0)
    }

    /// The raw key bytes. Keep the borrow short and never log them.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a secret has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn check_len(len: usize) -> Result<(), SecretError> {
    if len < Secret::MIN_LEN {
        return Err(SecretError::TooShort {
            bits: len.saturating_mul(8),
        });
    }
    Ok(())
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl ConstantTimeEq for Secret {
    fn ct_eq(&self, other: &Self) -> Choice {
        // Slices of different lengths compare unequal without reading the contents; the
        // length of a key is not secret.
        self.0.as_slice().ct_eq(other.0.as_slice())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Secret {}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base32())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        Self::danger_from_base32_short(&text).map_err(serde::de::Error::custom)
    }
}
