//! A signed head of the audit chain, so that a removed tail shows.
//!
//! A chain verifies from its first entry to its last, so deleting the newest entries
//! leaves a valid, shorter chain. Publish a head now and then (to a log, a ticket, a
//! transparency service): an ES256 JWS over the last entry's `seq` and `hash`, signed
//! with the [`EventSigner`]'s key. Later, `mfa_store::journal::verify_against_head`
//! with the head's values reports [`Truncated`](mfa_store::journal::ChainBreak::Truncated)
//! when that entry is gone.

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use mfa_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::EventSigner;
use crate::error::{Error, Result};

/// The JWS `typ` of a signed head.
const TYP: &str = "mfa-audit-head+jwt";

/// The claims of a signed head.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct AuditHead {
    /// The signer's issuer.
    pub iss: String,
    /// When it was signed (Unix seconds).
    pub iat: u64,
    /// The last entry's sequence number.
    pub seq: u64,
    /// The last entry's hash.
    pub hash: String,
}

impl EventSigner {
    /// Signs the head `(seq, hash)` of an audit chain at `now`.
    ///
    /// # Errors
    ///
    /// [`Error::Events`] when signing fails.
    pub fn sign_audit_head(&self, seq: u64, hash: &str, now: Timestamp) -> Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(TYP.to_owned());
        header.kid.clone_from(&self.key_id);
        let claims = AuditHead {
            iss: self.issuer.clone(),
            iat: now.unix_secs(),
            seq,
            hash: hash.to_owned(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| Error::Events(e.to_string()))
    }
}

/// Checks a signed head against the signer's public key (PEM) and returns its claims.
///
/// # Errors
///
/// [`Error::Events`] for a key that does not parse, a bad signature, another
/// algorithm or `typ`.
pub fn verify_audit_head(token: &str, public_pem: &[u8]) -> Result<AuditHead> {
    let key = DecodingKey::from_ec_pem(public_pem).map_err(|e| Error::Events(e.to_string()))?;
    let header = jsonwebtoken::decode_header(token).map_err(|e| Error::Events(e.to_string()))?;
    if header.typ.as_deref() != Some(TYP) {
        return Err(Error::Events("not a signed audit head".into()));
    }
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    jsonwebtoken::decode::<AuditHead>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| Error::Events(e.to_string()))
}
