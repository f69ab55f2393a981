//! Server keys and their rotation: one [`Keyring`] shape for every key mfa-rs uses.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, InvalidInput};
use crate::random::SecureRandom;
use crate::secret::SecretBytes;

/// The name of one key in a [`Keyring`], stored beside whatever the key protects so that
/// the right key is used to open or check it later: 1 to 64 ASCII letters, digits, `.`,
/// `_` or `-`.
///
/// ```
/// use mfa_core::KeyId;
///
/// let id = KeyId::new("2026-12")?;
/// assert_eq!(id.as_str(), "2026-12");
/// assert!(KeyId::new("no spaces").is_err());
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// Builds a key id.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `id` is empty, longer than 64 bytes, or has a character
    /// other than ASCII letters, digits, `.`, `_` and `-`.
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        check_key_id(&id)?;
        Ok(Self(id))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({:?})", self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        check_key_id(&s).map_err(serde::de::Error::custom)?;
        Ok(Self(s))
    }
}

/// Secret server keys kept **outside the database** (a secrets manager, an environment
/// variable, an HSM-wrapped file): one *current* key that protects everything new, and
/// older keys that still open or check what they protected.
///
/// One shape for every key mfa-rs uses: the service's envelope around stored records
/// (`mfa`'s builder), the recovery-code pepper (`mfa_recovery::RecoveryFactor`), the key
/// that signs remembered-device tokens (`mfa_policy::device::DeviceTokenKey`) and the key
/// that hashes SMS/email/voice codes (`mfa_oob::OobFactor`). Rotation is the same
/// everywhere: add the new key, make it current, and remove the old one once nothing
/// names it any more.
///
/// Keys are at least [`MIN_KEY_LEN`](Keyring::MIN_KEY_LEN) (32) bytes; a user may ask
/// for more (the envelope takes exactly 32, for AES-256). `Debug` names the keys, never
/// their bytes, and the bytes are zeroized when the ring is dropped.
///
/// ```
/// use mfa_core::{KeyId, Keyring, OsRandom};
///
/// let mut keys = Keyring::generate(KeyId::new("k1")?, &mut OsRandom)?;
/// keys.insert(KeyId::new("k2")?, mfa_core::SecretBytes::generate(32, &mut OsRandom)?)?;
/// keys.set_current(&KeyId::new("k2")?)?;
/// assert_eq!(keys.current_id().as_str(), "k2");
/// assert!(keys.get(&KeyId::new("k1")?).is_some()); // still opens what it protected
/// assert!(!format!("{keys:?}").contains("SecretBytes([")); // no bytes in Debug
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Keyring {
    current: KeyId,
    current_key: SecretBytes,
    /// The other keys, never holding `current`.
    others: BTreeMap<KeyId, SecretBytes>,
}

impl Keyring {
    /// The shortest key accepted, in bytes (HMAC-SHA-256's output size; NIST SP 800-63B-4
    /// asks for at least 112 bits).
    pub const MIN_KEY_LEN: usize = 32;

    /// A keyring with one key, which is current.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the key is shorter than [`Keyring::MIN_KEY_LEN`].
    pub fn new(id: KeyId, key: SecretBytes) -> Result<Self, Error> {
        check_key(&key)?;
        Ok(Self {
            current: id,
            current_key: key,
            others: BTreeMap::new(),
        })
    }

    /// A keyring with one fresh random 32-byte key (tests and examples: a real service
    /// loads its keys from a secrets manager, so that they outlive the process).
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    pub fn generate(id: KeyId, rng: &mut dyn SecureRandom) -> Result<Self, Error> {
        Self::new(id, SecretBytes::generate(Self::MIN_KEY_LEN, rng)?)
    }

    /// Adds a key without making it current.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the key is shorter than [`Keyring::MIN_KEY_LEN`] or the
    /// ring already has a key with this id (a key is never silently replaced: what it
    /// protected would stop opening).
    pub fn insert(&mut self, id: KeyId, key: SecretBytes) -> Result<(), Error> {
        check_key(&key)?;
        if self.contains(&id) {
            return Err(InvalidInput::new("key id", "already in the keyring").into());
        }
        self.others.insert(id, key);
        Ok(())
    }

    /// [`insert`](Self::insert), by value, for building a ring in one expression.
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert).
    pub fn with_key(mut self, id: KeyId, key: SecretBytes) -> Result<Self, Error> {
        self.insert(id, key)?;
        Ok(self)
    }

    /// Makes a key already in the ring the current one.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when no key has this id.
    pub fn set_current(&mut self, id: &KeyId) -> Result<(), Error> {
        if *id == self.current {
            return Ok(());
        }
        let key = self
            .others
            .remove(id)
            .ok_or_else(|| InvalidInput::new("key id", "not in the keyring"))?;
        let old_id = core::mem::replace(&mut self.current, id.clone());
        let old_key = core::mem::replace(&mut self.current_key, key);
        self.others.insert(old_id, old_key);
        Ok(())
    }

    /// [`set_current`](Self::set_current), by value.
    ///
    /// # Errors
    ///
    /// As [`set_current`](Self::set_current).
    pub fn with_current(mut self, id: &KeyId) -> Result<Self, Error> {
        self.set_current(id)?;
        Ok(self)
    }

    /// Removes a retired key: what it protected no longer opens or verifies.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `id` is the current key or not in the ring.
    pub fn remove(&mut self, id: &KeyId) -> Result<(), Error> {
        if *id == self.current {
            return Err(InvalidInput::new("key id", "cannot remove the current key").into());
        }
        self.others
            .remove(id)
            .map(drop)
            .ok_or_else(|| InvalidInput::new("key id", "not in the keyring").into())
    }

    /// The id of the current key.
    pub fn current_id(&self) -> &KeyId {
        &self.current
    }

    /// The current key and its id.
    pub fn current(&self) -> (&KeyId, &SecretBytes) {
        (&self.current, &self.current_key)
    }

    /// The key with this id, if the ring has it.
    pub fn get(&self, id: &KeyId) -> Option<&SecretBytes> {
        if *id == self.current {
            Some(&self.current_key)
        } else {
            self.others.get(id)
        }
    }

    /// Whether a key with this id is in the ring.
    pub fn contains(&self, id: &KeyId) -> bool {
        *id == self.current || self.others.contains_key(id)
    }

    /// The ids of every key in the ring, in order.
    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.iter().map(|(id, _)| id)
    }

    /// Every key with its id, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyId, &SecretBytes)> {
        let mut all: Vec<(&KeyId, &SecretBytes)> = self.others.iter().collect();
        let at = all.partition_point(|(id, _)| *id < &self.current);
        all.insert(at, (&self.current, &self.current_key));
        all.into_iter()
    }

    /// How many keys the ring holds (at least one).
    pub fn len(&self) -> usize {
        self.others.len() + 1
    }

    /// Always `false`: a ring holds its current key. (For clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn check_key_id(id: &str) -> Result<(), InvalidInput> {
    if id.is_empty() || id.len() > 64 {
        return Err(InvalidInput::new("key id", "must be 1 to 64 bytes"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(InvalidInput::new(
            "key id",
            "only ASCII letters, digits, '.', '_' and '-' are allowed",
        ));
    }
    Ok(())
}

fn check_key(key: &SecretBytes) -> Result<(), Error> {
    if key.len() < Keyring::MIN_KEY_LEN {
        return Err(InvalidInput::new("key", "must be at least 32 bytes").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::vec;

    use super::*;

    fn key(b: u8) -> SecretBytes {
        SecretBytes::from(vec![b; 32])
    }

    fn id(s: &str) -> KeyId {
        KeyId::new(s).unwrap()
    }

    #[test]
    fn rotation_and_removal() {
        let mut ring = Keyring::new(id("k1"), key(1)).unwrap();
        assert!(ring.set_current(&id("k2")).is_err());
        ring.insert(id("k2"), key(2)).unwrap();
        assert!(
            ring.insert(id("k2"), key(3)).is_err(),
            "a key is never replaced"
        );
        assert_eq!(ring.get(&id("k2")), Some(&key(2)));
        ring.set_current(&id("k2")).unwrap();
        assert_eq!(ring.current(), (&id("k2"), &key(2)));
        assert!(ring.remove(&id("k2")).is_err());
        ring.remove(&id("k1")).unwrap();
        assert!(ring.remove(&id("k1")).is_err());
        assert_eq!(ring.ids().collect::<Vec<_>>(), [&id("k2")]);
        ring.insert(id("a0"), key(4)).unwrap();
        ring.insert(id("z9"), key(5)).unwrap();
        let ids: Vec<&str> = ring.ids().map(KeyId::as_str).collect();
        assert_eq!(ids, ["a0", "k2", "z9"]);
        ring.set_current(&id("z9")).unwrap();
        assert_eq!(ring.current(), (&id("z9"), &key(5)));
        assert_eq!(ring.get(&id("k2")), Some(&key(2)));
        ring.remove(&id("a0")).unwrap();
        assert_eq!(ring.len(), 2);
        let dbg = format!("{ring:?}");
        assert!(dbg.contains("k2") && !dbg.contains("2, 2"), "{dbg}");
    }

    #[test]
    fn short_keys_and_bad_ids_are_refused() {
        assert!(Keyring::new(id("k"), SecretBytes::from(vec![0u8; 31])).is_err());
        assert!(
            Keyring::new(id("k"), key(0))
                .unwrap()
                .with_key(id("j"), SecretBytes::from(vec![0u8; 31]))
                .is_err()
        );
        assert!(KeyId::new("").is_err());
        assert!(KeyId::new("x".repeat(65)).is_err());
        assert!(KeyId::new("a/b").is_err());
        assert!(serde_json::from_str::<KeyId>("\"a b\"").is_err());
        assert_eq!(
            serde_json::from_str::<KeyId>("\"v1.a_b-c\"")
                .unwrap()
                .as_str(),
            "v1.a_b-c"
        );
    }
}
