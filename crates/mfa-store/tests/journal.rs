//! The journal (`JournalStore`): a change and its entries commit together or not at all,
//! as `mfa_core::testkit::journal_conformance` checks for each backend keeping one; the
//! chain's hashes verify, and tampering with the rows by SQL is named.
#![allow(
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

use mfa_core::Timestamp;
use mfa_core::store::{Change, Journal, JournalStore, NewAuditEntry, Store};
use mfa_core::testkit;
use mfa_store::MemoryStore;
use mfa_store::journal::{ChainBreak, verify_chain};

use crate::support::unique;

/// One audit entry with `body` (the backends' chaining is what is tested).
fn journal_of(body: &str) -> Journal {
    let mut j = Journal::new();
    j.audit.push(NewAuditEntry::new(
        Timestamp::from_unix_secs(100),
        body.to_owned(),
    ));
    j
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_keeps_a_journal() {
    testkit::journal_conformance(MemoryStore::new).await;
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
        let dbs: std::sync::Mutex<Vec<TempPath>> = std::sync::Mutex::new(Vec::new());
        let open = || {
            let db = TempPath::new();
            let store = mfa_store::SqliteStore::open_blocking(&db.0).unwrap();
            dbs.lock().unwrap().push(db);
            store
        };
        testkit::journal_conformance(open).await;
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
                Box::new(move |_| Ok(journal_of(&format!("{{\"n\":{i}}}")))),
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
        testkit::journal_conformance(|| db.store_blocking()).await;
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
