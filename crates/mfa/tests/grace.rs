//! The enrolment grace period: `evaluate` says how much grace is left, `skip_enrollment`
//! counts skips atomically (a race cannot skip more often than allowed), and after the
//! date or the last skip `Enroll` cannot be skipped.

use std::sync::Arc;

use mfa::policy::Decision;
use mfa::policy::input::{Request, Session, Subject};
use mfa::{Error, EventKind};
use mfa_core::store::Store;
use mfa_core::{AuthMethod, Clock, Timestamp, UserId};
use mfa_store::MemoryStore;

use crate::common::{Harness, harness_oob, keys, oob_config};

const NOW: u64 = 1_700_000_000;
const DAY: u64 = 86_400;

fn grace_harness<S: Store>(store: S, settings: &str) -> Harness<S> {
    let policy = format!("version = 1\nmode = \"always\"\n[enrollment]\n{settings}\n");
    let h = harness_oob(store, keys("k1"), oob_config(), &policy);
    h.clock.set(Timestamp::from_unix_secs(NOW));
    h
}

async fn grace_of<S: Store>(h: &Harness<S>, user: &UserId) -> Option<(Option<u64>, Option<u32>)> {
    let now = h.clock.now();
    let d = h
        .service
        .evaluate(
            user,
            &Subject::default(),
            &Session::primary(AuthMethod::Pwd, now),
            &Request::default(),
            None,
        )
        .await
        .unwrap();
    match d {
        Decision::Enroll { grace, .. } => grace.map(|g| (g.days_left(now), g.sign_ins_left)),
        other => panic!("expected enroll, got {other:?}"),
    }
}

#[tokio::test]
async fn skips_count_down_then_enrolment_is_required() {
    let h = grace_harness(
        MemoryStore::new(),
        &format!("grace_until = {}\ngrace_sign_ins = 2", NOW + 10 * DAY),
    );
    let alice = UserId::new("alice").unwrap();
    assert_eq!(grace_of(&h, &alice).await, Some((Some(10), Some(2))));
    let g = h.service.skip_enrollment(&alice).await.unwrap();
    assert_eq!(g.sign_ins_left, Some(1));
    assert_eq!(grace_of(&h, &alice).await, Some((Some(10), Some(1))));
    assert_eq!(
        h.service
            .skip_enrollment(&alice)
            .await
            .unwrap()
            .sign_ins_left,
        Some(0)
    );
    assert_eq!(grace_of(&h, &alice).await, None);
    assert!(matches!(
        h.service.skip_enrollment(&alice).await,
        Err(Error::NoGrace)
    ));
    let skips = h
        .audit
        .events()
        .into_iter()
        .filter(|e| matches!(e.event, EventKind::EnrollmentSkipped { .. }))
        .count();
    assert_eq!(skips, 2);

    // Another user, after the date: no grace whatever the count.
    let bob = UserId::new("bob").unwrap();
    h.clock.set(Timestamp::from_unix_secs(NOW + 10 * DAY));
    assert_eq!(grace_of(&h, &bob).await, None);
    assert!(matches!(
        h.service.skip_enrollment(&bob).await,
        Err(Error::NoGrace)
    ));
}

#[tokio::test]
async fn without_a_grace_period_enrolment_cannot_be_skipped() {
    let h = grace_harness(MemoryStore::new(), "");
    let alice = UserId::new("alice").unwrap();
    assert_eq!(grace_of(&h, &alice).await, None);
    assert!(matches!(
        h.service.skip_enrollment(&alice).await,
        Err(Error::NoGrace)
    ));
}

/// Sixteen concurrent skips against three allowed: exactly three succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_skips_cannot_exceed_the_allowance() {
    let path = std::env::temp_dir().join(format!(
        "mfa-grace-{}-{}.sqlite3",
        std::process::id(),
        std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap()
            .as_nanos()
    ));
    let h = grace_harness(
        mfa_store::SqliteStore::open(&path).await.unwrap(),
        "grace_sign_ins = 3",
    );
    let alice = UserId::new("alice").unwrap();
    let service = Arc::clone(&h.service);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (s, u) = (Arc::clone(&service), alice.clone());
            tokio::spawn(async move { s.skip_enrollment(&u).await.is_ok() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 3);
    assert_eq!(grace_of(&h, &alice).await, None);
}
