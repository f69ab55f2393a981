//! Challenges: single use, owners, multi-step updates, and their races.

use super::*;
pub(super) fn challenge(
    id: &ChallengeId,
    owner: ChallengeOwner,
    expires_at: u64,
) -> PendingChallenge {
    PendingChallenge::new(
        id.clone(),
        owner,
        RecordData::plain(b"state".to_vec()),
        Timestamp::from_unix_secs(expires_at),
    )
    .with_factor(fid("f1"))
}

pub(super) fn challenge_id(seed: u64) -> ChallengeId {
    ChallengeId::generate(&mut SeededRandom::new(seed))
        .unwrap_or_else(|e| panic!("seeded random cannot fail: {e}"))
}

pub(super) async fn put<S: ChallengeStore>(store: &S, c: PendingChallenge) -> Version {
    store
        .put_challenge(c)
        .await
        .unwrap_or_else(|e| panic!("put_challenge failed: {e}"))
}

pub(super) async fn peek<S: ChallengeStore>(
    store: &S,
    id: &ChallengeId,
    owner: &ChallengeOwner,
    now: u64,
) -> Option<(PendingChallenge, Version)> {
    match store
        .challenge(id, owner, Timestamp::from_unix_secs(now))
        .await
    {
        Ok(c) => c.map(|c| (c.value, c.version)),
        Err(e) => panic!("challenge() failed: {e}"),
    }
}

pub(super) async fn take<S: ChallengeStore>(
    store: &S,
    id: &ChallengeId,
    owner: &ChallengeOwner,
    now: u64,
) -> Option<PendingChallenge> {
    store
        .take_challenge(id, owner, Timestamp::from_unix_secs(now))
        .await
        .unwrap_or_else(|e| panic!("take_challenge failed: {e}"))
}

/// Put, take once, expiry at the boundary, duplicate ids, purge.
///
/// # Panics
///
/// When the store breaks a promise of [`ChallengeStore`].
pub async fn challenges<S: ChallengeStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let carol = owner("carol");
    let c1 = challenge(&challenge_id(1), carol.clone(), 1_000);
    put(store, c1.clone()).await;
    let dup = store
        .put_challenge(challenge(&c1.id, carol.clone(), 5_000))
        .await;
    assert!(
        matches!(dup, Err(StoreError::AlreadyExists)),
        "duplicate put: {dup:?}"
    );
    // Taking at exactly expires_at still works; the duplicate did not overwrite.
    assert_eq!(take(store, &c1.id, &carol, 1_000).await, Some(c1.clone()));
    assert_eq!(
        take(store, &c1.id, &carol, 900).await,
        None,
        "a challenge is taken once"
    );

    // Expired: not returned, and gone for good (even if the clock goes back).
    let c2 = challenge(&challenge_id(2), carol.clone(), 1_000);
    put(store, c2.clone()).await;
    assert_eq!(
        peek(store, &c2.id, &carol, 1_001).await,
        None,
        "expired: not read"
    );
    assert_eq!(take(store, &c2.id, &carol, 1_001).await, None);
    assert_eq!(
        take(store, &c2.id, &carol, 999).await,
        None,
        "expired take removes"
    );

    // Purge removes only the expired ones.
    let live = challenge(&challenge_id(3), carol.clone(), 2_000);
    put(store, challenge(&challenge_id(4), carol.clone(), 1_000)).await;
    put(
        store,
        challenge(&challenge_id(5), ChallengeOwner::Usernameless, 1_500),
    )
    .await;
    put(store, live.clone()).await;
    assert_eq!(store.purge_expired_challenges(t(1_600)).await.ok(), Some(2));
    assert_eq!(take(store, &live.id, &carol, 1_600).await, Some(live));
}

/// Every read, update and take names the owner, which must match exactly; a mismatch
/// changes nothing.
///
/// # Panics
///
/// When one user's challenge can be read, updated or taken by another, or a
/// usernameless challenge by naming a user (or the other way round).
pub async fn challenge_owners<S: ChallengeStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let alice = owner("alice");
    let bob = owner("bob");
    let nobody = ChallengeOwner::Usernameless;
    let c = challenge(&challenge_id(10), alice.clone(), 1_000);
    let v = put(store, c.clone()).await;
    for other in [&bob, &nobody] {
        assert_eq!(
            peek(store, &c.id, other, 10).await,
            None,
            "read as {other:?}"
        );
        assert_eq!(
            take(store, &c.id, other, 10).await,
            None,
            "take as {other:?}"
        );
        let mut forged = c.clone();
        forged.owner = other.clone();
        let r = store.update_challenge_if_version(forged, v, t(10)).await;
        assert!(
            matches!(r, Err(StoreError::NotFound)),
            "update as {other:?}: {r:?}"
        );
    }
    assert_eq!(
        peek(store, &c.id, &alice, 10).await,
        Some((c.clone(), v)),
        "a mismatched owner changes nothing"
    );
    assert_eq!(take(store, &c.id, &alice, 10).await, Some(c));

    let u = PendingChallenge::new(
        challenge_id(11),
        nobody.clone(),
        RecordData::plain(b"passkey".to_vec()),
        t(1_000),
    );
    put(store, u.clone()).await;
    assert_eq!(
        take(store, &u.id, &alice, 10).await,
        None,
        "usernameless is not Alice's"
    );
    assert_eq!(take(store, &u.id, &nobody, 10).await, Some(u));
}

/// Reading without consuming, versioned updates, and take as the final consumption.
///
/// # Panics
///
/// When the store breaks a promise of [`ChallengeStore`] about updates.
pub async fn challenge_updates<S: ChallengeStore>(store: &S) {
    let t = Timestamp::from_unix_secs;
    let alice = owner("alice");
    let c = challenge(&challenge_id(20), alice.clone(), 1_000);
    let v1 = put(store, c.clone()).await;
    assert_eq!(peek(store, &c.id, &alice, 10).await, Some((c.clone(), v1)));
    assert_eq!(
        peek(store, &c.id, &alice, 10).await,
        Some((c.clone(), v1)),
        "reading does not consume"
    );
    let mut step = c.clone();
    step.data = RecordData::plain(b"attempts_left=2".to_vec());
    let v2 = store
        .update_challenge_if_version(step.clone(), v1, t(10))
        .await
        .unwrap_or_else(|e| panic!("update on the current version must succeed: {e}"));
    assert!(v2 > v1);
    assert_eq!(
        peek(store, &c.id, &alice, 10).await,
        Some((step.clone(), v2))
    );
    let r = store
        .update_challenge_if_version(c.clone(), v1, t(10))
        .await;
    assert!(
        matches!(r, Err(StoreError::Conflict)),
        "stale update: {r:?}"
    );
    let mut other_factor = step.clone();
    other_factor.factor = Some(fid("f2"));
    let r = store
        .update_challenge_if_version(other_factor, v2, t(10))
        .await;
    assert!(
        matches!(r, Err(StoreError::NotFound)),
        "an update may not change the factor: {r:?}"
    );
    let r = store
        .update_challenge_if_version(step.clone(), v2, t(1_001))
        .await;
    assert!(
        matches!(r, Err(StoreError::NotFound)),
        "an expired challenge cannot be updated: {r:?}"
    );
    let missing = challenge(&challenge_id(21), alice.clone(), 1_000);
    let r = store
        .update_challenge_if_version(missing.clone(), v1, t(10))
        .await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    assert_eq!(
        peek(store, &missing.id, &alice, 10).await,
        None,
        "update must not insert"
    );

    // Take returns the latest state; after it, the challenge cannot be brought back.
    assert_eq!(take(store, &c.id, &alice, 10).await, Some(step.clone()));
    let r = store.update_challenge_if_version(step, v2, t(10)).await;
    assert!(
        matches!(r, Err(StoreError::NotFound)),
        "a taken challenge cannot be updated: {r:?}"
    );
    assert_eq!(peek(store, &c.id, &alice, 10).await, None);
}

/// Many tasks race to take one challenge: exactly one gets it.
///
/// # Panics
///
/// When zero or several tasks get the challenge.
pub async fn challenge_take_race<S: ChallengeStore + 'static>(store: Arc<S>) {
    let id = challenge_id(42);
    put(&*store, challenge(&id, owner("carol"), 10_000)).await;
    let results = race(RACERS, |_| {
        let store = Arc::clone(&store);
        let id = id.clone();
        async move {
            store
                .take_challenge(&id, &owner("carol"), Timestamp::from_unix_secs(5))
                .await
        }
    })
    .await;
    let mut got = 0;
    for r in results {
        match r {
            Ok(Some(_)) => got += 1,
            Ok(None) => {}
            Err(e) => panic!("take_challenge failed: {e}"),
        }
    }
    assert_eq!(
        got, 1,
        "exactly one of {RACERS} racing takes must get the challenge"
    );
}

/// Many tasks race to update one challenge version: exactly one wins, and its state is
/// what is taken.
///
/// # Panics
///
/// When zero or several updates succeed, or a loser is not told `Conflict`.
pub async fn challenge_update_race<S: ChallengeStore + 'static>(store: Arc<S>) {
    let alice = owner("alice");
    let c = challenge(&challenge_id(43), alice.clone(), 10_000);
    let v = put(&*store, c.clone()).await;
    let results = race(RACERS, |i| {
        let store = Arc::clone(&store);
        let mut next = c.clone();
        next.data = RecordData::plain(format!("decision {i}").into_bytes());
        async move {
            store
                .update_challenge_if_version(next, v, Timestamp::from_unix_secs(5))
                .await
        }
    })
    .await;
    let mut winners = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(_) => winners.push(i),
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("a losing update_challenge must be Conflict, got {e:?}"),
        }
    }
    let [winner] = winners[..] else {
        panic!(
            "exactly one of {RACERS} racing update_challenge calls must win, {} did",
            winners.len()
        );
    };
    let taken = take(&*store, &c.id, &alice, 5).await;
    assert_eq!(
        taken.map(|c| c.data.expose_bytes().to_vec()),
        Some(format!("decision {winner}").into_bytes()),
        "the winner's state is what is taken"
    );
}
