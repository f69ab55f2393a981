#![no_main]
//! clientDataJSON: parsing never panics, is deterministic, and accepts only UTF-8 whose
//! parsed members appear in the input.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::CollectedClientData;

fuzz_target!(|data: &[u8]| {
    let a = CollectedClientData::parse(data).ok();
    assert_eq!(a, CollectedClientData::parse(data).ok());
    if let Some(c) = a {
        let text = std::str::from_utf8(data).unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["type"].as_str(), Some(c.type_.as_str()));
        assert_eq!(v["challenge"].as_str(), Some(c.challenge.as_str()));
        assert_eq!(v["origin"].as_str(), Some(c.origin.as_str()));
    }
});
