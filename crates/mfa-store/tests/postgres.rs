//! PostgresStore: the conformance suite, races through two pools (two service
//! instances), migrations from an empty schema, and a connection killed in the middle of
//! a reset. Each test works in schemas of its own, dropped at the end.
//!
//! Needs `MFA_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`);
//! without it the tests say they skip.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mfa_core::store::{
    ChallengeOwner, ChallengeStore, DeviceStore, FactorStore, Generation, PendingChallenge,
    RecordData, RememberedDevice, StoreError, UserStore,
};
use mfa_core::testkit::{self, SeededRandom};
use mfa_core::{Timestamp, UserId};
use mfa_store::{PostgresOptions, PostgresStore};
use tokio_postgres::NoTls;

use crate::support::{races_across_instances, server, unique, unreachable};

pub(crate) const VAR: &str = "MFA_TEST_POSTGRES_URL";

/// The test server, and the schemas a test made there (dropped when this is dropped,
/// also when the test fails).
pub(crate) struct TestDb {
    pub(crate) url: String,
    schemas: Mutex<Vec<String>>,
}

async fn admin(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

impl TestDb {
    /// `None` when the test should skip.
    pub(crate) async fn new(test: &str) -> Option<Self> {
        let url = server(VAR, test)?;
        if let Err(e) = admin(&url).await {
            unreachable(test, "PostgreSQL", &e);
            return None;
        }
        Some(Self {
            url,
            schemas: Mutex::new(Vec::new()),
        })
    }

    /// A fresh, empty schema of this test.
    pub(crate) async fn schema(&self) -> String {
        let name = unique("mfa_test");
        admin(&self.url)
            .await
            .unwrap()
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        self.schemas.lock().unwrap().push(name.clone());
        name
    }

    /// A store in a fresh schema, migrated.
    pub(crate) async fn store(&self) -> PostgresStore {
        let schema = self.schema().await;
        self.store_in(&schema).await
    }

    /// Another store (another pool) on `schema`.
    pub(crate) async fn store_in(&self, schema: &str) -> PostgresStore {
        PostgresStore::connect(&self.url, PostgresOptions::default().schema(schema))
            .await
            .unwrap()
    }

    /// [`TestDb::store`] from synchronous code on a multi-threaded runtime.
    pub(crate) fn store_blocking(&self) -> PostgresStore {
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(self.store()))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let schemas = std::mem::take(&mut *self.schemas.lock().unwrap_or_else(|e| e.into_inner()));
        let url = self.url.clone();
        let done = testkit::on_own_thread(move || async move {
            let client = admin(&url).await.unwrap();
            for s in schemas {
                let drop = format!("DROP SCHEMA IF EXISTS {s} CASCADE");
                client.batch_execute(&drop).await.unwrap();
            }
        });
        if !done {
            eprintln!("could not drop the test schemas");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_passes_the_conformance_suite() {
    let Some(db) = TestDb::new("postgres_store_passes_the_conformance_suite").await else {
        return;
    };
    testkit::conformance(|| db.store_blocking()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_races_across_two_pools() {
    let Some(db) = TestDb::new("postgres_races_across_two_pools").await else {
        return;
    };
    let schema = db.schema().await;
    let a = Arc::new(db.store_in(&schema).await);
    let b = Arc::new(db.store_in(&schema).await);
    races_across_instances(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrates_an_empty_schema_once() {
    let Some(db) = TestDb::new("postgres_migrates_an_empty_schema_once").await else {
        return;
    };
    let schema = db.schema().await;
    // Two instances starting together migrate once (advisory lock).
    let (a, b) = tokio::join!(db.store_in(&schema), db.store_in(&schema));
    assert_eq!(a.migrate().await.unwrap(), 4);
    assert_eq!(b.migrate().await.unwrap(), 4);
    let client = admin(&db.url).await.unwrap();
    let rows = client
        .query(
            &format!("SELECT version FROM {schema}.mfa_schema_version ORDER BY version"),
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    let rows = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
             ORDER BY table_name",
            &[&schema],
        )
        .await
        .unwrap();
    let tables: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
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
            "mfa_users"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_killed_in_the_middle_of_a_reset_leaves_the_old_state_whole() {
    let test = "postgres_connection_killed_in_the_middle_of_a_reset";
    let Some(db) = TestDb::new(test).await else {
        return;
    };
    let schema = db.schema().await;
    let store = db.store_in(&schema).await;
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

    // Another session holds the device row, so the reset, having bumped the generation
    // and deleted the factors and challenges, waits on its DELETE FROM mfa_devices.
    let blocker = admin(&db.url).await.unwrap();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT * FROM {schema}.mfa_devices WHERE user_id = 'alice' FOR UPDATE"
        ))
        .await
        .unwrap();
    let blocker_pid: i32 = blocker
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let reset = tokio::spawn({
        let store = store.clone();
        let alice = alice.clone();
        async move { store.reset_user(&alice).await }
    });
    let killer = admin(&db.url).await.unwrap();
    let mut victim = None;
    for _ in 0..500 {
        let rows = killer
            .query(
                "SELECT pid, query FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                &[&blocker_pid],
            )
            .await
            .unwrap();
        if let Some(row) = rows.first() {
            let query: String = row.get(1);
            assert!(query.contains("mfa_devices"), "blocked on {query}");
            victim = Some(row.get::<_, i32>(0));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let victim = victim.expect("the reset never blocked on the device row");
    let killed: bool = killer
        .query_one("SELECT pg_terminate_backend($1)", &[&victim])
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    let r = reset.await.unwrap();
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    blocker.batch_execute("ROLLBACK").await.unwrap();

    let now = Timestamp::from_unix_secs(10);
    assert_eq!(store.list_factors(&alice).await.unwrap().len(), 3);
    assert!(store.challenge(&id, &owner, now).await.unwrap().is_some());
    assert_eq!(store.list_devices(&alice, now).await.unwrap().len(), 1);
    assert_eq!(
        store.user_state(&alice).await.unwrap().generation,
        Generation::INITIAL,
        "the generation bump rolled back with the rest"
    );
    // The pool replaces the dead connection; the reset then goes through whole.
    let summary = store.reset_user(&alice).await.unwrap();
    assert_eq!(
        (summary.factors, summary.challenges, summary.devices),
        (3, 1, 1)
    );
}

#[tokio::test]
async fn postgres_unreachable_is_a_typed_backend_error() {
    // Port 1 on loopback: nothing listens; the store fails typed, it does not hang.
    let store = PostgresStore::connect_lazy(
        "postgres://nobody@127.0.0.1:1/none",
        PostgresOptions::default(),
    )
    .unwrap();
    let r = store
        .factor(
            &UserId::new("u").unwrap(),
            &mfa_core::FactorId::new("f").unwrap(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
}

/// `mfa_count_attempt` commits its count asynchronously unless asked to be durable, and
/// only for its own transaction: the setting is local to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_attempt_counts_are_asynchronous_unless_durable() {
    let Some(db) = TestDb::new("postgres_attempt_counts_are_asynchronous_unless_durable").await
    else {
        return;
    };
    let schema = db.schema().await;
    db.store_in(&schema).await;
    let mut client = admin(&db.url).await.unwrap();
    for (durable, expected) in [(false, "off"), (true, "on")] {
        let tx = client.transaction().await.unwrap();
        let row = tx
            .query_one(
                &format!(
                    "SELECT o_verdict FROM {schema}.mfa_count_attempt('u', 'user', 'u', '', \
                     'factor', 'u', 'f', 100, 600, 600, 5, ARRAY[0, 0]::BIGINT[], 900, NULL, \
                     FALSE, $1)"
                ),
                &[&durable],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, i32>(0), 0, "a first attempt proceeds");
        let setting: String = tx
            .query_one("SELECT current_setting('synchronous_commit')", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(setting, expected, "durable = {durable}");
        tx.rollback().await.unwrap();
    }
    let after: String = client
        .query_one("SELECT current_setting('synchronous_commit')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        after, "on",
        "the setting ends with the statement's transaction"
    );
}
