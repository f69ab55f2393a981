//! Integration tests of mfa-otp: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(clippy::panic, clippy::indexing_slicing, reason = "tests")]
#![allow(clippy::cast_possible_truncation, reason = "tests")]
#![allow(clippy::type_complexity, reason = "tests")]

mod crosscheck;
mod edge;
#[cfg(feature = "qr")]
mod qr;
mod support;
mod uri;
mod vectors;
