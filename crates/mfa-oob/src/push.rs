//! Push approval with number matching: enrollment of a device key, transactions, the
//! device's signed answer, and the browser's poll.

mod device;
mod encoding;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_core::{
    Factor, FactorKind, InvalidInput, Redacted, RejectReason, SecureRandom, SignInContext,
    StartOptions, Timestamp, UserVerification, Verified,
};
use p256::ecdsa::Signature;
use p256::ecdsa::signature::Verifier as _;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use self::device::check_token;
pub use self::device::{
    Answer, DevicePublicKey, EnrollmentChallenge, EnrollmentRequest, PushRecord, PushResponse,
    TransactionId,
};
pub use self::encoding::{EncodingError, MAX_NUMBER_DIGITS, RESPONSE_DOMAIN};
use crate::bytes::Bytes;
use crate::code::generate_code;
use crate::error::Error;
use crate::limits::PushLimits;
use crate::message::SendError;

/// How push transactions behave.
///
/// | setting | default | range |
/// | --- | --- | --- |
/// | transaction lifetime | 2 minutes | 30 s to 10 minutes |
/// | digits of the number to match | 2 | 2 to 8 |
/// | time to complete sign-in after approval | 60 s | 10 s to 10 minutes |
/// | tolerated device clock skew | 5 minutes | up to 1 hour |
/// | fatigue limits | [`PushLimits::default`] | |
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct PushConfig {
    ttl: Duration,
    digits: u8,
    completion_window: Duration,
    clock_skew: Duration,
    limits: PushLimits,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(120),
            digits: 2,
            completion_window: Duration::from_secs(60),
            clock_skew: Duration::from_secs(300),
            limits: PushLimits::default(),
        }
    }
}

impl PushConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// With transactions living `ttl`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] outside 30 s to 10 minutes.
    pub fn with_ttl(mut self, ttl: Duration) -> Result<Self, InvalidInput> {
        if !(30..=600).contains(&ttl.as_secs()) {
            return Err(InvalidInput::new(
                "push lifetime",
                "must be 30 s to 10 minutes",
            ));
        }
        self.ttl = ttl;
        Ok(self)
    }

    /// With numbers of `digits` digits to match.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] outside 2..=8.
    pub fn with_digits(mut self, digits: u8) -> Result<Self, InvalidInput> {
        if !(2..=8).contains(&digits) {
            return Err(InvalidInput::new(
                "number digits",
                "must be between 2 and 8",
            ));
        }
        self.digits = digits;
        Ok(self)
    }

    /// With the time the browser has to complete sign-in after the approval.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] outside 10 s to 10 minutes.
    pub fn with_completion_window(mut self, window: Duration) -> Result<Self, InvalidInput> {
        if !(10..=600).contains(&window.as_secs()) {
            return Err(InvalidInput::new(
                "completion window",
                "must be 10 s to 10 minutes",
            ));
        }
        self.completion_window = window;
        Ok(self)
    }

    /// With the device clock skew tolerated in a signed answer's time.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] over an hour.
    pub fn with_clock_skew(mut self, skew: Duration) -> Result<Self, InvalidInput> {
        if skew.as_secs() > 3600 {
            return Err(InvalidInput::new("clock skew", "must be at most an hour"));
        }
        self.clock_skew = skew;
        Ok(self)
    }

    /// With fatigue limits.
    #[must_use]
    pub fn with_limits(mut self, limits: PushLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The transaction lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The digits of the number to match.
    pub fn digits(&self) -> u8 {
        self.digits
    }

    /// The fatigue limits.
    pub fn limits(&self) -> &PushLimits {
        &self.limits
    }
}

/// What the push provider delivers to the device: everything the device shows and
/// signs, and **not** the number to match (the user reads that from the sign-in page).
///
/// `Debug` prints `[redacted]` for the push token and the nonce.
#[non_exhaustive]
#[derive(Clone, Eq, PartialEq, Deserialize, Serialize)]
pub struct PushNotification {
    /// The provider's token for the device.
    pub push_token: String,
    /// The account the sign-in is for, as the device should show it ("alice@example.com").
    /// The factor does not know users: the service sets it (from the pending
    /// challenge's user) before pushing; `None` until then.
    pub account: Option<String>,
    /// The transaction to answer.
    pub transaction: TransactionId,
    /// The nonce to sign, base64url.
    pub nonce: String,
    /// The sign-in to show: application, IP, coarse location.
    pub context: SignInContext,
    /// When the sign-in started (show it).
    pub created_at: Timestamp,
    /// When the transaction expires.
    pub expires_at: Timestamp,
    /// How many digits the user must enter.
    pub digits: u8,
}

impl fmt::Debug for PushNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field named, so a new one does not compile until it is placed here.
        let Self {
            push_token: _,
            account,
            transaction,
            nonce: _,
            context,
            created_at,
            expires_at,
            digits,
        } = self;
        f.debug_struct("PushNotification")
            .field("push_token", &Redacted)
            .field("account", account)
            .field("transaction", transaction)
            .field("nonce", &Redacted)
            .field("context", context)
            .field("created_at", created_at)
            .field("expires_at", expires_at)
            .field("digits", digits)
            .finish()
    }
}

/// What the sign-in page gets: the transaction to poll, the number to show, the
/// expiry. The notification for the device is not serialised: take it with
/// [`take_notification`](Self::take_notification) and hand it to the
/// [`PushTransport`].
#[derive(Debug, Serialize)]
pub struct PushChallenge {
    transaction: TransactionId,
    number: String,
    expires_at: Timestamp,
    #[serde(skip)]
    notification: Option<PushNotification>,
}

impl PushChallenge {
    /// The transaction.
    pub fn transaction(&self) -> TransactionId {
        self.transaction
    }

    /// The number the page shows and the user enters on the device.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// When the transaction expires.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Takes the notification to push, leaving `None`.
    pub fn take_notification(&mut self) -> Option<PushNotification> {
        self.notification.take()
    }
}

/// Where a transaction stands, as the browser's poll reports it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// Approved with the right number: complete the sign-in.
    Approved,
    /// Denied on the device: final; audit it as possible fraud.
    Denied,
    /// No answer in time, or not completed in time after approval: final.
    Expired,
    /// Waiting for the device.
    Pending,
    /// Approved with the wrong number: final (a 2-digit number must not be guessable
    /// by retrying).
    WrongNumber,
}

/// The recorded decision.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision", content = "at")]
enum Decision {
    Approved(Timestamp),
    Denied(Timestamp),
    Pending,
    WrongNumber(Timestamp),
}

/// What the server keeps for a transaction: its id and nonce, the number, the device
/// it went to, the context, the times and the recorded decision. `Debug` prints
/// `[redacted]` for the nonce.
#[derive(Clone, Eq, PartialEq, Deserialize, Serialize)]
pub struct PushState {
    v: u8,
    transaction: TransactionId,
    nonce: Bytes<32>,
    number: String,
    device: Bytes<32>,
    context: SignInContext,
    created_at: Timestamp,
    expires_at: Timestamp,
    decision: Decision,
}

impl fmt::Debug for PushState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field named, so a new one does not compile until it is placed here.
        let Self {
            v,
            transaction,
            nonce: _,
            number,
            device,
            context,
            created_at,
            expires_at,
            decision,
        } = self;
        f.debug_struct("PushState")
            .field("v", v)
            .field("transaction", transaction)
            .field("nonce", &Redacted)
            .field("number", number)
            .field("device", device)
            .field("context", context)
            .field("created_at", created_at)
            .field("expires_at", expires_at)
            .field("decision", decision)
            .finish()
    }
}

impl PushState {
    /// The transaction.
    pub fn transaction(&self) -> TransactionId {
        self.transaction
    }

    /// When the transaction expires (the challenge store's TTL; extend it by the
    /// completion window once approved).
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// The context shown on the device.
    pub fn context(&self) -> &SignInContext {
        &self.context
    }
}

/// What a completed push tells the service.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PushDetails {
    /// The device that approved.
    pub device_name: String,
    /// When it approved.
    pub approved_at: Timestamp,
}

/// Delivers notifications to devices: the service owner's APNs / FCM client.
pub trait PushTransport: Send + Sync {
    /// Delivers one notification.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the provider refuses or fails.
    fn push(
        &self,
        notification: &PushNotification,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// Push approval as an [`mfa_core::Factor`]. Pure: no clock, no I/O.
///
/// - [`enroll`](Self::enroll): a device's key, checked by a signature over a challenge.
/// - [`Factor::start`]: a transaction, the number to show, the notification to push.
/// - [`record_response`](Self::record_response): the device's signed answer, checked
///   and recorded into a new state.
/// - [`status`](Self::status): the browser's poll.
/// - [`Factor::verify`]: the browser completes an approved transaction.
#[derive(Clone, Debug, Default)]
pub struct PushFactor {
    config: PushConfig,
}

impl PushFactor {
    /// A factor with this configuration.
    pub fn new(config: PushConfig) -> Self {
        Self { config }
    }

    /// The configuration.
    pub fn config(&self) -> &PushConfig {
        &self.config
    }

    /// Checks an enrollment request against the challenge the device was given, and
    /// returns the record to store.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] (`bad_signature`) when the signature does not verify;
    /// [`Error::Invalid`] for an empty or overlong name or token.
    pub fn enroll(
        &self,
        challenge: &EnrollmentChallenge,
        request: &EnrollmentRequest,
        now: Timestamp,
    ) -> Result<PushRecord, Error> {
        let name = request.device_name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "device name",
                "must have 1 to 64 bytes and no control character",
            )
            .into());
        }
        let token = check_token(request.push_token.clone())?;
        let sig = URL_SAFE_NO_PAD
            .decode(request.signature.as_bytes())
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or_else(|| Error::rejected_because(RejectReason::Malformed, "signature"))?;
        let msg = challenge.signed_bytes(&request.public_key);
        if request.public_key.0.verify(&msg, &sig).is_err() {
            return Err(Error::rejected(RejectReason::BadSignature));
        }
        Ok(PushRecord {
            public_key: request.public_key,
            device_name: name.to_owned(),
            push_token: token,
            enrolled_at: now,
        })
    }

    /// Checks the device's signed answer and records it: returns the state to store
    /// with a compare-and-swap on the version loaded.
    ///
    /// Checked in this order: the answer is for this transaction (id and nonce) and
    /// this device; the ES256 signature verifies with the enrolled key; the transaction
    /// is still pending (single use); it has not expired; the device's time is within
    /// the skew of the transaction's life. Then a denial records `denied`, an approval
    /// with the right number (compared in constant time) `approved`, and one with
    /// another number `wrong_number`; all three are final.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] with `binding_mismatch`, `bad_signature`, `replay` or
    /// `expired`; nothing is recorded then.
    pub fn record_response(
        &self,
        record: &PushRecord,
        state: &PushState,
        response: &PushResponse,
        now: Timestamp,
    ) -> Result<PushState, Error> {
        check_version(state)?;
        if response.transaction != state.transaction
            || !bool::from(response.nonce.ct_eq(&state.nonce.0))
        {
            return Err(Error::rejected_because(
                RejectReason::BindingMismatch,
                "another transaction",
            ));
        }
        if record.public_key.fingerprint() != state.device {
            return Err(Error::rejected_because(
                RejectReason::BindingMismatch,
                "another device",
            ));
        }
        if record
            .public_key
            .0
            .verify(&response.signed_bytes(), &response.signature)
            .is_err()
        {
            return Err(Error::rejected(RejectReason::BadSignature));
        }
        if state.decision != Decision::Pending {
            return Err(Error::rejected(RejectReason::Replay));
        }
        if now > state.expires_at {
            return Err(Error::rejected(RejectReason::Expired));
        }
        let skew = self.config.clock_skew.as_secs();
        let earliest = state.created_at.unix_secs().saturating_sub(skew);
        let latest = now.unix_secs().saturating_add(skew);
        if response.time < earliest || response.time > latest {
            return Err(Error::rejected_because(
                RejectReason::Expired,
                "device time",
            ));
        }
        let decision = match response.answer {
            Answer::Deny => Decision::Denied(now),
            Answer::Approve => {
                let same = response.number.len() == state.number.len()
                    && bool::from(response.number.as_bytes().ct_eq(state.number.as_bytes()));
                if same {
                    Decision::Approved(now)
                } else {
                    Decision::WrongNumber(now)
                }
            }
        };
        let mut next = state.clone();
        next.decision = decision;
        if let Decision::Approved(at) = decision {
            // The browser has the completion window from the approval.
            next.expires_at = at.saturating_add(self.config.completion_window);
        }
        Ok(next)
    }

    /// The transaction's status at `now`, for the browser's poll. Reads only; the
    /// service reads the state without consuming it.
    pub fn status(&self, state: &PushState, now: Timestamp) -> PushStatus {
        match state.decision {
            Decision::Denied(_) => PushStatus::Denied,
            Decision::WrongNumber(_) => PushStatus::WrongNumber,
            _ if now > state.expires_at => PushStatus::Expired,
            Decision::Approved(_) => PushStatus::Approved,
            Decision::Pending => PushStatus::Pending,
        }
    }
}

impl Factor for PushFactor {
    type Record = PushRecord;
    type Challenge = PushChallenge;
    type State = PushState;
    type Response = TransactionId;
    type Details = PushDetails;
    type Error = Error;

    fn kind(&self, _record: &PushRecord) -> FactorKind {
        FactorKind::Push
    }

    /// Creates a transaction for the enrolled device: id, nonce, the number to match,
    /// the context from `options`. Needs a record; refuses a channel, required user
    /// verification and conditional mediation. Check [`PushLimits::check`] first.
    fn start(
        &self,
        record: Option<&PushRecord>,
        options: &StartOptions,
        now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<(PushChallenge, PushState), Error> {
        let record =
            record.ok_or_else(|| InvalidInput::new("record", "a push needs an enrolled device"))?;
        if options.channel.is_some() {
            return Err(
                InvalidInput::new("channel", "a push is not delivered over a channel").into(),
            );
        }
        if options.user_verification == UserVerification::Required {
            return Err(InvalidInput::new(
                "user verification",
                "a push approval cannot prove user verification",
            )
            .into());
        }
        if options.conditional_mediation {
            return Err(InvalidInput::new(
                "conditional mediation",
                "a push has no browser mediation",
            )
            .into());
        }
        let transaction = TransactionId::generate(rng)?;
        let mut nonce = [0u8; 32];
        rng.fill(&mut nonce)?;
        let number = generate_code(self.config.digits, rng)?.to_string();
        let expires_at = now
            .checked_add(self.config.ttl)
            .ok_or_else(|| InvalidInput::new("time", "out of range"))?;
        let state = PushState {
            v: STATE_VERSION,
            transaction,
            nonce: Bytes(nonce),
            number: number.clone(),
            device: record.public_key.fingerprint(),
            context: options.context.clone(),
            created_at: now,
            expires_at,
            decision: Decision::Pending,
        };
        let notification = PushNotification {
            push_token: record.push_token.clone(),
            account: None,
            transaction,
            nonce: URL_SAFE_NO_PAD.encode(nonce),
            context: options.context.clone(),
            created_at: now,
            expires_at,
            digits: self.config.digits,
        };
        let challenge = PushChallenge {
            transaction,
            number,
            expires_at,
            notification: Some(notification),
        };
        Ok((challenge, state))
    }

    /// Completes an approved transaction for the browser that started it.
    ///
    /// # Errors
    ///
    /// [`Error::Pending`] while the device has not answered (keep polling);
    /// [`Error::Rejected`] with `binding_mismatch` (another transaction), `denied`,
    /// `wrong_code` (wrong number) or `expired`.
    fn verify(
        &self,
        record: &PushRecord,
        state: &PushState,
        response: &TransactionId,
        now: Timestamp,
        _rng: &mut dyn SecureRandom,
    ) -> Result<Verified<PushRecord, PushDetails>, Error> {
        check_version(state)?;
        if *response != state.transaction {
            return Err(Error::rejected_because(
                RejectReason::BindingMismatch,
                "another transaction",
            ));
        }
        if record.public_key.fingerprint() != state.device {
            return Err(Error::rejected_because(
                RejectReason::BindingMismatch,
                "another device",
            ));
        }
        match (self.status(state, now), state.decision) {
            (PushStatus::Approved, Decision::Approved(at)) => Ok(Verified::with_details(
                record.clone(),
                FactorKind::Push.typical_methods().to_vec(),
                PushDetails {
                    device_name: record.device_name.clone(),
                    approved_at: at,
                },
            )),
            (PushStatus::Pending, _) => Err(Error::Pending),
            (PushStatus::Denied, _) => Err(Error::rejected(RejectReason::Denied)),
            (PushStatus::WrongNumber, _) => Err(Error::rejected_because(
                RejectReason::WrongCode,
                "wrong number",
            )),
            _ => Err(Error::rejected(RejectReason::Expired)),
        }
    }
}

fn check_version(state: &PushState) -> Result<(), Error> {
    if state.v != STATE_VERSION {
        return Err(InvalidInput::new("push state", "unknown version").into());
    }
    Ok(())
}

const STATE_VERSION: u8 = 1;
