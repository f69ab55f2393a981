//! Recovery codes: generate, normalise, hash, verify-and-consume, rotate.
//!
//! Not yet implemented: see the README's status table.
#![forbid(unsafe_code)]
