//! The shared WebAuthn conformance cases through the same runner the example uses.

use mfa_webauthn::conformance::{CaseResult, Verdict, run_dir};

/// In scope for this crate: none / packed / fido-u2f registrations and every
/// authentication, with ES256, ES384, EdDSA or RS256 credentials. (`credential_alg` and `fmt`
/// are informational fields of the case; the verdict never reads them.)
fn in_scope(r: &CaseResult) -> bool {
    let alg_ok = matches!(
        r.case["credential_alg"].as_i64(),
        Some(-7 | -8 | -257 | -35)
    );
    let fmt_ok = r.case["type"] == "authentication"
        || matches!(r.case["fmt"].as_str(), Some("none" | "packed" | "fido-u2f"));
    // Verdicts that need trust-anchor evaluation belong to the attestation-trust issue.
    let needs_trust = matches!(
        r.case["expected_outcome"]["reason"].as_str(),
        Some("untrusted_attestation" | "cts_profile_mismatch")
    );
    alg_ok && fmt_ok && !needs_trust
}

#[test]
fn shared_webauthn_cases_in_scope_all_pass() {
    for backend in crate::backends() {
        let results = run_dir(&crate::vectors("webauthn"), backend).unwrap();
        assert!(results.len() >= 168, "found {} cases", results.len());
        let (scope, out): (Vec<_>, Vec<_>) = results.iter().partition(|r| in_scope(r));
        let failed: Vec<_> = scope
            .iter()
            .filter(|r| r.passed != Some(true))
            .map(|r| r.line())
            .collect();
        assert!(
            failed.is_empty(),
            "{backend:?}: in-scope failures:\n{}",
            failed.join("\n")
        );
        assert!(scope.len() >= 110, "only {} in scope", scope.len());
        let valid = scope
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Valid(_)))
            .count();
        assert!(valid > 80, "only {valid} valid");
        let out_failed = out.iter().filter(|r| r.passed != Some(true)).count();
        println!(
            "{backend:?}: {} in scope passed; out of scope: {} cases, {out_failed} not (yet) agreeing",
            scope.len(),
            out.len()
        );
    }
}

#[test]
fn verdict_does_not_read_expected_outcome() {
    // Flip every expected outcome: the verdicts must not change.
    let dir = crate::vectors("webauthn/authentication");
    let results = run_dir(&dir, mfa_webauthn::crypto::Backend::RustCrypto).unwrap();
    for r in results {
        let mut case = r.case.clone();
        case["expected_outcome"] =
            serde_json::json!({"result": "invalid", "reason": "bad_signature"});
        let again =
            mfa_webauthn::conformance::decide(&case, mfa_webauthn::crypto::Backend::RustCrypto)
                .unwrap();
        assert_eq!(again, r.verdict, "{}", r.name);
    }
}
