//! Runs the WebAuthn conformance cases of a directory (format `mfa-webauthn-case/1`)
//! through mfa-webauthn and prints one JSON line per case, then
//! `N passed, M failed, K not supported` (cases that ask for a trust-anchor check this
//! crate cannot make yet are not supported, never passed).
//!
//! Run with `cargo run --release --example webauthn-conformance -- DIR [--aws-lc]`.
//! Exits non-zero when any case with an `expected_outcome` disagrees. An example, so it
//! prints errors plainly and exits instead of recovering.

use std::process::ExitCode;

use mfa_webauthn::Backend;
use mfa_webauthn::conformance::{Tally, run_dir};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: webauthn-conformance DIR [--aws-lc]");
        return ExitCode::from(2);
    };
    let backend = if args.iter().any(|a| a == "--aws-lc") {
        aws_lc_backend()
    } else {
        Backend::RustCrypto
    };
    let results = match run_dir(std::path::Path::new(dir), backend) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for r in &results {
        println!("{}", r.line());
    }
    let tally = Tally::of(&results);
    println!("{tally}");
    if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(feature = "aws-lc")]
fn aws_lc_backend() -> Backend {
    Backend::AwsLc
}

#[cfg(not(feature = "aws-lc"))]
fn aws_lc_backend() -> Backend {
    eprintln!("built without the aws-lc feature; using the default backend");
    Backend::RustCrypto
}
