//! Pepper rotation: records name their key; rotating records move on use.

use mfa_core::{OsRandom, SecretBytes};
use mfa_recovery::{Error, RecoveryConfig, RecoveryFactor};

use crate::common::{KEY1, KEY2, key_id, keyring};

/// k1 only, then k1 and k2 with k2 current.
fn rings() -> (mfa_core::Keyring, mfa_core::Keyring) {
    let old = keyring("k1", KEY1);
    let mut both = old.clone();
    both.insert(key_id("k2"), SecretBytes::from(KEY2.to_vec()))
        .unwrap();
    both.set_current(&key_id("k2")).unwrap();
    (old, both)
}

#[test]
fn a_set_verifies_under_its_own_key_after_rotation() {
    let (old, both) = rings();
    let before = RecoveryFactor::new(old, RecoveryConfig::default()).unwrap();
    let after = RecoveryFactor::new(both.clone(), RecoveryConfig::default()).unwrap();
    let (codes, record) = before.generate(&mut OsRandom).unwrap().into_parts();
    assert_eq!(record.key_id().as_str(), "k1");
    assert!(!before.needs_rehash(&record));
    assert!(after.needs_rehash(&record));
    let ok = after
        .verify_code(&record, codes[0].expose_secret(), &mut OsRandom)
        .unwrap();
    // The rest of the set cannot be re-hashed: it stays on k1 and says so.
    assert!(ok.details.key_outdated);
    assert_eq!(ok.record.key_id().as_str(), "k1");
    // Regenerating moves it to k2.
    let (new_codes, new) = after
        .regenerate(&ok.record, &mut OsRandom)
        .unwrap()
        .into_parts();
    assert_eq!(new.key_id().as_str(), "k2");
    assert!(!after.needs_rehash(&new));
    // Once k1 is retired, the old record fails with a service error, not a rejection.
    let mut retired = both;
    retired.remove(&key_id("k1")).unwrap();
    let only_k2 = RecoveryFactor::new(retired, RecoveryConfig::default()).unwrap();
    let e = only_k2
        .verify_code(&ok.record, codes[1].expose_secret(), &mut OsRandom)
        .unwrap_err();
    assert!(
        matches!(e, Error::UnknownKey(ref id) if id.as_str() == "k1"),
        "{e:?}"
    );
    assert!(!e.is_rejection());
    assert!(
        only_k2
            .verify_code(&new, new_codes[0].expose_secret(), &mut OsRandom)
            .is_ok()
    );
}

#[test]
fn a_rotating_record_moves_to_the_current_key_on_use() {
    let (old, both) = rings();
    let before = RecoveryFactor::new(old, RecoveryConfig::rotating()).unwrap();
    let after = RecoveryFactor::new(both, RecoveryConfig::rotating()).unwrap();
    let (codes, record) = before.generate(&mut OsRandom).unwrap().into_parts();
    let ok = after
        .verify_code(&record, codes[0].expose_secret(), &mut OsRandom)
        .unwrap();
    assert_eq!(ok.record.key_id().as_str(), "k2");
    assert!(!ok.details.key_outdated);
    assert!(!after.needs_rehash(&ok.record));
}

#[test]
fn the_key_matters() {
    // Same key id, different key bytes: nothing verifies.
    let f1 = RecoveryFactor::new(keyring("k", KEY1), RecoveryConfig::default()).unwrap();
    let f2 = RecoveryFactor::new(keyring("k", KEY2), RecoveryConfig::default()).unwrap();
    let (codes, record) = f1.generate(&mut OsRandom).unwrap().into_parts();
    for c in &codes {
        assert!(
            f2.verify_code(&record, c.expose_secret(), &mut OsRandom)
                .is_err()
        );
    }
}
