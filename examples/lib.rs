//! Runnable examples of mfa-rs; see the `[[example]]` entries of this crate's manifest.
//!
//! Run one with `cargo run --example NAME` from anywhere in the workspace.
#![forbid(unsafe_code)]
