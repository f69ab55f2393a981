//! The service's TOTP verification on the memory store against the pure verifier.
//!
//! `service` is `mfa::Service::verify` end to end, two store steps under the memory
//! store's one lock: `begin_verification` (the attempt judged by the policy's
//! `AttemptRules` and counted on the factor's and the account's counters, the user's
//! factors listed), then, from the listed row, `mfa_core::check_loaded` (AES-256-GCM
//! open with the row's identity as associated data, JSON decoding, the pure verifier,
//! JSON encoding and a fresh-nonce seal of the new record), and `commit_verification`
//! (the compare-and-swap and the clearing of both counters); then the audit event
//! (`tracing`, metrics, sink when one is set) and the `amr` / assurance computation of
//! the outcome. `pure` is `mfa_otp::TotpFactor::verify` on a decoded record. Both get a
//! fresh code each iteration (computed in the untimed setup), so no iteration is a
//! replay. The service runs on a current-thread tokio runtime; `block_on_floor` is that
//! runtime's own cost per call, included in `service`.
//!
//! Run with `cargo bench -p mfa-benches --bench service`; the goal (issue 20) is
//! `service / pure <= 2`. `service_profile.rs` runs the same two loops without
//! criterion, for callgrind's instruction counts and their breakdown.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, reason = "benchmark")]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mfa::policy::Policy;
use mfa::policy::input::Session;
use mfa::{KeyId, Keyring, Response, Service};
use mfa_core::{AuthMethod, Clock, Factor, FixedClock, OsRandom, Timestamp, UserId};
use mfa_otp::{Secret, TotpFactor, TotpParams, TotpRecord};
use mfa_store::MemoryStore;

fn session(at: Timestamp) -> Session {
    Session::primary(AuthMethod::Pwd, at)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let service = Service::builder(
        MemoryStore::new(),
        Policy::from_toml("version = 1\nmode = \"always\"\n").unwrap(),
        Keyring::generate(KeyId::new("k1").unwrap(), &mut OsRandom).unwrap(),
    )
    .shared_clock(clock.clone())
    .issuer("Bench")
    .build()
    .unwrap();
    let user = UserId::new("alice@example.com").unwrap();
    let enrollment = rt
        .block_on(service.start_totp_enrollment(&user, "phone", &session(clock.now())))
        .unwrap();
    let secret = Secret::from_base32(&enrollment.secret_base32).unwrap();
    let record = TotpRecord::new(secret, TotpParams::default());
    let totp = record.totp();
    let first = totp.code_at(clock.now()).unwrap();
    rt.block_on(service.finish_enrollment(
        &user,
        &enrollment.factor_id,
        first.as_str(),
        &Session::default(),
    ))
    .unwrap();
    let id = enrollment.factor_id.clone();
    let signed_in = session(clock.now());

    let mut g = c.benchmark_group("totp_verify");
    let mut next = clock.now();
    g.bench_function("service", |b| {
        b.iter_batched(
            // Setups run a batch ahead of the routines: each input carries its instant,
            // and the routine moves the shared clock there (one atomic store).
            || {
                next = next.saturating_add(Duration::from_secs(30));
                (totp.code_at(next).unwrap(), next)
            },
            |(code, at)| {
                clock.set(at);
                // About one step in 500,000 shares its code with a neighbour in the
                // window, matches one step ahead and makes the next code a replay: the
                // outcome is not unwrapped.
                black_box(rt.block_on(service.verify(
                    &user,
                    &id,
                    Response::Code(code.as_str()),
                    &signed_in,
                )))
                .is_ok()
            },
            BatchSize::SmallInput,
        );
    });
    let factor = TotpFactor::default();
    let mut now = clock.now();
    let mut last = record.clone();
    g.bench_function("pure", |b| {
        b.iter_batched(
            || {
                now = now.saturating_add(Duration::from_secs(30));
                (totp.code_at(now).unwrap(), now)
            },
            |(code, at)| {
                if let Ok(v) = factor.verify(&last, &(), code.as_str(), at, &mut OsRandom) {
                    last = black_box(v.record);
                }
            },
            BatchSize::SmallInput,
        );
    });
    g.bench_function("block_on_floor", |b| {
        b.iter(|| rt.block_on(async { black_box(1u8) }));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
