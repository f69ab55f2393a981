//! Fixed-size byte strings serialised as base64url without padding.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// `N` bytes: a nonce, a tag, an id. Serialised as base64url without padding; a
/// stored value of another length does not deserialise.
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub(crate) struct Bytes<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> Bytes<N> {
    pub(crate) fn decode(s: &str) -> Option<Self> {
        let v = URL_SAFE_NO_PAD.decode(s.as_bytes()).ok()?;
        <[u8; N]>::try_from(v.as_slice()).ok().map(Self)
    }

    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl<const N: usize> fmt::Debug for Bytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl<const N: usize> Serialize for Bytes<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de, const N: usize> Deserialize<'de> for Bytes<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::decode(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("expected {N} bytes in base64url without padding"))
        })
    }
}
