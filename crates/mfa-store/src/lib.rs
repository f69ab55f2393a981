//! # mfa-store: where mfa-rs keeps its state
//!
//! Backends for the store traits of [`mfa_core::store`]. Every backend passes the same
//! conformance suite (`mfa_core::testkit::conformance`), including races in which 32
//! tasks released together try to take one challenge, compare-and-swap one version,
//! claim one lookup key or outrun a reset, and exactly the promised outcome happens.
//!
//! | backend | URL | status | use it for |
//! | --- | --- | --- | --- |
//! | [`MemoryStore`] | `memory://` | available | tests, examples, single-process services that may forget MFA state on restart |
//! | SQLite | `sqlite://…` | planned | durable state for one instance |
//! | PostgreSQL | `postgres://…` | planned | durable state shared by several instances |
//! | Redis | `redis://…` | planned | hot state (challenges, counters) |
//!
//! A binary that picks its backend from configuration opens an [`AnyStore`]:
//! [`AnyStore::open`] parses the URL's scheme and refuses, with a typed
//! [`OpenError`], a scheme it does not know or a backend not compiled in.
//!
//! ```
//! use mfa_core::store::{ChallengeId, ChallengeOwner, ChallengeStore, FactorRecord, FactorStore};
//! use mfa_core::store::{PendingChallenge, RecordData};
//! use mfa_core::{FactorId, FactorKind, OsRandom, Timestamp, UserId};
//! use mfa_store::AnyStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = AnyStore::open("memory://").await?;
//! let user = UserId::new("alice")?;
//! let record = FactorRecord::new(
//!     user.clone(),
//!     FactorId::new("totp-1")?,
//!     FactorKind::Totp,
//!     RecordData::plain(b"{...}".to_vec()),
//!     Timestamp::from_unix_secs(0),
//! );
//! let v1 = store.insert_factor(record.clone()).await?;
//! // Two requests loaded version 1; only the first compare-and-swap wins.
//! assert!(store.update_factor_if_version(record.clone(), v1).await.is_ok());
//! assert!(store.update_factor_if_version(record, v1).await.is_err());
//!
//! // A challenge is taken once, and only by its owner.
//! let id = ChallengeId::generate(&mut OsRandom)?;
//! let owner = ChallengeOwner::User(user);
//! let expires_at = Timestamp::from_unix_secs(120);
//! let data = RecordData::plain(b"{}".to_vec());
//! store.put_challenge(PendingChallenge::new(id.clone(), owner.clone(), data, expires_at)).await?;
//! let now = Timestamp::from_unix_secs(60);
//! assert!(store.take_challenge(&id, &ChallengeOwner::Usernameless, now).await?.is_none());
//! assert!(store.take_challenge(&id, &owner, now).await?.is_some());
//! assert!(store.take_challenge(&id, &owner, now).await?.is_none());
//!
//! // Unknown or not-compiled-in backends are typed errors.
//! assert!(matches!(AnyStore::open("sqlite://mfa.db").await, Err(mfa_store::OpenError::NotCompiledIn { .. })));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod any;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis_store;
mod split;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use any::{AnyStore, OpenError};
pub use memory::MemoryStore;
pub use split::{HotStore, Split};
#[cfg(feature = "redis")]
pub use redis_store::{RedisOptions, RedisStore};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
