#![no_main]
//! The SafetyNet JWS (compact serialisation): never panics; a parse has an object
//! payload and a signing input that is the first two segments of the input.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::hazmat::formats::parse_jws;

fuzz_target!(|data: &[u8]| {
    if let Some(jws) = parse_jws(data) {
        assert!(jws.payload.is_object());
        assert!(data.starts_with(&jws.signing_input));
        assert_eq!(data.get(jws.signing_input.len()), Some(&b'.'));
    }
});
