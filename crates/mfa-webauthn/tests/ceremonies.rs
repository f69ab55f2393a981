//! Full ceremonies with the testkit's software authenticator: options JSON, state
//! round trips, and each deliberate fault mapped to its reason code.

use mfa_core::{Factor, OsRandom, RejectReason, StartOptions, Timestamp, UserVerification};
use mfa_webauthn::cose::Algorithm;
use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
use mfa_webauthn::{
    AuthenticationRequest, AuthenticationState, CredentialRecord, FailureCode, Preference,
    RegistrationRequest, RegistrationState, RelyingParty, WebAuthnFactor,
};

pub(crate) const ORIGIN: &str = "https://example.com";

pub(crate) fn rp() -> RelyingParty {
    RelyingParty::builder("example.com", "Example")
        .origin(ORIGIN)
        .build()
        .unwrap()
}

pub(crate) fn factor(rp: RelyingParty) -> WebAuthnFactor {
    WebAuthnFactor::new(rp, UserVerification::Preferred)
}

pub(crate) fn now() -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000)
}

pub(crate) fn register(rp: &RelyingParty, a: &mut SoftAuthenticator) -> CredentialRecord {
    let req = RegistrationRequest::new(b"user-1".to_vec(), "alice", "Alice");
    let (options, state) = rp.start_registration(&req, now(), &mut OsRandom).unwrap();
    let resp = a.register(&options, ORIGIN, Fault::None).unwrap();
    rp.finish_registration(&state, &resp, now()).unwrap().record
}

#[test]
fn creation_options_are_the_browser_json_form() {
    let mut req = RegistrationRequest::new(vec![1, 2, 3], "alice", "Alice A.");
    req.resident_key = Preference::Required;
    req.user_verification = Preference::Required;
    let (options, state) = rp().start_registration(&req, now(), &mut OsRandom).unwrap();
    let v = serde_json::to_value(&options).unwrap();
    assert_eq!(
        v["rp"],
        serde_json::json!({"id": "example.com", "name": "Example"})
    );
    assert_eq!(
        v["user"],
        serde_json::json!({"id": "AQID", "name": "alice", "displayName": "Alice A."})
    );
    assert_eq!(
        v["challenge"].as_str().unwrap().len(),
        43,
        "32 bytes, base64url"
    );
    let algs: Vec<i64> = v["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alg"].as_i64().unwrap())
        .collect();
    assert_eq!(algs, [-8, -7, -257]);
    assert_eq!(v["pubKeyCredParams"][0]["type"], "public-key");
    assert_eq!(v["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(v["authenticatorSelection"]["requireResidentKey"], true);
    assert_eq!(v["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(v["attestation"], "none");
    assert_eq!(v["extensions"]["credProps"], true);
    assert_eq!(v["timeout"], 300_000);
    // The state survives a JSON round trip (it is stored between the two calls).
    let text = serde_json::to_string(&state).unwrap();
    assert_eq!(
        serde_json::from_str::<RegistrationState>(&text).unwrap(),
        state
    );
    assert!(state.expectations.user_verification_required);
}

#[test]
fn register_then_authenticate_twice_each_algorithm() {
    for alg in [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256] {
        let rp = rp();
        let mut a = SoftAuthenticator::new(alg, &mut OsRandom).unwrap();
        let record = register(&rp, &mut a);
        assert_eq!(record.alg, alg.cose_id());
        assert_eq!(record.attestation_format, "packed");
        assert_eq!(record.sign_count, 1);
        assert_eq!(record.user_handle.as_ref().unwrap().0, b"user-1");
        let mut record = record;
        for expected in [2, 3] {
            let (challenge, state) = factor(rp.clone())
                .start(Some(&record), &StartOptions::new(), now(), &mut OsRandom)
                .unwrap();
            let text = serde_json::to_string(&state).unwrap();
            let state: AuthenticationState = serde_json::from_str(&text).unwrap();
            let resp = a
                .authenticate(&challenge.public_key, ORIGIN, Fault::None)
                .unwrap();
            let ok = factor(rp.clone())
                .verify(&record, &state, &resp, now(), &mut OsRandom)
                .unwrap();
            assert_eq!(ok.details.sign_count, expected);
            assert_eq!(ok.record.sign_count, expected);
            assert_eq!(ok.details.user_handle.as_ref().unwrap().0, b"user-1");
            record = ok.record;
        }
    }
}

#[test]
fn es384_only_when_configured() {
    // Not offered by default: an ES384 credential is refused at registration.
    let mut a = SoftAuthenticator::new(Algorithm::Es384, &mut OsRandom).unwrap();
    let req = RegistrationRequest::new(b"user-1".to_vec(), "alice", "Alice");
    let (options, state) = rp().start_registration(&req, now(), &mut OsRandom).unwrap();
    let resp = a.register(&options, ORIGIN, Fault::None).unwrap();
    let err = rp().finish_registration(&state, &resp, now()).unwrap_err();
    assert_eq!(err.failure_code(), Some(FailureCode::AlgorithmNotAllowed));
    // Offered: it registers and authenticates like the others.
    let rp = RelyingParty::builder("example.com", "Example")
        .origin(ORIGIN)
        .algorithms([Algorithm::Es384, Algorithm::Es256])
        .build()
        .unwrap();
    let record = register(&rp, &mut a);
    assert_eq!(record.alg, -35);
    let (challenge, state) = factor(rp.clone())
        .start(Some(&record), &StartOptions::new(), now(), &mut OsRandom)
        .unwrap();
    let resp = a
        .authenticate(&challenge.public_key, ORIGIN, Fault::None)
        .unwrap();
    let ok = factor(rp.clone())
        .verify(&record, &state, &resp, now(), &mut OsRandom)
        .unwrap();
    assert!(ok.record.sign_count > record.sign_count);
    // A bad signature is still a bad signature.
    let (challenge, state) = factor(rp.clone())
        .start(Some(&ok.record), &StartOptions::new(), now(), &mut OsRandom)
        .unwrap();
    let resp = a
        .authenticate(&challenge.public_key, ORIGIN, Fault::BadSignature)
        .unwrap();
    let err = rp
        .finish_authentication(&state, &resp, &ok.record, now())
        .unwrap_err();
    assert_eq!(err.failure_code(), Some(FailureCode::BadSignature));
}

#[test]
fn each_fault_is_rejected_with_its_reason() {
    let cases = [
        (Fault::BadSignature, FailureCode::BadSignature),
        (Fault::CrossOrigin, FailureCode::CrossOriginNotAllowed),
        (Fault::NoUserPresence, FailureCode::UserNotPresent),
        (
            Fault::TrailingAuthenticatorData,
            FailureCode::MalformedAuthenticatorData,
        ),
        (Fault::WrongChallenge, FailureCode::ChallengeMismatch),
        (
            Fault::WrongClientDataType,
            FailureCode::ClientDataTypeMismatch,
        ),
        (Fault::WrongRpId, FailureCode::RpIdMismatch),
    ];
    let rp = rp();
    for (fault, code) in cases {
        // Registration.
        let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
        let req = RegistrationRequest::new(b"u".to_vec(), "u", "U");
        let (options, state) = rp.start_registration(&req, now(), &mut OsRandom).unwrap();
        let resp = a.register(&options, ORIGIN, fault).unwrap();
        let err = rp.finish_registration(&state, &resp, now()).unwrap_err();
        let want = if fault == Fault::BadSignature {
            FailureCode::InvalidAttestationStatement
        } else {
            code
        };
        assert_eq!(
            err.failure_code(),
            Some(want),
            "registration {fault:?}: {err}"
        );
        // Authentication.
        let record = register(&rp, &mut a);
        let (challenge, state) = factor(rp.clone())
            .start(Some(&record), &StartOptions::new(), now(), &mut OsRandom)
            .unwrap();
        let resp = a
            .authenticate(&challenge.public_key, ORIGIN, fault)
            .unwrap();
        let err = rp
            .finish_authentication(&state, &resp, &record, now())
            .unwrap_err();
        assert_eq!(
            err.failure_code(),
            Some(code),
            "authentication {fault:?}: {err}"
        );
        // Through the facade it is an opaque rejection.
        let e: mfa_core::Error = err.into();
        assert_eq!(e.to_string(), "verification failed");
    }
}

#[test]
fn counter_regression_wrong_origin_expiry_and_uv() {
    let rp = rp();
    let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let record = register(&rp, &mut a);
    let (challenge, state) = factor(rp.clone())
        .start(Some(&record), &StartOptions::new(), now(), &mut OsRandom)
        .unwrap();
    let resp = a
        .authenticate(&challenge.public_key, ORIGIN, Fault::CounterNotIncremented)
        .unwrap();
    let err = rp
        .finish_authentication(&state, &resp, &record, now())
        .unwrap_err();
    assert_eq!(err.failure_code(), Some(FailureCode::SignCountRegression));
    let e: mfa_core::Error = err.into();
    let mfa_core::Error::Rejected(r) = e else {
        panic!()
    };
    assert_eq!(r.reason(), RejectReason::CounterRegression);

    let (challenge, state) = factor(rp.clone())
        .start(Some(&record), &StartOptions::new(), now(), &mut OsRandom)
        .unwrap();
    let resp = a
        .authenticate(&challenge.public_key, "https://evil.example", Fault::None)
        .unwrap();
    let err = rp
        .finish_authentication(&state, &resp, &record, now())
        .unwrap_err();
    assert_eq!(err.failure_code(), Some(FailureCode::OriginMismatch));

    let late = Timestamp::from_unix_secs(now().unix_secs() + 301);
    let (challenge, state) = factor(rp.clone())
        .start(Some(&record), &StartOptions::new(), now(), &mut OsRandom)
        .unwrap();
    let resp = a
        .authenticate(&challenge.public_key, ORIGIN, Fault::None)
        .unwrap();
    let err = rp
        .finish_authentication(&state, &resp, &record, late)
        .unwrap_err();
    assert!(crate::refused(
        &err,
        FailureCode::ChallengeMismatch,
        "expired"
    ));
    // An expired state is `expired` for the service, with no other detail to the user.
    assert!(matches!(
        mfa_core::Error::from(err),
        mfa_core::Error::Rejected(r) if r.reason() == RejectReason::Expired
    ));

    a.set_user_verified(false);
    let req = AuthenticationRequest {
        allow_credentials: vec![record.descriptor()],
        user_verification: Preference::Required,
        hints: Vec::new(),
        conditional: false,
    };
    let (options, state) = rp.start_authentication(&req, now(), &mut OsRandom).unwrap();
    let resp = a
        .authenticate(&options.public_key, ORIGIN, Fault::None)
        .unwrap();
    let err = rp
        .finish_authentication(&state, &resp, &record, now())
        .unwrap_err();
    assert_eq!(
        err.failure_code(),
        Some(FailureCode::UserVerificationRequired)
    );
}

#[test]
fn conditional_mediation_request_options() {
    let req = AuthenticationRequest {
        conditional: true,
        ..Default::default()
    };
    let (options, _) = rp()
        .start_authentication(&req, now(), &mut OsRandom)
        .unwrap();
    let v = serde_json::to_value(&options).unwrap();
    assert_eq!(v["mediation"], "conditional");
    assert_eq!(v["publicKey"]["rpId"], "example.com");
    assert_eq!(v["publicKey"]["allowCredentials"], serde_json::json!([]));
    assert_eq!(v["publicKey"]["userVerification"], "preferred");
}
