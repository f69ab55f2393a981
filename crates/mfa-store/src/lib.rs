//! # mfa-store: where mfa-rs keeps its state
//!
//! Backends for the store traits of [`mfa_core::store`]. Every backend passes the same
//! conformance suite (`mfa_core::testkit::conformance`), including races in which many
//! tasks try to take one challenge or compare-and-swap one record version and exactly one
//! succeeds.
//!
//! | backend | status | use it for |
//! | --- | --- | --- |
//! | [`MemoryStore`] | available | tests, examples, single-process services that may forget MFA state on restart |
//! | SQLite, PostgreSQL | planned | durable state; PostgreSQL for several service instances |
//!
//! ```
//! use mfa_core::store::{ChallengeId, ChallengeStore, FactorRecord, FactorStore, PendingChallenge, Version};
//! use mfa_core::{FactorId, FactorKind, OsRandom, Timestamp, UserId};
//! use mfa_store::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryStore::new();
//! let user = UserId::new("alice")?;
//! let record = FactorRecord {
//!     id: FactorId::new("totp-1")?,
//!     user: user.clone(),
//!     kind: FactorKind::Totp,
//!     label: "phone".into(),
//!     confirmed: true,
//!     created_at: Timestamp::from_unix_secs(0),
//!     last_used_at: None,
//!     data: b"{...}".to_vec(),
//! };
//! let v1 = store.insert_factor(record.clone()).await?;
//! // Two requests loaded version 1; only the first compare-and-swap wins.
//! assert!(store.update_factor_if_version(record.clone(), v1).await.is_ok());
//! assert!(store.update_factor_if_version(record, v1).await.is_err());
//!
//! // A challenge is taken once.
//! let id = ChallengeId::generate(&mut OsRandom)?;
//! let expires_at = Timestamp::from_unix_secs(120);
//! store.put_challenge(PendingChallenge { id: id.clone(), user, factor: None, data: vec![], expires_at }).await?;
//! assert!(store.take_challenge(&id, Timestamp::from_unix_secs(60)).await?.is_some());
//! assert!(store.take_challenge(&id, Timestamp::from_unix_secs(60)).await?.is_none());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod memory;

pub use memory::MemoryStore;
