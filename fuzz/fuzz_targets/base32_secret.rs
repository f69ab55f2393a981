//! Decodes arbitrary text as a base32 secret: either a typed error, or bytes whose
//! canonical encoding decodes to the same bytes and is upper case without padding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_otp::Secret;

fuzz_target!(|s: &str| {
    if let Ok(secret) = Secret::danger_from_base32_short(s) {
        let canonical = secret.to_base32();
        assert!(
            canonical
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
        assert_eq!(
            Secret::danger_from_base32_short(&canonical).unwrap(),
            secret
        );
        // The strict constructor agrees, apart from the length floor.
        match Secret::from_base32(s) {
            Ok(strict) => assert_eq!(strict, secret),
            Err(_) => assert!(secret.len() < Secret::MIN_LEN),
        }
    } else {
        assert!(Secret::from_base32(s).is_err());
    }
});
