//! The journal (`JournalStore`): a change and its entries commit together or not at all,
//! the chain links entry to entry, and the outbox keeps every message until delivered.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a conformance suite reports broken promises by panicking, as a test does"
)]

use std::borrow::ToOwned;
use std::boxed::Box;
use std::format;
use std::sync::Arc;
use std::vec::Vec;

use super::{factor_record, race};
use crate::clock::Timestamp;
use crate::store::{
    AuditEntry, Change, Committed, Journal, NewAuditEntry, OutboxMessage, Store, StoreError,
    Version,
};

/// Every journal check, each on a fresh store from `new_store` (for backends whose
/// [`keeps_journal`](crate::store::JournalStore::keeps_journal) is `true`).
///
/// # Panics
///
/// On the first broken promise.
pub async fn journal_conformance<S, F>(new_store: F)
where
    S: Store + 'static,
    F: Fn() -> S,
{
    journal(&new_store()).await;
    journal_append_race(Arc::new(new_store())).await;
}

/// Checks that each entry links to the one before (`prev_hash`) and that `seq` counts
/// 1, 2, 3, … (the hashes themselves are `mfa_store::journal`'s to recompute).
fn assert_linked(entries: &[AuditEntry]) {
    let mut prev: Option<&AuditEntry> = None;
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(
            e.seq,
            (i as u64) + 1,
            "audit seq has a gap or repeats: {entries:?}"
        );
        if let Some(p) = prev {
            assert_eq!(
                e.prev_hash, p.hash,
                "entry {} does not link to {}",
                e.seq, p.seq
            );
        }
        assert_ne!(
            e.hash, e.prev_hash,
            "entry {} has no hash of its own",
            e.seq
        );
        prev = Some(e);
    }
}

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

/// A change and its entries commit together; a refused change appends nothing; the
/// outbox hands out due messages in order, retries later and delivers once.
pub async fn journal<S: Store>(store: &S) {
    assert!(store.keeps_journal());
    let alice = super::user("alice");
    let f1 = super::fid("f1");
    let v1 = store
        .insert_factor(factor_record("alice", "f1", 1, b"one"))
        .await
        .unwrap();

    // A failed change appends nothing: a stale compare-and-swap.
    let stale = store
        .commit_journaled(
            Change::UpdateFactor {
                record: factor_record("alice", "f1", 1, b"two"),
                expected: Version::new(v1.get() + 1000),
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
    assert_linked(&entries);
    assert_eq!(
        store
            .audit_entries(3, 1)
            .await
            .unwrap()
            .first()
            .map(|e| e.seq),
        Some(4)
    );

    // The outbox: due in order, retried later, delivered once.
    let now = Timestamp::from_unix_secs(200);
    let due = store.outbox_due(now, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["jti-1", "jti-2"]
    );
    assert_eq!(
        due.first().map(|m| m.payload.as_str()),
        Some("payload-jti-1")
    );
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
    assert_eq!(
        later
            .iter()
            .map(|m| (m.id.as_str(), m.attempts))
            .collect::<Vec<_>>(),
        [("jti-1", 1)]
    );
}

/// Concurrent appends never fork the chain.
pub async fn journal_append_race<S: Store + 'static>(store: Arc<S>) {
    let results = race(16, |i| {
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
    assert_linked(&entries);
    assert!(entries.len() >= 16);
}
