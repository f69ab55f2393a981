//! Integration tests of the store backends.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

mod any;
mod broken;
mod journal;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(all(feature = "redis", feature = "postgres", feature = "sqlite"))]
mod redis_cluster;
#[cfg(all(feature = "redis", feature = "postgres", feature = "sqlite"))]
mod redis_faults;
#[cfg(all(feature = "redis", feature = "postgres", feature = "sqlite"))]
mod redis_hot;
#[cfg(feature = "sqlite")]
mod sqlite;
mod support;
mod verify;
