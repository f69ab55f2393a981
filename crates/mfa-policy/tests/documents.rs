//! Policy documents: the shipped examples load, TOML and JSON agree, and invalid
//! documents are refused naming the field (`tests/data/invalid-policies.toml`).

use std::time::Duration;

use mfa_policy::assurance::ReauthLimits;
use mfa_policy::document::{Mode, PolicyDocument};
use mfa_policy::{Error, Policy};
use serde::Deserialize;

use crate::common::{policy, read};

#[test]
fn shipped_policies_load() {
    for name in ["adaptive.toml", "always-paid.toml", "never-free.toml"] {
        let p = policy(name);
        assert!(p.rule_names().count() >= 1, "{name}");
    }
    let p = policy("adaptive.toml");
    assert_eq!(p.mode(), Mode::Adaptive);
    assert_eq!(
        p.rule_names().collect::<Vec<_>>(),
        [
            "block denied networks",
            "payments",
            "admin console",
            "low confidence",
            "health check"
        ]
    );
    assert_eq!(
        p.remember_device_for(),
        Some(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(*p.reauth_limits(), ReauthLimits::NIST_REV4);
    let paid = policy("always-paid.toml");
    assert_eq!(
        paid.reauth_limits().aal2_max,
        ReauthLimits::NIST_REV3.aal2_max
    );
    assert_eq!(
        paid.reauth_limits().aal2_idle,
        ReauthLimits::NIST_REV3.aal2_idle
    );
}

/// `adaptive.json` was converted from `adaptive.toml` by Python's `tomllib` (an
/// independent TOML parser); both must compile to the same policy.
#[test]
fn toml_and_json_forms_agree() {
    let from_toml = policy("adaptive.toml");
    let from_json = Policy::from_json(&read("policies/adaptive.json")).unwrap();
    assert_eq!(from_toml, from_json);
    // And the document round-trips through its own JSON form.
    let doc = PolicyDocument::from_toml(&read("policies/adaptive.toml")).unwrap();
    let again = PolicyDocument::from_json(&doc.to_json()).unwrap();
    assert_eq!(doc, again);
    assert_eq!(again.compile().unwrap(), from_toml);
}

#[test]
fn defaults_are_documented_values() {
    let p = Policy::from_toml("version = 1\nmode = \"always\"\n").unwrap();
    let f = p.failure_limits();
    assert_eq!(f.max_consecutive, 5);
    assert_eq!(f.lockout, Duration::from_secs(900));
    assert_eq!(f.window, Duration::from_secs(900));
    assert_eq!(
        p.remember_device_for(),
        Some(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(*p.reauth_limits(), ReauthLimits::NIST_REV4);
    assert_eq!(p.enabled_kinds(), mfa_policy::document::KindSet::ALL);
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    document: String,
    field: String,
    contains: String,
}

#[test]
fn invalid_documents_name_the_field() {
    let table: Table = toml::from_str(&read("invalid-policies.toml")).unwrap();
    assert!(table.case.len() >= 25);
    for case in &table.case {
        let err = Policy::from_toml(&case.document)
            .map(|_| ())
            .expect_err(&case.name);
        let msg = err.to_string();
        match &err {
            Error::Syntax { format, .. } => {
                assert_eq!(case.field, "syntax", "{}: {msg}", case.name);
                assert_eq!(*format, "toml");
            }
            Error::Invalid { field, .. } => {
                assert_eq!(field, &case.field, "{}: {msg}", case.name);
                assert_eq!(err.field(), Some(case.field.as_str()));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            msg.contains(&case.contains),
            "{}: {msg:?} lacks {:?}",
            case.name,
            case.contains
        );
    }
}

#[test]
fn json_syntax_errors_have_a_position() {
    let err = Policy::from_json("{\"version\": 1,\n \"mode\": \"always\",}").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("policy document is not valid json"),
        "{msg}"
    );
    assert!(msg.contains("line 2"), "{msg}");
}

/// Issue 10 item 4: the failure-counting window the service passes to the store's
/// `record_failure` is part of the policy.
#[test]
fn failure_window_is_configurable() {
    let p =
        Policy::from_toml("version = 1\nmode = \"always\"\n[failures]\nwindow = \"1h\"\n").unwrap();
    assert_eq!(p.failure_limits().window, Duration::from_secs(3_600));
    let p = Policy::from_json(r#"{"version": 1, "mode": "always", "failures": {"window": 120}}"#)
        .unwrap();
    assert_eq!(p.failure_limits().window, Duration::from_secs(120));
}

/// Issue 9 item 2: `max_age` on `aal1` used to be accepted and ignored; it is enforced.
#[test]
fn max_age_on_aal1_is_enforced() {
    use mfa_core::{AuthMethod, Timestamp};
    use mfa_policy::input::{CompletedMethod, Session};
    let p = Policy::from_toml(
        "version = 1\nmode = \"never\"\n[[acr]]\nvalue = \"urn:x:recent\"\nrequire = \"aal1\"\nmax_age = \"5m\"\n",
    )
    .unwrap();
    let req = p.acr_requirement("urn:x:recent").unwrap();
    assert_eq!(req.max_age, Some(Duration::from_secs(300)));
    let now = Timestamp::from_unix_secs(1_000_000);
    let session = |ago: u64| Session {
        methods: vec![CompletedMethod {
            method: AuthMethod::Pwd,
            factor: None,
            at: Timestamp::from_unix_secs(1_000_000 - ago),
        }],
        last_activity: Some(now),
    };
    assert!(p.meets(&req, &session(60), &[], now));
    assert!(!p.meets(&req, &session(600), &[], now));
}
