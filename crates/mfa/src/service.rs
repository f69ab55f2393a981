//! The service: builder, factor life cycle, verification, lockout, devices.

use std::fmt;
use std::sync::Arc;

use mfa_core::store::{
    ChallengeId, ChallengeOwner, FactorRecord, FailureKey, LookupKey, PendingChallenge,
    RememberedDevice, ResetSummary, Store, StoreError, Versioned,
};
use mfa_core::{
    Attachment, AuthMethod, Clock, DataOwner, Error, Factor, FactorId, FactorKind, OsRandom,
    Purpose, RecordCodec, RejectReason, Rejected, SecureRandom, StartOptions, SystemClock,
    Timestamp, UserId, UserVerification,
};
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

use crate::audit::{AuditEvent, AuditSink, EventKind, Notifier, SecurityNotice};
use crate::envelope::{Binding, KeySet, Sealer};
use crate::error::{Result, ServiceError};
use crate::random::SharedRandom;

const PURPOSE_WEBAUTHN_REGISTRATION: &str = "webauthn-registration";
const PURPOSE_WEBAUTHN_AUTHENTICATION: &str = "webauthn-authentication";
const MAX_LABEL: usize = 64;

/// The factors built into the service, by what the service does with them. SMS, voice,
/// email and push join this list when mfa-oob lands (their kinds are refused with
/// [`ServiceError::Unsupported`] until then).
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
}

impl BuiltinFactor {
    /// The built-in factor serving `kind`.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Unsupported`] for SMS, voice, email and push (mfa-oob) and any
    /// kind added later.
    pub fn for_kind(kind: FactorKind) -> Result<Self> {
        match kind {
            FactorKind::Totp => Ok(Self::Totp),
            FactorKind::Hotp => Ok(Self::Hotp),
            FactorKind::RecoveryCode => Ok(Self::RecoveryCode),
            k if k.is_webauthn() => Ok(Self::WebAuthn),
            k => Err(ServiceError::Unsupported(k.as_str())),
        }
    }
}

/// Builds a [`Service`]. Required: a store, a [`Policy`] and a [`KeySet`]. Optional: a
/// clock ([`SystemClock`]), a random source ([`OsRandom`]), a WebAuthn relying party, a
/// recovery-code keyring, the TOTP issuer, an audit sink and a notifier.
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
    notifier: Option<Arc<dyn Notifier>>,
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

    /// Who sends security notifications.
    #[must_use]
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
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
    /// [`ServiceError::NotConfigured`] without a policy or keys;
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
            notifier: self.notifier,
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
    notifier: Option<Arc<dyn Notifier>>,
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
    /// Where codes go, masked (`+49 ••• ••78`): for SMS, voice and email factors (with
    /// mfa-oob); `None` for the built-in kinds.
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
            notifier: None,
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

    async fn notify(&self, user: &UserId, notice: SecurityNotice) {
        if let Some(n) = &self.notifier
            && let Err(e) = n.notify(user, &notice).await
        {
            {
                tracing::warn!(target: "mfa::audit", user = user.as_str(), error = %e, "security notification not delivered");
            }
        }
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

    // ---------------------------------------------------------------- enrollment

    /// Starts a TOTP enrollment: a fresh secret, its `otpauth://` URI (and QR code with
    /// feature `qr`), stored unconfirmed until [`confirm`](Self::confirm) accepts the
    /// first code.
    ///
    /// # Errors
    ///
    /// [`ServiceError::StepUpRequired`], [`ServiceError::Enroll`], a bad label or
    /// account name, or a store failure.
    pub async fn enroll_totp(
        &self,
        user: &UserId,
        label: &str,
        session: &Session,
    ) -> Result<OtpEnrollment> {
        check_label(label)?;
        let now = self.now();
        let issuer = self.issuer()?;
        self.check_enroll(user, session, FactorKind::Totp, now)
            .await?;
        let record = TotpRecord::generate(TotpParams::default(), &mut self.rng.handle())
            .map_err(Into::<Error>::into)?;
        let uri = record
            .otpauth_uri(issuer, user.as_str())
            .map_err(Into::<Error>::into)?;
        let enrollment = self
            .store_otp(
                user,
                label,
                FactorKind::Totp,
                &record,
                &uri,
                &record.secret,
                now,
            )
            .await?;
        Ok(enrollment)
    }

    /// Starts an HOTP enrollment, as [`enroll_totp`](Self::enroll_totp).
    ///
    /// # Errors
    ///
    /// As [`enroll_totp`](Self::enroll_totp).
    pub async fn enroll_hotp(
        &self,
        user: &UserId,
        label: &str,
        session: &Session,
    ) -> Result<OtpEnrollment> {
        check_label(label)?;
        let now = self.now();
        let issuer = self.issuer()?;
        self.check_enroll(user, session, FactorKind::Hotp, now)
            .await?;
        let secret = Secret::generate(&mut self.rng.handle()).map_err(Into::<Error>::into)?;
        let params = HotpParams::default();
        let record = HotpRecord::new(secret.clone(), params);
        let uri = OtpAuthUri::hotp(secret.clone(), params, 0, Some(issuer), user.as_str())
            .map_err(|e| Error::from(mfa_otp::Error::from(e)))?;
        self.store_otp(user, label, FactorKind::Hotp, &record, &uri, &secret, now)
            .await
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "internal helper of the two OTP enrollments"
    )]
    async fn store_otp<R: Serialize>(
        &self,
        user: &UserId,
        label: &str,
        kind: FactorKind,
        record: &R,
        uri: &OtpAuthUri,
        secret: &Secret,
        now: Timestamp,
    ) -> Result<OtpEnrollment> {
        let id = FactorId::generate(&mut self.rng.handle())?;
        let data = self.encode_factor(user, &id, kind, record)?;
        let row = FactorRecord::new(user.clone(), id.clone(), kind, data, now).with_label(label);
        self.insert_new(row).await?;
        self.emit(AuditEvent::new(now, Some(user), EventKind::Enrolled).factor(&id, kind));
        Ok(OtpEnrollment {
            factor_id: id,
            uri: uri.to_uri_string(),
            secret_base32: secret.to_base32(),
            #[cfg(feature = "qr")]
            qr_svg: uri
                .to_qr_svg()
                .map_err(|e| Error::from(mfa_otp::Error::from(e)))?,
        })
    }

    /// Confirms a TOTP or HOTP enrollment with its first code (counted against the
    /// failure limits like any verification). A recovery-code set is confirmed with
    /// [`confirm_recovery_codes`](Self::confirm_recovery_codes), WebAuthn with
    /// [`finish_webauthn_registration`](Self::finish_webauthn_registration).
    ///
    /// # Errors
    ///
    /// A rejection for a wrong code, [`ServiceError::Locked`] / [`Backoff`](ServiceError::Backoff),
    /// or a store failure.
    pub async fn confirm(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        code: &str,
    ) -> Result<FactorInfo> {
        let now = self.now();
        self.gate(user, factor_id, now).await?;
        let result = async {
            let row = self.load_for_verify(user, factor_id).await?;
            let kind = row.value.kind;
            let stored = match BuiltinFactor::for_kind(kind)? {
                BuiltinFactor::Totp => {
                    self.verify_row(&self.totp, row, &(), code, Purpose::Confirm, now)
                        .await?
                        .0
                }
                BuiltinFactor::Hotp => {
                    self.verify_row(&self.hotp, row, &(), code, Purpose::Confirm, now)
                        .await?
                        .0
                }
                _ => {
                    return Err(Error::invalid(
                        "factor",
                        "confirm a TOTP or HOTP factor with a code",
                    )
                    .into());
                }
            };
            Ok(stored)
        }
        .await;
        match result {
            Ok(stored) => {
                self.clear_failures(user, factor_id).await;
                let kind = stored.value.kind;
                self.emit(
                    AuditEvent::new(now, Some(user), EventKind::Confirmed).factor(factor_id, kind),
                );
                self.notify(
                    user,
                    SecurityNotice::FactorAdded {
                        kind,
                        label: stored.value.label.clone(),
                    },
                )
                .await;
                Ok(FactorInfo::from_row(&stored.value, None))
            }
            Err(e) => Err(self.failed(user, factor_id, e, now).await),
        }
    }

    /// Generates recovery codes (shown once), stored unconfirmed until the user says
    /// they saved them ([`confirm_recovery_codes`](Self::confirm_recovery_codes)).
    ///
    /// # Errors
    ///
    /// [`ServiceError::RecoveryCodesExist`] when the user has a set (use
    /// [`regenerate_recovery_codes`](Self::regenerate_recovery_codes)), the enrollment
    /// checks, or a store failure.
    pub async fn enroll_recovery_codes(
        &self,
        user: &UserId,
        session: &Session,
    ) -> Result<RecoveryEnrollment> {
        let now = self.now();
        let factor = self.recovery_factor()?;
        let rows = self
            .check_enroll(user, session, FactorKind::RecoveryCode, now)
            .await?;
        if rows
            .iter()
            .any(|r| r.value.kind == FactorKind::RecoveryCode)
        {
            return Err(ServiceError::RecoveryCodesExist);
        }
        let (codes, record) = factor
            .generate(&mut self.rng.handle())
            .map_err(Into::<Error>::into)?
            .into_parts();
        let id = FactorId::generate(&mut self.rng.handle())?;
        let data = self.encode_factor(user, &id, FactorKind::RecoveryCode, &record)?;
        let row = FactorRecord::new(
            user.clone(),
            id.clone(),
            FactorKind::RecoveryCode,
            data,
            now,
        )
        .with_label("Recovery codes");
        self.insert_new(row).await?;
        self.emit(
            AuditEvent::new(now, Some(user), EventKind::Enrolled)
                .factor(&id, FactorKind::RecoveryCode),
        );
        Ok(RecoveryEnrollment {
            factor_id: id,
            codes,
        })
    }

    /// The user saved their recovery codes: the set becomes active.
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownFactor`] unless `factor_id` is the user's recovery-code
    /// factor; [`ServiceError::Conflict`] on a concurrent change; a store failure.
    pub async fn confirm_recovery_codes(
        &self,
        user: &UserId,
        factor_id: &FactorId,
    ) -> Result<FactorInfo> {
        let now = self.now();
        let row = self
            .store
            .factor(user, factor_id)
            .await?
            .ok_or(ServiceError::UnknownFactor)?;
        if row.value.kind != FactorKind::RecoveryCode {
            return Err(ServiceError::UnknownFactor);
        }
        let record: RecoveryRecord = self.decode_factor(&row.value)?;
        if !row.value.confirmed {
            let mut updated = row.value.clone();
            updated.confirmed = true;
            self.cas(updated.clone(), row.version).await?;
            self.emit(
                AuditEvent::new(now, Some(user), EventKind::Confirmed)
                    .factor(factor_id, FactorKind::RecoveryCode),
            );
            self.notify(
                user,
                SecurityNotice::FactorAdded {
                    kind: FactorKind::RecoveryCode,
                    label: updated.label.clone(),
                },
            )
            .await;
            return Ok(FactorInfo::from_row(&updated, Some(record.remaining())));
        }
        Ok(FactorInfo::from_row(&row.value, Some(record.remaining())))
    }

    /// Replaces the user's whole recovery-code set: every old code stops working at once.
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownFactor`] when the user has no set, the assurance check,
    /// [`ServiceError::Conflict`] on a concurrent change, or a store failure.
    pub async fn regenerate_recovery_codes(
        &self,
        user: &UserId,
        session: &Session,
    ) -> Result<RecoveryEnrollment> {
        let now = self.now();
        let factor = self.recovery_factor()?;
        let (rows, enrolled) = self.enrolled(user).await?;
        self.require_assurance(session, &enrolled, now)?;
        let row = rows
            .into_iter()
            .find(|r| r.value.kind == FactorKind::RecoveryCode)
            .ok_or(ServiceError::UnknownFactor)?;
        let previous: RecoveryRecord = self.decode_factor(&row.value)?;
        let (codes, record) = factor
            .regenerate(&previous, &mut self.rng.handle())
            .map_err(Into::<Error>::into)?
            .into_parts();
        let mut updated = row.value.clone();
        updated.data = self.encode_factor(user, &updated.id, FactorKind::RecoveryCode, &record)?;
        updated.confirmed = true;
        self.cas(updated.clone(), row.version).await?;
        self.emit(
            AuditEvent::new(now, Some(user), EventKind::RecoveryCodesRegenerated)
                .factor(&updated.id, FactorKind::RecoveryCode),
        );
        self.notify(user, SecurityNotice::RecoveryCodesRegenerated)
            .await;
        Ok(RecoveryEnrollment {
            factor_id: updated.id,
            codes,
        })
    }

    /// Starts a WebAuthn registration: creation options for
    /// `navigator.credentials.create()` and the handle of the stored state. `attachment`
    /// asks for a platform authenticator (allowed by the default policy only once
    /// another factor is enrolled) or a roaming one; `None` lets the user choose.
    ///
    /// # Errors
    ///
    /// [`ServiceError::NotConfigured`] without a relying party, the enrollment checks,
    /// or a store failure.
    pub async fn begin_webauthn_registration(
        &self,
        user: &UserId,
        label: &str,
        attachment: Option<Attachment>,
        session: &Session,
    ) -> Result<(ChallengeId, CreationOptionsJson)> {
        check_label(label)?;
        let now = self.now();
        let factor = self.webauthn()?;
        let kind = FactorKind::WebAuthn { attachment };
        let rows = self.check_enroll(user, session, kind, now).await?;
        // One user handle per account (so an authenticator keeps one passkey per
        // account), random and never personal data; existing credentials are excluded.
        let mut handle = None;
        let mut exclude = Vec::new();
        for row in rows.iter().filter(|r| r.value.kind.is_webauthn()) {
            let cred: CredentialRecord = self.decode_factor(&row.value)?;
            exclude.push(cred.descriptor());
            if handle.is_none() {
                handle = cred.user_handle.map(|h| h.0);
            }
        }
        let handle = match handle {
            Some(h) => h,
            None => {
                let mut h = vec![0u8; 32];
                self.rng.fill(&mut h)?;
                h
            }
        };
        let mut req = RegistrationRequest::new(handle, user.as_str(), user.as_str());
        req.attachment = attachment;
        req.exclude_credentials = exclude;
        let (options, state) = factor
            .relying_party()
            .start_registration(&req, now, &mut self.rng.handle())
            .map_err(Into::<Error>::into)?;
        let id = ChallengeId::generate(&mut self.rng.handle())?;
        let owner = ChallengeOwner::User(user.clone());
        let expires_at = state.expires_at;
        let pending = PendingRegistration {
            state,
            label: label.to_owned(),
        };
        let data = self
            .sealer(Binding::Purpose(PURPOSE_WEBAUTHN_REGISTRATION))
            .encode(
                DataOwner::Challenge {
                    owner: &owner,
                    id: &id,
                },
                &pending,
            )?;
        self.store
            .put_challenge(PendingChallenge::new(id.clone(), owner, data, expires_at))
            .await?;
        Ok((id, options))
    }

    /// Finishes a WebAuthn registration: verifies the response (§7.1), checks the
    /// enrollment rules against the authenticator's actual attachment, and stores the
    /// credential with its id as a global lookup key, so no credential is registered
    /// twice, by anyone (§7.1 step 26). The factor is active at once.
    ///
    /// # Errors
    ///
    /// A rejection for an unknown, expired or used challenge or a response that does
    /// not verify; [`ServiceError::CredentialAlreadyRegistered`]; [`ServiceError::Enroll`].
    pub async fn finish_webauthn_registration(
        &self,
        user: &UserId,
        challenge_id: &ChallengeId,
        response: &RegistrationResponseJson,
    ) -> Result<FactorInfo> {
        let now = self.now();
        let factor = self.webauthn()?;
        let owner = ChallengeOwner::User(user.clone());
        let pending = self
            .store
            .take_challenge(challenge_id, &owner, now)
            .await?
            .ok_or_else(|| Error::rejected(RejectReason::Expired))?;
        let pending: PendingRegistration = self
            .sealer(Binding::Purpose(PURPOSE_WEBAUTHN_REGISTRATION))
            .decode(
                DataOwner::Challenge {
                    owner: &owner,
                    id: challenge_id,
                },
                &pending.data,
            )?;
        let registration = factor
            .relying_party()
            .finish_registration(&pending.state, response, now)
            .map_err(Into::<Error>::into)?;
        let record = registration.record;
        let kind = factor.kind(&record);
        let (_, enrolled) = self.enrolled(user).await?;
        self.policy.check_enroll(&enrolled, kind)?;
        let id = FactorId::generate(&mut self.rng.handle())?;
        let data = self.encode_factor(user, &id, kind, &record)?;
        let row = FactorRecord::new(user.clone(), id.clone(), kind, data, now)
            .with_label(pending.label.clone())
            .with_lookup_key(LookupKey::webauthn_credential(&record.id.0)?)
            .with_confirmed(true);
        self.insert_new(row.clone()).await?;
        self.emit(AuditEvent::new(now, Some(user), EventKind::Enrolled).factor(&id, kind));
        self.emit(AuditEvent::new(now, Some(user), EventKind::Confirmed).factor(&id, kind));
        self.notify(
            user,
            SecurityNotice::FactorAdded {
                kind,
                label: pending.label,
            },
        )
        .await;
        Ok(FactorInfo::from_row(&row, None))
    }

    // ---------------------------------------------------------------- management

    /// The user's factors, oldest first. Never a secret.
    ///
    /// # Errors
    ///
    /// A store failure, or a recovery record that does not open.
    pub async fn list_factors(&self, user: &UserId) -> Result<Vec<FactorInfo>> {
        let rows = self.store.list_factors(user).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let remaining = if row.value.kind == FactorKind::RecoveryCode {
                let rec: RecoveryRecord = self.decode_factor(&row.value)?;
                Some(rec.remaining())
            } else {
                None
            };
            out.push(FactorInfo::from_row(&row.value, remaining));
        }
        Ok(out)
    }

    /// Renames a factor.
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownFactor`], a bad label, [`ServiceError::Conflict`] after
    /// repeated concurrent changes, or a store failure.
    pub async fn rename_factor(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        label: &str,
    ) -> Result<FactorInfo> {
        check_label(label)?;
        let now = self.now();
        for _ in 0..3 {
            let row = self
                .store
                .factor(user, factor_id)
                .await?
                .ok_or(ServiceError::UnknownFactor)?;
            let mut updated = row.value.clone();
            updated.label = label.to_owned();
            match self
                .store
                .update_factor_if_version(updated.clone(), row.version)
                .await
            {
                Ok(_) => {
                    self.emit(
                        AuditEvent::new(now, Some(user), EventKind::FactorRenamed)
                            .factor(factor_id, updated.kind),
                    );
                    return Ok(FactorInfo::from_row(&updated, None));
                }
                // Only the label changes, so retrying on a fresh load loses nothing.
                Err(StoreError::Conflict) => {}
                Err(StoreError::NotFound) => return Err(ServiceError::UnknownFactor),
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict)
    }

    /// Removes a factor, unless the policy's enrollment rules refuse (the last factor of
    /// a user who must have MFA). Needs a session at the account's assurance level.
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownFactor`], [`ServiceError::Enroll`],
    /// [`ServiceError::StepUpRequired`], or a store failure.
    pub async fn remove_factor(
        &self,
        user: &UserId,
        subject: &Subject,
        session: &Session,
        factor_id: &FactorId,
    ) -> Result<()> {
        let now = self.now();
        let (rows, enrolled) = self.enrolled(user).await?;
        let row = rows
            .iter()
            .find(|r| r.value.id == *factor_id)
            .ok_or(ServiceError::UnknownFactor)?;
        self.require_assurance(session, &enrolled, now)?;
        match self.policy.check_remove(subject, &enrolled, factor_id) {
            Ok(_) => {}
            Err(EnrollRefusal::UnknownFactor) => return Err(ServiceError::UnknownFactor),
            Err(e) => return Err(e.into()),
        }
        if !self.store.remove_factor(user, factor_id).await? {
            return Err(ServiceError::UnknownFactor);
        }
        let kind = row.value.kind;
        self.clear_failures(user, factor_id).await;
        self.emit(
            AuditEvent::new(now, Some(user), EventKind::FactorRemoved).factor(factor_id, kind),
        );
        self.notify(
            user,
            SecurityNotice::FactorRemoved {
                kind,
                label: row.value.label.clone(),
            },
        )
        .await;
        Ok(())
    }

    /// An administrator's MFA reset, in one atomic store operation: factors, challenges,
    /// remembered devices and failure counters gone, generation bumped (revoking every
    /// remembered-device token), so the next sign-in enrolls from scratch.
    ///
    /// # Errors
    ///
    /// A store failure (nothing was removed).
    pub async fn reset_user(&self, user: &UserId) -> Result<ResetSummary> {
        let now = self.now();
        let summary = self.store.reset_user(user).await?;
        self.emit(AuditEvent::new(
            now,
            Some(user),
            EventKind::Reset {
                factors: summary.factors,
                devices: summary.devices,
            },
        ));
        self.notify(user, SecurityNotice::MfaReset).await;
        Ok(summary)
    }

    /// An administrator's unlock: clears the user's failure counter and that of
    /// `factor_id` (or of every factor of the user when `None`).
    ///
    /// # Errors
    ///
    /// A store failure.
    pub async fn unlock(&self, user: &UserId, factor_id: Option<&FactorId>) -> Result<()> {
        let now = self.now();
        self.store.clear_failures(&FailureKey::user(user)).await?;
        match factor_id {
            Some(id) => {
                self.store
                    .clear_failures(&FailureKey::factor(user, id))
                    .await?
            }
            None => {
                for row in self.store.list_factors(user).await? {
                    self.store
                        .clear_failures(&FailureKey::factor(user, &row.value.id))
                        .await?;
                }
            }
        }
        let mut event = AuditEvent::new(now, Some(user), EventKind::Unlocked);
        event.factor = factor_id.cloned();
        self.emit(event);
        Ok(())
    }

    /// Re-seals every factor record of `user` that is not under the active key; returns
    /// how many were re-sealed. Pending challenges are not re-sealed: they expire within
    /// minutes, so keep an old key in the set for one challenge lifetime after
    /// rotating. (The store traits have no "every user" listing; run this per user, or
    /// lazily at sign-in.)
    ///
    /// # Errors
    ///
    /// A record that does not open (its key was removed from the set), a store failure,
    /// or [`ServiceError::Conflict`] after repeated concurrent changes.
    pub async fn rekey_user(&self, user: &UserId) -> Result<usize> {
        let now = self.now();
        let mut count = 0;
        for row in self.store.list_factors(user).await? {
            if self.keys.is_current(&row.value.data) {
                continue;
            }
            let mut row = row;
            let mut done = false;
            for _ in 0..3 {
                let value: serde_json::Value = self.decode_factor(&row.value)?;
                let mut updated = row.value.clone();
                updated.data = self.encode_factor(user, &updated.id, updated.kind, &value)?;
                match self
                    .store
                    .update_factor_if_version(updated, row.version)
                    .await
                {
                    Ok(_) => {
                        done = true;
                        break;
                    }
                    Err(StoreError::Conflict) => {
                        match self.store.factor(user, &row.value.id).await? {
                            Some(fresh) if !self.keys.is_current(&fresh.value.data) => row = fresh,
                            _ => break,
                        }
                    }
                    Err(StoreError::NotFound) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            if done {
                count += 1;
            }
        }
        if count > 0 {
            self.emit(AuditEvent::new(
                now,
                Some(user),
                EventKind::Rekeyed { records: count },
            ));
        }
        Ok(count)
    }

    // ---------------------------------------------------------------- decisions

    /// The policy's decision for this request (`Allow`, `StepUp`, `Enroll`, `Deny`),
    /// with the user's factors, failure counters and remembered device (`device`: the
    /// token and device id the client sent) read from the store.
    ///
    /// # Errors
    ///
    /// A store failure: the caller must then refuse the request (fail closed).
    pub async fn evaluate(
        &self,
        user: &UserId,
        subject: &Subject,
        session: &Session,
        request: &Request,
        device: Option<(&str, &str)>,
    ) -> Result<Decision> {
        let now = self.now();
        let window = self.policy.failure_limits().window;
        let (_, mut enrolled) = self.enrolled(user).await?;
        for f in &mut enrolled {
            if let Some(fails) = self
                .store
                .failures(&FailureKey::factor(user, &f.id), now, window)
                .await?
            {
                f.consecutive_failures = fails.count;
                f.last_failure_at = Some(fails.last_at);
            }
        }
        let mut stored = None;
        let mut generation = 0;
        if let Some((_, device_id)) = device {
            stored = self.store.remembered_device(user, device_id, now).await?;
            generation = self.store.user_state(user).await?.generation.get();
        }
        let proof = device.map(|(token, device_id)| DeviceProof {
            token,
            device_id,
            generation,
            stored: stored.as_ref(),
        });
        Ok(self.policy.evaluate(&Input {
            user,
            subject,
            enrolled: &enrolled,
            session,
            request,
            device: proof,
            now,
        }))
    }

    /// The factor to challenge for a `StepUp` decision: the user's first confirmed
    /// factor of the first acceptable kind, in the policy's order of preference.
    ///
    /// # Errors
    ///
    /// A store failure.
    pub async fn preferred_factor(
        &self,
        user: &UserId,
        decision: &Decision,
    ) -> Result<Option<FactorInfo>> {
        let Decision::StepUp { acceptable, .. } = decision else {
            return Ok(None);
        };
        let rows = self.store.list_factors(user).await?;
        for kind in acceptable {
            if let Some(r) = rows
                .iter()
                .find(|r| r.value.confirmed && r.value.kind == *kind)
            {
                return Ok(Some(FactorInfo::from_row(&r.value, None)));
            }
        }
        Ok(None)
    }

    // ---------------------------------------------------------------- challenge / verify

    /// Starts a challenge for one of the user's factors. For codes nothing is sent or
    /// stored; for WebAuthn the state is sealed and stored, redeemable once by this user.
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownFactor`] for an unknown or unconfirmed factor, an option
    /// the factor cannot honour, or a store failure.
    pub async fn start_challenge(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        options: &StartOptions,
    ) -> Result<Challenge> {
        let now = self.now();
        let row = self
            .store
            .factor(user, factor_id)
            .await?
            .ok_or(ServiceError::UnknownFactor)?;
        if !row.value.confirmed {
            return Err(ServiceError::UnknownFactor);
        }
        let kind = row.value.kind;
        match BuiltinFactor::for_kind(kind)? {
            BuiltinFactor::Totp | BuiltinFactor::Hotp | BuiltinFactor::RecoveryCode => {
                options.ensure_unprompted(kind.as_str())?;
                Ok(Challenge::Code {
                    factor_id: factor_id.clone(),
                    kind,
                })
            }
            BuiltinFactor::WebAuthn => {
                let factor = self.webauthn()?;
                let record: CredentialRecord = self.decode_factor(&row.value)?;
                let (options, state) = factor
                    .start(Some(&record), options, now, &mut self.rng.handle())
                    .map_err(Into::<Error>::into)?;
                let owner = ChallengeOwner::User(user.clone());
                let challenge_id = self
                    .put_authentication(owner, Some(factor_id), &state)
                    .await?;
                Ok(Challenge::WebAuthn {
                    factor_id: Some(factor_id.clone()),
                    challenge_id,
                    options: Box::new(options),
                })
            }
        }
    }

    /// Starts a usernameless passkey sign-in: the user is learned from the credential.
    ///
    /// # Errors
    ///
    /// [`ServiceError::NotConfigured`], an option WebAuthn cannot honour, or a store
    /// failure.
    pub async fn start_passkey_signin(&self, options: &StartOptions) -> Result<Challenge> {
        let now = self.now();
        let factor = self.webauthn()?;
        let (options, state) = factor
            .start(None, options, now, &mut self.rng.handle())
            .map_err(Into::<Error>::into)?;
        let challenge_id = self
            .put_authentication(ChallengeOwner::Usernameless, None, &state)
            .await?;
        Ok(Challenge::WebAuthn {
            factor_id: None,
            challenge_id,
            options: Box::new(options),
        })
    }

    async fn put_authentication(
        &self,
        owner: ChallengeOwner,
        factor: Option<&FactorId>,
        state: &AuthenticationState,
    ) -> Result<ChallengeId> {
        let id = ChallengeId::generate(&mut self.rng.handle())?;
        let data = self
            .sealer(Binding::Purpose(PURPOSE_WEBAUTHN_AUTHENTICATION))
            .encode(
                DataOwner::Challenge {
                    owner: &owner,
                    id: &id,
                },
                state,
            )?;
        let mut pending = PendingChallenge::new(id.clone(), owner, data, state.expires_at);
        if let Some(f) = factor {
            pending = pending.with_factor(f.clone());
        }
        self.store.put_challenge(pending).await?;
        Ok(id)
    }

    async fn take_authentication(
        &self,
        owner: &ChallengeOwner,
        id: &ChallengeId,
        factor: Option<&FactorId>,
        now: Timestamp,
    ) -> Result<AuthenticationState> {
        let pending = self
            .store
            .take_challenge(id, owner, now)
            .await?
            .ok_or_else(|| Error::rejected(RejectReason::Expired))?;
        if pending.factor.as_ref() != factor {
            return Err(Rejected::with_detail(
                RejectReason::UnknownFactor,
                "challenge for another factor",
            )
            .into());
        }
        Ok(self
            .sealer(Binding::Purpose(PURPOSE_WEBAUTHN_AUTHENTICATION))
            .decode(DataOwner::Challenge { owner, id }, &pending.data)?)
    }

    /// Verifies the user's response for one of their factors, after the lockout check.
    /// On success the failure counters are cleared and the outcome carries the methods,
    /// the updated session, its `amr` values and assurance level, and for a recovery
    /// code what is left.
    ///
    /// # Errors
    ///
    /// A rejection (no oracle: wrong, replayed, unknown, unconfirmed all look alike),
    /// [`ServiceError::Locked`] / [`Backoff`](ServiceError::Backoff), or a store failure
    /// — which fails closed: nothing is verified when the counters cannot be read or
    /// written.
    pub async fn verify(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        response: Response<'_>,
        session: &Session,
    ) -> Result<Verification> {
        let now = self.now();
        self.gate(user, factor_id, now).await?;
        match self.verify_inner(user, factor_id, response, now).await {
            Ok(ok) => self.succeeded(user, factor_id, ok, session, now).await,
            Err(e) => Err(self.failed(user, factor_id, e, now).await),
        }
    }

    /// Finishes a usernameless passkey sign-in: finds the credential by its id (the
    /// global lookup key), checks the user's lockout, verifies, and checks the returned
    /// user handle is that account's.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    pub async fn finish_passkey_signin(
        &self,
        challenge_id: &ChallengeId,
        response: &AuthenticationResponseJson,
        session: &Session,
    ) -> Result<Verification> {
        let now = self.now();
        let factor = self.webauthn()?;
        let key = LookupKey::webauthn_credential(&response.raw_id.0)?;
        let Some(row) = self.store.factor_by_lookup_key(&key, None).await? else {
            // Consume the challenge anyway, so it cannot be retried.
            let _ = self
                .store
                .take_challenge(challenge_id, &ChallengeOwner::Usernameless, now)
                .await;
            let err: ServiceError = Error::rejected(RejectReason::UnknownFactor).into();
            self.emit(AuditEvent::new(
                now,
                None,
                EventKind::Failed {
                    reason: reject_reason(&err),
                },
            ));
            return Err(err);
        };
        let user = row.value.user.clone();
        let factor_id = row.value.id.clone();
        self.gate(&user, &factor_id, now).await?;
        let result = async {
            let state = self
                .take_authentication(&ChallengeOwner::Usernameless, challenge_id, None, now)
                .await?;
            if !row.value.confirmed || !row.value.kind.is_webauthn() {
                return Err(Error::rejected(RejectReason::FactorDisabled).into());
            }
            let (stored, _, verified) = self
                .verify_row(factor, row, &state, response, Purpose::SignIn, now)
                .await?;
            if verified.details.user_handle.is_none() {
                return Err(Rejected::with_detail(
                    RejectReason::WrongCode,
                    "usernameless assertion without a user handle",
                )
                .into());
            }
            Ok(Outcome {
                row: stored,
                methods: verified.methods,
                recovery: None,
            })
        }
        .await;
        match result {
            Ok(ok) => self.succeeded(&user, &factor_id, ok, session, now).await,
            Err(e) => Err(self.failed(&user, &factor_id, e, now).await),
        }
    }

    async fn verify_inner(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        response: Response<'_>,
        now: Timestamp,
    ) -> Result<Outcome> {
        let row = self.load_for_verify(user, factor_id).await?;
        let kind = row.value.kind;
        let wrong_shape = || -> ServiceError {
            Rejected::with_detail(
                RejectReason::WrongCode,
                "response of another shape than the factor",
            )
            .into()
        };
        match (BuiltinFactor::for_kind(kind)?, response) {
            (BuiltinFactor::Totp, Response::Code(code)) => {
                let (row, _, v) = self
                    .verify_row(&self.totp, row, &(), code, Purpose::SignIn, now)
                    .await?;
                Ok(Outcome {
                    row,
                    methods: v.methods,
                    recovery: None,
                })
            }
            (BuiltinFactor::Hotp, Response::Code(code)) => {
                let (row, _, v) = self
                    .verify_row(&self.hotp, row, &(), code, Purpose::SignIn, now)
                    .await?;
                Ok(Outcome {
                    row,
                    methods: v.methods,
                    recovery: None,
                })
            }
            (BuiltinFactor::RecoveryCode, Response::Code(code)) => {
                let factor = self.recovery_factor()?;
                let (row, record, v) = self
                    .verify_row(factor, row, &(), code, Purpose::SignIn, now)
                    .await?;
                let remaining = record.remaining();
                Ok(Outcome {
                    row,
                    methods: v.methods,
                    recovery: Some(RecoveryUse {
                        remaining,
                        next_code: v.details.next_code,
                    }),
                })
            }
            (
                BuiltinFactor::WebAuthn,
                Response::WebAuthn {
                    challenge_id,
                    response,
                },
            ) => {
                let factor = self.webauthn()?;
                let owner = ChallengeOwner::User(user.clone());
                let state = self
                    .take_authentication(&owner, challenge_id, Some(factor_id), now)
                    .await?;
                let (row, _, v) = self
                    .verify_row(factor, row, &state, response, Purpose::SignIn, now)
                    .await?;
                Ok(Outcome {
                    row,
                    methods: v.methods,
                    recovery: None,
                })
            }
            _ => Err(wrong_shape()),
        }
    }

    async fn load_for_verify(
        &self,
        user: &UserId,
        factor_id: &FactorId,
    ) -> Result<Versioned<FactorRecord>> {
        Ok(self
            .store
            .factor(user, factor_id)
            .await?
            .ok_or_else(|| Error::rejected(RejectReason::UnknownFactor))?)
    }

    /// `mfa_core::verify_factor`'s steps (decode, verify purely, compare-and-swap; a
    /// lost race is a replay), starting from the row the service already loaded to pick
    /// the factor, so a verification reads the store once.
    async fn verify_row<F: Factor>(
        &self,
        factor: &F,
        stored: Versioned<FactorRecord>,
        state: &F::State,
        response: &F::Response,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<(
        Versioned<FactorRecord>,
        F::Record,
        mfa_core::Verified<F::Record, F::Details>,
    )> {
        if purpose == Purpose::SignIn && !stored.value.confirmed {
            return Err(Rejected::with_detail(
                RejectReason::FactorDisabled,
                "factor not confirmed",
            )
            .into());
        }
        if purpose == Purpose::Confirm && stored.value.confirmed {
            return Err(Error::invalid("factor", "already confirmed").into());
        }
        let record: F::Record = self.decode_factor(&stored.value)?;
        let kind = factor.kind(&record);
        if kind != stored.value.kind && !(kind.is_webauthn() && stored.value.kind.is_webauthn()) {
            return Err(Error::invalid("factor", "the stored factor is of another kind").into());
        }
        let verified = factor
            .verify(&record, state, response, now, &mut self.rng.handle())
            .map_err(Into::<Error>::into)?;
        let mut updated = stored.value.clone();
        updated.data =
            self.encode_factor(&updated.user, &updated.id, updated.kind, &verified.record)?;
        updated.last_used_at = Some(now);
        updated.confirmed = true;
        match self
            .store
            .update_factor_if_version(updated.clone(), stored.version)
            .await
        {
            Ok(version) => Ok((
                Versioned::new(updated, version),
                verified.record.clone(),
                verified,
            )),
            Err(StoreError::Conflict) => Err(Rejected::with_detail(
                RejectReason::Replay,
                "lost the compare-and-swap to a concurrent verification",
            )
            .into()),
            Err(StoreError::NotFound) => Err(Rejected::with_detail(
                RejectReason::UnknownFactor,
                "factor removed during verification",
            )
            .into()),
            Err(e) => Err(e.into()),
        }
    }

    async fn succeeded(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        ok: Outcome,
        session: &Session,
        now: Timestamp,
    ) -> Result<Verification> {
        self.clear_failures(user, factor_id).await;
        let kind = ok.row.value.kind;
        self.emit(
            AuditEvent::new(
                now,
                Some(user),
                EventKind::Verified {
                    methods: ok.methods.clone(),
                },
            )
            .factor(factor_id, kind),
        );
        if let Some(r) = &ok.recovery {
            self.emit(
                AuditEvent::new(
                    now,
                    Some(user),
                    EventKind::RecoveryCodeUsed {
                        remaining: r.remaining,
                    },
                )
                .factor(factor_id, kind),
            );
            self.notify(
                user,
                SecurityNotice::RecoveryCodeUsed {
                    remaining: r.remaining,
                },
            )
            .await;
        }
        let mut session = session.clone();
        for m in &ok.methods {
            session.methods.push(CompletedMethod {
                method: *m,
                factor: Some(factor_id.clone()),
                at: now,
            });
        }
        session.last_activity = Some(now);
        let (_, enrolled) = self.enrolled(user).await?;
        let amr = self.policy.amr(&session, &enrolled, now);
        let aal = self.policy.assurance(&session, &enrolled, now);
        Ok(Verification {
            user: user.clone(),
            factor: FactorInfo::from_row(&ok.row.value, ok.recovery.as_ref().map(|r| r.remaining)),
            methods: ok.methods,
            session,
            amr,
            aal,
            recovery: ok.recovery,
        })
    }

    /// Audits a failed verification (the attempt was already counted by the gate) and
    /// reports a lockout it caused.
    async fn failed(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        e: ServiceError,
        now: Timestamp,
    ) -> ServiceError {
        let mut event = AuditEvent::new(
            now,
            Some(user),
            EventKind::Failed {
                reason: reject_reason(&e),
            },
        );
        event.factor = Some(factor_id.clone());
        self.emit(event);
        let limits = self.policy.failure_limits();
        if let Ok(Some(f)) = self
            .store
            .failures(&FailureKey::factor(user, factor_id), now, limits.window)
            .await
            && f.count == limits.max_consecutive
        {
            let mut event = AuditEvent::new(
                now,
                Some(user),
                EventKind::Locked {
                    until: now.saturating_add(limits.lockout),
                },
            );
            event.factor = Some(factor_id.clone());
            self.emit(event);
        }
        e
    }

    async fn clear_failures(&self, user: &UserId, factor_id: &FactorId) {
        for key in [FailureKey::factor(user, factor_id), FailureKey::user(user)] {
            if let Err(e) = self.store.clear_failures(&key).await {
                // The success stands; the counter only stays higher than it should.
                tracing::warn!(target: "mfa::audit", user = user.as_str(), error = %e, "failure counter not cleared");
            }
        }
    }

    /// The lockout gate, before any verification: every attempt that gets past a
    /// backoff is counted **before** verifying (increment-and-read), so of any number of
    /// concurrent attempts at most the limit are verified; a success clears the count.
    async fn gate(&self, user: &UserId, factor_id: &FactorId, now: Timestamp) -> Result<()> {
        let limits = *self.policy.failure_limits();
        let fkey = FailureKey::factor(user, factor_id);
        let ukey = FailureKey::user(user);
        // Fail closed: a store error here refuses the attempt unverified.
        let fprev = self.store.failures(&fkey, now, limits.window).await?;
        let uprev = self.store.failures(&ukey, now, limits.window).await?;
        let fstate =
            self.policy
                .failure_state(fprev.map_or(0, |f| f.count), fprev.map(|f| f.last_at), now);
        let ulocked = uprev.and_then(|u| {
            let until = u.last_at.saturating_add(limits.lockout);
            (u.count >= self.user_limit && now < until).then_some(until)
        });
        if let FailureState::Backoff { until } = fstate {
            return Err(ServiceError::Backoff { until });
        }
        let f = self.store.record_failure(&fkey, now, limits.window).await?;
        let u = self.store.record_failure(&ukey, now, limits.window).await?;
        let locked_until = now.saturating_add(limits.lockout);
        if let FailureState::LockedOut { .. } = fstate {
            self.emit_locked(user, factor_id, locked_until, now);
            return Err(ServiceError::Locked {
                until: locked_until,
            });
        }
        if ulocked.is_some() {
            self.emit_locked(user, factor_id, locked_until, now);
            return Err(ServiceError::Locked {
                until: locked_until,
            });
        }
        // Attempts running at the same time: judge by the count they reached together.
        let fbefore = fprev.map_or(0, |x| x.count);
        if f.count != fbefore.saturating_add(1) {
            match self
                .policy
                .failure_state(f.count.saturating_sub(1), Some(now), now)
            {
                FailureState::Open => {}
                FailureState::Backoff { until } => return Err(ServiceError::Backoff { until }),
                _ => {
                    return Err(ServiceError::Locked {
                        until: locked_until,
                    });
                }
            }
        }
        if u.count > self.user_limit {
            return Err(ServiceError::Locked {
                until: locked_until,
            });
        }
        Ok(())
    }

    fn emit_locked(&self, user: &UserId, factor_id: &FactorId, until: Timestamp, now: Timestamp) {
        let mut event = AuditEvent::new(now, Some(user), EventKind::Locked { until });
        event.factor = Some(factor_id.clone());
        self.emit(event);
    }

    // ---------------------------------------------------------------- devices

    /// Remembers this device after a multi-factor sign-in: stores its entry at the
    /// user's current generation and returns the signed token for the client's cookie.
    ///
    /// # Errors
    ///
    /// [`ServiceError::NotConfigured`] without a device key in the policy, or when the
    /// policy disables remembering; [`ServiceError::DeviceToken`] when the session is not
    /// multi-factor or the id is malformed; [`ServiceError::Conflict`] when the user was
    /// reset meanwhile; a store failure.
    pub async fn remember_device(
        &self,
        user: &UserId,
        session: &Session,
        device_id: &str,
        label: &str,
    ) -> Result<Zeroizing<String>> {
        check_label(label)?;
        let now = self.now();
        let key = self
            .policy
            .device_key()
            .ok_or(ServiceError::NotConfigured("device key"))?;
        let generation = self.store.user_state(user).await?.generation;
        let (_, enrolled) = self.enrolled(user).await?;
        let claims = self
            .policy
            .remember_device(user, device_id, generation.get(), session, &enrolled, now)?
            .ok_or(ServiceError::NotConfigured(
                "remembered devices (disabled by policy)",
            ))?;
        let token = Zeroizing::new(key.issue(&claims)?);
        let entry =
            RememberedDevice::new(user.clone(), device_id, generation, now, claims.expires_at)?
                .with_label(label);
        match self.store.remember_device(entry).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(ServiceError::Conflict),
            Err(e) => return Err(e.into()),
        }
        self.emit(AuditEvent::new(
            now,
            Some(user),
            EventKind::DeviceRemembered {
                device_id: device_id.to_owned(),
            },
        ));
        Ok(token)
    }

    /// Checks a remembered-device token: its signature, binding, expiry and generation,
    /// **and** that the store still has the device's entry at the current generation.
    /// `Ok(None)` when it is not honoured (the reason is logged at `DEBUG`).
    ///
    /// # Errors
    ///
    /// A store failure (treat as not remembered: fail closed).
    pub async fn check_device(
        &self,
        user: &UserId,
        device_id: &str,
        token: &str,
    ) -> Result<Option<DeviceClaims>> {
        let now = self.now();
        let Some(key) = self.policy.device_key() else {
            return Ok(None);
        };
        let generation = self.store.user_state(user).await?.generation;
        let Some(entry) = self.store.remembered_device(user, device_id, now).await? else {
            tracing::debug!(target: "mfa::audit", user = user.as_str(), "remembered device not in the store");
            return Ok(None);
        };
        if entry.generation != generation {
            return Ok(None);
        }
        match key.verify(token, user, device_id, generation.get(), now) {
            Ok(claims) => Ok(Some(claims)),
            Err(e) => {
                tracing::debug!(target: "mfa::audit", user = user.as_str(), reason = e.as_str(), "remembered-device token refused");
                Ok(None)
            }
        }
    }

    /// The user's remembered devices.
    ///
    /// # Errors
    ///
    /// A store failure.
    pub async fn list_devices(&self, user: &UserId) -> Result<Vec<RememberedDevice>> {
        Ok(self.store.list_devices(user, self.now()).await?)
    }

    /// Forgets one device; `false` when there was none.
    ///
    /// # Errors
    ///
    /// A store failure.
    pub async fn forget_device(&self, user: &UserId, device_id: &str) -> Result<bool> {
        let now = self.now();
        let removed = self.store.forget_device(user, device_id).await?;
        if removed {
            self.emit(AuditEvent::new(
                now,
                Some(user),
                EventKind::DeviceForgotten {
                    device_id: device_id.to_owned(),
                },
            ));
        }
        Ok(removed)
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
