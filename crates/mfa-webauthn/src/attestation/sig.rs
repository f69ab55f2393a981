//! Attestation statement signatures by COSE algorithm, verified with a certificate's
//! key through the shared verification seam ([`crate::crypto`]), so both backends
//! apply to statements exactly as to logins. RS1 only with
//! [`AttestationPolicy::danger_allow_rs1_attestation`].

use sha2::Digest as _;
use x509_parser::prelude::SubjectPublicKeyInfo;

use crate::attestation::spki_key;
use crate::cose::Algorithm;
use crate::crypto::{Backend, verify_with_policy};
use crate::error::{IResult, InternalError};
use crate::trust::AttestationPolicy;

/// The hash an attestation algorithm signs with, applied to `data` (TPM `extraData`
/// is this hash of attToBeSigned).
pub(crate) fn hash_for(alg: i64, data: &[u8]) -> Option<Vec<u8>> {
    Some(match Algorithm::from_cose_id(alg)? {
        Algorithm::Rs1 => sha1::Sha1::digest(data).to_vec(),
        Algorithm::Es256 | Algorithm::Rs256 | Algorithm::Ps256 => {
            sha2::Sha256::digest(data).to_vec()
        }
        Algorithm::Es384 | Algorithm::Rs384 | Algorithm::Ps384 => {
            sha2::Sha384::digest(data).to_vec()
        }
        Algorithm::Es512 | Algorithm::Rs512 | Algorithm::Ps512 => {
            sha2::Sha512::digest(data).to_vec()
        }
        Algorithm::EdDsa | Algorithm::Ed448 | Algorithm::MlDsa44 => return None,
    })
}

/// Verifies an attestation statement signature `sig` over `msg` made with `alg` by
/// the key of `spki`.
///
/// # Errors
///
/// [`Error::Rejected`](crate::Error::Rejected) (`invalid_attestation_statement`) when the algorithm is unsupported or not
/// allowed, or the signature does not verify; [`Error::Rejected`](crate::Error::Rejected) (`invalid_attestation_certificate`)
/// when the key does not fit the algorithm.
pub(crate) fn verify_statement(
    alg: i64,
    spki: &SubjectPublicKeyInfo<'_>,
    msg: &[u8],
    sig: &[u8],
    policy: &AttestationPolicy,
    backend: Backend,
) -> IResult<()> {
    let Some(a) = Algorithm::from_cose_id(alg) else {
        return Err(InternalError::InvalidAttestationStatement(
            "unsupported attestation alg",
        ));
    };
    // First, before the key is read: RS1 needs the opt-in.
    if a == Algorithm::Rs1 && !policy.danger_allow_rs1_attestation {
        return Err(InternalError::InvalidAttestationStatement(
            "rs1 (sha-1) attestation signatures are not allowed",
        ));
    }
    let key = spki_key(spki, a)?;
    verify_with_policy(backend, policy.danger_allow_rs1_attestation, &key, msg, sig)
        .map_err(|_| InternalError::InvalidAttestationStatement("attestation signature"))
}
