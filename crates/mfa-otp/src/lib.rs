#![doc = include_str!("../README.md")]
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
