//! The service: builder, factor life cycle, verification, lockout, devices.
//!
//! One `impl` block per concern: [`enroll`] (enrollment), [`manage`] (list, rename,
//! remove, reset, unlock, rekey, policy decisions), [`verify`] (challenge, verify,
//! lockout), [`devices`] (remembered devices).

mod devices;
mod enroll;
mod manage;
mod oob;
mod push;
mod verify;

pub use oob::{DynSender, OobEnrollment, SendFuture};
pub use push::{DynPushTransport, PushEnrollment};

use std::fmt;
use std::sync::Arc;

use mfa_core::store::{
    ChallengeId, ChallengeOwner, FactorRecord, FailureKey, LookupKey, PendingChallenge,
    RememberedDevice, ResetSummary, Store, StoreError, Versioned,
};
use mfa_core::{
    Attachment, AuthMethod, Channel, Clock, DataOwner, Error, Factor, FactorId, FactorKind,
    OsRandom, Purpose, RecordCodec, RejectReason, Rejected, SecureRandom, StartOptions,
    SystemClock, Timestamp, UserId, UserVerification,
};
use mfa_oob::{OobCodes, PushFactor, PushStatus, Sender};
use mfa_otp::{
    HotpFactor, HotpParams, HotpRecord, OtpAuthUri, Secret, TotpFactor, TotpParams, TotpRecord,
};
use mfa_policy::assurance::{Aal, AmrSet};
use mfa_policy::device::{DeviceClaims, DeviceProof};
use mfa_policy::enroll::EnrollRefusal;
use mfa_policy::input::{CompletedMethod, EnrolledFactor, Request, Session, Subject};
use mfa_policy::lockout::FailureState;
use mfa_policy::{Decision, Input, Policy};
use mfa_recovery::{Keyring, RecoveryCode, RecoveryConfig, RecoveryFactor, RecoveryRecord};
use mfa_webauthn::json::{
    AuthenticationResponseJson, CreationOptionsJson, CredentialRequestOptionsJson,
    RegistrationResponseJson,
};
use mfa_webauthn::{
    AuthenticationState, CredentialRecord, RegistrationRequest, RegistrationState, RelyingParty,
    WebAuthnFactor,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit::{AuditEvent, AuditSink, EventKind, SecurityNotice};
use crate::envelope::{Binding, KeySet, Sealer};
use crate::error::{Result, ServiceError};
use crate::random::SharedRandom;

const PURPOSE_WEBAUTHN_REGISTRATION: &str = "webauthn-registration";
const PURPOSE_WEBAUTHN_AUTHENTICATION: &str = "webauthn-authentication";
const MAX_LABEL: usize = 64;

/// The factors built into the service, by what the service does with them.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum BuiltinFactor {
    /// TOTP (RFC 6238).
    Totp,
    /// HOTP (RFC 4226).
    Hotp,
    /// WebAuthn (platform or roaming).
    WebAuthn,
    /// Recovery codes.
    RecoveryCode,
    /// A code sent by SMS, voice call or email (mfa-oob's [`OobCodes`]).
    OobCode,
    /// Push approval with number matching (mfa-oob's [`PushFactor`]).
    Push,
}

impl BuiltinFactor {
    /// The built-in factor serving `kind`.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Unsupported`] for a kind added to `mfa-core` later.
    pub fn for_kind(kind: FactorKind) -> Result<Self> {
        match kind {
            FactorKind::Totp => Ok(Self::Totp),
            FactorKind::Hotp => Ok(Self::Hotp),
            FactorKind::RecoveryCode => Ok(Self::RecoveryCode),
            FactorKind::Sms | FactorKind::Voice | FactorKind::Email => Ok(Self::OobCode),
            FactorKind::Push => Ok(Self::Push),
            k if k.is_webauthn() => Ok(Self::WebAuthn),
            k => Err(ServiceError::Unsupported(k.as_str())),
        }
    }
}

/// Builds a [`Service`]. Required: a store, a [`Policy`] and a [`KeySet`]. Optional: a
/// clock ([`SystemClock`]), a random source ([`OsRandom`]), a WebAuthn relying party, a
/// recovery-code keyring, the TOTP issuer, an audit sink, the out-of-band factors
/// (codes, push) and the [`Sender`] that delivers codes and security notices.
pub struct ServiceBuilder<S> {
    store: S,
    clock: Option<Arc<dyn Clock>>,
    rng: Option<Box<dyn SecureRandom + Send>>,
    rp: Option<Arc<RelyingParty>>,
    webauthn_uv: UserVerification,
    policy: Option<Policy>,
    keys: Option<KeySet>,
    recovery: Option<(Keyring, RecoveryConfig)>,
    issuer: Option<String>,
    audit: Option<Arc<dyn AuditSink>>,
    sender: Option<Arc<dyn DynSender>>,
    oob: Option<OobCodes>,
    push: Option<(PushFactor, Arc<dyn DynPushTransport>)>,
    totp: TotpFactor,
    hotp: HotpFactor,
    user_failure_limit: Option<u32>,
}

impl<S> fmt::Debug for ServiceBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceBuilder").finish_non_exhaustive()
    }
}

impl<S: Store> ServiceBuilder<S> {
    /// The clock (default [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// A shared clock (a test's `FixedClock` it keeps moving).
    #[must_use]
    pub fn shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The random source (default [`OsRandom`]).
    #[must_use]
    pub fn random(mut self, rng: impl SecureRandom + Send + 'static) -> Self {
        self.rng = Some(Box::new(rng));
        self
    }

    /// The WebAuthn relying party, and the user verification every challenge asks for
    /// at least. Without it WebAuthn calls fail with [`ServiceError::NotConfigured`].
    #[must_use]
    pub fn relying_party(mut self, rp: impl Into<Arc<RelyingParty>>, uv: UserVerification) -> Self {
        self.rp = Some(rp.into());
        self.webauthn_uv = uv;
        self
    }

    /// The policy: enrollment rules, failure limits, assurance, remembered devices.
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The keys that seal every stored record.
    #[must_use]
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The recovery codes' pepper keyring and configuration.
    #[must_use]
    pub fn recovery(mut self, keyring: Keyring, config: RecoveryConfig) -> Self {
        self.recovery = Some((keyring, config));
        self
    }

    /// The issuer shown in authenticator apps (`otpauth://totp/ISSUER:account`).
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Where audit events go (besides `tracing`).
    #[must_use]
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }

    /// The [`Sender`] that delivers out-of-band codes **and** security notices (to the
    /// user's contact: their first confirmed email factor, else their first confirmed
    /// SMS or voice number). Keep a clone of the `Arc` to inspect a test sender.
    #[must_use]
    pub fn sender<T: Sender + 'static>(mut self, sender: Arc<T>) -> Self {
        self.sender = Some(sender);
        self
    }

    /// SMS, voice and email codes. Needs a [`sender`](Self::sender). Phone numbers go
    /// only to the countries its [`SendLimits`](mfa_oob::SendLimits) allow: the
    /// allow-list starts **empty**, so until it names countries every phone enrollment
    /// and send is refused ([`ServiceError::Limited`]); email is not affected.
    #[must_use]
    pub fn oob_codes(mut self, codes: OobCodes) -> Self {
        self.oob = Some(codes);
        self
    }

    /// Push approval, delivered through `transport` (your APNs / FCM client).
    #[must_use]
    pub fn push<T: mfa_oob::PushTransport + 'static>(
        mut self,
        factor: PushFactor,
        transport: Arc<T>,
    ) -> Self {
        self.push = Some((factor, transport));
        self
    }

    /// The TOTP verifier (its window).
    #[must_use]
    pub fn totp(mut self, totp: TotpFactor) -> Self {
        self.totp = totp;
        self
    }

    /// The HOTP verifier (its look-ahead).
    #[must_use]
    pub fn hotp(mut self, hotp: HotpFactor) -> Self {
        self.hotp = hotp;
        self
    }

    /// Consecutive failures over all of a user's factors that lock the user (default
    /// three times the policy's `failures.max_consecutive`, at most 100).
    #[must_use]
    pub fn user_failure_limit(mut self, limit: u32) -> Self {
        self.user_failure_limit = Some(limit);
        self
    }

    /// Builds the service.
    ///
    /// # Errors
    ///
    /// [`ServiceError::NotConfigured`] without a policy or keys, or with out-of-band
    /// codes but no sender;
    /// [`ServiceError::Core`] for an invalid recovery configuration or a user failure
    /// limit outside 1..=100.
    pub fn build(self) -> Result<Service<S>> {
        let policy = self.policy.ok_or(ServiceError::NotConfigured("policy"))?;
        let keys = self.keys.ok_or(ServiceError::NotConfigured("keys"))?;
        let recovery = match self.recovery {
            Some((k, c)) => Some(RecoveryFactor::new(k, c).map_err(Into::<Error>::into)?),
            None => None,
        };
        let max = policy.failure_limits().max_consecutive;
        let user_limit = self
            .user_failure_limit
            .unwrap_or_else(|| max.saturating_mul(3).min(100));
        if !(1..=100).contains(&user_limit) {
            return Err(Error::invalid("user failure limit", "must be 1 to 100").into());
        }
        if self.oob.is_some() && self.sender.is_none() {
            return Err(ServiceError::NotConfigured(
                "sender (for out-of-band codes)",
            ));
        }
        if let Some(codes) = &self.oob
            && *codes.config().limits().countries()
                == mfa_oob::CountryCodes::Only(Default::default())
        {
            tracing::warn!(target: "mfa::audit", "out-of-band codes: no country calling code is allowed, so phone numbers are refused (SendLimits::with_allowed_country_codes)");
        }
        let webauthn = self.rp.map(|rp| WebAuthnFactor::new(rp, self.webauthn_uv));
        Ok(Service {
            store: self.store,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            rng: SharedRandom::new(self.rng.unwrap_or_else(|| Box::new(OsRandom))),
            webauthn,
            policy,
            keys,
            recovery,
            issuer: self.issuer,
            audit: self.audit,
            sender: self.sender,
            oob: self.oob,
            push: self.push,
            totp: self.totp,
            hotp: self.hotp,
            user_limit,
        })
    }
}

/// The MFA service: one async API over a [`Store`] for the whole life cycle of a
/// user's second factors. `Send + Sync` when the store is; share it in an `Arc`.
///
/// See the [crate docs](crate) for a walk-through.
pub struct Service<S> {
    store: S,
    clock: Arc<dyn Clock>,
    rng: SharedRandom,
    webauthn: Option<WebAuthnFactor>,
    policy: Policy,
    keys: KeySet,
    recovery: Option<RecoveryFactor>,
    issuer: Option<String>,
    audit: Option<Arc<dyn AuditSink>>,
    sender: Option<Arc<dyn DynSender>>,
    oob: Option<OobCodes>,
    push: Option<(PushFactor, Arc<dyn DynPushTransport>)>,
    totp: TotpFactor,
    hotp: HotpFactor,
    user_limit: u32,
}

impl<S> fmt::Debug for Service<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("keys", &self.keys)
            .field("webauthn", &self.webauthn.is_some())
            .field("recovery", &self.recovery.is_some())
            .field("oob_codes", &self.oob.is_some())
            .field("push", &self.push.is_some())
            .finish_non_exhaustive()
    }
}

/// A factor as the user's factor list shows it. Never holds a secret.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct FactorInfo {
    /// Its id.
    pub id: FactorId,
    /// Its kind.
    pub kind: FactorKind,
    /// The user's name for it.
    pub label: String,
    /// Whether its enrollment was confirmed.
    pub confirmed: bool,
    /// When it was enrolled.
    pub created_at: Timestamp,
    /// When it last verified.
    pub last_used_at: Option<Timestamp>,
    /// Where codes go, masked (`+49 ••• ••78`, `a•••@example.com`): for SMS, voice
    /// and email factors; the device name for push; `None` for the other kinds.
    pub destination: Option<String>,
    /// Unused recovery codes, for a recovery-code factor.
    pub remaining_codes: Option<usize>,
}

impl FactorInfo {
    fn from_row(row: &FactorRecord, remaining_codes: Option<usize>) -> Self {
        Self {
            id: row.id.clone(),
            kind: row.kind,
            label: row.label.clone(),
            confirmed: row.confirmed,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            destination: None,
            remaining_codes,
        }
    }

    fn with_destination(mut self, destination: Option<String>) -> Self {
        self.destination = destination;
        self
    }
}

/// A new TOTP or HOTP enrollment: what to show the user once. Inactive until
/// [`Service::confirm`] accepts its first code.
#[non_exhaustive]
pub struct OtpEnrollment {
    /// The new factor.
    pub factor_id: FactorId,
    /// The `otpauth://` URI (holds the secret: show it, never log it).
    pub uri: Zeroizing<String>,
    /// The secret in base32, for typing it in.
    pub secret_base32: Zeroizing<String>,
    /// The URI as an SVG QR code (feature `qr`).
    #[cfg(feature = "qr")]
    pub qr_svg: Zeroizing<String>,
}

impl fmt::Debug for OtpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpEnrollment")
            .field("factor_id", &self.factor_id)
            .finish_non_exhaustive()
    }
}

/// Recovery codes to show the user once.
#[non_exhaustive]
#[derive(Debug)]
pub struct RecoveryEnrollment {
    /// The recovery-code factor.
    pub factor_id: FactorId,
    /// The codes (zeroized on drop; `Debug` redacts them).
    pub codes: Vec<RecoveryCode>,
}

/// A started challenge.
#[non_exhaustive]
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Challenge {
    /// Ask the user for a code from the factor (TOTP, HOTP, recovery code): nothing was
    /// sent or stored.
    Code {
        /// The factor to answer.
        factor_id: FactorId,
        /// Its kind.
        kind: FactorKind,
    },
    /// Pass `options` to `navigator.credentials.get()`; answer with
    /// [`Response::WebAuthn`] naming `challenge_id`.
    WebAuthn {
        /// The factor challenged (`None` for a usernameless sign-in).
        factor_id: Option<FactorId>,
        /// The handle of the stored challenge.
        challenge_id: ChallengeId,
        /// The request options.
        options: Box<CredentialRequestOptionsJson>,
    },
    /// A code was sent by SMS, voice or email: ask the user for it and answer with
    /// [`Response::OobCode`] naming `challenge_id` (or [`Response::Code`] for the
    /// factor's latest challenge).
    OobCode {
        /// The factor challenged.
        factor_id: FactorId,
        /// Its kind.
        kind: FactorKind,
        /// The handle of the stored challenge.
        challenge_id: ChallengeId,
        /// The channel the code went over.
        channel: Channel,
        /// Where it went, masked.
        destination: String,
        /// When the code expires.
        expires_at: Timestamp,
        /// When [`Service::resend_code`] is first allowed.
        resend_after: Timestamp,
        /// Attempts left.
        attempts_left: u32,
    },
    /// A push was sent to the user's device: show `number`, poll
    /// [`Service::push_status`], then complete with [`Response::Push`].
    Push {
        /// The factor challenged.
        factor_id: FactorId,
        /// The handle of the stored transaction (the device answers it).
        challenge_id: ChallengeId,
        /// The number the page shows and the user enters on the device.
        number: String,
        /// When the transaction expires.
        expires_at: Timestamp,
    },
}

/// The user's answer to a challenge.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub enum Response<'a> {
    /// A typed code (TOTP, HOTP, recovery code).
    Code(&'a str),
    /// A WebAuthn assertion for the challenge `challenge_id`.
    WebAuthn {
        /// From [`Challenge::WebAuthn`].
        challenge_id: &'a ChallengeId,
        /// The browser's `PublicKeyCredential.toJSON()`.
        response: &'a AuthenticationResponseJson,
    },
    /// A code sent by SMS, voice or email, for the challenge `challenge_id`.
    OobCode {
        /// From [`Challenge::OobCode`].
        challenge_id: &'a ChallengeId,
        /// What the user typed.
        code: &'a str,
    },
    /// Completes the approved push transaction `challenge_id`.
    Push {
        /// From [`Challenge::Push`].
        challenge_id: &'a ChallengeId,
    },
}

/// A recovery code's use.
#[non_exhaustive]
#[derive(Debug)]
pub struct RecoveryUse {
    /// Unused codes left: warn when low, offer to regenerate at zero.
    pub remaining: usize,
    /// A rotating code's successor, to show once.
    pub next_code: Option<RecoveryCode>,
}

/// A successful verification.
#[non_exhaustive]
#[derive(Debug)]
pub struct Verification {
    /// The user (learned from the credential in a usernameless sign-in).
    pub user: UserId,
    /// The factor used, after the update.
    pub factor: FactorInfo,
    /// The RFC 8176 methods this factor proved.
    pub methods: Vec<AuthMethod>,
    /// The caller's session with those methods added: keep it as the new session.
    pub session: Session,
    /// The `amr` values for a token issued now (policy's judgement, `mfa` included).
    pub amr: AmrSet,
    /// The assurance level the session holds now.
    pub aal: Option<Aal>,
    /// For a recovery code: what is left.
    pub recovery: Option<RecoveryUse>,
}

/// What the service keeps between starting and finishing a WebAuthn registration.
#[derive(Deserialize, Serialize)]
struct PendingRegistration {
    state: RegistrationState,
    label: String,
}

fn check_label(label: &str) -> Result<()> {
    if label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(Error::invalid("label", "at most 64 characters, no control characters").into());
    }
    Ok(())
}

fn reject_reason(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::Core(Error::Rejected(r)) => r.reason().as_str(),
        ServiceError::Core(Error::Invalid(_)) => "malformed",
        ServiceError::Locked { .. } => "locked",
        ServiceError::Backoff { .. } => "backoff",
        _ => "error",
    }
}

impl<S: Store> Service<S> {
    /// A builder over `store`.
    pub fn builder(store: S) -> ServiceBuilder<S> {
        ServiceBuilder {
            store,
            clock: None,
            rng: None,
            rp: None,
            webauthn_uv: UserVerification::Preferred,
            policy: None,
            keys: None,
            recovery: None,
            issuer: None,
            audit: None,
            sender: None,
            oob: None,
            push: None,
            totp: TotpFactor::default(),
            hotp: HotpFactor::default(),
            user_failure_limit: None,
        }
    }

    /// The store (for what the service does not wrap).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Takes the store back (to rebuild the service with another key set, say).
    pub fn into_store(self) -> S {
        self.store
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The key set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn sealer<'a>(&'a self, binding: Binding<'a>) -> Sealer<'a> {
        Sealer {
            keys: &self.keys,
            binding,
            rng: &self.rng,
        }
    }

    fn emit(&self, event: AuditEvent) {
        event.emit(self.audit.as_deref());
    }

    /// Sends `notice` to the user's contact (see [`contact`](Self::contact)).
    async fn notify(&self, user: &UserId, notice: SecurityNotice) {
        let contact = match self.contact(user).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(target: "mfa::audit", user = user.as_str(), error = %e, "security notification not delivered: contact lookup failed");
                return;
            }
        };
        self.notify_to(user, contact, notice).await;
    }

    /// Sends `notice` to `contact` (resolved before a removal or reset took it away).
    async fn notify_to(
        &self,
        user: &UserId,
        contact: Option<(Channel, mfa_oob::Destination)>,
        notice: SecurityNotice,
    ) {
        let Some(sender) = &self.sender else {
            return;
        };
        let Some((channel, to)) = contact else {
            tracing::info!(target: "mfa::audit", user = user.as_str(), notice = notice.as_str(), "security notification not sent: the user has no confirmed email or phone factor");
            return;
        };
        let service = self
            .oob
            .as_ref()
            .map(|o| o.config().templates().service().to_owned())
            .or_else(|| self.issuer.clone())
            .unwrap_or_else(|| "your account".to_owned());
        let (subject, body) = notice.render(&service);
        let message = match mfa_oob::OutgoingMessage::notice(channel, to, subject, body) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(target: "mfa::audit", user = user.as_str(), error = %e, "security notification not delivered");
                return;
            }
        };
        if let Err(e) = sender.send_dyn(&message).await {
            tracing::warn!(target: "mfa::audit", user = user.as_str(), error = %e, "security notification not delivered");
        }
    }

    /// The user's contact for security notices: the first confirmed email factor, else
    /// the first confirmed SMS or voice factor (by SMS); `None` without either.
    async fn contact(&self, user: &UserId) -> Result<Option<(Channel, mfa_oob::Destination)>> {
        if self.sender.is_none() {
            return Ok(None);
        }
        let rows = self.store.list_factors(user).await?;
        let pick = |kinds: &[FactorKind]| {
            rows.iter()
                .find(|r| r.value.confirmed && kinds.contains(&r.value.kind))
        };
        for (kinds, channel) in [
            (&[FactorKind::Email][..], Channel::Email),
            (&[FactorKind::Sms, FactorKind::Voice][..], Channel::Sms),
        ] {
            if let Some(row) = pick(kinds) {
                let data: oob::OobFactorData = self.decode_factor(&row.value)?;
                return Ok(Some((channel, data.record.destination().clone())));
            }
        }
        Ok(None)
    }

    /// The masked destination (or device name) shown in a factor list.
    fn destination_of(&self, row: &FactorRecord) -> Result<Option<String>> {
        match row.kind {
            FactorKind::Sms | FactorKind::Voice | FactorKind::Email => {
                let data: oob::OobFactorData = self.decode_factor(row)?;
                Ok(Some(data.record.destination().masked()))
            }
            FactorKind::Push => {
                let record: mfa_oob::PushRecord = self.decode_factor(row)?;
                Ok(Some(record.device_name().to_owned()))
            }
            _ => Ok(None),
        }
    }

    /// A factor's listing, with its destination.
    fn info(&self, row: &FactorRecord, remaining: Option<usize>) -> Result<FactorInfo> {
        Ok(FactorInfo::from_row(row, remaining).with_destination(self.destination_of(row)?))
    }

    fn oob_codes(&self) -> Result<&OobCodes> {
        self.oob.as_ref().ok_or(ServiceError::NotConfigured(
            "out-of-band codes (ServiceBuilder::oob_codes)",
        ))
    }

    fn push_factor(&self) -> Result<&(PushFactor, Arc<dyn DynPushTransport>)> {
        self.push
            .as_ref()
            .ok_or(ServiceError::NotConfigured("push (ServiceBuilder::push)"))
    }

    fn code_sender(&self) -> Result<&Arc<dyn DynSender>> {
        self.sender.as_ref().ok_or(ServiceError::NotConfigured(
            "sender (ServiceBuilder::sender)",
        ))
    }

    fn webauthn(&self) -> Result<&WebAuthnFactor> {
        self.webauthn
            .as_ref()
            .ok_or(ServiceError::NotConfigured("WebAuthn relying party"))
    }

    fn recovery_factor(&self) -> Result<&RecoveryFactor> {
        self.recovery
            .as_ref()
            .ok_or(ServiceError::NotConfigured("recovery keyring"))
    }

    fn encode_factor<T: Serialize>(
        &self,
        user: &UserId,
        id: &FactorId,
        kind: FactorKind,
        value: &T,
    ) -> Result<mfa_core::store::RecordData> {
        let owner = DataOwner::Factor { user, id };
        Ok(self
            .sealer(Binding::Kind(kind.as_str()))
            .encode(owner, value)?)
    }

    fn decode_factor<T: serde::de::DeserializeOwned>(&self, row: &FactorRecord) -> Result<T> {
        let owner = DataOwner::Factor {
            user: &row.user,
            id: &row.id,
        };
        Ok(self
            .sealer(Binding::Kind(row.kind.as_str()))
            .decode(owner, &row.data)?)
    }

    async fn enrolled(
        &self,
        user: &UserId,
    ) -> Result<(Vec<Versioned<FactorRecord>>, Vec<EnrolledFactor>)> {
        let rows = self.store.list_factors(user).await?;
        let enrolled = rows
            .iter()
            .map(|r| {
                let mut e = EnrolledFactor::new(r.value.id.clone(), r.value.kind);
                e.confirmed = r.value.confirmed;
                e
            })
            .collect();
        Ok((rows, enrolled))
    }

    /// NIST SP 800-63B rev4 §4.1.2: binding or removing an authenticator needs a
    /// session at the account's current assurance level — AAL1 (the password) while the
    /// account has no confirmed factor, AAL2 once it has one.
    fn require_assurance(
        &self,
        session: &Session,
        enrolled: &[EnrolledFactor],
        now: Timestamp,
    ) -> Result<()> {
        let required = if enrolled.iter().any(|f| f.confirmed) {
            Aal::Aal2
        } else {
            Aal::Aal1
        };
        match self.policy.assurance(session, enrolled, now) {
            Some(aal) if aal >= required => Ok(()),
            _ => Err(ServiceError::StepUpRequired { required }),
        }
    }

    async fn check_enroll(
        &self,
        user: &UserId,
        session: &Session,
        kind: FactorKind,
        now: Timestamp,
    ) -> Result<Vec<Versioned<FactorRecord>>> {
        BuiltinFactor::for_kind(kind)?;
        let (rows, enrolled) = self.enrolled(user).await?;
        self.require_assurance(session, &enrolled, now)?;
        self.policy.check_enroll(&enrolled, kind)?;
        Ok(rows)
    }

    async fn insert_new(&self, row: FactorRecord) -> Result<()> {
        match self.store.insert_factor(row).await {
            Ok(_) => Ok(()),
            Err(StoreError::LookupKeyTaken) => Err(ServiceError::CredentialAlreadyRegistered),
            Err(e) => Err(e.into()),
        }
    }

    fn issuer(&self) -> Result<&str> {
        self.issuer
            .as_deref()
            .ok_or(ServiceError::NotConfigured("issuer"))
    }

    async fn cas(&self, record: FactorRecord, expected: mfa_core::store::Version) -> Result<()> {
        match self.store.update_factor_if_version(record, expected).await {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict) => Err(ServiceError::Conflict),
            Err(StoreError::NotFound) => Err(ServiceError::UnknownFactor),
            Err(e) => Err(e.into()),
        }
    }
}

/// A verification that was accepted and stored.
struct Outcome {
    row: Versioned<FactorRecord>,
    methods: Vec<AuthMethod>,
    recovery: Option<RecoveryUse>,
}
