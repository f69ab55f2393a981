//! RedisStore on a Redis Cluster (three masters, three replicas; `.ci/redis-cluster.sh`
//! starts one on 127.0.0.1:7000-7005): the conformance suite unchanged, composed with
//! SQLite and with PostgreSQL through `Split`, and the races through two clients.
//!
//! Needs `MFA_TEST_REDIS_CLUSTER_URL` (e.g.
//! `redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002`); without it the
//! tests say they skip, and under `MFA_REQUIRE_EXTERNAL=1` they fail.

use crate::redis_hot::{
    TestRedis, attempts_on_redis_alone, postgres_plus, races_through_two_clients, sqlite_plus,
};
use crate::support::REDIS_CLUSTER;

pub(crate) const CLUSTER_VAR: &str = "MFA_TEST_REDIS_CLUSTER_URL";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_plus_redis_cluster_passes_the_conformance_suite() {
    let test = "sqlite_plus_redis_cluster_passes_the_conformance_suite";
    let _shared = REDIS_CLUSTER.read().await;
    if let Some(redis) = TestRedis::named_by(CLUSTER_VAR, test).await {
        assert!(
            redis.store().await.is_cluster(),
            "{} is a cluster",
            redis.url
        );
    }
    sqlite_plus(CLUSTER_VAR, test).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_plus_redis_cluster_passes_the_conformance_suite() {
    let _shared = REDIS_CLUSTER.read().await;
    postgres_plus(
        CLUSTER_VAR,
        "postgres_plus_redis_cluster_passes_the_conformance_suite",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_races_across_two_clients() {
    let _shared = REDIS_CLUSTER.read().await;
    races_through_two_clients(CLUSTER_VAR, "redis_cluster_races_across_two_clients").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_counts_attempts_in_one_script() {
    let _shared = REDIS_CLUSTER.read().await;
    attempts_on_redis_alone(CLUSTER_VAR, "redis_cluster_counts_attempts_in_one_script").await;
}
