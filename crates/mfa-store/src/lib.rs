//! # mfa-store: where mfa-rs keeps its state
//!
//! Backends for the store traits of [`mfa_core::store`]. Every backend passes the same
//! conformance suite (`mfa_core::testkit::conformance`), including races in which 32
//! tasks released together try to take one challenge, compare-and-swap one version,
//! claim one lookup key or outrun a reset, and exactly the promised outcome happens; the
//! SQL and Redis backends also pass 64-way races through two separate instances (two
//! pools, two connections, two clients).
//!
//! | backend | feature | URL | use it for |
//! | --- | --- | --- | --- |
//! | [`MemoryStore`] | (always) | `memory://` | tests, examples, single-process services that may forget MFA state on restart |
//! | `SqliteStore` | `sqlite` | `sqlite://PATH` | durable state in one file, for one instance (the web demo's and `mfactl`'s default) |
//! | `PostgresStore` | `postgres` | `postgres://…` | durable state shared by several instances |
//! | `RedisStore` | `redis` | with [`Split`]: [`AnyStore::open_split`], `redis://…` or `redis+cluster://h:p,h:p` | hot state (challenges, failure counters) next to a durable store, on one server or a Redis Cluster |
//!
//! The schema, migrations, composition and speed figures are in the crate README.
//!
//! ## Why these crates
//!
//! * **SQLite: `rusqlite`** with `bundled` — SQLite compiled in, so no system library
//!   and one known SQLite version (3.50: `RETURNING`, upserts, `unixepoch()`). It is
//!   synchronous, which is what SQLite is: calls run on tokio's blocking pool
//!   (`spawn_blocking`), never on the executor. No crypto dependencies. (sqlx was the
//!   alternative: async in name, a thread per connection underneath, and a much larger
//!   tree.)
//! * **PostgreSQL: `tokio-postgres` + `deadpool-postgres`** — async, plain SQL with
//!   no database needed at compile time, prepared statements cached per connection (two
//!   round trips per verification). `postgres-protocol` 0.6.12 does SCRAM with our
//!   generation (`hmac` 0.13, `sha2` 0.11, `md-5` 0.11, `rand` 0.10): no second
//!   RustCrypto generation in `Cargo.lock`, where sqlx-postgres would bring `hmac` 0.12
//!   / `sha2` 0.10. deadpool is a small, maintained pool made for it.
//! * **Redis: `redis`** (1.x) with `tokio-comp` and `connection-manager` (reconnects,
//!   response timeouts), `script` (Lua scripts, invoked by `EVALSHA`) and
//!   `cluster-async` (the cluster client: slot map, redirections, failover; it adds
//!   `crc16` for key slots). Its only hash is `sha1_smol` for script ids, not a
//!   security use.
//!
//! Every backend error is [`StoreError::Backend`](mfa_core::store::StoreError::Backend),
//! never a silent success: a store that cannot answer fails the verification (fail
//! closed).
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
//! // Unknown backends are typed errors.
//! assert!(matches!(AnyStore::open("mysql://db").await, Err(mfa_store::OpenError::UnknownScheme(_))));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod any;
pub mod journal;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis_store;
mod split;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(dead_code, reason = "Redis alone uses only the error helpers")
)]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use any::{AnyStore, OpenError};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "redis")]
pub use redis_store::{RedisOptions, RedisStore};
pub use split::{HotStore, Split};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
