//! COSE public keys (RFC 9052 §7, RFC 9053) parsed through `coset`, and the
//! algorithms this crate verifies.

use coset::iana::{self, EnumI64 as _};
use coset::{CborSerializable as _, CoseKey, KeyType, Label, RegisteredLabelWithPrivate};

use crate::error::{IResult, InternalError, Result};

/// A COSE signature algorithm this crate can verify.
///
/// Which [`Backend`](crate::Backend) verifies which algorithm:
/// [`Backend::supports`](crate::Backend::supports). RS1 (SHA-1) is refused unless the
/// relying party opted in with
/// [`RelyingPartyBuilder::danger_allow_rs1`](crate::RelyingPartyBuilder::danger_allow_rs1)
/// (credential keys) or
/// [`danger_allow_rs1_attestation`](crate::RelyingPartyBuilder::danger_allow_rs1_attestation)
/// (attestation statements).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, serde::Deserialize, serde::Serialize)]
pub enum Algorithm {
    /// EdDSA over Ed25519 (COSE -8).
    EdDsa,
    /// ECDSA P-256 with SHA-256 (COSE -7), DER signatures.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (COSE -257).
    Rs256,
    /// ECDSA P-384 with SHA-384 (COSE -35), DER signatures. Supported, but not in
    /// [`Algorithm::DEFAULT_PREFERENCE`]: offer it with
    /// [`RelyingPartyBuilder::algorithms`](crate::RelyingPartyBuilder::algorithms).
    Es384,
    /// ECDSA P-521 with SHA-512 (COSE -36), DER signatures. Not offered by default.
    Es512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, salt length 32 (COSE -37, RFC 8230).
    /// Not offered by default.
    Ps256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384, salt length 48 (COSE -38). Not
    /// offered by default.
    Ps384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512, salt length 64 (COSE -39). Not
    /// offered by default.
    Ps512,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (COSE -258). Not offered by default.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (COSE -259). Not offered by default.
    Rs512,
    /// RSASSA-PKCS1-v1_5 with SHA-1 (COSE -65535, WebAuthn §5.8.5 legacy TPMs). SHA-1
    /// is broken for collisions: refused at registration and authentication unless the
    /// relying party calls
    /// [`RelyingPartyBuilder::danger_allow_rs1`](crate::RelyingPartyBuilder::danger_allow_rs1)
    /// ([`Error::Rejected`](crate::Error::Rejected) (`algorithm_not_allowed`) otherwise) for credential keys; attestation
    /// statements signed by a certificate with RS1 need
    /// [`RelyingPartyBuilder::danger_allow_rs1_attestation`](crate::RelyingPartyBuilder::danger_allow_rs1_attestation).
    Rs1,
    /// EdDSA over Ed448 (COSE -53, the fully specified Ed448 of RFC 9864). Pure-Rust
    /// backend only (`ed448-goldilocks`); aws-lc has no Ed448. Not offered by default.
    Ed448,
    /// ML-DSA-44 (COSE -48, FIPS 204, COSE key type AKP), pure mode with an empty
    /// context. Both backends. Not offered by default.
    MlDsa44,
}

impl Algorithm {
    /// The order this crate prefers when none is configured: EdDSA, ES256, RS256.
    /// The other algorithms are verified too, but only offered when configured.
    pub const DEFAULT_PREFERENCE: [Algorithm; 3] = [Self::EdDsa, Self::Es256, Self::Rs256];

    /// Every algorithm this crate knows, RS1 included (it still needs the opt-in).
    pub const ALL: [Algorithm; 13] = [
        Self::EdDsa,
        Self::Es256,
        Self::Rs256,
        Self::Es384,
        Self::Es512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Rs384,
        Self::Rs512,
        Self::Rs1,
        Self::Ed448,
        Self::MlDsa44,
    ];

    /// The COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Self::EdDsa => -8,
            Self::Es256 => -7,
            Self::Rs256 => -257,
            Self::Es384 => -35,
            Self::Es512 => -36,
            Self::Ps256 => -37,
            Self::Ps384 => -38,
            Self::Ps512 => -39,
            Self::Rs384 => -258,
            Self::Rs512 => -259,
            Self::Rs1 => -65535,
            Self::Ed448 => -53,
            Self::MlDsa44 => -48,
        }
    }

    /// The algorithm with the given COSE identifier, if this crate supports it.
    pub fn from_cose_id(id: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.cose_id() == id)
    }

    /// Whether the algorithm uses an RSA key (PKCS#1 v1.5 or PSS).
    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            Self::Rs256
                | Self::Rs384
                | Self::Rs512
                | Self::Rs1
                | Self::Ps256
                | Self::Ps384
                | Self::Ps512
        )
    }
}

/// The length of an ML-DSA-44 public key (FIPS 204 table 2).
pub const ML_DSA_44_PUBLIC_KEY_LEN: usize = 1312;

/// Public key material, checked for shape (lengths, curve) at parse time.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum KeyMaterial {
    /// An Ed25519 public key.
    Ed25519([u8; 32]),
    /// A P-256 point in SEC1 uncompressed form (`04 || x || y`).
    P256([u8; 65]),
    /// A P-384 point in SEC1 uncompressed form (`04 || x || y`).
    P384([u8; 97]),
    /// A P-521 point in SEC1 uncompressed form (`04 || x || y`, 66-byte coordinates).
    P521(Box<[u8; 133]>),
    /// An Ed448 public key (RFC 8032 encoding).
    Ed448(Box<[u8; 57]>),
    /// An ML-DSA-44 public key (FIPS 204 `pkEncode`).
    MlDsa44(Box<[u8; ML_DSA_44_PUBLIC_KEY_LEN]>),
    /// An RSA public key: big-endian modulus and exponent.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
}

/// A public key bound to the one algorithm it may be used with.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PublicKey {
    /// The signature algorithm.
    pub alg: Algorithm,
    /// The key.
    pub key: KeyMaterial,
}

/// Reads the `alg` (label 3) of a COSE_Key without interpreting the rest.
///
/// # Errors
///
/// [`Error::Malformed`](crate::Error::Malformed) when the bytes are not a COSE_Key or it has no integer `alg`.
pub fn cose_alg(bytes: &[u8]) -> Result<i64> {
    cose_alg_inner(bytes).map_err(Into::into)
}

pub(crate) fn cose_alg_inner(bytes: &[u8]) -> IResult<i64> {
    let key = CoseKey::from_slice(bytes).map_err(|_| InternalError::Malformed("cose key"))?;
    alg_id(&key).ok_or(InternalError::Malformed("cose key alg"))
}

impl PublicKey {
    /// Parses a COSE_Key as WebAuthn credential public keys encode it (§5.8.5): `kty`,
    /// `alg` and the key parameters with integer labels.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`](crate::Error::Malformed) when the key cannot be parsed, misses a parameter, has the
    /// wrong lengths or curve, or disagrees with its `alg`;
    /// [`Error::Rejected`](crate::Error::Rejected) (`algorithm_not_allowed`) when `alg` is well-formed but not supported here.
    pub fn from_cose(bytes: &[u8]) -> Result<Self> {
        Self::from_cose_inner(bytes).map_err(Into::into)
    }

    pub(crate) fn from_cose_inner(bytes: &[u8]) -> IResult<Self> {
        let key = CoseKey::from_slice(bytes).map_err(|_| InternalError::Malformed("cose key"))?;
        let alg_id = alg_id(&key).ok_or(InternalError::Malformed("cose key alg"))?;
        let alg =
            Algorithm::from_cose_id(alg_id).ok_or(InternalError::AlgorithmNotAllowed(alg_id))?;
        let param = |label: i64| {
            key.params.iter().find_map(|(l, v)| match l {
                Label::Int(i) if *i == label => v.as_bytes().map(Vec::as_slice),
                _ => None,
            })
        };
        let int_param = |label: i64| {
            key.params.iter().find_map(|(l, v)| match l {
                Label::Int(i) if *i == label => v.as_integer().and_then(|n| i64::try_from(n).ok()),
                _ => None,
            })
        };
        let kty = match &key.kty {
            KeyType::Assigned(k) => *k,
            KeyType::Text(_) => return Err(InternalError::Malformed("cose key kty")),
        };
        // The curve an EC2 key must name for its alg (RFC 9053 §2.1: ES256 is P-256,
        // ES384 is P-384), and its coordinates.
        let ec2 = |curve: iana::EllipticCurve| {
            if int_param(iana::Ec2KeyParameter::Crv.to_i64()) != Some(curve.to_i64()) {
                return Err(InternalError::Malformed("cose key curve"));
            }
            let x = param(iana::Ec2KeyParameter::X.to_i64());
            let y = param(iana::Ec2KeyParameter::Y.to_i64());
            match (x, y) {
                (Some(x), Some(y)) => Ok((x, y)),
                _ => Err(InternalError::Malformed("cose ec2 key coordinates")),
            }
        };
        let material = match (alg, kty) {
            (Algorithm::Es256, iana::KeyType::EC2) => {
                let (x, y) = ec2(iana::EllipticCurve::P_256)?;
                p256_point(x, y)?
            }
            (Algorithm::Es384, iana::KeyType::EC2) => {
                let (x, y) = ec2(iana::EllipticCurve::P_384)?;
                p384_point(x, y)?
            }
            (Algorithm::Es512, iana::KeyType::EC2) => {
                let (x, y) = ec2(iana::EllipticCurve::P_521)?;
                p521_point(x, y)?
            }
            (Algorithm::EdDsa, iana::KeyType::OKP) => {
                if int_param(iana::OkpKeyParameter::Crv.to_i64())
                    != Some(iana::EllipticCurve::Ed25519.to_i64())
                {
                    return Err(InternalError::Malformed("cose key curve"));
                }
                let x = param(iana::OkpKeyParameter::X.to_i64())
                    .and_then(|x| <[u8; 32]>::try_from(x).ok())
                    .ok_or(InternalError::Malformed("cose okp key"))?;
                KeyMaterial::Ed25519(x)
            }
            (Algorithm::Ed448, iana::KeyType::OKP) => {
                if int_param(iana::OkpKeyParameter::Crv.to_i64())
                    != Some(iana::EllipticCurve::Ed448.to_i64())
                {
                    return Err(InternalError::Malformed("cose key curve"));
                }
                let x = param(iana::OkpKeyParameter::X.to_i64())
                    .and_then(|x| <[u8; 57]>::try_from(x).ok())
                    .ok_or(InternalError::Malformed("cose okp key"))?;
                KeyMaterial::Ed448(Box::new(x))
            }
            (Algorithm::MlDsa44, iana::KeyType::AKP) => {
                // AKP's `pub` parameter (label -1), the FIPS 204 encoded public key.
                let pk = param(iana::AkpKeyParameter::Pub.to_i64())
                    .and_then(|x| <[u8; ML_DSA_44_PUBLIC_KEY_LEN]>::try_from(x).ok())
                    .ok_or(InternalError::Malformed("cose akp key"))?;
                KeyMaterial::MlDsa44(Box::new(pk))
            }
            (a, iana::KeyType::RSA) if a.is_rsa() => {
                let n = param(iana::RsaKeyParameter::N.to_i64());
                let e = param(iana::RsaKeyParameter::E.to_i64());
                let (Some(n), Some(e)) = (n, e) else {
                    return Err(InternalError::Malformed("cose rsa key"));
                };
                rsa_key(n, e)?
            }
            _ => return Err(InternalError::Malformed("cose key type does not match alg")),
        };
        Ok(Self { alg, key: material })
    }

    /// Checks that the key can verify anything: an EC point is on its curve (and not
    /// the identity), an Ed25519 key decompresses and is not of small order, an RSA
    /// modulus is odd. Backend-independent; registration calls it for every format.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`](crate::Error::Malformed) naming the defect.
    pub fn validate(&self) -> Result<()> {
        self.validate_inner().map_err(Into::into)
    }

    pub(crate) fn validate_inner(&self) -> IResult<()> {
        let ok = match &self.key {
            KeyMaterial::P256(p) => p256::PublicKey::from_sec1_bytes(p).is_ok(),
            KeyMaterial::P384(p) => p384::PublicKey::from_sec1_bytes(p).is_ok(),
            KeyMaterial::P521(p) => p521::PublicKey::from_sec1_bytes(&p[..]).is_ok(),
            KeyMaterial::Ed25519(x) => {
                ed25519_dalek::VerifyingKey::from_bytes(x).is_ok_and(|k| !k.is_weak())
            }
            // Decompresses, and is not the identity.
            KeyMaterial::Ed448(x) => {
                crate::crypto::ed448_encoding_canonical(&x[..])
                    && ed448_goldilocks::VerifyingKey::from_bytes(x.as_ref()).is_ok()
            }
            // Every 1312-byte string is a well-formed ML-DSA-44 key (rho || packed t1).
            KeyMaterial::MlDsa44(_) => true,
            KeyMaterial::Rsa { n, .. } => n.last().is_some_and(|b| b & 1 == 1),
        };
        if ok {
            Ok(())
        } else {
            Err(InternalError::Malformed("public key cannot verify"))
        }
    }

    /// Encodes the key as a COSE_Key (the inverse of [`PublicKey::from_cose`]).
    pub fn to_cose(&self) -> Vec<u8> {
        let builder = match &self.key {
            KeyMaterial::P256(p) => {
                let (x, y) = p.get(1..).unwrap_or_default().split_at(32);
                coset::CoseKeyBuilder::new_ec2_pub_key(
                    iana::EllipticCurve::P_256,
                    x.to_vec(),
                    y.to_vec(),
                )
            }
            KeyMaterial::P384(p) => {
                let (x, y) = p.get(1..).unwrap_or_default().split_at(48);
                coset::CoseKeyBuilder::new_ec2_pub_key(
                    iana::EllipticCurve::P_384,
                    x.to_vec(),
                    y.to_vec(),
                )
            }
            KeyMaterial::P521(p) => {
                let (x, y) = p.get(1..).unwrap_or_default().split_at(66);
                coset::CoseKeyBuilder::new_ec2_pub_key(
                    iana::EllipticCurve::P_521,
                    x.to_vec(),
                    y.to_vec(),
                )
            }
            KeyMaterial::Ed448(x) => coset::CoseKeyBuilder::new_okp_key()
                .param(
                    iana::OkpKeyParameter::Crv.to_i64(),
                    ciborium::Value::from(iana::EllipticCurve::Ed448.to_i64()),
                )
                .param(
                    iana::OkpKeyParameter::X.to_i64(),
                    ciborium::Value::Bytes(x.to_vec()),
                ),
            KeyMaterial::MlDsa44(pk) => coset::CoseKeyBuilder::new()
                .key_type(iana::KeyType::AKP)
                .param(
                    iana::AkpKeyParameter::Pub.to_i64(),
                    ciborium::Value::Bytes(pk.to_vec()),
                ),
            KeyMaterial::Ed25519(x) => coset::CoseKeyBuilder::new_okp_key()
                .param(
                    iana::OkpKeyParameter::Crv.to_i64(),
                    ciborium::Value::from(iana::EllipticCurve::Ed25519.to_i64()),
                )
                .param(
                    iana::OkpKeyParameter::X.to_i64(),
                    ciborium::Value::Bytes(x.to_vec()),
                ),
            KeyMaterial::Rsa { n, e } => coset::CoseKeyBuilder::new()
                .key_type(iana::KeyType::RSA)
                .param(
                    iana::RsaKeyParameter::N.to_i64(),
                    ciborium::Value::Bytes(n.clone()),
                )
                .param(
                    iana::RsaKeyParameter::E.to_i64(),
                    ciborium::Value::Bytes(e.clone()),
                ),
        };
        let mut key = builder.build();
        key.alg = Some(RegisteredLabelWithPrivate::Assigned(
            iana::Algorithm::from_i64(self.alg.cose_id()).unwrap_or(iana::Algorithm::Reserved),
        ));
        // Encoding a key built from byte strings and integers cannot fail.
        key.to_vec().unwrap_or_default()
    }
}

/// A P-256 point from its coordinates; the backend checks it is on the curve.
pub(crate) fn p256_point(x: &[u8], y: &[u8]) -> IResult<KeyMaterial> {
    sec1_uncompressed::<65>(x, y)
        .map(KeyMaterial::P256)
        .ok_or(InternalError::Malformed("p-256 coordinate length"))
}

/// A P-384 point from its coordinates; the backend checks it is on the curve.
pub(crate) fn p384_point(x: &[u8], y: &[u8]) -> IResult<KeyMaterial> {
    sec1_uncompressed::<97>(x, y)
        .map(KeyMaterial::P384)
        .ok_or(InternalError::Malformed("p-384 coordinate length"))
}

/// A P-521 point from its coordinates (66 bytes each); the backend checks it is on
/// the curve.
pub(crate) fn p521_point(x: &[u8], y: &[u8]) -> IResult<KeyMaterial> {
    sec1_uncompressed::<133>(x, y)
        .map(|p| KeyMaterial::P521(Box::new(p)))
        .ok_or(InternalError::Malformed("p-521 coordinate length"))
}

/// `04 || x || y` when both coordinates are exactly `(N - 1) / 2` bytes long.
fn sec1_uncompressed<const N: usize>(x: &[u8], y: &[u8]) -> Option<[u8; N]> {
    let len = N.checked_sub(1)? / 2;
    if x.len() != len || y.len() != len {
        return None;
    }
    let mut point = [0u8; N];
    *point.first_mut()? = 4;
    point.get_mut(1..=len)?.copy_from_slice(x);
    point.get_mut(len + 1..)?.copy_from_slice(y);
    Some(point)
}

/// An RSA key from big-endian components, stripped of leading zeros.
pub(crate) fn rsa_key(n: &[u8], e: &[u8]) -> IResult<KeyMaterial> {
    let strip = |b: &[u8]| {
        let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        b.get(start..).unwrap_or_default().to_vec()
    };
    let (n, e) = (strip(n), strip(e));
    // 2048 to 8192 bits: below is too weak, above only costs time.
    if !(256..=1024).contains(&n.len()) || e.is_empty() || e.len() > 8 {
        return Err(InternalError::Malformed("rsa key size"));
    }
    Ok(KeyMaterial::Rsa { n, e })
}

fn alg_id(key: &CoseKey) -> Option<i64> {
    match key.alg.as_ref()? {
        RegisteredLabelWithPrivate::Assigned(a) => Some(a.to_i64()),
        RegisteredLabelWithPrivate::PrivateUse(i) => Some(*i),
        RegisteredLabelWithPrivate::Text(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_each_key_type() {
        let keys = [
            PublicKey {
                alg: Algorithm::Es256,
                key: p256_point(&[1; 32], &[2; 32]).unwrap(),
            },
            PublicKey {
                alg: Algorithm::Es384,
                key: p384_point(&[4; 48], &[5; 48]).unwrap(),
            },
            PublicKey {
                alg: Algorithm::EdDsa,
                key: KeyMaterial::Ed25519([3; 32]),
            },
            PublicKey {
                alg: Algorithm::Rs256,
                key: rsa_key(&[0xc5; 256], &[1, 0, 1]).unwrap(),
            },
            PublicKey {
                alg: Algorithm::Es512,
                key: p521_point(&[6; 66], &[7; 66]).unwrap(),
            },
            PublicKey {
                alg: Algorithm::Ed448,
                key: KeyMaterial::Ed448(Box::new([8; 57])),
            },
            PublicKey {
                alg: Algorithm::MlDsa44,
                key: KeyMaterial::MlDsa44(Box::new([9; ML_DSA_44_PUBLIC_KEY_LEN])),
            },
        ];
        let mut keys = keys.to_vec();
        for alg in [
            Algorithm::Ps256,
            Algorithm::Ps384,
            Algorithm::Ps512,
            Algorithm::Rs384,
            Algorithm::Rs512,
            Algorithm::Rs1,
        ] {
            keys.push(PublicKey {
                alg,
                key: rsa_key(&[0xc5; 256], &[1, 0, 1]).unwrap(),
            });
        }
        for k in keys {
            let bytes = k.to_cose();
            assert_eq!(PublicKey::from_cose(&bytes).unwrap(), k);
            assert_eq!(cose_alg(&bytes).unwrap(), k.alg.cose_id());
        }
    }

    #[test]
    fn rejects_mismatched_and_short_keys() {
        assert!(matches!(
            PublicKey::from_cose_inner(&[0xa0]),
            Err(InternalError::Malformed(_))
        ));
        assert!(p256_point(&[1; 31], &[2; 32]).is_err());
        assert!(p384_point(&[1; 48], &[2; 32]).is_err());
        assert!(p384_point(&[1; 32], &[2; 32]).is_err());
        assert!(rsa_key(&[0xc5; 128], &[3]).is_err());
        assert!(p521_point(&[1; 65], &[2; 66]).is_err());
        // Every algorithm id maps back to itself; unknown ids are refused.
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_cose_id(a.cose_id()), Some(a));
        }
        assert_eq!(Algorithm::from_cose_id(-49), None);
    }

    #[test]
    fn rejects_curve_alg_mismatches() {
        let key = |curve, len, alg| {
            coset::CoseKeyBuilder::new_ec2_pub_key(curve, vec![1; len], vec![2; len])
                .algorithm(alg)
                .build()
                .to_vec()
                .unwrap()
        };
        let cases = [
            // The curve disagrees with alg (right lengths for the named curve).
            key(iana::EllipticCurve::P_256, 32, iana::Algorithm::ES384),
            key(iana::EllipticCurve::P_384, 48, iana::Algorithm::ES256),
            // The coordinates disagree with the curve.
            key(iana::EllipticCurve::P_384, 32, iana::Algorithm::ES384),
            key(iana::EllipticCurve::P_256, 48, iana::Algorithm::ES256),
            key(iana::EllipticCurve::P_521, 48, iana::Algorithm::ES512),
            key(iana::EllipticCurve::P_384, 66, iana::Algorithm::ES512),
            key(iana::EllipticCurve::P_521, 66, iana::Algorithm::ES384),
        ];
        for bytes in cases {
            assert!(matches!(
                PublicKey::from_cose_inner(&bytes),
                Err(InternalError::Malformed(_))
            ));
        }
        // An OKP key announced as ES384.
        let okp = PublicKey {
            alg: Algorithm::EdDsa,
            key: KeyMaterial::Ed25519([3; 32]),
        }
        .to_cose();
        let mut key = CoseKey::from_slice(&okp).unwrap();
        key.alg = Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES384));
        assert!(matches!(
            PublicKey::from_cose_inner(&key.to_vec().unwrap()),
            Err(InternalError::Malformed("cose key type does not match alg"))
        ));
    }
}
