//! Integration tests of mfa-policy: decision tables read from `tests/data`, enrollment
//! and failure tables, document validation, remembered-device tokens.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod assurance;
mod common;
mod decisions;
mod device;
mod documents;
mod enrollment;
mod failures;
