#![no_main]
//! COSE keys: whatever parses re-encodes to a key that parses to the same value, the
//! encoding is a fixed point, and `cose_alg` agrees with the parsed algorithm.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::cose::{PublicKey, cose_alg};

fuzz_target!(|data: &[u8]| {
    let Ok(k) = PublicKey::from_cose(data) else {
        return;
    };
    let encoded = k.to_cose();
    let again = PublicKey::from_cose(&encoded).unwrap();
    assert_eq!(again, k);
    assert_eq!(again.to_cose(), encoded);
    assert_eq!(cose_alg(data).unwrap(), k.alg.cose_id());
});
