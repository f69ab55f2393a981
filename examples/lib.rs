//! Runnable examples of mfa-rs; see the `[[example]]` entries of this crate's manifest.
//!
//! Run one with `cargo run --example NAME` from anywhere in the workspace.
#![forbid(unsafe_code)]

pub mod tool;

/// The top-level README's code blocks, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
