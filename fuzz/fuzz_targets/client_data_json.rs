#![no_main]
//! clientDataJSON: parsing never panics and is deterministic.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::CollectedClientData;

fuzz_target!(|data: &[u8]| {
    let a = CollectedClientData::parse(data).ok();
    assert_eq!(a, CollectedClientData::parse(data).ok());
});
