//! How the service turns a factor's record or a challenge's state into the bytes a store
//! keeps, and back.

#[cfg(feature = "std")]
use alloc::format;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::id::{FactorId, UserId};
use crate::store::{ChallengeId, ChallengeOwner, RecordData};

/// The row a [`RecordData`] belongs to. An encrypting codec binds it as associated data,
/// so bytes copied from one row to another do not decrypt.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum DataOwner<'a> {
    /// A factor's record.
    Factor {
        /// Its user.
        user: &'a UserId,
        /// Its id.
        id: &'a FactorId,
    },
    /// A pending challenge's state.
    Challenge {
        /// Its owner.
        owner: &'a ChallengeOwner,
        /// Its id.
        id: &'a ChallengeId,
    },
}

/// Serialises records into [`RecordData`] and back: the one place that decides the
/// stored format and, in the service, seals it (AES-256-GCM, a key id, the owning row as
/// associated data). Backends never see anything but the resulting bytes.
///
/// [`JsonCodec`] (feature `std`) is the unencrypted one. A codec must refuse data in a
/// format or under a key it does not know rather than guess.
pub trait RecordCodec: Send + Sync {
    /// Encodes `value`, stored for `owner`.
    ///
    /// # Errors
    ///
    /// When the value cannot be serialised or sealed.
    fn encode<T: Serialize + ?Sized>(
        &self,
        owner: DataOwner<'_>,
        value: &T,
    ) -> Result<RecordData, Error>;

    /// Decodes what [`encode`](Self::encode) produced for the same `owner`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] with [`StoreError::Corrupt`](crate::store::StoreError::Corrupt)
    /// when the data is in an unknown format, sealed by an unknown key, bound to another
    /// owner, or does not deserialise.
    fn decode<T: DeserializeOwned>(
        &self,
        owner: DataOwner<'_>,
        data: &RecordData,
    ) -> Result<T, Error>;
}

/// Plain JSON ([`RecordData::PLAIN`], no key): for tests, examples, and stores whose
/// disk is encrypted by other means. Refuses anything sealed.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonCodec;

#[cfg(feature = "std")]
impl RecordCodec for JsonCodec {
    fn encode<T: Serialize + ?Sized>(
        &self,
        _owner: DataOwner<'_>,
        value: &T,
    ) -> Result<RecordData, Error> {
        serde_json::to_vec(value)
            .map(RecordData::plain)
            .map_err(|e| Error::invalid("record", format!("cannot be serialised: {e}")))
    }

    fn decode<T: DeserializeOwned>(
        &self,
        _owner: DataOwner<'_>,
        data: &RecordData,
    ) -> Result<T, Error> {
        if data.format() != RecordData::PLAIN || data.key_id().is_some() {
            return Err(corrupt(format_args!(
                "format {} with key {:?} is not plain JSON",
                data.format(),
                data.key_id()
            )));
        }
        serde_json::from_slice(data.expose_bytes())
            // Only the category and position: serde_json's message can quote the
            // offending value, which may be a secret.
            .map_err(|e| {
                corrupt(format_args!(
                    "record does not decode ({:?} error at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ))
            })
    }
}

#[cfg(feature = "std")]
fn corrupt(what: core::fmt::Arguments<'_>) -> Error {
    Error::Store(crate::store::StoreError::Corrupt(format!("{what}")))
}
