#![doc = include_str!("../README.md")]
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
