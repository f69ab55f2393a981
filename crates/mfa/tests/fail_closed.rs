//! The store is unreachable: the service refuses rather than verifying unchecked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mfa::Error;
use mfa_core::store::StoreError;
use mfa_core::testkit::{Faulty, Hook, Operation};
use mfa_core::{Clock, UserId};
use mfa_store::MemoryStore;

use crate::common::{code, enroll_totp, harness};

/// Whether the memory store's failure counters, or its factor writes, are unreachable.
#[derive(Default)]
pub(crate) struct Flaky {
    counters_down: AtomicBool,
    writes_down: AtomicBool,
}

impl Hook<MemoryStore> for Flaky {
    fn check(&self, op: Operation) -> Result<(), StoreError> {
        let down = match (op.store, op.name) {
            // The counters, and the verification steps that count or clear them.
            ("FailureStore" | "AttemptStore", _) | (_, "begin_verification") => &self.counters_down,
            (_, "update_factor_if_version" | "commit_verification") => &self.writes_down,
            _ => return Ok(()),
        };
        if down.load(Ordering::SeqCst) {
            Err(StoreError::Backend("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

/// A store without a journal (for the builder's refusal of one).
pub(crate) fn flaky_store() -> Faulty<MemoryStore, Flaky> {
    Faulty::new(MemoryStore::new(), Flaky::default())
}

fn backend(e: &Error) -> bool {
    matches!(
        e,
        Error::Core(mfa_core::Error::Store(StoreError::Backend(_)))
    )
}

#[tokio::test]
async fn unreachable_counters_or_writes_refuse_even_the_right_code() {
    let h = harness(Faulty::new(MemoryStore::new(), Flaky::default()));
    let alice = UserId::new("alice").unwrap();
    let e = enroll_totp(&h, &alice).await;
    h.clock.advance(Duration::from_secs(30));
    let now = h.clock.now();
    let right = code(&e, now.unix_secs());

    // Counters down: refused unverified (so the code is still unused afterwards).
    // Factor writes down: the code verifies purely but the compare-and-swap fails, so
    // there is no success (and the code is not consumed).
    let hook = h.service.store().hook();
    for down in [&hook.counters_down, &hook.writes_down] {
        down.store(true, Ordering::SeqCst);
        let err = h
            .verify_code(&alice, &e.factor_id, &right)
            .await
            .unwrap_err();
        assert!(backend(&err), "{err:?}");
        down.store(false, Ordering::SeqCst);
    }

    // Back up: the same code works exactly once.
    h.verify_code(&alice, &e.factor_id, &right).await.unwrap();
    assert!(h.verify_code(&alice, &e.factor_id, &right).await.is_err());
}

impl mfa_core::store::JournalStore for Flaky {}
