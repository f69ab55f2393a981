//! Loads an MFA policy file and prints the decision, reason code and explanation for a
//! few sign-in and step-up scenarios.
//!
//! Run with `cargo run -p mfa-examples --example policy [-- path/to/policy.toml]`
//! (defaults to the crate README's example, `crates/mfa-policy/tests/data/policies/adaptive.toml`).
//!
//! Shortcuts acceptable only in an example: the remembered-device key is a constant
//! (use 32 random bytes from a secret store), `now` is fixed, and errors are unwrapped
//! into `Box<dyn Error>`.

use std::error::Error;

use mfa_core::store::{Generation, RememberedDevice};
use mfa_core::{AuthMethod, FactorId, FactorKind, KeyId, Keyring, SecretBytes, Timestamp, UserId};
use mfa_policy::device::{DeviceProof, DeviceTokenKey};
use mfa_policy::input::{CompletedMethod, EnrolledFactor, Request, RiskSignals, Session, Subject};
use mfa_policy::oidc::{AcrRequest, PAPE_MULTI_FACTOR};
use mfa_policy::{Decision, Input, Policy};

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/mfa-policy/tests/data/policies/adaptive.toml"
        )
        .into()
    });
    let text = std::fs::read_to_string(&path)?;
    let policy = if path.ends_with(".json") {
        Policy::from_json(&text)?
    } else {
        Policy::from_toml(&text)?
    };
    let key = DeviceTokenKey::new(Keyring::new(
        KeyId::new("demo")?,
        SecretBytes::from(vec![0x42; 32]),
    )?);
    let policy = policy.with_device_key(key.clone());
    println!(
        "policy {path}: mode {:?}, rules {:?}\n",
        policy.mode(),
        policy.rule_names().collect::<Vec<_>>()
    );

    let now = Timestamp::from_unix_secs(1_700_000_000);
    let ago = |s: u64| Timestamp::from_unix_secs(1_700_000_000 - s);
    let user = UserId::new("alice@example.com")?;
    let totp = FactorId::new("totp-1")?;
    let enrolled = vec![
        EnrolledFactor::new(totp.clone(), FactorKind::Totp),
        EnrolledFactor::new(FactorId::new("key-1")?, "webauthn-cross-platform".parse()?),
    ];
    let password = Session {
        methods: vec![CompletedMethod {
            method: AuthMethod::Pwd,
            factor: None,
            at: ago(60),
        }],
        last_activity: Some(ago(10)),
    };
    let mut with_totp = password.clone();
    with_totp.methods.push(CompletedMethod {
        method: AuthMethod::Otp,
        factor: Some(totp.clone()),
        at: ago(30),
    });
    let office = Some("10.1.2.3".parse()?);
    let cafe = Some("198.51.100.7".parse()?);
    // Three days ago Alice signed in with her password and a TOTP code and asked to
    // remember the laptop: the token records that sign-in's level and factor kinds, and
    // the service keeps the device's entry (here in memory; a DeviceStore in a service).
    let minted = Session {
        methods: vec![
            CompletedMethod {
                method: AuthMethod::Pwd,
                factor: None,
                at: ago(3 * 86_400 + 60),
            },
            CompletedMethod {
                method: AuthMethod::Otp,
                factor: Some(totp.clone()),
                at: ago(3 * 86_400),
            },
        ],
        last_activity: Some(ago(3 * 86_400)),
    };
    let claims = policy
        .remember_device(&user, "laptop-7", 0, &minted, &enrolled, ago(3 * 86_400))?
        .ok_or("remembering disabled")?;
    let token = key.issue(&claims)?;
    let entry = RememberedDevice::new(
        user.clone(),
        "laptop-7",
        Generation::new(claims.generation),
        claims.issued_at,
        claims.expires_at,
    )?
    .with_label("Firefox on Linux");
    let subject = Subject::default();

    let scenarios: Vec<(&str, &Session, Request, Option<DeviceProof<'_>>)> = vec![
        (
            "sign-in from the office",
            &password,
            Request {
                ip: office,
                ..Request::default()
            },
            None,
        ),
        (
            "sign-in from a café on a new device",
            &password,
            Request {
                ip: cafe,
                signals: RiskSignals {
                    new_device: true,
                    ..RiskSignals::default()
                },
                ..Request::default()
            },
            None,
        ),
        (
            "same, with a remembered-device cookie",
            &password,
            Request {
                ip: cafe,
                signals: RiskSignals {
                    new_country: true,
                    ..RiskSignals::default()
                },
                ..Request::default()
            },
            Some(DeviceProof {
                token: &token,
                device_id: "laptop-7",
                generation: 0,
                stored: Some(&entry),
            }),
        ),
        (
            "a payment after a TOTP code",
            &with_totp,
            Request {
                ip: office,
                action: Some("payment.create".into()),
                ..Request::default()
            },
            None,
        ),
        (
            "a relying party asking for acr multi-factor",
            &password,
            Request {
                ip: office,
                acr: AcrRequest::from_acr_values(PAPE_MULTI_FACTOR),
                ..Request::default()
            },
            None,
        ),
        (
            "sign-in from a denied network",
            &with_totp,
            Request {
                ip: Some("203.0.113.5".parse()?),
                ..Request::default()
            },
            None,
        ),
    ];
    for (name, session, request, device) in &scenarios {
        let input = Input {
            user: &user,
            subject: &subject,
            enrolled: &enrolled,
            session,
            request,
            device: *device,
            now,
        };
        let decision = policy.evaluate(&input);
        println!(
            "{name}:\n  {} ({})\n  {}",
            decision.as_str(),
            decision.reason().code,
            decision.reason()
        );
        match &decision {
            Decision::StepUp { acceptable, .. } => {
                let kinds: Vec<_> = acceptable.iter().map(|k| k.as_str()).collect();
                println!("  acceptable: {kinds:?}");
                if let Some(h) = policy.step_up_challenge(&decision, Some("api"))? {
                    println!("  WWW-Authenticate: {h}");
                }
            }
            Decision::Allow { acr, aal, .. } => {
                let amr = policy.amr(session, &enrolled, now).to_strings();
                println!("  aal {aal:?}, acr {acr:?}, amr {amr:?}");
            }
            _ => {}
        }
        println!();
    }
    Ok(())
}
