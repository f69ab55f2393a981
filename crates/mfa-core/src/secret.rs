//! Secret bytes: zeroized on drop, never printed, compared in constant time.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::error::Error;
use crate::random::SecureRandom;

/// Bytes that must stay secret: an OTP shared key, a recovery-code pepper, a
/// remembered-device signing key.
///
/// - The buffer is zeroized when dropped.
/// - `Debug` prints `SecretBytes([redacted])`; there is no `Display`.
/// - Equality is constant-time in the contents (lengths are compared first, and a length
///   mismatch is not treated as secret).
/// - serde writes base64url without padding, for records that must be stored; encrypt
///   them at rest where the store supports it.
///
/// ```
/// use mfa_core::{OsRandom, SecretBytes};
///
/// let key = SecretBytes::generate(20, &mut OsRandom)?;
/// assert_eq!(key.len(), 20);
/// assert_eq!(format!("{key:?}"), "SecretBytes([redacted])");
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[derive(Clone, Default, ZeroizeOnDrop)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps bytes that are already secret. The caller's buffer moves in; no copy is left.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// `len` fresh random bytes from `rng`.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    pub fn generate(len: usize, rng: &mut dyn SecureRandom) -> Result<Self, Error> {
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        rng.fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The secret bytes. Keep the borrow short and never log it.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(bytes: &[u8]) -> Self {
        Self::new(bytes.to_vec())
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes([redacted])")
    }
}

impl ConstantTimeEq for SecretBytes {
    fn ct_eq(&self, other: &Self) -> Choice {
        // `subtle` compares slices of different lengths as unequal without looking at the
        // contents; the length of a secret is not itself secret here.
        self.0.as_slice().ct_eq(other.0.as_slice())
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretBytes {}

impl serde::Serialize for SecretBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let encoded = Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0.as_slice()));
        s.serialize_str(&encoded)
    }
}

impl<'de> serde::Deserialize<'de> for SecretBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let encoded = Zeroizing::new(String::deserialize(d)?);
        URL_SAFE_NO_PAD
            .decode(encoded.as_bytes())
            .map(Self::new)
            .map_err(|_| serde::de::Error::custom("invalid secret: not base64url without padding"))
    }
}

/// Stands in for a secret in a hand-written `Debug`: prints `[redacted]`, so a code,
/// token, nonce or signature never reaches a log through `{:?}`, while the fields
/// around it (ids, times, counts) still do.
///
/// ```
/// use core::fmt;
/// use mfa_core::Redacted;
///
/// struct Login<'a> { user: &'a str, code: &'a str }
///
/// impl fmt::Debug for Login<'_> {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.debug_struct("Login")
///             .field("user", &self.user)
///             .field("code", &Redacted)
///             .finish()
///     }
/// }
///
/// let login = Login { user: "alice", code: "493817" };
/// assert_eq!(format!("{login:?}"), r#"Login { user: "alice", code: [redacted] }"#);
/// ```
#[derive(Clone, Copy, Default, Eq, PartialEq)]
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_prints_only_the_marker() {
        assert_eq!(format!("{Redacted:?}"), "[redacted]");
        assert_eq!(format!("{Redacted:#?}"), "[redacted]");
    }

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::from(b"hunter2".as_slice());
        let dbg = format!("{s:?}");
        assert_eq!(dbg, "SecretBytes([redacted])");
        assert!(!dbg.contains("hunter2"));
        // Also inside a derived Debug of a containing struct.
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Rec {
            key: SecretBytes,
        }
        let rec = format!("{:?}", Rec { key: s });
        assert!(!rec.contains("104"), "{rec}"); // no byte values either
    }

    #[test]
    fn equality_is_by_content_and_length() {
        let a = SecretBytes::from(vec![1, 2, 3]);
        assert_eq!(a, SecretBytes::from(vec![1, 2, 3]));
        assert_ne!(a, SecretBytes::from(vec![1, 2, 4]));
        assert_ne!(a, SecretBytes::from(vec![1, 2]));
        assert_ne!(a, SecretBytes::from(vec![1, 2, 3, 0]));
        assert!(bool::from(a.ct_eq(&SecretBytes::from(vec![1, 2, 3]))));
        assert!(SecretBytes::default().is_empty());
    }

    #[test]
    fn serde_round_trip_is_base64url() {
        let a = SecretBytes::from(vec![0xfb, 0xff, 0x00]);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"-_8A\"");
        let back: SecretBytes = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        let err = serde_json::from_str::<SecretBytes>("\"+/8A\"").unwrap_err();
        assert!(err.to_string().contains("invalid secret"));
    }

    #[test]
    fn generate_draws_fresh_bytes() {
        let a = SecretBytes::generate(32, &mut crate::OsRandom).unwrap();
        let b = SecretBytes::generate(32, &mut crate::OsRandom).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
