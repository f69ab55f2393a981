//! The device side: its key, enrollment, transaction ids and signed answers.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_core::store::ChallengeId;
use mfa_core::{InvalidInput, Redacted, SecureRandom, Timestamp};
use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::encoding::{self, EncodingError};
use crate::bytes::Bytes;
use crate::error::Error;

/// A device's P-256 public key. Serialised as the base64url SEC1 uncompressed point.
#[derive(Clone, Copy, Eq, PartialEq)]
pub struct DevicePublicKey(pub(crate) VerifyingKey);

impl DevicePublicKey {
    /// Reads a SEC1 point (compressed or uncompressed).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when it is not a point on P-256 (or is the identity).
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, InvalidInput> {
        VerifyingKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| InvalidInput::new("device public key", "not a P-256 point"))
    }

    /// The SEC1 uncompressed point (65 bytes).
    pub fn to_sec1(&self) -> Vec<u8> {
        self.0.to_sec1_point(false).as_bytes().to_vec()
    }

    pub(crate) fn fingerprint(&self) -> Bytes<32> {
        Bytes(Sha256::digest(self.to_sec1()).into())
    }
}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DevicePublicKey({})",
            URL_SAFE_NO_PAD.encode(self.to_sec1())
        )
    }
}

impl Serialize for DevicePublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(self.to_sec1()))
    }
}

impl<'de> Deserialize<'de> for DevicePublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(s.as_bytes())
            .map_err(|_| serde::de::Error::custom("device public key is not base64url"))?;
        Self::from_sec1(&bytes).map_err(serde::de::Error::custom)
    }
}

/// One enrolled device: its public key, the name the user gave it, and the token the
/// push provider delivers to (opaque to this crate; `Debug` prints it `[redacted]`).
#[derive(Clone, Eq, PartialEq, Deserialize, Serialize)]
pub struct PushRecord {
    pub(crate) public_key: DevicePublicKey,
    pub(crate) device_name: String,
    pub(crate) push_token: String,
    pub(crate) enrolled_at: Timestamp,
}

impl fmt::Debug for PushRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field named, so a new one does not compile until it is placed here.
        let Self {
            public_key,
            device_name,
            push_token: _,
            enrolled_at,
        } = self;
        f.debug_struct("PushRecord")
            .field("public_key", public_key)
            .field("device_name", device_name)
            .field("push_token", &Redacted)
            .field("enrolled_at", enrolled_at)
            .finish()
    }
}

impl PushRecord {
    /// The device's public key.
    pub fn public_key(&self) -> &DevicePublicKey {
        &self.public_key
    }

    /// The device's name ("Alice's Pixel").
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// The push provider's token for the device.
    pub fn push_token(&self) -> &str {
        &self.push_token
    }

    /// When the device was enrolled.
    pub fn enrolled_at(&self) -> Timestamp {
        self.enrolled_at
    }

    /// The same device with a new push token (providers rotate them).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] for an empty token or one over 4096 bytes.
    pub fn with_push_token(mut self, token: impl Into<String>) -> Result<Self, InvalidInput> {
        self.push_token = check_token(token.into())?;
        Ok(self)
    }
}

/// 32 random bytes the device signs at enrollment, proving it holds the private key.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct EnrollmentChallenge(Bytes<32>);

impl EnrollmentChallenge {
    /// A fresh challenge. Keep it server-side (the challenge store) until the device
    /// answers.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the source fails.
    pub fn generate(rng: &mut dyn SecureRandom) -> Result<Self, Error> {
        let mut b = [0u8; 32];
        rng.fill(&mut b)?;
        Ok(Self(Bytes(b)))
    }

    /// The bytes a device signs to enroll `public_key` (SEC1 uncompressed):
    /// `"mfa-oob push enroll v1" || challenge || public_key`.
    pub fn signed_bytes(&self, public_key: &DevicePublicKey) -> Vec<u8> {
        let mut out = ENROLL_DOMAIN.to_vec();
        out.extend_from_slice(&self.0.0);
        out.extend_from_slice(&public_key.to_sec1());
        out
    }
}

/// What a device sends to enroll (JSON from the app): its public key, its name, its push
/// token, and an ES256 signature (`r || s`, base64url) over
/// [`EnrollmentChallenge::signed_bytes`]. `Debug` prints `[redacted]` for the push
/// token and the signature.
#[derive(Clone, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRequest {
    /// The SEC1 public key, base64url.
    pub public_key: DevicePublicKey,
    /// The device's name.
    pub device_name: String,
    /// The push provider's token.
    pub push_token: String,
    /// The signature, base64url of 64 bytes.
    pub signature: String,
}

impl fmt::Debug for EnrollmentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field named, so a new one does not compile until it is placed here.
        let Self {
            public_key,
            device_name,
            push_token: _,
            signature: _,
        } = self;
        f.debug_struct("EnrollmentRequest")
            .field("public_key", public_key)
            .field("device_name", device_name)
            .field("push_token", &Redacted)
            .field("signature", &Redacted)
            .finish()
    }
}

/// The identifier of a push transaction: 32 random bytes. Its base64url form is a
/// valid [`ChallengeId`], the key the service stores the transaction under, so the
/// device's answer finds it directly.
#[derive(Clone, Copy, Eq, Hash, PartialEq, Deserialize, Serialize)]
pub struct TransactionId(pub(crate) Bytes<32>);

impl TransactionId {
    /// A fresh identifier.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the source fails.
    pub fn generate(rng: &mut dyn SecureRandom) -> Result<Self, Error> {
        let mut b = [0u8; 32];
        rng.fill(&mut b)?;
        Ok(Self(Bytes(b)))
    }

    /// Parses the base64url form.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] unless it is 32 bytes in base64url without padding.
    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        Bytes::decode(s)
            .map(Self)
            .ok_or_else(|| InvalidInput::new("transaction id", "must be 43 base64url characters"))
    }

    /// The base64url form (43 characters).
    pub fn encode(&self) -> String {
        self.0.encode()
    }

    /// The challenge-store key for this transaction.
    ///
    /// # Errors
    ///
    /// Never in practice (the form always parses); typed for the facade's parser.
    pub fn challenge_id(&self) -> Result<ChallengeId, mfa_core::Error> {
        ChallengeId::parse(&self.encode())
    }
}

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionId({})", self.encode())
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// The user's answer on the device.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    /// "Yes, it's me", with the number entered.
    Approve,
    /// "No, it's not me": possible fraud.
    Deny,
}

/// A device's signed answer, decoded (the bytes are in the [crate docs](crate#push-responses)).
/// `Debug` prints `[redacted]` for the nonce and the signature, what a replay needs.
#[derive(Clone, Eq, PartialEq)]
pub struct PushResponse {
    pub(crate) transaction: TransactionId,
    pub(crate) nonce: [u8; 32],
    pub(crate) answer: Answer,
    pub(crate) number: String,
    pub(crate) time: u64,
    pub(crate) signature: Signature,
}

impl fmt::Debug for PushResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field named, so a new one does not compile until it is placed here.
        let Self {
            transaction,
            nonce: _,
            answer,
            number,
            time,
            signature: _,
        } = self;
        f.debug_struct("PushResponse")
            .field("transaction", transaction)
            .field("nonce", &Redacted)
            .field("answer", answer)
            .field("number", number)
            .field("time", time)
            .field("signature", &Redacted)
            .finish()
    }
}

impl PushResponse {
    /// Decodes the binary form: the canonical signed bytes, then the 64-byte signature.
    ///
    /// # Errors
    ///
    /// [`EncodingError`] naming the first problem.
    pub fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        encoding::decode(bytes)
    }

    /// Decodes the base64url (no padding) form.
    ///
    /// # Errors
    ///
    /// [`EncodingError`] naming the first problem.
    pub fn from_base64url(text: &str) -> Result<Self, EncodingError> {
        encoding::decode_text(text)
    }

    /// The binary form; [`decode`](Self::decode) gives this value back.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.signed_bytes();
        out.extend_from_slice(&self.signature.to_bytes());
        out
    }

    /// The base64url form.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.to_bytes())
    }

    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        encoding::signed_bytes(
            &self.transaction,
            &self.nonce,
            self.answer,
            &self.number,
            self.time,
        )
    }

    /// The transaction answered: the challenge-store key to load.
    pub fn transaction(&self) -> TransactionId {
        self.transaction
    }

    /// The answer.
    pub fn answer(&self) -> Answer {
        self.answer
    }

    /// The number entered (empty for a denial).
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The device's time, Unix seconds.
    pub fn time(&self) -> u64 {
        self.time
    }

    /// Signs an answer: for devices written in Rust and for the testkit.
    #[cfg(feature = "testkit")]
    pub(crate) fn sign(
        key: &p256::ecdsa::SigningKey,
        transaction: TransactionId,
        nonce: [u8; 32],
        answer: Answer,
        number: &str,
        time: u64,
    ) -> Self {
        use p256::ecdsa::signature::Signer as _;
        let msg = encoding::signed_bytes(&transaction, &nonce, answer, number, time);
        let signature: Signature = key.sign(&msg);
        Self {
            transaction,
            nonce,
            answer,
            number: number.to_owned(),
            time,
            signature,
        }
    }
}

pub(crate) fn check_token(token: String) -> Result<String, InvalidInput> {
    if token.is_empty() || token.len() > 4096 || token.chars().any(char::is_control) {
        return Err(InvalidInput::new(
            "push token",
            "must have 1 to 4096 bytes and no control character",
        ));
    }
    Ok(token)
}

const ENROLL_DOMAIN: &[u8] = b"mfa-oob push enroll v1";
