//! Secrets at rest: an AES-256-GCM envelope around every stored record.
//!
//! Every factor record and challenge state the service writes is serialised to JSON and
//! sealed with AES-256-GCM under the current key of the service's [`Keyring`], with a fresh 96-bit nonce
//! per write. The stored [`RecordData`] carries the envelope's format number
//! ([`FORMAT_AES256GCM_V1`]) and the key id; its bytes are `nonce || ciphertext || tag`.
//!
//! The associated data binds the ciphertext to its row: the owner (user and factor id,
//! or the challenge's owner and id), the factor kind (or the challenge's purpose) and the
//! key id. A ciphertext copied to another user's row, another factor id, a row of another
//! kind, or relabelled with another key id does not decrypt, and decoding fails with the
//! typed [`StoreError::Corrupt`] (through [`mfa_core::Error::Store`]): never a panic,
//! never an accepted code.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use mfa_core::store::{ChallengeOwner, RecordData, StoreError};
use mfa_core::{DataOwner, Error, InvalidInput, Keyring, RecordCodec, SecretBytes};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

/// The envelope's format number in [`RecordData::format`]: AES-256-GCM, 12-byte nonce
/// first, 16-byte tag last, JSON inside.
pub const FORMAT_AES256GCM_V1: u16 = 1;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const AD_LABEL: &[u8] = b"mfa-rs envelope v1";

/// One data-encryption key and its id.
struct DataKey {
    cipher: Aes256Gcm,
    // Kept so the key can be zeroized with the set; the cipher holds its own schedule
    // (zeroized on drop by aes-gcm's `zeroize` feature).
    _bytes: Zeroizing<[u8; 32]>,
}

/// The keys that seal stored records, ready for AES-256-GCM: built once from the
/// service's [`Keyring`], whose current key seals every write and whose older keys still
/// open what they sealed until [`Admin::rekey_user`] has moved it.
///
/// [`Admin::rekey_user`]: crate::Admin::rekey_user
pub(crate) struct KeySet {
    active: String,
    keys: BTreeMap<String, DataKey>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("active", &self.active)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn data_key(key: &SecretBytes) -> Result<DataKey, InvalidInput> {
    let bytes: [u8; 32] = key
        .expose_secret()
        .try_into()
        .map_err(|_| InvalidInput::new("envelope key", "must be exactly 32 bytes (AES-256)"))?;
    let bytes = Zeroizing::new(bytes);
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*bytes));
    Ok(DataKey {
        cipher,
        _bytes: bytes,
    })
}

impl KeySet {
    /// The ciphers of every key in `keys`; its current key seals.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] for a key that is not exactly 32 bytes (AES-256).
    pub(crate) fn new(keys: &Keyring) -> Result<Self, InvalidInput> {
        let mut ciphers = BTreeMap::new();
        for (id, key) in keys.iter() {
            ciphers.insert(id.as_str().to_owned(), data_key(key)?);
        }
        Ok(Self {
            active: keys.current_id().as_str().to_owned(),
            keys: ciphers,
        })
    }

    /// Whether `data` is sealed under the active key (else [`Admin::rekey_user`]
    /// re-seals it).
    ///
    /// [`Admin::rekey_user`]: crate::Admin::rekey_user
    pub(crate) fn is_current(&self, data: &RecordData) -> bool {
        data.format() == FORMAT_AES256GCM_V1 && data.key_id() == Some(self.active.as_str())
    }
}

/// What an envelope is bound to besides its row: the factor's kind, or what a
/// challenge state is for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Binding<'a> {
    /// A factor record of this kind (`FactorKind::as_str`, attachment dropped).
    Kind(&'a str),
    /// A challenge state for this purpose.
    Purpose(&'a str),
}

/// A [`RecordCodec`] that seals with a [`KeySet`] and binds one [`Binding`] on top of
/// the [`DataOwner`]. The service makes one per row it touches.
pub(crate) struct Sealer<'a> {
    pub(crate) keys: &'a KeySet,
    pub(crate) binding: Binding<'a>,
    pub(crate) rng: &'a crate::random::SharedRandom,
}

fn push_field(ad: &mut Vec<u8>, field: &[u8]) {
    // Length-prefixed, so no two different tuples share an encoding.
    let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
    ad.extend_from_slice(&len.to_be_bytes());
    ad.extend_from_slice(field);
}

fn associated_data(owner: DataOwner<'_>, binding: Binding<'_>, key_id: &str) -> Vec<u8> {
    let mut ad = Vec::with_capacity(128);
    push_field(&mut ad, AD_LABEL);
    match owner {
        DataOwner::Factor { user, id } => {
            push_field(&mut ad, b"factor");
            push_field(&mut ad, user.as_str().as_bytes());
            push_field(&mut ad, id.as_str().as_bytes());
        }
        DataOwner::Challenge { owner, id } => {
            push_field(&mut ad, b"challenge");
            match owner {
                ChallengeOwner::User(u) => {
                    push_field(&mut ad, b"user");
                    push_field(&mut ad, u.as_str().as_bytes());
                }
                // `ChallengeOwner` is non-exhaustive: anything else is bound as
                // "usernameless" plus its debug form, never to nothing.
                other => {
                    push_field(&mut ad, b"other");
                    push_field(&mut ad, format!("{other:?}").as_bytes());
                }
            }
            push_field(&mut ad, id.as_str().as_bytes());
        }
        other => {
            push_field(&mut ad, b"other");
            push_field(&mut ad, format!("{other:?}").as_bytes());
        }
    }
    match binding {
        Binding::Kind(k) => {
            push_field(&mut ad, b"kind");
            push_field(&mut ad, k.as_bytes());
        }
        Binding::Purpose(p) => {
            push_field(&mut ad, b"purpose");
            push_field(&mut ad, p.as_bytes());
        }
    }
    push_field(&mut ad, key_id.as_bytes());
    ad
}

/// Bytes of plaintext a seal makes room for at first (a TOTP record is about 120).
const SEAL_CAPACITY: usize = 256;

/// The buffer a record is serialised into before it is sealed in place. Growing it
/// copies into a larger buffer and zeroizes the old one before it is freed, so no
/// plaintext stays behind in freed memory (a `Vec` growing by itself would leave it).
struct PlainBuffer(Zeroizing<Vec<u8>>);

impl PlainBuffer {
    fn with_capacity(capacity: usize) -> Self {
        Self(Zeroizing::new(Vec::with_capacity(capacity)))
    }

    /// Moves the contents to a buffer with room for `more` bytes, zeroizing the old one.
    #[cold]
    fn grow(&mut self, more: usize) {
        let needed = self.0.len().saturating_add(more);
        let mut bigger = Vec::with_capacity(needed.max(self.0.capacity().saturating_mul(2)));
        bigger.extend_from_slice(&self.0);
        // `Zeroizing` zeroizes the whole old allocation as it is replaced.
        self.0 = Zeroizing::new(bigger);
    }
}

impl std::io::Write for PlainBuffer {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    // serde_json writes every token with `write_all`: inlined, a constant-length token
    // is a store, as it is into a `Vec`.
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.0.capacity() - self.0.len() < buf.len() {
            self.grow(buf.len());
        }
        self.0.extend_from_slice(buf);
        Ok(())
    }

    #[inline]
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn corrupt(what: &str) -> Error {
    Error::Store(StoreError::Corrupt(what.to_owned()))
}

impl RecordCodec for Sealer<'_> {
    fn encode<T: Serialize + ?Sized>(
        &self,
        owner: DataOwner<'_>,
        value: &T,
    ) -> Result<RecordData, Error> {
        let key_id = self.keys.active.as_str();
        let key = self
            .keys
            .keys
            .get(key_id)
            .ok_or_else(|| corrupt("the active key is missing from the key set"))?;
        let nonce: [u8; NONCE_LEN] = self.rng.fill_nonce()?;
        // The record is serialised straight into the envelope, after the nonce, and
        // encrypted where it lies: one buffer, which never leaves plaintext behind
        // (it zeroizes what it outgrows, and itself on an error).
        let mut out = PlainBuffer::with_capacity(NONCE_LEN + SEAL_CAPACITY + TAG_LEN);
        out.0.extend_from_slice(&nonce);
        serde_json::to_writer(&mut out, value)
            .map_err(|_| Error::invalid("record", "cannot be serialised"))?;
        let ad = associated_data(owner, self.binding, key_id);
        let body = out.0.get_mut(NONCE_LEN..).unwrap_or_default();
        let tag = key
            .cipher
            .encrypt_inout_detached(&Nonce::from(nonce), &ad, body.into())
            .map_err(|_| corrupt("encryption failed"))?;
        // Ciphertext from here on: taken out of the zeroizing wrapper as it is.
        let mut sealed = core::mem::take(&mut *out.0);
        sealed.extend_from_slice(&tag);
        Ok(RecordData::sealed(
            FORMAT_AES256GCM_V1,
            Some(key_id.to_owned()),
            sealed,
        ))
    }

    fn decode<T: DeserializeOwned>(
        &self,
        owner: DataOwner<'_>,
        data: &RecordData,
    ) -> Result<T, Error> {
        if data.format() != FORMAT_AES256GCM_V1 {
            return Err(corrupt("not an AES-256-GCM envelope (format)"));
        }
        let key_id = data
            .key_id()
            .ok_or_else(|| corrupt("envelope without a key id"))?;
        let key = self
            .keys
            .keys
            .get(key_id)
            .ok_or_else(|| corrupt("envelope sealed by a key not in the key set"))?;
        let bytes = data.expose_bytes();
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(corrupt("envelope too short"));
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| corrupt("envelope too short"))?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| corrupt("envelope too short"))?;
        let ad = associated_data(owner, self.binding, key_id);
        let mut plain = Zeroizing::new(body.to_vec());
        key.cipher
            .decrypt_inout_detached(
                &Nonce::from(nonce),
                &ad,
                plain.as_mut_slice().into(),
                &tag.into(),
            )
            .map_err(|_| corrupt("envelope does not open: tampered, or moved from another row"))?;
        serde_json::from_slice(&plain).map_err(|_| corrupt("sealed record does not decode"))
    }
}
