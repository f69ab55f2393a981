//! The algorithms beyond ES256 / EdDSA / RS256: the shared cases that use them, on each
//! backend; the RS1 opt-in; the backend's supported set; full ceremonies with the
//! software authenticator; and the decoded key the credential record keeps.

use mfa_core::OsRandom;
use mfa_webauthn::conformance::{Score, Verdict, decide, score};
use mfa_webauthn::cose::{Algorithm, PublicKey};
use mfa_webauthn::hazmat::{verify_registration_with, verify_signature};
use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
use mfa_webauthn::{
    AttestationPolicy, AuthenticationRequest, Backend, CredentialRecord, Error, FailureCode,
    RelyingParty,
};

use crate::ceremonies::{ORIGIN, now};

fn case(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(crate::vectors(rel)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every shared case whose credential uses an algorithm other than ES256 / EdDSA /
/// RS256, with a format this crate verifies (the tpm ES384 case is the attestation
/// work's), and the algorithm.
const CASES: [(&str, Algorithm); 11] = [
    (
        "registration/packed/spec-reg-packed-es384-x5c.json",
        Algorithm::Es384,
    ),
    (
        "authentication/spec-auth-packed-es384.json",
        Algorithm::Es384,
    ),
    (
        "registration/packed/spec-reg-packed-es512-x5c.json",
        Algorithm::Es512,
    ),
    (
        "authentication/spec-auth-packed-es512.json",
        Algorithm::Es512,
    ),
    (
        "registration/packed/reg-packed-ps256-self.json",
        Algorithm::Ps256,
    ),
    (
        "registration/packed/reg-packed-ps384-self.json",
        Algorithm::Ps384,
    ),
    (
        "registration/packed/reg-packed-rs384-synthetic.json",
        Algorithm::Rs384,
    ),
    (
        "registration/packed/reg-packed-rs512-synthetic.json",
        Algorithm::Rs512,
    ),
    (
        "registration/packed/reg-packed-rs1-synthetic.json",
        Algorithm::Rs1,
    ),
    (
        "registration/packed/reg-packed-ed448-synthetic.json",
        Algorithm::Ed448,
    ),
    (
        "registration/packed/reg-packed-mldsa44-yubico-demo.json",
        Algorithm::MlDsa44,
    ),
];

#[test]
fn shared_cases_of_each_algorithm_pass_where_the_backend_supports_it() {
    for backend in crate::backends() {
        for (rel, alg) in CASES {
            let c = case(&format!("webauthn/{rel}"));
            assert_eq!(c["credential_alg"].as_i64(), Some(alg.cose_id()), "{rel}");
            let verdict = decide(&c, backend).unwrap();
            if backend.supports(alg) {
                // Every field agrees, the trust verdict included.
                let s = score(&c, &verdict);
                assert_eq!(s, Some(Score::Passed), "{backend:?} {rel}: {verdict:?}");
            } else {
                assert_eq!(
                    verdict,
                    Verdict::Invalid(FailureCode::AlgorithmNotAllowed),
                    "{backend:?} {rel}"
                );
            }
        }
    }
}

#[test]
fn the_rs1_case_needs_both_opt_ins() {
    // An RS1 credential key with an RS1 packed x5c statement: two risks, two opt-ins.
    // The case's relying party offers -65535, which the runner takes as the credential
    // opt-in (and the runner always opts in to RS1 statements); the pure core refuses it
    // without either.
    let rs1 = "webauthn/registration/packed/reg-packed-rs1-synthetic.json";
    let (_, mut exp, response) = crate::registration_vector(rs1);
    exp.allowed_algorithms = vec![-65535];
    exp.cred_props_requested = false;
    assert!(
        !exp.danger_allow_rs1,
        "off by default, also when deserialised"
    );
    let strict = AttestationPolicy::default();
    assert!(!strict.danger_allow_rs1_attestation);
    let mut statements = AttestationPolicy::default();
    statements.danger_allow_rs1_attestation = true;
    let now = mfa_core::Timestamp::from_unix_secs(1_704_067_200);
    for backend in crate::backends() {
        // Neither opt-in, or only the statement one: the RS1 credential key is refused.
        for policy in [&strict, &statements] {
            let r = verify_registration_with(&exp, &response, policy, now, backend);
            assert!(
                crate::refused_r(
                    &r,
                    FailureCode::AlgorithmNotAllowed,
                    "insecure algorithm -65535"
                ),
                "{r:?}"
            );
        }
        let r = mfa_webauthn::hazmat::verify_registration(&exp, &response, backend);
        assert!(
            crate::refused_r(
                &r,
                FailureCode::AlgorithmNotAllowed,
                "insecure algorithm -65535"
            ),
            "{r:?}"
        );
    }
    exp.danger_allow_rs1 = true;
    for backend in crate::backends() {
        // Only the credential opt-in: the RS1 statement (signed by the x5c leaf) is
        // refused, before its signature is checked.
        let r = verify_registration_with(&exp, &response, &strict, now, backend);
        assert!(
            crate::refused_r(&r, FailureCode::InvalidAttestationStatement, "rs1"),
            "{r:?}"
        );
        assert_eq!(
            r.unwrap_err().failure_code(),
            Some(FailureCode::InvalidAttestationStatement)
        );
        // Both: accepted.
        let reg = verify_registration_with(&exp, &response, &statements, now, backend).unwrap();
        assert_eq!(reg.record.alg, -65535);
        assert_eq!(
            reg.record.attestation_type,
            mfa_webauthn::AttestationType::Basic
        );
    }
}

fn rp(backend: Backend, algs: &[Algorithm]) -> mfa_webauthn::RelyingPartyBuilder {
    RelyingParty::builder("example.com", "Example")
        .origin(ORIGIN)
        .backend(backend)
        .algorithms(algs.iter().copied())
}

/// Registers `a` with `rp` and signs in twice; the second record.
fn register_and_sign_in(rp: &RelyingParty, a: &mut SoftAuthenticator) -> CredentialRecord {
    let record = crate::ceremonies::register(rp, a);
    let mut record = record;
    for _ in 0..2 {
        let req = AuthenticationRequest {
            allow_credentials: vec![record.descriptor()],
            ..Default::default()
        };
        let (options, state) = rp.start_authentication(&req, now(), &mut OsRandom).unwrap();
        let resp = a
            .authenticate(&options.public_key, ORIGIN, Fault::None)
            .unwrap();
        let login = rp
            .finish_authentication(&state, &resp, &record, now())
            .unwrap();
        assert!(login.record.sign_count > record.sign_count);
        // A signature over something else is refused with the same key.
        let bad = a
            .authenticate(&options.public_key, ORIGIN, Fault::BadSignature)
            .unwrap();
        assert!(crate::refused_r(
            &rp.finish_authentication(&state, &bad, &login.record, now()),
            FailureCode::BadSignature,
            "bad signature"
        ));
        record = login.record;
    }
    record
}

#[test]
fn soft_authenticator_ceremonies_for_each_new_algorithm() {
    for alg in [
        Algorithm::Es512,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ed448,
    ] {
        for backend in crate::backends() {
            let mut a = SoftAuthenticator::new(alg, &mut OsRandom).unwrap();
            let built = rp(backend, &[alg]).build();
            if !backend.supports(alg) {
                assert!(built.is_err(), "{backend:?} must refuse to offer {alg:?}");
                continue;
            }
            let record = register_and_sign_in(&built.unwrap(), &mut a);
            assert_eq!(record.alg, alg.cose_id());
        }
    }
}

#[cfg(feature = "aws-lc")]
#[test]
fn ed448_on_aws_lc_is_a_typed_refusal_not_a_fallback() {
    let mut a = SoftAuthenticator::new(Algorithm::Ed448, &mut OsRandom).unwrap();
    let rust = rp(Backend::RustCrypto, &[Algorithm::Ed448])
        .build()
        .unwrap();
    let record = crate::ceremonies::register(&rust, &mut a);
    // A relying party on aws-lc cannot offer Ed448, and refuses a stored Ed448 key.
    assert!(rp(Backend::AwsLc, &[Algorithm::Ed448]).build().is_err());
    let aws = rp(Backend::AwsLc, &[Algorithm::Es256]).build().unwrap();
    let req = AuthenticationRequest {
        allow_credentials: vec![record.descriptor()],
        ..Default::default()
    };
    let (options, state) = aws
        .start_authentication(&req, now(), &mut OsRandom)
        .unwrap();
    let resp = a
        .authenticate(&options.public_key, ORIGIN, Fault::None)
        .unwrap();
    let r = aws.finish_authentication(&state, &resp, &record, now());
    assert!(
        crate::refused_r(
            &r,
            FailureCode::AlgorithmNotAllowed,
            "algorithm -53 is not supported"
        ),
        "{r:?}"
    );
    // The pure-Rust relying party accepts the same assertion.
    assert!(
        rust.finish_authentication(&state, &resp, &record, now())
            .is_ok()
    );
    // And registration on aws-lc refuses the key even when the expectations allow it.
    let (options, mut state) = rust
        .start_registration(
            &mfa_webauthn::RegistrationRequest::new(b"u".to_vec(), "u", "U"),
            now(),
            &mut OsRandom,
        )
        .unwrap();
    state.expectations.allowed_algorithms = vec![-53];
    let resp = a.register(&options, ORIGIN, Fault::None).unwrap();
    let r = mfa_webauthn::hazmat::verify_registration(&state.expectations, &resp, Backend::AwsLc);
    assert!(
        crate::refused_r(
            &r,
            FailureCode::AlgorithmNotAllowed,
            "algorithm -53 is not supported"
        ),
        "{r:?}"
    );
}

#[test]
fn rs1_needs_danger_allow_rs1() {
    for backend in crate::backends() {
        // Offering RS1 without the opt-in is a configuration error.
        assert!(rp(backend, &[Algorithm::Rs1]).build().is_err());
        let allowing = rp(backend, &[Algorithm::Rs1])
            .danger_allow_rs1()
            .build()
            .unwrap();
        let mut a = SoftAuthenticator::new(Algorithm::Rs1, &mut OsRandom).unwrap();
        let record = register_and_sign_in(&allowing, &mut a);
        assert_eq!(record.alg, -65535);
        // The same stored RS1 record against a relying party without the opt-in (even
        // one that offers RS256) is refused, with a typed error.
        let strict = rp(backend, &[Algorithm::Rs256]).build().unwrap();
        let req = AuthenticationRequest {
            allow_credentials: vec![record.descriptor()],
            ..Default::default()
        };
        let (options, state) = strict
            .start_authentication(&req, now(), &mut OsRandom)
            .unwrap();
        let resp = a
            .authenticate(&options.public_key, ORIGIN, Fault::None)
            .unwrap();
        let r = strict.finish_authentication(&state, &resp, &record, now());
        assert!(
            crate::refused_r(
                &r,
                FailureCode::AlgorithmNotAllowed,
                "insecure algorithm -65535"
            ),
            "{r:?}"
        );
        assert_eq!(
            r.unwrap_err().failure_code(),
            Some(FailureCode::AlgorithmNotAllowed)
        );
        // The opt-in travels in the ceremony state: a state started by the strict
        // relying party stays strict.
        assert!(
            allowing
                .finish_authentication(&state, &resp, &record, now())
                .is_err()
        );
        // The public signature seam (hazmat callers) never accepts RS1.
        let key = PublicKey::from_cose(record.public_key.as_slice()).unwrap();
        assert!(crate::refused_r(
            &verify_signature(backend, &key, b"m", &[0; 256]),
            FailureCode::AlgorithmNotAllowed,
            "insecure algorithm -65535"
        ));
    }
}

#[test]
fn unsupported_testkit_algorithms_are_typed_errors() {
    for alg in [Algorithm::Ps256, Algorithm::MlDsa44] {
        assert!(crate::refused_r(
            &SoftAuthenticator::new(alg, &mut OsRandom),
            FailureCode::AlgorithmNotAllowed,
            "is not supported by this backend"
        ));
    }
}

/// The record's JSON form before the decoded key was kept (the field names a stored
/// record has), for an ES256 credential of the software authenticator.
fn old_form(record: &CredentialRecord) -> serde_json::Value {
    serde_json::json!({
        "id": record.id,
        "public_key": record.public_key,
        "alg": record.alg,
        "sign_count": record.sign_count,
        "transports": record.transports,
        "attachment": record.attachment,
        "aaguid": record.aaguid,
        "user_verified": record.user_verified,
        "uv_initialized": record.uv_initialized,
        "backup_eligible": record.backup_eligible,
        "backup_state": record.backup_state,
        "attestation_format": record.attestation_format,
        "attestation_type": record.attestation_type,
        "attestation_trusted": record.attestation_trusted,
        "user_handle": record.user_handle,
        "cred_props_rk": record.cred_props_rk,
    })
}

#[test]
fn the_decoded_key_leaves_the_stored_form_unchanged() {
    for backend in crate::backends() {
        let rp = rp(backend, &[Algorithm::Es256]).build().unwrap();
        let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
        let record = register_and_sign_in(&rp, &mut a);
        // Serialised exactly as the fields say: the decoded key adds nothing.
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json, old_form(&record));
        // A record stored before uvInitialized was tracked reads as not initialised.
        let mut before = old_form(&record);
        before.as_object_mut().unwrap().remove("uv_initialized");
        let before: CredentialRecord = serde_json::from_value(before).unwrap();
        assert!(!before.uv_initialized);
        // An old record deserialises, equals the live one (the cache is not part of
        // its value), and verifies.
        let old: CredentialRecord = serde_json::from_value(old_form(&record)).unwrap();
        assert_eq!(old, record);
        let req = AuthenticationRequest {
            allow_credentials: vec![old.descriptor()],
            ..Default::default()
        };
        let (options, state) = rp.start_authentication(&req, now(), &mut OsRandom).unwrap();
        let resp = a
            .authenticate(&options.public_key, ORIGIN, Fault::None)
            .unwrap();
        let login = rp
            .finish_authentication(&state, &resp, &old, now())
            .unwrap();
        assert_eq!(
            *login.record.decoded_public_key().unwrap(),
            a.public_key(),
            "the returned record keeps the decoded key"
        );
    }
}

#[test]
fn a_replaced_public_key_is_used_not_the_decoded_one() {
    // The decoded key is tied to the bytes it came from: a record whose `public_key`
    // is replaced after a login (a key rotation, a migration) verifies with the new
    // key only. A cache keyed on nothing would keep accepting the old key.
    // Both backends: with aws-lc the record also keeps aws-lc's parsed key (made at the
    // second login, so in use here), which must not outlive the bytes either.
    for backend in crate::backends() {
        let rp = rp(backend, &[Algorithm::Es256]).build().unwrap();
        let mut old_key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
        let mut record = register_and_sign_in(&rp, &mut old_key);
        assert_eq!(*record.decoded_public_key().unwrap(), old_key.public_key());
        let new_key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
        record.public_key = mfa_webauthn::json::Base64UrlBytes(new_key.public_key().to_cose());
        assert_eq!(*record.decoded_public_key().unwrap(), new_key.public_key());
        let req = AuthenticationRequest {
            allow_credentials: vec![record.descriptor()],
            ..Default::default()
        };
        let (options, state) = rp.start_authentication(&req, now(), &mut OsRandom).unwrap();
        let resp = old_key
            .authenticate(&options.public_key, ORIGIN, Fault::None)
            .unwrap();
        assert!(crate::refused_r(
            &rp.finish_authentication(&state, &resp, &record, now()),
            FailureCode::BadSignature,
            "bad signature"
        ));
        // A record whose bytes no longer decode is refused, not served from the cache.
        record.public_key = mfa_webauthn::json::Base64UrlBytes(vec![0xa0]);
        assert!(matches!(
            rp.finish_authentication(&state, &resp, &record, now()),
            Err(Error::Malformed(_))
        ));
    }
}
