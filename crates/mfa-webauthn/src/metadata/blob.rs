//! The MDS3 BLOB: the JWS (RFC 7515 compact serialization) and its JSON payload.

use base64::Engine as _;
use mfa_core::Timestamp;
use serde::Deserialize;
use serde::de::IgnoredAny;
use x509_parser::prelude::*;

use super::{
    AuthenticatorStatus, Date, JwsAlgorithm, MetadataEntry, MetadataError, MetadataTrustStore,
    StatusReport,
};
use crate::attestation::chain;
use crate::trust::TrustAnchor;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    x5c: Vec<String>,
}

/// Checks the JWS and returns its decoded payload.
pub(super) fn verify_jws(
    blob: &[u8],
    roots: &[TrustAnchor],
    algorithms: &[JwsAlgorithm],
    now: Timestamp,
) -> Result<Vec<u8>, MetadataError> {
    let text = std::str::from_utf8(blob)
        .map_err(|_| MetadataError::MalformedJws("not text"))?
        .trim_ascii();
    let mut parts = text.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MetadataError::MalformedJws("not three segments"));
    };
    let header = B64URL
        .decode(h)
        .map_err(|_| MetadataError::MalformedJws("header base64url"))?;
    let header: Header =
        serde_json::from_slice(&header).map_err(|_| MetadataError::MalformedJws("header json"))?;
    let alg = JwsAlgorithm::from_name(&header.alg)
        .filter(|a| algorithms.contains(a))
        .ok_or_else(|| MetadataError::AlgorithmNotAllowed(header.alg.clone()))?;
    let x5c = header
        .x5c
        .iter()
        .map(|c| B64.decode(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| MetadataError::MalformedJws("x5c base64"))?;
    let Some(leaf) = x5c.first() else {
        return Err(MetadataError::MalformedJws("no x5c"));
    };
    // The signer chain, to the caller's roots at the caller's instant.
    let ders: Vec<&[u8]> = roots.iter().map(TrustAnchor::der).collect();
    let secs = i64::try_from(now.unix_secs()).unwrap_or(i64::MAX);
    chain::validate(&x5c, &ders, secs).map_err(|e| match e {
        crate::error::InternalError::UntrustedAttestation(m) => MetadataError::UntrustedSigner(m),
        _ => MetadataError::UntrustedSigner("chain"),
    })?;
    let sig = B64URL
        .decode(s)
        .map_err(|_| MetadataError::MalformedJws("signature base64url"))?;
    // The signing input is the two encoded segments as sent.
    let signing_input = text
        .get(..h.len().saturating_add(1).saturating_add(p.len()))
        .ok_or(MetadataError::MalformedJws("segments"))?;
    if !verify_signature(alg, leaf, signing_input.as_bytes(), &sig)? {
        return Err(MetadataError::BadSignature);
    }
    B64URL
        .decode(p)
        .map_err(|_| MetadataError::MalformedJws("payload base64url"))
}

fn verify_signature(
    alg: JwsAlgorithm,
    leaf: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<bool, MetadataError> {
    use sha2::Digest as _;
    let (_, cert) = X509Certificate::from_der(leaf)
        .map_err(|_| MetadataError::UntrustedSigner("unparsable certificate"))?;
    // A signer certificate with key usage must allow digitalSignature.
    match cert.key_usage() {
        Ok(Some(ku)) if !ku.value.digital_signature() => {
            return Err(MetadataError::UntrustedSigner("signer key usage"));
        }
        Ok(_) => {}
        Err(_) => return Err(MetadataError::UntrustedSigner("signer key usage")),
    }
    let spki = cert.public_key();
    let point: &[u8] = &spki.subject_public_key.data;
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok());
    let ec = spki.algorithm.algorithm == oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY;
    Ok(match alg {
        JwsAlgorithm::Es256 => {
            use p256::ecdsa::signature::Verifier as _;
            if !ec || curve != Some(oid_registry::OID_EC_P256) {
                return Ok(false);
            }
            match (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p256::ecdsa::Signature::from_slice(sig),
            ) {
                (Ok(vk), Ok(s)) => vk.verify(msg, &s).is_ok(),
                _ => false,
            }
        }
        JwsAlgorithm::Es384 => {
            use p384::ecdsa::signature::Verifier as _;
            if !ec || curve != Some(oid_registry::OID_NIST_EC_P384) {
                return Ok(false);
            }
            match (
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p384::ecdsa::Signature::from_slice(sig),
            ) {
                (Ok(vk), Ok(s)) => vk.verify(msg, &s).is_ok(),
                _ => false,
            }
        }
        JwsAlgorithm::Rs256 | JwsAlgorithm::Rs384 | JwsAlgorithm::Rs512 => {
            let Some(pk) = chain::rsa_public_key(spki, 4096) else {
                return Ok(false);
            };
            match alg {
                JwsAlgorithm::Rs256 => pk.verify(
                    rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                    &sha2::Sha256::digest(msg),
                    sig,
                ),
                JwsAlgorithm::Rs384 => pk.verify(
                    rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                    &sha2::Sha384::digest(msg),
                    sig,
                ),
                _ => pk.verify(
                    rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                    &sha2::Sha512::digest(msg),
                    sig,
                ),
            }
            .is_ok()
        }
    })
}

// --- the payload (FIDO Metadata Service v3 §3.1.6 MetadataBLOBPayload) ---

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    #[serde(default)]
    legal_header: Option<IgnoredOr<String>>,
    no: u64,
    next_update: String,
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(default)]
    aaguid: Option<String>,
    #[serde(default)]
    attestation_certificate_key_identifiers: Option<Vec<String>>,
    #[serde(default)]
    metadata_statement: Option<RawStatement>,
    #[serde(default)]
    status_reports: Vec<RawStatus>,
    #[serde(default)]
    time_of_last_status_change: Option<IgnoredOr<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatement {
    #[serde(default)]
    description: Option<IgnoredOr<String>>,
    #[serde(default)]
    attestation_root_certificates: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatus {
    status: String,
    #[serde(default)]
    effective_date: Option<IgnoredOr<String>>,
}

/// An informational member: its value when it has the expected type, else ignored (a
/// schema change there must not break loading).
#[derive(Deserialize)]
#[serde(untagged)]
enum IgnoredOr<T> {
    Value(T),
    Other(IgnoredAny),
}

impl<T> IgnoredOr<T> {
    fn value(o: Option<Self>) -> Option<T> {
        match o {
            Some(Self::Value(v)) => Some(v),
            _ => None,
        }
    }
}

/// Parses and compiles a payload.
pub(super) fn compile(payload: &[u8]) -> Result<MetadataTrustStore, MetadataError> {
    let p: Payload = serde_json::from_slice(payload)
        .map_err(|_| MetadataError::MalformedPayload("not the MDS3 payload json"))?;
    let next_update = Date::parse(&p.next_update).ok_or(MetadataError::MalformedPayload(
        "nextUpdate is not YYYY-MM-DD",
    ))?;
    let mut entries = Vec::with_capacity(p.entries.len());
    for (index, e) in p.entries.into_iter().enumerate() {
        let (description, roots) = match e.metadata_statement {
            Some(s) => (
                IgnoredOr::value(s.description),
                s.attestation_root_certificates,
            ),
            None => (None, Vec::new()),
        };
        let reports = e
            .status_reports
            .into_iter()
            .map(|r| StatusReport {
                status: AuthenticatorStatus::parse(&r.status),
                effective_date: IgnoredOr::value(r.effective_date),
            })
            .collect();
        if let Some(entry) = entry(
            index,
            e.aaguid.as_deref(),
            e.attestation_certificate_key_identifiers
                .as_deref()
                .unwrap_or_default(),
            description,
            &roots,
            reports,
            IgnoredOr::value(e.time_of_last_status_change),
        )? {
            entries.push(entry);
        }
    }
    MetadataTrustStore::from_entries(p.no, next_update, IgnoredOr::value(p.legal_header), entries)
}

/// One entry, checked strictly; `None` for an entry with neither an AAGUID nor key
/// identifiers (UAF).
pub(super) fn entry(
    index: usize,
    aaguid: Option<&str>,
    key_ids: &[String],
    description: Option<String>,
    roots: &[String],
    status_reports: Vec<StatusReport>,
    time_of_last_status_change: Option<String>,
) -> Result<Option<MetadataEntry>, MetadataError> {
    let bad = |reason| MetadataError::InvalidEntry { index, reason };
    let aaguid = aaguid
        .map(|a| parse_aaguid(a).ok_or(bad("malformed aaguid")))
        .transpose()?;
    if aaguid == Some([0; 16]) {
        // The all-zero AAGUID is what U2F and `none`-anonymised authenticators report.
        return Err(bad("all-zero aaguid"));
    }
    let key_ids = key_ids
        .iter()
        .map(|k| parse_key_id(k).ok_or(bad("malformed attestation certificate key identifier")))
        .collect::<Result<Vec<_>, _>>()?;
    if aaguid.is_none() && key_ids.is_empty() {
        return Ok(None);
    }
    let roots = roots
        .iter()
        .map(|r| {
            B64.decode(r)
                .ok()
                .and_then(|der| TrustAnchor::from_der(der).ok())
                .ok_or(bad("malformed attestation root certificate"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(MetadataEntry {
        aaguid,
        key_ids,
        description,
        roots,
        status_reports,
        time_of_last_status_change,
    }))
}

/// An AAGUID in its 8-4-4-4-12 hex form (either case).
pub fn parse_aaguid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut hex = Vec::with_capacity(32);
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
        } else {
            hex.push(c);
        }
    }
    decode_hex(&hex, &mut out)?;
    Some(out)
}

fn parse_key_id(s: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    if s.len() != 40 {
        return None;
    }
    decode_hex(s.as_bytes(), &mut out)?;
    Some(out)
}

fn decode_hex(hex: &[u8], out: &mut [u8]) -> Option<()> {
    if hex.len() != out.len().saturating_mul(2) {
        return None;
    }
    let nib = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let &[hi, lo] = pair else {
            return None;
        };
        *o = (nib(hi)? << 4) | nib(lo)?;
    }
    Some(())
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

pub(super) fn format_aaguid(a: &[u8; 16]) -> String {
    let h = hex(a);
    let part = |r: std::ops::Range<usize>| h.get(r).unwrap_or_default().to_owned();
    format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

/// What an (unverified) payload compiles to, for inspection and fuzzing.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct PayloadSummary {
    /// `no`.
    pub no: u64,
    /// `nextUpdate`.
    pub next_update: Date,
    /// The number of compiled entries (with an AAGUID or key identifiers).
    pub entries: usize,
}

/// Parses and compiles an MDS3 payload **without any signature** and returns only its
/// summary (no trust store comes out of unverified data).
///
/// # Errors
///
/// As [`MetadataLoader::load`](super::MetadataLoader::load) for the payload.
pub(crate) fn parse_payload_summary(payload: &[u8]) -> Result<PayloadSummary, MetadataError> {
    let s = compile(payload)?;
    Ok(PayloadSummary {
        no: s.no,
        next_update: s.next_update,
        entries: s.entries.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aaguids_and_key_ids_are_strict() {
        let a = parse_aaguid("cb69481e-8ff7-4039-93ec-0a2729a154a8").unwrap();
        assert_eq!(format_aaguid(&a), "cb69481e-8ff7-4039-93ec-0a2729a154a8");
        assert_eq!(
            parse_aaguid("CB69481E-8FF7-4039-93EC-0A2729A154A8"),
            Some(a)
        );
        for bad in [
            "cb69481e8ff7403993ec0a2729a154a8",
            "cb69481e-8ff7-4039-93ec-0a2729a154a",
            "cb69481e-8ff7-4039-93ec-0a2729a154a8 ",
            "cb69481e_8ff7-4039-93ec-0a2729a154a8",
            "gb69481e-8ff7-4039-93ec-0a2729a154a8",
            "cb69481e-8ff7-4039-93ec+0a2729a154a8",
            "",
        ] {
            assert!(parse_aaguid(bad).is_none(), "{bad}");
        }
        assert!(parse_key_id("923881fe2f214ee465484371aeb72e97f5a58e0a").is_some());
        assert!(parse_key_id("923881fe2f214ee465484371aeb72e97f5a58e0").is_none());
        assert!(parse_key_id("923881fe2f214ee465484371aeb72e97f5a58e0z").is_none());
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
