//! Criterion benches of mfa-rs against peer crates: one file per area, each a
//! `[[bench]]` with `harness = false`. Run with `cargo bench -p mfa-benches`.
//!
//! What more than one bench sets up lives here, once.
#![forbid(unsafe_code)]

pub mod assertion;
