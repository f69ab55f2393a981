//! What the store keeps: hashes only, never a code.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_core::{InvalidInput, Redacted};
use serde::{Deserialize, Serialize};
use subtle::{Choice, ConstantTimeEq};

#[cfg(feature = "argon2")]
use crate::config::Argon2Params;
use crate::config::{CodeFormat, RecoveryMode};
use mfa_core::KeyId;

/// The stored form of a user's recovery codes: hashes, never codes.
///
/// Serialised with serde (JSON shown below); parsing checks every invariant, so a
/// record that deserialises is one the verifier can use: in particular a record of
/// codes below 112 bits that claims the fast hash is refused (NIST SP 800-63B rev4
/// §3.1.2.1), and a rotating record holds exactly one hash.
///
/// ```json
/// {"v":1,"mode":"set","key_id":"k1","symbols":24,"nonce":"…",
///  "hashes":{"alg":"hmac_sha256","tags":["…","…"]}}
/// ```
///
/// Store it with a compare-and-swap on its version: verification returns the updated
/// record, and only the writer that wins the swap may treat the code as accepted.
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "RecordData", into = "RecordData")]
pub struct RecoveryRecord(RecordData);

impl RecoveryRecord {
    /// Whether the record is a set of single-use codes or one rotating code.
    pub fn mode(&self) -> RecordMode {
        self.0.mode
    }

    /// How many unused codes remain.
    pub fn remaining(&self) -> usize {
        match &self.0.hashes {
            Hashes::HmacSha256 { tags } => tags.len(),
            #[cfg(feature = "argon2")]
            Hashes::Argon2id { entries, .. } => entries.len(),
        }
    }

    /// Whether every code of a set has been used: the user must generate a new set.
    pub fn is_exhausted(&self) -> bool {
        self.remaining() == 0
    }

    /// The pepper key the codes were hashed with.
    pub fn key_id(&self) -> &KeyId {
        &self.0.key_id
    }

    /// The entropy of each code, in bits (5 per random symbol).
    pub fn entropy_bits(&self) -> u16 {
        u16::from(self.0.symbols) * 5
    }

    /// Symbols a typed code must have, index included.
    pub(crate) fn code_len(&self) -> usize {
        usize::from(self.0.symbols) + self.index_len()
    }

    pub(crate) fn index_len(&self) -> usize {
        match self.0.hashes {
            Hashes::HmacSha256 { .. } => 0,
            #[cfg(feature = "argon2")]
            Hashes::Argon2id { .. } => INDEX_LEN,
        }
    }

    pub(crate) fn nonce(&self) -> &[u8; NONCE_LEN] {
        &self.0.nonce.0
    }

    pub(crate) fn hashes(&self) -> &Hashes {
        &self.0.hashes
    }

    /// The same record holding `hashes`, which must be this record's hashes with one
    /// code removed: that keeps every invariant (tags stay sorted and unique, indexes
    /// unique, the count only falls), so there is nothing to re-check on this hot path.
    pub(crate) fn consumed(&self, hashes: Hashes) -> Self {
        Self(RecordData {
            v: self.0.v,
            mode: self.0.mode,
            key_id: self.0.key_id.clone(),
            symbols: self.0.symbols,
            nonce: self.0.nonce,
            hashes,
        })
    }

    /// Builds a record from parts the crate generated; checks the invariants anyway.
    pub(crate) fn from_data(data: RecordData) -> Result<Self, InvalidInput> {
        Self::try_from(data)
    }
}

/// The mode a record was generated in.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordMode {
    /// One code; using it issues the next.
    Rotating,
    /// A set of single-use codes.
    Set,
}

impl From<RecoveryMode> for RecordMode {
    fn from(m: RecoveryMode) -> Self {
        match m {
            RecoveryMode::Rotating => Self::Rotating,
            RecoveryMode::Set { .. } => Self::Set,
        }
    }
}

/// The serialised fields, checked on the way in.
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordData {
    /// Format version of the record.
    pub(crate) v: u8,
    pub(crate) mode: RecordMode,
    pub(crate) key_id: KeyId,
    /// Random symbols per code (the index of the Argon2id scheme not included).
    pub(crate) symbols: u8,
    /// Random per record: binds every hash to this one set, so a regenerated set (new
    /// nonce) never accepts an old code, and equal codes of two users hash differently.
    pub(crate) nonce: Bytes<NONCE_LEN>,
    pub(crate) hashes: Hashes,
}

/// The hashes of the unused codes, by scheme.
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(tag = "alg", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Hashes {
    /// One Argon2id hash per code, found by the code's public index.
    #[cfg(feature = "argon2")]
    Argon2id {
        params: Argon2Params,
        entries: Vec<Argon2Entry>,
    },
    /// HMAC-SHA-256 tags, sorted ascending so a tag is found by binary search.
    HmacSha256 { tags: Vec<Bytes<TAG_LEN>> },
}

/// One code of the Argon2id scheme.
#[cfg(feature = "argon2")]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Argon2Entry {
    /// The code's first [`INDEX_LEN`] symbols: public, unique within the set; they pick
    /// the one entry to hash against and are not counted as entropy.
    pub(crate) index: String,
    pub(crate) salt: Bytes<SALT_LEN>,
    pub(crate) hash: Bytes<TAG_LEN>,
}

impl TryFrom<RecordData> for RecoveryRecord {
    type Error = InvalidInput;

    fn try_from(d: RecordData) -> Result<Self, InvalidInput> {
        let bad = |problem: &'static str| InvalidInput::new("recovery record", problem);
        if d.v != RECORD_VERSION {
            return Err(bad("unsupported version"));
        }
        let bits = u16::from(d.symbols) * 5;
        if !(CodeFormat::MIN_ENTROPY_BITS..=CodeFormat::MAX_ENTROPY_BITS).contains(&bits) {
            return Err(bad("code length out of range"));
        }
        let count = match &d.hashes {
            Hashes::HmacSha256 { tags } => {
                if bits < CodeFormat::MIN_FAST_HASH_BITS {
                    return Err(bad(
                        "codes below 112 bits cannot be stored with HMAC-SHA-256",
                    ));
                }
                if !tags.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)) {
                    return Err(bad("tags are not sorted and unique"));
                }
                tags.len()
            }
            #[cfg(feature = "argon2")]
            Hashes::Argon2id { params, entries } => {
                params.to_argon2()?;
                let mut seen = std::collections::BTreeSet::new();
                for e in entries {
                    let valid = e.index.len() == INDEX_LEN
                        && e.index.bytes().all(|b| crate::code::ALPHABET.contains(&b));
                    if !valid || !seen.insert(e.index.as_str()) {
                        return Err(bad("entry indexes are not unique alphabet symbols"));
                    }
                }
                entries.len()
            }
        };
        if count > RecoveryMode::MAX_SET_SIZE {
            return Err(bad("too many codes"));
        }
        if d.mode == RecordMode::Rotating && count != 1 {
            return Err(bad("a rotating record holds exactly one code"));
        }
        Ok(Self(d))
    }
}

impl From<RecoveryRecord> for RecordData {
    fn from(r: RecoveryRecord) -> Self {
        r.0
    }
}

/// Fixed-size bytes, serialised as base64url without padding. Not secret (keyed or salted
/// hashes, salts, nonces), but compared in constant time all the same.
#[derive(Clone, Copy, Eq, Ord, PartialOrd)]
pub(crate) struct Bytes<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> ConstantTimeEq for Bytes<N> {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl<const N: usize> PartialEq for Bytes<N> {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

/// `[redacted]`: these are the codes' hashes, salts and tags and the record's nonce, so a
/// logged record (`RecoveryRecord`, `IssuedCodes`, through their derived `Debug`) gives
/// nothing to guess codes against offline.
impl<const N: usize> fmt::Debug for Bytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Redacted.fmt(f)
    }
}

impl<const N: usize> Serialize for Bytes<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl<'de, const N: usize> Deserialize<'de> for Bytes<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let v = URL_SAFE_NO_PAD
            .decode(s.as_bytes())
            .map_err(|_| serde::de::Error::custom("not base64url without padding"))?;
        <[u8; N]>::try_from(v.as_slice())
            .map(Self)
            .map_err(|_| serde::de::Error::custom(format!("expected {N} bytes")))
    }
}

/// Bytes of a record's nonce.
pub(crate) const NONCE_LEN: usize = 16;
/// Bytes of an HMAC-SHA-256 tag or an Argon2id hash.
pub(crate) const TAG_LEN: usize = 32;
/// Bytes of an Argon2id salt (RFC 9106 §3.1 recommends 16).
#[cfg(feature = "argon2")]
pub(crate) const SALT_LEN: usize = 16;
/// Symbols of the public index that leads an Argon2id-scheme code (10 bits: 1024
/// indexes for at most 256 codes).
#[cfg(feature = "argon2")]
pub(crate) const INDEX_LEN: usize = 2;
/// The record format version written and accepted.
pub(crate) const RECORD_VERSION: u8 = 1;
