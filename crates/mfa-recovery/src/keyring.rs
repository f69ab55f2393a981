//! The server-side key (pepper) and its rotation.

use std::collections::BTreeMap;
use std::fmt;

use mfa_core::{InvalidInput, SecretBytes};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The name of one pepper key, stored in each record so that verification uses the key
/// the record was hashed with: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
///
/// ```
/// use mfa_recovery::KeyId;
///
/// let id = KeyId::new("2025-06")?;
/// assert_eq!(id.as_str(), "2025-06");
/// assert!(KeyId::new("no spaces").is_err());
/// # Ok::<(), mfa_recovery::Error>(())
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

/// The pepper keys: secret keys kept **outside the database** (a secrets manager, an
/// environment variable, an HSM-wrapped file) under which every code is hashed.
///
/// New records are hashed under the [current](Keyring::current_id) key. A record names
/// the key it was hashed with, and verification uses that key, so rotation is: add the
/// new key, make it current, and keep the old one until no record names it
/// ([`RecoveryFactor::needs_rehash`](crate::RecoveryFactor::needs_rehash) tells which do).
/// A rotating code moves to the current key on its next use; a set of codes can only
/// move when it is regenerated, because its other codes are stored only as hashes.
///
/// Keys must be at least 32 bytes (the HMAC-SHA-256 block security level; NIST SP
/// 800-63B rev4 §3.1.1.2 asks for at least 112 bits). `Debug` names the keys, never
/// their bytes.
///
/// ```
/// use mfa_core::{OsRandom, SecretBytes};
/// use mfa_recovery::{KeyId, Keyring};
///
/// let old = SecretBytes::generate(32, &mut OsRandom)?;
/// let new = SecretBytes::generate(32, &mut OsRandom)?;
/// let mut keys = Keyring::new(KeyId::new("k1")?, old)?;
/// keys.insert(KeyId::new("k2")?, new)?;
/// keys.set_current(&KeyId::new("k2")?)?;
/// assert_eq!(keys.current_id().as_str(), "k2");
/// assert!(keys.contains(&KeyId::new("k1")?)); // still verifies old records
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Keyring {
    current: KeyId,
    keys: BTreeMap<KeyId, SecretBytes>,
}

impl Keyring {
    /// The shortest key accepted, in bytes.
    pub const MIN_KEY_LEN: usize = 32;

    /// A keyring with one key, which is current.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the key is shorter than [`Keyring::MIN_KEY_LEN`].
    pub fn new(id: KeyId, key: SecretBytes) -> Result<Self, Error> {
        check_key(&key)?;
        let mut keys = BTreeMap::new();
        keys.insert(id.clone(), key);
        Ok(Self { current: id, keys })
    }

    /// Adds (or replaces) a key without making it current.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the key is shorter than [`Keyring::MIN_KEY_LEN`].
    pub fn insert(&mut self, id: KeyId, key: SecretBytes) -> Result<(), Error> {
        check_key(&key)?;
        self.keys.insert(id, key);
        Ok(())
    }

    /// Makes a key already in the ring the one new records are hashed under.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKey`] when no key has this id.
    pub fn set_current(&mut self, id: &KeyId) -> Result<(), Error> {
        if !self.keys.contains_key(id) {
            return Err(Error::UnknownKey(id.clone()));
        }
        self.current = id.clone();
        Ok(())
    }

    /// Removes a retired key. Records that name it no longer verify.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `id` is the current key, [`Error::UnknownKey`] when no
    /// key has this id.
    pub fn remove(&mut self, id: &KeyId) -> Result<(), Error> {
        if *id == self.current {
            return Err(InvalidInput::new("pepper key", "cannot remove the current key").into());
        }
        self.keys
            .remove(id)
            .map(drop)
            .ok_or_else(|| Error::UnknownKey(id.clone()))
    }

    /// The id of the key new records are hashed under.
    pub fn current_id(&self) -> &KeyId {
        &self.current
    }

    /// Whether a key with this id is in the ring.
    pub fn contains(&self, id: &KeyId) -> bool {
        self.keys.contains_key(id)
    }

    /// The ids of every key in the ring, in order.
    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.keys()
    }

    pub(crate) fn current(&self) -> Result<(&KeyId, &SecretBytes), Error> {
        Ok((&self.current, self.key(&self.current)?))
    }

    pub(crate) fn key(&self, id: &KeyId) -> Result<&SecretBytes, Error> {
        self.keys
            .get(id)
            .ok_or_else(|| Error::UnknownKey(id.clone()))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
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
        return Err(InvalidInput::new("pepper key", "must be at least 32 bytes").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SecretBytes {
        SecretBytes::from(vec![b; 32])
    }

    #[test]
    fn rotation_and_removal() {
        let k1 = KeyId::new("k1").unwrap();
        let k2 = KeyId::new("k2").unwrap();
        let mut ring = Keyring::new(k1.clone(), key(1)).unwrap();
        assert!(matches!(ring.set_current(&k2), Err(Error::UnknownKey(_))));
        ring.insert(k2.clone(), key(2)).unwrap();
        ring.set_current(&k2).unwrap();
        assert!(ring.remove(&k2).is_err());
        ring.remove(&k1).unwrap();
        assert!(matches!(ring.remove(&k1), Err(Error::UnknownKey(_))));
        assert_eq!(ring.ids().collect::<Vec<_>>(), [&k2]);
        let dbg = format!("{ring:?}");
        assert!(dbg.contains("k2") && !dbg.contains("2, 2"), "{dbg}");
    }

    #[test]
    fn short_keys_and_bad_ids_are_refused() {
        let id = KeyId::new("k").unwrap();
        assert!(Keyring::new(id, SecretBytes::from(vec![0u8; 31])).is_err());
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
