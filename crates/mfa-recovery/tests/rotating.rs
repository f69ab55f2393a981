//! One rotating code (NIST SP 800-63B rev4 §4.2.1.1).

use mfa_core::{OsRandom, RejectReason};
use mfa_recovery::{Error, RecordMode, RecoveryCode, RecoveryConfig, RecoveryMode};

use crate::common::{Failing, factor};

#[test]
fn successor_verifies_and_predecessor_does_not() {
    let f = factor(RecoveryConfig::rotating());
    let (mut codes, mut record) = f.generate(&mut OsRandom).unwrap().into_parts();
    assert_eq!(codes.len(), 1);
    assert_eq!(record.mode(), RecordMode::Rotating);
    let mut current: RecoveryCode = codes.pop().unwrap();
    let mut history: Vec<RecoveryCode> = Vec::new();
    for step in 0..20 {
        let ok = f
            .verify_code(&record, &current.expose_grouped(), &mut OsRandom)
            .unwrap_or_else(|e| panic!("step {step}: {e:?}"));
        assert_eq!(ok.details.remaining, 1);
        assert_eq!(ok.record.mode(), RecordMode::Rotating);
        let next = ok.details.next_code.clone().expect("a successor");
        assert_ne!(next, current);
        history.push(current);
        record = ok.record;
        // Every predecessor, not only the last, fails against the new record.
        for (i, old) in history.iter().enumerate() {
            let e = f
                .verify_code(&record, old.expose_secret(), &mut OsRandom)
                .unwrap_err();
            match e {
                Error::Rejected(r) => assert_eq!(r.reason(), RejectReason::WrongCode),
                other => panic!("step {step}, old #{i}: {other:?}"),
            }
        }
        current = next;
    }
}

#[test]
fn regenerating_a_rotating_record_stays_rotating() {
    // Even when the factor is now configured for sets.
    let f = factor(RecoveryConfig::default().with_mode(RecoveryMode::set(5).unwrap()));
    let rot = factor(RecoveryConfig::rotating());
    let (codes, record) = rot.generate(&mut OsRandom).unwrap().into_parts();
    let (new_codes, new) = f.regenerate(&record, &mut OsRandom).unwrap().into_parts();
    assert_eq!(new.mode(), RecordMode::Rotating);
    assert_eq!(new_codes.len(), 1);
    assert!(
        f.verify_code(&new, codes[0].expose_secret(), &mut OsRandom)
            .is_err()
    );
    assert!(
        f.verify_code(&new, new_codes[0].expose_secret(), &mut OsRandom)
            .is_ok()
    );
}

#[test]
fn a_failed_rng_fails_the_rotation_without_consuming() {
    let f = factor(RecoveryConfig::rotating());
    let (codes, record) = f.generate(&mut OsRandom).unwrap().into_parts();
    let e = f
        .verify_code(&record, codes[0].expose_secret(), &mut Failing)
        .unwrap_err();
    assert!(matches!(e, Error::Random(_)), "{e:?}");
    assert!(!e.is_rejection());
    // Nothing was returned to store, so the code is still good.
    assert!(
        f.verify_code(&record, codes[0].expose_secret(), &mut OsRandom)
            .is_ok()
    );
}
