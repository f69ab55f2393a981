//! Shared set-up: a service over any store, a clock the test moves, an in-memory audit
//! log and outbox, and a software authenticator.

use std::sync::Arc;

use mfa::audit::MemoryAudit;
use mfa::oob::testkit::{RecordingSender, RecordingTransport};
use mfa::oob::{
    OobConfig, OobFactor, OutgoingMessage, PushConfig, PushFactor, SendLimits, Templates,
};
use mfa::policy::Policy;
use mfa::policy::device::DeviceTokenKey;
use mfa::policy::input::Session;
use mfa::recovery::{KeyId, Keyring, RecoveryConfig};
use mfa::webauthn::RelyingParty;
use mfa::{KeySet, Service};
use mfa_core::store::Store;
use mfa_core::{
    AuthMethod, Channel, FixedClock, OsRandom, SecretBytes, Timestamp, UserVerification,
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

[failures]
max_consecutive = 100
backoff_after = 0
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

pub(crate) fn keys(id: &str) -> KeySet {
    KeySet::generate(id, &mut OsRandom).unwrap()
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

pub(crate) fn harness_with<S: Store>(store: S, keys: KeySet) -> Harness<S> {
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
    keys: KeySet,
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

    fn keys(&self) -> KeySet {
        KeySet::new("k1", self.seal.clone()).unwrap()
    }

    fn build<S: Store>(
        &self,
        store: S,
        keys: KeySet,
        oob: OobConfig,
        policy: &str,
        shared: &Shared,
    ) -> Service<S> {
        let codes = OobFactor::new(self.codes.clone(), oob).unwrap();
        let device_key = DeviceTokenKey::new(self.device.clone()).unwrap();
        let policy = Policy::from_toml(policy)
            .unwrap()
            .with_device_key(device_key);
        let pepper = Keyring::new(KeyId::new("pepper-1").unwrap(), self.pepper.clone()).unwrap();
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

/// A session that has just proven the password.
pub(crate) fn password(at: Timestamp) -> Session {
    Session::primary(AuthMethod::Pwd, at)
}
