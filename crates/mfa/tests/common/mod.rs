//! Shared set-up: a service over any store, a clock the test moves, an in-memory audit
//! log and outbox, and a software authenticator.

use std::sync::Arc;

use mfa::audit::MemoryAudit;
use mfa::oob::testkit::{RecordingSender, RecordingTransport};
use mfa::oob::{
    OobCodes, OobConfig, OutgoingMessage, PushConfig, PushFactor, SendLimits, Templates,
};
use mfa::policy::Policy;
use mfa::policy::device::DeviceTokenKey;
use mfa::policy::input::{CompletedMethod, Session};
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

pub(crate) fn harness_oob<S: Store>(
    store: S,
    keys: KeySet,
    oob: OobConfig,
    policy: &str,
) -> Harness<S> {
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let audit = Arc::new(MemoryAudit::new());
    let sender = Arc::new(RecordingSender::new());
    let transport = Arc::new(RecordingTransport::new());
    let codes = OobCodes::new(SecretBytes::generate(32, &mut OsRandom).unwrap(), oob).unwrap();
    let device_key =
        DeviceTokenKey::new(SecretBytes::generate(32, &mut OsRandom).unwrap()).unwrap();
    let policy = Policy::from_toml(policy)
        .unwrap()
        .with_device_key(device_key);
    let pepper = Keyring::new(
        KeyId::new("pepper-1").unwrap(),
        SecretBytes::generate(32, &mut OsRandom).unwrap(),
    )
    .unwrap();
    let service = Service::builder(store)
        .shared_clock(clock.clone())
        .policy(policy)
        .keys(keys)
        .issuer("Bank Example")
        .relying_party(rp(), UserVerification::Preferred)
        .recovery(pepper, RecoveryConfig::default())
        .audit(audit.clone())
        .sender(sender.clone())
        .oob_codes(codes)
        .push(PushFactor::new(PushConfig::default()), transport.clone())
        .build()
        .unwrap();
    Harness {
        service: Arc::new(service),
        clock,
        audit,
        sender,
        transport,
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
    Session {
        methods: vec![CompletedMethod {
            method: AuthMethod::Pwd,
            factor: None,
            at,
        }],
        last_activity: Some(at),
    }
}
