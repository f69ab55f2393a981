//! §8.3 TPM attestation: the `TPMS_ATTEST` (certInfo) and `TPMT_PUBLIC` (pubArea)
//! structures of TPM 2.0 Part 2, the binding of both to the credential, and the AIK
//! certificate requirements (§8.3.1).

use sha2::Digest as _;
use x509_parser::prelude::*;

use crate::attestation::{
    AttestationType, Input, aaguid_extension, field, leaf_may_sign, parse_leaf, sig, x5c_chain,
};
use crate::cose::{self, KeyMaterial};
use crate::error::{IResult, InternalError};

/// TPM_GENERATED_VALUE.
const TPM_GENERATED: u32 = 0xff54_4347;
/// TPM_ST_ATTEST_CERTIFY.
const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;
const TPM_ALG_RSA: u16 = 0x0001;
const TPM_ALG_ECC: u16 = 0x0023;
const TPM_ALG_NULL: u16 = 0x0010;
const TPM_ALG_SHA1: u16 = 0x0004;
const TPM_ALG_SHA256: u16 = 0x000b;
const TPM_ALG_SHA384: u16 = 0x000c;
const TPM_ALG_SHA512: u16 = 0x000d;
const TPM_ECC_NIST_P256: u16 = 0x0003;
const TPM_ECC_NIST_P384: u16 = 0x0004;
/// tcg-kp-AIKCertificate.
const OID_TCG_KP_AIK: &[u64] = &[2, 23, 133, 8, 3];
/// tcg-at-tpmManufacturer, tcg-at-tpmModel, tcg-at-tpmVersion as DER OIDs.
const TCG_AT: [&[u8]; 3] = [
    &[0x06, 0x05, 0x67, 0x81, 0x05, 0x02, 0x01],
    &[0x06, 0x05, 0x67, 0x81, 0x05, 0x02, 0x02],
    &[0x06, 0x05, 0x67, 0x81, 0x05, 0x02, 0x03],
];

/// A big-endian reader over TPM structures.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (b, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(b)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.bytes(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.bytes(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.bytes(8)?.try_into().ok()?))
    }
    /// A TPM2B: a u16 size, then that many bytes.
    fn tpm2b(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

/// The public key of a `TPMT_PUBLIC`.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum TpmKey {
    /// RSA: modulus and exponent (0 in the structure means 65537).
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The exponent.
        exponent: u32,
    },
    /// ECC: curve id and the point's coordinates.
    Ecc {
        /// TPM_ECC_CURVE.
        curve: u16,
        /// x.
        x: Vec<u8>,
        /// y.
        y: Vec<u8>,
    },
}

/// The parts of a `TPMT_PUBLIC` §8.3 uses.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PubArea {
    /// nameAlg.
    pub name_alg: u16,
    /// The key.
    pub key: TpmKey,
}

/// Parses a `TPMT_PUBLIC` (TPM 2.0 Part 2 §12.2.4), refusing trailing bytes.
pub fn parse_pub_area(bytes: &[u8]) -> Option<PubArea> {
    let mut r = Reader(bytes);
    let kind = r.u16()?;
    let name_alg = r.u16()?;
    let _object_attributes = r.u32()?;
    let _auth_policy = r.tpm2b()?;
    // TPMT_SYM_DEF_OBJECT: an algorithm, then key bits and mode unless it is NULL.
    let symmetric = r.u16()?;
    if symmetric != TPM_ALG_NULL {
        r.u16()?;
        r.u16()?;
    }
    // The signing scheme: an algorithm, then its hash unless it is NULL.
    let scheme = r.u16()?;
    if scheme != TPM_ALG_NULL {
        r.u16()?;
    }
    let key = match kind {
        TPM_ALG_RSA => {
            let _key_bits = r.u16()?;
            let exponent = r.u32()?;
            let n = r.tpm2b()?.to_vec();
            TpmKey::Rsa { n, exponent }
        }
        TPM_ALG_ECC => {
            let curve = r.u16()?;
            let kdf = r.u16()?;
            if kdf != TPM_ALG_NULL {
                r.u16()?;
            }
            let x = r.tpm2b()?.to_vec();
            let y = r.tpm2b()?.to_vec();
            TpmKey::Ecc { curve, x, y }
        }
        _ => return None,
    };
    r.done().then_some(PubArea { name_alg, key })
}

/// The parts of a `TPMS_ATTEST` §8.3 uses.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CertInfo {
    /// magic.
    pub magic: u32,
    /// type.
    pub kind: u16,
    /// extraData.
    pub extra_data: Vec<u8>,
    /// attested.name (TPMS_CERTIFY_INFO).
    pub name: Vec<u8>,
}

/// Parses a `TPMS_ATTEST` of type certify (TPM 2.0 Part 2 §10.12.12), refusing
/// trailing bytes.
pub fn parse_cert_info(bytes: &[u8]) -> Option<CertInfo> {
    let mut r = Reader(bytes);
    let magic = r.u32()?;
    let kind = r.u16()?;
    let _qualified_signer = r.tpm2b()?;
    let extra_data = r.tpm2b()?.to_vec();
    // TPMS_CLOCK_INFO: clock, resetCount, restartCount, safe.
    r.u64()?;
    r.u32()?;
    r.u32()?;
    r.u8()?;
    let _firmware_version = r.u64()?;
    if kind != TPM_ST_ATTEST_CERTIFY {
        return None;
    }
    let name = r.tpm2b()?.to_vec();
    let _qualified_name = r.tpm2b()?;
    r.done().then_some(CertInfo {
        magic,
        kind,
        extra_data,
        name,
    })
}

fn name_digest(alg: u16, data: &[u8]) -> Option<Vec<u8>> {
    Some(match alg {
        TPM_ALG_SHA1 => sha1::Sha1::digest(data).to_vec(),
        TPM_ALG_SHA256 => sha2::Sha256::digest(data).to_vec(),
        TPM_ALG_SHA384 => sha2::Sha384::digest(data).to_vec(),
        TPM_ALG_SHA512 => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// Whether the pubArea key is the credential key.
fn same_key(tpm: &TpmKey, key: &cose::PublicKey) -> bool {
    let strip = |b: &[u8]| -> Vec<u8> { b.iter().copied().skip_while(|&x| x == 0).collect() };
    match (tpm, &key.key) {
        (TpmKey::Rsa { n, exponent }, KeyMaterial::Rsa { n: cn, e }) => {
            let exp = if *exponent == 0 { 65_537 } else { *exponent };
            strip(n) == strip(cn) && strip(&exp.to_be_bytes()) == strip(e)
        }
        (TpmKey::Ecc { curve, x, y }, KeyMaterial::P256(p)) => {
            *curve == TPM_ECC_NIST_P256 && p.get(1..33) == Some(x) && p.get(33..) == Some(y)
        }
        (TpmKey::Ecc { curve, x, y }, KeyMaterial::P384(p)) => {
            *curve == TPM_ECC_NIST_P384 && p.get(1..49) == Some(x) && p.get(49..) == Some(y)
        }
        _ => false,
    }
}

/// §8.3.1 AIK certificate requirements.
fn aik_requirements(cert: &X509Certificate<'_>, input: &Input<'_>) -> IResult<()> {
    let bad = InternalError::InvalidAttestationCertificate;
    if cert.version() != X509Version::V3 {
        return Err(bad("aik certificate not version 3"));
    }
    // Subject field MUST be set to empty.
    if cert.subject().iter().next().is_some() {
        return Err(bad("aik subject not empty"));
    }
    // The Subject Alternative Name extension MUST be set as defined in TPMv2-EK-Profile
    // §3.2.9: a directory name with the TPM manufacturer, model and version. Some
    // Windows Hello certificates encode these attributes loosely (not in one RDN
    // sequence), so the attribute types are looked for anywhere in the SAN value.
    let san = cert
        .extensions()
        .iter()
        .find(|e| e.oid == oid_registry::OID_X509_EXT_SUBJECT_ALT_NAME)
        .ok_or(bad("aik subject alternative name missing"))?;
    if !TCG_AT
        .iter()
        .all(|oid| san.value.windows(oid.len()).any(|w| w == *oid))
    {
        return Err(bad("aik subject alternative name"));
    }
    // The Extended Key Usage extension MUST contain tcg-kp-AIKCertificate.
    let eku = cert
        .extended_key_usage()
        .map_err(|_| bad("aik extended key usage"))?
        .ok_or(bad("aik extended key usage missing"))?;
    if !eku.value.other.iter().any(|o| {
        o.iter()
            .is_some_and(|it| it.eq(OID_TCG_KP_AIK.iter().copied()))
    }) {
        return Err(bad("aik extended key usage"));
    }
    // Basic Constraints: CA = false.
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => return Err(bad("aik is a ca certificate")),
        Ok(_) => {}
        Err(_) => return Err(bad("aik basic constraints")),
    }
    // id-fido-gen-ce-aaguid, if present, equals the authenticator data's AAGUID.
    aaguid_extension(cert, input.auth_data)
}

pub(super) fn verify(
    input: &Input<'_>,
    credential_key: &cose::PublicKey,
    signed: &[u8],
) -> IResult<(AttestationType, Vec<Vec<u8>>)> {
    let bad = InternalError::InvalidAttestationStatement;
    let stmt = input.att_stmt;
    if field(stmt, "ver").and_then(ciborium::Value::as_text) != Some("2.0") {
        return Err(bad("tpm ver"));
    }
    let alg = field(stmt, "alg")
        .and_then(|v| v.as_integer())
        .and_then(|i| i64::try_from(i).ok())
        .ok_or(bad("tpm alg"))?;
    let signature = field(stmt, "sig")
        .and_then(ciborium::Value::as_bytes)
        .ok_or(bad("tpm sig"))?;
    let cert_info_bytes = field(stmt, "certInfo")
        .and_then(ciborium::Value::as_bytes)
        .ok_or(bad("tpm certInfo"))?;
    let pub_area_bytes = field(stmt, "pubArea")
        .and_then(ciborium::Value::as_bytes)
        .ok_or(bad("tpm pubArea"))?;
    if field(stmt, "ecdaaKeyId").is_some() {
        return Err(bad("ecdaa is not supported"));
    }
    // The public key in pubArea is the credential public key.
    let pub_area = parse_pub_area(pub_area_bytes).ok_or(bad("tpm pubArea structure"))?;
    if !same_key(&pub_area.key, credential_key) {
        return Err(bad("tpm pubArea key is not the credential key"));
    }
    // certInfo: magic, type, extraData = hash(attToBeSigned) under alg's hash, and
    // attested.name = nameAlg || H(pubArea).
    let info = parse_cert_info(cert_info_bytes).ok_or(bad("tpm certInfo structure"))?;
    if info.magic != TPM_GENERATED || info.kind != TPM_ST_ATTEST_CERTIFY {
        return Err(bad("tpm certInfo magic or type"));
    }
    let want_extra = sig::hash_for(alg, signed).ok_or(bad("unsupported tpm alg"))?;
    if info.extra_data != want_extra {
        return Err(bad("tpm extraData"));
    }
    let mut name = pub_area.name_alg.to_be_bytes().to_vec();
    name.extend(name_digest(pub_area.name_alg, pub_area_bytes).ok_or(bad("tpm nameAlg"))?);
    if info.name != name {
        return Err(bad("tpm attested name"));
    }
    // x5c: the AIK certificate signed certInfo; it meets §8.3.1.
    let chain = x5c_chain(field(stmt, "x5c").ok_or(bad("tpm x5c (ecdaa unsupported)"))?)?;
    let aik = parse_leaf(chain.first().ok_or(bad("empty x5c"))?)?;
    sig::verify_statement(
        alg,
        aik.public_key(),
        cert_info_bytes,
        signature,
        input.policy,
        input.backend,
    )?;
    aik_requirements(&aik, input)?;
    leaf_may_sign(&aik)?;
    Ok((AttestationType::AttCa, chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tpm2b(b: &[u8]) -> Vec<u8> {
        let mut out = u16::try_from(b.len()).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(b);
        out
    }

    fn ecc_pub_area(symmetric: &[u8], scheme: &[u8], kdf: &[u8]) -> Vec<u8> {
        [
            &TPM_ALG_ECC.to_be_bytes()[..],
            &TPM_ALG_SHA256.to_be_bytes(),
            &0x0006_0472_u32.to_be_bytes(),
            &tpm2b(&[]),
            symmetric,
            scheme,
            &TPM_ECC_NIST_P256.to_be_bytes(),
            kdf,
            &tpm2b(&[1; 32]),
            &tpm2b(&[2; 32]),
        ]
        .concat()
    }

    #[test]
    fn pub_area_parameters_with_and_without_null_algorithms() {
        let null = TPM_ALG_NULL.to_be_bytes();
        let p = parse_pub_area(&ecc_pub_area(&null, &null, &null)).unwrap();
        assert_eq!(p.name_alg, TPM_ALG_SHA256);
        assert_eq!(
            p.key,
            TpmKey::Ecc {
                curve: TPM_ECC_NIST_P256,
                x: vec![1; 32],
                y: vec![2; 32]
            }
        );
        // AES-128-CFB symmetric, ECDSA-SHA256 scheme, a KDF with its hash: the extra
        // fields are read, and the key is the same.
        let aes = [0x00, 0x06, 0x00, 0x80, 0x00, 0x43];
        let ecdsa = [0x00, 0x18, 0x00, 0x0b];
        let kdf = [0x00, 0x20, 0x00, 0x0b];
        assert_eq!(
            parse_pub_area(&ecc_pub_area(&aes, &ecdsa, &kdf)).unwrap(),
            p
        );
        // Trailing bytes, truncation, and an unknown type are refused.
        let mut bytes = ecc_pub_area(&null, &null, &null);
        bytes.push(0);
        assert_eq!(parse_pub_area(&bytes), None);
        bytes.truncate(bytes.len() - 2);
        assert_eq!(parse_pub_area(&bytes), None);
        let mut bytes = ecc_pub_area(&null, &null, &null);
        bytes[1] = 0x25;
        assert_eq!(parse_pub_area(&bytes), None);
    }

    #[test]
    fn cert_info_must_be_a_certify_structure() {
        let info = |kind: u16| {
            [
                &TPM_GENERATED.to_be_bytes()[..],
                &kind.to_be_bytes(),
                &tpm2b(b"signer"),
                &tpm2b(&[9; 32]),
                &[0; 17],
                &[0; 8],
                &tpm2b(&[3; 34]),
                &tpm2b(b"qualified"),
            ]
            .concat()
        };
        let c = parse_cert_info(&info(TPM_ST_ATTEST_CERTIFY)).unwrap();
        assert_eq!(c.extra_data, [9; 32]);
        assert_eq!(c.name, [3; 34]);
        // A quote (0x8018) is not a certify structure.
        assert_eq!(parse_cert_info(&info(0x8018)), None);
        let mut trailing = info(TPM_ST_ATTEST_CERTIFY);
        trailing.push(0);
        assert_eq!(parse_cert_info(&trailing), None);
    }
}
