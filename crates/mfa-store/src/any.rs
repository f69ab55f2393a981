//! A store chosen at run time, from a URL.

use std::time::Duration;

use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, DeviceStore, FactorRecord, FactorStore,
    FailureKey, FailureStore, Failures, Generation, LookupKey, PendingChallenge, RememberedDevice,
    ResetSummary, StoreError, UserState, UserStore, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};

use crate::memory::MemoryStore;

/// Why [`AnyStore::open`] refused a URL.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL has no `scheme:` prefix.
    #[error("store URL must start with a scheme such as memory:// or sqlite://")]
    NoScheme,
    /// A scheme no backend of mfa-store handles.
    #[error("unknown store scheme {0:?} (known: memory, sqlite, postgres, redis)")]
    UnknownScheme(String),
    /// A backend this build does not contain: its cargo feature is off, or (today, for
    /// every backend but memory) it is not written yet.
    #[error(
        "the {scheme} store is not compiled into this build (mfa-store feature `{feature}`; \
         planned backends: sqlite, postgres, redis)"
    )]
    NotCompiledIn {
        /// The scheme asked for.
        scheme: &'static str,
        /// The cargo feature of mfa-store that provides it.
        feature: &'static str,
    },
    /// The URL names a backend but has settings it does not take.
    #[error("invalid {scheme} store URL: {problem}")]
    Invalid {
        /// The scheme.
        scheme: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// The backend could not be opened (connection, migration).
    #[error("opening the store failed")]
    Backend(#[source] StoreError),
}

/// One of the store backends compiled into this build, chosen at run time: what a
/// binary's `--store URL` opens. Implements every store trait by delegating to the
/// backend, so the service stays generic and pays one `match` per call.
///
/// New backends (SQLite, PostgreSQL, Redis) are new variants behind their cargo
/// features; the enum is `#[non_exhaustive]` so adding one is not a breaking change.
#[non_exhaustive]
#[derive(Debug)]
pub enum AnyStore {
    /// [`MemoryStore`], from `memory://`.
    Memory(MemoryStore),
}

/// The schemes of backends that are not in this build, with their features.
const NOT_COMPILED_IN: &[(&str, &str, &str)] = &[
    ("sqlite", "sqlite", "sqlite"),
    ("postgres", "postgres", "postgres"),
    ("postgresql", "postgres", "postgres"),
    ("redis", "redis", "redis"),
    ("rediss", "redis", "redis"),
];

impl AnyStore {
    /// Opens the store a URL names: `memory://` (nothing after it).
    ///
    /// # Errors
    ///
    /// [`OpenError::NoScheme`] or [`OpenError::UnknownScheme`] for a URL no backend
    /// handles; [`OpenError::NotCompiledIn`] for `sqlite://`, `postgres://`,
    /// `postgresql://`, `redis://` or `rediss://` in a build without that backend;
    /// [`OpenError::Invalid`] for settings a backend does not take (a path after
    /// `memory://`); [`OpenError::Backend`] when the backend cannot be opened.
    #[allow(
        clippy::unused_async,
        reason = "SQL backends connect here; the signature is theirs"
    )]
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let (scheme, rest) = url.split_once(':').ok_or(OpenError::NoScheme)?;
        let scheme_lower = scheme.to_ascii_lowercase();
        match scheme_lower.as_str() {
            "memory" => {
                if rest.is_empty() || rest == "//" {
                    Ok(Self::Memory(MemoryStore::new()))
                } else {
                    Err(OpenError::Invalid {
                        scheme: "memory",
                        problem: "memory:// takes no path or options",
                    })
                }
            }
            s => match NOT_COMPILED_IN.iter().find(|(name, ..)| *name == s) {
                Some(&(_, scheme, feature)) => Err(OpenError::NotCompiledIn { scheme, feature }),
                None => Err(OpenError::UnknownScheme(scheme.to_owned())),
            },
        }
    }

    /// A memory store, without going through a URL.
    pub fn memory() -> Self {
        Self::Memory(MemoryStore::new())
    }

    /// The scheme of the backend in use.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
        }
    }
}

/// Delegates one call to the backend in use.
macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Memory($s) => $call.await,
        }
    };
}

impl FactorStore for AnyStore {
    async fn insert_factor(&self, record: FactorRecord) -> Result<Version, StoreError> {
        dispatch!(self, s => s.insert_factor(record))
    }

    async fn factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        dispatch!(self, s => s.factor(user, id))
    }

    async fn factor_by_lookup_key(
        &self,
        key: &LookupKey,
        user: Option<&UserId>,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        dispatch!(self, s => s.factor_by_lookup_key(key, user))
    }

    async fn list_factors(
        &self,
        user: &UserId,
    ) -> Result<Vec<Versioned<FactorRecord>>, StoreError> {
        dispatch!(self, s => s.list_factors(user))
    }

    async fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        dispatch!(self, s => s.update_factor_if_version(record, expected))
    }

    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> Result<bool, StoreError> {
        dispatch!(self, s => s.remove_factor(user, id))
    }
}

impl ChallengeStore for AnyStore {
    async fn put_challenge(&self, challenge: PendingChallenge) -> Result<Version, StoreError> {
        dispatch!(self, s => s.put_challenge(challenge))
    }

    async fn challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
        dispatch!(self, s => s.challenge(id, owner, now))
    }

    async fn update_challenge_if_version(
        &self,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        dispatch!(self, s => s.update_challenge_if_version(challenge, expected, now))
    }

    async fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        dispatch!(self, s => s.take_challenge(id, owner, now))
    }

    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        dispatch!(self, s => s.purge_expired_challenges(now))
    }
}

impl FailureStore for AnyStore {
    async fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        dispatch!(self, s => s.record_failure(key, now, window))
    }

    async fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Option<Failures>, StoreError> {
        dispatch!(self, s => s.failures(key, now, window))
    }

    async fn clear_failures(&self, key: &FailureKey) -> Result<(), StoreError> {
        dispatch!(self, s => s.clear_failures(key))
    }
}

impl DeviceStore for AnyStore {
    async fn remember_device(&self, device: RememberedDevice) -> Result<(), StoreError> {
        dispatch!(self, s => s.remember_device(device))
    }

    async fn remembered_device(
        &self,
        user: &UserId,
        device_id: &str,
        now: Timestamp,
    ) -> Result<Option<RememberedDevice>, StoreError> {
        dispatch!(self, s => s.remembered_device(user, device_id, now))
    }

    async fn list_devices(
        &self,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RememberedDevice>, StoreError> {
        dispatch!(self, s => s.list_devices(user, now))
    }

    async fn forget_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.forget_device(user, device_id))
    }
}

impl UserStore for AnyStore {
    async fn user_state(&self, user: &UserId) -> Result<UserState, StoreError> {
        dispatch!(self, s => s.user_state(user))
    }

    async fn bump_generation(&self, user: &UserId) -> Result<Generation, StoreError> {
        dispatch!(self, s => s.bump_generation(user))
    }

    async fn reset_user(&self, user: &UserId) -> Result<ResetSummary, StoreError> {
        dispatch!(self, s => s.reset_user(user))
    }
}
