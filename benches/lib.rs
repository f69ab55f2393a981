//! Criterion benches of mfa-rs against peer crates: one file per area, each a
//! `[[bench]]` with `harness = false`. Run with `cargo bench -p mfa-benches`.
#![forbid(unsafe_code)]
