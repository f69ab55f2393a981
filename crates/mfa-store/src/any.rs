//! A store chosen at run time, from a URL.

use std::time::Duration;

use mfa_core::store::{
    AttemptCount, AttemptRequest, AttemptStore, Begun, ChallengeId, ChallengeOwner, ChallengeStore,
    DeviceStore, FactorRecord, FactorStore, FailureKey, FailureStore, Failures, Generation,
    LookupKey, PendingChallenge, RememberedDevice, ResetSummary, StoreError, Success, UserState,
    UserStore, VerificationStore, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};

use crate::memory::MemoryStore;
#[cfg(feature = "postgres")]
use crate::postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "redis")]
use crate::redis_store::{RedisOptions, RedisStore};
#[cfg(all(feature = "redis", any(feature = "postgres", feature = "sqlite")))]
use crate::split::Split;
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteStore;

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
    /// A backend this build does not contain: its cargo feature is off.
    #[error(
        "the {scheme} store is not compiled into this build (enable mfa-store's feature `{feature}`)"
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
/// Each backend is a variant behind its cargo feature; the enum is `#[non_exhaustive]`
/// so adding one is not a breaking change.
#[non_exhaustive]
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "a process holds one AnyStore; boxing would change the Memory variant's type"
)]
pub enum AnyStore {
    /// [`MemoryStore`], from `memory://`.
    Memory(MemoryStore),
    /// [`SqliteStore`], from `sqlite://PATH`.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// [`PostgresStore`], from `postgres://…` or `postgresql://…`.
    #[cfg(feature = "postgres")]
    Postgres(PostgresStore),
    /// PostgreSQL for factors, devices and users, Redis for challenges and counters,
    /// from [`AnyStore::open_split`].
    #[cfg(all(feature = "postgres", feature = "redis"))]
    PostgresRedis(Split<PostgresStore, RedisStore>),
    /// SQLite for factors, devices and users, Redis for challenges and counters, from
    /// [`AnyStore::open_split`].
    #[cfg(all(feature = "sqlite", feature = "redis"))]
    SqliteRedis(Split<SqliteStore, RedisStore>),
}

/// The schemes of backends that are not in this build, with their features.
const NOT_COMPILED_IN: &[(&str, &str, &str)] = &[
    #[cfg(not(feature = "sqlite"))]
    ("sqlite", "sqlite", "sqlite"),
    #[cfg(not(feature = "postgres"))]
    ("postgres", "postgres", "postgres"),
    #[cfg(not(feature = "postgres"))]
    ("postgresql", "postgres", "postgres"),
    #[cfg(not(feature = "redis"))]
    ("redis", "redis", "redis"),
    #[cfg(not(feature = "redis"))]
    ("rediss", "redis", "redis"),
    #[cfg(not(feature = "redis"))]
    ("redis+cluster", "redis", "redis"),
];

/// The path of a `sqlite://PATH` URL: everything after `sqlite://` (`sqlite://mfa.db`
/// is relative, `sqlite:///var/lib/mfa.db` absolute).
#[cfg(feature = "sqlite")]
fn sqlite_path(rest: &str) -> Result<&str, OpenError> {
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.is_empty() {
        return Err(OpenError::Invalid {
            scheme: "sqlite",
            problem: "sqlite:// needs a file path (sqlite://mfa.db, sqlite:///var/lib/mfa.db)",
        });
    }
    if path.contains('?') {
        return Err(OpenError::Invalid {
            scheme: "sqlite",
            problem: "sqlite:// takes no query options",
        });
    }
    Ok(path)
}

impl AnyStore {
    /// Opens the store a URL names, and applies its migrations:
    ///
    /// | URL | store |
    /// | --- | --- |
    /// | `memory://` (nothing after it) | [`MemoryStore`] |
    /// | `sqlite://PATH` (`sqlite://mfa.db`, `sqlite:///var/lib/mfa.db`) | [`SqliteStore`](crate::SqliteStore) |
    /// | `postgres://…`, `postgresql://…` (anything tokio-postgres parses) | [`PostgresStore`](crate::PostgresStore) |
    ///
    /// Redis holds only the hot state, so a `redis://` URL alone is refused; compose it
    /// with a durable store through [`AnyStore::open_split`].
    ///
    /// # Errors
    ///
    /// [`OpenError::NoScheme`] or [`OpenError::UnknownScheme`] for a URL no backend
    /// handles; [`OpenError::NotCompiledIn`] for `sqlite://`, `postgres://`,
    /// `postgresql://`, `redis://` or `rediss://` in a build without that backend;
    /// [`OpenError::Invalid`] for settings a backend does not take (a path after
    /// `memory://`, an empty SQLite path, Redis alone); [`OpenError::Backend`] when the
    /// backend cannot be opened.
    #[allow(
        clippy::unused_async,
        reason = "without the SQL features nothing is awaited; the signature is theirs"
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
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                let path = sqlite_path(rest)?;
                SqliteStore::open(path)
                    .await
                    .map(Self::Sqlite)
                    .map_err(OpenError::Backend)
            }
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => PostgresStore::connect(url, PostgresOptions::default())
                .await
                .map(Self::Postgres)
                .map_err(OpenError::Backend),
            #[cfg(feature = "redis")]
            "redis" | "rediss" | "redis+cluster" => Err(OpenError::Invalid {
                scheme: "redis",
                problem: "Redis keeps only challenges and failure counters: compose it with a \
                          durable store through AnyStore::open_split(durable_url, redis_url)",
            }),
            s => match NOT_COMPILED_IN.iter().find(|(name, ..)| *name == s) {
                Some(&(_, scheme, feature)) => Err(OpenError::NotCompiledIn { scheme, feature }),
                None => Err(OpenError::UnknownScheme(scheme.to_owned())),
            },
        }
    }

    /// Opens a durable store (`postgres://…` or `sqlite://PATH`) for factors, devices
    /// and users, and Redis for challenges and failure counters, as one [`Split`]
    /// store: `AnyStore::open_split("postgres://mfa@db/mfa", "redis://cache:6379")`, or
    /// with a Redis Cluster, `AnyStore::open_split("postgres://mfa@db/mfa",
    /// "redis+cluster://10.0.0.1:6379,10.0.0.2:6379")` (see
    /// [`RedisStore::connect`](crate::RedisStore::connect)). Keys go under the prefix
    /// `mfa`.
    ///
    /// # Errors
    ///
    /// As [`AnyStore::open`] for either URL; [`OpenError::Invalid`] when the first URL
    /// is not a durable store or the second not Redis.
    #[cfg(feature = "redis")]
    #[cfg_attr(
        not(any(feature = "postgres", feature = "sqlite")),
        allow(
            unused_variables,
            reason = "without a durable backend nothing composes"
        )
    )]
    pub async fn open_split(durable_url: &str, redis_url: &str) -> Result<Self, OpenError> {
        let hot_scheme = redis_url
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .ok_or(OpenError::NoScheme)?;
        if !matches!(hot_scheme.as_str(), "redis" | "rediss" | "redis+cluster") {
            return Err(OpenError::Invalid {
                scheme: "redis",
                problem: "the second URL of open_split must be redis://, rediss:// or redis+cluster://",
            });
        }
        let durable = Self::open(durable_url).await?;
        let hot = RedisStore::connect(redis_url, RedisOptions::default())
            .await
            .map_err(OpenError::Backend)?;
        match durable {
            #[cfg(feature = "postgres")]
            Self::Postgres(pg) => Ok(Self::PostgresRedis(Split::new(pg, hot))),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(lite) => Ok(Self::SqliteRedis(Split::new(lite, hot))),
            _ => Err(OpenError::Invalid {
                scheme: "redis",
                problem: "open_split composes Redis with postgres:// or sqlite://",
            }),
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
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => "postgres",
            #[cfg(all(feature = "postgres", feature = "redis"))]
            Self::PostgresRedis(_) => "postgres+redis",
            #[cfg(all(feature = "sqlite", feature = "redis"))]
            Self::SqliteRedis(_) => "sqlite+redis",
        }
    }
}

/// Delegates one call to the backend in use.
macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Memory($s) => $call.await,
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite($s) => $call.await,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($s) => $call.await,
            #[cfg(all(feature = "postgres", feature = "redis"))]
            AnyStore::PostgresRedis($s) => $call.await,
            #[cfg(all(feature = "sqlite", feature = "redis"))]
            AnyStore::SqliteRedis($s) => $call.await,
        }
    };
}

/// Implements every store trait by `dispatch!`: one call to the backend in use.
macro_rules! delegate {
    ([] $( $store:ident { $( $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )* } )*) => { $(
        impl $store for AnyStore { $(
            async fn $name(&self, $($arg: $ty),*) -> Result<$ret, StoreError> {
                dispatch!(self, s => s.$name($($arg),*))
            }
        )* }
    )* };
}

mfa_core::store_operations!(delegate!);

impl mfa_core::store::JournalStore for AnyStore {
    fn keeps_journal(&self) -> bool {
        match self {
            AnyStore::Memory(s) => s.keeps_journal(),
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(s) => s.keeps_journal(),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.keeps_journal(),
            #[cfg(all(feature = "postgres", feature = "redis"))]
            AnyStore::PostgresRedis(s) => s.keeps_journal(),
            #[cfg(all(feature = "sqlite", feature = "redis"))]
            AnyStore::SqliteRedis(s) => s.keeps_journal(),
        }
    }

    async fn commit_journaled(
        &self,
        change: mfa_core::store::Change,
        journal: mfa_core::store::JournalFn,
    ) -> Result<mfa_core::store::Committed, StoreError> {
        dispatch!(self, s => s.commit_journaled(change, journal))
    }

    async fn audit_entries(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<mfa_core::store::AuditEntry>, StoreError> {
        dispatch!(self, s => s.audit_entries(after, limit))
    }

    async fn outbox_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<mfa_core::store::OutboxMessage>, StoreError> {
        dispatch!(self, s => s.outbox_due(now, limit))
    }

    async fn outbox_delivered(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        dispatch!(self, s => s.outbox_delivered(id, now))
    }

    async fn outbox_retry(&self, id: &str, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        dispatch!(self, s => s.outbox_retry(id, next_attempt_at))
    }
}
