//! Remembered-device tokens: "don't ask for MFA on this device for 30 days".
//!
//! # Format (version 1)
//!
//! ```text
//! token   = "rd1." base64url(payload) "." base64url(tag)      ; no padding
//! payload = version(1 byte = 0x01)
//!           user_len(1) user_id(user_len bytes, UTF-8)
//!           device_len(1) device_id(device_len bytes, UTF-8)
//!           issued_at(8, big-endian Unix seconds)
//!           expires_at(8, big-endian Unix seconds)
//!           generation(8, big-endian)
//! tag     = HMAC-SHA-256(key, "mfa-policy/remembered-device/v1" || 0x00 || payload)
//! ```
//!
//! The token is bound to the user and the device (both must match on verification), and
//! to the user's *generation*, a counter the service stores per user and bumps to revoke
//! every remembered device at once (after an MFA reset, a password change, a lost
//! phone). For revoking one device, the service also keeps a
//! [`mfa_core::store::RememberedDevice`] entry and checks it exists.
//!
//! The tag is compared in constant time before any field is looked at.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use mfa_core::{SecretBytes, Timestamp, UserId};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const PREFIX: &str = "rd1.";
const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"mfa-policy/remembered-device/v1\0";
const TAG_LEN: usize = 32;
/// The shortest key accepted: the HMAC-SHA-256 output size.
pub const MIN_KEY_LEN: usize = 32;

/// The key that signs remembered-device tokens (HMAC-SHA-256). At least 32 random
/// bytes; keep it in a secret store, not in the policy document. Rotating it revokes
/// every token.
#[derive(Clone)]
pub struct DeviceTokenKey(SecretBytes);

impl fmt::Debug for DeviceTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceTokenKey([redacted])")
    }
}

/// What a remembered-device token says.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct DeviceClaims {
    /// The user it was issued to.
    pub user: UserId,
    /// The device it was issued to (1 to 255 bytes, no control characters).
    pub device_id: String,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it stops being honoured.
    pub expires_at: Timestamp,
    /// The user's remembered-device generation at issue time.
    pub generation: u64,
}

/// Why a remembered-device token was not honoured. For logs: to the user, any failure
/// just means "MFA is asked".
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, thiserror::Error)]
pub enum DeviceTokenError {
    /// The device id given to [`DeviceTokenKey::issue`] is empty, too long or has a
    /// control character.
    #[error("invalid device id")]
    InvalidDeviceId,
    /// The token is not in the documented format.
    #[error("malformed remembered-device token")]
    Malformed,
    /// The token's version is not one this library reads.
    #[error("unsupported remembered-device token version")]
    UnsupportedVersion,
    /// The tag does not verify under this key (forged, altered, or an old key).
    #[error("remembered-device token signature does not verify")]
    BadSignature,
    /// Issued to another user.
    #[error("remembered-device token belongs to another user")]
    WrongUser,
    /// Issued to another device.
    #[error("remembered-device token belongs to another device")]
    WrongDevice,
    /// Issued after `now` (clock skew or forgery with a stolen key).
    #[error("remembered-device token is not yet valid")]
    NotYetValid,
    /// Past its expiry.
    #[error("remembered-device token has expired")]
    Expired,
    /// The user's generation moved on (revoked, e.g. by an MFA reset).
    #[error("remembered-device token was revoked")]
    Revoked,
}

impl DeviceTokenError {
    /// A stable snake_case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::InvalidDeviceId => "invalid_device_id",
            Self::Malformed => "malformed",
            Self::NotYetValid => "not_yet_valid",
            Self::Revoked => "revoked",
            Self::UnsupportedVersion => "unsupported_version",
            Self::WrongDevice => "wrong_device",
            Self::WrongUser => "wrong_user",
        }
    }
}

impl DeviceTokenKey {
    /// Wraps a key.
    ///
    /// # Errors
    ///
    /// [`mfa_core::InvalidInput`] when the key is shorter than [`MIN_KEY_LEN`] bytes.
    pub fn new(key: SecretBytes) -> Result<Self, mfa_core::InvalidInput> {
        if key.len() < MIN_KEY_LEN {
            return Err(mfa_core::InvalidInput::new(
                "remembered-device key",
                "must be at least 32 bytes",
            ));
        }
        Ok(Self(key))
    }

    /// Issues a token for `claims`.
    ///
    /// # Errors
    ///
    /// [`DeviceTokenError::InvalidDeviceId`] when the device id is empty, longer than
    /// 255 bytes or has a control character.
    pub fn issue(&self, claims: &DeviceClaims) -> Result<String, DeviceTokenError> {
        let device = claims.device_id.as_bytes();
        let device_len =
            u8::try_from(device.len()).map_err(|_| DeviceTokenError::InvalidDeviceId)?;
        if device.is_empty() || claims.device_id.chars().any(char::is_control) {
            return Err(DeviceTokenError::InvalidDeviceId);
        }
        let user = claims.user.as_str().as_bytes();
        // UserId guarantees 1..=255 bytes.
        let user_len = u8::try_from(user.len()).map_err(|_| DeviceTokenError::Malformed)?;
        let mut payload = Vec::with_capacity(3 + user.len() + device.len() + 24);
        payload.push(VERSION);
        payload.push(user_len);
        payload.extend_from_slice(user);
        payload.push(device_len);
        payload.extend_from_slice(device);
        payload.extend_from_slice(&claims.issued_at.unix_secs().to_be_bytes());
        payload.extend_from_slice(&claims.expires_at.unix_secs().to_be_bytes());
        payload.extend_from_slice(&claims.generation.to_be_bytes());
        let tag = self.tag(&payload);
        Ok(format!(
            "{PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// Verifies a token: tag first (constant time), then that it is for `user` and
    /// `device_id`, that `issued_at <= now < expires_at`, and that its generation is the
    /// user's current `generation`.
    ///
    /// # Errors
    ///
    /// The [`DeviceTokenError`] naming the first check that failed.
    pub fn verify(
        &self,
        token: &str,
        user: &UserId,
        device_id: &str,
        generation: u64,
        now: Timestamp,
    ) -> Result<DeviceClaims, DeviceTokenError> {
        let claims = self.open(token)?;
        if claims.user != *user {
            return Err(DeviceTokenError::WrongUser);
        }
        if claims.device_id != device_id {
            return Err(DeviceTokenError::WrongDevice);
        }
        if now < claims.issued_at {
            return Err(DeviceTokenError::NotYetValid);
        }
        if now >= claims.expires_at {
            return Err(DeviceTokenError::Expired);
        }
        if claims.generation != generation {
            return Err(DeviceTokenError::Revoked);
        }
        Ok(claims)
    }

    /// Checks the tag and decodes the claims, without checking binding or time.
    ///
    /// # Errors
    ///
    /// [`DeviceTokenError::Malformed`], [`UnsupportedVersion`](DeviceTokenError::UnsupportedVersion)
    /// or [`BadSignature`](DeviceTokenError::BadSignature).
    pub fn open(&self, token: &str) -> Result<DeviceClaims, DeviceTokenError> {
        let rest = match token.strip_prefix(PREFIX) {
            Some(rest) => rest,
            None if token.starts_with("rd") && token.contains('.') => {
                return Err(DeviceTokenError::UnsupportedVersion);
            }
            None => return Err(DeviceTokenError::Malformed),
        };
        let (payload_b64, tag_b64) = rest.split_once('.').ok_or(DeviceTokenError::Malformed)?;
        if payload_b64.len() > 1_024 || tag_b64.len() > 64 {
            return Err(DeviceTokenError::Malformed);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| DeviceTokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag_b64)
            .map_err(|_| DeviceTokenError::Malformed)?;
        if tag.len() != TAG_LEN {
            return Err(DeviceTokenError::Malformed);
        }
        let expected = self.tag(&payload);
        if !bool::from(expected.as_slice().ct_eq(&tag)) {
            return Err(DeviceTokenError::BadSignature);
        }
        decode(&payload)
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        // HMAC accepts keys of any length, so this cannot fail; a failure would only
        // produce a tag that never verifies.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.expose_secret()) else {
            return [0; TAG_LEN];
        };
        mac.update(DOMAIN);
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }
}

/// Decodes an authenticated payload.
fn decode(payload: &[u8]) -> Result<DeviceClaims, DeviceTokenError> {
    let mut r = Reader(payload);
    if r.byte()? != VERSION {
        return Err(DeviceTokenError::UnsupportedVersion);
    }
    let user_len = usize::from(r.byte()?);
    let user = std::str::from_utf8(r.take(user_len)?).map_err(|_| DeviceTokenError::Malformed)?;
    let user = UserId::new(user).map_err(|_| DeviceTokenError::Malformed)?;
    let device_len = usize::from(r.byte()?);
    let device =
        std::str::from_utf8(r.take(device_len)?).map_err(|_| DeviceTokenError::Malformed)?;
    if device.is_empty() {
        return Err(DeviceTokenError::Malformed);
    }
    let issued_at = Timestamp::from_unix_secs(r.u64()?);
    let expires_at = Timestamp::from_unix_secs(r.u64()?);
    let generation = r.u64()?;
    if !r.0.is_empty() {
        return Err(DeviceTokenError::Malformed);
    }
    Ok(DeviceClaims {
        user,
        device_id: device.to_owned(),
        issued_at,
        expires_at,
        generation,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DeviceTokenError> {
        if self.0.len() < n {
            return Err(DeviceTokenError::Malformed);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, DeviceTokenError> {
        self.take(1)?
            .first()
            .copied()
            .ok_or(DeviceTokenError::Malformed)
    }

    fn u64(&mut self) -> Result<u64, DeviceTokenError> {
        let b: [u8; 8] = self
            .take(8)?
            .try_into()
            .map_err(|_| DeviceTokenError::Malformed)?;
        Ok(u64::from_be_bytes(b))
    }
}
