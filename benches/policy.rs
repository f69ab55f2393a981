//! mfa-policy: how long a decision takes. The issue's target is a typical decision under
//! 1 µs. There is no peer crate that evaluates MFA policy, so the table compares our own
//! paths (allow, step-up, remembered device with its HMAC, document parsing).
//!
//! Run with `cargo bench -p mfa-benches --bench policy -- --warm-up-time 1 --measurement-time 3`.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, reason = "benchmark")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mfa_core::store::{Generation, RememberedDevice};
use mfa_core::{AuthMethod, FactorId, FactorKind, KeyId, Keyring, SecretBytes, Timestamp, UserId};
use mfa_policy::device::{DeviceProof, DeviceTokenKey};
use mfa_policy::input::{CompletedMethod, EnrolledFactor, Request, RiskSignals, Session, Subject};
use mfa_policy::{Input, Policy};

const ADAPTIVE: &str = include_str!("../crates/mfa-policy/tests/data/policies/adaptive.toml");
const ADAPTIVE_JSON: &str = include_str!("../crates/mfa-policy/tests/data/policies/adaptive.json");
const NOW: u64 = 1_700_000_000;

fn bench(c: &mut Criterion) {
    let ring = Keyring::new(KeyId::new("k1").unwrap(), SecretBytes::from(vec![7u8; 32]));
    let key = DeviceTokenKey::new(ring.unwrap());
    let policy = Policy::from_toml(ADAPTIVE)
        .unwrap()
        .with_device_key(key.clone());
    let now = Timestamp::from_unix_secs(NOW);
    let user = UserId::new("alice@example.com").unwrap();
    let totp = FactorId::new("f-totp").unwrap();
    let enrolled = vec![
        EnrolledFactor::new(totp.clone(), FactorKind::Totp),
        EnrolledFactor::new(
            FactorId::new("f-key").unwrap(),
            "webauthn-cross-platform".parse().unwrap(),
        ),
        EnrolledFactor::new(FactorId::new("f-rc").unwrap(), FactorKind::RecoveryCode),
    ];
    let session = Session {
        methods: vec![
            CompletedMethod {
                method: AuthMethod::Pwd,
                factor: None,
                at: Timestamp::from_unix_secs(NOW - 600),
            },
            CompletedMethod {
                method: AuthMethod::Otp,
                factor: Some(totp),
                at: Timestamp::from_unix_secs(NOW - 590),
            },
        ],
        last_activity: Some(Timestamp::from_unix_secs(NOW - 30)),
    };
    let password_only = Session {
        methods: vec![CompletedMethod {
            method: AuthMethod::Pwd,
            factor: None,
            at: now,
        }],
        last_activity: Some(now),
    };
    let subject = Subject {
        groups: vec!["staff".into()],
        roles: vec!["member".into()],
    };
    let signin = Request {
        action: Some("signin".into()),
        application: Some("web".into()),
        ip: Some("198.51.100.7".parse().unwrap()),
        signals: RiskSignals {
            new_device: true,
            ..RiskSignals::default()
        },
        ..Request::default()
    };
    let payment = Request {
        action: Some("payment.create".into()),
        ip: Some("10.1.2.3".parse().unwrap()),
        ..Request::default()
    };
    let claims = policy
        .remember_device(&user, "laptop-7", 3, &session, &enrolled, now)
        .unwrap()
        .unwrap();
    let token = key.issue(&claims).unwrap();
    let entry = RememberedDevice::new(
        user.clone(),
        "laptop-7",
        Generation::new(claims.generation),
        now,
        claims.expires_at,
    )
    .unwrap();
    let input = |session, request, device| Input {
        user: &user,
        subject: &subject,
        enrolled: &enrolled,
        session,
        request,
        device,
        now,
    };

    let mut g = c.benchmark_group("policy/evaluate");
    let typical = input(&session, &signin, None);
    assert!(policy.evaluate(&typical).is_allow());
    g.bench_function("typical_allow_mfa_done", |b| {
        b.iter(|| policy.evaluate(black_box(&typical)))
    });
    let step_up = input(&password_only, &signin, None);
    assert_eq!(policy.evaluate(&step_up).as_str(), "step_up");
    g.bench_function("step_up_new_device", |b| {
        b.iter(|| policy.evaluate(black_box(&step_up)))
    });
    let pay = input(&session, &payment, None);
    assert_eq!(policy.evaluate(&pay).as_str(), "step_up");
    g.bench_function("step_up_payment_rule", |b| {
        b.iter(|| policy.evaluate(black_box(&pay)))
    });
    let proof = DeviceProof {
        token: &token,
        device_id: "laptop-7",
        generation: 3,
        stored: Some(&entry),
    };
    let remembered = input(&password_only, &signin, Some(proof));
    assert_eq!(
        policy.evaluate(&remembered).reason().code.as_str(),
        "remembered_device"
    );
    g.bench_function("remembered_device_hmac", |b| {
        b.iter(|| policy.evaluate(black_box(&remembered)))
    });
    g.finish();

    let mut g = c.benchmark_group("policy/token");
    g.bench_function("issue", |b| {
        b.iter(|| key.issue(black_box(&claims)).unwrap())
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            key.verify(black_box(&token), &user, "laptop-7", 3, now)
                .unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("policy/load");
    g.bench_function("toml", |b| {
        b.iter(|| Policy::from_toml(black_box(ADAPTIVE)).unwrap())
    });
    g.bench_function("json", |b| {
        b.iter(|| Policy::from_json(black_box(ADAPTIVE_JSON)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
