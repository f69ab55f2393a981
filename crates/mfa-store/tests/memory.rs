//! The memory backend against the shared conformance suite.

use mfa_core::testkit;
use mfa_store::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_conformance_suite() {
    testkit::conformance(MemoryStore::new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_races_many_times() {
    // Races are probabilistic; repeat them so a lost update has many chances to show.
    for _ in 0..50 {
        testkit::factor_cas_race(std::sync::Arc::new(MemoryStore::new())).await;
        testkit::challenge_take_race(std::sync::Arc::new(MemoryStore::new())).await;
        testkit::failure_count_race(std::sync::Arc::new(MemoryStore::new())).await;
    }
}
