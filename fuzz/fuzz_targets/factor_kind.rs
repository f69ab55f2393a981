//! Parses arbitrary strings as the facade's string forms: a string either parses and
//! round-trips through `Display`, or is refused with a typed error. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_core::{AuthMethod, FactorKind, UserId};

fuzz_target!(|s: &str| {
    if let Ok(kind) = s.parse::<FactorKind>() {
        assert_eq!(kind.to_string(), s);
    }
    if let Ok(m) = s.parse::<AuthMethod>() {
        assert_eq!(m.as_str(), s);
    }
    if let Ok(u) = UserId::new(s) {
        assert_eq!(u.as_str(), s);
        assert!(!s.is_empty() && s.len() <= 255);
    }
});
