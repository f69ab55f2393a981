#![doc = include_str!("../README.md")]
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
mod keyring;
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
pub use keyring::{KeyId, Keyring};
pub use method::{AuthMethod, FactorCategory};
#[cfg(feature = "std")]
pub use random::OsRandom;
pub use random::{RandomError, SecureRandom};
pub use secret::{Redacted, SecretBytes};
pub use verify::{
    Attempt, Checked, Purpose, VerifiedFactor, check_loaded, verify_factor, verify_loaded,
};
