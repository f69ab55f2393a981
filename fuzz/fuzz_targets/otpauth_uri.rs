//! Parses arbitrary text as an otpauth:// URI: either a typed error, or a URI that
//! builds back into text that parses to the same value and builds to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_otp::OtpAuthUri;

fuzz_target!(|s: &str| {
    for parse in [
        OtpAuthUri::parse,
        OtpAuthUri::danger_parse_allow_short_secret,
    ] {
        if let Ok(uri) = parse(s) {
            let built = uri.to_uri_string();
            let again = parse(&built).expect("a built URI parses");
            assert_eq!(again, uri);
            assert_eq!(again.to_uri_string(), built);
        }
    }
});
