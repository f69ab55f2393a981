//! Out-of-band factors against their primitive floors, in the same run:
//! - code verification (`OobFactor::verify_code`, right and wrong code, and the
//!   attempt step before it) against one bare HMAC-SHA-256 over an input of the same
//!   size (`hmac_floor`);
//! - push-response verification (`PushFactor::record_response` on a decoded answer,
//!   and decoding from base64url) against one bare ES256 verification of a message of
//!   the same length (`es256_floor`).
//!
//! Run with `cargo bench -p mfa-benches --bench oob -- --warm-up-time 1 --measurement-time 3`.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, clippy::indexing_slicing, reason = "benchmark")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use mfa_core::{Channel, Factor, KeyId, Keyring, OsRandom, SecretBytes, StartOptions, Timestamp};
use mfa_oob::testkit::SoftwareDevice;
use mfa_oob::{
    Destination, EnrollmentChallenge, OobConfig, OobFactor, PushFactor, PushResponse, SendLimits,
    Templates,
};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use sha2::Sha256;

const KEY: [u8; 32] = [0x42; 32];
const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

fn codes(c: &mut Criterion) {
    let mut group = c.benchmark_group("oob/code");
    let limits = SendLimits::new().with_allowed_country_codes([1]).unwrap();
    let config =
        OobConfig::new(Templates::new("Bench", "example.com").unwrap()).with_limits(limits);
    let keys = Keyring::new(KeyId::new("k1").unwrap(), SecretBytes::from(KEY.to_vec())).unwrap();
    let f = OobFactor::new(keys, config);
    let dest = Destination::parse(Channel::Sms, "+12015550123", None).unwrap();
    let record = f.enroll(Channel::Sms, dest).unwrap();
    let (mut ch, state) = f
        .start(Some(&record), &StartOptions::new(), NOW, &mut OsRandom)
        .unwrap();
    let code = ch.take_message().unwrap().expose_code().to_owned();
    let begun = f.begin_code_attempt(&state, NOW).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };

    group.bench_function("verify_ok", |b| {
        b.iter(|| {
            f.verify_code(black_box(&record), black_box(&begun), black_box(&code), NOW)
                .unwrap()
        })
    });
    group.bench_function("verify_wrong", |b| {
        b.iter(|| {
            f.verify_code(black_box(&record), black_box(&begun), black_box(wrong), NOW)
                .unwrap_err()
        })
    });
    group.bench_function("begin_attempt", |b| {
        b.iter(|| f.begin_code_attempt(black_box(&state), NOW).unwrap())
    });
    // The floor: one HMAC-SHA-256 over what the scheme hashes (domain 28, nonce 16,
    // kind 1, length 2, E.164 12, code 6).
    let input = [b'1'; 28 + 16 + 1 + 2 + 12 + 6];
    group.bench_function("hmac_floor", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&KEY).unwrap();
            mac.update(black_box(&input));
            mac.finalize().into_bytes()
        })
    });
    group.finish();
}

fn push(c: &mut Criterion) {
    let mut group = c.benchmark_group("oob/push");
    let push = PushFactor::default();
    let device = SoftwareDevice::new("bench", "token", &mut OsRandom).unwrap();
    let enroll = EnrollmentChallenge::generate(&mut OsRandom).unwrap();
    let record = push
        .enroll(&enroll, &device.enrollment_request(&enroll), NOW)
        .unwrap();
    let (mut ch, state) = push
        .start(Some(&record), &StartOptions::new(), NOW, &mut OsRandom)
        .unwrap();
    let n = ch.take_notification().unwrap();
    let response = device.approve(&n, ch.number(), NOW).unwrap();
    let wire = response.to_base64url();

    group.bench_function("record_response", |b| {
        b.iter(|| {
            push.record_response(
                black_box(&record),
                black_box(&state),
                black_box(&response),
                NOW,
            )
            .unwrap()
        })
    });
    group.bench_function("decode_and_record", |b| {
        b.iter(|| {
            let r = PushResponse::from_base64url(black_box(&wire)).unwrap();
            push.record_response(&record, &state, &r, NOW).unwrap()
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| PushResponse::from_base64url(black_box(&wire)).unwrap())
    });
    // The floor: one ES256 verification of a message as long as the signed bytes.
    let key = p256::ecdsa::SigningKey::from_slice(&KEY).unwrap();
    let vk = *key.verifying_key();
    let msg = response.signed_bytes();
    let sig: p256::ecdsa::Signature = key.sign(&msg);
    group.bench_function("es256_floor", |b| {
        b.iter(|| vk.verify(black_box(&msg), black_box(&sig)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, codes, push);
criterion_main!(benches);
