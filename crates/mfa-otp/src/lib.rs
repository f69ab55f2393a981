//! # mfa-otp: HOTP (RFC 4226) and TOTP (RFC 6238)
//!
//! One-time passwords that are complete, fast and hard to misuse:
//!
//! - **HOTP and TOTP** with HMAC-SHA-1, SHA-256 and SHA-512, 6 to 10 digits, any period
//!   of at least a second and any `T0` ([`Hotp`], [`Totp`]).
//! - **Verification returns what to store**: TOTP returns the matched step and refuses
//!   every step at or before the last accepted one (RFC 6238 §5.2, no replay); HOTP
//!   returns the next counter, with a look-ahead window and a two-code resync
//!   (RFC 4226 §7.4).
//! - **Checked arithmetic**: `t = 0` with a past window, times before `T0`, counters
//!   near `u64::MAX`, times past 2038 and 2106 give answers or typed errors, never a
//!   panic or a wrap.
//! - **Fast and constant-time**: the HMAC key schedule runs once per key and each step
//!   clones the keyed state; every step of the window is compared, in constant time.
//! - **Secrets** ([`Secret`]) are drawn from a [`SecureRandom`](mfa_core::SecureRandom)
//!   (20 bytes), refused under 128 bits except through `danger_` constructors, zeroized
//!   and never printed. Base32 input is read as tolerantly as authenticator apps read it.
//! - **otpauth:// URIs** ([`OtpAuthUri`]) built and parsed, with typed errors; QR codes
//!   as SVG or terminal text with the `qr` feature.
//! - **[`mfa_core::Factor`]** for both ([`TotpFactor`], [`HotpFactor`]), so the `mfa`
//!   service stores the updated record with a compare-and-swap. Failed verifications
//!   are the facade's own [`Rejected`] with a log-only [`RejectReason`] (re-exported
//!   here), and every [`Error`] converts into [`mfa_core::Error`] variant by variant.
//!
//! ## Enrolling and verifying a TOTP factor
//!
#![cfg_attr(feature = "std", doc = "```")]
#![cfg_attr(not(feature = "std"), doc = "```ignore")]
//! use mfa_core::{Factor, OsRandom, Timestamp};
//! use mfa_otp::{TotpFactor, TotpParams, TotpRecord};
//!
//! # fn main() -> Result<(), mfa_otp::Error> {
//! // 1. A new record with a fresh 160-bit secret from the OS.
//! let record = TotpRecord::generate(TotpParams::default(), &mut OsRandom)?;
//!
//! // 2. The URI to show as a QR code (`uri.to_qr_svg()` with the `qr` feature).
//! let uri = record.otpauth_uri("ACME Co", "jane@example.com")?;
//! assert!(uri.to_uri_string().starts_with("otpauth://totp/ACME%20Co:jane@example.com?secret="));
//!
//! // 3. The user types the code their app shows (computed here in its place).
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let code = record.totp().code_at(now)?;
//!
//! // 4. Verify it; store `verified.record` (with a compare-and-swap) to confirm the
//! //    enrollment and to stop the same code from working twice.
//! let verified = TotpFactor::default().verify(&record, &(), code.as_str(), now, &mut OsRandom)?;
//! assert_eq!(verified.details, 1_700_000_000 / 30); // the matched step
//! assert_eq!(verified.record.last_step, Some(verified.details));
//!
//! // The same code against the updated record is a replay.
//! let replay = TotpFactor::default().verify(&verified.record, &(), code.as_str(), now, &mut OsRandom);
//! assert!(replay.unwrap_err().is_rejection());
//! # Ok(())
//! # }
//! ```
//!
//! Without `mfa-core`'s trait, the same in plain calls: [`Totp::verify`] takes the code,
//! `now`, a [`Window`] and the last accepted step, and returns the matched step.
//!
//! ## Features
//!
//! | feature | default | what it adds | risk |
//! | --- | --- | --- | --- |
//! | `std` | yes | `mfa-core`'s `std` feature (`OsRandom`, `SystemClock`) and `std` in `thiserror` | none |
//! | `qr` | no | `OtpAuthUri::to_qr_svg` and `to_qr_terminal` (the `qrcode` crate) | the picture holds the secret: serve it to the enrolling user only |
//!
//! Without `std` the crate is `no_std` + `alloc` and loses nothing of its own: HOTP,
//! TOTP, secrets (generated from any [`SecureRandom`](mfa_core::SecureRandom)), base32,
//! URIs, the `Factor` implementations and the conversion into [`mfa_core::Error`], over
//! `mfa-core` built without `std`. CI builds it with
//! `cargo build -p mfa-otp --no-default-features`.
//!
//! ## Dependencies
//!
//! `mfa-core` (the facade, without its `std` feature unless ours is on); `hmac`, `sha1`, `sha2` (RustCrypto, with their `zeroize` features so keyed states
//! are wiped), `subtle` for constant-time comparison, `zeroize`, `serde`, `thiserror`;
//! `base32` (`no_std` + `alloc`) for RFC 4648 itself, the crate DESIGN.md names, behind
//! a normalisation of our own that reads the spellings authenticator apps accept (any
//! case, spaces, hyphens, missing or extra `=`) and names the first bad character, and
//! that calls it only in ways that never leave a copy of a key in freed memory;
//! `qrcode` for the `qr` feature, the most used pure-Rust QR encoder.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod base32;
mod code;
mod error;
mod factor;
pub mod hazmat;
mod hotp;
mod params;
#[cfg(feature = "qr")]
mod qr;
mod secret;
mod totp;
mod uri;

pub use code::Code;
pub use error::{Error, RejectReason, Rejected, SecretError};
pub use factor::{HotpFactor, TotpFactor};
pub use hotp::{Hotp, HotpParams, HotpRecord};
pub use params::{Algorithm, Digits, Period, UnknownAlgorithm};
pub use secret::Secret;
pub use totp::{Totp, TotpParams, TotpRecord, Window};
pub use uri::{OtpAuthUri, OtpKind, UriError};

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
