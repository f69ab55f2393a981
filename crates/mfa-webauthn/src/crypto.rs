//! The signature-verification seam: one function, two backends.
//!
//! Everything that checks a signature (assertions, packed and fido-u2f attestation
//! statements, the Wycheproof tests) goes through [`verify_signature`], so the vectors
//! exercise exactly the code that accepts logins.

use crate::cose::{Algorithm, KeyMaterial, PublicKey};
use crate::error::{IResult, InternalError, Result};

/// Which implementation verifies signatures. Both accept and reject the same inputs
/// (they pass the same Wycheproof vectors and conformance cases) for the algorithms
/// both support ([`Backend::supports`]); they differ in speed and certification.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, serde::Deserialize, serde::Serialize)]
pub enum Backend {
    /// Pure Rust: `p256`, `p384`, `p521`, `ed25519-dalek`, `ed448-goldilocks`, `rsa`,
    /// `ml-dsa`. The default; verifies every [`Algorithm`].
    #[default]
    RustCrypto,
    /// `aws-lc-rs`: about four times faster, and a FIPS-validated module when built so.
    /// Verifies every [`Algorithm`] but Ed448.
    #[cfg(feature = "aws-lc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "aws-lc")))]
    AwsLc,
}

impl Backend {
    /// Whether this backend verifies `alg`. A relying party refuses to offer an
    /// algorithm its backend does not verify, registration refuses such a credential
    /// key, and [`verify_signature`] answers [`Error::Rejected`](crate::Error::Rejected) (`algorithm_not_allowed`) (never a
    /// silent fallback to the other backend).
    pub fn supports(self, alg: Algorithm) -> bool {
        #[cfg(not(feature = "aws-lc"))]
        let _ = alg;
        match self {
            Self::RustCrypto => true,
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => alg != Algorithm::Ed448,
        }
    }
}

/// Verifies `signature` over `message` with `key`, using `key.alg`.
///
/// ES256, ES384 and ES512 signatures must be strict ASN.1 DER (§6.5.6); Ed25519 and
/// Ed448 signatures are checked with the strict rules (canonical `S`; Ed25519 also
/// refuses small-order keys); RS256/384/512 are PKCS#1 v1.5, PS256/384/512 are PSS with
/// MGF1 of the same hash and a salt as long as the hash (RFC 8230); ML-DSA-44 is FIPS
/// 204 pure mode with an empty context.
///
/// RS1 is always refused here ([`Error::Rejected`](crate::Error::Rejected) (`algorithm_not_allowed`)): SHA-1 signatures are
/// accepted only inside the ceremonies of a relying party that opted in
/// ([`RelyingPartyBuilder::danger_allow_rs1`](crate::RelyingPartyBuilder::danger_allow_rs1)
/// for RS1 credential keys,
/// [`danger_allow_rs1_attestation`](crate::RelyingPartyBuilder::danger_allow_rs1_attestation)
/// for RS1 attestation statements signed by a certificate's key).
///
/// # Errors
///
/// [`Error::Rejected`](crate::Error::Rejected) (`bad_signature`) when the signature does not verify, is not well-formed, or
/// the key is not a valid point / modulus; [`Error::Rejected`](crate::Error::Rejected) (`algorithm_not_allowed`) when
/// `backend` does not verify `key.alg`; [`Error::Rejected`](crate::Error::Rejected) (`algorithm_not_allowed`) for RS1.
pub fn verify_signature(
    backend: Backend,
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<()> {
    verify_with_policy(backend, false, key, message, signature).map_err(Into::into)
}

/// [`verify_signature`], with RS1 accepted when `allow_rs1` (the relying party's
/// opt-in, carried in the expectations).
pub(crate) fn verify_with_policy(
    backend: Backend,
    allow_rs1: bool,
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> IResult<()> {
    if key.alg == Algorithm::Rs1 && !allow_rs1 {
        return Err(InternalError::InsecureAlgorithm(key.alg.cose_id()));
    }
    if !backend.supports(key.alg) {
        return Err(InternalError::AlgorithmNotSupported(key.alg.cose_id()));
    }
    let ok = match backend {
        Backend::RustCrypto => rust_crypto::verify(key, message, signature),
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc => aws_lc::verify(key, message, signature),
    };
    if ok {
        Ok(())
    } else {
        Err(InternalError::BadSignature)
    }
}

/// Whether a 57-byte Ed448 point encoding is canonical: bits 448–454 clear and the
/// y coordinate (the low 448 bits) below p = 2^448 − 2^224 − 1.
pub(crate) fn ed448_encoding_canonical(enc: &[u8]) -> bool {
    let Some((&last, y)) = enc.split_last() else {
        return false;
    };
    if enc.len() != 57 || last & 0x7f != 0 {
        return false;
    }
    // p = (2^448 − 1) − 2^224: little-endian, 0xff everywhere but byte 28 (0xfe).
    let p_le: [u8; 56] = {
        let mut p = [0xffu8; 56];
        if let Some(b) = p.get_mut(28) {
            *b = 0xfe;
        }
        p
    };
    // Compare y and p as big numbers, most significant byte first.
    for (a, b) in y.iter().rev().zip(p_le.iter().rev()) {
        if a != b {
            return a < b;
        }
    }
    false
}

mod rust_crypto {
    use rsa::{BoxedUint, RsaPublicKey, pkcs1v15::Pkcs1v15Sign, pss::Pss};
    use sha2::{Digest as _, Sha256, Sha384, Sha512};

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
            (KeyMaterial::P521(point), Algorithm::Es512) => {
                use p521::ecdsa::signature::Verifier as _;
                let Ok(vk) = p521::ecdsa::VerifyingKey::from_sec1_bytes(&point[..]) else {
                    return false;
                };
                let Ok(sig) = p521::ecdsa::Signature::from_der(signature) else {
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
            (KeyMaterial::Ed448(pk), Algorithm::Ed448) => {
                // RFC 8032 §5.2.3: bits 448–454 of a point encoding are zero (the y
                // coordinate is below p); ed448-goldilocks ignores them, which would let
                // one signature verify under several encodings of R (or of the key).
                if !super::ed448_encoding_canonical(&pk[..])
                    || !super::ed448_encoding_canonical(signature.get(..57).unwrap_or_default())
                {
                    return false;
                }
                let Ok(vk) = ed448_goldilocks::VerifyingKey::from_bytes(pk.as_ref()) else {
                    return false;
                };
                let Ok(sig) = ed448_goldilocks::Signature::try_from(signature) else {
                    return false;
                };
                // Pure Ed448 with an empty context (RFC 8032 §5.2); S must be canonical.
                vk.verify_raw(&sig, message).is_ok()
            }
            (KeyMaterial::MlDsa44(pk), Algorithm::MlDsa44) => {
                use ml_dsa::{EncodedSignature, EncodedVerifyingKey, MlDsa44, Signature};
                let Ok(enc) = EncodedVerifyingKey::<MlDsa44>::try_from(&pk[..]) else {
                    return false;
                };
                let vk = ml_dsa::VerifyingKey::<MlDsa44>::decode(&enc);
                let Some(sig) = EncodedSignature::<MlDsa44>::try_from(signature)
                    .ok()
                    .and_then(|s| Signature::<MlDsa44>::decode(&s))
                else {
                    return false;
                };
                vk.verify_with_context(message, &[], &sig)
            }
            (KeyMaterial::Rsa { n, e }, alg) => {
                let Some(pk) = rsa_key(n, e) else {
                    return false;
                };
                let ok = match alg {
                    Algorithm::Rs256 => pk.verify(
                        Pkcs1v15Sign::new::<Sha256>(),
                        &Sha256::digest(message),
                        signature,
                    ),
                    Algorithm::Rs384 => pk.verify(
                        Pkcs1v15Sign::new::<Sha384>(),
                        &Sha384::digest(message),
                        signature,
                    ),
                    Algorithm::Rs512 => pk.verify(
                        Pkcs1v15Sign::new::<Sha512>(),
                        &Sha512::digest(message),
                        signature,
                    ),
                    Algorithm::Rs1 => pk.verify(
                        Pkcs1v15Sign::new::<sha1::Sha1>(),
                        &sha1::Sha1::digest(message),
                        signature,
                    ),
                    // RFC 8230 §2: MGF1 with the same hash, salt as long as the hash.
                    Algorithm::Ps256 => {
                        pk.verify(Pss::<Sha256>::new(), &Sha256::digest(message), signature)
                    }
                    Algorithm::Ps384 => {
                        pk.verify(Pss::<Sha384>::new(), &Sha384::digest(message), signature)
                    }
                    Algorithm::Ps512 => {
                        pk.verify(Pss::<Sha512>::new(), &Sha512::digest(message), signature)
                    }
                    _ => return false,
                };
                ok.is_ok()
            }
            _ => false,
        }
    }

    fn rsa_key(n: &[u8], e: &[u8]) -> Option<RsaPublicKey> {
        let bits = |b: &[u8]| u32::try_from(b.len().saturating_mul(8)).unwrap_or(u32::MAX);
        let n = BoxedUint::from_be_slice(n, bits(n)).ok()?;
        let e = BoxedUint::from_be_slice(e, bits(e)).ok()?;
        RsaPublicKey::new(n, e).ok()
    }
}

/// A key prepared for repeated verification: aws-lc's parsed key (its `EVP_PKEY`, with
/// the RSA Montgomery context it computes on first use), kept with a credential
/// record's decoded key. Made at the key's second verification: parsing costs more
/// than one unprepared verification saves, so a record used once (read from storage
/// for one login) never pays for it. The pure-Rust backend has nothing to prepare.
#[derive(Default)]
pub(crate) struct Prepared {
    #[cfg(feature = "aws-lc")]
    used: std::sync::atomic::AtomicBool,
    #[cfg(feature = "aws-lc")]
    aws_lc: std::sync::OnceLock<Option<aws_lc_rs::signature::ParsedPublicKey>>,
}

/// [`verify_with_policy`] with what `prepared` keeps for `key` (which it was made
/// for): the same checks and the same answers, without parsing the key again.
pub(crate) fn verify_prepared(
    backend: Backend,
    allow_rs1: bool,
    key: &PublicKey,
    prepared: &Prepared,
    message: &[u8],
    signature: &[u8],
) -> IResult<()> {
    #[cfg(feature = "aws-lc")]
    if backend == Backend::AwsLc
        && (key.alg != Algorithm::Rs1 || allow_rs1)
        && backend.supports(key.alg)
        && prepared
            .used
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        && let Some(parsed) = prepared.aws_lc.get_or_init(|| aws_lc::prepare(key))
    {
        return if parsed.verify_sig(message, signature).is_ok() {
            Ok(())
        } else {
            Err(InternalError::BadSignature)
        };
    }
    #[cfg(not(feature = "aws-lc"))]
    let _ = prepared;
    verify_with_policy(backend, allow_rs1, key, message, signature)
}

#[cfg(feature = "aws-lc")]
mod aws_lc {
    use aws_lc_rs::signature::{
        self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey,
        VerificationAlgorithm,
    };

    use super::{Algorithm, KeyMaterial, PublicKey};

    fn rsa_params(alg: Algorithm) -> Option<&'static RsaParameters> {
        Some(match alg {
            Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::Rs1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    /// The parsed key, or `None` when aws-lc refuses it (then every verification
    /// goes the unprepared way, which refuses it too).
    pub(super) fn prepare(key: &PublicKey) -> Option<ParsedPublicKey> {
        let (alg, bytes): (&'static dyn VerificationAlgorithm, &[u8]) = match (&key.key, key.alg) {
            (KeyMaterial::P256(p), Algorithm::Es256) => (&signature::ECDSA_P256_SHA256_ASN1, p),
            (KeyMaterial::P384(p), Algorithm::Es384) => (&signature::ECDSA_P384_SHA384_ASN1, p),
            (KeyMaterial::P521(p), Algorithm::Es512) => {
                (&signature::ECDSA_P521_SHA512_ASN1, &p[..])
            }
            (KeyMaterial::Ed25519(p), Algorithm::EdDsa) => (&signature::ED25519, p),
            (KeyMaterial::MlDsa44(p), Algorithm::MlDsa44) => (&signature::ML_DSA_44, &p[..]),
            (KeyMaterial::Rsa { n, e }, alg) => {
                return RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .to_parsed_public_key(rsa_params(alg)?)
                .ok();
            }
            _ => return None,
        };
        ParsedPublicKey::new(alg, bytes).ok()
    }

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
            (KeyMaterial::P521(point), Algorithm::Es512) => {
                UnparsedPublicKey::new(&signature::ECDSA_P521_SHA512_ASN1, &point[..])
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::Ed25519(pk), Algorithm::EdDsa) => {
                UnparsedPublicKey::new(&signature::ED25519, pk)
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::MlDsa44(pk), Algorithm::MlDsa44) => {
                UnparsedPublicKey::new(&signature::ML_DSA_44, &pk[..])
                    .verify(message, sig)
                    .is_ok()
            }
            (KeyMaterial::Rsa { n, e }, alg) => {
                let Some(params) = rsa_params(alg) else {
                    return false;
                };
                RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .verify(params, message, sig)
                .is_ok()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ed448_encoding_canonical;

    #[test]
    fn ed448_encodings_must_be_canonical() {
        // p − 1 (the largest canonical y) with either sign bit; p itself and bits
        // 448–454 are not canonical (ed448-goldilocks alone accepts them: Wycheproof
        // ed448 tcId 63 fails without this check).
        let mut p_minus_1 = [0xffu8; 57];
        p_minus_1[28] = 0xfe;
        p_minus_1[0] = 0xfe;
        p_minus_1[56] = 0;
        assert!(ed448_encoding_canonical(&p_minus_1));
        p_minus_1[56] = 0x80;
        assert!(ed448_encoding_canonical(&p_minus_1));
        let mut p = p_minus_1;
        p[0] = 0xff;
        p[56] = 0;
        assert!(!ed448_encoding_canonical(&p));
        let mut high = [0u8; 57];
        high[0] = 1;
        assert!(ed448_encoding_canonical(&high));
        for bit in 0..7 {
            high[56] = 1 << bit;
            assert!(!ed448_encoding_canonical(&high), "bit {}", 448 + bit);
        }
        assert!(!ed448_encoding_canonical(&[0; 56]));
    }
}
