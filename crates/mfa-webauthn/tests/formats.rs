//! The tpm, android-key, android-safetynet and apple formats on mutated real cases:
//! each §8 rule the shared cases do not break on their own is broken here once, and
//! the verdict names it. Mutations go through the conformance runner (the cases'
//! anchors and verification times) so the rest of each case still verifies.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value;
use mfa_webauthn::FailureCode;
use mfa_webauthn::conformance::{Verdict, decide};

fn read(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(crate::vectors(rel)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The case with `f` applied to its attestation statement map.
fn with_statement(
    case: &serde_json::Value,
    f: impl FnOnce(&mut Vec<(Value, Value)>),
) -> serde_json::Value {
    let field = &case["credential"]["response"]["attestationObject"];
    let bytes = URL_SAFE_NO_PAD.decode(field.as_str().unwrap()).unwrap();
    let mut obj: Value = ciborium::de::from_reader(bytes.as_slice()).unwrap();
    let Value::Map(members) = &mut obj else {
        panic!("not a map")
    };
    let stmt = members
        .iter_mut()
        .find_map(|(k, v)| (k.as_text() == Some("attStmt")).then_some(v))
        .unwrap();
    let Value::Map(stmt) = stmt else {
        panic!("attStmt not a map")
    };
    f(stmt);
    let mut out = Vec::new();
    ciborium::ser::into_writer(&obj, &mut out).unwrap();
    let mut case = case.clone();
    case["credential"]["response"]["attestationObject"] = URL_SAFE_NO_PAD.encode(out).into();
    case
}

fn bytes_of<'a>(stmt: &'a mut [(Value, Value)], name: &str) -> &'a mut Vec<u8> {
    stmt.iter_mut()
        .find_map(|(k, v)| match (k.as_text(), v) {
            (Some(n), Value::Bytes(b)) if n == name => Some(b),
            _ => None,
        })
        .unwrap()
}

fn verdict(case: &serde_json::Value) -> Verdict {
    decide(case, mfa_webauthn::Backend::RustCrypto).unwrap()
}

fn valid(case: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match verdict(case) {
        Verdict::Valid(v) => v,
        other => panic!("{other:?}"),
    }
}

const TPM: &str = "webauthn/registration/tpm/reg-tpm-rs256-windows-hello-etools.json";

#[test]
fn tpm_binds_pub_area_cert_info_and_version() {
    let case = read(TPM);
    let v = valid(&case);
    assert_eq!(v["attestation_type"], "attca");
    assert_eq!(v["attestation_trust"], "trusted");
    let invalid = Verdict::Invalid(FailureCode::InvalidAttestationStatement);
    // The last byte of pubArea is the RSA modulus' last byte: no longer the credential key.
    let bad = with_statement(&case, |s| {
        if let Some(b) = bytes_of(s, "pubArea").last_mut() {
            *b ^= 1;
        }
    });
    assert_eq!(verdict(&bad), invalid);
    // extraData is the hash of attToBeSigned: flip its first byte (after magic, type,
    // qualifiedSigner and extraData's size).
    let bad = with_statement(&case, |s| {
        let info = bytes_of(s, "certInfo");
        let signer = usize::from(u16::from_be_bytes([info[6], info[7]]));
        info[8 + signer + 2] ^= 1;
    });
    assert_eq!(verdict(&bad), invalid);
    // The magic.
    let bad = with_statement(&case, |s| bytes_of(s, "certInfo")[0] ^= 1);
    assert_eq!(verdict(&bad), invalid);
    // Trailing bytes after TPMS_ATTEST.
    let bad = with_statement(&case, |s| bytes_of(s, "certInfo").push(0));
    assert_eq!(verdict(&bad), invalid);
    // ver must be "2.0".
    let bad = with_statement(&case, |s| {
        for (k, v) in s.iter_mut() {
            if k.as_text() == Some("ver") {
                *v = Value::Text("1.0".into());
            }
        }
    });
    assert_eq!(verdict(&bad), invalid);
    // The statement's RS256 signature over certInfo with the AIK key.
    let bad = with_statement(&case, |s| {
        if let Some(b) = bytes_of(s, "sig").last_mut() {
            *b ^= 1;
        }
    });
    assert_eq!(verdict(&bad), invalid);
}

#[test]
fn tpm_aik_certificate_requirements_are_invalid_certificate_not_untrusted() {
    // Without its intermediate, the AIK chain cannot reach the Microsoft root: that is
    // a trust failure, while the statement itself is fine.
    let case = read(TPM);
    let bad = with_statement(&case, |s| {
        for (k, v) in s.iter_mut() {
            if k.as_text() == Some("x5c")
                && let Value::Array(a) = v
            {
                a.truncate(1);
            }
        }
    });
    assert_eq!(
        verdict(&bad),
        Verdict::Invalid(FailureCode::UntrustedAttestation)
    );
    // Without trust anchors the same truncated chain is valid, not evaluated.
    let mut no_anchors = bad.clone();
    no_anchors["expected"]
        .as_object_mut()
        .unwrap()
        .remove("trust_anchors");
    assert_eq!(valid(&no_anchors)["attestation_trust"], "not-evaluated");
    // The intermediate as the AIK: a CA with a subject breaks §8.3.1.
    let bad = with_statement(&case, |s| {
        for (k, v) in s.iter_mut() {
            if k.as_text() == Some("x5c")
                && let Value::Array(a) = v
            {
                a.remove(0);
            }
        }
    });
    assert!(matches!(
        verdict(&bad),
        Verdict::Invalid(
            FailureCode::InvalidAttestationStatement | FailureCode::InvalidAttestationCertificate
        )
    ));
}

#[test]
fn safetynet_timestamp_must_be_fresh_and_cts_is_a_policy_switch() {
    let case = read("webauthn/registration/android-safetynet/reg-android-safetynet-es256-duo.json");
    let v = valid(&case);
    assert_eq!(v["attestation_type"], "basic");
    assert_eq!(v["attestation_trust"], "trusted");
    // Two minutes after the JWS timestamp: stale.
    let t = case["expected"]["verification_time"].as_str().unwrap();
    assert_eq!(t, "2021-09-03T21:07:20Z");
    let mut late = case.clone();
    late["expected"]["verification_time"] = "2021-09-03T21:09:30Z".into();
    assert_eq!(
        verdict(&late),
        Verdict::Invalid(FailureCode::InvalidAttestationStatement)
    );
    let mut early = case.clone();
    early["expected"]["verification_time"] = "2021-09-03T21:05:00Z".into();
    assert_eq!(
        verdict(&early),
        Verdict::Invalid(FailureCode::InvalidAttestationStatement)
    );
    // A JWS that is not three segments.
    let bad = with_statement(&case, |s| bytes_of(s, "response").extend_from_slice(b".x"));
    assert_eq!(
        verdict(&bad),
        Verdict::Invalid(FailureCode::InvalidAttestationStatement)
    );
    // ctsProfileMatch false is refused by default; with the switch off the statement is
    // otherwise judged on its own (here its chain).
    let cts = read(
        "webauthn/registration/android-safetynet/reg-neg-android-safetynet-cts-profile-false.json",
    );
    assert_eq!(
        verdict(&cts),
        Verdict::Invalid(FailureCode::CtsProfileMismatch)
    );
    let mut relaxed = cts.clone();
    relaxed["expected"]["require_cts_profile_match"] = false.into();
    assert_ne!(
        verdict(&relaxed),
        Verdict::Invalid(FailureCode::CtsProfileMismatch)
    );
}

#[test]
fn safetynet_needs_a_verification_instant() {
    // hazmat::verify_registration has no instant, so it cannot check the timestamp and
    // refuses the statement rather than skip the check.
    let case = read("webauthn/registration/android-safetynet/reg-android-safetynet-es256-duo.json");
    let e = &case["expected"];
    let mut exp: mfa_webauthn::Expectations = serde_json::from_value(serde_json::json!({
        "rp_id": e["rp_id"], "origins": e["origins"], "challenge": e["challenge"],
        "user_presence_required": true, "user_verification_required": false,
        "allowed_algorithms": e["allowed_algorithms"],
    }))
    .unwrap();
    exp.cred_props_requested = true;
    let response = serde_json::from_value(case["credential"].clone()).unwrap();
    let err =
        mfa_webauthn::hazmat::verify_registration(&exp, &response, Default::default()).unwrap_err();
    assert!(
        crate::refused(&err, FailureCode::InvalidAttestationStatement, "time"),
        "{err:?}"
    );
}

#[test]
fn android_key_and_apple_bind_the_credential_key() {
    let case = read("webauthn/registration/android-key/reg-android-key-es256-pixel-8a-2025.json");
    assert_eq!(valid(&case)["attestation_type"], "basic");
    // Another leaf (the intermediate) as x5c[0]: its key is not the credential's, nor
    // did it make the signature.
    let bad = with_statement(&case, |s| {
        for (k, v) in s.iter_mut() {
            if k.as_text() == Some("x5c")
                && let Value::Array(a) = v
            {
                a.remove(0);
            }
        }
    });
    assert_eq!(
        verdict(&bad),
        Verdict::Invalid(FailureCode::InvalidAttestationStatement)
    );
    let case = read("webauthn/registration/apple/reg-apple-es256-iphone.json");
    assert_eq!(valid(&case)["attestation_type"], "anonca");
    let bad = with_statement(&case, |s| {
        for (k, v) in s.iter_mut() {
            if k.as_text() == Some("x5c")
                && let Value::Array(a) = v
            {
                a.remove(0);
            }
        }
    });
    assert_eq!(
        verdict(&bad),
        Verdict::Invalid(FailureCode::InvalidAttestationStatement)
    );
}
