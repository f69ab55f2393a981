//! Integration tests of mfa-oob: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "tests"
)]

mod codes;
mod common;
mod limits;
mod phone_crosscheck;
mod properties;
mod push;
mod redaction;
