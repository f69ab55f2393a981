//! The ratios of the mfa-otp README, measured so that a busy machine cannot skew them:
//! the contenders run interleaved, in 300 rounds of 2,000 calls each, and each keeps its
//! fastest round. Criterion (`benches/otp.rs`) runs one contender after another, so load
//! from other processes lands on some and not others; the minimum over interleaved
//! rounds is what each costs when undisturbed.
//!
//! Run with `cargo bench -p mfa-benches --bench otp_ratio`; it prints one line per hash.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::cast_precision_loss, reason = "benchmark")]

use mfa_core::Timestamp;
use std::hint::black_box;
use std::time::Instant;

use hmac::Hmac;
use hmac::digest::KeyInit as _;
use mfa_otp::{Algorithm, Secret, Totp, TotpParams, Window};

const NOW: u64 = 1_700_000_000;
const ROUNDS: usize = 300;
const CALLS: u32 = 2_000;

/// Three HMACs of the ±1 window from a keyed state computed once.
fn floor<M: hmac::Mac + Clone>(keyed: &M, step: u64) {
    for s in [step - 1, step, step + 1] {
        let mut mac = keyed.clone();
        mac.update(&s.to_be_bytes());
        black_box(mac.finalize().into_bytes());
    }
}

/// Nanoseconds per call of `f`, over `CALLS` calls.
/// Whether `t` accepts `code` at `NOW` (the default window, no replay floor).
fn accepts(t: &Totp, code: &str) -> bool {
    let now = Timestamp::from_unix_secs(black_box(NOW));
    t.verify(black_box(code), now, Window::default(), None)
        .is_ok()
}

fn per_call(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..CALLS {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(CALLS)
}

fn main() {
    let seeds: [(Algorithm, &[u8], totp_rs::Algorithm); 3] = [
        (
            Algorithm::Sha1,
            b"12345678901234567890",
            totp_rs::Algorithm::SHA1,
        ),
        (
            Algorithm::Sha256,
            b"12345678901234567890123456789012",
            totp_rs::Algorithm::SHA256,
        ),
        (
            Algorithm::Sha512,
            b"1234567890123456789012345678901234567890123456789012345678901234",
            totp_rs::Algorithm::SHA512,
        ),
    ];
    for (algorithm, seed, peer_algorithm) in seeds {
        let secret = Secret::from_bytes(seed.to_vec()).unwrap();
        let params = TotpParams {
            algorithm,
            ..TotpParams::default()
        };
        let ours = Totp::new(&secret, params);
        let theirs = totp_rs::Builder::new()
            .with_algorithm(peer_algorithm)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(seed.to_vec())
            .build()
            .unwrap();
        let step = ours.step_at(Timestamp::from_unix_secs(NOW)).unwrap();
        let wrong = (5..)
            .map(|k| ours.code_for_step(step + k))
            .find(|c| (step - 1..=step + 1).all(|s| ours.code_for_step(s) != *c))
            .unwrap();
        let mut floor_fn: Box<dyn FnMut()> = match algorithm {
            Algorithm::Sha1 => {
                let k = Hmac::<sha1::Sha1>::new_from_slice(seed).unwrap();
                Box::new(move || floor(&k, black_box(step)))
            }
            Algorithm::Sha256 => {
                let k = Hmac::<sha2::Sha256>::new_from_slice(seed).unwrap();
                Box::new(move || floor(&k, black_box(step)))
            }
            Algorithm::Sha512 => {
                let k = Hmac::<sha2::Sha512>::new_from_slice(seed).unwrap();
                Box::new(move || floor(&k, black_box(step)))
            }
        };
        // verify: ours, ours keyed per call, totp-rs, floor; generate: ours, totp-rs.
        let mut best = [f64::MAX; 6];
        for _ in 0..ROUNDS {
            let w = wrong.as_str();
            let times = [
                per_call(|| {
                    black_box(accepts(&ours, w));
                }),
                per_call(|| {
                    black_box(accepts(&Totp::new(&secret, params), w));
                }),
                per_call(|| {
                    black_box(theirs.check(black_box(w), black_box(NOW)));
                }),
                per_call(&mut floor_fn),
                per_call(|| {
                    black_box(
                        ours.code_at(Timestamp::from_unix_secs(black_box(NOW)))
                            .unwrap(),
                    );
                }),
                per_call(|| {
                    black_box(theirs.generate(black_box(NOW)));
                }),
            ];
            for (b, t) in best.iter_mut().zip(times) {
                *b = b.min(t);
            }
        }
        let [ours_v, keyed_v, theirs_v, floor_v, ours_g, theirs_g] = best;
        println!(
            "{algorithm}: verify ±1 reject: mfa-otp {ours_v:.0} ns, keyed per call {keyed_v:.0} ns, \
             totp-rs {theirs_v:.0} ns, floor {floor_v:.0} ns; mfa-otp/floor {:.2}, \
             mfa-otp/totp-rs {:.2}, totp-rs/floor {:.2} | generate: mfa-otp {ours_g:.0} ns, \
             totp-rs {theirs_g:.0} ns, ratio {:.2}",
            ours_v / floor_v,
            ours_v / theirs_v,
            theirs_v / floor_v,
            ours_g / theirs_g,
        );
    }
}
