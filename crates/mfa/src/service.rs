//! The service: builder, factor life cycle, verification, lockout, devices.
//!
//! Here: the `Service` itself and the helpers every concern shares. Beside it, one module
//! per concern: `builder`, `types` (what the calls take and give), `enroll`, `manage`
//! (list, rename, remove, reset, unlock, lockout status, rekey, policy decisions), `verify`
//! (challenge, verify, the lockout gate), `oob` (SMS, voice, email), `push`, `devices`
//! (remembered devices).

mod admin;
mod builder;
mod devices;
mod enroll;
mod grace;
mod import;
mod journal;
mod manage;
mod oob;
mod passkeys;
pub use passkeys::{MetadataAction, MetadataRecheck};
mod push;
mod types;
mod usernameless;
mod verify;

pub use admin::Admin;
pub use builder::ServiceBuilder;
pub(crate) use oob::DynSender;
pub use oob::{OobAddress, OobEnrollment};
pub(crate) use push::DynPushTransport;
pub use push::PushEnrollment;
pub use types::{
    Challenge, DeviceCookie, FactorInfo, FactorLockout, LockoutStatus, OtpEnrollment, PushNonce,
    RecoveryEnrollment, RecoveryUse, Response, Verification,
};

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use mfa_core::store::{
    AttemptCount, AttemptRequest, AttemptRules, Begun, ChallengeId, ChallengeOwner, ChallengeUse,
    FactorRecord, FailureKey, LookupKey, NEVER_LAPSES, PendingChallenge, RememberedDevice,
    ResetSummary, Store, StoreError, Success, Verdict, Versioned,
};
use mfa_core::{
    Attachment, Attempt, AuthMethod, Channel, Clock, DataOwner, Error as CoreError, Factor,
    FactorId, FactorKind, Keyring, OsRandom, Purpose, RecordCodec, RejectReason, Rejected,
    SecureRandom, StartOptions, SystemClock, Timestamp, UserId, UserVerification, VerifiedFactor,
};
use mfa_oob::{OobFactor, PushFactor, PushStatus, Sender};
use mfa_otp::{
    HotpFactor, HotpParams, HotpRecord, OtpAuthUri, Secret, TotpFactor, TotpParams, TotpRecord,
};
use mfa_policy::assurance::{Aal, AmrSet};
use mfa_policy::device::{DeviceClaims, DeviceProof};
use mfa_policy::enroll::EnrollRefusal;
use mfa_policy::input::{CompletedMethod, EnrolledFactor, Request, Session, Subject};
use mfa_policy::lockout::FailureState;
use mfa_policy::{Decision, Input, Policy};
use mfa_recovery::{RecoveryCode, RecoveryConfig, RecoveryFactor, RecoveryRecord};
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
use crate::error::{Error, Result};
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
    /// A code sent by SMS, voice call or email (mfa-oob's [`OobFactor`]).
    OobCode,
    /// Push approval with number matching (mfa-oob's [`PushFactor`]).
    Push,
}

impl BuiltinFactor {
    /// The built-in factor serving `kind`.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for a kind added to `mfa-core` later.
    pub fn for_kind(kind: FactorKind) -> Result<Self> {
        match kind {
            FactorKind::Totp => Ok(Self::Totp),
            FactorKind::Hotp => Ok(Self::Hotp),
            FactorKind::RecoveryCode => Ok(Self::RecoveryCode),
            FactorKind::Sms | FactorKind::Voice | FactorKind::Email => Ok(Self::OobCode),
            FactorKind::Push => Ok(Self::Push),
            k if k.is_webauthn() => Ok(Self::WebAuthn),
            k => Err(Error::Unsupported(k.as_str())),
        }
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
    oob: Option<OobFactor>,
    push: Option<(PushFactor, Arc<dyn DynPushTransport>)>,
    totp: TotpFactor,
    hotp: HotpFactor,
    user_limit: u32,
    /// The policy's failure limits and the account limit, as the store applies them.
    rules: AttemptRules,
    ops: journal::Ops,
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

/// What the service keeps between starting and finishing a WebAuthn registration.
#[derive(Deserialize, Serialize)]
struct PendingRegistration {
    state: RegistrationState,
    label: String,
}

fn check_label(label: &str) -> Result<()> {
    if label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(
            CoreError::invalid("label", "at most 64 characters, no control characters").into(),
        );
    }
    Ok(())
}

fn reject_reason(e: &Error) -> &'static str {
    match e {
        Error::Core(CoreError::Rejected(r)) => r.reason().as_str(),
        Error::Core(CoreError::Invalid(_)) => "malformed",
        Error::Locked { .. } => "locked",
        Error::Backoff { .. } => "backoff",
        _ => "error",
    }
}

impl<S: Store> Service<S> {
    /// A builder over `store`, with the [`Policy`] (`Policy::default()` asks for a
    /// second factor at every sign-in) and the [`Keyring`] that seals every stored
    /// record: what every service needs, so the types require them.
    pub fn builder(store: S, policy: Policy, keys: Keyring) -> ServiceBuilder<S> {
        ServiceBuilder {
            store,
            clock: None,
            rng: None,
            rp: None,
            webauthn_uv: UserVerification::Preferred,
            policy,
            keys,
            recovery: None,
            issuer: None,
            audit: None,
            sender: None,
            oob: None,
            push: None,
            totp: TotpFactor::default(),
            hotp: HotpFactor::default(),
            user_failure_limit: None,
            journal: None,
            trace_users: crate::ops::UserField::Plain,
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
        self.contact_in(rows.iter().map(|r| &r.value))
    }

    /// Sends `notice` to the contact found among `listed` (the user's factors as a
    /// verification's begin read them) and `fresh` (the row its commit just wrote, which
    /// replaces its listed self): no store read.
    async fn notify_listed(
        &self,
        user: &UserId,
        listed: &[Versioned<FactorRecord>],
        fresh: &FactorRecord,
        notice: SecurityNotice,
    ) {
        let mut rows: Vec<&FactorRecord> = listed
            .iter()
            .map(|r| &r.value)
            .filter(|r| r.id != fresh.id)
            .chain(core::iter::once(fresh))
            .collect();
        // The listing's order: oldest first, ties by id.
        rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        match self.contact_in(rows.into_iter()) {
            Ok(contact) => self.notify_to(user, contact, notice).await,
            Err(e) => {
                tracing::warn!(target: "mfa::audit", user = user.as_str(), error = %e, "security notification not delivered: contact lookup failed");
            }
        }
    }

    /// [`contact`](Self::contact) among rows already read: the first confirmed email
    /// factor's address, else the first confirmed SMS or voice factor's number.
    fn contact_in<'r>(
        &self,
        rows: impl Iterator<Item = &'r FactorRecord> + Clone,
    ) -> Result<Option<(Channel, mfa_oob::Destination)>> {
        if self.sender.is_none() {
            return Ok(None);
        }
        for (kinds, channel) in [
            (&[FactorKind::Email][..], Channel::Email),
            (&[FactorKind::Sms, FactorKind::Voice][..], Channel::Sms),
        ] {
            if let Some(row) = rows
                .clone()
                .find(|r| r.confirmed && kinds.contains(&r.kind))
            {
                let data: oob::OobFactorData = self.decode_factor(row)?;
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

    fn oob_codes(&self) -> Result<&OobFactor> {
        self.oob.as_ref().ok_or(Error::NotConfigured(
            "out-of-band codes (ServiceBuilder::oob_codes)",
        ))
    }

    fn push_factor(&self) -> Result<&(PushFactor, Arc<dyn DynPushTransport>)> {
        self.push
            .as_ref()
            .ok_or(Error::NotConfigured("push (ServiceBuilder::push)"))
    }

    fn code_sender(&self) -> Result<&Arc<dyn DynSender>> {
        self.sender
            .as_ref()
            .ok_or(Error::NotConfigured("sender (ServiceBuilder::sender)"))
    }

    fn webauthn(&self) -> Result<&WebAuthnFactor> {
        self.webauthn
            .as_ref()
            .ok_or(Error::NotConfigured("WebAuthn relying party"))
    }

    fn recovery_factor(&self) -> Result<&RecoveryFactor> {
        self.recovery
            .as_ref()
            .ok_or(Error::NotConfigured("recovery keyring"))
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

    /// Seals a challenge state kept for `purpose`, bound to its owner and id.
    fn seal_state<T: Serialize>(
        &self,
        purpose: &'static str,
        owner: &ChallengeOwner,
        id: &ChallengeId,
        state: &T,
    ) -> Result<mfa_core::store::RecordData> {
        Ok(self
            .sealer(Binding::Purpose(purpose))
            .encode(DataOwner::Challenge { owner, id }, state)?)
    }

    /// Opens a challenge state sealed by [`seal_state`](Self::seal_state).
    fn open_state<T: serde::de::DeserializeOwned>(
        &self,
        purpose: &'static str,
        owner: &ChallengeOwner,
        id: &ChallengeId,
        data: &mfa_core::store::RecordData,
    ) -> Result<T> {
        Ok(self
            .sealer(Binding::Purpose(purpose))
            .decode(DataOwner::Challenge { owner, id }, data)?)
    }

    /// Takes a pending challenge once and opens its state; an unknown, expired or
    /// already used one is `Rejected(Expired)`.
    /// The pending challenge `id` of `owner`, not consumed, which must be one for
    /// `factor`: `Expired` when there is none, `UnknownFactor` when it is another factor's.
    async fn factor_challenge(
        &self,
        owner: &ChallengeOwner,
        id: &ChallengeId,
        factor: &FactorId,
        now: Timestamp,
    ) -> Result<Versioned<PendingChallenge>> {
        let pending = self.store.challenge(id, owner, now).await?;
        let pending = pending.ok_or_else(|| CoreError::rejected(RejectReason::Expired))?;
        for_factor(pending.value.factor.as_ref(), Some(factor))?;
        Ok(pending)
    }

    /// Takes a challenge bound to no factor (a registration, a push enrollment, a
    /// usernameless sign-in) and opens its state for `purpose`.
    async fn take_state<T: serde::de::DeserializeOwned>(
        &self,
        purpose: &'static str,
        owner: &ChallengeOwner,
        id: &ChallengeId,
        now: Timestamp,
    ) -> Result<T> {
        let pending = self
            .store
            .take_challenge(id, owner, now)
            .await?
            .ok_or_else(|| CoreError::rejected(RejectReason::Expired))?;
        // These challenges are bound to no factor; one that is was started for another.
        for_factor(pending.factor.as_ref(), None)?;
        self.open_state(purpose, owner, id, &pending.data)
    }

    async fn enrolled(
        &self,
        user: &UserId,
    ) -> Result<(Vec<Versioned<FactorRecord>>, Vec<EnrolledFactor>)> {
        let rows = self.store.list_factors(user).await?;
        let enrolled = rows
            .iter()
            .map(|r| verify::enrolled_factor(&r.value))
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
            _ => Err(Error::StepUpRequired { required }),
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
            Err(StoreError::LookupKeyTaken) => Err(Error::CredentialAlreadyRegistered),
            Err(e) => Err(e.into()),
        }
    }

    fn issuer(&self) -> Result<&str> {
        self.issuer.as_deref().ok_or(Error::NotConfigured("issuer"))
    }
}

/// A verification that was accepted and stored.
struct Outcome {
    row: Versioned<FactorRecord>,
    methods: Vec<AuthMethod>,
    recovery: Option<RecoveryUse>,
}

impl Outcome {
    /// A success that used no recovery code.
    fn of(row: Versioned<FactorRecord>, methods: Vec<AuthMethod>) -> Self {
        Self {
            row,
            methods,
            recovery: None,
        }
    }
}

/// A challenge made for `found` answered as one for `expected`: refused as `UnknownFactor`
/// unless they are the same.
fn for_factor(found: Option<&FactorId>, expected: Option<&FactorId>) -> Result<()> {
    if found != expected {
        return Err(Rejected::with_detail(
            RejectReason::UnknownFactor,
            "challenge for another factor",
        )
        .into());
    }
    Ok(())
}
