//! The decision tables in `tests/data/decisions/*.toml`: one test per file, each row
//! evaluated and compared field by field, failures naming the row.

use mfa_core::store::{Generation, RememberedDevice};
use mfa_core::{AuthMethod, FactorId, FactorKind, KeyId, Keyring, SecretBytes, Timestamp, UserId};
use mfa_policy::assurance::Aal;
use mfa_policy::device::{DeviceClaims, DeviceProof, DeviceTokenKey};
use mfa_policy::document::Confidence;
use mfa_policy::input::{CompletedMethod, Request, Session, Subject};
use mfa_policy::{Decision, Input, Policy};
use serde::Deserialize;

use crate::common::{RawFactor, before, policy, read, snake};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    policy: String,
    now: u64,
    user: String,
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    subject: Subject,
    enrolled: Vec<RawFactor>,
    #[serde(default)]
    session: Vec<RawMethod>,
    last_activity_ago: Option<String>,
    #[serde(default)]
    request: Request,
    device: Option<RawDevice>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMethod {
    method: AuthMethod,
    factor: Option<String>,
    ago: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    issued_ago: String,
    generation: u64,
    current_generation: u64,
    user: Option<String>,
    device_id: Option<String>,
    presented_device_id: Option<String>,
    /// The kinds of the factors the minting sign-in used (signed into the token).
    kinds: Vec<String>,
    /// The level the minting sign-in held; AAL2 when not given.
    aal: Option<Aal>,
    /// Whether the service still has the device's entry (`DeviceStore`); true when not
    /// given.
    stored: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    decision: String,
    reason: String,
    rule: Option<String>,
    confidence: Option<Confidence>,
    acceptable: Option<Vec<String>>,
    enroll_kinds: Option<Vec<String>>,
    missing: Option<u32>,
    aal: Option<Aal>,
    amr: Option<Vec<String>>,
    acr: Option<String>,
    device_error: Option<String>,
    challenge: Option<String>,
}

/// A fixed test key: 32 bytes 0x00..0x1f.
fn key() -> DeviceTokenKey {
    DeviceTokenKey::new(
        Keyring::new(
            KeyId::new("k1").unwrap(),
            SecretBytes::from((0u8..32).collect::<Vec<_>>()),
        )
        .unwrap(),
    )
}

fn run_table(file: &str) -> usize {
    let table: Table = toml::from_str(&read(&format!("decisions/{file}")))
        .unwrap_or_else(|e| panic!("decisions/{file}: {e}"));
    let policy: Policy = policy(&table.policy).with_device_key(key());
    let now_secs = table.now;
    let now = Timestamp::from_unix_secs(now_secs);
    let user = UserId::new(&table.user).unwrap();
    let mut failures = Vec::new();
    for case in &table.case {
        if let Err(e) = run_case(&policy, &user, now_secs, now, case) {
            failures.push(format!("[{file}] {:?}: {e}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
    table.case.len()
}

fn run_case(
    policy: &Policy,
    user: &UserId,
    now_secs: u64,
    now: Timestamp,
    case: &Case,
) -> Result<(), String> {
    let enrolled: Vec<_> = case.enrolled.iter().map(|f| f.build(now_secs)).collect();
    let session = Session {
        methods: case
            .session
            .iter()
            .map(|m| CompletedMethod {
                method: m.method,
                factor: m.factor.as_deref().map(|f| FactorId::new(f).unwrap()),
                at: before(now_secs, &m.ago),
            })
            .collect(),
        last_activity: case
            .last_activity_ago
            .as_deref()
            .map(|a| before(now_secs, a)),
    };
    let token;
    let presented;
    let entry;
    let device = match &case.device {
        None => None,
        Some(d) => {
            let issued = before(now_secs, &d.issued_ago);
            let device_id = d.device_id.clone().unwrap_or_else(|| "device-1".into());
            let token_user = UserId::new(d.user.as_deref().unwrap_or(user.as_str())).unwrap();
            let lifetime = policy.remember_device_for().expect("remembering enabled");
            let claims = DeviceClaims {
                user: token_user,
                device_id: device_id.clone(),
                issued_at: issued,
                expires_at: issued.saturating_add(lifetime),
                generation: d.generation,
                aal: d.aal.unwrap_or(Aal::Aal2),
                kinds: d
                    .kinds
                    .iter()
                    .map(|k| k.parse::<FactorKind>().unwrap())
                    .collect(),
            };
            token = policy.device_key().unwrap().issue(&claims).unwrap();
            presented = d.presented_device_id.clone().unwrap_or(device_id);
            entry = RememberedDevice::new(
                user.clone(),
                presented.clone(),
                Generation::new(claims.generation),
                issued,
                issued.saturating_add(lifetime),
            )
            .unwrap()
            .with_label("test device");
            Some(DeviceProof {
                token: &token,
                device_id: &presented,
                generation: d.current_generation,
                stored: d.stored.unwrap_or(true).then_some(&entry),
            })
        }
    };
    let input = Input {
        user,
        subject: &case.subject,
        enrolled: &enrolled,
        session: &session,
        request: &case.request,
        device,
        now,
    };
    let decision = policy.evaluate(&input);
    // Evaluation is a pure function of its input.
    if policy.evaluate(&input) != decision {
        return Err("evaluation is not deterministic".into());
    }
    let e = &case.expect;
    let reason = decision.reason();
    let got = |what: &str, got: &dyn std::fmt::Debug, want: &dyn std::fmt::Debug| {
        format!("{what}: got {got:?}, want {want:?} (decision {decision:?}; {reason})")
    };
    if decision.as_str() != e.decision {
        return Err(got("decision", &decision.as_str(), &e.decision));
    }
    if reason.code.as_str() != e.reason {
        return Err(got("reason", &reason.code.as_str(), &e.reason));
    }
    let sentence = reason.to_string();
    if sentence.len() < 20 || !sentence.ends_with('.') {
        return Err(format!("unreadable sentence {sentence:?}"));
    }
    if let Some(rule) = &e.rule
        && reason.rule.as_deref() != Some(rule.as_str())
    {
        return Err(got("rule", &reason.rule, rule));
    }
    if let Some(c) = e.confidence
        && reason.confidence != c
    {
        return Err(got("confidence", &reason.confidence, &c));
    }
    if let Some(want) = &e.device_error {
        let have = reason.device.map(|d| snake(&format!("{d:?}")));
        // The stable name agrees with the variant.
        if reason.device.map(|d| d.as_str().to_owned()) != have {
            return Err(format!("device error name {:?}", reason.device));
        }
        if have.as_deref() != Some(want.as_str()) {
            return Err(got("device_error", &have, want));
        }
    } else if reason.device.is_some() && case.device.is_none() {
        return Err(got("device_error", &reason.device, &"none"));
    }
    let kinds = |v: &[FactorKind]| v.iter().map(|k| k.as_str().to_owned()).collect::<Vec<_>>();
    match &decision {
        Decision::StepUp { acceptable, .. } => {
            if let Some(want) = &e.acceptable
                && kinds(acceptable) != *want
            {
                return Err(got("acceptable", &kinds(acceptable), want));
            }
            for k in acceptable {
                if !enrolled.iter().any(|f| f.kind == *k) {
                    return Err(format!("offered {k} which the user has not enrolled"));
                }
            }
            let challenge = policy.step_up_challenge(&decision, None).unwrap().unwrap();
            if let Some(want) = &e.challenge
                && challenge != *want
            {
                return Err(got("challenge", &challenge, want));
            }
        }
        Decision::Enroll {
            kinds: k, missing, ..
        } => {
            if let Some(want) = &e.enroll_kinds
                && kinds(k) != *want
            {
                return Err(got("enroll_kinds", &kinds(k), want));
            }
            if let Some(want) = e.missing
                && *missing != want
            {
                return Err(got("missing", missing, &want));
            }
        }
        Decision::Allow { acr, aal, .. } => {
            if let Some(want) = &e.acr
                && acr.as_deref() != Some(want.as_str())
            {
                return Err(got("acr", acr, want));
            }
            if let Some(want) = e.aal
                && *aal != Some(want)
            {
                return Err(got("aal", aal, &want));
            }
        }
        _ => {}
    }
    if e.acceptable.is_some() && !matches!(decision, Decision::StepUp { .. }) {
        return Err("acceptable given for a decision that is not step_up".into());
    }
    if let Some(want) = e.aal
        && policy.assurance(&session, &enrolled, now) != Some(want)
    {
        return Err(got(
            "assurance",
            &policy.assurance(&session, &enrolled, now),
            &want,
        ));
    }
    if let Some(want) = &e.amr {
        let amr = policy.amr(&session, &enrolled, now).to_strings();
        if amr != *want {
            return Err(got("amr", &amr, want));
        }
    }
    // The JSON form carries the code and the sentence.
    let json = serde_json::to_value(&decision).unwrap();
    if json["reason"]["code"] != e.reason || json["reason"]["message"] != sentence {
        return Err(format!("JSON form {json}"));
    }
    Ok(())
}

#[test]
fn decisions_adaptive() {
    assert!(run_table("adaptive.toml") >= 40);
}

#[test]
fn decisions_always_paid() {
    assert!(run_table("always-paid.toml") >= 9);
}

#[test]
fn decisions_fail_closed() {
    assert!(run_table("fail-closed.toml") >= 18);
}

#[test]
fn decisions_never_free() {
    assert!(run_table("never-free.toml") >= 6);
}

#[test]
fn every_reason_code_and_decision_is_covered_by_a_table() {
    let mut seen = std::collections::BTreeSet::new();
    for file in [
        "adaptive.toml",
        "always-paid.toml",
        "fail-closed.toml",
        "never-free.toml",
    ] {
        let table: Table = toml::from_str(&read(&format!("decisions/{file}"))).unwrap();
        for c in table.case {
            seen.insert(c.expect.reason);
            seen.insert(c.expect.decision);
        }
    }
    for code in [
        "acr_requires_mfa",
        "admin_requires_mfa",
        "enrollment_required",
        "factors_below_minimum",
        "locked_out",
        "mfa_not_required",
        "mode_requires_mfa",
        "reauthentication_due",
        "remembered_device",
        "requirement_met",
        "risk_requires_mfa",
        "rule_denies",
        "rule_requires_mfa",
        "unsupported_acr",
        "allow",
        "deny",
        "enroll",
        "step_up",
    ] {
        assert!(seen.contains(code), "no table row expects {code}");
    }
}

fn method(method: AuthMethod, factor: Option<&str>, at: Timestamp) -> CompletedMethod {
    CompletedMethod {
        method,
        factor: factor.map(|f| FactorId::new(f).unwrap()),
        at,
    }
}

#[test]
fn remembered_device_ignored_without_a_key() {
    let policy = policy("always-paid.toml");
    let user = UserId::new("bob").unwrap();
    let now = Timestamp::from_unix_secs(1_700_000_000);
    let enrolled = [RawFactor {
        id: "sms1".into(),
        kind: "sms".into(),
        confirmed: None,
        consecutive_failures: None,
        last_failure_ago: None,
    }
    .build(1_700_000_000)];
    let signed_in = Session {
        methods: vec![
            method(AuthMethod::Pwd, None, now),
            method(AuthMethod::Sms, Some("sms1"), now),
        ],
        last_activity: Some(now),
    };
    let claims = policy
        .remember_device(&user, "d", 0, &signed_in, &enrolled, now)
        .unwrap()
        .unwrap();
    let token = key().issue(&claims).unwrap();
    let session = Session {
        methods: vec![method(AuthMethod::Pwd, None, now)],
        last_activity: Some(now),
    };
    let entry = RememberedDevice::new(
        user.clone(),
        "d",
        Generation::new(claims.generation),
        now,
        claims.expires_at,
    )
    .unwrap();
    let request = Request::default();
    let subject = Subject::default();
    let mut input = Input {
        user: &user,
        subject: &subject,
        enrolled: &enrolled,
        session: &session,
        request: &request,
        device: Some(DeviceProof {
            token: &token,
            device_id: "d",
            generation: 0,
            stored: Some(&entry),
        }),
        now,
    };
    assert_eq!(policy.evaluate(&input).as_str(), "step_up");
    let with_key = policy.with_device_key(key());
    assert_eq!(
        with_key.evaluate(&input).reason().code.as_str(),
        "remembered_device"
    );
    // Regression (issue 9, item 1): a forgotten device's token has a valid signature but
    // must not be honoured; before the fix `Input` could not even say so.
    input.device = input.device.map(|d| DeviceProof { stored: None, ..d });
    let d = with_key.evaluate(&input);
    assert_eq!(d.as_str(), "step_up");
    assert_eq!(d.reason().device.map(|e| e.as_str()), Some("forgotten"));
}

/// Minting records what the sign-in proved, and refuses a sign-in without a second
/// factor: a token can only ever stand for what its minting sign-in satisfied.
#[test]
fn minting_records_level_and_kinds() {
    let policy = policy("adaptive.toml").with_device_key(key());
    let user = UserId::new("alice").unwrap();
    let now = Timestamp::from_unix_secs(1_700_000_000);
    let kind = |s: &str| s.parse::<FactorKind>().unwrap();
    let enrolled = [
        RawFactor {
            id: "sms1".into(),
            kind: "sms".into(),
            confirmed: None,
            consecutive_failures: None,
            last_failure_ago: None,
        }
        .build(1_700_000_000),
        RawFactor {
            id: "key1".into(),
            kind: "webauthn-cross-platform".into(),
            confirmed: None,
            consecutive_failures: None,
            last_failure_ago: None,
        }
        .build(1_700_000_000),
    ];
    let pwd = method(AuthMethod::Pwd, None, now);
    let sms = method(AuthMethod::Sms, Some("sms1"), now);
    let with_sms = Session {
        methods: vec![pwd.clone(), sms],
        last_activity: Some(now),
    };
    let c = policy
        .remember_device(&user, "d", 1, &with_sms, &enrolled, now)
        .unwrap()
        .unwrap();
    assert_eq!(c.aal, Aal::Aal2);
    assert_eq!(c.kinds.iter().collect::<Vec<_>>(), [kind("sms")]);
    let passkey = Session {
        methods: vec![
            method(AuthMethod::Hwk, Some("key1"), now),
            method(AuthMethod::Mfa, Some("key1"), now),
            method(AuthMethod::User, Some("key1"), now),
        ],
        last_activity: Some(now),
    };
    let c = policy
        .remember_device(&user, "d", 1, &passkey, &enrolled, now)
        .unwrap()
        .unwrap();
    assert_eq!(c.aal, Aal::Aal3);
    assert_eq!(
        c.kinds.iter().collect::<Vec<_>>(),
        [kind("webauthn-cross-platform")]
    );
    let password_only = Session {
        methods: vec![pwd],
        last_activity: Some(now),
    };
    assert_eq!(
        policy.remember_device(&user, "d", 1, &password_only, &enrolled, now),
        Err(mfa_policy::device::DeviceTokenError::NotMultiFactor)
    );
    let mut low = c.clone();
    low.aal = Aal::Aal1;
    assert_eq!(
        key().issue(&low),
        Err(mfa_policy::device::DeviceTokenError::NotMultiFactor)
    );
    // The claims survive the token.
    let t = key().issue(&c).unwrap();
    assert_eq!(key().verify(&t, &user, "d", 1, now).unwrap(), c);
}
