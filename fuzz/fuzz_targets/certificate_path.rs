#![no_main]
//! Attestation certificate path validation on arbitrary chains against a fixed root:
//! never panics, and a chain validates only if its leaf parses and the anchor index is
//! the one root's.
use libfuzzer_sys::fuzz_target;
use mfa_core::Timestamp;
use mfa_webauthn::TrustAnchor;
use mfa_webauthn::hazmat::validate_certificate_path;

const ROOT: &[u8] = include_bytes!("../../crates/mfa-webauthn/tests/data/x509/root-rsa4096.der");

fuzz_target!(|input: (Vec<Vec<u8>>, u32)| {
    let (chain, secs) = input;
    let root = TrustAnchor::from_der(ROOT.to_vec()).unwrap();
    // Any instant from 1970 to 2106: both sides of every validity period.
    let now = Timestamp::from_unix_secs(u64::from(secs));
    if let Ok(i) = validate_certificate_path(&chain, &[root], now) {
        assert_eq!(i, 0);
        assert!(!chain.is_empty());
    }
});
