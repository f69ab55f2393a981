//! Secrets at rest: what the store holds is sealed, bound to its row, and re-sealable.
//!
//! Here the stored bytes are read from the memory store; `raw_tables.rs` reads the SQL
//! tables of SQLite and PostgreSQL themselves.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{
    code, enroll_totp, harness, harness_with, keys, password, right, ring, start_totp,
};
use mfa::envelope::FORMAT_AES256GCM_V1;
use mfa::otp::Secret;
use mfa::{Error, KeyId, Response};
use mfa_core::store::{FactorStore, RecordData, StoreError};
use mfa_core::{Clock, OsRandom, SecretBytes, UserId};
use mfa_store::MemoryStore;

fn corrupt(e: &Error) -> bool {
    matches!(
        e,
        Error::Core(mfa_core::Error::Store(StoreError::Corrupt(_)))
    )
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_store_holds_no_secret_only_sealed_envelopes_with_a_key_id() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let now = h.clock.now();
    let e = start_totp(&h, &alice, "phone").await;
    let raw_secret = Secret::from_base32(&e.secret_base32).unwrap();
    let row = h
        .service
        .store()
        .factor(&alice, &e.factor_id)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(row.data.format(), FORMAT_AES256GCM_V1);
    assert_eq!(row.data.key_id(), Some("k1"));
    let bytes = row.data.expose_bytes();
    assert!(!contains(bytes, raw_secret.expose_secret()));
    assert!(!contains(bytes, e.secret_base32.as_bytes()));
    assert!(!contains(bytes, b"secret"), "no JSON field names in clear");
    // Nor anywhere in the row as a backend would serialise it.
    let json = serde_json::to_string(&row).unwrap();
    assert!(!json.contains(&*e.secret_base32));
    // Two writes of the same record never repeat a nonce / ciphertext.
    h.service
        .finish_enrollment(
            &alice,
            &e.factor_id,
            &code(&e, now.unix_secs()),
            &mfa::Session::default(),
        )
        .await
        .unwrap();
    let again = h
        .service
        .store()
        .factor(&alice, &e.factor_id)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_ne!(again.data.expose_bytes().get(..12), bytes.get(..12));
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_or_tampered_with_is_a_typed_error() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let bob = UserId::new("bob").unwrap();
    let now = h.clock.now();
    let a = start_totp(&h, &alice, "phone").await;
    let a2 = start_totp(&h, &alice, "tablet").await;
    let b = start_totp(&h, &bob, "phone").await;
    let store = h.service.store();
    let alice_row = store.factor(&alice, &a.factor_id).await.unwrap().unwrap();
    let alice_code = code(&a, now.unix_secs());

    // Alice's sealed record copied into Bob's row: Alice's code must not confirm it.
    let bob_row = store.factor(&bob, &b.factor_id).await.unwrap().unwrap();
    let mut moved = bob_row.value.clone();
    moved.data = alice_row.value.data.clone();
    store
        .update_factor_if_version(moved, bob_row.version)
        .await
        .unwrap();
    let err = h
        .service
        .finish_enrollment(&bob, &b.factor_id, &alice_code, &mfa::Session::default())
        .await
        .unwrap_err();
    assert!(corrupt(&err), "{err:?}");

    // Into another factor id of the same user.
    let a2_row = store.factor(&alice, &a2.factor_id).await.unwrap().unwrap();
    let mut moved = a2_row.value.clone();
    moved.data = alice_row.value.data.clone();
    store
        .update_factor_if_version(moved, a2_row.version)
        .await
        .unwrap();
    let err = h
        .service
        .finish_enrollment(&alice, &a2.factor_id, &alice_code, &mfa::Session::default())
        .await
        .unwrap_err();
    assert!(corrupt(&err), "{err:?}");

    // One flipped bit, a relabelled key id, an unknown format, a truncated envelope.
    let data = &alice_row.value.data;
    let mut flipped = data.expose_bytes().to_vec();
    flipped[20] ^= 1;
    let variants = [
        RecordData::sealed(data.format(), data.key_id().map(str::to_owned), flipped),
        RecordData::sealed(
            data.format(),
            Some("k0".into()),
            data.expose_bytes().to_vec(),
        ),
        RecordData::sealed(
            7,
            data.key_id().map(str::to_owned),
            data.expose_bytes().to_vec(),
        ),
        RecordData::sealed(data.format(), data.key_id().map(str::to_owned), vec![0; 20]),
        RecordData::plain(b"{}".to_vec()),
    ];
    for bad in variants {
        let row = store.factor(&alice, &a.factor_id).await.unwrap().unwrap();
        let mut tampered = row.value.clone();
        tampered.data = bad;
        store
            .update_factor_if_version(tampered, row.version)
            .await
            .unwrap();
        let err = h
            .service
            .finish_enrollment(&alice, &a.factor_id, &alice_code, &mfa::Session::default())
            .await
            .unwrap_err();
        assert!(corrupt(&err), "{err:?}");
        assert!(
            h.service.list_factors(&alice).await.is_ok(),
            "listing reads no TOTP record"
        );
    }
}

#[tokio::test]
async fn another_key_under_the_same_id_does_not_open_old_records() {
    let h = harness_with(MemoryStore::new(), keys("k1"));
    let alice = UserId::new("alice").unwrap();
    let now = h.clock.now();
    let e = enroll_totp(&h, &alice).await;
    let clock = h.clock.clone();
    let store = Arc::into_inner(h.service).unwrap().into_store();

    // A service restarted with a fresh key that reuses the id "k1".
    let wrong = harness_with(store, keys("k1"));
    clock.advance(Duration::from_secs(30));
    let err = wrong
        .service
        .verify(
            &alice,
            &e.factor_id,
            Response::Code(&code(&e, clock.now().unix_secs() + 30)),
            &password(now),
        )
        .await
        .unwrap_err();
    assert!(corrupt(&err), "{err:?}");
}

#[tokio::test]
async fn rekey_reseals_under_the_new_key_and_the_old_key_can_then_go() {
    let old = SecretBytes::generate(32, &mut OsRandom).unwrap();
    let new = SecretBytes::generate(32, &mut OsRandom).unwrap();
    let h = harness_with(MemoryStore::new(), ring("k1", old.clone()));
    let alice = UserId::new("alice").unwrap();
    let e = enroll_totp(&h, &alice).await;
    let store = Arc::into_inner(h.service).unwrap().into_store();

    let k2 = KeyId::new("k2").unwrap();
    let rotated = ring("k1", old.clone())
        .with_key(k2.clone(), new.clone())
        .unwrap()
        .with_current(&k2)
        .unwrap();
    let h2 = harness_with(store, rotated);
    assert_eq!(h2.service.admin().rekey_user(&alice).await.unwrap(), 1);
    assert_eq!(
        h2.service.admin().rekey_user(&alice).await.unwrap(),
        0,
        "nothing left to move"
    );
    let row = h2
        .service
        .store()
        .factor(&alice, &e.factor_id)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(row.data.key_id(), Some("k2"));
    let store = Arc::into_inner(h2.service).unwrap().into_store();

    // k1 retired: the record still opens, and the code still verifies.
    let h3 = harness_with(store, ring("k2", new));
    h3.clock.advance(Duration::from_secs(60));
    let v = right(&h3, &alice, &e).await.unwrap();
    assert_eq!(v.factor.id, e.factor_id);
}

/// The limit the README's threat model states (issue 19, item 9): a database writer who
/// puts back an older sealed row of the same factor rolls its state back — here the
/// last used TOTP step, so a code already used verifies again. The envelope binds the
/// row's owner, kind and key id, not its version: the version is assigned by the store
/// after sealing, and a writer who can restore the ciphertext can restore the version
/// column with it, so binding it would not stop this. What the envelope does stop is
/// the same ciphertext under any other factor (checked just below).
#[tokio::test]
async fn a_writer_restoring_an_older_row_rolls_it_back_as_the_threat_model_states() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let e = enroll_totp(&h, &alice).await;
    h.clock.advance(Duration::from_secs(30));
    let store = h.service.store();
    let before = store.factor(&alice, &e.factor_id).await.unwrap().unwrap();
    let now = h.clock.now();
    let used = code(&e, now.unix_secs());
    let verify = async |c: &str| h.verify_code(&alice, &e.factor_id, c).await;
    let aal2 = verify(&used).await.unwrap().session;
    assert!(verify(&used).await.is_err(), "a replay is refused");
    // The writer restores the earlier row.
    let current = store.factor(&alice, &e.factor_id).await.unwrap().unwrap();
    store
        .update_factor_if_version(before.value.clone(), current.version)
        .await
        .unwrap();
    assert!(
        verify(&used).await.is_ok(),
        "a restored row is a state the service once wrote: it opens"
    );
    // The same sealed bytes under another factor id do not open.
    let e2 = h.begin_totp(&alice, "tablet", &aal2).await;
    let mut moved = store.factor(&alice, &e2.factor_id).await.unwrap().unwrap();
    moved.value.data = before.value.data.clone();
    let v = moved.version;
    store
        .update_factor_if_version(moved.value, v)
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(30));
    let t = h.clock.now();
    let err = h
        .service
        .finish_enrollment(
            &alice,
            &e2.factor_id,
            &code(&e, t.unix_secs()),
            &mfa::Session::default(),
        )
        .await
        .unwrap_err();
    assert!(corrupt(&err), "{err:?}");
}
