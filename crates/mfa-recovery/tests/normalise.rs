//! Normalisation: what people type back still verifies; nothing else does.

use mfa_core::testkit::SeededRandom;
use mfa_core::{OsRandom, RejectReason};
use mfa_recovery::{Error, RecoveryCode, RecoveryConfig, RecoveryMode};
use proptest::prelude::*;

use crate::common::{factor, python};

const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Types `code` back as a careless person might: each symbol in either case, `0` as `O`
/// or `o`, `1` as `I`, `i`, `L` or `l`, and a separator (none, space, hyphen, en dash,
/// tab) after it, chosen by `choices`.
fn mangle(code: &str, choices: &[(bool, u8, u8)]) -> String {
    let mut out = String::new();
    for (c, &(lower, look, sep)) in code.chars().zip(choices.iter().cycle()) {
        let c = match c {
            '0' => ['0', 'O', 'o'][usize::from(look % 3)],
            '1' => ['1', 'I', 'i', 'L', 'l'][usize::from(look % 5)],
            c if lower => c.to_ascii_lowercase(),
            c => c,
        };
        out.push(c);
        out.push_str(["", " ", "-", "\u{2013}", "\t"][usize::from(sep % 5)]);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_mangled_code_still_verifies(
        seed in any::<u64>(),
        pick in 0usize..3,
        choices in prop::collection::vec((any::<bool>(), any::<u8>(), any::<u8>()), 1..40),
        lead in "[ \t-]{0,3}",
    ) {
        let f = factor(RecoveryConfig::default().with_mode(RecoveryMode::set(3).unwrap()));
        let (codes, record) = f.generate(&mut SeededRandom::new(seed)).unwrap().into_parts();
        let typed = format!("{lead}{}", mangle(codes[pick].expose_secret(), &choices));
        // Normalisation recovers the canonical code exactly.
        let parsed = RecoveryCode::parse(&typed).unwrap();
        prop_assert_eq!(&parsed, &codes[pick]);
        let ok = f.verify_code(&record, &typed, &mut OsRandom).unwrap();
        prop_assert_eq!(ok.details.remaining, 2);
        // ... and once used, no spelling of it verifies again.
        let again = f.verify_code(&ok.record, codes[pick].expose_secret(), &mut OsRandom);
        prop_assert!(matches!(again, Err(Error::Rejected(ref r)) if r.reason() == RejectReason::WrongCode));
    }

    #[test]
    fn one_changed_symbol_never_verifies(
        seed in any::<u64>(),
        position in 0usize..24,
        delta in 1usize..32,
    ) {
        let f = factor(RecoveryConfig::default().with_mode(RecoveryMode::set(1).unwrap()));
        let (codes, record) = f.generate(&mut SeededRandom::new(seed)).unwrap().into_parts();
        let mut symbols: Vec<char> = codes[0].expose_secret().chars().collect();
        let value = ALPHABET.find(symbols[position]).unwrap();
        symbols[position] = ALPHABET.chars().nth((value + delta) % 32).unwrap();
        let typed: String = symbols.into_iter().collect();
        let e = f.verify_code(&record, &typed, &mut OsRandom).unwrap_err();
        prop_assert!(matches!(e, Error::Rejected(ref r) if r.reason() == RejectReason::WrongCode));
    }

    #[test]
    fn parse_is_idempotent_and_canonical(input in "\\PC{0,64}") {
        if let Ok(code) = RecoveryCode::parse(&input) {
            prop_assert!(code.expose_secret().chars().all(|c| ALPHABET.contains(c)));
            prop_assert!(code.len() <= input.chars().count());
            let again = RecoveryCode::parse(&code.expose_grouped()).unwrap();
            prop_assert_eq!(&again, &code);
            prop_assert_eq!(RecoveryCode::parse(code.expose_secret()).unwrap(), code);
        }
    }
}

/// Our normalisation agrees with the `base32-crockford` Python package (an independent
/// implementation of Crockford's decoding rules) on mangled codes. That package drops
/// only hyphens, so the mangling here uses no other separator.
#[test]
fn normalisation_agrees_with_python_base32_crockford() {
    let mut rng = SeededRandom::new(2024);
    let f = factor(RecoveryConfig::default().with_mode(RecoveryMode::set(50).unwrap()));
    let mut inputs = Vec::new();
    for round in 0..4u8 {
        let (codes, _) = f.generate(&mut rng).unwrap().into_parts();
        for (i, c) in codes.iter().enumerate() {
            let byte = u8::try_from(i)
                .unwrap()
                .wrapping_mul(37)
                .wrapping_add(round);
            let choices: Vec<(bool, u8, u8)> = (0..24u8)
                .map(|k| {
                    let x = byte.wrapping_add(k.wrapping_mul(11));
                    (x % 2 == 0, x / 3, if x % 4 == 0 { 2 } else { 0 })
                })
                .collect();
            inputs.push(mangle(c.expose_secret(), &choices));
        }
    }
    let script = "import sys, base32_crockford as b\n\
                  for line in sys.stdin.read().split('\\n'):\n    print(b.normalize(line))";
    let Some(out) = python(&["base32_crockford"], script, &inputs.join("\n")) else {
        return;
    };
    let theirs: Vec<&str> = out.lines().collect();
    assert_eq!(theirs.len(), inputs.len());
    for (i, (input, expected)) in inputs.iter().zip(theirs).enumerate() {
        let ours = RecoveryCode::parse(input).unwrap();
        assert_eq!(ours.expose_secret(), expected, "#{i}: {input:?}");
    }
    println!(
        "{} mangled codes normalised as base32-crockford does",
        inputs.len()
    );
}
