//! Factor records: CRUD, versions that never restart, lookup keys, and their races.

use super::*;
/// Insert, read, list, compare-and-swap, remove.
///
/// # Panics
///
/// When the store breaks a promise of [`FactorStore`].
pub async fn factor_crud<S: FactorStore>(store: &S) {
    let alice = user("alice");
    let a1 = factor_record("alice", "a1", 200, b"one");
    let a2 = factor_record("alice", "a2", 100, b"two");
    let b1 = factor_record("bob", "a1", 50, b"bob's");

    let v1 = insert(store, a1.clone()).await;
    insert(store, a2.clone()).await;
    // The same factor id under another user is a different factor.
    insert(store, b1.clone()).await;
    let dup = store
        .insert_factor(factor_record("alice", "a1", 1, b"dup"))
        .await;
    assert!(
        matches!(dup, Err(StoreError::AlreadyExists)),
        "duplicate insert must fail with AlreadyExists: {dup:?}"
    );
    assert_eq!(
        read(store, "alice", "a1").await,
        Some((a1.clone(), v1)),
        "a duplicate insert must not overwrite, and a read returns the inserted version"
    );
    assert!(read(store, "alice", "zz").await.is_none());

    // Oldest first.
    let list = store.list_factors(&alice).await.unwrap_or_default();
    let ids: Vec<_> = list.iter().map(|v| v.value.id.as_str()).collect();
    assert_eq!(ids, ["a2", "a1"], "list_factors must sort oldest first");
    assert!(
        store
            .list_factors(&user("nobody"))
            .await
            .is_ok_and(|l| l.is_empty())
    );

    // Compare-and-swap.
    let mut updated = a1.clone();
    updated.data = RecordData::plain(b"one, updated".to_vec());
    updated.last_used_at = Some(Timestamp::from_unix_secs(300));
    let v2 = store
        .update_factor_if_version(updated.clone(), v1)
        .await
        .unwrap_or_else(|e| panic!("CAS on the current version must succeed: {e}"));
    assert!(v2 > v1, "a successful CAS returns a greater version");
    let mut stale = a1.clone();
    stale.data = RecordData::plain(b"stale".to_vec());
    let lost = store.update_factor_if_version(stale, v1).await;
    assert!(
        matches!(lost, Err(StoreError::Conflict)),
        "stale CAS: {lost:?}"
    );
    assert_eq!(read(store, "alice", "a1").await, Some((updated, v2)));
    let missing = store
        .update_factor_if_version(factor_record("alice", "zz", 1, b""), v1)
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound)),
        "CAS on missing: {missing:?}"
    );
    assert!(
        read(store, "alice", "zz").await.is_none(),
        "CAS must not insert"
    );

    // Remove.
    assert!(matches!(
        store.remove_factor(&alice, &fid("a2")).await,
        Ok(true)
    ));
    assert!(matches!(
        store.remove_factor(&alice, &fid("a2")).await,
        Ok(false)
    ));
    // Bob is untouched.
    assert_eq!(read(store, "bob", "a1").await.map(|r| r.0), Some(b1));
}

/// Versions grow over a factor id's whole history: a removed (or reset) and
/// re-enrolled id never restarts, so a stale compare-and-swap cannot land on the new
/// enrollment.
///
/// # Panics
///
/// When a re-enrolled id gets a version it had before, or a stale CAS succeeds.
pub async fn factor_versions_never_restart<S: FactorStore + UserStore>(store: &S) {
    let alice = user("alice");
    let v1 = insert(store, factor_record("alice", "f", 1, b"first")).await;
    let v2 = store
        .update_factor_if_version(factor_record("alice", "f", 1, b"first, used"), v1)
        .await
        .unwrap_or_else(|e| panic!("CAS failed: {e}"));
    assert!(matches!(
        store.remove_factor(&alice, &fid("f")).await,
        Ok(true)
    ));
    let v3 = insert(store, factor_record("alice", "f", 2, b"second")).await;
    assert!(
        v3 > v2 && v3 > v1,
        "a re-enrolled id must get a version above every earlier one: {v1:?} {v2:?} then {v3:?}"
    );
    for stale in [v1, v2] {
        let r = store
            .update_factor_if_version(factor_record("alice", "f", 1, b"stale"), stale)
            .await;
        assert!(
            matches!(r, Err(StoreError::Conflict)),
            "a CAS from the removed enrollment ({stale:?}) must lose: {r:?}"
        );
    }
    let now = read(store, "alice", "f").await;
    assert_eq!(now.as_ref().map(|r| data_of(&r.0)), Some(&b"second"[..]));

    // The same after a reset.
    store
        .reset_user(&alice)
        .await
        .unwrap_or_else(|e| panic!("reset_user failed: {e}"));
    let v4 = insert(store, factor_record("alice", "f", 3, b"third")).await;
    assert!(v4 > v3, "versions must not restart after reset_user");
    let r = store
        .update_factor_if_version(factor_record("alice", "f", 1, b"stale"), v3)
        .await;
    assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
}

/// Lookup keys: unique in their scope on insert and update, found by the index, freed
/// on removal.
///
/// # Panics
///
/// When the store breaks a lookup-key promise of [`FactorStore`].
pub async fn lookup_keys<S: FactorStore>(store: &S) {
    let alice = user("alice");
    let bob = user("bob");
    let cred = credential(b"credential-1");
    let found = async |key: &LookupKey, u: Option<&UserId>| match store
        .factor_by_lookup_key(key, u)
        .await
    {
        Ok(v) => v.map(|v| {
            (
                v.value.user.as_str().to_owned(),
                v.value.id.as_str().to_owned(),
            )
        }),
        Err(e) => panic!("factor_by_lookup_key failed: {e}"),
    };
    let pair = |u: &str, f: &str| Some((u.to_owned(), f.to_owned()));

    // Global: one holder across all users.
    insert(
        store,
        factor_record("alice", "k1", 1, b"").with_lookup_key(cred.clone()),
    )
    .await;
    for (u, f) in [("bob", "k1"), ("alice", "k2")] {
        let r = store
            .insert_factor(factor_record(u, f, 2, b"").with_lookup_key(cred.clone()))
            .await;
        assert!(
            matches!(r, Err(StoreError::LookupKeyTaken)),
            "a second holder of a global key ({u}/{f}) must be refused: {r:?}"
        );
        assert!(
            read(store, u, f).await.is_none(),
            "a refused insert writes nothing"
        );
    }
    assert_eq!(
        found(&cred, None).await,
        pair("alice", "k1"),
        "usernameless lookup"
    );
    assert_eq!(found(&cred, Some(&alice)).await, pair("alice", "k1"));
    assert_eq!(
        found(&cred, Some(&bob)).await,
        None,
        "another user's key is not found"
    );
    assert_eq!(found(&credential(b"unknown"), None).await, None);

    // Per user: one holder per user.
    let ph = phone("+15551234567");
    insert(
        store,
        factor_record("alice", "p1", 3, b"").with_lookup_key(ph.clone()),
    )
    .await;
    let r = store
        .insert_factor(factor_record("alice", "p2", 4, b"").with_lookup_key(ph.clone()))
        .await;
    assert!(
        matches!(r, Err(StoreError::LookupKeyTaken)),
        "one user cannot hold a per-user key twice: {r:?}"
    );
    insert(
        store,
        factor_record("bob", "p1", 5, b"").with_lookup_key(ph.clone()),
    )
    .await;
    assert_eq!(found(&ph, Some(&alice)).await, pair("alice", "p1"));
    assert_eq!(found(&ph, Some(&bob)).await, pair("bob", "p1"));
    assert_eq!(
        found(&ph, None).await,
        None,
        "a per-user key needs its user"
    );
    // The scope is part of the key: the same namespace and value, globally, is another key.
    let global_phone = LookupKey::new(LookupScope::Global, LookupKey::PHONE, ph.value().to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    insert(
        store,
        factor_record("carol", "g1", 6, b"").with_lookup_key(global_phone.clone()),
    )
    .await;
    assert_eq!(found(&global_phone, None).await, pair("carol", "g1"));

    // Updates: a taken key is refused, a new one moves the index.
    let (k1, v) = read(store, "alice", "k1")
        .await
        .unwrap_or_else(|| panic!("k1 must exist"));
    let r = store
        .update_factor_if_version(k1.clone().with_lookup_key(global_phone.clone()), v)
        .await;
    assert!(
        matches!(r, Err(StoreError::LookupKeyTaken)),
        "an update to a taken key must be refused: {r:?}"
    );
    assert_eq!(
        read(store, "alice", "k1").await,
        Some((k1.clone(), v)),
        "a refused update writes nothing"
    );
    let cred2 = credential(b"credential-2");
    store
        .update_factor_if_version(k1.with_lookup_key(cred2.clone()), v)
        .await
        .unwrap_or_else(|e| panic!("an update to a free key must succeed: {e}"));
    assert_eq!(found(&cred, None).await, None, "the old key is freed");
    assert_eq!(found(&cred2, None).await, pair("alice", "k1"));

    // Removal frees the key.
    insert(
        store,
        factor_record("bob", "k1", 7, b"").with_lookup_key(cred.clone()),
    )
    .await;
    assert!(matches!(
        store.remove_factor(&alice, &fid("k1")).await,
        Ok(true)
    ));
    assert_eq!(found(&cred2, None).await, None, "removal frees the key");
    insert(
        store,
        factor_record("dave", "k1", 8, b"").with_lookup_key(cred2),
    )
    .await;
}

/// Many tasks race to compare-and-swap the same version: exactly one wins.
///
/// # Panics
///
/// When zero or several updates succeed, or a loser is not told `Conflict`.
pub async fn factor_cas_race<S: FactorStore + 'static>(store: Arc<S>) {
    let v1 = insert(&*store, factor_record("racer", "f", 1, b"v1")).await;
    let results = race(RACERS, |i| {
        let store = Arc::clone(&store);
        async move {
            let rec = factor_record("racer", "f", 1, format!("winner {i}").as_bytes());
            store.update_factor_if_version(rec, v1).await
        }
    })
    .await;
    let mut winners = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(v) => winners.push((i, v)),
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("a losing CAS must be Conflict, got {e:?}"),
        }
    }
    let [(winner, version)] = winners[..] else {
        panic!(
            "exactly one of {RACERS} racing CAS updates must win, {} did",
            winners.len()
        );
    };
    let (rec, v) = read(&*store, "racer", "f")
        .await
        .unwrap_or_else(|| panic!("raced record must exist"));
    assert_eq!(v, version);
    assert_eq!(data_of(&rec), format!("winner {winner}").as_bytes());
}

/// Many tasks race to insert factors holding one lookup key: exactly one wins, for a
/// global key across users and for a per-user key within one user.
///
/// # Panics
///
/// When zero or several inserts succeed, or a loser is not told `LookupKeyTaken`.
pub async fn lookup_key_race<S: FactorStore + 'static>(store: Arc<S>) {
    for per_user in [false, true] {
        let key = if per_user {
            phone("+4915112345678")
        } else {
            credential(b"raced credential")
        };
        let results = race(RACERS, |i| {
            let store = Arc::clone(&store);
            let key = key.clone();
            async move {
                let u = if per_user {
                    "racer".to_owned()
                } else {
                    format!("racer-{i}")
                };
                let id = format!("f{i}-{per_user}");
                let rec = factor_record(&u, &id, 1, b"").with_lookup_key(key);
                store.insert_factor(rec).await.map(|_| (u, id))
            }
        })
        .await;
        let mut winners = Vec::new();
        for r in results {
            match r {
                Ok(w) => winners.push(w),
                Err(StoreError::LookupKeyTaken) => {}
                Err(e) => panic!("a losing insert must be LookupKeyTaken, got {e:?}"),
            }
        }
        let [(u, id)] = &winners[..] else {
            panic!(
                "exactly one of {RACERS} inserts with one lookup key must win, {} did \
                 (per user: {per_user})",
                winners.len()
            );
        };
        let holder = store
            .factor_by_lookup_key(&key, Some(&user(u)))
            .await
            .ok()
            .flatten()
            .map(|v| v.value.id);
        assert_eq!(holder, Some(fid(id)), "the index names the winner");
    }
}
