//! The in-memory backend.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mfa_core::store::{
    AttemptCount, AttemptRequest, AttemptStore, Begun, ChallengeUse, NEVER_LAPSES, Success,
    Verdict, VerificationStore,
};
use mfa_core::store::{
    AuditEntry, ChallengeId, ChallengeOwner, ChallengeStore, Change, Committed, DeviceStore,
    FactorRecord, FactorStore, FailureKey, FailureStore, Failures, Generation, JournalFn,
    JournalStore, LookupKey, LookupScope, OutboxMessage, PendingChallenge, RememberedDevice,
    ResetSummary, StoreError, UserState, UserStore, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};

/// The index entry of a lookup key: the key, and its owner for a per-user key (the
/// `owner` column of a SQL backend's unique index).
type IndexKey = (LookupKey, Option<UserId>);

/// An in-memory [`Store`](mfa_core::store::Store): every operation runs under one lock
/// over all state, so each is atomic within the process, the cross-concern
/// [`reset_user`](UserStore::reset_user) included.
///
/// State lives only as long as the value: a restart forgets every enrollment. Use it in
/// tests and examples, or behind a single process that can afford that. Cloning is not
/// offered; share it with an `Arc`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The last version handed out: one sequence for every record, so versions never
    /// repeat for a key, removals included.
    last_version: u64,
    factors: HashMap<UserId, BTreeMap<FactorId, Versioned<FactorRecord>>>,
    lookup: HashMap<IndexKey, (UserId, FactorId)>,
    challenges: HashMap<ChallengeId, Versioned<PendingChallenge>>,
    /// Each counter with the window of its last recorded failure, for the purge.
    failures: HashMap<FailureKey, (Failures, Duration)>,
    devices: HashMap<UserId, BTreeMap<String, RememberedDevice>>,
    generations: HashMap<UserId, Generation>,
    /// The audit chain, in order.
    audit: Vec<AuditEntry>,
    /// The outbox, in order of writing, with when each was delivered.
    outbox: Vec<(OutboxMessage, Option<Timestamp>)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the state. A poisoned lock can only come from a panic in one of the short
    /// critical sections below, each of which checks everything before it changes
    /// anything, so the data is still consistent and is used as is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn index_key(key: &LookupKey, user: &UserId) -> IndexKey {
    let owner = match key.scope() {
        LookupScope::PerUser => Some(user.clone()),
        _ => None,
    };
    (key.clone(), owner)
}

impl State {
    fn insert_factor(&mut self, record: FactorRecord) -> Result<Version, StoreError> {
        let s = self;
        if s.factors
            .get(&record.user)
            .is_some_and(|f| f.contains_key(&record.id))
        {
            return Err(StoreError::AlreadyExists);
        }
        if let Some(key) = &record.lookup_key
            && s.lookup.contains_key(&index_key(key, &record.user))
        {
            return Err(StoreError::LookupKeyTaken);
        }
        let version = s.next_version()?;
        s.index(&record);
        s.factors
            .entry(record.user.clone())
            .or_default()
            .insert(record.id.clone(), Versioned::new(record, version));
        Ok(version)
    }

    fn update_factor(
        &mut self,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        let s = self;
        let current = s
            .factors
            .get(&record.user)
            .and_then(|f| f.get(&record.id))
            .ok_or(StoreError::NotFound)?;
        if current.version != expected {
            return Err(StoreError::Conflict);
        }
        if let Some(key) = &record.lookup_key
            && s.key_taken(key, &record.user, &record.id)
        {
            return Err(StoreError::LookupKeyTaken);
        }
        // Only the index needs the old row, and only when a lookup key changes: no
        // clone of the row (its sealed data, label and ids) on a verification's swap.
        let key_changed = current.value.lookup_key != record.lookup_key;
        let old_key = if key_changed {
            current.value.lookup_key.clone()
        } else {
            None
        };
        let version = s.next_version()?;
        if key_changed {
            if let Some(old) = old_key {
                s.lookup.remove(&index_key(&old, &record.user));
            }
            s.index(&record);
        }
        if let Some(slot) = s
            .factors
            .get_mut(&record.user)
            .and_then(|f| f.get_mut(&record.id))
        {
            *slot = Versioned::new(record, version);
        }
        Ok(version)
    }

    fn remove_factor(&mut self, user: &UserId, id: &FactorId) -> Result<bool, StoreError> {
        let s = self;
        let removed = s.factors.get_mut(user).and_then(|f| f.remove(id));
        match removed {
            Some(old) => {
                s.unindex(&old.value);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn forget_device(&mut self, user: &UserId, device_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .devices
            .get_mut(user)
            .is_some_and(|d| d.remove(device_id).is_some()))
    }

    fn reset_user(&mut self, user: &UserId) -> Result<ResetSummary, StoreError> {
        let s = self;
        // Check first, then change: a refused reset changes nothing.
        let generation = s.generation(user).next().ok_or(StoreError::Conflict)?;
        s.generations.insert(user.clone(), generation);
        let factors = s.factors.remove(user).unwrap_or_default();
        for f in factors.values() {
            s.unindex(&f.value);
        }
        let owner = ChallengeOwner::User(user.clone());
        let before = s.challenges.len();
        s.challenges.retain(|_, c| c.value.owner != owner);
        let challenges = before - s.challenges.len();
        let devices = s.devices.remove(user).map_or(0, |d| d.len());
        let before = s.failures.len();
        s.failures.retain(|k, _| k.owner() != Some(user));
        let failure_counters = before - s.failures.len();
        Ok(ResetSummary::new(
            factors.len(),
            challenges,
            devices,
            failure_counters,
            generation,
        ))
    }

    fn next_version(&mut self) -> Result<Version, StoreError> {
        let next = Version::new(self.last_version)
            .next()
            .ok_or(StoreError::Conflict)?;
        self.last_version = next.get();
        Ok(next)
    }

    fn generation(&self, user: &UserId) -> Generation {
        self.generations.get(user).copied().unwrap_or_default()
    }

    /// Whether `key` is held by a factor other than `(user, id)`.
    fn key_taken(&self, key: &LookupKey, user: &UserId, id: &FactorId) -> bool {
        self.lookup
            .get(&index_key(key, user))
            .is_some_and(|(u, i)| !(u == user && i == id))
    }

    fn unindex(&mut self, record: &FactorRecord) {
        if let Some(key) = &record.lookup_key {
            self.lookup.remove(&index_key(key, &record.user));
        }
    }

    fn index(&mut self, record: &FactorRecord) {
        if let Some(key) = &record.lookup_key {
            self.lookup.insert(
                index_key(key, &record.user),
                (record.user.clone(), record.id.clone()),
            );
        }
    }
}

impl FactorStore for MemoryStore {
    async fn insert_factor(&self, record: FactorRecord) -> Result<Version, StoreError> {
        self.lock().insert_factor(record)
    }

    async fn factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        Ok(self
            .lock()
            .factors
            .get(user)
            .and_then(|f| f.get(id))
            .cloned())
    }

    async fn factor_by_lookup_key(
        &self,
        key: &LookupKey,
        user: Option<&UserId>,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        let s = self.lock();
        let owner = match (key.scope(), user) {
            (LookupScope::PerUser, None) => return Ok(None),
            (LookupScope::PerUser, Some(u)) => Some(u.clone()),
            _ => None,
        };
        let found = s
            .lookup
            .get(&(key.clone(), owner))
            .filter(|(holder, _)| user.is_none_or(|u| u == holder))
            .and_then(|(holder, id)| s.factors.get(holder).and_then(|f| f.get(id)));
        Ok(found.cloned())
    }

    async fn list_factors(
        &self,
        user: &UserId,
    ) -> Result<Vec<Versioned<FactorRecord>>, StoreError> {
        Ok(self.lock().list_factors(user))
    }

    async fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        self.lock().update_factor(record, expected)
    }

    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> Result<bool, StoreError> {
        self.lock().remove_factor(user, id)
    }
}

impl ChallengeStore for MemoryStore {
    async fn put_challenge(&self, challenge: PendingChallenge) -> Result<Version, StoreError> {
        let mut s = self.lock();
        if s.challenges.contains_key(&challenge.id) {
            return Err(StoreError::AlreadyExists);
        }
        let version = s.next_version()?;
        s.challenges
            .insert(challenge.id.clone(), Versioned::new(challenge, version));
        Ok(version)
    }

    async fn challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
        Ok(self
            .lock()
            .challenges
            .get(id)
            .filter(|c| &c.value.owner == owner && now <= c.value.expires_at)
            .cloned())
    }

    async fn update_challenge_if_version(
        &self,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        let mut s = self.lock();
        let current = s
            .challenges
            .get(&challenge.id)
            .filter(|c| {
                c.value.owner == challenge.owner
                    && c.value.factor == challenge.factor
                    && now <= c.value.expires_at
            })
            .ok_or(StoreError::NotFound)?;
        if current.version != expected {
            return Err(StoreError::Conflict);
        }
        let version = s.next_version()?;
        s.challenges
            .insert(challenge.id.clone(), Versioned::new(challenge, version));
        Ok(version)
    }

    async fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        Ok(self.lock().take_challenge(id, owner, now).map(|c| c.value))
    }

    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut s = self.lock();
        let before = s.challenges.len();
        s.challenges.retain(|_, c| now <= c.value.expires_at);
        Ok(before - s.challenges.len())
    }
}

/// Whether a counter whose last failure was at `last` has lapsed at `now`.
fn lapsed(last: Timestamp, now: Timestamp, window: Duration) -> bool {
    now.saturating_since(last) > window
}

impl State {
    fn record_failure(&mut self, key: &FailureKey, now: Timestamp, window: Duration) -> Failures {
        let fresh = Failures::new(1, now, now);
        let (f, _) = self
            .failures
            .entry(key.clone())
            .and_modify(|(f, w)| {
                if lapsed(f.last_at, now, window) {
                    *f = fresh;
                } else {
                    f.count = f.count.saturating_add(1);
                    f.last_at = f.last_at.max(now);
                }
                *w = window;
            })
            .or_insert((fresh, window));
        *f
    }

    fn failures(&self, key: &FailureKey, now: Timestamp, window: Duration) -> Option<Failures> {
        self.failures
            .get(key)
            .map(|(f, _)| *f)
            .filter(|f| !lapsed(f.last_at, now, window))
    }

    fn take_challenge(
        &mut self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Option<Versioned<PendingChallenge>> {
        if self
            .challenges
            .get(id)
            .is_none_or(|c| &c.value.owner != owner)
        {
            return None;
        }
        self.challenges
            .remove(id)
            .filter(|c| now <= c.value.expires_at)
    }

    fn list_factors(&self, user: &UserId) -> Vec<Versioned<FactorRecord>> {
        let mut list: Vec<_> = self
            .factors
            .get(user)
            .map(|f| f.values().cloned().collect())
            .unwrap_or_default();
        // The map iterates by id; a stable sort by creation time keeps id order for ties.
        list.sort_by_key(|v| v.value.created_at);
        list
    }

    /// One attempt, judged and counted under the lock.
    fn count_attempt(&mut self, request: &AttemptRequest<'_>) -> AttemptCount {
        let (rules, now) = (request.rules, request.now);
        let (akey, fkey) = (request.account_key(), request.factor_key());
        let account = self.failures(&akey, now, NEVER_LAPSES);
        let factor = self.failures(&fkey, now, rules.window());
        let verdict = rules.judge(account, factor, now);
        if matches!(verdict, Verdict::Proceed | Verdict::Locked { .. }) {
            self.record_failure(&fkey, now, rules.window());
        }
        let mut challenge = None;
        if verdict == Verdict::Proceed {
            self.record_failure(&akey, now, NEVER_LAPSES);
            let owner = request.owner();
            challenge = match request.challenge {
                Some(ChallengeUse::Read(id)) => self
                    .challenges
                    .get(id)
                    .filter(|c| c.value.owner == owner && now <= c.value.expires_at)
                    .cloned(),
                Some(ChallengeUse::Take(id)) => self.take_challenge(id, &owner, now),
                _ => None,
            };
        }
        AttemptCount::new(verdict, account, factor, challenge)
    }

    /// Takes the challenge (if any) and clears the counters, or changes nothing.
    fn settle(
        &mut self,
        user: &UserId,
        factor: &FactorId,
        take: Option<&ChallengeId>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if let Some(id) = take {
            let owner = ChallengeOwner::User(user.clone());
            if self.take_challenge(id, &owner, now).is_none() {
                return Err(StoreError::Conflict);
            }
        }
        self.failures.remove(&FailureKey::factor(user, factor));
        self.failures.remove(&FailureKey::user(user));
        Ok(())
    }
}

impl AttemptStore for MemoryStore {
    async fn count_attempt(
        &self,
        request: &AttemptRequest<'_>,
    ) -> Result<AttemptCount, StoreError> {
        Ok(self.lock().count_attempt(request))
    }

    async fn settle_attempt(
        &self,
        user: &UserId,
        factor: &FactorId,
        take: Option<&ChallengeId>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.lock().settle(user, factor, take, now)
    }
}

impl VerificationStore for MemoryStore {
    async fn begin_verification(&self, request: &AttemptRequest<'_>) -> Result<Begun, StoreError> {
        let mut s = self.lock();
        let attempt = s.count_attempt(request);
        let factors = if attempt.verdict == Verdict::Proceed {
            s.list_factors(request.user)
        } else {
            Vec::new()
        };
        Ok(Begun::new(attempt, factors))
    }

    async fn commit_verification(
        &self,
        success: Success<'_>,
    ) -> Result<Option<Version>, StoreError> {
        let mut s = self.lock();
        // Check everything before changing anything.
        if let Some(id) = success.take {
            let live = s.challenges.get(id).is_some_and(|c| {
                c.value.owner.user() == Some(success.user) && success.now <= c.value.expires_at
            });
            if !live {
                return Err(StoreError::Conflict);
            }
        }
        let version = match success.update {
            Some((record, expected)) => Some(s.update_factor(record, expected)?),
            None => None,
        };
        s.settle(success.user, success.factor, success.take, success.now)?;
        Ok(version)
    }
}

impl FailureStore for MemoryStore {
    async fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        Ok(self.lock().record_failure(key, now, window))
    }

    async fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Option<Failures>, StoreError> {
        Ok(self.lock().failures(key, now, window))
    }

    async fn clear_failures(&self, key: &FailureKey) -> Result<(), StoreError> {
        self.lock().failures.remove(key);
        Ok(())
    }

    async fn purge_failures(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut s = self.lock();
        let before = s.failures.len();
        s.failures.retain(|_, (f, w)| !lapsed(f.last_at, now, *w));
        Ok(before.saturating_sub(s.failures.len()))
    }
}

impl DeviceStore for MemoryStore {
    async fn remember_device(&self, device: RememberedDevice) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.generation(&device.user) != device.generation {
            return Err(StoreError::Conflict);
        }
        s.devices
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
        Ok(self
            .lock()
            .devices
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
        let mut list: Vec<_> = self
            .lock()
            .devices
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
        self.lock().forget_device(user, device_id)
    }
}

impl UserStore for MemoryStore {
    async fn user_state(&self, user: &UserId) -> Result<UserState, StoreError> {
        Ok(UserState::new(user.clone(), self.lock().generation(user)))
    }

    async fn bump_generation(&self, user: &UserId) -> Result<Generation, StoreError> {
        let mut s = self.lock();
        let next = s.generation(user).next().ok_or(StoreError::Conflict)?;
        s.generations.insert(user.clone(), next);
        Ok(next)
    }

    async fn reset_user(&self, user: &UserId) -> Result<ResetSummary, StoreError> {
        self.lock().reset_user(user)
    }
}

impl State {
    fn apply(&mut self, change: Change) -> Result<Committed, StoreError> {
        Ok(match change {
            Change::InsertFactor(record) => Committed::Version(self.insert_factor(record)?),
            Change::UpdateFactor { record, expected } => {
                Committed::Version(self.update_factor(record, expected)?)
            }
            Change::RemoveFactor { user, id } => {
                Committed::Removed(self.remove_factor(&user, &id)?)
            }
            Change::ForgetDevice { user, device_id } => {
                Committed::Removed(self.forget_device(&user, &device_id)?)
            }
            Change::ResetUser(user) => Committed::Reset(self.reset_user(&user)?),
            _ => Committed::Nothing,
        })
    }
}

/// The memory store keeps a journal, atomic within the process like everything else
/// here (and lost with it).
impl JournalStore for MemoryStore {
    fn keeps_journal(&self) -> bool {
        true
    }

    async fn commit_journaled(
        &self,
        change: Change,
        journal: JournalFn,
    ) -> Result<Committed, StoreError> {
        let mut s = self.lock();
        let out = s.apply(change)?;
        let j = journal(&out)?;
        let head = s
            .audit
            .last()
            .map_or((0, crate::journal::GENESIS.to_owned()), |e| {
                (e.seq, e.hash.clone())
            });
        let chained = crate::journal::chain(head, j.audit);
        s.audit.extend(chained);
        s.outbox.extend(j.outbox.into_iter().map(|m| (m, None)));
        Ok(out)
    }

    async fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .lock()
            .audit
            .iter()
            .filter(|e| e.seq > after)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn outbox_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|(m, done)| done.is_none() && m.next_attempt_at <= now)
            .take(limit)
            .map(|(m, _)| m.clone())
            .collect())
    }

    async fn outbox_delivered(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let mut s = self.lock();
        Ok(s.outbox
            .iter_mut()
            .find(|(m, done)| m.id == id && done.is_none())
            .map(|(_, done)| *done = Some(now))
            .is_some())
    }

    async fn outbox_retry(&self, id: &str, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        let mut s = self.lock();
        if let Some((m, _)) = s.outbox.iter_mut().find(|(m, _)| m.id == id) {
            m.attempts = m.attempts.saturating_add(1);
            m.next_attempt_at = next_attempt_at;
        }
        Ok(())
    }
}
