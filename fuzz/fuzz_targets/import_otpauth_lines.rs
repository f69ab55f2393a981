//! `otpauth://` lines for `mfa::import`: one result per non-blank, non-comment line, at
//! that line's number, and every record builds back into a URI that parses to the same
//! secret and parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa::import::{ImportedFactor, parse_otpauth_lines};
use mfa_otp::OtpAuthUri;

fuzz_target!(|s: &str| {
    let parsed = parse_otpauth_lines(s);
    let lines: Vec<&str> = s.lines().collect();
    let counted = lines
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
        .count();
    assert_eq!(parsed.records.len(), counted);
    let mut last = 0;
    for r in &parsed.records {
        let index = match r {
            Ok(r) => r.index,
            Err(e) => e.index,
        };
        assert!(index > last && index <= lines.len());
        last = index;
    }
    for r in parsed.records.iter().flatten() {
        let uri = match &r.factor {
            ImportedFactor::Totp(t) => {
                OtpAuthUri::totp(t.secret.clone(), t.params, None, r.user.as_str())
            }
            ImportedFactor::Hotp(h) => {
                OtpAuthUri::hotp(h.secret.clone(), h.params, h.counter, None, r.user.as_str())
            }
            _ => panic!("otpauth lines hold only OTP factors"),
        };
        // User ids may hold characters a label cannot (':'); those are not rebuilt.
        let Ok(uri) = uri else { continue };
        let again = OtpAuthUri::danger_parse_allow_short_secret(&uri.to_uri_string())
            .expect("a built URI parses");
        assert_eq!(again, uri);
    }
});
