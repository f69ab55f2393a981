#![no_main]
//! TPM `TPMT_PUBLIC` (pubArea) and `TPMS_ATTEST` (certInfo) parsing: never panics,
//! and a parse accounts for the bytes it returns (every field fits in the input).
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::hazmat::formats::{TpmKey, parse_cert_info, parse_pub_area};

fuzz_target!(|data: &[u8]| {
    if let Some(p) = parse_pub_area(data) {
        let len = match &p.key {
            TpmKey::Rsa { n, .. } => n.len(),
            TpmKey::Ecc { x, y, .. } => x.len() + y.len(),
            _ => 0,
        };
        assert!(len + 12 <= data.len());
    }
    if let Some(c) = parse_cert_info(data) {
        assert_eq!(c.magic.to_be_bytes(), data[..4]);
        assert!(c.extra_data.len() + c.name.len() + 4 + 2 + 2 + 2 + 17 + 8 + 2 + 2 <= data.len());
    }
});
