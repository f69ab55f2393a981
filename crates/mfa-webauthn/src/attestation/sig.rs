//! Attestation statement signatures by COSE algorithm, verified with a certificate's
//! key: the algorithms [`crate::hazmat::verify_signature`] has go through it (both
//! backends); RS1, RS384 and RS512, which only attestation statements need here (TPMs
//! sign `certInfo` with them), are verified with `rsa` directly. RS1 only with
//! [`AttestationPolicy::danger_allow_rs1_attestation`].

use sha2::Digest as _;
use x509_parser::prelude::SubjectPublicKeyInfo;

use crate::attestation::{chain, spki_key};
use crate::cose::Algorithm;
use crate::crypto::{Backend, verify_signature};
use crate::error::{Error, Result};
use crate::trust::AttestationPolicy;

/// COSE RS1: RSASSA-PKCS1-v1_5 with SHA-1.
pub(crate) const RS1: i64 = -65535;
/// COSE RS384.
pub(crate) const RS384: i64 = -258;
/// COSE RS512.
pub(crate) const RS512: i64 = -259;

/// The hash an attestation algorithm signs with, applied to `data` (TPM `extraData`
/// is this hash of attToBeSigned).
pub(crate) fn hash_for(alg: i64, data: &[u8]) -> Option<Vec<u8>> {
    Some(match alg {
        RS1 => sha1::Sha1::digest(data).to_vec(),
        -7 | -257 | -37 => sha2::Sha256::digest(data).to_vec(),
        -35 | RS384 | -38 => sha2::Sha384::digest(data).to_vec(),
        -36 | RS512 | -39 => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// Verifies an attestation statement signature `sig` over `msg` made with `alg` by
/// the key of `spki`.
///
/// # Errors
///
/// [`Error::InvalidAttestationStatement`] when the algorithm is unsupported or not
/// allowed, the key does not fit it, or the signature does not verify.
pub(crate) fn verify_statement(
    alg: i64,
    spki: &SubjectPublicKeyInfo<'_>,
    msg: &[u8],
    sig: &[u8],
    policy: &AttestationPolicy,
    backend: Backend,
) -> Result<()> {
    let bad = Error::InvalidAttestationStatement("attestation signature");
    // First, whatever verifies it: RS1 needs the opt-in even if the COSE seam learns it.
    if alg == RS1 && !policy.danger_allow_rs1_attestation {
        return Err(Error::InvalidAttestationStatement(
            "rs1 (sha-1) attestation signatures are not allowed",
        ));
    }
    if let Some(a) = Algorithm::from_cose_id(alg) {
        let key = spki_key(spki, a)?;
        return verify_signature(backend, &key, msg, sig).map_err(|_| bad);
    }
    if !matches!(alg, RS1 | RS384 | RS512) {
        return Err(Error::InvalidAttestationStatement(
            "unsupported attestation alg",
        ));
    }
    let Some(key) = chain::rsa_public_key(spki, 8192) else {
        return Err(Error::InvalidAttestationCertificate(
            "public key does not match alg",
        ));
    };
    let ok = match alg {
        RS1 => key.verify(
            rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
            &sha1::Sha1::digest(msg),
            sig,
        ),
        RS384 => key.verify(
            rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
            &sha2::Sha384::digest(msg),
            sig,
        ),
        RS512 => key.verify(
            rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
            &sha2::Sha512::digest(msg),
            sig,
        ),
        _ => return Err(bad),
    };
    ok.map_err(|_| bad)
}
