//! WebAuthn credentials as JSON: a document error, or one result per array element;
//! every accepted credential has a 1 to 1023-byte id and a COSE key that decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa::import::{ImportedFactor, parse_webauthn_json};

fuzz_target!(|s: &str| {
    let Ok(parsed) = parse_webauthn_json(s) else {
        return;
    };
    for (i, r) in parsed.records.iter().enumerate() {
        match r {
            Ok(r) => {
                assert_eq!(r.index, i + 1);
                let ImportedFactor::WebAuthn(c) = &r.factor else {
                    panic!("only credentials")
                };
                assert!((1..=1023).contains(&c.id.0.len()));
                assert!(c.decoded_public_key().is_ok());
            }
            Err(e) => assert_eq!(e.index, i + 1),
        }
    }
});
