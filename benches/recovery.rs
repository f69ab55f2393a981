//! Recovery codes: verify-and-consume against 10 and 100 stored codes (the HMAC mode must
//! not grow with N), the Argon2id mode, and normalisation; the raw `hmac` and `argon2`
//! crates are the peers, so the ratios show what the scheme adds to one primitive call.
//!
//! Run with `cargo bench -p mfa-benches --bench recovery -- --warm-up-time 1 --measurement-time 3`.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, clippy::indexing_slicing, reason = "benchmark")]

use std::hint::black_box;

use argon2::{Algorithm, Argon2, Params, Version};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use mfa_core::{OsRandom, SecretBytes};
use mfa_recovery::{
    Argon2Params, RecoveryCode, RecoveryConfig, RecoveryFactor, RecoveryMode, RecoveryRecord,
};

use mfa_core::{KeyId, Keyring};
use sha2::Sha256;

const PEPPER: [u8; 32] = [0x42; 32];

fn factor(config: RecoveryConfig) -> RecoveryFactor {
    let keys = Keyring::new(
        KeyId::new("k1").unwrap(),
        SecretBytes::from(PEPPER.to_vec()),
    )
    .unwrap();
    RecoveryFactor::new(keys, config).unwrap()
}

/// A set of `n` codes from `f` and the `verify_ok` benchmark on the middle one; the set.
fn verify_ok(
    group: &mut BenchmarkGroup<'_, WallTime>,
    f: &RecoveryFactor,
    n: usize,
) -> RecoveryRecord {
    let (codes, record) = f.generate(&mut OsRandom).unwrap().into_parts();
    let typed = codes[n / 2].expose_grouped();
    group.bench_with_input(BenchmarkId::new("verify_ok", n), &n, |b, _| {
        b.iter(|| {
            f.verify_code(black_box(&record), black_box(&typed), &mut OsRandom)
                .unwrap()
        })
    });
    record
}

fn hmac_mode(c: &mut Criterion) {
    let mut group = c.benchmark_group("recovery/hmac");
    for n in [10usize, 100] {
        let f = factor(RecoveryConfig::default().with_mode(RecoveryMode::set(n).unwrap()));
        let record = verify_ok(&mut group, &f, n);
        let wrong = "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01";
        group.bench_with_input(BenchmarkId::new("verify_wrong", n), &n, |b, _| {
            b.iter(|| {
                f.verify_code(black_box(&record), black_box(wrong), &mut OsRandom)
                    .unwrap_err()
            })
        });
    }
    // Peer: one raw HMAC-SHA-256 over the same bytes the scheme hashes.
    let input = [b'A'; 28 + 16 + 24];
    group.bench_function("raw_hmac_sha256", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&PEPPER).unwrap();
            mac.update(black_box(&input));
            mac.finalize().into_bytes()
        })
    });
    let f = factor(RecoveryConfig::rotating());
    let (codes, record) = f.generate(&mut OsRandom).unwrap().into_parts();
    group.bench_function("verify_rotating", |b| {
        b.iter(|| {
            f.verify_code(black_box(&record), codes[0].expose_secret(), &mut OsRandom)
                .unwrap()
        })
    });
    group.bench_function("parse", |b| {
        b.iter(|| RecoveryCode::parse(black_box(" abcd-efgh-jkmn-pqrs-tvwx-yzoi ")).unwrap())
    });
    group.finish();
}

fn argon2_mode(c: &mut Criterion) {
    let mut group = c.benchmark_group("recovery/argon2id");
    group.sample_size(10);
    for n in [10usize, 100] {
        let f = factor(
            RecoveryConfig::short_codes(Argon2Params::default())
                .with_mode(RecoveryMode::set(n).unwrap()),
        );
        verify_ok(&mut group, &f, n);
    }
    // Peer: one raw Argon2id evaluation with the same (default) parameters.
    let argon = Argon2::new_with_secret(
        &PEPPER,
        Algorithm::Argon2id,
        Version::V0x13,
        Params::default(),
    )
    .unwrap();
    group.bench_function("raw_argon2id", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            argon
                .hash_password_into(
                    black_box(b"mfa-recovery v1 argon2id\0................ABCDEFGHJKMNPQ"),
                    &[7u8; 16],
                    &mut out,
                )
                .unwrap();
            out
        })
    });
    group.finish();
}

criterion_group!(benches, hmac_mode, argon2_mode);
criterion_main!(benches);
