//! PSKC (RFC 6030) documents: a document error or one result per `Key`, opened with no
//! key and with a pre-shared key (never a password: a file's PBKDF2 iteration count
//! would make a slow fuzzer). Every accepted record re-exports and reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa::import::{ImportedFactor, PskcExportKey, PskcKey, parse_pskc, write_pskc};

/// A fixed "random" source, so a failure reproduces.
struct Fixed;

impl mfa_core::SecureRandom for Fixed {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), mfa_core::RandomError> {
        dest.fill(0x5a);
        Ok(())
    }
}

fn otp(f: &ImportedFactor) -> Option<(Vec<u8>, String)> {
    match f {
        ImportedFactor::Hotp(h) => Some((
            h.secret.expose_secret().to_vec(),
            format!("{:?}{}", h.params, h.counter),
        )),
        ImportedFactor::Totp(t) => {
            Some((t.secret.expose_secret().to_vec(), format!("{:?}", t.params)))
        }
        _ => None,
    }
}

fuzz_target!(|s: &str| {
    let user = mfa_core::UserId::new("fuzz").expect("a valid id");
    let psk = [0x12u8; 16];
    for key in [PskcKey::None, PskcKey::PreShared(&psk)] {
        let Ok(parsed) = parse_pskc(s, &key, Some(&user)) else {
            continue;
        };
        let ok: Vec<_> = parsed.records.into_iter().flatten().collect();
        let Ok(written) = write_pskc(&ok, &PskcExportKey::PreShared(&psk), &mut Fixed) else {
            continue;
        };
        let again =
            parse_pskc(&written, &PskcKey::PreShared(&psk), None).expect("an export parses");
        let again: Vec<_> = again
            .records
            .into_iter()
            .map(|r| r.expect("an exported record reads back"))
            .collect();
        assert_eq!(again.len(), ok.len());
        for (a, b) in ok.iter().zip(&again) {
            assert_eq!(a.user, b.user);
            assert_eq!(otp(&a.factor), otp(&b.factor));
        }
    }
});
