//! Integration tests of the service.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failed unwrap is a failed test"
)]

mod at_rest;
mod common;
mod concurrency;
mod fail_closed;
mod grace;
mod import;
mod lockout;
mod oob;
mod oob_limits;
mod operations;
mod postgres;
mod raw_tables;
mod service;
mod spans;
mod webauthn;
