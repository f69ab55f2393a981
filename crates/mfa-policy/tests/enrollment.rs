//! The enrollment table in `tests/data/enrollment.toml`.

use mfa_core::{FactorId, FactorKind};
use mfa_policy::enroll::EnrollWarning;
use mfa_policy::input::Subject;
use serde::Deserialize;

use crate::common::{Cases, RawFactor, policy, read, snake};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    policy: String,
    #[serde(default)]
    subject: Subject,
    enrolled: Vec<RawFactor>,
    op: String,
    kind: Option<String>,
    factor: Option<String>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    result: String,
    refusal: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
    mfa_required: Option<bool>,
    missing: Option<u32>,
}

fn warning_names(ws: &[EnrollWarning]) -> Vec<String> {
    ws.iter()
        .map(|w| match w {
            EnrollWarning::FewerThanTwoFactors { enrolled } => {
                format!("fewer_than_two_factors:{enrolled}")
            }
            other => snake(&format!("{other:?}")),
        })
        .collect()
}

#[test]
fn enrollment_table() {
    let table: Cases<Case> = toml::from_str(&read("enrollment.toml")).unwrap();
    assert!(table.case.len() >= 20);
    let mut failures = Vec::new();
    for case in &table.case {
        let policy = policy(&case.policy);
        let enrolled: Vec<_> = case.enrolled.iter().map(|f| f.build(0)).collect();
        let e = &case.expect;
        let outcome = match case.op.as_str() {
            "enroll" => Some(policy.check_enroll(
                &enrolled,
                case.kind.as_deref().unwrap().parse::<FactorKind>().unwrap(),
            )),
            "remove" => Some(policy.check_remove(
                &case.subject,
                &enrolled,
                &FactorId::new(case.factor.as_deref().unwrap()).unwrap(),
            )),
            "status" => {
                let s = policy.enrollment_status(&case.subject, &enrolled);
                let got = (s.mfa_required, s.missing, warning_names(&s.warnings));
                let want = (
                    e.mfa_required.unwrap(),
                    e.missing.unwrap(),
                    e.warnings.clone(),
                );
                if e.result != "status" || got != want {
                    failures.push(format!("{:?}: got {got:?}, want {want:?}", case.name));
                }
                None
            }
            op => panic!("unknown op {op}"),
        };
        let Some(outcome) = outcome else { continue };
        let got = match &outcome {
            Ok(ws) => ("ok".to_owned(), None, warning_names(ws)),
            Err(r) => (
                "refused".to_owned(),
                Some(snake(&format!("{r:?}"))),
                Vec::new(),
            ),
        };
        let want = (e.result.clone(), e.refusal.clone(), e.warnings.clone());
        if got != want {
            failures.push(format!("{:?}: got {got:?}, want {want:?}", case.name));
        }
        if let Err(r) = outcome {
            // Refusals read as sentences and serialise with their code.
            assert!(!r.to_string().is_empty());
            let json = serde_json::to_value(r).unwrap();
            assert_eq!(json["code"], want.1.unwrap(), "{}", case.name);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
