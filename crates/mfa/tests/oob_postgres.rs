//! Out-of-band single use across processes: two `Service` instances over two
//! `PostgresStore` pools on one fresh schema. 64 concurrent verifications of one SMS
//! code, and 64 concurrent completions of one approved push, give exactly one success
//! each.
//!
//! Needs `MFA_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`);
//! without it the tests say they skip, and fail with `MFA_REQUIRE_EXTERNAL=1`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mfa::audit::MemoryAudit;
use mfa::oob::testkit::{RecordingSender, RecordingTransport, SoftwareDevice};
use mfa::oob::{OobCodes, PushConfig, PushFactor, PushStatus};
use mfa::policy::Policy;
use mfa::{Challenge, KeySet, Response, Service};
use mfa_core::{
    Channel, Clock, FixedClock, OsRandom, SecretBytes, StartOptions, Timestamp, UserId,
};
use mfa_store::{PostgresOptions, PostgresStore};
use tokio_postgres::NoTls;

use crate::common::{code_in, oob_config, password};

const VAR: &str = "MFA_TEST_POSTGRES_URL";
const RACERS: usize = 64;

/// Every racer gets past the lockout gate, so the single use is the store's alone.
const POLICY: &str = r#"
version = 1
mode = "always"

[failures]
max_consecutive = 100
backoff_after = 0
"#;

/// The server, or `None` after saying why the test skips.
fn server(test: &str) -> Option<String> {
    match std::env::var(VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
                "{test}: {VAR} is not set and MFA_REQUIRE_EXTERNAL=1"
            );
            eprintln!("skipping: {test} needs {VAR} (a PostgreSQL URL)");
            None
        }
    }
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// A schema of this run, dropped at the end (also when the test fails).
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn new(url: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let salt = {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
                >> 40
        };
        let name = format!(
            "mfa_oob_test_{}_{salt}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        admin(url)
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        Self {
            url: url.to_owned(),
            name,
        }
    }

    async fn pool(&self) -> PostgresStore {
        PostgresStore::connect(
            &self.url,
            PostgresOptions::default()
                .schema(&self.name)
                .max_connections(16),
        )
        .await
        .unwrap()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let name = self.name.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                admin(&url)
                    .await
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await
                    .unwrap();
            });
        })
        .join();
        if done.is_err() {
            eprintln!("could not drop schema");
        }
    }
}

/// Two instances with the same keys, code key, clock and sender over two pools.
struct Pair {
    a: Arc<Service<PostgresStore>>,
    b: Arc<Service<PostgresStore>>,
    clock: Arc<FixedClock>,
    sender: Arc<RecordingSender>,
    transport: Arc<RecordingTransport>,
}

async fn pair(schema: &Schema) -> Pair {
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let sender = Arc::new(RecordingSender::new());
    let transport = Arc::new(RecordingTransport::new());
    let seal_key = SecretBytes::generate(32, &mut OsRandom).unwrap();
    let code_key = SecretBytes::generate(32, &mut OsRandom).unwrap();
    let mut services = Vec::new();
    for _ in 0..2 {
        let codes = OobCodes::new(code_key.clone(), oob_config()).unwrap();
        let service = Service::builder(schema.pool().await)
            .shared_clock(clock.clone())
            .policy(Policy::from_toml(POLICY).unwrap())
            .keys(KeySet::new("k1", seal_key.clone()).unwrap())
            .user_failure_limit(100)
            .audit(Arc::new(MemoryAudit::new()))
            .sender(sender.clone())
            .oob_codes(codes)
            .push(PushFactor::new(PushConfig::default()), transport.clone())
            .build()
            .unwrap();
        services.push(Arc::new(service));
    }
    let b = services.pop().unwrap();
    let a = services.pop().unwrap();
    Pair {
        a,
        b,
        clock,
        sender,
        transport,
    }
}

/// The code in the latest code message (security notices are skipped).
fn last_code(sender: &RecordingSender) -> String {
    let sent = sender.sent();
    let m = sent
        .iter()
        .rev()
        .find(|m| m.expose_body().contains("verification code"))
        .unwrap();
    code_in(m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_sms_code_verifies_once_across_two_instances() {
    let test = "one_sms_code_verifies_once_across_two_instances";
    let Some(url) = server(test) else { return };
    let schema = Schema::new(&url).await;
    let p = pair(&schema).await;
    let alice = UserId::new("alice").unwrap();
    let e =
        p.a.enroll_oob(
            &alice,
            Channel::Sms,
            "+12015550123",
            None,
            "phone",
            &password(p.clock.now()),
        )
        .await
        .unwrap();
    p.b.confirm(&alice, &e.factor_id, &last_code(&p.sender))
        .await
        .unwrap();
    p.clock.advance(Duration::from_secs(31));
    let Challenge::OobCode { challenge_id, .. } =
        p.a.start_challenge(&alice, &e.factor_id, &StartOptions::new())
            .await
            .unwrap()
    else {
        panic!("not a code challenge")
    };
    let code = last_code(&p.sender);
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let service = if i % 2 == 0 { p.a.clone() } else { p.b.clone() };
        let (alice, factor, id, code, barrier) = (
            alice.clone(),
            e.factor_id.clone(),
            challenge_id.clone(),
            code.clone(),
            barrier.clone(),
        );
        let session = password(p.clock.now());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            service
                .verify(
                    &alice,
                    &factor,
                    Response::OobCode {
                        challenge_id: &id,
                        code: &code,
                    },
                    &session,
                )
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert!(e.is_rejection(), "{e:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one of {RACERS} verifications succeeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_approved_push_completes_once_across_two_instances() {
    let test = "one_approved_push_completes_once_across_two_instances";
    let Some(url) = server(test) else { return };
    let schema = Schema::new(&url).await;
    let p = pair(&schema).await;
    let alice = UserId::new("alice").unwrap();
    let device = SoftwareDevice::new("phone", "fcm-token", &mut OsRandom).unwrap();
    let enrollment =
        p.a.begin_push_enrollment(&alice, "phone", &password(p.clock.now()))
            .await
            .unwrap();
    let info =
        p.b.finish_push_enrollment(
            &alice,
            &enrollment.challenge_id,
            &device.enrollment_request(&enrollment.challenge),
        )
        .await
        .unwrap();
    let Challenge::Push {
        challenge_id,
        number,
        ..
    } =
        p.a.start_challenge(&alice, &info.id, &StartOptions::new())
            .await
            .unwrap()
    else {
        panic!("not a push")
    };
    let notification = p.transport.sent().last().unwrap().clone();
    let answer = device
        .approve(&notification, &number, p.clock.now())
        .unwrap();
    assert_eq!(
        p.b.respond_push(&alice, &answer).await.unwrap(),
        PushStatus::Approved
    );
    assert_eq!(
        p.a.push_status(&alice, &challenge_id).await.unwrap(),
        PushStatus::Approved
    );
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let service = if i % 2 == 0 { p.a.clone() } else { p.b.clone() };
        let (alice, factor, id, barrier) = (
            alice.clone(),
            info.id.clone(),
            challenge_id.clone(),
            barrier.clone(),
        );
        let session = password(p.clock.now());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            service
                .verify(
                    &alice,
                    &factor,
                    Response::Push { challenge_id: &id },
                    &session,
                )
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert!(e.is_rejection(), "{e:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one of {RACERS} completions succeeds");
}
