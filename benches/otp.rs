//! TOTP generation and verification (window ±1) with HMAC-SHA-1, SHA-256 and SHA-512:
//! mfa-otp against totp-rs in the same group, and against the floor, three HMACs from a
//! precomputed keyed state (the least work any ±1 verifier must do).
//!
//! Run with `cargo bench -p mfa-benches --bench otp -- --warm-up-time 1 --measurement-time 3`.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, reason = "benchmark")]

use mfa_core::Timestamp;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::Hmac;
use hmac::digest::KeyInit as _;
use mfa_otp::{Algorithm, Secret, Totp, TotpParams, Window};

/// The RFC 6238 seeds, one per hash.
const SEEDS: [(Algorithm, &[u8]); 3] = [
    (Algorithm::Sha1, b"12345678901234567890"),
    (Algorithm::Sha256, b"12345678901234567890123456789012"),
    (
        Algorithm::Sha512,
        b"1234567890123456789012345678901234567890123456789012345678901234",
    ),
];
const NOW: u64 = 1_700_000_000;

fn peer(algorithm: Algorithm, seed: &[u8]) -> totp_rs::Totp {
    let alg = match algorithm {
        Algorithm::Sha1 => totp_rs::Algorithm::SHA1,
        Algorithm::Sha256 => totp_rs::Algorithm::SHA256,
        Algorithm::Sha512 => totp_rs::Algorithm::SHA512,
    };
    totp_rs::Builder::new()
        .with_algorithm(alg)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(seed.to_vec())
        .build()
        .unwrap()
}

/// Three HMACs of the ±1 window from a keyed state computed once.
fn floor<M: hmac::Mac + Clone>(keyed: &M, step: u64) {
    for s in [step - 1, step, step + 1] {
        let mut mac = keyed.clone();
        mac.update(&s.to_be_bytes());
        black_box(mac.finalize().into_bytes());
    }
}

fn bench(c: &mut Criterion) {
    for (algorithm, seed) in SEEDS {
        let name = algorithm.as_str().to_lowercase();
        let secret = Secret::from_bytes(seed.to_vec()).unwrap();
        let params = TotpParams {
            algorithm,
            ..TotpParams::default()
        };
        let ours = Totp::new(&secret, params);
        let theirs = peer(algorithm, seed);
        let step = ours.step_at(Timestamp::from_unix_secs(NOW)).unwrap();
        // A code outside the ±1 window (and equal to none inside it): every verifier
        // must check all three steps before refusing it.
        let wrong = (5..)
            .map(|k| ours.code_for_step(step + k))
            .find(|c| (step - 1..=step + 1).all(|s| ours.code_for_step(s) != *c))
            .unwrap();
        assert!(
            ours.verify(
                wrong.as_str(),
                Timestamp::from_unix_secs(NOW),
                Window::default(),
                None
            )
            .is_err()
        );
        assert!(theirs.check(wrong.as_str(), NOW).is_none());
        assert_eq!(
            ours.code_at(Timestamp::from_unix_secs(NOW))
                .unwrap()
                .as_str(),
            theirs.generate(NOW).to_string()
        );

        let mut g = c.benchmark_group(format!("totp_generate/{name}"));
        g.bench_function("mfa-otp", |b| {
            b.iter(|| {
                ours.code_at(Timestamp::from_unix_secs(black_box(NOW)))
                    .unwrap()
            })
        });
        g.bench_function("totp-rs", |b| b.iter(|| theirs.generate(black_box(NOW))));
        g.finish();

        let mut g = c.benchmark_group(format!("totp_verify_reject_pm1/{name}"));
        g.bench_function("mfa-otp", |b| {
            b.iter(|| {
                ours.verify(
                    black_box(wrong.as_str()),
                    black_box(Timestamp::from_unix_secs(NOW)),
                    Window::default(),
                    None,
                )
            })
        });
        g.bench_function("mfa-otp keyed per call", |b| {
            b.iter(|| {
                Totp::new(&secret, params).verify(
                    black_box(wrong.as_str()),
                    black_box(Timestamp::from_unix_secs(NOW)),
                    Window::default(),
                    None,
                )
            })
        });
        g.bench_function("totp-rs", |b| {
            b.iter(|| theirs.check(black_box(wrong.as_str()), black_box(NOW)))
        });
        match algorithm {
            Algorithm::Sha1 => {
                let keyed = Hmac::<sha1::Sha1>::new_from_slice(seed).unwrap();
                g.bench_function("floor (3 HMACs)", |b| {
                    b.iter(|| floor(&keyed, black_box(step)))
                });
            }
            Algorithm::Sha256 => {
                let keyed = Hmac::<sha2::Sha256>::new_from_slice(seed).unwrap();
                g.bench_function("floor (3 HMACs)", |b| {
                    b.iter(|| floor(&keyed, black_box(step)))
                });
            }
            Algorithm::Sha512 => {
                let keyed = Hmac::<sha2::Sha512>::new_from_slice(seed).unwrap();
                g.bench_function("floor (3 HMACs)", |b| {
                    b.iter(|| floor(&keyed, black_box(step)))
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
