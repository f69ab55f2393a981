#![no_main]
//! COSE keys: whatever parses re-encodes to a key that parses to the same value.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::cose::PublicKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = PublicKey::from_cose(data) {
        assert_eq!(PublicKey::from_cose(&k.to_cose()).unwrap(), k);
    }
});
