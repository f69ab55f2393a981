//! Injected randomness.

use rand::TryCryptoRng;
#[cfg(feature = "std")]
use rand::TryRng;

/// The operating system's random source failed.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("random source failed")]
pub struct RandomError;

/// A cryptographically secure source of random bytes.
///
/// Factor crates take `&mut dyn SecureRandom` wherever they need randomness (a new TOTP
/// secret, a WebAuthn challenge, the next recovery code), so tests can inject a seeded
/// source and production uses [`OsRandom`]. Every [`rand`] generator that implements
/// `TryCryptoRng` is a `SecureRandom`.
pub trait SecureRandom {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    ///
    /// [`RandomError`] when the source cannot produce bytes; `dest` must then not be used.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError>;
}

impl<R: TryCryptoRng + ?Sized> SecureRandom for R {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        self.try_fill_bytes(dest).map_err(|_| RandomError)
    }
}

/// The operating system's random source (`getrandom`): the one to use in production
/// (feature `std`).
///
/// ```
/// use mfa_core::{OsRandom, SecureRandom};
///
/// let mut challenge = [0u8; 32];
/// OsRandom.fill(&mut challenge)?;
/// # Ok::<(), mfa_core::RandomError>(())
/// ```
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

#[cfg(feature = "std")]
impl TryRng for OsRandom {
    type Error = RandomError;

    fn try_next_u32(&mut self) -> Result<u32, RandomError> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, RandomError> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        rand::rngs::SysRng
            .try_fill_bytes(dest)
            .map_err(|_| RandomError)
    }
}

#[cfg(feature = "std")]
impl TryCryptoRng for OsRandom {}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn os_random_fills_distinct_buffers() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        OsRandom.fill(&mut a).unwrap();
        OsRandom.fill(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }

    #[test]
    fn works_through_a_trait_object() {
        let rng: &mut dyn SecureRandom = &mut OsRandom;
        let mut buf = [0u8; 16];
        rng.fill(&mut buf).unwrap();
        assert_ne!(buf, [0u8; 16]);
    }
}
