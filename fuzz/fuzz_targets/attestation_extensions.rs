#![no_main]
//! The certificate extensions decoded by hand (Android KeyDescription, Apple nonce):
//! never panic, and what they return comes from the input.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::hazmat::formats::{nonce_of_extension, parse_key_description};

fuzz_target!(|data: &[u8]| {
    if let Some(d) = parse_key_description(data) {
        assert!(d.challenge.len() <= data.len());
        assert!(
            d.challenge.is_empty() || data.windows(d.challenge.len()).any(|w| w == d.challenge)
        );
    }
    if let Some(n) = nonce_of_extension(data) {
        assert!(data.ends_with(n));
    }
});
