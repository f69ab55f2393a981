//! Signing test BLOBs (feature `testkit`): ES256 JWS over any header and payload, with a
//! P-256 key given as its raw 32-byte scalar. Test keys only.

use base64::Engine as _;
use mfa_core::InvalidInput;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The JWS header FIDO's BLOBs carry, for `alg` and the chain `x5c` (DER, leaf first).
pub fn header(alg: &str, x5c: &[Vec<u8>]) -> Vec<u8> {
    let x5c: Vec<String> = x5c.iter().map(|c| B64.encode(c)).collect();
    serde_json::json!({ "alg": alg, "typ": "JWT", "x5c": x5c })
        .to_string()
        .into_bytes()
}

/// `base64url(header) . base64url(payload) . base64url(ES256 signature)` with the P-256
/// private scalar `key`, whatever the header says (so a test can lie in it).
///
/// # Errors
///
/// When `key` is not a valid P-256 scalar.
pub fn sign_es256(header: &[u8], payload: &[u8], key: &[u8]) -> Result<Vec<u8>, InvalidInput> {
    use p256::ecdsa::signature::Signer as _;
    let key = p256::ecdsa::SigningKey::from_slice(key)
        .map_err(|_| InvalidInput::new("key", "not a P-256 scalar"))?;
    let input = format!("{}.{}", B64URL.encode(header), B64URL.encode(payload));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    Ok(format!("{input}.{}", B64URL.encode(sig.to_bytes())).into_bytes())
}
