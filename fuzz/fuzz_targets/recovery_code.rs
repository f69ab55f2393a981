//! Typed recovery codes: arbitrary input is normalised and verified against a fixed set
//! and a rotating record. Properties, beyond "no panic":
//! - a parsed code is canonical (alphabet only) and parsing its grouped form gives it back;
//! - an input verifies exactly when it normalises to one of the stored codes, and the
//!   returned record then refuses it;
//! - a real code mangled by the fuzzer (case, look-alikes, separators) always verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mfa_core::{KeyId, Keyring, OsRandom, SecretBytes};
use mfa_recovery::{
    Error, RecoveryCode, RecoveryConfig, RecoveryFactor, RecoveryMode, RecoveryRecord,
};

struct Fixture {
    set: RecoveryFactor,
    set_codes: Vec<RecoveryCode>,
    set_record: RecoveryRecord,
    rotating: RecoveryFactor,
    rot_code: RecoveryCode,
    rot_record: RecoveryRecord,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let keys = Keyring::new(
            KeyId::new("fuzz").unwrap(),
            SecretBytes::from(vec![9u8; 32]),
        )
        .unwrap();
        let set = RecoveryFactor::new(
            keys.clone(),
            RecoveryConfig::default().with_mode(RecoveryMode::set(4).unwrap()),
        )
        .unwrap();
        let (set_codes, set_record) = set.generate(&mut OsRandom).unwrap().into_parts();
        let rotating = RecoveryFactor::new(keys, RecoveryConfig::rotating()).unwrap();
        let (mut codes, rot_record) = rotating.generate(&mut OsRandom).unwrap().into_parts();
        let rot_code = codes.pop().unwrap();
        Fixture {
            set,
            set_codes,
            set_record,
            rotating,
            rot_code,
            rot_record,
        }
    })
}

/// Types `code` back using `choices` for case, look-alikes and separators.
fn mangle(code: &str, choices: &[u8]) -> String {
    let mut out = String::new();
    for (i, c) in code.chars().enumerate() {
        let x = choices.get(i % choices.len().max(1)).copied().unwrap_or(0);
        out.push(match c {
            '0' => ['0', 'O', 'o'][usize::from(x % 3)],
            '1' => ['1', 'I', 'i', 'L', 'l'][usize::from(x % 5)],
            c if x & 0x10 != 0 => c.to_ascii_lowercase(),
            c => c,
        });
        out.push_str(["", "", " ", "-", "\u{2014}", "\n"][usize::from((x >> 5) % 6)]);
    }
    out
}

fn check(f: &RecoveryFactor, record: &RecoveryRecord, codes: &[RecoveryCode], input: &str) {
    let parsed = RecoveryCode::parse(input);
    let expected = parsed
        .as_ref()
        .ok()
        .and_then(|p| codes.iter().position(|c| c == p));
    match f.verify_code(record, input, &mut OsRandom) {
        Ok(ok) => {
            assert!(
                expected.is_some(),
                "an input that is no stored code verified"
            );
            assert!(
                f.verify_code(&ok.record, input, &mut OsRandom).is_err(),
                "replay accepted"
            );
        }
        Err(e) => {
            assert!(expected.is_none(), "a stored code was refused: {e:?}");
            assert!(
                e.is_rejection(),
                "input caused a non-rejection error: {e:?}"
            );
            if parsed.is_err() {
                assert!(matches!(e, Error::Code(_)));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(code) = RecoveryCode::parse(s) {
            assert!(
                code.expose_secret()
                    .bytes()
                    .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))
            );
            assert_eq!(RecoveryCode::parse(&code.expose_grouped()).unwrap(), code);
        }
        check(&fx.set, &fx.set_record, &fx.set_codes, s);
        check(
            &fx.rotating,
            &fx.rot_record,
            std::slice::from_ref(&fx.rot_code),
            s,
        );
    }
    if let Some((&pick, choices)) = data.split_first() {
        let code = &fx.set_codes[usize::from(pick) % fx.set_codes.len()];
        let typed = mangle(code.expose_secret(), choices);
        check(&fx.set, &fx.set_record, &fx.set_codes, &typed);
        assert!(
            fx.set
                .verify_code(&fx.set_record, &typed, &mut OsRandom)
                .is_ok()
        );
    }
});
