#![no_main]
//! Whole authentication responses through the §7.2 verification; JSON round-trips.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::json::{AuthenticationResponseJson, Base64UrlBytes};
use mfa_webauthn::{CredentialRecord, SignCountPolicy};

fuzz_target!(|data: &[u8]| {
    let Ok(resp) = serde_json::from_slice::<AuthenticationResponseJson>(data) else { return };
    let text = serde_json::to_string(&resp).unwrap();
    assert_eq!(serde_json::from_str::<AuthenticationResponseJson>(&text).unwrap(), resp);
    let exp = mfa_webauthn::Expectations {
        rp_id: "example.com".into(),
        origins: vec!["https://example.com".into()],
        allow_subdomains: false,
        challenge: Base64UrlBytes(vec![0; 32]),
        user_presence_required: true,
        user_verification_required: false,
        allow_cross_origin: false,
        allowed_top_origins: vec![],
        allowed_algorithms: vec![],
        appid: None,
    };
    // A fixed P-256 key (the generator point) as the stored credential.
    let key = "pQECAyYgASFYIGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWIlggT-Jjr-Ht-J4Z3-hO-l5ZKrBOmHoJbRZPOcNE6dvrQAM";
    let record = CredentialRecord::from_parts(
        resp.raw_id.0.clone(),
        Base64UrlBytes::decode(key).unwrap().0,
        -7,
        0,
    );
    let _ = mfa_webauthn::verify_authentication(
        &exp,
        &[],
        &resp,
        &record,
        SignCountPolicy::Reject,
        Default::default(),
    );
});
