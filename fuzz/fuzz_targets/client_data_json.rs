#![no_main]
//! clientDataJSON: parsing never panics, is deterministic, and accepts only UTF-8 whose
//! parsed members appear in the input.
//!
//! The oracle is `serde_json::Value`, which refuses numbers outside f64's range although
//! RFC 8259 §6 allows them (e.g. `1e400` in an unknown member, which the verifier rightly
//! skips). Only that refusal is excused; any other disagreement fails. (Unpaired `\u`
//! surrogates, which `Value` also refuses, the verifier now rejects too.)
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::CollectedClientData;

fuzz_target!(|data: &[u8]| {
    let a = CollectedClientData::parse(data).ok();
    assert_eq!(a, CollectedClientData::parse(data).ok());
    if let Some(c) = a {
        let text = std::str::from_utf8(data).unwrap();
        let v: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) if e.to_string().starts_with("number out of range") => return,
            Err(e) => panic!("accepted client data the oracle cannot parse: {e}"),
        };
        assert_eq!(v["type"].as_str(), Some(c.type_.as_str()));
        assert_eq!(v["challenge"].as_str(), Some(c.challenge.as_str()));
        assert_eq!(v["origin"].as_str(), Some(c.origin.as_str()));
    }
});
