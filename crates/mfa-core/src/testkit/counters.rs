//! Failure counters, remembered devices, users and generations.

use super::*;
pub(super) async fn count<S: FailureStore>(
    store: &S,
    key: &FailureKey,
    now: u64,
    window: Duration,
) -> Option<u32> {
    store
        .failures(key, Timestamp::from_unix_secs(now), window)
        .await
        .unwrap_or_else(|e| panic!("failures() failed: {e}"))
        .map(|f| f.count)
}

/// Increment, window expiry, clear, independent keys of every kind.
///
/// # Panics
///
/// When the store breaks a promise of [`FailureStore`].
pub async fn failures<S: FailureStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let window = Duration::from_secs(600);
    let dave = user("dave");
    let total = FailureKey::user(&dave);
    let one = FailureKey::factor(&dave, &fid("f1"));
    let number = FailureKey::destination("+15551234567").unwrap_or_else(|e| panic!("{e}"));
    let ip = FailureKey::client_ip("192.0.2.1".parse().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(count(store, &total, 0, window).await, None);
    let f = store.record_failure(&total, t(100), window).await.ok();
    assert_eq!(
        f.map(|f| (f.count, f.first_at, f.last_at)),
        Some((1, t(100), t(100)))
    );
    let f = store.record_failure(&total, t(200), window).await.ok();
    assert_eq!(
        f.map(|f| (f.count, f.first_at, f.last_at)),
        Some((2, t(100), t(200)))
    );
    // Keys are independent, whatever their kind.
    for (i, key) in [&one, &number, &ip].into_iter().enumerate() {
        assert_eq!(count(store, key, 200, window).await, None, "{key:?}");
        for _ in 0..=i {
            store.record_failure(key, t(200), window).await.ok();
        }
    }
    assert_eq!(count(store, &one, 200, window).await, Some(1));
    assert_eq!(count(store, &number, 200, window).await, Some(2));
    assert_eq!(count(store, &ip, 200, window).await, Some(3));
    assert_eq!(count(store, &total, 200, window).await, Some(2));
    // Still inside the window (600 s after the last failure).
    assert_eq!(count(store, &total, 800, window).await, Some(2));
    // Past the window: forgotten, and the next failure starts over.
    assert_eq!(count(store, &total, 801, window).await, None);
    let f = store.record_failure(&total, t(900), window).await.ok();
    assert_eq!(f.map(|f| (f.count, f.first_at)), Some((1, t(900))));
    // Clear.
    assert!(store.clear_failures(&total).await.is_ok());
    assert_eq!(count(store, &total, 901, window).await, None);
    let long = Duration::from_secs(3_600);
    assert_eq!(
        count(store, &one, 901, long).await,
        Some(1),
        "clearing one key leaves others"
    );
}

/// A counter recorded with [`NEVER_LAPSES`] still counts after years without a
/// failure and survives every purge; a windowed counter is purged once it lapsed (and
/// not before); every kind of key counts apart from every other, including a factor id
/// spelled like an internal counter.
///
/// # Panics
///
/// When the store restarts or purges a counter that never lapses, keeps a lapsed one
/// after a purge, purges one still inside its window, or lets two keys share a count.
pub async fn failures_that_never_lapse<S: FailureStore>(store: &S) {
    const DAY: u64 = 86_400;
    let t = Timestamp::from_unix_secs;
    let window = Duration::from_secs(600);
    let kim = user("kim");
    let account = FailureKey::user(&kim);
    for i in 0..3 {
        let f = store
            .record_failure(&account, t(1_000 + i), NEVER_LAPSES)
            .await;
        assert_eq!(
            f.ok().map(|f| f.count),
            Some(u32::try_from(i + 1).unwrap_or(0))
        );
    }
    // Ten years later the count goes on from where it was.
    let later = 1_000 + 3_650 * DAY;
    assert_eq!(count(store, &account, later, NEVER_LAPSES).await, Some(3));
    let f = store
        .record_failure(&account, t(later), NEVER_LAPSES)
        .await
        .ok();
    assert_eq!(f.map(|f| (f.count, f.first_at)), Some((4, t(1_000))));

    // Every kind of key, each with a distinct count.
    let id = |s: &str| fid(s);
    let keys = [
        FailureKey::factor(&kim, &id("f1")),
        FailureKey::factor(&kim, &id("(oob-sends)")),
        FailureKey::limit(&kim, UserLimit::CodesSent),
        FailureKey::limit(&kim, UserLimit::PushesPending),
        FailureKey::limit(&kim, UserLimit::PushesSinceSuccess),
        FailureKey::factor_sends(&kim, &id("f1")),
        FailureKey::destination("+15551230000").unwrap_or_else(|e| panic!("{e}")),
        FailureKey::DestinationSends(
            DestinationKey::new("+15551230000").unwrap_or_else(|e| panic!("{e}")),
        ),
        FailureKey::client_ip("192.0.2.9".parse().unwrap_or_else(|e| panic!("{e}"))),
        FailureKey::credential(b"cred-1", None).unwrap_or_else(|e| panic!("{e}")),
        FailureKey::credential(b"cred-1", "192.0.2.9".parse().ok())
            .unwrap_or_else(|e| panic!("{e}")),
    ];
    let base = later + 10;
    for (i, key) in keys.iter().enumerate() {
        for _ in 0..=i {
            let r = store.record_failure(key, t(base), window).await;
            assert!(r.is_ok(), "{key:?}: {r:?}");
        }
    }
    for (i, key) in keys.iter().enumerate() {
        let expected = u32::try_from(i + 1).ok();
        assert_eq!(count(store, key, base, window).await, expected, "{key:?}");
    }
    assert_eq!(count(store, &account, base, NEVER_LAPSES).await, Some(4));

    // Nothing has lapsed yet: a purge removes nothing that counts.
    let purged = store.purge_failures(t(base + 600)).await;
    assert!(purged.is_ok(), "{purged:?}");
    for key in &keys {
        assert!(
            count(store, key, base, window).await.is_some(),
            "purged early: {key:?}"
        );
    }
    // Past the window, the windowed counters go; the account's stays.
    let purged = store
        .purge_failures(t(base + 601))
        .await
        .unwrap_or_else(|e| panic!("purge_failures failed: {e}"));
    assert_eq!(
        purged,
        keys.len(),
        "a purge removes exactly the lapsed counters"
    );
    for key in &keys {
        // Read with an endless window, so only a purge can make it `None`.
        assert_eq!(
            count(store, key, base, NEVER_LAPSES).await,
            None,
            "kept after purge: {key:?}"
        );
    }
    let purged = store.purge_failures(t(base + 100 * 3_650 * DAY)).await;
    assert!(purged.is_ok(), "{purged:?}");
    assert_eq!(
        count(store, &account, base, NEVER_LAPSES).await,
        Some(4),
        "a counter that never lapses survives every purge"
    );
    assert!(store.clear_failures(&account).await.is_ok());
    assert_eq!(count(store, &account, base, NEVER_LAPSES).await, None);
}

/// Many tasks record a failure at once: the count rises by exactly that many.
///
/// # Panics
///
/// When increments are lost.
pub async fn failure_count_race<S: FailureStore + 'static>(store: Arc<S>) {
    let key = FailureKey::destination("+15550000000").unwrap_or_else(|e| panic!("{e}"));
    let window = Duration::from_secs(3600);
    let results = race(RACERS, |_| {
        let store = Arc::clone(&store);
        let key = key.clone();
        async move {
            store
                .record_failure(&key, Timestamp::from_unix_secs(10), window)
                .await
        }
    })
    .await;
    let mut counts = Vec::new();
    for r in results {
        match r {
            Ok(f) => counts.push(f.count),
            Err(e) => panic!("record_failure failed: {e}"),
        }
    }
    counts.sort_unstable();
    let expected: Vec<u32> = (1..=32).collect();
    assert_eq!(
        counts, expected,
        "each racing increment must see a distinct count"
    );
    assert_eq!(count(&*store, &key, 10, window).await, Some(32));
}

pub(super) fn device(
    user_id: &str,
    id: &str,
    generation: u64,
    created: u64,
    expires: u64,
) -> RememberedDevice {
    RememberedDevice::new(
        user(user_id),
        id,
        Generation::new(generation),
        Timestamp::from_unix_secs(created),
        Timestamp::from_unix_secs(expires),
    )
    .unwrap_or_else(|e| panic!("test device: {e}"))
    .with_label(format!("{id} browser"))
}

/// Remember, look up, expiry, list, replace, forget, and the generation guard.
///
/// # Panics
///
/// When the store breaks a promise of [`DeviceStore`].
pub async fn devices<S: DeviceStore + UserStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let frank = user("frank");
    let d1 = device("frank", "d1", 0, 200, 1_000);
    let d2 = device("frank", "d2", 0, 100, 2_000);
    assert!(store.remember_device(d1.clone()).await.is_ok());
    assert!(store.remember_device(d2.clone()).await.is_ok());
    assert!(
        store
            .remember_device(device("gina", "d1", 0, 1, 5_000))
            .await
            .is_ok()
    );
    let get = async |u: &UserId, id: &str, now: u64| {
        store
            .remembered_device(u, id, t(now))
            .await
            .unwrap_or_else(|e| panic!("remembered_device failed: {e}"))
    };
    assert_eq!(get(&frank, "d1", 1_000).await, Some(d1.clone()));
    assert_eq!(get(&frank, "d1", 1_001).await, None, "expired");
    assert_eq!(get(&frank, "nope", 0).await, None);
    let listed = store.list_devices(&frank, t(500)).await.unwrap_or_default();
    assert_eq!(listed, [d2.clone(), d1.clone()], "oldest first");
    let listed = store
        .list_devices(&frank, t(1_500))
        .await
        .unwrap_or_default();
    assert_eq!(
        listed,
        std::slice::from_ref(&d2),
        "expired devices are not listed"
    );

    // Remembering again replaces (extends) the entry.
    let d1_again = device("frank", "d1", 0, 1_100, 3_000);
    assert!(store.remember_device(d1_again.clone()).await.is_ok());
    assert_eq!(get(&frank, "d1", 2_500).await, Some(d1_again));

    assert!(matches!(store.forget_device(&frank, "d2").await, Ok(true)));
    assert!(matches!(store.forget_device(&frank, "d2").await, Ok(false)));

    // The generation guard.
    let ahead = store
        .remember_device(device("frank", "d3", 1, 300, 4_000))
        .await;
    assert!(
        matches!(ahead, Err(StoreError::Conflict)),
        "a device from a generation the user is not at is refused: {ahead:?}"
    );
    let g1 = store
        .bump_generation(&frank)
        .await
        .unwrap_or_else(|e| panic!("bump_generation failed: {e}"));
    let stale = store
        .remember_device(device("frank", "d4", 0, 300, 4_000))
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict)),
        "a device from the old generation is refused after a bump: {stale:?}"
    );
    assert_eq!(
        get(&frank, "d4", 300).await,
        None,
        "a refused device is not stored"
    );
    assert!(
        store
            .remember_device(device("frank", "d5", g1.get(), 300, 4_000))
            .await
            .is_ok()
    );
    let listed: Vec<_> = store
        .list_devices(&frank, t(400))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| (d.device_id, d.generation.get()))
        .collect();
    assert_eq!(
        listed,
        [("d5".to_owned(), 1), ("d1".to_owned(), 0)],
        "devices are listed with their generation, old ones included"
    );
    // Another user's device with the same id is untouched.
    assert!(get(&user("gina"), "d1", 10).await.is_some());
}

/// The user's generation: initial for an unseen user, bumped by one, per user.
///
/// # Panics
///
/// When the store breaks a promise of [`UserStore`] about generations.
pub async fn users<S: UserStore>(store: &S) {
    let hal = user("hal");
    let state = store
        .user_state(&hal)
        .await
        .unwrap_or_else(|e| panic!("user_state failed: {e}"));
    assert_eq!(state.generation, Generation::INITIAL);
    assert_eq!(state.user, hal);
    assert_eq!(
        store.bump_generation(&hal).await.ok(),
        Some(Generation::new(1))
    );
    assert_eq!(
        store.bump_generation(&hal).await.ok(),
        Some(Generation::new(2))
    );
    let state = store.user_state(&hal).await.ok().map(|s| s.generation);
    assert_eq!(state, Some(Generation::new(2)));
    let other = store
        .user_state(&user("ivy"))
        .await
        .ok()
        .map(|s| s.generation);
    assert_eq!(other, Some(Generation::INITIAL), "generations are per user");
}

/// Many tasks bump one user's generation: it rises by exactly that many.
///
/// # Panics
///
/// When bumps are lost.
pub async fn generation_bump_race<S: UserStore + 'static>(store: Arc<S>) {
    let results = race(RACERS, |_| {
        let store = Arc::clone(&store);
        async move { store.bump_generation(&user("jo")).await }
    })
    .await;
    let mut seen: Vec<u64> = results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|e| panic!("bump_generation failed: {e}"))
                .get()
        })
        .collect();
    seen.sort_unstable();
    let expected: Vec<u64> = (1..=32).collect();
    assert_eq!(
        seen, expected,
        "each racing bump must see a distinct generation"
    );
}
