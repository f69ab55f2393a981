//! The loops of `service.rs` without criterion, for an instruction-count profile:
//! `N` verifications through `mfa::Service::verify` on the memory store (`service`) or
//! `mfa_otp::TotpFactor::verify` on a decoded record (`pure`), each with a fresh code
//! computed before the loop. Only the loop runs inside `profiled` (never inlined), so
//! callgrind can count it alone:
//!
//! ```text
//! cargo bench -p mfa-benches --bench service_profile --no-run
//! valgrind --tool=callgrind --toggle-collect='*profiled*' \
//!     target/release/deps/service_profile-<hash> service 20000
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! Instructions per verification are the collected total over `N`; the ratio of the two
//! modes is the instruction-count form of `service.rs`'s time ratio (callgrind runs
//! SHA-1 in software, where the CPU has SHA extensions, so `pure` counts high). Mode
//! `sizes` prints the size of `Service::verify`'s future, which every call moves. Under
//! `cargo bench` (an argument `--bench`) it runs both modes briefly and prints their rate.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, reason = "benchmark")]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mfa::policy::Policy;
use mfa::policy::input::Session;
use mfa::{KeyId, Keyring, Response, Service};
use mfa_core::{AuthMethod, Clock, Factor, FixedClock, OsRandom, Timestamp, UserId};
use mfa_otp::{Secret, TotpFactor, TotpParams, TotpRecord};
use mfa_store::MemoryStore;

struct Setup {
    rt: tokio::runtime::Runtime,
    clock: Arc<FixedClock>,
    service: Service<MemoryStore>,
    user: UserId,
    id: mfa_core::FactorId,
    record: TotpRecord,
    session: Session,
}

fn setup() -> Setup {
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
    let session = Session::primary(AuthMethod::Pwd, clock.now());
    let enrollment = rt
        .block_on(service.start_totp_enrollment(&user, "phone", &session))
        .unwrap();
    let secret = Secret::from_base32(&enrollment.secret_base32).unwrap();
    let record = TotpRecord::new(secret, TotpParams::default());
    let first = record.totp().code_at(clock.now()).unwrap();
    rt.block_on(service.finish_enrollment(
        &user,
        &enrollment.factor_id,
        first.as_str(),
        &Session::default(),
    ))
    .unwrap();
    Setup {
        rt,
        id: enrollment.factor_id,
        clock,
        service,
        user,
        record,
        session,
    }
}

/// The codes of the `n` steps after the clock's, with their instants.
fn codes(s: &Setup, n: usize) -> Vec<(String, Timestamp)> {
    let totp = s.record.totp();
    let mut at = s.clock.now();
    (0..n)
        .map(|_| {
            at = at.saturating_add(Duration::from_secs(30));
            (totp.code_at(at).unwrap().as_str().to_owned(), at)
        })
        .collect()
}

#[inline(never)]
fn profiled_service(s: &Setup, codes: &[(String, Timestamp)]) -> usize {
    let mut ok = 0;
    for (code, at) in codes {
        s.clock.set(*at);
        let out = s.rt.block_on(s.service.verify(
            &s.user,
            &s.id,
            Response::Code(code.as_str()),
            &s.session,
        ));
        ok += usize::from(black_box(out).is_ok());
    }
    ok
}

#[inline(never)]
fn profiled_pure(s: &Setup, codes: &[(String, Timestamp)]) -> usize {
    let factor = TotpFactor::default();
    let mut last = s.record.clone();
    let mut ok = 0;
    for (code, at) in codes {
        if let Ok(v) = factor.verify(&last, &(), code.as_str(), *at, &mut OsRandom) {
            last = black_box(v.record);
            ok += 1;
        }
    }
    ok
}

fn run(mode: &str, n: usize) -> (usize, Duration) {
    let s = setup();
    let codes = codes(&s, n);
    let start = Instant::now();
    let ok = match mode {
        "service" => profiled_service(&s, &codes),
        "pure" => profiled_pure(&s, &codes),
        other => {
            eprintln!("mode {other:?}: service, pure or sizes");
            std::process::exit(2);
        }
    };
    (ok, start.elapsed())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--bench") || args.is_empty() {
        for mode in ["service", "pure"] {
            let (ok, took) = run(mode, 10_000);
            println!(
                "service_profile {mode}: {ok} accepted, {:.0} ns each",
                took.as_nanos() as f64 / 10_000.0
            );
        }
        return;
    }
    let mode = args.first().map_or("service", String::as_str);
    let n: usize = args.get(1).map_or(10_000, |n| n.parse().unwrap());
    if mode == "sizes" {
        let s = setup();
        let f = s
            .service
            .verify(&s.user, &s.id, Response::Code("000000"), &s.session);
        println!("verify future: {} bytes", size_of_val(&f));
        return;
    }
    let (ok, took) = run(mode, n);
    println!(
        "{mode}: {ok}/{n} accepted, {:.0} ns each",
        took.as_nanos() as f64 / n as f64
    );
}
