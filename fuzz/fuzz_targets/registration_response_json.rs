#![no_main]
//! Whole registration responses through the §7.1 verification; the seeds are valid
//! testkit registrations for challenge 0^32 at https://example.com, so mutations reach
//! attestation and signature checks.
//!
//! Properties: the JSON round-trips; an accepted registration's record has the
//! presented credential id, a COSE key that parses with the recorded algorithm (one of
//! the allowed ones) and can verify (on its curve, not small-order), the authenticator
//! data's counter, and no credProps claim (it was not requested).
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::cose::PublicKey;
use mfa_webauthn::json::{Base64UrlBytes, RegistrationResponseJson};

fuzz_target!(|data: &[u8]| {
    let Ok(resp) = serde_json::from_slice::<RegistrationResponseJson>(data) else {
        return;
    };
    let text = serde_json::to_string(&resp).unwrap();
    assert_eq!(
        serde_json::from_str::<RegistrationResponseJson>(&text).unwrap(),
        resp
    );
    let exp = mfa_webauthn::Expectations {
        rp_id: "example.com".into(),
        origins: vec!["https://example.com".into()],
        allow_subdomains: false,
        challenge: Base64UrlBytes(vec![0; 32]),
        user_presence_required: true,
        user_verification_required: false,
        allow_cross_origin: false,
        allowed_top_origins: vec![],
        allowed_algorithms: vec![-7, -8, -257],
        appid: None,
        cred_props_requested: false,
        danger_unbound_user_handle: false,
        danger_allow_rs1: false,
        backup_eligibility: mfa_webauthn::BackupEligibilityRule::Reject,
    };
    if let Ok(reg) = mfa_webauthn::hazmat::verify_registration(&exp, &resp, Default::default()) {
        let record = &reg.record;
        assert_eq!(record.id, resp.raw_id);
        let key = PublicKey::from_cose(record.public_key.as_slice()).unwrap();
        assert_eq!(key.alg.cose_id(), record.alg);
        key.validate().unwrap();
        assert_eq!(record.cred_props_rk, None);
        assert!(exp.allowed_algorithms.contains(&record.alg));
        let obj = mfa_webauthn::hazmat::parse_attestation_object(
            resp.response.attestation_object.as_slice(),
        )
        .unwrap();
        let ad = mfa_webauthn::hazmat::authdata::AuthenticatorData::parse(&obj.auth_data).unwrap();
        assert_eq!(ad.sign_count, record.sign_count);
        assert!(ad.flags.user_present());
    }
});
