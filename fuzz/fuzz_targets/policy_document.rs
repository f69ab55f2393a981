//! Parses arbitrary text as a policy document, in TOML and in JSON. A document either is
//! refused with a typed error or compiles; a compiled document round-trips through its
//! JSON form to an equal policy, and evaluating a fixed request under it never panics
//! and always explains itself; when MFA is mandatory for the subject, no rule lets a
//! password alone through (the floor of issue 9 item 3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_core::{AuthMethod, FactorId, FactorKind, Timestamp, UserId};
use mfa_policy::document::PolicyDocument;
use mfa_policy::input::{CompletedMethod, EnrolledFactor, Request, RiskSignals, Session, Subject};
use mfa_policy::oidc::AcrRequest;
use mfa_policy::{Decision, Input, Policy};

fn check(doc: PolicyDocument) {
    let Ok(policy) = doc.compile() else { return };
    let again = PolicyDocument::from_json(&doc.to_json()).expect("own JSON form parses");
    assert_eq!(again, doc);
    assert_eq!(again.compile().expect("compiles again"), policy);
    let limits = policy.failure_limits();
    assert!(limits.max_consecutive <= 100);
    assert!(!limits.window.is_zero() && limits.window >= limits.backoff_max);

    let now = Timestamp::from_unix_secs(1_700_000_000);
    let user = UserId::new("u").unwrap();
    let f = FactorId::new("f").unwrap();
    let enrolled = [EnrolledFactor::new(f.clone(), FactorKind::Totp)];
    let session = Session {
        methods: vec![
            CompletedMethod {
                method: AuthMethod::Pwd,
                factor: None,
                at: now,
            },
            CompletedMethod {
                method: AuthMethod::Otp,
                factor: Some(f),
                at: now,
            },
        ],
        last_activity: Some(now),
    };
    let request = Request {
        action: Some("payment.create".into()),
        application: Some("admin-console".into()),
        ip: Some("10.1.2.3".parse().unwrap()),
        acr: AcrRequest::from_acr_values(
            "urn:x http://schemas.openid.net/pape/policies/2007/06/multi-factor",
        ),
        signals: RiskSignals {
            new_device: true,
            ..RiskSignals::default()
        },
    };
    let subject = Subject {
        groups: vec!["admins".into()],
        roles: vec![],
    };
    let input = Input {
        user: &user,
        subject: &subject,
        enrolled: &enrolled,
        session: &session,
        request: &request,
        device: None,
        now,
    };
    let decision = policy.evaluate(&input);
    assert!(!decision.reason().to_string().is_empty());
    // When MFA is mandatory for the subject (mode always, or an administrator), no
    // rule can lower it: a password alone is never allowed.
    if policy.mfa_mandatory(&subject) {
        let password_only = Session {
            methods: vec![CompletedMethod {
                method: AuthMethod::Pwd,
                factor: None,
                at: now,
            }],
            last_activity: Some(now),
        };
        let floor = policy.evaluate(&Input {
            session: &password_only,
            ..input
        });
        assert!(!matches!(floor, Decision::Allow { .. }), "{floor:?}");
    }
    let _ = policy.step_up_challenge(&decision, Some("api"));
}

fuzz_target!(|s: &str| {
    if let Ok(doc) = PolicyDocument::from_toml(s) {
        check(doc);
    }
    if let Ok(doc) = PolicyDocument::from_json(s) {
        check(doc);
    }
    // The one-call constructors agree with parse-then-compile.
    assert_eq!(
        Policy::from_toml(s).is_ok(),
        PolicyDocument::from_toml(s)
            .and_then(|d| d.compile())
            .is_ok()
    );
});
