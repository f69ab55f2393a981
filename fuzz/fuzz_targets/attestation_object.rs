#![no_main]
//! Attestation objects: parsing never panics; a parsed object's authData is reparsed.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = mfa_webauthn::parse_attestation_object(data) {
        let again = mfa_webauthn::parse_attestation_object(data).unwrap();
        assert_eq!(obj, again);
        let _ = mfa_webauthn::authdata::AuthenticatorData::parse(&obj.auth_data);
    }
});
