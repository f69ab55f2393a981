#![no_main]
//! Whole registration responses through the §7.1 verification; JSON round-trips.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::json::{Base64UrlBytes, RegistrationResponseJson};

fuzz_target!(|data: &[u8]| {
    let Ok(resp) = serde_json::from_slice::<RegistrationResponseJson>(data) else { return };
    let text = serde_json::to_string(&resp).unwrap();
    assert_eq!(serde_json::from_str::<RegistrationResponseJson>(&text).unwrap(), resp);
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
    };
    let _ = mfa_webauthn::verify_registration(&exp, &resp, Default::default());
});
