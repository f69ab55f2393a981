//! Attestation statement formats of this crate (WebAuthn L3 §8): `none` (§8.7),
//! `packed` (§8.2, self and x5c) and `fido-u2f` (§8.6).
//!
//! Certificates are parsed with `x509-parser` (a well-kept, lenient-by-design DER
//! parser: real attestation certificates carry small DER defects that strict parsers
//! refuse). Trust-anchor evaluation is not done here: a valid statement whose chain is
//! not evaluated is reported as [`AttestationType::Basic`] with the chain kept.

use ciborium::Value;
use x509_parser::der_parser::oid::Oid;
use x509_parser::prelude::*;

use crate::cose::{self, Algorithm};
use crate::crypto::{Backend, verify_signature, verify_with_policy};
use crate::error::{Error, Result};
use crate::hazmat::authdata::AuthenticatorData;

/// id-fido-gen-ce-aaguid (§8.2.1).
const OID_FIDO_AAGUID: &[u64] = &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4];

/// How the attestation vouches for the credential (§6.5.4).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationType {
    /// A certificate chain (basic or attestation-CA; they cannot be told apart without
    /// metadata). Not evaluated against trust anchors by this crate.
    Basic,
    /// No attestation (`none`).
    None,
    /// Self attestation: signed by the credential key itself.
    #[serde(rename = "self")]
    SelfAttestation,
}

/// The result of verifying an attestation statement.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Verdict {
    pub(crate) fmt: String,
    pub(crate) kind: AttestationType,
    pub(crate) x5c: Vec<Vec<u8>>,
}

/// §7.1 steps 21–22: dispatch on `fmt` (case-sensitive) and verify the statement.
/// `allow_rs1`: the relying party's `danger_allow_rs1` opt-in (RS1 packed statements).
#[allow(
    clippy::too_many_arguments,
    reason = "the statement's inputs and the policy"
)]
pub(crate) fn verify(
    fmt: &str,
    att_stmt: &[(Value, Value)],
    auth_data_bytes: &[u8],
    auth_data: &AuthenticatorData<'_>,
    client_data_hash: &[u8; 32],
    credential_key: &Result<cose::PublicKey>,
    backend: Backend,
    allow_rs1: bool,
) -> Result<Verdict> {
    // Formats that need the credential key get its parse error; `packed` with x5c
    // does not need it.
    let key = || credential_key.as_ref().map_err(clone_error);
    let signed = [auth_data_bytes, client_data_hash.as_slice()].concat();
    let (kind, x5c) = match fmt {
        // §8.7: the statement is an empty map.
        "none" => {
            if !att_stmt.is_empty() {
                return Err(Error::InvalidAttestationStatement("none with a statement"));
            }
            (AttestationType::None, Vec::new())
        }
        "packed" => packed(att_stmt, &signed, auth_data, key, backend, allow_rs1)?,
        "fido-u2f" => fido_u2f(att_stmt, auth_data, client_data_hash, key()?, backend)?,
        _ => return Err(Error::UnsupportedAttestationFormat),
    };
    Ok(Verdict {
        fmt: fmt.to_owned(),
        kind,
        x5c,
    })
}

/// §8.2 packed.
fn packed<'k>(
    att_stmt: &[(Value, Value)],
    signed: &[u8],
    auth_data: &AuthenticatorData<'_>,
    credential_key: impl Fn() -> Result<&'k cose::PublicKey>,
    backend: Backend,
    allow_rs1: bool,
) -> Result<(AttestationType, Vec<Vec<u8>>)> {
    // Verify attStmt is valid CBOR with the syntax above.
    let alg = field(att_stmt, "alg")
        .and_then(|v| v.as_integer())
        .and_then(|i| i64::try_from(i).ok())
        .ok_or(Error::InvalidAttestationStatement("packed alg"))?;
    let sig = field(att_stmt, "sig")
        .and_then(Value::as_bytes)
        .ok_or(Error::InvalidAttestationStatement("packed sig"))?;
    if field(att_stmt, "ecdaaKeyId").is_some() {
        return Err(Error::InvalidAttestationStatement("ecdaa is not supported"));
    }
    match field(att_stmt, "x5c") {
        Some(x5c) => {
            let chain = x5c_chain(x5c)?;
            let leaf_der = chain
                .first()
                .ok_or(Error::InvalidAttestationStatement("empty x5c"))?;
            let (_, leaf) = X509Certificate::from_der(leaf_der)
                .map_err(|_| Error::InvalidAttestationCertificate("unparsable certificate"))?;
            // Verify sig over authenticatorData || clientDataHash with attestnCert's key
            // and alg.
            let alg = Algorithm::from_cose_id(alg)
                .ok_or(Error::InvalidAttestationStatement("unsupported packed alg"))?;
            let key = spki_key(leaf.public_key(), alg)?;
            // RS1 only with the relying party's danger_allow_rs1 opt-in.
            verify_with_policy(backend, allow_rs1, &key, signed, sig)
                .map_err(|_| Error::InvalidAttestationStatement("packed signature"))?;
            // Verify attestnCert meets §8.2.1, including the AAGUID extension rule.
            packed_certificate_requirements(&leaf, auth_data)?;
            Ok((AttestationType::Basic, chain))
        }
        None => {
            // Self attestation: alg matches the credential key's, and sig verifies with it.
            let credential_key = credential_key()?;
            if alg != credential_key.alg.cose_id() {
                return Err(Error::InvalidAttestationStatement("self attestation alg"));
            }
            verify_with_policy(backend, allow_rs1, credential_key, signed, sig)
                .map_err(|_| Error::InvalidAttestationStatement("self attestation signature"))?;
            Ok((AttestationType::SelfAttestation, Vec::new()))
        }
    }
}

/// §8.2.1 packed attestation statement certificate requirements.
fn packed_certificate_requirements(
    cert: &X509Certificate<'_>,
    auth_data: &AuthenticatorData<'_>,
) -> Result<()> {
    // Version MUST be set to 3 (ASN.1 value 2).
    if cert.version() != X509Version::V3 {
        return Err(Error::InvalidAttestationCertificate("not version 3"));
    }
    // Subject: C (ISO 3166 code), O, OU = "Authenticator Attestation", CN.
    let subject = cert.subject();
    let country = first_str(subject.iter_country());
    let org = first_str(subject.iter_organization());
    let ou = first_str(subject.iter_organizational_unit());
    let cn = first_str(subject.iter_common_name());
    if !country.is_some_and(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())) {
        return Err(Error::InvalidAttestationCertificate("subject country"));
    }
    if org.is_none_or(|o| o.is_empty()) || cn.is_none() {
        return Err(Error::InvalidAttestationCertificate(
            "subject organisation or name",
        ));
    }
    if ou.as_deref() != Some("Authenticator Attestation") {
        return Err(Error::InvalidAttestationCertificate(
            "subject organisational unit",
        ));
    }
    // If id-fido-gen-ce-aaguid is present it MUST NOT be critical and MUST equal the
    // AAGUID in authenticatorData.
    let aaguid_oid = Oid::from(OID_FIDO_AAGUID)
        .map_err(|_| Error::InvalidAttestationCertificate("aaguid oid"))?;
    for ext in cert.extensions() {
        if ext.oid == aaguid_oid {
            let want = auth_data.attested.as_ref().map(|a| a.aaguid);
            let inner = ext.value.strip_prefix(&[0x04, 0x10]);
            if ext.critical || inner.is_none() || inner != want.as_ref().map(|a| a.as_slice()) {
                return Err(Error::InvalidAttestationCertificate("aaguid extension"));
            }
        }
    }
    // Basic Constraints: CA MUST be false.
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => Err(Error::InvalidAttestationCertificate("ca certificate")),
        Ok(_) => Ok(()),
        Err(_) => Err(Error::InvalidAttestationCertificate("basic constraints")),
    }
}

/// §8.6 fido-u2f.
fn fido_u2f(
    att_stmt: &[(Value, Value)],
    auth_data: &AuthenticatorData<'_>,
    client_data_hash: &[u8; 32],
    credential_key: &cose::PublicKey,
    backend: Backend,
) -> Result<(AttestationType, Vec<Vec<u8>>)> {
    let sig = field(att_stmt, "sig")
        .and_then(Value::as_bytes)
        .ok_or(Error::InvalidAttestationStatement("fido-u2f sig"))?;
    let chain = x5c_chain(
        field(att_stmt, "x5c").ok_or(Error::InvalidAttestationStatement("fido-u2f x5c"))?,
    )?;
    // Check that x5c has exactly one element.
    let [leaf_der] = chain.as_slice() else {
        return Err(Error::InvalidAttestationStatement("fido-u2f x5c length"));
    };
    let (_, leaf) = X509Certificate::from_der(leaf_der)
        .map_err(|_| Error::InvalidAttestationCertificate("unparsable certificate"))?;
    // If certificate public key is not an EC public key over P-256, terminate.
    let cert_key = spki_key(leaf.public_key(), Algorithm::Es256)?;
    let attested = auth_data
        .attested
        .as_ref()
        .ok_or(Error::MalformedAuthenticatorData(
            "no attested credential data",
        ))?;
    // Convert the COSE_KEY to Raw ANSI X9.62 public key format.
    let cose::KeyMaterial::P256(public_key_u2f) = &credential_key.key else {
        return Err(Error::InvalidAttestationStatement(
            "fido-u2f credential key not p-256",
        ));
    };
    // verificationData = 0x00 || rpIdHash || clientDataHash || credentialId || publicKeyU2F.
    let verification_data = [
        &[0u8][..],
        auth_data.rp_id_hash,
        client_data_hash,
        attested.credential_id,
        public_key_u2f,
    ]
    .concat();
    verify_signature(backend, &cert_key, &verification_data, sig)
        .map_err(|_| Error::InvalidAttestationStatement("fido-u2f signature"))?;
    Ok((AttestationType::Basic, chain))
}

/// The errors a COSE key parse can give, copied for the formats that need the key.
fn clone_error(e: &Error) -> Error {
    match e {
        Error::AlgorithmNotAllowed(a) => Error::AlgorithmNotAllowed(*a),
        Error::Malformed(m) => Error::Malformed(m),
        _ => Error::Malformed("cose key"),
    }
}

fn first_str<'a, 'b: 'a>(
    mut it: impl Iterator<Item = &'a AttributeTypeAndValue<'b>>,
) -> Option<String> {
    it.next().and_then(|a| a.as_str().ok()).map(str::to_owned)
}

fn x5c_chain(v: &Value) -> Result<Vec<Vec<u8>>> {
    v.as_array()
        .ok_or(Error::InvalidAttestationStatement("x5c not an array"))?
        .iter()
        .map(|c| {
            c.as_bytes()
                .cloned()
                .ok_or(Error::InvalidAttestationStatement("x5c entry not bytes"))
        })
        .collect()
}

/// The uncompressed point of an EC subject public key on `curve`, or `None` when the key
/// is not EC, is on another curve, or has the wrong length for `N`.
fn ec_point<const N: usize>(spki: &SubjectPublicKeyInfo<'_>, curve: &Oid<'_>) -> Option<[u8; N]> {
    let params = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
    if spki.algorithm.algorithm != oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY || params != *curve {
        return None;
    }
    <[u8; N]>::try_from(&*spki.subject_public_key.data).ok()
}

/// A certificate's subject public key, for the given algorithm.
fn spki_key(spki: &SubjectPublicKeyInfo<'_>, alg: Algorithm) -> Result<cose::PublicKey> {
    let bad = Error::InvalidAttestationCertificate("public key does not match alg");
    let oid = &spki.algorithm.algorithm;
    let data: &[u8] = &spki.subject_public_key.data;
    let key = match alg {
        Algorithm::Es256 => {
            cose::KeyMaterial::P256(ec_point(spki, &oid_registry::OID_EC_P256).ok_or(bad)?)
        }
        Algorithm::Es384 => {
            cose::KeyMaterial::P384(ec_point(spki, &oid_registry::OID_NIST_EC_P384).ok_or(bad)?)
        }
        Algorithm::Es512 => cose::KeyMaterial::P521(Box::new(
            ec_point(spki, &oid_registry::OID_NIST_EC_P521).ok_or(bad)?,
        )),
        Algorithm::EdDsa => {
            if *oid != oid_registry::OID_SIG_ED25519 {
                return Err(bad);
            }
            cose::KeyMaterial::Ed25519(<[u8; 32]>::try_from(data).map_err(|_| bad)?)
        }
        Algorithm::Ed448 => {
            if *oid != oid_registry::OID_SIG_ED448 {
                return Err(bad);
            }
            cose::KeyMaterial::Ed448(Box::new(<[u8; 57]>::try_from(data).map_err(|_| bad)?))
        }
        // RS1 statements are refused by `verify_signature`.
        a if a.is_rsa() => match spki.parsed() {
            Ok(public_key::PublicKey::RSA(rsa)) => cose::rsa_key(rsa.modulus, rsa.exponent)
                .map_err(|_| Error::InvalidAttestationCertificate("rsa key size"))?,
            _ => return Err(bad),
        },
        // ML-DSA attestation certificates: not read here.
        _ => return Err(bad),
    };
    Ok(cose::PublicKey { alg, key })
}

/// The value under a text key of a CBOR map.
pub(crate) fn field<'a>(map: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    map.iter()
        .find_map(|(k, v)| (k.as_text() == Some(name)).then_some(v))
}
