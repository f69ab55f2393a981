//! `mfa_core::verify_factor`, the one verification loop, against the memory store: a
//! lost compare-and-swap is a replay, a factor removed mid-verification is unknown, and
//! every other outcome is what the factor and the store say.

use mfa_core::store::{FactorRecord, FactorStore, RecordData, StoreError, Version, Versioned};
use mfa_core::testkit::{Faulty, Hook};
use mfa_core::{
    Attempt, AuthMethod, DataOwner, Error, Factor, FactorId, FactorKind, JsonCodec, OsRandom,
    Purpose, RecordCodec, RejectReason, SecureRandom, StartOptions, Timestamp, UserId, Verified,
    verify_factor, verify_loaded,
};
use mfa_store::MemoryStore;
use serde::{Deserialize, Serialize};

/// A toy factor: a fixed PIN, usable once per minute.
struct MinutePin;

#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
struct PinRecord {
    pin: String,
    last_minute: Option<u64>,
}

impl Factor for MinutePin {
    type Record = PinRecord;
    type Challenge = ();
    type State = ();
    type Response = str;
    type Details = u64;
    type Error = Error;

    fn kind(&self, _: &PinRecord) -> FactorKind {
        FactorKind::Totp
    }

    fn start(
        &self,
        _: Option<&PinRecord>,
        _: &StartOptions,
        _: Timestamp,
        _: &mut dyn SecureRandom,
    ) -> Result<((), ()), Error> {
        Ok(((), ()))
    }

    fn verify(
        &self,
        record: &PinRecord,
        _: &(),
        response: &str,
        now: Timestamp,
        _: &mut dyn SecureRandom,
    ) -> Result<Verified<PinRecord, u64>, Error> {
        let minute = now.unix_secs() / 60;
        if record.last_minute.is_some_and(|m| m >= minute) {
            return Err(Error::rejected(RejectReason::Replay));
        }
        if record.pin != response {
            return Err(Error::rejected(RejectReason::WrongCode));
        }
        let next = PinRecord {
            last_minute: Some(minute),
            ..record.clone()
        };
        Ok(Verified::with_details(next, vec![AuthMethod::Pin], minute))
    }
}

fn alice() -> UserId {
    UserId::new("alice").unwrap()
}

fn pin_id() -> FactorId {
    FactorId::new("pin").unwrap()
}

const T: Timestamp = Timestamp::from_unix_secs(6_000);

async fn enrolled(store: &impl FactorStore, confirmed: bool) -> Version {
    let owner = DataOwner::Factor {
        user: &alice(),
        id: &pin_id(),
    };
    let data = JsonCodec
        .encode(
            owner,
            &PinRecord {
                pin: "1234".into(),
                last_minute: None,
            },
        )
        .unwrap();
    let rec = FactorRecord::new(alice(), pin_id(), FactorKind::Totp, data, Timestamp::EPOCH)
        .with_confirmed(confirmed);
    store.insert_factor(rec).await.unwrap()
}

async fn attempt(
    store: &impl FactorStore,
    pin: &str,
    now: Timestamp,
    purpose: Purpose,
) -> Result<mfa_core::VerifiedFactor<PinRecord, u64>, Error> {
    let (user, id) = (alice(), pin_id());
    let attempt = Attempt::new(&user, &id, &(), pin, now).with_purpose(purpose);
    verify_factor(store, &JsonCodec, &MinutePin, attempt, &mut OsRandom).await
}

fn reason(e: &Error) -> Option<RejectReason> {
    match e {
        Error::Rejected(r) => Some(r.reason()),
        _ => None,
    }
}

#[tokio::test]
async fn a_success_is_stored_with_last_use_and_a_new_version() {
    let store = MemoryStore::new();
    let v1 = enrolled(&store, true).await;
    let ok = attempt(&store, "1234", T, Purpose::SignIn).await.unwrap();
    assert_eq!(ok.methods, [AuthMethod::Pin]);
    assert_eq!(ok.details, 100);
    assert_eq!(ok.record.last_minute, Some(100));
    assert!(ok.factor.version > v1);
    assert_eq!(ok.factor.value.last_used_at, Some(T));
    let stored = store.factor(&alice(), &pin_id()).await.unwrap().unwrap();
    assert_eq!(stored, ok.factor, "what is returned is what is stored");
    let owner = DataOwner::Factor {
        user: &alice(),
        id: &pin_id(),
    };
    let decoded: PinRecord = JsonCodec.decode(owner, &stored.value.data).unwrap();
    assert_eq!(decoded, ok.record);
}

#[tokio::test]
async fn rejections_change_nothing_and_replays_are_refused() {
    let store = MemoryStore::new();
    enrolled(&store, true).await;
    let before = store.factor(&alice(), &pin_id()).await.unwrap();
    let wrong = attempt(&store, "0000", T, Purpose::SignIn)
        .await
        .unwrap_err();
    assert_eq!(reason(&wrong), Some(RejectReason::WrongCode));
    assert_eq!(store.factor(&alice(), &pin_id()).await.unwrap(), before);
    attempt(&store, "1234", T, Purpose::SignIn).await.unwrap();
    let replay = attempt(&store, "1234", T, Purpose::SignIn)
        .await
        .unwrap_err();
    assert_eq!(reason(&replay), Some(RejectReason::Replay));
    let unknown = {
        let (user, id) = (alice(), FactorId::new("nope").unwrap());
        let a = Attempt::<MinutePin>::new(&user, &id, &(), "1234", T);
        verify_factor(&store, &JsonCodec, &MinutePin, a, &mut OsRandom)
            .await
            .unwrap_err()
    };
    assert_eq!(reason(&unknown), Some(RejectReason::UnknownFactor));
}

#[tokio::test]
async fn unconfirmed_factors_only_confirm() {
    let store = MemoryStore::new();
    enrolled(&store, false).await;
    let e = attempt(&store, "1234", T, Purpose::SignIn)
        .await
        .unwrap_err();
    assert_eq!(reason(&e), Some(RejectReason::FactorDisabled));
    let ok = attempt(&store, "1234", T, Purpose::Confirm).await.unwrap();
    assert!(ok.factor.value.confirmed);
    let later = Timestamp::from_unix_secs(T.unix_secs() + 60);
    assert!(
        attempt(&store, "1234", later, Purpose::SignIn)
            .await
            .is_ok()
    );
}

/// A store where another request writes (or removes) the factor right after this one
/// loaded it: the window in which two verifications race.
fn interleaved(remove: bool) -> Faulty<MemoryStore, Interleaved> {
    Faulty::new(MemoryStore::new(), Interleaved { remove })
}

struct Interleaved {
    remove: bool,
}

impl Hook<MemoryStore> for Interleaved {
    async fn factor(
        &self,
        inner: &MemoryStore,
        user: &UserId,
        id: &FactorId,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        let read = inner.factor(user, id).await?;
        if let Some(r) = &read {
            if self.remove {
                inner.remove_factor(user, id).await?;
            } else {
                let mut other = r.value.clone();
                other.label = "written by the other request".into();
                inner.update_factor_if_version(other, r.version).await?;
            }
        }
        Ok(read)
    }
}

#[tokio::test]
async fn a_lost_compare_and_swap_is_a_replay_not_a_store_error() {
    let store = interleaved(false);
    enrolled(&store, true).await;
    let e = attempt(&store, "1234", T, Purpose::SignIn)
        .await
        .unwrap_err();
    assert!(e.is_rejection(), "{e:?}");
    assert_eq!(reason(&e), Some(RejectReason::Replay));
    let Error::Rejected(r) = &e else {
        unreachable!()
    };
    assert!(r.detail().is_some_and(|d| d.contains("compare-and-swap")));
    let stored = store
        .inner()
        .factor(&alice(), &pin_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.value.label, "written by the other request");
    assert_eq!(stored.value.last_used_at, None, "the loser wrote nothing");
}

#[tokio::test]
async fn a_factor_removed_mid_verification_is_unknown() {
    let store = interleaved(true);
    enrolled(&store, true).await;
    let e = attempt(&store, "1234", T, Purpose::SignIn)
        .await
        .unwrap_err();
    assert_eq!(reason(&e), Some(RejectReason::UnknownFactor));
    assert!(
        store
            .inner()
            .factor(&alice(), &pin_id())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn undecodable_or_sealed_records_are_store_errors_not_rejections() {
    for data in [
        RecordData::plain(b"not json".to_vec()),
        RecordData::plain(br#"{"pin":1234}"#.to_vec()),
        RecordData::sealed(1, Some("key-2026".into()), b"ciphertext".to_vec()),
    ] {
        let store = MemoryStore::new();
        let rec = FactorRecord::new(alice(), pin_id(), FactorKind::Totp, data, Timestamp::EPOCH)
            .with_confirmed(true);
        store.insert_factor(rec).await.unwrap();
        let e = attempt(&store, "1234", T, Purpose::SignIn)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Store(StoreError::Corrupt(ref m)) if !m.contains("1234")),
            "{e:?}"
        );
    }
}

#[test]
fn the_helper_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let store = MemoryStore::new();
    let (user, id) = (alice(), pin_id());
    let mut rng = OsRandom;
    let a = Attempt::<MinutePin>::new(&user, &id, &(), "1234", T);
    assert_send(verify_factor(&store, &JsonCodec, &MinutePin, a, &mut rng));
}

#[tokio::test]
async fn a_row_of_another_kind_is_bad_input_not_a_rejection() {
    let store = MemoryStore::new();
    let owner = DataOwner::Factor {
        user: &alice(),
        id: &pin_id(),
    };
    let record = PinRecord {
        pin: "1234".into(),
        last_minute: None,
    };
    let data = JsonCodec.encode(owner, &record).unwrap();
    let rec = FactorRecord::new(alice(), pin_id(), FactorKind::Hotp, data, Timestamp::EPOCH)
        .with_confirmed(true);
    store.insert_factor(rec).await.unwrap();
    let e = attempt(&store, "1234", T, Purpose::SignIn)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e:?}");
    assert!(!e.is_rejection());
}

async fn loaded(
    store: &MemoryStore,
    row: Versioned<FactorRecord>,
    attempt: Attempt<'_, MinutePin>,
) -> Result<mfa_core::VerifiedFactor<PinRecord, u64>, Error> {
    verify_loaded(store, &JsonCodec, &MinutePin, row, attempt, &mut OsRandom).await
}

/// `verify_loaded`, the split form the service runs from a row it already loaded: the
/// same outcome as `verify_factor`; a row that is not the attempt's factor, or confirming
/// a factor already confirmed, is bad input and writes nothing; a second verification
/// from the same (now stale) row loses the compare-and-swap, which is a replay.
#[tokio::test]
async fn verify_loaded_checks_the_row_it_is_given() {
    let store = MemoryStore::new();
    enrolled(&store, true).await;
    let row = store.factor(&alice(), &pin_id()).await.unwrap().unwrap();
    let (user, id, bob) = (alice(), pin_id(), UserId::new("bob").unwrap());
    let confirm = Attempt::new(&user, &id, &(), "1234", T).with_purpose(Purpose::Confirm);
    let e = loaded(&store, row.clone(), confirm).await.unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e:?}");
    let e = loaded(&store, row.clone(), Attempt::new(&bob, &id, &(), "1234", T))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e:?}");
    let unchanged = store.factor(&alice(), &pin_id()).await.unwrap().unwrap();
    assert_eq!(unchanged, row, "nothing written");

    let ok = loaded(
        &store,
        row.clone(),
        Attempt::new(&user, &id, &(), "1234", T),
    )
    .await
    .unwrap();
    assert!(ok.factor.version > row.version);
    let later = Timestamp::from_unix_secs(T.unix_secs() + 60);
    let stale = loaded(&store, row, Attempt::new(&user, &id, &(), "1234", later))
        .await
        .unwrap_err();
    assert_eq!(reason(&stale), Some(RejectReason::Replay));
}
