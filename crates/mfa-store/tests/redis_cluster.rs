//! RedisStore on a Redis Cluster (three masters, three replicas; `.ci/redis-cluster.sh`
//! starts one on 127.0.0.1:7000-7005): the conformance suite unchanged, composed with
//! SQLite and with PostgreSQL through `Split`, and the races through two clients.
//!
//! Needs `MFA_TEST_REDIS_CLUSTER_URL` (e.g.
//! `redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002`); without it the
//! tests say they skip, and under `MFA_REQUIRE_EXTERNAL=1` they fail.

use std::sync::{Arc, Mutex};

use mfa_core::testkit;
use mfa_store::{Split, SqliteStore};

use crate::postgres::TestDb;
use crate::redis_hot::{TempDb, TestRedis};
use crate::support::{REDIS_CLUSTER, races_across_instances, unique};

pub(crate) const CLUSTER_VAR: &str = "MFA_TEST_REDIS_CLUSTER_URL";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_plus_redis_cluster_passes_the_conformance_suite() {
    let test = "sqlite_plus_redis_cluster_passes_the_conformance_suite";
    let _shared = REDIS_CLUSTER.read().await;
    let Some(redis) = TestRedis::named_by(CLUSTER_VAR, test).await else {
        return;
    };
    assert!(redis.store().await.is_cluster());
    let files = Mutex::new(Vec::new());
    testkit::conformance(|| {
        let db = TempDb(std::env::temp_dir().join(format!("{}.sqlite3", unique("mfa_cluster"))));
        let durable = SqliteStore::open_blocking(&db.0).unwrap();
        files.lock().unwrap().push(db);
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current()
                .block_on(async { Split::new(durable, redis.store().await) })
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_plus_redis_cluster_passes_the_conformance_suite() {
    let test = "postgres_plus_redis_cluster_passes_the_conformance_suite";
    let _shared = REDIS_CLUSTER.read().await;
    let Some(redis) = TestRedis::named_by(CLUSTER_VAR, test).await else {
        return;
    };
    let Some(db) = TestDb::new(test).await else {
        return;
    };
    testkit::conformance(|| {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current()
                .block_on(async { Split::new(db.store().await, redis.store().await) })
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_races_across_two_clients() {
    let test = "redis_cluster_races_across_two_clients";
    let _shared = REDIS_CLUSTER.read().await;
    let Some(redis) = TestRedis::named_by(CLUSTER_VAR, test).await else {
        return;
    };
    let Some(db) = TestDb::new(test).await else {
        return;
    };
    let prefix = redis.prefix();
    let schema = db.schema().await;
    let a = Arc::new(Split::new(
        db.store_in(&schema).await,
        redis.store_in(&prefix).await,
    ));
    let b = Arc::new(Split::new(
        db.store_in(&schema).await,
        redis.store_in(&prefix).await,
    ));
    races_across_instances(a, b).await;
}
