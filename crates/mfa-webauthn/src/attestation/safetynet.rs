//! §8.5 Android SafetyNet attestation: a JWS (compact form) whose header carries the
//! certificate chain and whose payload carries the nonce and the device verdict.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::Digest as _;
use x509_parser::prelude::*;

use crate::attestation::{AttestationType, Input, field, leaf_may_sign, parse_leaf, sig};
use crate::error::{IResult, InternalError};

/// How far the JWS timestamp may be from the verification instant, in milliseconds.
const FRESHNESS_MS: u64 = 60_000;

/// A parsed SafetyNet JWS, before any check.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct Jws {
    /// The header's `alg`.
    pub alg: String,
    /// The header's `x5c`, DER, leaf first.
    pub x5c: Vec<Vec<u8>>,
    /// The payload.
    pub payload: serde_json::Value,
    /// `header.payload`, the signed bytes.
    pub signing_input: Vec<u8>,
    /// The signature.
    pub signature: Vec<u8>,
}

/// Parses a compact JWS (`b64url(header).b64url(payload).b64url(signature)`).
pub fn parse_jws(response: &[u8]) -> Option<Jws> {
    let text = std::str::from_utf8(response).ok()?;
    let mut parts = text.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    let payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    if !payload.is_object() {
        return None;
    }
    let alg = header.get("alg")?.as_str()?.to_owned();
    let x5c = header
        .get("x5c")?
        .as_array()?
        .iter()
        .map(|c| STANDARD.decode(c.as_str()?).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(Jws {
        alg,
        x5c,
        payload,
        signing_input: format!("{h}.{p}").into_bytes(),
        signature: URL_SAFE_NO_PAD.decode(s).ok()?,
    })
}

/// Whether the certificate is issued to `attest.android.com` (subject CN or a DNS SAN).
fn issued_to_attest_android(cert: &X509Certificate<'_>) -> bool {
    const HOST: &str = "attest.android.com";
    let cn = cert
        .subject()
        .iter_common_name()
        .any(|a| a.as_str().is_ok_and(|s| s == HOST));
    let san = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .is_some_and(|s| {
            s.value
                .general_names
                .iter()
                .any(|n| matches!(n, GeneralName::DNSName(d) if *d == HOST))
        });
    cn || san
}

pub(super) fn verify(input: &Input<'_>, signed: &[u8]) -> IResult<(AttestationType, Vec<Vec<u8>>)> {
    let bad = InternalError::InvalidAttestationStatement;
    // ver is a non-empty text; response is the JWS.
    if field(input.att_stmt, "ver")
        .and_then(ciborium::Value::as_text)
        .is_none_or(str::is_empty)
    {
        return Err(bad("safetynet ver"));
    }
    let response = field(input.att_stmt, "response")
        .and_then(ciborium::Value::as_bytes)
        .ok_or(bad("safetynet response"))?;
    let jws = parse_jws(response).ok_or(bad("safetynet jws"))?;
    // nonce = base64(SHA-256(authenticatorData || clientDataHash)).
    let nonce = STANDARD.encode(sha2::Sha256::digest(signed));
    if jws.payload.get("nonce").and_then(|n| n.as_str()) != Some(nonce.as_str()) {
        return Err(bad("safetynet nonce"));
    }
    // The leaf is issued to attest.android.com, and signed the JWS.
    let leaf = parse_leaf(jws.x5c.first().ok_or(bad("safetynet x5c"))?)?;
    if !issued_to_attest_android(&leaf) {
        return Err(InternalError::InvalidAttestationCertificate(
            "safetynet certificate not for attest.android.com",
        ));
    }
    let alg = match jws.alg.as_str() {
        "RS256" => -257,
        _ => return Err(bad("safetynet jws alg")),
    };
    sig::verify_statement(
        alg,
        leaf.public_key(),
        &jws.signing_input,
        &jws.signature,
        input.policy,
        input.backend,
    )?;
    leaf_may_sign(&leaf)?;
    // The timestamp is within a minute of the verification instant.
    let ts = jws
        .payload
        .get("timestampMs")
        .and_then(serde_json::Value::as_u64)
        .ok_or(bad("safetynet timestamp"))?;
    let now_ms = input
        .now
        .ok_or(bad("safetynet needs a verification time"))?
        .unix_secs()
        .saturating_mul(1000);
    if ts.abs_diff(now_ms) > FRESHNESS_MS {
        return Err(bad("safetynet timestamp not fresh"));
    }
    if input.policy.require_cts_profile_match
        && jws
            .payload
            .get("ctsProfileMatch")
            .and_then(serde_json::Value::as_bool)
            != Some(true)
    {
        return Err(InternalError::CtsProfileMismatch);
    }
    Ok((AttestationType::Basic, jws.x5c))
}
