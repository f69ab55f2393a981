//! Remembered devices: "don't ask for a second factor on this device for 30 days".
//!
//! A token stands in for a second factor only within what the sign-in that minted it
//! proved: its signed claims carry that sign-in's assurance level and the kinds of the
//! factors it used, and evaluation compares them with the requirement (see
//! [`Policy::evaluate`](crate::Policy::evaluate), step 4). It never stands in for the
//! first factor, for a `fresh` or `max_age` requirement, for `phishing-resistant` or
//! `aal3`, for `aal2` beyond the AAL2 reauthentication limits counted from minting, or for
//! a user who no longer has an enrolled factor of a kind it proved.
//!
//! # Format (version 2)
//!
//! ```text
//! token   = "rd2." base64url(payload) "." base64url(tag)      ; no padding
//! payload = version(1 byte = 0x02)
//!           user_len(1) user_id(user_len bytes, UTF-8)
//!           device_len(1) device_id(device_len bytes, UTF-8)
//!           issued_at(8, big-endian Unix seconds)
//!           expires_at(8, big-endian Unix seconds)
//!           generation(8, big-endian)
//!           aal(1 byte: 2 or 3, the level the minting sign-in held)
//!           kinds_count(1) { kind_len(1) kind(kind_len bytes) }   ; FactorKind names, in
//!                                                                 ; FactorKind::ALL order
//! tag     = HMAC-SHA-256(key, "mfa-policy/remembered-device/v2" || 0x00 || payload)
//! ```
//!
//! Version 1 tokens (`rd1.`, without the level and kinds) are refused as
//! [`DeviceTokenError::UnsupportedVersion`]: the user is asked for a second factor once
//! and the device can be remembered again.
//!
//! The token is bound to the user and the device (both must match on verification), and
//! to the user's *generation*, a counter the service stores per user and bumps to revoke
//! every remembered device at once (after an MFA reset, a password change, a lost
//! phone). For revoking one device, the service keeps a
//! [`mfa_core::store::RememberedDevice`] entry; evaluation honours a token only when the
//! caller passes that entry in [`DeviceProof::stored`], so a forgotten device's token
//! fails although its signature is valid.
//!
//! The tag is compared in constant time before any field is looked at.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use mfa_core::store::RememberedDevice;
use mfa_core::{FactorKind, Keyring, Redacted, SecretBytes, Timestamp, UserId};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::kinds::KindSet;
use crate::requirement::Aal;

const PREFIX: &str = "rd2.";
const VERSION: u8 = 2;
const DOMAIN: &[u8] = b"mfa-policy/remembered-device/v2\0";
const TAG_LEN: usize = 32;
/// The keys that sign remembered-device tokens (HMAC-SHA-256): a [`Keyring`] of keys of
/// at least 32 random bytes, kept in a secret store, not in the policy document. The
/// current key signs; a token signed by any key in the ring verifies, so rotation is:
/// add the new key, make it current, and remove the old one after the longest token
/// lifetime (removing a key revokes the tokens it signed).
#[derive(Clone)]
pub struct DeviceTokenKey(Keyring);

impl fmt::Debug for DeviceTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceTokenKey([redacted])")
    }
}

/// A remembered-device token presented with the request, and what it must be bound to.
/// `Debug` prints `[redacted]` for the token.
#[derive(Clone, Copy, Eq, PartialEq)]
pub struct DeviceProof<'a> {
    /// The token string from the device's cookie.
    pub token: &'a str,
    /// The device identifier the service associates with this client.
    pub device_id: &'a str,
    /// The user's current remembered-device generation (bumped on MFA reset).
    pub generation: u64,
    /// The device's server-side entry: what
    /// [`DeviceStore::remembered_device(user, device_id, now)`](mfa_core::store::DeviceStore::remembered_device)
    /// returned. `None` when the device was forgotten (revoked one by one, or by
    /// `forget_all_devices`) or its entry lapsed: the token is then refused as
    /// [`DeviceTokenError::Forgotten`] whatever its signature. An entry for another user
    /// or device, or past its `expires_at`, is refused the same way.
    pub stored: Option<&'a RememberedDevice>,
}

impl fmt::Debug for DeviceProof<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field named, so a new one does not compile until it is placed here.
        let Self {
            token: _,
            device_id,
            generation,
            stored,
        } = self;
        f.debug_struct("DeviceProof")
            .field("token", &Redacted)
            .field("device_id", device_id)
            .field("generation", generation)
            .field("stored", stored)
            .finish()
    }
}

/// What a remembered-device token says.
///
/// Build one with [`Policy::remember_device`](crate::Policy::remember_device), which
/// fills `aal` and `kinds` from the session that just completed MFA.
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
    /// The assurance level the minting sign-in held: [`Aal::Aal2`] or [`Aal::Aal3`]
    /// ([`DeviceTokenKey::issue`] refuses `Aal1`). A token meets `mfa` and `aal2` at most,
    /// whatever this says; `Aal3` is recorded for logs.
    pub aal: Aal,
    /// The kinds of the enrolled factors the minting sign-in used (never empty): the
    /// token meets a requirement only if one of these kinds is acceptable to it.
    pub kinds: KindSet,
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
    /// The device has no (matching, unexpired) server-side entry: it was forgotten.
    #[error("remembered device was forgotten server-side")]
    Forgotten,
    /// The sign-in that minted the token does not meet this request's requirement (a
    /// first factor, `phishing-resistant` or `aal3`, `aal2` past its reauthentication
    /// limits, or factor kinds the requirement does not accept).
    #[error("remembered-device token does not meet the requirement")]
    Insufficient,
    /// The user no longer has an enrolled factor of a kind the token proved (after an
    /// MFA reset or the factor's removal).
    #[error("the factor that minted the remembered-device token is gone")]
    FactorRemoved,
    /// Minting refused: the session holds no second factor (AAL2), so there is nothing
    /// to remember.
    #[error("no second factor to remember")]
    NotMultiFactor,
}

impl DeviceTokenError {
    /// A stable snake_case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::FactorRemoved => "factor_removed",
            Self::Forgotten => "forgotten",
            Self::Insufficient => "insufficient",
            Self::InvalidDeviceId => "invalid_device_id",
            Self::Malformed => "malformed",
            Self::NotMultiFactor => "not_multi_factor",
            Self::NotYetValid => "not_yet_valid",
            Self::Revoked => "revoked",
            Self::UnsupportedVersion => "unsupported_version",
            Self::WrongDevice => "wrong_device",
            Self::WrongUser => "wrong_user",
        }
    }
}

impl DeviceTokenKey {
    /// Signs with `keys`' current key and verifies with any of its keys.
    pub fn new(keys: Keyring) -> Self {
        Self(keys)
    }

    /// Issues a token for `claims`.
    ///
    /// # Errors
    ///
    /// [`DeviceTokenError::InvalidDeviceId`] when the device id is empty, longer than
    /// 255 bytes or has a control character; [`DeviceTokenError::NotMultiFactor`] when
    /// `aal` is below AAL2 or `kinds` is empty.
    pub fn issue(&self, claims: &DeviceClaims) -> Result<String, DeviceTokenError> {
        if claims.aal < Aal::Aal2 || claims.kinds.is_empty() {
            return Err(DeviceTokenError::NotMultiFactor);
        }
        let device = claims.device_id.as_bytes();
        let device_len =
            u8::try_from(device.len()).map_err(|_| DeviceTokenError::InvalidDeviceId)?;
        if device.is_empty() || claims.device_id.chars().any(char::is_control) {
            return Err(DeviceTokenError::InvalidDeviceId);
        }
        let user = claims.user.as_str().as_bytes();
        // UserId guarantees 1..=255 bytes.
        let user_len = u8::try_from(user.len()).map_err(|_| DeviceTokenError::Malformed)?;
        let mut payload = Vec::with_capacity(3 + user.len() + device.len() + 24 + 64);
        payload.push(VERSION);
        payload.push(user_len);
        payload.extend_from_slice(user);
        payload.push(device_len);
        payload.extend_from_slice(device);
        payload.extend_from_slice(&claims.issued_at.unix_secs().to_be_bytes());
        payload.extend_from_slice(&claims.expires_at.unix_secs().to_be_bytes());
        payload.extend_from_slice(&claims.generation.to_be_bytes());
        payload.push(aal_byte(claims.aal));
        let kinds: Vec<&str> = claims.kinds.iter().map(FactorKind::as_str).collect();
        payload.push(u8::try_from(kinds.len()).map_err(|_| DeviceTokenError::Malformed)?);
        for k in kinds {
            payload.push(u8::try_from(k.len()).map_err(|_| DeviceTokenError::Malformed)?);
            payload.extend_from_slice(k.as_bytes());
        }
        let tag = tag(self.0.current().1, &payload);
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
        let presented = URL_SAFE_NO_PAD
            .decode(tag_b64)
            .map_err(|_| DeviceTokenError::Malformed)?;
        if presented.len() != TAG_LEN {
            return Err(DeviceTokenError::Malformed);
        }
        // Every key is tried, whichever matches: the time taken says nothing of which.
        let mut valid = subtle::Choice::from(0);
        for (_, key) in self.0.iter() {
            valid |= tag(key, &payload).as_slice().ct_eq(&presented);
        }
        if !bool::from(valid) {
            return Err(DeviceTokenError::BadSignature);
        }
        decode(&payload)
    }
}

fn tag(key: &SecretBytes, payload: &[u8]) -> [u8; TAG_LEN] {
    // HMAC accepts keys of any length, so this cannot fail; a failure would only
    // produce a tag that never verifies.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.expose_secret()) else {
        return [0; TAG_LEN];
    };
    mac.update(DOMAIN);
    mac.update(payload);
    mac.finalize().into_bytes().into()
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
    let aal = match r.byte()? {
        1 => Aal::Aal1,
        2 => Aal::Aal2,
        3 => Aal::Aal3,
        _ => return Err(DeviceTokenError::Malformed),
    };
    let mut kinds = KindSet::EMPTY;
    for _ in 0..r.byte()? {
        let len = usize::from(r.byte()?);
        let name = std::str::from_utf8(r.take(len)?).map_err(|_| DeviceTokenError::Malformed)?;
        let kind = FactorKind::try_from(name).map_err(|_| DeviceTokenError::Malformed)?;
        kinds = kinds.with(kind);
    }
    if !r.0.is_empty() {
        return Err(DeviceTokenError::Malformed);
    }
    Ok(DeviceClaims {
        user,
        device_id: device.to_owned(),
        issued_at,
        expires_at,
        generation,
        aal,
        kinds,
    })
}

fn aal_byte(aal: Aal) -> u8 {
    match aal {
        Aal::Aal1 => 1,
        Aal::Aal2 => 2,
        Aal::Aal3 => 3,
    }
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
