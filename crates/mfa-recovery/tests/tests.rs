//! Integration tests of mfa-recovery: one binary, one module per area.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

#[cfg(feature = "argon2")]
mod argon2_mode;
mod external;
mod keys;
mod normalise;
mod rotating;
mod set;
