//! Shared set-up: a service over any store, a clock the test moves, an in-memory audit
//! log and outbox, and a software authenticator.

use std::sync::Arc;

use mfa::audit::MemoryAudit;
use mfa::oob::testkit::RecordingSender;
use mfa::policy::Policy;
use mfa::policy::device::DeviceTokenKey;
use mfa::policy::input::{CompletedMethod, Session};
use mfa::recovery::{KeyId, Keyring, RecoveryConfig};
use mfa::webauthn::RelyingParty;
use mfa::{KeySet, Service};
use mfa_core::store::Store;
use mfa_core::{AuthMethod, FixedClock, OsRandom, SecretBytes, Timestamp, UserVerification};

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

pub(crate) fn harness_with<S: Store>(store: S, keys: KeySet) -> Harness<S> {
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let audit = Arc::new(MemoryAudit::new());
    let sender = Arc::new(RecordingSender::new());
    let device_key =
        DeviceTokenKey::new(SecretBytes::generate(32, &mut OsRandom).unwrap()).unwrap();
    let policy = Policy::from_toml(POLICY)
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
        .build()
        .unwrap();
    Harness {
        service: Arc::new(service),
        clock,
        audit,
        sender,
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
