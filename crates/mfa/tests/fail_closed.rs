//! The store is unreachable: the service refuses rather than verifying unchecked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mfa::{Error, Response};
use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, DeviceStore, FactorRecord, FactorStore,
    FailureKey, FailureStore, Failures, Generation, LookupKey, PendingChallenge, RememberedDevice,
    ResetSummary, StoreError, UserState, UserStore, Version, Versioned,
};
use mfa_core::{Clock, FactorId, Timestamp, UserId};
use mfa_store::MemoryStore;

use crate::common::{harness, password};

/// A memory store whose failure counters, or factor writes, can be made unreachable.
#[derive(Default)]
struct Flaky {
    inner: MemoryStore,
    counters_down: AtomicBool,
    writes_down: AtomicBool,
}

fn down() -> StoreError {
    StoreError::Backend("connection refused".into())
}

impl Flaky {
    fn counters(&self) -> Result<(), StoreError> {
        if self.counters_down.load(Ordering::SeqCst) {
            Err(down())
        } else {
            Ok(())
        }
    }
    fn writes(&self) -> Result<(), StoreError> {
        if self.writes_down.load(Ordering::SeqCst) {
            Err(down())
        } else {
            Ok(())
        }
    }
}

impl FactorStore for Flaky {
    async fn insert_factor(&self, record: FactorRecord) -> Result<Version, StoreError> {
        self.inner.insert_factor(record).await
    }
    async fn factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        self.inner.factor(user, id).await
    }
    async fn factor_by_lookup_key(
        &self,
        key: &LookupKey,
        user: Option<&UserId>,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        self.inner.factor_by_lookup_key(key, user).await
    }
    async fn list_factors(
        &self,
        user: &UserId,
    ) -> Result<Vec<Versioned<FactorRecord>>, StoreError> {
        self.inner.list_factors(user).await
    }
    async fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        self.writes()?;
        self.inner.update_factor_if_version(record, expected).await
    }
    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> Result<bool, StoreError> {
        self.inner.remove_factor(user, id).await
    }
}

impl ChallengeStore for Flaky {
    async fn put_challenge(&self, c: PendingChallenge) -> Result<Version, StoreError> {
        self.inner.put_challenge(c).await
    }
    async fn challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
        self.inner.challenge(id, owner, now).await
    }
    async fn update_challenge_if_version(
        &self,
        c: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        self.inner
            .update_challenge_if_version(c, expected, now)
            .await
    }
    async fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        self.inner.take_challenge(id, owner, now).await
    }
    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.inner.purge_expired_challenges(now).await
    }
}

impl FailureStore for Flaky {
    async fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        self.counters()?;
        self.inner.record_failure(key, now, window).await
    }
    async fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Option<Failures>, StoreError> {
        self.counters()?;
        self.inner.failures(key, now, window).await
    }
    async fn clear_failures(&self, key: &FailureKey) -> Result<(), StoreError> {
        self.counters()?;
        self.inner.clear_failures(key).await
    }
    async fn purge_failures(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.counters()?;
        self.inner.purge_failures(now).await
    }
}

impl DeviceStore for Flaky {
    async fn remember_device(&self, d: RememberedDevice) -> Result<(), StoreError> {
        self.inner.remember_device(d).await
    }
    async fn remembered_device(
        &self,
        user: &UserId,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<RememberedDevice>, StoreError> {
        self.inner.remembered_device(user, id, now).await
    }
    async fn list_devices(
        &self,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RememberedDevice>, StoreError> {
        self.inner.list_devices(user, now).await
    }
    async fn forget_device(&self, user: &UserId, id: &str) -> Result<bool, StoreError> {
        self.inner.forget_device(user, id).await
    }
}

impl UserStore for Flaky {
    async fn user_state(&self, user: &UserId) -> Result<UserState, StoreError> {
        self.inner.user_state(user).await
    }
    async fn bump_generation(&self, user: &UserId) -> Result<Generation, StoreError> {
        self.inner.bump_generation(user).await
    }
    async fn reset_user(&self, user: &UserId) -> Result<ResetSummary, StoreError> {
        self.inner.reset_user(user).await
    }
}

fn backend(e: &Error) -> bool {
    matches!(
        e,
        Error::Core(mfa_core::Error::Store(StoreError::Backend(_)))
    )
}

#[tokio::test]
async fn unreachable_counters_or_writes_refuse_even_the_right_code() {
    let h = harness(Flaky::default());
    let alice = UserId::new("alice").unwrap();
    let now = h.clock.now();
    let e = h
        .service
        .start_totp_enrollment(&alice, "phone", &password(now))
        .await
        .unwrap();
    let secret = mfa::otp::Secret::from_base32(&e.secret_base32).unwrap();
    let rec = mfa::otp::TotpRecord::new(secret, mfa::otp::TotpParams::default());
    let code = |at: Timestamp| {
        rec.totp()
            .code_at(at.unix_secs())
            .unwrap()
            .as_str()
            .to_owned()
    };
    h.service
        .finish_enrollment(&alice, &e.factor_id, &code(now), &mfa::Session::default())
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(30));
    let now = h.clock.now();
    let right = code(now);

    // Counters down: refused unverified (so the code is still unused afterwards).
    h.service
        .store()
        .counters_down
        .store(true, Ordering::SeqCst);
    let err = h
        .service
        .verify(&alice, &e.factor_id, Response::Code(&right), &password(now))
        .await
        .unwrap_err();
    assert!(backend(&err), "{err:?}");
    h.service
        .store()
        .counters_down
        .store(false, Ordering::SeqCst);

    // Factor writes down: the code verifies purely but the compare-and-swap fails, so
    // there is no success (and the code is not consumed).
    h.service.store().writes_down.store(true, Ordering::SeqCst);
    let err = h
        .service
        .verify(&alice, &e.factor_id, Response::Code(&right), &password(now))
        .await
        .unwrap_err();
    assert!(backend(&err), "{err:?}");
    h.service.store().writes_down.store(false, Ordering::SeqCst);

    // Back up: the same code works exactly once.
    h.service
        .verify(&alice, &e.factor_id, Response::Code(&right), &password(now))
        .await
        .unwrap();
    assert!(
        h.service
            .verify(&alice, &e.factor_id, Response::Code(&right), &password(now))
            .await
            .is_err()
    );
}
