//! The in-memory backend.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mfa_core::store::{
    ChallengeId, ChallengeStore, DeviceStore, FactorRecord, FactorStore, FailureKey, FailureStore,
    Failures, PendingChallenge, RememberedDevice, StoreError, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};

type UserFactors = BTreeMap<FactorId, Versioned<FactorRecord>>;

/// An in-memory [`Store`](mfa_core::store::Store): every operation runs under one lock
/// per concern, so each is atomic within the process.
///
/// State lives only as long as the value: a restart forgets every enrollment. Use it in
/// tests and examples, or behind a single process that can afford that. Cloning is not
/// offered; share it with an `Arc`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    factors: Mutex<HashMap<UserId, UserFactors>>,
    challenges: Mutex<HashMap<ChallengeId, PendingChallenge>>,
    failures: Mutex<HashMap<FailureKey, Failures>>,
    devices: Mutex<HashMap<UserId, BTreeMap<String, RememberedDevice>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Locks a mutex. A poisoned lock can only come from a panic in one of the short
/// critical sections below, none of which leaves a map half-updated, so the data is
/// still consistent and is used as is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FactorStore for MemoryStore {
    async fn insert_factor(&self, record: FactorRecord) -> Result<Version, StoreError> {
        let mut factors = lock(&self.factors);
        let user = factors.entry(record.user.clone()).or_default();
        if user.contains_key(&record.id) {
            return Err(StoreError::AlreadyExists);
        }
        user.insert(
            record.id.clone(),
            Versioned {
                value: record,
                version: Version::INITIAL,
            },
        );
        Ok(Version::INITIAL)
    }

    async fn factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        Ok(lock(&self.factors)
            .get(user)
            .and_then(|f| f.get(id))
            .cloned())
    }

    async fn list_factors(
        &self,
        user: &UserId,
    ) -> Result<Vec<Versioned<FactorRecord>>, StoreError> {
        let mut list: Vec<_> = lock(&self.factors)
            .get(user)
            .map(|f| f.values().cloned().collect())
            .unwrap_or_default();
        // The map iterates by id; a stable sort by creation time keeps id order for ties.
        list.sort_by_key(|v| v.value.created_at);
        Ok(list)
    }

    async fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        let mut factors = lock(&self.factors);
        let current = factors
            .get_mut(&record.user)
            .and_then(|f| f.get_mut(&record.id))
            .ok_or(StoreError::NotFound)?;
        if current.version != expected {
            return Err(StoreError::Conflict);
        }
        let next = expected.next().ok_or(StoreError::Conflict)?;
        *current = Versioned {
            value: record,
            version: next,
        };
        Ok(next)
    }

    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> Result<bool, StoreError> {
        Ok(lock(&self.factors)
            .get_mut(user)
            .is_some_and(|f| f.remove(id).is_some()))
    }

    async fn remove_all_factors(&self, user: &UserId) -> Result<usize, StoreError> {
        Ok(lock(&self.factors).remove(user).map_or(0, |f| f.len()))
    }
}

impl ChallengeStore for MemoryStore {
    async fn put_challenge(&self, challenge: PendingChallenge) -> Result<(), StoreError> {
        let mut challenges = lock(&self.challenges);
        if challenges.contains_key(&challenge.id) {
            return Err(StoreError::AlreadyExists);
        }
        challenges.insert(challenge.id.clone(), challenge);
        Ok(())
    }

    async fn take_challenge(
        &self,
        id: &ChallengeId,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        Ok(lock(&self.challenges)
            .remove(id)
            .filter(|c| now <= c.expires_at))
    }

    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut challenges = lock(&self.challenges);
        let before = challenges.len();
        challenges.retain(|_, c| now <= c.expires_at);
        Ok(before - challenges.len())
    }
}

/// Whether a counter whose last failure was at `last` has lapsed at `now`.
fn lapsed(last: Timestamp, now: Timestamp, window: Duration) -> bool {
    now.saturating_since(last) > window
}

impl FailureStore for MemoryStore {
    async fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        let mut failures = lock(&self.failures);
        let fresh = Failures {
            count: 1,
            first_at: now,
            last_at: now,
        };
        let f = failures
            .entry(key.clone())
            .and_modify(|f| {
                if lapsed(f.last_at, now, window) {
                    *f = fresh;
                } else {
                    f.count = f.count.saturating_add(1);
                    f.last_at = f.last_at.max(now);
                }
            })
            .or_insert(fresh);
        Ok(*f)
    }

    async fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Option<Failures>, StoreError> {
        Ok(lock(&self.failures)
            .get(key)
            .filter(|f| !lapsed(f.last_at, now, window))
            .copied())
    }

    async fn clear_failures(&self, key: &FailureKey) -> Result<(), StoreError> {
        lock(&self.failures).remove(key);
        Ok(())
    }
}

impl DeviceStore for MemoryStore {
    async fn remember_device(&self, device: RememberedDevice) -> Result<(), StoreError> {
        lock(&self.devices)
            .entry(device.user.clone())
            .or_default()
            .insert(device.device_id.clone(), device);
        Ok(())
    }

    async fn remembered_device(
        &self,
        user: &UserId,
        device_id: &str,
        now: Timestamp,
    ) -> Result<Option<RememberedDevice>, StoreError> {
        Ok(lock(&self.devices)
            .get(user)
            .and_then(|d| d.get(device_id))
            .filter(|d| now <= d.expires_at)
            .cloned())
    }

    async fn list_devices(
        &self,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RememberedDevice>, StoreError> {
        let mut list: Vec<_> = lock(&self.devices)
            .get(user)
            .map(|d| {
                d.values()
                    .filter(|d| now <= d.expires_at)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        list.sort_by_key(|d| d.created_at);
        Ok(list)
    }

    async fn forget_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.devices)
            .get_mut(user)
            .is_some_and(|d| d.remove(device_id).is_some()))
    }

    async fn forget_all_devices(&self, user: &UserId) -> Result<usize, StoreError> {
        Ok(lock(&self.devices).remove(user).map_or(0, |d| d.len()))
    }
}
