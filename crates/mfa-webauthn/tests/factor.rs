//! `WebAuthnFactor`: the user-verification requirement, usernameless start, and
//! conditional mediation.

use mfa_core::{Factor, OsRandom, StartOptions, UserVerification};
use mfa_webauthn::cose::Algorithm;
use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
use mfa_webauthn::{FailureCode, WebAuthnFactor};

use crate::ceremonies::{ORIGIN, now, register, rp};

fn uv_of(options: &mfa_webauthn::json::CredentialRequestOptionsJson) -> &str {
    options.public_key.user_verification.as_deref().unwrap()
}

#[test]
fn required_in_the_options_raises_the_factor_never_lowers_it() {
    let rp = rp();
    let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let record = register(&rp, &mut a);
    let cases = [
        (
            UserVerification::Preferred,
            UserVerification::Preferred,
            "preferred",
        ),
        (
            UserVerification::Preferred,
            UserVerification::Required,
            "required",
        ),
        (
            UserVerification::Discouraged,
            UserVerification::Preferred,
            "discouraged",
        ),
        (
            UserVerification::Discouraged,
            UserVerification::Required,
            "required",
        ),
        (
            UserVerification::Preferred,
            UserVerification::Discouraged,
            "preferred",
        ),
        (
            UserVerification::Required,
            UserVerification::Discouraged,
            "required",
        ),
        (
            UserVerification::Required,
            UserVerification::Preferred,
            "required",
        ),
    ];
    for (default, asked, want) in cases {
        let f = WebAuthnFactor::new(rp.clone(), default);
        assert_eq!(f.user_verification(), default);
        let opts = StartOptions::new().with_user_verification(asked);
        let (c, state) = f.start(Some(&record), &opts, now(), &mut OsRandom).unwrap();
        assert_eq!(uv_of(&c), want, "{default:?} + {asked:?}");
        assert_eq!(
            state.expectations.user_verification_required,
            want == "required"
        );
    }
}

#[test]
fn required_user_verification_is_enforced() {
    let rp = std::sync::Arc::new(rp());
    let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let record = register(&rp, &mut a);
    a.set_user_verified(false);
    // Raised by the options of one challenge.
    let f = WebAuthnFactor::new(rp.clone(), UserVerification::Preferred);
    let opts = StartOptions::new().with_user_verification(UserVerification::Required);
    let (c, s) = f.start(Some(&record), &opts, now(), &mut OsRandom).unwrap();
    let resp = a.authenticate(&c.public_key, ORIGIN, Fault::None).unwrap();
    let err = f
        .verify(&record, &s, &resp, now(), &mut OsRandom)
        .unwrap_err();
    assert_eq!(
        err.failure_code(),
        Some(FailureCode::UserVerificationRequired)
    );
    // The factor's own requirement holds even for a state that did not ask for UV.
    let lax = WebAuthnFactor::new(rp.clone(), UserVerification::Preferred);
    let (c, s) = lax
        .start(Some(&record), &StartOptions::new(), now(), &mut OsRandom)
        .unwrap();
    let resp = a.authenticate(&c.public_key, ORIGIN, Fault::None).unwrap();
    let strict = WebAuthnFactor::new(rp, UserVerification::Required);
    let err = strict
        .verify(&record, &s, &resp, now(), &mut OsRandom)
        .unwrap_err();
    assert_eq!(
        err.failure_code(),
        Some(FailureCode::UserVerificationRequired)
    );
    // Without the requirement, the same assertion verifies (UP only: no `mfa`).
    let ok = lax
        .verify(&record, &s, &resp, now(), &mut OsRandom)
        .unwrap();
    assert!(!ok.methods.contains(&mfa_core::AuthMethod::Mfa));
}

#[test]
fn usernameless_start_and_conditional_mediation() {
    let rp = rp();
    let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let record = register(&rp, &mut a);
    let f = WebAuthnFactor::new(rp, UserVerification::Required);
    // No record: an empty allow list, conditional mediation allowed.
    let opts = StartOptions::new().with_conditional_mediation(true);
    let (c, s) = f.start(None, &opts, now(), &mut OsRandom).unwrap();
    assert!(c.public_key.allow_credentials.is_empty());
    assert!(s.allowed.is_empty());
    assert_eq!(c.mediation.as_deref(), Some("conditional"));
    // The service finds the record by credential id; the factor checks the handle.
    let resp = a.authenticate(&c.public_key, ORIGIN, Fault::None).unwrap();
    assert_eq!(resp.raw_id, record.id);
    let ok = f.verify(&record, &s, &resp, now(), &mut OsRandom).unwrap();
    assert_eq!(ok.details.user_handle, record.user_handle);
    // A usernameless response without a handle is refused.
    let (c, s) = f
        .start(None, &StartOptions::new(), now(), &mut OsRandom)
        .unwrap();
    let resp = a
        .authenticate(&c.public_key, ORIGIN, Fault::NoUserHandle)
        .unwrap();
    let err = f
        .verify(&ok.record, &s, &resp, now(), &mut OsRandom)
        .unwrap_err();
    assert_eq!(err.failure_code(), Some(FailureCode::UserHandleMismatch));
    // With a record: an allow list of that credential, and no conditional mediation.
    let (c, _) = f
        .start(Some(&record), &StartOptions::new(), now(), &mut OsRandom)
        .unwrap();
    assert_eq!(c.public_key.allow_credentials, vec![record.descriptor()]);
    assert!(f.start(Some(&record), &opts, now(), &mut OsRandom).is_err());
    // A delivery channel is refused.
    let voice = StartOptions::new().with_channel(mfa_core::Channel::Voice);
    assert!(f.start(None, &voice, now(), &mut OsRandom).is_err());
}
