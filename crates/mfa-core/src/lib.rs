//! # mfa-core: the facade of mfa-rs
//!
//! Every crate of mfa-rs speaks the words defined here, and nothing else lives here: no
//! factor logic, no storage engine, no policy. A service that only needs to *store* MFA
//! state, or a team writing its own factor, depends on this crate alone.
//!
//! | word | what it is |
//! | --- | --- |
//! | [`UserId`], [`FactorId`] | opaque identifiers of a user and of one enrolled factor |
//! | [`FactorKind`] | TOTP, HOTP, WebAuthn (platform or cross-platform), recovery code, SMS, email, voice, push |
//! | [`AuthMethod`] | every RFC 8176 `amr` value, with the properties policy needs |
//! | [`Factor`] | the one trait a factor implements: start a challenge, verify a response |
//! | [`store`] | async store traits: versioned factors with unique lookup keys, multi-step challenges, failure counters, remembered devices, per-user generations and an atomic reset |
//! | [`verify_factor`], [`Attempt`] | the one verification loop: load, decode, verify purely, compare-and-swap; a lost race is a replay |
//! | [`RecordCodec`], [`JsonCodec`] | how records become the bytes a store keeps (and where a service's encryption goes) |
//! | [`Clock`], [`Timestamp`] | injected time ([`SystemClock`], [`FixedClock`]) |
//! | [`SecureRandom`] | injected randomness ([`OsRandom`]) |
//! | [`SecretBytes`] | zeroized, redacted, constant-time-compared secret bytes |
//! | [`Error`], [`Rejected`] | typed errors; one opaque "verification failed" with a reason for logs only |
//!
//! ## The main design choice: pure verification plus compare-and-swap storage
//!
//! A factor's verification is a *pure function*: it takes the stored record, the user's
//! response, `now` and a random source, and returns either an error or a **new record**
//! (the next HOTP counter, the last accepted TOTP step, the new WebAuthn sign count, the
//! remaining recovery codes). It never reads a clock, touches a database or keeps state.
//! The service then writes the new record with
//! [`FactorStore::update_factor_if_version`](store::FactorStore::update_factor_if_version):
//! a compare-and-swap on the version it loaded. If two requests race with the same code,
//! both may verify, but only one CAS succeeds; the loser is a replay and is rejected,
//! never retried into a second success. [`verify_factor`] is that loop, written once. This holds across processes when the store is
//! shared (PostgreSQL), because the atomicity lives in the store, not in memory.
//!
//! **The rejected alternative** is the one most MFA libraries take: a stateful verifier
//! object that owns its storage (`totp.check_and_update(&mut db, code)`), or that holds a
//! lock around "read counter, verify, write counter". It is simpler to call, but it ties
//! every factor to one storage model, makes replay protection depend on the caller's
//! locking discipline (a process-local mutex does nothing for two service instances), and
//! makes verification impossible to fuzz or benchmark without I/O. Splitting the pure
//! check from the atomic write costs one extra call for users with their own storage, and
//! buys deterministic tests, fuzzable verifiers and replay safety that does not depend on
//! the deployment.
//!
//! ## Example
//!
//! ```
//! use mfa_core::{AuthMethod, Clock, FactorKind, FixedClock, SecretBytes, Timestamp, UserId};
//!
//! # fn main() -> Result<(), mfa_core::Error> {
//! let user = UserId::new("alice@example.com")?;
//! let clock = FixedClock::new(Timestamp::from_unix_secs(1_700_000_000));
//! clock.advance(std::time::Duration::from_secs(30));
//! assert_eq!(clock.now().unix_secs(), 1_700_000_030);
//!
//! // RFC 8176 values with the properties policy needs.
//! let kind: FactorKind = "webauthn-platform".parse()?;
//! assert!(kind.is_webauthn());
//! assert!(AuthMethod::Hwk.is_phishing_resistant());
//! assert!(AuthMethod::Sms.is_restricted());
//!
//! // Secrets never print and compare in constant time.
//! let secret = SecretBytes::from(vec![1u8, 2, 3]);
//! assert_eq!(format!("{secret:?}"), "SecretBytes([redacted])");
//! assert_eq!(secret, SecretBytes::from(vec![1u8, 2, 3]));
//! # let _ = user;
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! | feature | what it adds | risk |
//! | --- | --- | --- |
//! | `std` (default) | [`SystemClock`], [`OsRandom`], `Timestamp: From<SystemTime>`; without it the crate is `no_std` + `alloc` | none |
//! | `testkit` (implies `std`) | [`testkit`]: the store conformance suite every backend runs, a seeded RNG | test-only randomness; never use `SeededRandom` in production |
// `no_std` + `alloc` unless testing (unit tests use std's prelude and macros); the
// `std` feature adds what needs the operating system.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod clock;
mod codec;
mod error;
mod factor;
mod id;
mod method;
mod random;
mod secret;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
mod verify;

#[cfg(feature = "std")]
pub use clock::SystemClock;
pub use clock::{Clock, FixedClock, Timestamp};
#[cfg(feature = "std")]
pub use codec::JsonCodec;
pub use codec::{DataOwner, RecordCodec};
pub use error::{Error, InvalidInput, RejectReason, Rejected, Result};
pub use factor::{Channel, Factor, SignInContext, StartOptions, UserVerification, Verified};
pub use id::{Attachment, FactorId, FactorKind, UserId, WebAuthnHint};
pub use method::{AuthMethod, FactorCategory};
#[cfg(feature = "std")]
pub use random::OsRandom;
pub use random::{RandomError, SecureRandom};
pub use secret::{Redacted, SecretBytes};
pub use verify::{Attempt, Purpose, VerifiedFactor, verify_factor};
