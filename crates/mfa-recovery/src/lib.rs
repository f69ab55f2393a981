//! # mfa-recovery: recovery codes that are safe at rest and kind to people
//!
//! The factor that keeps a user who lost their phone from being locked out, without
//! becoming the weakest door. It implements [`mfa_core::Factor`].
//!
//! ## Quick start
//!
//! Generate a set, show the codes once, store the record, verify-and-consume one:
//!
//! ```
//! use mfa_core::{OsRandom, SecretBytes};
//! use mfa_core::{KeyId, Keyring};
//! use mfa_recovery::{RecoveryFactor, RecoveryConfig};
//!
//! # fn main() -> Result<(), mfa_core::Error> {
//! // The pepper lives outside the database (secrets manager, env var), never in it.
//! let pepper = SecretBytes::generate(32, &mut OsRandom)?;
//! let factor = RecoveryFactor::new(Keyring::new(KeyId::new("k1")?, pepper)?, RecoveryConfig::default())?;
//!
//! let (codes, record) = factor.generate(&mut OsRandom)?.into_parts();
//! for code in &codes {
//!     println!("{}", *code.expose_grouped()); // ABCD-EFGH-JKMN-PQRS-TVWX-YZ01, shown once
//! }
//! // store `record` (serde); it holds only hashes
//!
//! let typed = codes[3].expose_grouped().to_lowercase(); // people type what they like
//! let ok = factor.verify_code(&record, &typed, &mut OsRandom)?;
//! assert_eq!(ok.details.remaining, 9);
//! // write ok.record with a compare-and-swap; the code is gone from it
//! assert!(factor.verify_code(&ok.record, &typed, &mut OsRandom).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! A service that speaks only the facade calls [`Factor::verify`](mfa_core::Factor::verify)
//! instead, and stores `ok.record` with
//! [`FactorStore::update_factor_if_version`](mfa_core::store::FactorStore::update_factor_if_version).
//!
//! ## Two modes
//!
//! | mode | how it is used up | choose it when |
//! | --- | --- | --- |
//! | [`RecoveryMode::Set`] (default: 10 codes) | each code once; [`RecoveryFactor::regenerate`] replaces the whole set | users print or save a sheet (GitHub, Kratos); the usual choice |
//! | [`RecoveryMode::Rotating`] | using the code consumes it and issues the next in the same record update; the successor is in [`RecoveryDetails::next_code`], to show once | you can show a new code at every use and want a single thing for the user to keep (NIST SP 800-63B rev4 §4.2.1.1 account recovery) |
//!
//! ```
//! # use mfa_core::{OsRandom, SecretBytes};
//! # use mfa_core::{KeyId, Keyring};
//! use mfa_recovery::{RecoveryFactor, RecoveryConfig};
//! # fn main() -> Result<(), mfa_core::Error> {
//! # let keys = Keyring::new(KeyId::new("k1")?, SecretBytes::generate(32, &mut OsRandom)?)?;
//! let factor = RecoveryFactor::new(keys, RecoveryConfig::rotating())?;
//! let (codes, record) = factor.generate(&mut OsRandom)?.into_parts();
//! let ok = factor.verify_code(&record, codes[0].expose_secret(), &mut OsRandom)?;
//! let next = ok.details.next_code.as_ref().expect("rotating"); // show once
//! assert!(factor.verify_code(&ok.record, next.expose_secret(), &mut OsRandom).is_ok());
//! assert!(factor.verify_code(&ok.record, codes[0].expose_secret(), &mut OsRandom).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! ## Codes
//!
//! Codes are drawn from the random source the caller passes ([`mfa_core::OsRandom`] in
//! production), one symbol per random byte's low five bits (no modulo bias), in
//! Crockford base32: digits and letters without `I`, `L`, `O`, `U`. Their length is the
//! entropy asked for divided by five ([`CodeFormat::with_entropy_bits`]; default 120
//! bits, 24 symbols shown as six groups of four). Typed input is normalised before
//! hashing ([`RecoveryCode::parse`]): case, whitespace, hyphens and Unicode dashes do
//! not matter, and `O` reads as `0`, `I` and `L` as `1`. A wrong length or character is
//! a [`CodeError`] whose message is safe to show and never repeats the input; it still
//! counts as a failed attempt ([`Error::is_rejection`]).
//!
//! ## Storage: why the hashing is safe
//!
//! Codes are stored only hashed, always keyed with a **pepper** (a server-side key kept
//! outside the database, [`Keyring`]) and bound to a random per-record nonce, so a
//! regenerated set never accepts an old code and equal codes of two users hash
//! differently. NIST SP 800-63B rev4 §3.1.2.1 sets the rule this crate enforces:
//!
//! - **Codes of 112 bits or more: HMAC-SHA-256** ([`Hashing::HmacSha256`], default).
//!   Guessing a 112-bit code offline is out of reach even with the database and the
//!   pepper, so a slow hash would add cost and no safety; without the pepper the tags
//!   are useless to an attacker.
//! - **Codes of 64 to 111 bits: Argon2id** (feature `argon2`,
//!   `Hashing::Argon2id`), salted per code and keyed with the pepper as Argon2's
//!   secret input. The pairing is enforced twice: [`RecoveryFactor::new`] refuses a
//!   short format with the fast hash, and a stored record claiming it does not parse.
//!
//! ## What a verification costs
//!
//! | scheme | expensive hashes per verification | other work |
//! | --- | --- | --- |
//! | HMAC-SHA-256 | exactly **one** HMAC (~0.24 µs), whatever the number of codes | a binary search over the sorted tags (⌈log₂ N⌉ 32-byte comparisons), one constant-time comparison, copying the record without the used tag |
//! | Argon2id | exactly **one** Argon2id evaluation (~36 ms at the default m = 19 MiB, t = 2, p = 1), whatever the input or N | a scan of N two-symbol indexes |
//! | malformed input | none | normalisation only |
//!
//! Generation costs one hash per code (so ten Argon2id evaluations for a set of ten).
//!
//! **How Argon2id stays at one evaluation.** A code of the Argon2id scheme starts with a
//! two-symbol *index*, unique within its set and stored in clear next to that code's
//! salt and hash; the entropy counted (and required to be at least 64 bits) is that of
//! the symbols after it. The index picks the one entry to hash against; when no entry
//! has it, another entry's salt stands in and the result is discarded, so a miss costs
//! what a hit costs. Because the index is not part of the counted entropy, an attacker
//! who learns it (from the database, or from timing) is no closer to any code. The
//! rejected alternative, a short HMAC prefix of the code used as a locator, would give
//! an attacker holding both the database and the pepper a filter that removes as many
//! Argon2id evaluations as the prefix has bits.
//!
//! **Timing.** The HMAC scheme finds the tag by binary search, which is not constant
//! time, and then compares the found tag in constant time. What the search's timing
//! could reveal is how the input's tag orders against the stored tags; but the input's
//! tag is HMAC-SHA-256 under a pepper the attacker does not have, so it is a value they
//! can neither choose nor predict, and learning where it falls says nothing about any
//! code (the same reasoning as the "double HMAC" comparison). Scanning every tag with
//! `subtle` would give the same security at O(N) cost.
//!
//! ## Pepper rotation
//!
//! Records name the [`KeyId`] they were hashed with, and verification uses that key.
//! Add the new key to the [`Keyring`], make it current, and keep the old one while
//! records name it. A rotating record moves to the current key (and the current format
//! and hashing) at its next use. A set cannot be re-hashed, since only the used code is
//! ever seen in clear: [`RecoveryDetails::key_outdated`] and
//! [`RecoveryFactor::needs_rehash`] tell the service to offer regeneration.
//!
//! ## Features
//!
//! | feature | what it adds | risk |
//! | --- | --- | --- |
//! | `argon2` | `Hashing::Argon2id`, `Argon2Params`, `RecoveryConfig::short_codes`: codes of 64 to 111 bits | each verification and each generated code costs an Argon2id evaluation (CPU and memory): rate-limit attempts, as NIST requires for such codes anyway |
//!
//! Dependencies beyond the workspace generation: `argon2` (RustCrypto, optional).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "argon2")]
mod argon;
mod code;
mod config;
mod error;
mod factor;
mod hash;
mod record;

pub use code::{CodeError, MAX_INPUT_LEN, RecoveryCode};
#[cfg(feature = "argon2")]
pub use config::Argon2Params;
pub use config::{CodeFormat, Hashing, RecoveryConfig, RecoveryMode};
pub use error::Error;
pub use factor::{IssuedCodes, RecoveryDetails, RecoveryFactor};

/// The factor's former name (before `TotpFactor`, `HotpFactor` and `WebAuthnFactor`
/// set the naming pattern).
#[deprecated(since = "0.1.0", note = "renamed to `RecoveryFactor`")]
pub type RecoveryCodes = RecoveryFactor;
pub use record::{RecordMode, RecoveryRecord};
