//! Short codes with Argon2id (feature `argon2`).

use mfa_core::testkit::SeededRandom;
use mfa_core::{OsRandom, RejectReason};
use mfa_recovery::{
    Argon2Params, CodeFormat, Error, Hashing, RecordMode, RecoveryConfig, RecoveryFactor,
    RecoveryMode, RecoveryRecord,
};

use crate::common::{KEY1, factor, keyring, python};

/// Cheap parameters so the tests run fast; production keeps the default.
fn cheap() -> Argon2Params {
    Argon2Params::new(64, 1, 1).unwrap()
}

fn short(count: usize) -> RecoveryConfig {
    RecoveryConfig::short_codes(cheap()).with_mode(RecoveryMode::set(count).unwrap())
}

#[test]
fn short_codes_verify_once() {
    let f = factor(short(10));
    let (codes, mut record) = f.generate(&mut OsRandom).unwrap().into_parts();
    assert_eq!(record.entropy_bits(), 70);
    for (i, c) in codes.iter().enumerate() {
        // 2 index symbols + 14 random: ABCD-EFGH-JKMN-PQRS.
        assert_eq!(c.expose_grouped().len(), 19, "#{i}");
        let ok = f
            .verify_code(&record, &c.expose_grouped().to_lowercase(), &mut OsRandom)
            .unwrap();
        assert_eq!(ok.details.remaining, 9 - i);
        record = ok.record;
        let e = f
            .verify_code(&record, c.expose_secret(), &mut OsRandom)
            .unwrap_err();
        assert!(e.is_rejection(), "#{i}: {e:?}");
    }
    assert!(record.is_exhausted());
}

#[test]
fn wrong_secret_with_a_right_index_is_refused() {
    let f = factor(short(5));
    let (codes, record) = f.generate(&mut OsRandom).unwrap().into_parts();
    let code = codes[2].expose_secret();
    // Keep the index (first two symbols), change the last symbol.
    let last = code.chars().last().unwrap();
    let other = if last == 'Z' { 'Y' } else { 'Z' };
    let typed = format!("{}{other}", &code[..code.len() - 1]);
    let e = f.verify_code(&record, &typed, &mut OsRandom).unwrap_err();
    assert!(matches!(e, Error::Rejected(ref r) if r.reason() == RejectReason::WrongCode));
    // An index no entry has: refused too (after one decoy evaluation).
    let indexes: Vec<String> = codes
        .iter()
        .map(|c| c.expose_secret()[..2].to_owned())
        .collect();
    let unused = ["00", "01", "02", "03", "04", "05"]
        .into_iter()
        .find(|i| !indexes.iter().any(|x| x == i))
        .unwrap();
    let typed = format!("{unused}{}", &code[2..]);
    let e = f.verify_code(&record, &typed, &mut OsRandom).unwrap_err();
    assert!(matches!(e, Error::Rejected(ref r) if r.reason() == RejectReason::WrongCode));
    // Wrong length is checked against index + secret.
    let e = f
        .verify_code(&record, &code[2..], &mut OsRandom)
        .unwrap_err();
    assert!(matches!(e, Error::Code(_)), "{e:?}");
    assert!(f.verify_code(&record, code, &mut OsRandom).is_ok());
}

#[test]
fn rotating_short_code() {
    let f = factor(RecoveryConfig::short_codes(cheap()).with_mode(RecoveryMode::Rotating));
    let (codes, record) = f.generate(&mut OsRandom).unwrap().into_parts();
    assert_eq!(record.mode(), RecordMode::Rotating);
    let ok = f
        .verify_code(&record, codes[0].expose_secret(), &mut OsRandom)
        .unwrap();
    let next = ok.details.next_code.clone().unwrap();
    assert!(
        f.verify_code(&ok.record, next.expose_secret(), &mut OsRandom)
            .is_ok()
    );
    assert!(
        f.verify_code(&ok.record, codes[0].expose_secret(), &mut OsRandom)
            .is_err()
    );
}

#[test]
fn pairing_and_params_are_enforced() {
    // 64 bits is the floor for Argon2id; below 112 the fast hash is refused.
    let ok = RecoveryConfig::short_codes(cheap())
        .with_format(CodeFormat::with_entropy_bits(64).unwrap());
    assert!(RecoveryFactor::new(keyring("k1", KEY1), ok).is_ok());
    let fast = ok.with_hashing(Hashing::HmacSha256);
    assert!(RecoveryFactor::new(keyring("k1", KEY1), fast).is_err());
    assert!(Argon2Params::new(4, 1, 1).is_err());
    assert!(Argon2Params::new(64, 0, 1).is_err());
    assert_eq!(Argon2Params::default().m_kib(), 19 * 1024);
    // A stored record with an invalid index does not parse.
    let f = factor(short(2));
    let record = f.generate(&mut OsRandom).unwrap().into_parts().1;
    let mut v = serde_json::to_value(&record).unwrap();
    v["hashes"]["entries"][1]["index"] = v["hashes"]["entries"][0]["index"].clone();
    assert!(serde_json::from_value::<RecoveryRecord>(v.clone()).is_err());
    v["hashes"]["entries"][1]["index"] = "UU".into();
    assert!(serde_json::from_value::<RecoveryRecord>(v).is_err());
    // Changing the configured cost flags the record for regeneration.
    let dearer = factor(RecoveryConfig::short_codes(
        Argon2Params::new(128, 1, 1).unwrap(),
    ));
    assert!(dearer.needs_rehash(&record));
    assert!(!f.needs_rehash(&record));
}

/// The stored hashes match an independent Argon2id (the pure-Python `argon2pure`, with
/// the pepper as the secret value K of RFC 9106 §3.1).
#[test]
fn argon2id_hashes_match_python_argon2pure() {
    let f = factor(short(2));
    let (codes, record) = f.generate(&mut SeededRandom::new(5)).unwrap().into_parts();
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["hashes"]["alg"], "argon2id");
    let params = &json["hashes"]["params"];
    assert_eq!(
        (
            params["m_kib"].as_u64(),
            params["t"].as_u64(),
            params["p"].as_u64()
        ),
        (Some(64), Some(1), Some(1))
    );
    let script = r#"
import sys, base64, argon2pure
d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
key_hex, nonce_b64, *rest = sys.stdin.read().split()
for i in range(0, len(rest), 2):
    salt, code = d(rest[i]), rest[i + 1]
    pwd = b"mfa-recovery v1 argon2id\0" + d(nonce_b64) + code.encode()
    tag = argon2pure.argon2(pwd, salt, time_cost=1, memory_cost=64, parallelism=1,
        tag_length=32, secret=bytes.fromhex(key_hex), type_code=argon2pure.ARGON2ID, version=0x13)
    print(base64.urlsafe_b64encode(tag).decode().rstrip("="))
"#;
    let key_hex: String = KEY1.iter().map(|b| format!("{b:02x}")).collect();
    let entries = json["hashes"]["entries"].as_array().unwrap();
    let mut input = format!("{key_hex} {}", json["nonce"].as_str().unwrap());
    for (e, c) in entries.iter().zip(&codes) {
        // Entries are in generation order; the index is the code's first two symbols.
        assert_eq!(e["index"].as_str().unwrap(), &c.expose_secret()[..2]);
        input.push_str(&format!(
            " {} {}",
            e["salt"].as_str().unwrap(),
            c.expose_secret()
        ));
    }
    let Some(out) = python(&["argon2pure"], script, &input) else {
        return;
    };
    let theirs: Vec<&str> = out.lines().collect();
    let ours: Vec<&str> = entries
        .iter()
        .map(|e| e["hash"].as_str().unwrap())
        .collect();
    assert_eq!(theirs, ours);
}

#[test]
fn debug_of_an_argon2id_record_shows_no_code_salt_or_hash() {
    let f = factor(short(4));
    let issued = f.generate(&mut OsRandom).unwrap();
    let material = crate::set::stored_material(issued.record());
    assert!(
        material.len() >= 9,
        "nonce, four salts and hashes: {material:?}"
    );
    crate::set::assert_debug_redacted(&issued, issued.codes(), &material);
}
