//! The memory backend against the shared conformance suite.

use std::sync::Arc;

use mfa_core::testkit;
use mfa_store::{AnyStore, MemoryStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_conformance_suite() {
    testkit::conformance(MemoryStore::new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn any_store_passes_the_conformance_suite() {
    testkit::conformance(AnyStore::memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_races_many_times() {
    // Races are probabilistic; repeat them so a lost update has many chances to show.
    for _ in 0..20 {
        testkit::factor_cas_race(Arc::new(MemoryStore::new())).await;
        testkit::lookup_key_race(Arc::new(MemoryStore::new())).await;
        testkit::challenge_take_race(Arc::new(MemoryStore::new())).await;
        testkit::challenge_update_race(Arc::new(MemoryStore::new())).await;
        testkit::failure_count_race(Arc::new(MemoryStore::new())).await;
        testkit::generation_bump_race(Arc::new(MemoryStore::new())).await;
        testkit::reset_race(Arc::new(MemoryStore::new())).await;
    }
}
