//! A set of single-use codes (GitHub, Kratos style).

use mfa_core::testkit::SeededRandom;
use mfa_core::{AuthMethod, Factor, FactorKind, OsRandom, RejectReason, StartOptions, Timestamp};
use mfa_recovery::{
    CodeError, CodeFormat, Error, RecordMode, RecoveryConfig, RecoveryFactor, RecoveryMode,
    RecoveryRecord,
};

use crate::common::{Failing, Stuck, factor};

fn reason(e: &Error) -> RejectReason {
    match e {
        Error::Rejected(r) => r.reason(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn every_code_verifies_exactly_once_in_any_order() {
    let f = factor(RecoveryConfig::default());
    let (codes, mut record) = f.generate(&mut OsRandom).unwrap().into_parts();
    assert_eq!(codes.len(), 10);
    assert_eq!(record.remaining(), 10);
    assert_eq!(record.mode(), RecordMode::Set);
    assert_eq!(record.entropy_bits(), 120);
    let mut used = Vec::new();
    // Use them in an order other than generation's.
    for i in [3, 9, 0, 5, 1, 8, 2, 7, 4, 6] {
        let code = &codes[i];
        assert_eq!(code.len(), 24);
        let ok = f
            .verify_code(&record, &code.expose_grouped(), &mut OsRandom)
            .unwrap_or_else(|e| panic!("code #{i} refused: {e:?}"));
        assert_eq!(ok.details.remaining, record.remaining() - 1);
        assert_eq!(ok.details.next_code, None);
        assert!(!ok.details.key_outdated);
        assert_eq!(ok.methods, [AuthMethod::Otp]);
        record = ok.record;
        used.push(i);
        // A used code never verifies again, against the record that consumed it.
        for &u in &used {
            let e = f
                .verify_code(&record, codes[u].expose_secret(), &mut OsRandom)
                .unwrap_err();
            assert!(e.is_rejection());
            let expected = if record.is_exhausted() {
                RejectReason::FactorDisabled
            } else {
                RejectReason::WrongCode
            };
            assert_eq!(reason(&e), expected, "used code #{u}");
        }
    }
    assert!(record.is_exhausted());
}

#[test]
fn regenerated_set_invalidates_every_old_code() {
    let f = factor(RecoveryConfig::default().with_mode(RecoveryMode::set(12).unwrap()));
    let (old_codes, old) = f.generate(&mut OsRandom).unwrap().into_parts();
    // Use one first, to regenerate from a partly used record.
    let partly = f
        .verify_code(&old, old_codes[0].expose_secret(), &mut OsRandom)
        .unwrap()
        .record;
    let (new_codes, new) = f.regenerate(&partly, &mut OsRandom).unwrap().into_parts();
    assert_eq!(new_codes.len(), 12);
    assert_eq!(new.mode(), RecordMode::Set);
    for (i, c) in old_codes.iter().enumerate() {
        let e = f
            .verify_code(&new, c.expose_secret(), &mut OsRandom)
            .unwrap_err();
        assert_eq!(reason(&e), RejectReason::WrongCode, "old code #{i}");
    }
    for c in &new_codes {
        assert!(
            f.verify_code(&new, c.expose_secret(), &mut OsRandom)
                .is_ok()
        );
        // And no new code verifies against the old record.
        assert!(
            f.verify_code(&old, c.expose_secret(), &mut OsRandom)
                .is_err()
        );
    }
}

#[test]
fn codes_are_bound_to_their_record() {
    // Two records with the same key: a code of one never verifies against the other,
    // even with the other's tags copied in (the nonce binds them).
    let f = factor(RecoveryConfig::default().with_mode(RecoveryMode::set(1).unwrap()));
    let (a_codes, a) = f.generate(&mut OsRandom).unwrap().into_parts();
    let (_, b) = f.generate(&mut OsRandom).unwrap().into_parts();
    let mut b_json: serde_json::Value = serde_json::to_value(&b).unwrap();
    let a_json: serde_json::Value = serde_json::to_value(&a).unwrap();
    b_json["hashes"] = a_json["hashes"].clone();
    let spliced: RecoveryRecord = serde_json::from_value(b_json).unwrap();
    let e = f
        .verify_code(&spliced, a_codes[0].expose_secret(), &mut OsRandom)
        .unwrap_err();
    assert_eq!(reason(&e), RejectReason::WrongCode);
    assert!(
        f.verify_code(&a, a_codes[0].expose_secret(), &mut OsRandom)
            .is_ok()
    );
}

#[test]
fn malformed_input_is_a_clear_counted_error() {
    let f = factor(RecoveryConfig::default());
    let (codes, record) = f.generate(&mut OsRandom).unwrap().into_parts();
    let code = codes[0].expose_secret();
    let short = &code[..23];
    let long = format!("{code}A");
    let cases: [(&str, CodeError); 5] = [
        (
            short,
            CodeError::WrongLength {
                expected: 24,
                found: 23,
            },
        ),
        (
            &long,
            CodeError::WrongLength {
                expected: 24,
                found: 25,
            },
        ),
        ("", CodeError::Empty),
        (
            "ABCD-EFGH-JKMN-PQRS-TVWX-YZ0U",
            CodeError::InvalidCharacter { position: 28 },
        ),
        ("abcd+efgh", CodeError::InvalidCharacter { position: 4 }),
    ];
    for (i, (input, expected)) in cases.into_iter().enumerate() {
        let e = f.verify_code(&record, input, &mut OsRandom).unwrap_err();
        assert!(e.is_rejection(), "#{i}");
        match &e {
            Error::Code(c) => assert_eq!(*c, expected, "#{i}"),
            other => panic!("#{i}: {other:?}"),
        }
        // Through the facade: counted, opaque, reason Malformed.
        let core: mfa_core::Error = e.into();
        assert!(core.is_rejection());
        assert_eq!(core.to_string(), "verification failed");
    }
    // The record is unchanged by failures (they return no record at all), and the code
    // still works.
    assert!(f.verify_code(&record, code, &mut OsRandom).is_ok());
}

#[test]
fn factor_trait_and_serde_round_trip() {
    let f = factor(RecoveryConfig::default());
    let (codes, record) = f.generate(&mut SeededRandom::new(7)).unwrap().into_parts();
    assert_eq!(f.kind(&record), FactorKind::RecoveryCode);
    let json = serde_json::to_string(&record).unwrap();
    // Only hashes are stored: no code appears in the record.
    for c in &codes {
        assert!(!json.contains(c.expose_secret()));
    }
    let back: RecoveryRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, record);
    let now = Timestamp::from_unix_secs(1_700_000_000);
    let ((), ()) = f
        .start(Some(&back), &StartOptions::new(), now, &mut OsRandom)
        .unwrap();
    let ok = f
        .verify(&back, &(), &codes[4].expose_grouped(), now, &mut OsRandom)
        .unwrap();
    assert_eq!(ok.record.remaining(), 9);
    // The updated record also round-trips.
    let again: RecoveryRecord =
        serde_json::from_str(&serde_json::to_string(&ok.record).unwrap()).unwrap();
    assert_eq!(again, ok.record);
}

#[test]
fn tampered_records_do_not_parse() {
    let f = factor(RecoveryConfig::default().with_mode(RecoveryMode::set(3).unwrap()));
    let record = f.generate(&mut OsRandom).unwrap().into_parts().1;
    let good: serde_json::Value = serde_json::to_value(&record).unwrap();
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 8] = [
        ("short code with the fast hash", |v| {
            v["symbols"] = 22.into()
        }),
        ("too short for any hash", |v| v["symbols"] = 12.into()),
        ("unknown version", |v| v["v"] = 2.into()),
        ("unsorted tags", |v| {
            let tags = v["hashes"]["tags"].as_array_mut().unwrap();
            tags.swap(0, 2);
        }),
        ("duplicate tags", |v| {
            let t = v["hashes"]["tags"][0].clone();
            v["hashes"]["tags"][1] = t;
        }),
        ("rotating with three codes", |v| {
            v["mode"] = "rotating".into()
        }),
        ("truncated tag", |v| v["hashes"]["tags"][0] = "AAAA".into()),
        ("unknown field", |v| v["extra"] = 1.into()),
    ];
    for (what, edit) in edits {
        let mut v = good.clone();
        edit(&mut v);
        assert!(
            serde_json::from_value::<RecoveryRecord>(v).is_err(),
            "{what} was accepted"
        );
    }
    assert!(serde_json::from_value::<RecoveryRecord>(good).is_ok());
}

#[test]
fn configuration_enforces_the_nist_pairing() {
    let keys = crate::common::keyring("k1", crate::common::KEY1);
    let short = CodeFormat::with_entropy_bits(100).unwrap();
    let e = RecoveryFactor::new(keys, RecoveryConfig::default().with_format(short)).unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e:?}");
    assert!(!e.is_rejection());
}

#[test]
fn broken_random_sources_fail_generation() {
    let f = factor(RecoveryConfig::default());
    assert!(matches!(f.generate(&mut Failing), Err(Error::Random(_))));
    // A source stuck on one value makes every code equal: refused, not looped on.
    assert!(matches!(f.generate(&mut Stuck), Err(Error::Random(_))));
    // A single code from a stuck source is "valid" (nothing to compare it with).
    let one = factor(RecoveryConfig::default().with_mode(RecoveryMode::set(1).unwrap()));
    assert!(one.generate(&mut Stuck).is_ok());
}

#[test]
fn seeded_generation_is_reproducible_and_well_formed() {
    let f = factor(
        RecoveryConfig::default().with_format(
            CodeFormat::with_entropy_bits(128)
                .unwrap()
                .with_group_size(5)
                .unwrap(),
        ),
    );
    let a = f.generate(&mut SeededRandom::new(1)).unwrap();
    let b = f.generate(&mut SeededRandom::new(1)).unwrap();
    assert_eq!(a.codes(), b.codes());
    assert_eq!(a.record(), b.record());
    for c in a.codes() {
        let shown = c.expose_grouped();
        assert_eq!(shown.len(), 26 + 5);
        assert!(
            shown.split('-').all(|g| g.len() == 5 || g.len() == 1),
            "{}",
            *shown
        );
        assert!(
            shown
                .bytes()
                .all(|b| b == b'-' || b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))
        );
    }
}

/// Every base64url string in a record's JSON form: its nonce and its hashes (tags, or
/// Argon2id salts and hashes).
pub(crate) fn stored_material(record: &RecoveryRecord) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) if s.len() >= 16 => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::to_value(record).unwrap(), &mut out);
    out
}

/// Asserts neither `{:?}` nor `{:#?}` of `value` shows a code or any stored material.
pub(crate) fn assert_debug_redacted(
    value: &impl std::fmt::Debug,
    codes: &[mfa_recovery::RecoveryCode],
    material: &[String],
) {
    for dbg in [format!("{value:?}"), format!("{value:#?}")] {
        for c in codes {
            assert!(!dbg.contains(c.expose_secret()), "a code in {dbg}");
            assert!(!dbg.contains(&*c.expose_grouped()), "a code in {dbg}");
        }
        for m in material {
            assert!(!dbg.contains(m.as_str()), "{m} in {dbg}");
        }
        assert!(dbg.contains("[redacted]"), "{dbg}");
    }
}

#[test]
fn debug_of_issued_codes_and_record_shows_no_code_hash_or_nonce() {
    let f = factor(RecoveryConfig::default());
    let issued = f.generate(&mut OsRandom).unwrap();
    let material = stored_material(issued.record());
    assert!(material.len() >= 11, "nonce and ten tags: {material:?}");
    assert_debug_redacted(&issued, issued.codes(), &material);
    assert_debug_redacted(issued.record(), issued.codes(), &material);
    // What stays useful: the mode and the key id.
    let dbg = format!("{:?}", issued.record());
    assert!(
        dbg.contains("Set") && dbg.contains("RecoveryRecord"),
        "{dbg}"
    );
}
