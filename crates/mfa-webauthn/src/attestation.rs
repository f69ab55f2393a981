//! Attestation statement formats (WebAuthn L3 §8): `none` (§8.7), `packed` (§8.2, self
//! and x5c), `tpm` (§8.3), `android-key` (§8.4), `android-safetynet` (§8.5),
//! `fido-u2f` (§8.6) and `apple` (§8.8); then the trust evaluation of the chain
//! (`chain`, [`crate::trust`]).
//!
//! Certificates are parsed with `x509-parser` (a well-kept, lenient-by-design DER
//! parser: real attestation certificates carry small DER defects that strict parsers
//! refuse).

use ciborium::Value;
use mfa_core::Timestamp;
use x509_parser::der_parser::oid::Oid;
use x509_parser::prelude::*;

use crate::cose::{self, Algorithm};
use crate::crypto::{Backend, verify_signature, verify_with_policy};
use crate::error::{IResult, InternalError};
use crate::hazmat::authdata::AuthenticatorData;
use crate::trust::{AttestationPolicy, AttestationTrust};

pub(crate) mod android;
pub(crate) mod apple;
pub(crate) mod chain;
pub(crate) mod der;
pub(crate) mod safetynet;
pub(crate) mod sig;
pub(crate) mod tpm;

/// id-fido-gen-ce-aaguid (§8.2.1).
const OID_FIDO_AAGUID: &[u64] = &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4];

/// How the attestation vouches for the credential (§6.5.4).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationType {
    /// Basic attestation: a certificate chain of the authenticator model (`packed` with
    /// x5c, where basic and attestation-CA cannot be told apart without metadata;
    /// `fido-u2f`, `android-key`, `android-safetynet`).
    Basic,
    /// Attestation CA: the authenticator's attestation identity key is certified by a
    /// CA (`tpm`).
    #[serde(rename = "attca")]
    AttCa,
    /// Anonymization CA: a per-credential certificate from the vendor's CA (`apple`).
    #[serde(rename = "anonca")]
    AnonCa,
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
    pub(crate) trust: AttestationTrust,
}

/// What a format's verification needs besides the statement.
pub(crate) struct Input<'a> {
    pub(crate) att_stmt: &'a [(Value, Value)],
    pub(crate) auth_data: &'a AuthenticatorData<'a>,
    pub(crate) client_data_hash: &'a [u8; 32],
    pub(crate) policy: &'a AttestationPolicy,
    /// The verification instant, when the caller gave one.
    pub(crate) now: Option<Timestamp>,
    pub(crate) backend: Backend,
}

/// §7.1 steps 21–24: dispatch on `fmt` (case-sensitive), verify the statement, then
/// evaluate its chain against the policy's anchors at `now` (Unix seconds).
///
/// RS1: a statement signed by an attestation certificate's key needs the policy's
/// `danger_allow_rs1_attestation`; a packed self attestation is signed by the
/// credential key and needs `allow_rs1_credential` (the relying party's
/// `danger_allow_rs1`, which registration already required of an RS1 credential key).
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
    credential_key: &IResult<cose::PublicKey>,
    policy: &AttestationPolicy,
    now: Option<Timestamp>,
    backend: Backend,
    allow_rs1_credential: bool,
) -> IResult<Verdict> {
    let input = Input {
        att_stmt,
        auth_data,
        client_data_hash,
        policy,
        now,
        backend,
    };
    let now_secs = now.map(Timestamp::unix_secs);
    // Formats that need the credential key get its parse error; `packed` with x5c
    // does not need it.
    let key = || credential_key.as_ref().map_err(clone_error);
    let signed = [auth_data_bytes, client_data_hash.as_slice()].concat();
    let (kind, x5c) = match fmt {
        // §8.7: the statement is an empty map.
        "none" => {
            if !att_stmt.is_empty() {
                return Err(InternalError::InvalidAttestationStatement(
                    "none with a statement",
                ));
            }
            (AttestationType::None, Vec::new())
        }
        "packed" => packed(
            att_stmt,
            &signed,
            auth_data,
            key,
            policy,
            backend,
            allow_rs1_credential,
        )?,
        "fido-u2f" => fido_u2f(att_stmt, auth_data, client_data_hash, key()?, backend)?,
        "tpm" => tpm::verify(&input, key()?, &signed)?,
        "android-key" => android::verify(&input, key()?, &signed)?,
        "android-safetynet" => safetynet::verify(&input, &signed)?,
        "apple" => apple::verify(&input, key()?, &signed)?,
        _ => return Err(InternalError::UnsupportedAttestationFormat),
    };
    let aaguid = auth_data
        .attested
        .as_ref()
        .map(|a| a.aaguid)
        .unwrap_or_default();
    let trust = policy.evaluate(fmt, &aaguid, &x5c, now_secs)?;
    Ok(Verdict {
        fmt: fmt.to_owned(),
        kind,
        x5c,
        trust,
    })
}

/// §8.2 packed.
fn packed<'k>(
    att_stmt: &[(Value, Value)],
    signed: &[u8],
    auth_data: &AuthenticatorData<'_>,
    credential_key: impl Fn() -> IResult<&'k cose::PublicKey>,
    policy: &AttestationPolicy,
    backend: Backend,
    allow_rs1_credential: bool,
) -> IResult<(AttestationType, Vec<Vec<u8>>)> {
    // Verify attStmt is valid CBOR with the syntax above.
    let alg = field(att_stmt, "alg")
        .and_then(|v| v.as_integer())
        .and_then(|i| i64::try_from(i).ok())
        .ok_or(InternalError::InvalidAttestationStatement("packed alg"))?;
    let sig = field(att_stmt, "sig")
        .and_then(Value::as_bytes)
        .ok_or(InternalError::InvalidAttestationStatement("packed sig"))?;
    if field(att_stmt, "ecdaaKeyId").is_some() {
        return Err(InternalError::InvalidAttestationStatement(
            "ecdaa is not supported",
        ));
    }
    match field(att_stmt, "x5c") {
        Some(x5c) => {
            let chain = x5c_chain(x5c)?;
            let leaf_der = chain
                .first()
                .ok_or(InternalError::InvalidAttestationStatement("empty x5c"))?;
            let (_, leaf) = X509Certificate::from_der(leaf_der).map_err(|_| {
                InternalError::InvalidAttestationCertificate("unparsable certificate")
            })?;
            // Verify sig over authenticatorData || clientDataHash with attestnCert's key
            // and alg.
            // RS1 only with the policy's danger_allow_rs1_attestation opt-in.
            sig::verify_statement(alg, leaf.public_key(), signed, sig, policy, backend)?;
            leaf_may_sign(&leaf)?;
            // Verify attestnCert meets §8.2.1, including the AAGUID extension rule.
            packed_certificate_requirements(&leaf, auth_data)?;
            Ok((AttestationType::Basic, chain))
        }
        None => {
            // Self attestation: alg matches the credential key's, and sig verifies with it.
            let credential_key = credential_key()?;
            if alg != credential_key.alg.cose_id() {
                return Err(InternalError::InvalidAttestationStatement(
                    "self attestation alg",
                ));
            }
            // Signed by the credential key: RS1 as the credential key's opt-in.
            verify_with_policy(backend, allow_rs1_credential, credential_key, signed, sig)
                .map_err(|_| {
                    InternalError::InvalidAttestationStatement("self attestation signature")
                })?;
            Ok((AttestationType::SelfAttestation, Vec::new()))
        }
    }
}

/// §8.2.1 packed attestation statement certificate requirements.
fn packed_certificate_requirements(
    cert: &X509Certificate<'_>,
    auth_data: &AuthenticatorData<'_>,
) -> IResult<()> {
    // Version MUST be set to 3 (ASN.1 value 2).
    if cert.version() != X509Version::V3 {
        return Err(InternalError::InvalidAttestationCertificate(
            "not version 3",
        ));
    }
    // Subject: C (ISO 3166 code), O, OU = "Authenticator Attestation", CN.
    let subject = cert.subject();
    let country = first_str(subject.iter_country());
    let org = first_str(subject.iter_organization());
    let ou = first_str(subject.iter_organizational_unit());
    let cn = first_str(subject.iter_common_name());
    if !country.is_some_and(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())) {
        return Err(InternalError::InvalidAttestationCertificate(
            "subject country",
        ));
    }
    if org.is_none_or(|o| o.is_empty()) || cn.is_none() {
        return Err(InternalError::InvalidAttestationCertificate(
            "subject organisation or name",
        ));
    }
    if ou.as_deref() != Some("Authenticator Attestation") {
        return Err(InternalError::InvalidAttestationCertificate(
            "subject organisational unit",
        ));
    }
    aaguid_extension(cert, auth_data)?;
    // Basic Constraints: CA MUST be false.
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => Err(InternalError::InvalidAttestationCertificate(
            "ca certificate",
        )),
        Ok(_) => Ok(()),
        Err(_) => Err(InternalError::InvalidAttestationCertificate(
            "basic constraints",
        )),
    }
}

/// If id-fido-gen-ce-aaguid is present it MUST NOT be critical and MUST equal the
/// AAGUID in authenticatorData (§8.2.1, §8.3.1).
pub(crate) fn aaguid_extension(
    cert: &X509Certificate<'_>,
    auth_data: &AuthenticatorData<'_>,
) -> IResult<()> {
    let aaguid_oid = Oid::from(OID_FIDO_AAGUID)
        .map_err(|_| InternalError::InvalidAttestationCertificate("aaguid oid"))?;
    for ext in cert.extensions() {
        if ext.oid == aaguid_oid {
            let want = auth_data.attested.as_ref().map(|a| a.aaguid);
            let inner = ext.value.strip_prefix(&[0x04, 0x10]);
            if ext.critical || inner.is_none() || inner != want.as_ref().map(|a| a.as_slice()) {
                return Err(InternalError::InvalidAttestationCertificate(
                    "aaguid extension",
                ));
            }
        }
    }
    Ok(())
}

/// A certificate whose key signed the statement may sign: a key usage extension, when
/// present and readable, includes digitalSignature.
pub(crate) fn leaf_may_sign(cert: &X509Certificate<'_>) -> IResult<()> {
    match cert.key_usage() {
        Ok(Some(ku)) if !ku.value.digital_signature() => Err(
            InternalError::InvalidAttestationCertificate("key usage without digitalSignature"),
        ),
        Ok(_) => Ok(()),
        Err(_) => Err(InternalError::InvalidAttestationCertificate("key usage")),
    }
}

/// The leaf of an x5c chain, parsed.
pub(crate) fn parse_leaf(der: &[u8]) -> IResult<X509Certificate<'_>> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|_| InternalError::InvalidAttestationCertificate("unparsable certificate"))
}

/// The value of the extension `arcs` of `cert`, if present.
pub(crate) fn extension<'a>(
    cert: &'a X509Certificate<'_>,
    arcs: &[u64],
) -> Option<&'a X509Extension<'a>> {
    cert.extensions()
        .iter()
        .find(|e| e.oid.iter().is_some_and(|it| it.eq(arcs.iter().copied())))
}

/// Whether `cert`'s subject public key is `key` (same algorithm family and bytes).
pub(crate) fn same_key(cert: &X509Certificate<'_>, key: &cose::PublicKey) -> bool {
    spki_key(cert.public_key(), key.alg).is_ok_and(|k| k.key == key.key)
}

/// §8.6 fido-u2f.
fn fido_u2f(
    att_stmt: &[(Value, Value)],
    auth_data: &AuthenticatorData<'_>,
    client_data_hash: &[u8; 32],
    credential_key: &cose::PublicKey,
    backend: Backend,
) -> IResult<(AttestationType, Vec<Vec<u8>>)> {
    let sig = field(att_stmt, "sig")
        .and_then(Value::as_bytes)
        .ok_or(InternalError::InvalidAttestationStatement("fido-u2f sig"))?;
    let chain = x5c_chain(
        field(att_stmt, "x5c").ok_or(InternalError::InvalidAttestationStatement("fido-u2f x5c"))?,
    )?;
    // Check that x5c has exactly one element.
    let [leaf_der] = chain.as_slice() else {
        return Err(InternalError::InvalidAttestationStatement(
            "fido-u2f x5c length",
        ));
    };
    let (_, leaf) = X509Certificate::from_der(leaf_der)
        .map_err(|_| InternalError::InvalidAttestationCertificate("unparsable certificate"))?;
    // If certificate public key is not an EC public key over P-256, terminate.
    let cert_key = spki_key(leaf.public_key(), Algorithm::Es256)?;
    let attested = auth_data
        .attested
        .as_ref()
        .ok_or(InternalError::MalformedAuthenticatorData(
            "no attested credential data",
        ))?;
    // Convert the COSE_KEY to Raw ANSI X9.62 public key format.
    let cose::KeyMaterial::P256(public_key_u2f) = &credential_key.key else {
        return Err(InternalError::InvalidAttestationStatement(
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
        .map_err(|_| InternalError::InvalidAttestationStatement("fido-u2f signature"))?;
    leaf_may_sign(&leaf)?;
    Ok((AttestationType::Basic, chain))
}

/// The errors a COSE key parse can give, copied for the formats that need the key.
pub(crate) fn clone_error(e: &InternalError) -> InternalError {
    match e {
        InternalError::AlgorithmNotAllowed(a) => InternalError::AlgorithmNotAllowed(*a),
        InternalError::Malformed(m) => InternalError::Malformed(m),
        _ => InternalError::Malformed("cose key"),
    }
}

pub(crate) fn first_str<'a, 'b: 'a>(
    mut it: impl Iterator<Item = &'a AttributeTypeAndValue<'b>>,
) -> Option<String> {
    it.next().and_then(|a| a.as_str().ok()).map(str::to_owned)
}

pub(crate) fn x5c_chain(v: &Value) -> IResult<Vec<Vec<u8>>> {
    v.as_array()
        .ok_or(InternalError::InvalidAttestationStatement(
            "x5c not an array",
        ))?
        .iter()
        .map(|c| {
            c.as_bytes()
                .cloned()
                .ok_or(InternalError::InvalidAttestationStatement(
                    "x5c entry not bytes",
                ))
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
pub(crate) fn spki_key(
    spki: &SubjectPublicKeyInfo<'_>,
    alg: Algorithm,
) -> IResult<cose::PublicKey> {
    let bad = InternalError::InvalidAttestationCertificate("public key does not match alg");
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
        // Exhaustive on purpose: a new `Algorithm` must decide here how a certificate
        // carries its key. RS1 is refused by the verification unless opted in.
        Algorithm::Rs256
        | Algorithm::Rs384
        | Algorithm::Rs512
        | Algorithm::Rs1
        | Algorithm::Ps256
        | Algorithm::Ps384
        | Algorithm::Ps512 => match spki.parsed() {
            Ok(public_key::PublicKey::RSA(rsa)) => cose::rsa_key(rsa.modulus, rsa.exponent)
                .map_err(|_| InternalError::InvalidAttestationCertificate("rsa key size"))?,
            _ => return Err(bad),
        },
        // ML-DSA attestation certificates (no settled X.509 profile yet): refused.
        Algorithm::MlDsa44 => return Err(bad),
    };
    Ok(cose::PublicKey { alg, key })
}

/// The value under a text key of a CBOR map.
pub(crate) fn field<'a>(map: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    map.iter()
        .find_map(|(k, v)| (k.as_text() == Some(name)).then_some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_leaf_needs_digital_signature_when_key_usage_is_present() {
        let leaf = include_bytes!("../tests/data/x509/leaf-p256.der");
        let ca_only = include_bytes!("../tests/data/x509/int-p384.der");
        assert!(leaf_may_sign(&parse_leaf(leaf).unwrap()).is_ok());
        assert!(matches!(
            leaf_may_sign(&parse_leaf(ca_only).unwrap()),
            Err(InternalError::InvalidAttestationCertificate(_))
        ));
    }
}
