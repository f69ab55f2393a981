#![doc = include_str!("../README.md")]
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
