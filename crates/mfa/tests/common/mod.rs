//! Shared set-up: a service over any store, a clock the test moves, an in-memory audit
//! log and outbox, and a software authenticator.

use std::sync::Arc;

use mfa::audit::{MemoryAudit, MemoryNotifier};
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
    pub notes: Arc<MemoryNotifier>,
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
    let secrets = Secrets::generate();
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let audit = Arc::new(MemoryAudit::new());
    let notes = Arc::new(MemoryNotifier::new());
    let service = secrets.build(store, keys, &clock, &audit, &notes);
    Harness {
        service: Arc::new(service),
        clock,
        audit,
        notes,
    }
}

/// Two service instances of one deployment (the same keys, pepper, device key, clock,
/// audit log and outbox) over two stores, which the caller points at one database.
pub(crate) fn harness_pair<S: Store>(a: S, b: S) -> (Harness<S>, Arc<Service<S>>) {
    let secrets = Secrets::generate();
    let h = {
        let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(1_700_000_000)));
        let audit = Arc::new(MemoryAudit::new());
        let notes = Arc::new(MemoryNotifier::new());
        let service = secrets.build(a, secrets.keys(), &clock, &audit, &notes);
        Harness {
            service: Arc::new(service),
            clock,
            audit,
            notes,
        }
    };
    let second = secrets.build(b, secrets.keys(), &h.clock, &h.audit, &h.notes);
    (h, Arc::new(second))
}

/// The secrets a deployment's instances share.
struct Secrets {
    seal: SecretBytes,
    device: SecretBytes,
    pepper: SecretBytes,
}

impl Secrets {
    fn generate() -> Self {
        let key = || SecretBytes::generate(32, &mut OsRandom).unwrap();
        Self {
            seal: key(),
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
        clock: &Arc<FixedClock>,
        audit: &Arc<MemoryAudit>,
        notes: &Arc<MemoryNotifier>,
    ) -> Service<S> {
        let device_key = DeviceTokenKey::new(self.device.clone()).unwrap();
        let policy = Policy::from_toml(POLICY)
            .unwrap()
            .with_device_key(device_key);
        let pepper = Keyring::new(KeyId::new("pepper-1").unwrap(), self.pepper.clone()).unwrap();
        Service::builder(store)
            .shared_clock(clock.clone())
            .policy(policy)
            .keys(keys)
            .issuer("Bank Example")
            .relying_party(rp(), UserVerification::Preferred)
            .recovery(pepper, RecoveryConfig::default())
            .audit(audit.clone())
            .notifier(notes.clone())
            .build()
            .unwrap()
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
