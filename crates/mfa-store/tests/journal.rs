//! The journal (`JournalStore`): a change and its entries commit together or not at all,
//! the audit chain verifies, tampering by SQL is named, and the outbox keeps every
//! message until it is marked delivered.
#![allow(
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

use std::sync::Arc;

use mfa_core::store::{
    Change, Committed, Journal, JournalStore, NewAuditEntry, OutboxMessage, Store, StoreError,
};
use mfa_core::testkit;
use mfa_core::{FactorId, Timestamp, UserId};
use mfa_store::MemoryStore;
use mfa_store::journal::{ChainBreak, verify_chain};

use crate::support::unique;

fn journal_of(body: &str, id: Option<&str>) -> Journal {
    let mut j = Journal::new();
    j.audit.push(NewAuditEntry::new(
        Timestamp::from_unix_secs(100),
        body.to_owned(),
    ));
    if let Some(id) = id {
        j.outbox.push(OutboxMessage::new(
            id.to_owned(),
            format!("payload-{id}"),
            Timestamp::from_unix_secs(100),
        ));
    }
    j
}

/// What every journal-keeping backend promises.
async fn journal_conformance<S: Store>(store: &S) {
    assert!(store.keeps_journal());
    let alice = UserId::new("alice").unwrap();
    let f1 = FactorId::new("f1").unwrap();
    let v1 = store
        .insert_factor(testkit::factor_record("alice", "f1", 1, b"one"))
        .await
        .unwrap();

    // A failed change appends nothing: a stale compare-and-swap.
    let stale = store
        .commit_journaled(
            Change::UpdateFactor {
                record: testkit::factor_record("alice", "f1", 1, b"two"),
                expected: mfa_core::store::Version::new(v1.get() + 1000),
            },
            Box::new(|_| Ok(journal_of("{\"never\":1}", Some("never")))),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    assert!(store.audit_entries(0, 100).await.unwrap().is_empty());
    assert!(
        store
            .outbox_due(Timestamp::from_unix_secs(1_000), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A removal and its entries land together; the outcome reaches the closure.
    let out = store
        .commit_journaled(
            Change::RemoveFactor {
                user: alice.clone(),
                id: f1.clone(),
            },
            Box::new(|out| {
                assert_eq!(out, &Committed::Removed(true));
                Ok(journal_of("{\"event\":\"factor_removed\"}", Some("jti-1")))
            }),
        )
        .await
        .unwrap();
    assert_eq!(out, Committed::Removed(true));
    assert!(store.factor(&alice, &f1).await.unwrap().is_none());
    let reset = store
        .commit_journaled(
            Change::ResetUser(alice.clone()),
            Box::new(|out| {
                Ok(match out {
                    Committed::Reset(_) => journal_of("{\"event\":\"reset\"}", Some("jti-2")),
                    _ => Journal::new(),
                })
            }),
        )
        .await
        .unwrap();
    assert!(matches!(reset, Committed::Reset(_)), "{reset:?}");
    for i in 0..3 {
        store
            .commit_journaled(
                Change::Nothing,
                Box::new(move |_| Ok(journal_of(&format!("{{\"n\":{i}}}"), None))),
            )
            .await
            .unwrap();
    }
    let entries = store.audit_entries(0, 100).await.unwrap();
    assert_eq!(entries.len(), 5);
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(verify_chain(&entries), Ok(()));
    assert_eq!(store.audit_entries(3, 1).await.unwrap()[0].seq, 4);

    // The outbox: due in order, retried later, delivered once.
    let now = Timestamp::from_unix_secs(200);
    let due = store.outbox_due(now, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["jti-1", "jti-2"]
    );
    assert_eq!(due[0].payload, "payload-jti-1");
    store
        .outbox_retry("jti-1", Timestamp::from_unix_secs(300))
        .await
        .unwrap();
    let due = store.outbox_due(now, 10).await.unwrap();
    assert_eq!(due.len(), 1, "jti-1 waits for its next attempt");
    assert!(store.outbox_delivered("jti-2", now).await.unwrap());
    assert!(!store.outbox_delivered("jti-2", now).await.unwrap());
    let later = store
        .outbox_due(Timestamp::from_unix_secs(300), 10)
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].id, "jti-1");
    assert_eq!(later[0].attempts, 1);
}

/// Concurrent appends never fork the chain.
async fn concurrent_appends_stay_one_chain<S: Store + 'static>(store: Arc<S>) {
    let results = crate::support::race(16, |i| {
        let store = Arc::clone(&store);
        async move {
            store
                .commit_journaled(
                    Change::Nothing,
                    Box::new(move |_| Ok(journal_of(&format!("{{\"racer\":{i}}}"), None))),
                )
                .await
        }
    })
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let entries = store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(verify_chain(&entries), Ok(()));
    assert!(entries.len() >= 16);
}

#[tokio::test]
async fn memory_store_keeps_a_journal() {
    journal_conformance(&MemoryStore::new()).await;
    concurrent_appends_stay_one_chain(Arc::new(MemoryStore::new())).await;
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    pub(crate) struct TempPath(pub(crate) std::path::PathBuf);

    impl TempPath {
        pub(crate) fn new() -> Self {
            Self(std::env::temp_dir().join(format!("{}.sqlite3", unique("mfa_journal"))))
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = self.0.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_store_keeps_a_journal() {
        let db = TempPath::new();
        let store = mfa_store::SqliteStore::open(&db.0).await.unwrap();
        journal_conformance(&store).await;
        concurrent_appends_stay_one_chain(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_audit_rows_edited_deleted_or_reordered_by_sql_are_named() {
        let db = TempPath::new();
        let store = mfa_store::SqliteStore::open(&db.0).await.unwrap();
        append_five(&store).await;
        let sql = rusqlite::Connection::open(&db.0).unwrap();
        let edit = |s: &str| sql.execute_batch(s).unwrap();
        let check = || async { verify_chain(&store.audit_entries(0, 100).await.unwrap()) };
        assert_eq!(check().await, Ok(()));
        edit("UPDATE mfa_audit SET body = '{\"n\":99}' WHERE seq = 3");
        assert_eq!(check().await, Err(ChainBreak::Edited { seq: 3 }));
        edit("UPDATE mfa_audit SET body = '{\"n\":2}' WHERE seq = 3");
        assert_eq!(check().await, Ok(()), "restored");
        edit(SWAP_2_AND_3);
        assert_eq!(check().await, Err(ChainBreak::Reordered { seq: 2 }));
        edit(SWAP_2_AND_3);
        assert_eq!(check().await, Ok(()), "restored");
        edit("DELETE FROM mfa_audit WHERE seq = 4");
        assert_eq!(check().await, Err(ChainBreak::Deleted { from: 4, to: 4 }));
    }
}

/// Swaps the positions of entries 2 and 3 (what an attacker reordering rows does).
const SWAP_2_AND_3: &str = "UPDATE mfa_audit SET seq = -1 WHERE seq = 2; \
     UPDATE mfa_audit SET seq = 2 WHERE seq = 3; UPDATE mfa_audit SET seq = 3 WHERE seq = -1;";

/// Five entries with bodies `{"n":0}` … `{"n":4}`.
async fn append_five<S: Store>(store: &S) {
    for i in 0..5 {
        store
            .commit_journaled(
                Change::Nothing,
                Box::new(move |_| Ok(journal_of(&format!("{{\"n\":{i}}}"), None))),
            )
            .await
            .unwrap();
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use crate::postgres::TestDb;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_store_keeps_a_journal() {
        let Some(db) = TestDb::new("postgres_store_keeps_a_journal").await else {
            return;
        };
        journal_conformance(&db.store().await).await;
        concurrent_appends_stay_one_chain(Arc::new(db.store().await)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_audit_rows_edited_deleted_or_reordered_by_sql_are_named() {
        let test = "postgres_audit_rows_edited_deleted_or_reordered_by_sql_are_named";
        let Some(db) = TestDb::new(test).await else {
            return;
        };
        let schema = db.schema().await;
        let store = db.store_in(&schema).await;
        append_five(&store).await;
        let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!("SET search_path TO {schema}"))
            .await
            .unwrap();
        let check = || async { verify_chain(&store.audit_entries(0, 100).await.unwrap()) };
        assert_eq!(check().await, Ok(()));
        client
            .batch_execute("UPDATE mfa_audit SET at = at + 1 WHERE seq = 2")
            .await
            .unwrap();
        assert_eq!(check().await, Err(ChainBreak::Edited { seq: 2 }));
        client
            .batch_execute("UPDATE mfa_audit SET at = at - 1 WHERE seq = 2")
            .await
            .unwrap();
        assert_eq!(check().await, Ok(()), "restored");
        client.batch_execute(SWAP_2_AND_3).await.unwrap();
        assert_eq!(check().await, Err(ChainBreak::Reordered { seq: 2 }));
        client.batch_execute(SWAP_2_AND_3).await.unwrap();
        client
            .batch_execute("DELETE FROM mfa_audit WHERE seq IN (1, 2)")
            .await
            .unwrap();
        assert_eq!(check().await, Err(ChainBreak::Deleted { from: 1, to: 2 }));
    }
}
