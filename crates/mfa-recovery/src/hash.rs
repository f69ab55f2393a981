//! The two ways a code is stored. Both are keyed with the pepper and bound to the
//! record's nonce; the exact inputs are written out here so other implementations can
//! check a record (the integration tests do, with Python's `hmac` and `argon2pure`).

use hmac::{Hmac, KeyInit, Mac};
use mfa_core::{InvalidInput, SecretBytes};
use sha2::Sha256;

use crate::code::RecoveryCode;
use crate::record::{Bytes, NONCE_LEN, TAG_LEN};

/// `HMAC-SHA-256(pepper, HMAC_DOMAIN || nonce || code)`, where `code` is the canonical
/// symbols as ASCII.
pub(crate) fn hmac_tag(
    key: &SecretBytes,
    nonce: &[u8; NONCE_LEN],
    code: &RecoveryCode,
) -> Result<Bytes<TAG_LEN>, InvalidInput> {
    // HMAC takes keys of any length; the error branch exists only in the type.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
        .map_err(|_| InvalidInput::new("pepper key", "refused by HMAC-SHA-256"))?;
    mac.update(HMAC_DOMAIN);
    mac.update(nonce);
    mac.update(code.as_bytes());
    Ok(Bytes(mac.finalize().into_bytes().into()))
}

/// Argon2id (version 0x13) with the pepper as the secret value K (RFC 9106 §3.1), the
/// code's own random salt, and the password `ARGON2_DOMAIN || nonce || code`; 32 bytes
/// of output.
#[cfg(feature = "argon2")]
pub(crate) fn argon2_hash(
    key: &SecretBytes,
    params: crate::config::Argon2Params,
    nonce: &[u8; NONCE_LEN],
    salt: &[u8; crate::record::SALT_LEN],
    code: &RecoveryCode,
) -> Result<Bytes<TAG_LEN>, InvalidInput> {
    use argon2::{Algorithm, Argon2, Version};
    use zeroize::Zeroizing;

    let argon = Argon2::new_with_secret(
        key.expose_secret(),
        Algorithm::Argon2id,
        Version::V0x13,
        params.to_argon2()?,
    )
    .map_err(|e| InvalidInput::new("pepper key", e.to_string()))?;
    let mut password = Zeroizing::new(Vec::with_capacity(
        ARGON2_DOMAIN.len() + NONCE_LEN + code.len(),
    ));
    password.extend_from_slice(ARGON2_DOMAIN);
    password.extend_from_slice(nonce);
    password.extend_from_slice(code.as_bytes());
    let mut out = [0u8; TAG_LEN];
    argon
        .hash_password_into(&password, salt, &mut out)
        .map_err(|e| InvalidInput::new("argon2id", e.to_string()))?;
    Ok(Bytes(out))
}

/// Domain separation for the HMAC scheme: no other use of the pepper can produce a tag.
pub(crate) const HMAC_DOMAIN: &[u8] = b"mfa-recovery v1 hmac-sha256\0";
/// Domain separation for the Argon2id scheme.
#[cfg(feature = "argon2")]
pub(crate) const ARGON2_DOMAIN: &[u8] = b"mfa-recovery v1 argon2id\0";
