//! Google Authenticator exports (`otpauth-migration://offline?data=…`, a hand-decoded
//! protobuf): never a panic; indexes count up; a secret never exceeds the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa::import::{ImportedFactor, parse_google_migration};

fuzz_target!(|s: &str| {
    let parsed = parse_google_migration(s);
    let mut last = 0;
    for r in &parsed.records {
        match r {
            Ok(r) => {
                assert!(r.index > last);
                last = r.index;
                let secret = match &r.factor {
                    ImportedFactor::Totp(t) => t.secret.len(),
                    ImportedFactor::Hotp(h) => h.secret.len(),
                    _ => panic!("exports hold only OTP factors"),
                };
                assert!(secret > 0 && secret <= s.len());
            }
            // 0 is the source as a whole (an incomplete batch), after the records.
            Err(e) if e.index == 0 => last = usize::MAX,
            Err(e) => {
                assert!(e.index > last);
                last = e.index;
            }
        }
    }
});
