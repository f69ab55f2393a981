//! The shared secret of an HOTP or TOTP enrollment.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use mfa_core::{SecretBytes, SecureRandom};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::base32;
use crate::error::{Error, SecretError};

/// The shared secret of an HOTP or TOTP enrollment (the HMAC key, RFC 4226 §5.1 `K`).
///
/// - At least 128 bits (RFC 4226 §4 "MUST"); [`Secret::generate`] draws 160 bits (the
///   RFC's recommendation) from a [`SecureRandom`](mfa_core::SecureRandom) such as
///   `mfa_core::OsRandom` (feature `std`). Shorter keys exist in the wild (the Google
///   Authenticator wiki's `JBSWY3DPEHPK3PXP` is 80 bits); accept one only through the
///   `danger_` constructors, for importing legacy enrollments, never for new ones.
/// - Held in the facade's [`SecretBytes`]: zeroized on drop; `Debug` prints
///   `Secret([redacted])`; no `Display`. [`Secret::as_secret_bytes`] and
///   `SecretBytes::from(secret)` hand it to code that speaks `mfa-core`;
///   `Secret::try_from(secret_bytes)` checks the 128-bit minimum on the way back.
/// - Equality is constant-time in the contents.
/// - serde writes canonical base32 (what an authenticator app shows). Deserialising
///   accepts any non-empty length, since stored records are trusted and may hold a
///   legacy key imported with a `danger_` constructor; encrypt them at rest.
///
/// It is a type of its own rather than `SecretBytes` itself for what an OTP key needs
/// and `SecretBytes` does not promise: never empty, at least 128 bits unless built
/// through a `danger_` constructor, base32 in and out (stored records and otpauth://
/// URIs hold base32, where `SecretBytes` serialises as base64url).
#[derive(Clone)]
pub struct Secret(SecretBytes);

// The one field is a `SecretBytes`, which zeroizes its buffer when dropped.
impl ZeroizeOnDrop for Secret {}

impl Secret {
    /// The smallest secret accepted by the safe constructors: 16 bytes (128 bits).
    pub const MIN_LEN: usize = 16;
    /// The length [`Secret::generate`] uses: 20 bytes (160 bits, RFC 4226 §4).
    pub const DEFAULT_LEN: usize = 20;

    /// A fresh 20-byte secret from `rng` (use `mfa_core::OsRandom`, feature `std`, in
    /// production).
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    pub fn generate(rng: &mut dyn SecureRandom) -> Result<Self, Error> {
        Self::generate_len(Self::DEFAULT_LEN, rng)
    }

    /// A fresh secret of `len` bytes from `rng`; 32 and 64 bytes match the block-free
    /// key sizes RFC 6238 uses for SHA-256 and SHA-512.
    ///
    /// # Errors
    ///
    /// [`SecretError::TooShort`] when `len` is under 16; [`Error::Random`] when the
    /// random source fails.
    pub fn generate_len(len: usize, rng: &mut dyn SecureRandom) -> Result<Self, Error> {
        check_len(len)?;
        let mut bytes = Zeroizing::new(alloc::vec![0u8; len]);
        rng.fill(&mut bytes)?;
        Ok(Self(into_secret_bytes(bytes)))
    }

    /// Wraps raw key bytes of at least 16 bytes. The buffer moves in; no copy is left.
    ///
    /// # Errors
    ///
    /// [`SecretError::TooShort`] when shorter than 128 bits.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SecretError> {
        SecretBytes::new(bytes).try_into()
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
        let bytes = into_secret_bytes(base32::decode(text)?);
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
        let bytes = SecretBytes::new(bytes);
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
        Ok(Self(into_secret_bytes(base32::decode(text)?)))
    }

    /// The canonical base32 form (upper case, no padding): what a user types into an
    /// authenticator app that cannot scan a QR code. It is the secret: never log it.
    pub fn to_base32(&self) -> Zeroizing<String> {
        base32::encode(self.0.expose_secret())
    }

    /// The raw key bytes. Keep the borrow short and never log them.
    pub fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// The key as the facade's [`SecretBytes`].
    pub fn as_secret_bytes(&self) -> &SecretBytes {
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

/// Moves decoded or generated bytes into a [`SecretBytes`] without copying them: the
/// `Vec` itself moves, and the emptied `Zeroizing` holds nothing.
fn into_secret_bytes(mut bytes: Zeroizing<Vec<u8>>) -> SecretBytes {
    SecretBytes::new(core::mem::take(&mut *bytes))
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
        // `SecretBytes` compares slices of different lengths as unequal without reading
        // the contents; the length of a key is not secret.
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Secret {}

impl From<Secret> for SecretBytes {
    fn from(secret: Secret) -> Self {
        secret.0
    }
}

impl TryFrom<SecretBytes> for Secret {
    type Error = SecretError;

    /// Requires at least 128 bits, as [`Secret::from_bytes`] does.
    fn try_from(bytes: SecretBytes) -> Result<Self, SecretError> {
        check_len(bytes.len())?;
        Ok(Self(bytes))
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base32())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Decoded from the deserializer's own text where it lends it (a JSON string
        // without escapes): no copy of the base32 key to allocate and zeroize.
        d.deserialize_str(Base32Visitor)
    }
}

/// Reads a [`Secret`] from base32 text, borrowed or owned.
struct Base32Visitor;

impl serde::de::Visitor<'_> for Base32Visitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base32 secret")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Secret, E> {
        Secret::danger_from_base32_short(text).map_err(E::custom)
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Secret, E> {
        let text = Zeroizing::new(text);
        self.visit_str(&text)
    }
}
