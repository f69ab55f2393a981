//! The shared WebAuthn conformance cases through the same runner the example uses.

use mfa_webauthn::conformance::{CaseResult, Score, Tally, Verdict, run_dir};
use mfa_webauthn::cose::Algorithm;
use mfa_webauthn::{Backend, FailureCode};

/// Whether `backend` verifies the case's credential algorithm. Reads only the
/// informational `credential_alg`, never `expected_outcome`.
fn supported(r: &CaseResult, backend: Backend) -> bool {
    r.case["credential_alg"]
        .as_i64()
        .and_then(Algorithm::from_cose_id)
        .is_none_or(|a| backend.supports(a))
}

/// Whether the case asks for a trust-anchor evaluation (an input, not the outcome).
fn needs_trust(r: &CaseResult) -> bool {
    r.case["expected"]["trust_anchors"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
}

#[test]
fn shared_webauthn_cases_all_pass_where_the_backend_supports_the_algorithm() {
    for backend in crate::backends() {
        let results = run_dir(&crate::vectors("webauthn"), backend).unwrap();
        assert_eq!(results.len(), 168, "found {} cases", results.len());
        let (scope, out): (Vec<_>, Vec<_>) = results.iter().partition(|r| supported(r, backend));
        // Every case the backend can verify passes on every scored field, trust
        // included.
        let failed: Vec<_> = scope
            .iter()
            .filter(|r| !r.passed())
            .map(|r| r.line())
            .collect();
        assert!(
            failed.is_empty(),
            "{backend:?}: failures:\n{}",
            failed.join("\n")
        );
        let tally = Tally::of(scope.iter().copied());
        assert_eq!(tally.passed, scope.len(), "{tally}");
        // The others (Ed448 on aws-lc) are refused with a typed algorithm error.
        for r in &out {
            assert_eq!(
                r.verdict,
                Verdict::Invalid(FailureCode::AlgorithmNotAllowed),
                "{}",
                r.line()
            );
        }
        let want_out = usize::from(!backend.supports(Algorithm::Ed448));
        assert_eq!(out.len(), want_out, "{backend:?}");
        // The trust cases were evaluated, not skipped: every valid one is `trusted`.
        let trusted = scope
            .iter()
            .filter(|r| needs_trust(r))
            .filter(
                |r| matches!(&r.verdict, Verdict::Valid(v) if v["attestation_trust"] == "trusted"),
            )
            .count();
        assert!(trusted >= 58, "trusted: {trusted}");
        let valid = scope
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Valid(_)))
            .count();
        assert!(valid > 55, "only {valid} valid");
        println!("{backend:?}: {}", Tally::of(&results));
    }
}

#[test]
fn verdict_does_not_read_expected_outcome() {
    // Flip every expected outcome: the verdicts must not change.
    let results = run_dir(&crate::vectors("webauthn"), Backend::RustCrypto).unwrap();
    for r in results {
        let mut case = r.case.clone();
        case["expected_outcome"] =
            serde_json::json!({"result": "invalid", "reason": "bad_signature"});
        let again = mfa_webauthn::conformance::decide(&case, Backend::RustCrypto).unwrap();
        assert_eq!(again, r.verdict, "{}", r.name);
    }
}

#[test]
fn every_schema_field_is_scored_and_trust_is_evaluated() {
    use mfa_webauthn::conformance::{decide, score};
    let read = |rel: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(crate::vectors(rel)).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let backend = Backend::RustCrypto;
    // A valid `none` registration without trust anchors passes...
    let case = read("webauthn/registration/none/spec-reg-none-es256-cross-origin.json");
    let verdict = decide(&case, backend).unwrap();
    assert_eq!(score(&case, &verdict), Some(Score::Passed));
    // ...but not when a field it is scored on is missing from the verdict (before the
    // fix a missing field counted as agreement) or differs (attestation_type was never
    // compared).
    let Verdict::Valid(values) = &verdict else {
        panic!("{verdict:?}")
    };
    for field in [
        "flags",
        "attestation_type",
        "attestation_trust",
        "sign_count",
    ] {
        let mut fewer = values.clone();
        fewer.remove(field);
        assert_eq!(
            score(&case, &Verdict::Valid(fewer)),
            Some(Score::Failed(vec![field.to_owned()])),
            "{field}"
        );
    }
    let mut wrong = case.clone();
    wrong["expected_outcome"]["attestation_type"] = "self".into();
    assert_eq!(
        score(&wrong, &verdict),
        Some(Score::Failed(vec!["attestation_type".to_owned()]))
    );
    let mut wrong = case.clone();
    let uv = wrong["expected_outcome"]["flags"]["UV"].as_bool().unwrap();
    wrong["expected_outcome"]["flags"]["UV"] = (!uv).into();
    assert!(matches!(score(&wrong, &verdict), Some(Score::Failed(_))));
    // A case that asks for trust anchors is evaluated: its chain validates to the
    // Yubico root at verification_time and it passes with `trusted` (before trust
    // evaluation it was only "not supported").
    let case = read("webauthn/registration/fido-u2f/reg-fido-u2f-es256-yubikey-4.json");
    assert!(case["expected"]["trust_anchors"].is_array());
    let verdict = decide(&case, backend).unwrap();
    let Verdict::Valid(values) = &verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(values["attestation_trust"], "trusted");
    assert_eq!(score(&case, &verdict), Some(Score::Passed));
    // A `not-evaluated` trust does not agree with an expected `trusted` one.
    let mut untrusted_values = values.clone();
    untrusted_values.insert("attestation_trust".into(), "not-evaluated".into());
    assert_eq!(
        score(&case, &Verdict::Valid(untrusted_values)),
        Some(Score::Failed(vec!["attestation_trust".to_owned()]))
    );
    // Another root: the chain does not validate, `untrusted_attestation`.
    let apple = std::fs::read_to_string(crate::vectors(
        "webauthn/trust-anchors/apple-webauthn-root-ca-0915dd5c.pem",
    ))
    .unwrap();
    let der = mfa_webauthn::TrustAnchor::from_pem(&apple).unwrap();
    let mut other = case.clone();
    use base64::Engine as _;
    other["expected"]["trust_anchors"] =
        serde_json::json!([base64::engine::general_purpose::STANDARD.encode(der.der())]);
    assert_eq!(
        decide(&other, backend).unwrap(),
        Verdict::Invalid(FailureCode::UntrustedAttestation)
    );
    // After the certificates expired: untrusted as well.
    let mut late = case.clone();
    late["expected"]["verification_time"] = "2200-01-01T00:00:00Z".into();
    assert_eq!(
        decide(&late, backend).unwrap(),
        Verdict::Invalid(FailureCode::UntrustedAttestation)
    );
}
