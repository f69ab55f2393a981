//! SqliteStore: the conformance suite, races through two connections, migrations from
//! an empty file, and an injected failure in the middle of a multi-row change.

use std::sync::Arc;

use mfa_core::store::{
    ChallengeOwner, ChallengeStore, DeviceStore, FactorStore, Generation, PendingChallenge,
    RecordData, RememberedDevice, StoreError, UserStore,
};
use mfa_core::testkit::{self, SeededRandom};
use mfa_core::{Timestamp, UserId};
use mfa_store::SqliteStore;

use crate::support::{TempDb, races_across_instances};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_passes_the_conformance_suite() {
    let files = std::sync::Mutex::new(Vec::new());
    testkit::conformance(|| {
        let db = TempDb::new("mfa_store_test");
        let store = SqliteStore::open_blocking(&db.0).unwrap();
        files.lock().unwrap().push(db);
        store
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_races_across_two_connections() {
    let db = TempDb::new("mfa_store_test");
    let a = Arc::new(SqliteStore::open(&db.0).await.unwrap());
    let b = Arc::new(SqliteStore::open(&db.0).await.unwrap());
    races_across_instances(a, b).await;
}

#[tokio::test]
async fn sqlite_migrates_an_empty_file_once_and_uses_wal() {
    let db = TempDb::new("mfa_store_test");
    let store = SqliteStore::open(&db.0).await.unwrap();
    assert_eq!(
        store.migrate().await.unwrap(),
        3,
        "migrating again is a no-op"
    );
    let conn = rusqlite::Connection::open(&db.0).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let versions: Vec<i32> = column(
        &conn,
        "SELECT version FROM mfa_schema_version ORDER BY version",
    );
    assert_eq!(versions, [1, 2, 3]);
    let tables: Vec<String> = column(
        &conn,
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    );
    assert_eq!(
        tables,
        [
            "mfa_audit",
            "mfa_audit_head",
            "mfa_challenges",
            "mfa_devices",
            "mfa_factors",
            "mfa_failures",
            "mfa_outbox",
            "mfa_schema_version",
            "mfa_sequence",
            "mfa_users"
        ]
    );
    // A second store on the same file sees the same data (persistence).
    store
        .insert_factor(testkit::factor_record("alice", "f", 1, b"kept"))
        .await
        .unwrap();
    drop(store);
    let again = SqliteStore::open(&db.0).await.unwrap();
    let f = again
        .factor(
            &UserId::new("alice").unwrap(),
            &mfa_core::FactorId::new("f").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        f.map(|f| f.value.data.expose_bytes().to_vec()),
        Some(b"kept".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_failure_in_the_middle_of_a_reset_leaves_the_old_state_whole() {
    let db = TempDb::new("mfa_store_test");
    let store = SqliteStore::open(&db.0).await.unwrap();
    let alice = UserId::new("alice").unwrap();
    for i in 0..3 {
        store
            .insert_factor(testkit::factor_record(
                "alice",
                &format!("f{i}"),
                i,
                b"secret",
            ))
            .await
            .unwrap();
    }
    let id = mfa_core::store::ChallengeId::generate(&mut SeededRandom::new(1)).unwrap();
    let owner = ChallengeOwner::User(alice.clone());
    store
        .put_challenge(PendingChallenge::new(
            id.clone(),
            owner.clone(),
            RecordData::plain(b"c".to_vec()),
            Timestamp::from_unix_secs(1_000),
        ))
        .await
        .unwrap();
    let device = RememberedDevice::new(
        alice.clone(),
        "laptop",
        Generation::INITIAL,
        Timestamp::from_unix_secs(1),
        Timestamp::from_unix_secs(1_000),
    )
    .unwrap();
    store.remember_device(device).await.unwrap();

    // The reset deletes factors and challenges, then fails on the devices.
    let conn = rusqlite::Connection::open(&db.0).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER inject BEFORE DELETE ON mfa_devices \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();
    let r = store.reset_user(&alice).await;
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    let now = Timestamp::from_unix_secs(10);
    assert_eq!(store.list_factors(&alice).await.unwrap().len(), 3);
    assert!(store.challenge(&id, &owner, now).await.unwrap().is_some());
    assert_eq!(store.list_devices(&alice, now).await.unwrap().len(), 1);
    assert_eq!(
        store.user_state(&alice).await.unwrap().generation,
        Generation::INITIAL,
        "the generation bump rolled back with the rest"
    );

    // A failing compare-and-swap (regenerating recovery codes, a verification) keeps the
    // old record and version, and is a backend error, never a success.
    conn.execute_batch(
        "DROP TRIGGER inject; CREATE TRIGGER inject BEFORE UPDATE ON mfa_factors \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();
    let before = store
        .factor(&alice, &mfa_core::FactorId::new("f0").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut next = before.value.clone();
    next.data = RecordData::plain(b"new codes".to_vec());
    let r = store.update_factor_if_version(next, before.version).await;
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    let after = store
        .factor(&alice, &mfa_core::FactorId::new("f0").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, before);

    conn.execute_batch("DROP TRIGGER inject").unwrap();
    let summary = store.reset_user(&alice).await.unwrap();
    assert_eq!(
        (summary.factors, summary.challenges, summary.devices),
        (3, 1, 1)
    );
}

/// The first column of every row `sql` returns.
fn column<T: rusqlite::types::FromSql>(conn: &rusqlite::Connection, sql: &str) -> Vec<T> {
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}
