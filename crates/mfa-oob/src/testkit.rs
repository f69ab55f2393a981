//! Test helpers (feature `testkit`): a software push device, and a transport and a
//! sender that keep what they were given. Never for production: the device's key is
//! in memory, and the recorders keep codes in clear.

use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_core::{InvalidInput, SecureRandom, Timestamp};
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer as _;

use crate::bytes::Bytes;
use crate::error::Error;
use crate::message::{OutgoingMessage, SendError, Sender};
use crate::push::{
    Answer, DevicePublicKey, EnrollmentChallenge, EnrollmentRequest, PushNotification,
    PushResponse, PushTransport, TransactionId,
};

/// A phone with the authenticator app: a P-256 key pair, a name and a push token. It
/// enrolls, and answers notifications as the user would (or, through
/// [`answer`](Self::answer), as an attacker might).
///
/// ```
/// use mfa_core::OsRandom;
/// use mfa_oob::testkit::SoftwareDevice;
///
/// let device = SoftwareDevice::new("Alice's phone", "token-1", &mut OsRandom)?;
/// assert_eq!(device.public_key().to_sec1().len(), 65);
/// # Ok::<(), mfa_oob::Error>(())
/// ```
pub struct SoftwareDevice {
    key: SigningKey,
    name: String,
    token: String,
}

impl std::fmt::Debug for SoftwareDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareDevice")
            .field("public_key", &self.public_key())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SoftwareDevice {
    /// A device with a fresh key from `rng`.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the source fails.
    pub fn new(
        name: impl Into<String>,
        token: impl Into<String>,
        rng: &mut dyn SecureRandom,
    ) -> Result<Self, Error> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        let key = loop {
            rng.fill(seed.as_mut_slice())?;
            if let Ok(k) = SigningKey::from_slice(seed.as_slice()) {
                break k;
            }
        };
        Ok(Self {
            key,
            name: name.into(),
            token: token.into(),
        })
    }

    /// The device's public key.
    pub fn public_key(&self) -> DevicePublicKey {
        DevicePublicKey(*self.key.verifying_key())
    }

    /// The request the app sends to enroll, signed over `challenge`.
    pub fn enrollment_request(&self, challenge: &EnrollmentChallenge) -> EnrollmentRequest {
        let public_key = self.public_key();
        let sig: p256::ecdsa::Signature = self.key.sign(&challenge.signed_bytes(&public_key));
        EnrollmentRequest {
            public_key,
            device_name: self.name.clone(),
            push_token: self.token.clone(),
            signature: URL_SAFE_NO_PAD.encode(sig.to_bytes()),
        }
    }

    /// Approves `notification` with the number the user read from the sign-in page.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the notification's nonce does not decode, or the number
    /// is not 1 to 8 digits.
    pub fn approve(
        &self,
        notification: &PushNotification,
        number: &str,
        time: Timestamp,
    ) -> Result<PushResponse, Error> {
        if number.is_empty()
            || number.len() > crate::push::MAX_NUMBER_DIGITS
            || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(InvalidInput::new("number", "must be 1 to 8 digits").into());
        }
        let nonce = nonce(notification)?;
        Ok(self.answer(
            notification.transaction,
            nonce,
            Answer::Approve,
            number,
            time,
        ))
    }

    /// Denies `notification` ("No, it's not me").
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the notification's nonce does not decode.
    pub fn deny(
        &self,
        notification: &PushNotification,
        time: Timestamp,
    ) -> Result<PushResponse, Error> {
        let nonce = nonce(notification)?;
        Ok(self.answer(notification.transaction, nonce, Answer::Deny, "", time))
    }

    /// Signs any answer, without the checks a real app makes: for tests that forge
    /// answers to other transactions or with other nonces. `number` should be at most
    /// 8 digits (empty for a denial) for the result to re-encode as it decodes.
    pub fn answer(
        &self,
        transaction: TransactionId,
        nonce: [u8; 32],
        answer: Answer,
        number: &str,
        time: Timestamp,
    ) -> PushResponse {
        PushResponse::sign(
            &self.key,
            transaction,
            nonce,
            answer,
            number,
            time.unix_secs(),
        )
    }
}

fn nonce(notification: &PushNotification) -> Result<[u8; 32], Error> {
    Bytes::<32>::decode(&notification.nonce)
        .map(|b| b.0)
        .ok_or_else(|| InvalidInput::new("notification nonce", "not 32 bytes of base64url").into())
}

/// A [`PushTransport`] that keeps every notification, for tests to hand to a
/// [`SoftwareDevice`].
#[derive(Debug, Default)]
pub struct RecordingTransport(Mutex<Vec<PushNotification>>);

impl RecordingTransport {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The notifications pushed so far.
    pub fn sent(&self) -> Vec<PushNotification> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl PushTransport for RecordingTransport {
    async fn push(&self, notification: &PushNotification) -> Result<(), SendError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(notification.clone());
        Ok(())
    }
}

/// A [`Sender`] that keeps every message in memory, for tests.
#[derive(Debug, Default)]
pub struct RecordingSender(Mutex<Vec<OutgoingMessage>>);

impl RecordingSender {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The messages sent so far.
    pub fn sent(&self) -> Vec<OutgoingMessage> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Sender for RecordingSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), SendError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(())
    }
}
