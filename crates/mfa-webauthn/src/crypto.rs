//! The signature-verification seam: one function, two backends.
//!
//! Everything that checks a signature (assertions, packed and fido-u2f attestation
//! statements, the Wycheproof tests) goes through [`verify_signature`], so the vectors
//! exercise exactly the code that accepts logins.

use crate::cose::{Algorithm, KeyMaterial, PublicKey};
use crate::error::{Error, Result};

/// Which implementation verifies signatures. Both accept and reject the same inputs
/// (they pass the same Wycheproof vectors and conformance cases); they differ in speed
/// and certification.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, serde::Deserialize, serde::Serialize)]
pub enum Backend {
    /// Pure Rust: `p256`, `p384`, `ed25519-dalek`, `rsa`. The default.
    #[default]
    RustCrypto,
    /// `aws-lc-rs`: about four times faster, and a FIPS-validated module when built so.
    #[cfg(feature = "aws-lc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "aws-lc")))]
    AwsLc,
}

/// Verifies `signature` over `message` with `key`, using `key.alg`.
///
/// ES256 and ES384 signatures must be strict ASN.1 DER (§6.5.6); Ed25519 signatures are checked
/// with the strict rules (canonical `S`, no small-order keys); RS256 is PKCS#1 v1.5.
///
/// # Errors
///
/// [`Error::BadSignature`] when the signature does not verify, is not well-formed, or
/// the key is not a valid point / modulus.
pub fn verify_signature(
    backend: Backend,
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<()> {
    let ok = match backend {
        Backend::RustCrypto => rust_crypto::verify(key, message, signature),
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc => aws_lc::verify(key, message, signature),
    };
    if ok { Ok(()) } else { Err(Error::BadSignature) }
}

mod rust_crypto {
    use super::{Algorithm, KeyMaterial, PublicKey};

    pub(super) fn verify(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
        match (&key.key, key.alg) {
            (KeyMaterial::P256(point), Algorithm::Es256) => {
                use p256::ecdsa::signature::Verifier as _;
                let Ok(vk) = p256::ecdsa::VerifyingKey::from_sec1_bytes(point) else {
                    return false;
                };
                let Ok(sig) = p256::ecdsa::Signature::from_der(signature) else {
                    return false;
                };
                vk.verify(message, &sig).is_ok()
            }
            (KeyMaterial::P384(point), Algorithm::Es384) => {
                use p384::ecdsa::signature::Verifier as _;
                let Ok(vk) = p384::ecdsa::VerifyingKey::from_sec1_bytes(point) else {
                    return false;
                };
                let Ok(sig) = p384::ecdsa::Signature::from_der(signature) else {
                    return false;
                };
                vk.verify(message, &sig).is_ok()
            }
            (KeyMaterial::Ed25519(pk), Algorithm::EdDsa) => {
                let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(pk) else {
                    return false;
                };
                let Ok(sig) = <[u8; 64]>::try_from(signature) else {
                    return false;
                };
                vk.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
                    .is_ok()
            }
            (KeyMaterial::Rsa { n, e }, Algorithm::Rs256) => {
                use rsa::BoxedUint;
                use sha2::Digest as _;
                let bits = |b: &[u8]| u32::try_from(b.len().saturating_mul(8)).unwrap_or(u32::MAX);
                let (Ok(n), Ok(e)) = (
                    BoxedUint::from_be_slice(n, bits(n)),
                    BoxedUint::from_be_slice(e, bits(e)),
                ) else {
                    return false;
                };
                let Ok(pk) = rsa::RsaPublicKey::new(n, e) else {
                    return false;
                };
                let hashed = sha2::Sha256::digest(message);
                pk.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hashed, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}

#[cfg(feature = "aws-lc")]
mod aws_lc {
    use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

    use super::{Algorithm, KeyMaterial, PublicKey};

    pub(super) fn verify(key: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
        match (&key.key, key.alg) {
            (KeyMaterial::P256(point), Algorithm::Es256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::P384(point), Algorithm::Es384) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_ASN1, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::Ed25519(pk), Algorithm::EdDsa) => {
                UnparsedPublicKey::new(&signature::ED25519, pk)
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::Rsa { n, e }, Algorithm::Rs256) => RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
            .is_ok(),
            _ => false,
        }
    }
}
