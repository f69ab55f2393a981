//! Round trips to PostgreSQL per `Service` call, counted on the wire.
//!
//! The service runs on a `PostgresStore` with one pooled connection that goes through a
//! counting TCP proxy (`wire.rs`: one round trip each time the client speaks after the
//! server did). Every call is made once to warm the connection's prepared statements,
//! then measured on later calls of the same kind; the table is what the README's
//! "Round trips" section shows. Not a timing: the counts are exact and machine-free.
//!
//! Run with `MFA_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p
//! mfa-benches --bench round_trips` (that URL is the default).
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, clippy::panic, reason = "benchmark")]
#![allow(clippy::indexing_slicing, reason = "benchmark")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mfa::oob::testkit::{RecordingTransport, SoftwareDevice};
use mfa::oob::{OobConfig, OobFactor, OutgoingMessage, SendError, SendLimits, Sender, Templates};
use mfa::policy::input::{Request, Subject};
use mfa::prelude::*;
use mfa::store::{PostgresOptions, PostgresStore};
use mfa::webauthn::RelyingParty;
use mfa::webauthn::cose::Algorithm;
use mfa::webauthn::testkit::{Fault, SoftAuthenticator};
use mfa::{Clock, OobAddress, OsRandom, Timestamp};
use mfa_core::{FixedClock, UserVerification};

#[path = "wire.rs"]
mod wire;

const ORIGIN: &str = "https://bank.example";
const POLICY: &str = "version = 1\nmode = \"always\"\n";

#[derive(Default)]
struct Gateway(Mutex<Vec<String>>);

impl Sender for Gateway {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), SendError> {
        self.0
            .lock()
            .unwrap()
            .push(message.expose_body().to_owned());
        Ok(())
    }
}

impl Gateway {
    fn last_code(&self) -> String {
        let body = self.0.lock().unwrap().pop().expect("a message was sent");
        body.rsplit('#').next().unwrap().trim().to_owned()
    }
}

/// Counts the round trips of one call.
struct Meter(Arc<AtomicU64>, Vec<(String, u64)>);

impl Meter {
    async fn count<T>(&mut self, name: &str, call: impl Future<Output = T>) -> T {
        let before = self.0.load(Ordering::SeqCst);
        let out = call.await;
        let trips = self.0.load(Ordering::SeqCst) - before;
        self.1.push((name.to_owned(), trips));
        out
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("MFA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let config: tokio_postgres::Config = url.parse().unwrap();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let (proxy, trips) = wire::counting_proxy(format!("{host}:{port}")).await;
    let proxied = url.replacen(&format!("{host}:{port}"), &proxy, 1);
    let schema = format!("mfa_round_trips_{}", std::process::id());
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let store = PostgresStore::connect(
        &proxied,
        PostgresOptions::default()
            .schema(schema.clone())
            .max_connections(1),
    )
    .await
    .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));

    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let gateway = Arc::new(Gateway::default());
    let transport = Arc::new(RecordingTransport::new());
    let limits = SendLimits::new()
        .with_allowed_country_codes([1])
        .unwrap()
        .with_cooldown(Duration::from_secs(1));
    let codes = OobFactor::new(
        Keyring::generate(KeyId::new("codes").unwrap(), &mut OsRandom).unwrap(),
        OobConfig::new(Templates::new("Bank", "bank.example").unwrap()).with_limits(limits),
    );
    let rp = RelyingParty::builder("bank.example", "Bank")
        .origin(ORIGIN)
        .build()
        .unwrap();
    let service = Service::builder(
        store,
        Policy::from_toml(POLICY).unwrap(),
        Keyring::generate(KeyId::new("data").unwrap(), &mut OsRandom).unwrap(),
    )
    .recovery(
        Keyring::generate(KeyId::new("pepper").unwrap(), &mut OsRandom).unwrap(),
        mfa::recovery::RecoveryConfig::default(),
    )
    .relying_party(rp, UserVerification::Preferred)
    .oob_codes(codes)
    .push(
        mfa::oob::PushFactor::new(mfa::oob::PushConfig::default()),
        transport.clone(),
    )
    .sender(gateway.clone())
    .shared_clock(clock.clone())
    .issuer("Bank")
    .build()
    .unwrap();

    let mut m = Meter(trips, Vec::new());
    // Two users: the first warms every statement, the second is measured.
    for (round, name) in ["warm", "measured"].iter().enumerate() {
        let user = UserId::new(format!("{name}@example.com")).unwrap();
        let password = Session::primary(AuthMethod::Pwd, clock.now());
        let mut m2 = Meter(Arc::clone(&m.0), Vec::new());
        let e = m2
            .count(
                "start_totp_enrollment",
                service.start_totp_enrollment(&user, "phone", &password),
            )
            .await
            .unwrap();
        let totp = mfa::otp::TotpRecord::new(
            mfa::otp::Secret::from_base32(&e.secret_base32).unwrap(),
            mfa::otp::TotpParams::default(),
        );
        let code = totp.totp().code_at(clock.now()).unwrap();
        let confirmed = m2
            .count(
                "finish_enrollment (TOTP)",
                service.finish_enrollment(&user, &e.factor_id, code.as_str(), &password),
            )
            .await
            .unwrap();
        let session = confirmed.session;
        clock.advance(Duration::from_secs(30));
        let code = totp.totp().code_at(clock.now()).unwrap();
        m2.count(
            "verify (TOTP, right code)",
            service.verify(
                &user,
                &e.factor_id,
                Response::Code(code.as_str()),
                &password,
            ),
        )
        .await
        .unwrap();
        let wrong = m2
            .count(
                "verify (TOTP, wrong code)",
                service.verify(&user, &e.factor_id, Response::Code("000000"), &password),
            )
            .await;
        assert!(wrong.is_err_and(|e| e.is_rejection()));
        m2.count(
            "evaluate",
            service.evaluate(
                &user,
                &Subject::default(),
                &password,
                &Request::default(),
                None,
            ),
        )
        .await
        .unwrap();
        m2.count("list_factors", service.list_factors(&user))
            .await
            .unwrap();

        let recovery = m2
            .count(
                "start_recovery_enrollment",
                service.start_recovery_enrollment(&user, &session),
            )
            .await
            .unwrap();
        m2.count(
            "finish_recovery_enrollment",
            service.finish_recovery_enrollment(&user, &recovery.factor_id),
        )
        .await
        .unwrap();
        let rc = recovery.codes[0].expose_grouped().to_string();
        m2.count(
            "verify (recovery code)",
            service.verify(&user, &recovery.factor_id, Response::Code(&rc), &password),
        )
        .await
        .unwrap();

        let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
        let (reg, options) = m2
            .count(
                "start_webauthn_registration",
                service.start_webauthn_registration(&user, "key", None, &session),
            )
            .await
            .unwrap();
        let created = key.register(&options, ORIGIN, Fault::None).unwrap();
        let passkey = m2
            .count(
                "finish_webauthn_registration",
                service.finish_webauthn_registration(&user, &reg, &created),
            )
            .await
            .unwrap();
        let Challenge::WebAuthn {
            challenge_id,
            options,
            ..
        } = m2
            .count(
                "start_challenge (WebAuthn)",
                service.start_challenge(&user, &passkey.id, &StartOptions::default()),
            )
            .await
            .unwrap()
        else {
            panic!("a WebAuthn challenge")
        };
        let assertion = key
            .authenticate(&options.public_key, ORIGIN, Fault::None)
            .unwrap();
        m2.count(
            "verify (WebAuthn)",
            service.verify(
                &user,
                &passkey.id,
                Response::WebAuthn {
                    challenge_id: &challenge_id,
                    response: &assertion,
                },
                &password,
            ),
        )
        .await
        .unwrap();
        let Challenge::WebAuthn {
            challenge_id,
            options,
            ..
        } = m2
            .count(
                "start_passkey_signin",
                service.start_passkey_signin(&StartOptions::default()),
            )
            .await
            .unwrap()
        else {
            panic!("a WebAuthn challenge")
        };
        let assertion = key
            .authenticate(&options.public_key, ORIGIN, Fault::None)
            .unwrap();
        m2.count(
            "finish_passkey_signin",
            service.finish_passkey_signin(&challenge_id, &assertion, &Session::default(), None),
        )
        .await
        .unwrap();

        let sms = m2
            .count(
                "start_oob_enrollment (SMS)",
                service.start_oob_enrollment(
                    &user,
                    OobAddress::sms(&format!("+1201555{:04}", 100 + round), None),
                    "phone",
                    &session,
                ),
            )
            .await
            .unwrap();
        let code = gateway.last_code();
        m2.count(
            "finish_enrollment (SMS)",
            service.finish_enrollment(&user, &sms.factor_id, &code, &session),
        )
        .await
        .unwrap();
        clock.advance(Duration::from_secs(5));
        let Challenge::OobCode { challenge_id, .. } = m2
            .count(
                "start_challenge (SMS)",
                service.start_challenge(&user, &sms.factor_id, &StartOptions::default()),
            )
            .await
            .unwrap()
        else {
            panic!("an SMS challenge")
        };
        let code = gateway.last_code();
        m2.count(
            "verify (SMS code)",
            service.verify(
                &user,
                &sms.factor_id,
                Response::OobCode {
                    challenge_id: &challenge_id,
                    code: &code,
                },
                &password,
            ),
        )
        .await
        .unwrap();
        let device = SoftwareDevice::new("phone", "token-1", &mut OsRandom).unwrap();
        let enrollment = m2
            .count(
                "start_push_enrollment",
                service.start_push_enrollment(&user, "phone", &session),
            )
            .await
            .unwrap();
        let request = device.enrollment_request(&enrollment.challenge);
        let push = m2
            .count(
                "finish_push_enrollment",
                service.finish_push_enrollment(&user, &enrollment.challenge_id, &request),
            )
            .await
            .unwrap();
        let Challenge::Push {
            challenge_id,
            number,
            nonce,
            ..
        } = m2
            .count(
                "start_challenge (push)",
                service.start_challenge(&user, &push.id, &StartOptions::default()),
            )
            .await
            .unwrap()
        else {
            panic!("a push challenge")
        };
        let notification = transport.sent().pop().expect("a push was sent");
        let answer = device.approve(&notification, &number, clock.now()).unwrap();
        m2.count("respond_push", service.respond_push(&user, &answer))
            .await
            .unwrap();
        m2.count(
            "verify (push)",
            service.verify(
                &user,
                &push.id,
                Response::Push {
                    challenge_id: &challenge_id,
                    nonce: nonce.expose(),
                },
                &password,
            ),
        )
        .await
        .unwrap();
        m2.count("admin().reset_user", service.admin().reset_user(&user))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(60));
        if round == 1 {
            m.1 = m2.1;
        }
    }

    println!("| `Service` call | round trips to PostgreSQL |");
    println!("| --- | ---: |");
    for (name, n) in &m.1 {
        println!("| `{name}` | {n} |");
    }

    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
