//! Shared set-up: a service over any store, a clock the test moves, an in-memory audit
//! log and outbox, and a software authenticator.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mfa::audit::MemoryAudit;
use mfa::oob::testkit::{RecordingSender, RecordingTransport, SoftwareDevice};
use mfa::oob::{
    OobConfig, OobFactor, OutgoingMessage, PushConfig, PushFactor, SendLimits, Templates,
};
use mfa::otp::{Secret, TotpParams, TotpRecord};
use mfa::policy::Policy;
use mfa::policy::device::DeviceTokenKey;
use mfa::policy::input::Session;
use mfa::recovery::RecoveryConfig;
use mfa::webauthn::RelyingParty;
use mfa::webauthn::cose::Algorithm;
use mfa::webauthn::json::{AuthenticationResponseJson, RegistrationResponseJson};
use mfa::webauthn::testkit::{Fault, SoftAuthenticator};
use mfa::{
    Challenge, Error, FactorInfo, KeyId, Keyring, OobAddress, OobEnrollment, OtpEnrollment,
    PushNonce, RecoveryEnrollment, Response, Service, Verification,
};
use mfa_core::store::{ChallengeId, Store};
use mfa_core::{
    AuthMethod, Channel, Clock, FactorId, FixedClock, OsRandom, SecretBytes, StartOptions,
    Timestamp, UserId, UserVerification,
};

pub(crate) const ORIGIN: &str = "https://bank.example";

/// MFA always; no backoff (so concurrent attempts are judged by the lockout alone).
pub(crate) const POLICY: &str = r#"
version = 1
mode = "always"

[failures]
max_consecutive = 5
backoff_after = 0
"#;

/// For single-use races: every one of 64 racers gets past the lockout gate (the per-user
/// limit defaults to three times this, at most 100).
pub(crate) const RACE_POLICY: &str = r#"
version = 1
mode = "always"
failures = { max_consecutive = 100, backoff_after = 0 }
"#;

pub(crate) struct Harness<S> {
    pub service: Arc<Service<S>>,
    pub clock: Arc<FixedClock>,
    pub audit: Arc<MemoryAudit>,
    /// Every message sent: codes and security notices.
    pub sender: Arc<RecordingSender>,
    /// Every push notification sent.
    pub transport: Arc<RecordingTransport>,
}

pub(crate) fn rp() -> RelyingParty {
    RelyingParty::builder("bank.example", "Bank Example")
        .origin(ORIGIN)
        .build()
        .unwrap()
}

pub(crate) fn keys(id: &str) -> Keyring {
    Keyring::generate(KeyId::new(id).unwrap(), &mut OsRandom).unwrap()
}

/// A keyring of one given key.
pub(crate) fn ring(id: &str, key: SecretBytes) -> Keyring {
    Keyring::new(KeyId::new(id).unwrap(), key).unwrap()
}

pub(crate) fn harness<S: Store>(store: S) -> Harness<S> {
    harness_with(store, keys("k1"))
}

/// SMS to +1 and +44 numbers; mfa-oob's other defaults (6 digits, 10 minutes, 5
/// attempts, 30 s cooldown, 5 sends per destination an hour).
pub(crate) fn oob_config() -> OobConfig {
    let limits = SendLimits::new()
        .with_allowed_country_codes([1, 44])
        .unwrap();
    OobConfig::new(Templates::new("Bank Example", "bank.example").unwrap()).with_limits(limits)
}

pub(crate) fn harness_with<S: Store>(store: S, keys: Keyring) -> Harness<S> {
    harness_oob(store, keys, oob_config(), POLICY)
}

/// [`harness`] with a journal (the store must keep one).
pub(crate) fn harness_journal<S: Store>(store: S, journal: mfa::ops::Journaling) -> Harness<S> {
    let mut shared = Shared::new();
    shared.journal = Some(journal);
    let service = Secrets::generate().build(store, keys("k1"), oob_config(), POLICY, &shared);
    shared.into_harness(service)
}

pub(crate) fn harness_oob<S: Store>(
    store: S,
    keys: Keyring,
    oob: OobConfig,
    policy: &str,
) -> Harness<S> {
    let shared = Shared::new();
    let service = Secrets::generate().build(store, keys, oob, policy, &shared);
    shared.into_harness(service)
}

/// Two service instances of one deployment (the same keys, code-hashing key, pepper,
/// device key, clock, audit log, sender and push transport) over two stores, which the
/// caller points at one database.
pub(crate) fn harness_pair<S: Store>(a: S, b: S, policy: &str) -> (Harness<S>, Arc<Service<S>>) {
    let secrets = Secrets::generate();
    let shared = Shared::new();
    let first = secrets.build(a, secrets.keys(), oob_config(), policy, &shared);
    let second = secrets.build(b, secrets.keys(), oob_config(), policy, &shared);
    (shared.into_harness(first), Arc::new(second))
}

/// What a deployment's instances share besides their secrets.
struct Shared {
    clock: Arc<FixedClock>,
    audit: Arc<MemoryAudit>,
    sender: Arc<RecordingSender>,
    transport: Arc<RecordingTransport>,
    journal: Option<mfa::ops::Journaling>,
}

impl Shared {
    fn new() -> Self {
        Self {
            clock: Arc::new(FixedClock::new(Timestamp::from_unix_secs(1_700_000_000))),
            audit: Arc::new(MemoryAudit::new()),
            sender: Arc::new(RecordingSender::new()),
            transport: Arc::new(RecordingTransport::new()),
            journal: None,
        }
    }

    fn into_harness<S>(self, service: Service<S>) -> Harness<S> {
        Harness {
            service: Arc::new(service),
            clock: self.clock,
            audit: self.audit,
            sender: self.sender,
            transport: self.transport,
        }
    }
}

/// The secrets a deployment's instances share.
struct Secrets {
    seal: SecretBytes,
    codes: SecretBytes,
    device: SecretBytes,
    pepper: SecretBytes,
}

impl Secrets {
    fn generate() -> Self {
        let key = || SecretBytes::generate(32, &mut OsRandom).unwrap();
        Self {
            seal: key(),
            codes: key(),
            device: key(),
            pepper: key(),
        }
    }

    fn keys(&self) -> Keyring {
        ring("k1", self.seal.clone())
    }

    fn build<S: Store>(
        &self,
        store: S,
        keys: Keyring,
        oob: OobConfig,
        policy: &str,
        shared: &Shared,
    ) -> Service<S> {
        let codes = OobFactor::new(ring("codes-1", self.codes.clone()), oob);
        let device_key = DeviceTokenKey::new(ring("device-1", self.device.clone()));
        let policy = Policy::from_toml(policy)
            .unwrap()
            .with_device_key(device_key);
        let pepper = ring("pepper-1", self.pepper.clone());
        let builder = Service::builder(store, policy, keys)
            .shared_clock(shared.clock.clone())
            .issuer("Bank Example")
            .relying_party(rp(), UserVerification::Preferred)
            .recovery(pepper, RecoveryConfig::default())
            .audit(shared.audit.clone())
            .sender(shared.sender.clone())
            .oob_codes(codes)
            .push(
                PushFactor::new(PushConfig::default()),
                shared.transport.clone(),
            );
        let builder = match &shared.journal {
            Some(j) => builder.journal(j.clone()),
            None => builder,
        };
        builder.build().unwrap()
    }
}

/// The code in a message as the user reads it: the SMS's last line (`@bank.example
/// #123456`), the email's indented line, the digits the voice call reads out.
pub(crate) fn code_in(message: &OutgoingMessage) -> String {
    let body = message.expose_body();
    match message.channel() {
        Channel::Sms => body.rsplit('#').next().unwrap().trim().to_owned(),
        Channel::Email => body
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_digit()))
            .unwrap()
            .to_owned(),
        _ => {
            let spoken = body.split("code is: ").nth(1).unwrap();
            let first = spoken.split('.').next().unwrap();
            first.chars().filter(char::is_ascii_digit).collect()
        }
    }
}

impl<S> Harness<S> {
    /// The code in the latest message sent to `to` (normalised destination).
    pub(crate) fn last_code_to(&self, to: &str) -> String {
        let sent = self.sender.sent();
        let m = sent
            .iter()
            .rev()
            .find(|m| m.to().as_str() == to && m.expose_body().contains("verification code"))
            .unwrap_or_else(|| panic!("no code sent to {to}"));
        code_in(m)
    }
}

impl<S: Store> Harness<S> {
    /// Confirms `user`'s new `factor` with `code` (its first code, or the one sent).
    pub(crate) async fn confirm(
        &self,
        user: &UserId,
        factor: &FactorId,
        code: &str,
    ) -> Verification {
        let fresh = Session::default();
        let confirm = self.service.finish_enrollment(user, factor, code, &fresh);
        confirm.await.unwrap()
    }

    /// A TOTP enrollment for `user` as `label` under `session`, started, not confirmed.
    pub(crate) async fn begin_totp(
        &self,
        user: &UserId,
        label: &str,
        session: &Session,
    ) -> OtpEnrollment {
        let started = self.service.start_totp_enrollment(user, label, session);
        started.await.unwrap()
    }

    /// `code` for `user`'s `factor`, with the password just proven.
    pub(crate) async fn verify_code(
        &self,
        user: &UserId,
        factor: &FactorId,
        code: &str,
    ) -> Result<Verification, Error> {
        let session = password(self.clock.now());
        let attempt = self
            .service
            .verify(user, factor, Response::Code(code), &session);
        attempt.await
    }
}

/// A session that has just proven the password.
pub(crate) fn password(at: Timestamp) -> Session {
    Session::primary(AuthMethod::Pwd, at)
}

/// The code of a TOTP enrollment (default parameters) at `at`, in unix seconds.
pub(crate) fn code(e: &OtpEnrollment, at: u64) -> String {
    let secret = Secret::from_base32(&e.secret_base32).unwrap();
    let rec = TotpRecord::new(secret, TotpParams::default());
    let code = rec.totp().code_at(Timestamp::from_unix_secs(at)).unwrap();
    code.as_str().to_owned()
}

/// TOTP enrolled for `user` and confirmed with the code of now: the factor is active.
pub(crate) async fn enroll_totp<S: Store>(h: &Harness<S>, user: &UserId) -> OtpEnrollment {
    add_totp(h, user, "phone", &password(h.clock.now())).await
}

/// Another TOTP factor, `label`, enrolled under `session` and confirmed.
pub(crate) async fn add_totp<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    label: &str,
    session: &Session,
) -> OtpEnrollment {
    let now = h.clock.now();
    let e = h.service.start_totp_enrollment(user, label, session);
    let e = e.await.unwrap();
    h.confirm(user, &e.factor_id, &code(&e, now.unix_secs()))
        .await;
    e
}

/// [`enroll_totp`], then a sign-in with the code 30 s later; returns the enrollment and
/// the AAL2 session.
pub(crate) async fn with_totp<S: Store>(h: &Harness<S>, user: &UserId) -> (OtpEnrollment, Session) {
    let e = enroll_totp(h, user).await;
    h.clock.advance(Duration::from_secs(30));
    let v = right(h, user, &e).await.unwrap();
    (e, v.session)
}

/// `e`'s code of the clock's now, with the password just proven.
pub(crate) async fn right<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    e: &OtpEnrollment,
) -> Result<Verification, Error> {
    let right = code(e, h.clock.now().unix_secs());
    h.verify_code(user, &e.factor_id, &right).await
}

/// A wrong code for `factor`, with the password just proven; the refusal.
pub(crate) async fn wrong<S: Store>(h: &Harness<S>, user: &UserId, factor: &FactorId) -> Error {
    h.verify_code(user, factor, "000000").await.unwrap_err()
}

/// A usernameless sign-in answered by `key` (with `fault`) from `ip`.
pub(crate) async fn passkey_signin<S: Store>(
    h: &Harness<S>,
    key: &mut SoftAuthenticator,
    fault: Fault,
    ip: Option<IpAddr>,
) -> Result<Verification, Error> {
    let started = h.service.start_passkey_signin(&StartOptions::new()).await;
    let Challenge::WebAuthn {
        challenge_id,
        options,
        ..
    } = started.unwrap()
    else {
        panic!("a WebAuthn challenge");
    };
    let assertion = key.authenticate(&options.public_key, ORIGIN, fault);
    let (assertion, fresh) = (assertion.unwrap(), Session::default());
    let finish = h
        .service
        .finish_passkey_signin(&challenge_id, &assertion, &fresh, ip);
    finish.await
}

/// A fresh directory of its own in the temporary directory, and the path of an SQLite
/// file in it.
pub(crate) fn temp_db(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap();
    let unique = format!("mfa-{name}-{}-{}", std::process::id(), nanos.as_nanos());
    let dir = std::env::temp_dir().join(unique);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("mfa.sqlite3")
}

/// A [`temp_db`] whose directory is removed when this is dropped.
pub(crate) struct TempDb(pub std::path::PathBuf);

impl TempDb {
    pub(crate) fn new(name: &str) -> Self {
        Self(temp_db(name))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A security key (ES256) registered for `user` as `label` under `session`: the
/// authenticator, its registration response and the factor.
pub(crate) async fn register_key<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    label: &str,
    session: &Session,
) -> (SoftAuthenticator, RegistrationResponseJson, FactorInfo) {
    let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let started = h
        .service
        .start_webauthn_registration(user, label, None, session);
    let (cid, options) = started.await.unwrap();
    let reg = key.register(&options, ORIGIN, Fault::None).unwrap();
    let finished = h.service.finish_webauthn_registration(user, &cid, &reg);
    let info = finished.await.unwrap();
    (key, reg, info)
}

/// Recovery codes enrolled for `user` under `session` and confirmed.
pub(crate) async fn enroll_recovery<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    session: &Session,
) -> RecoveryEnrollment {
    let set = h.service.start_recovery_enrollment(user, session).await;
    let set = set.unwrap();
    let finish = h.service.finish_recovery_enrollment(user, &set.factor_id);
    finish.await.unwrap();
    set
}

/// A sign-in with the WebAuthn factor `factor` started and answered by `key`: the
/// challenge's handle and the assertion.
pub(crate) async fn webauthn_assertion<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    factor: &FactorId,
    key: &mut SoftAuthenticator,
) -> (ChallengeId, AuthenticationResponseJson) {
    let options = StartOptions::new();
    let started = h.service.start_challenge(user, factor, &options);
    let Challenge::WebAuthn {
        challenge_id,
        options,
        ..
    } = started.await.unwrap()
    else {
        panic!("a WebAuthn challenge");
    };
    let assertion = key.authenticate(&options.public_key, ORIGIN, Fault::None);
    (challenge_id, assertion.unwrap())
}

/// Push enrolled for `user` as `label` under `session`, with `device`: started on the
/// service `start`, finished on `finish` (the same one, or another instance).
pub(crate) async fn enroll_push<S: Store>(
    [start, finish]: [&Service<S>; 2],
    user: &UserId,
    label: &str,
    session: &Session,
    device: &SoftwareDevice,
) -> FactorInfo {
    let enrollment = start.start_push_enrollment(user, label, session).await;
    let enrollment = enrollment.unwrap();
    let request = device.enrollment_request(&enrollment.challenge);
    let finished = finish.finish_push_enrollment(user, &enrollment.challenge_id, &request);
    finished.await.unwrap()
}

/// A TOTP enrollment for `user` as `label` started, not yet confirmed, with the password
/// just proven.
pub(crate) async fn start_totp<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    label: &str,
) -> OtpEnrollment {
    h.begin_totp(user, label, &password(h.clock.now())).await
}

/// An out-of-band enrollment for `user` at `address` as `label` under `session`, started
/// (the code is sent), not yet confirmed.
pub(crate) async fn start_oob<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    address: OobAddress<'_>,
    label: &str,
    session: &Session,
) -> OobEnrollment {
    let started = h
        .service
        .start_oob_enrollment(user, address, label, session);
    started.await.unwrap()
}

/// `e`, an out-of-band enrollment of `user`'s, confirmed with the code sent to `to` (the
/// normalised destination).
pub(crate) async fn confirm_oob<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    e: OobEnrollment,
    to: &str,
) -> OobEnrollment {
    h.confirm(user, &e.factor_id, &h.last_code_to(to)).await;
    e
}

/// Starts a push; the transaction, the number, the nonce.
pub(crate) async fn start_push<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    factor: &FactorId,
) -> Result<(ChallengeId, String, PushNonce), Error> {
    match h
        .service
        .start_challenge(user, factor, &StartOptions::new())
        .await?
    {
        Challenge::Push {
            challenge_id,
            number,
            nonce,
            ..
        } => Ok((challenge_id, number, nonce)),
        other => panic!("not a push: {other:?}"),
    }
}
