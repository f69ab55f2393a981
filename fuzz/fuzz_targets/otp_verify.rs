//! Verifies arbitrary code strings with arbitrary parameters, times, windows, counters
//! and last steps: never a panic; an accepted TOTP step lies in the window and after the
//! last step, and is the step whose code was presented; an accepted HOTP counter moves
//! forward within the look-ahead.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mfa_core::Timestamp;
use mfa_otp::{Algorithm, Digits, Hotp, HotpParams, Period, Secret, Totp, TotpParams, Window};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    key: &'a [u8],
    algorithm: u8,
    digits: u8,
    period: u64,
    t0: u64,
    now: u64,
    past: u32,
    future: u32,
    last_step: Option<u64>,
    counter: u64,
    code: &'a str,
    use_real_code: bool,
    offset: i8,
}

fuzz_target!(|input: Input<'_>| {
    let Ok(secret) = Secret::danger_from_short_bytes(input.key.to_vec()) else {
        return;
    };
    let algorithm = Algorithm::ALL[usize::from(input.algorithm % 3)];
    let Ok(digits) = Digits::new(input.digits) else {
        return;
    };
    let Ok(period) = Period::new(input.period) else {
        return;
    };
    let Ok(window) = Window::new(input.past % 8, input.future % 8) else {
        return;
    };
    let totp = Totp::new(
        &secret,
        TotpParams {
            algorithm,
            digits,
            period,
            t0: input.t0,
        },
    );
    let code = match (
        input.use_real_code,
        totp.step_at(Timestamp::from_unix_secs(input.now)),
    ) {
        (true, Ok(step)) => {
            let s = step.saturating_add_signed(i64::from(input.offset));
            totp.code_for_step(s).as_str().to_owned()
        }
        _ => input.code.to_owned(),
    };
    if let Ok(step) = totp.verify(
        &code,
        Timestamp::from_unix_secs(input.now),
        window,
        input.last_step,
    ) {
        let current = totp.step_at(Timestamp::from_unix_secs(input.now)).unwrap();
        assert!(step >= current.saturating_sub(u64::from(window.past())));
        assert!(step <= current.saturating_add(u64::from(window.future())));
        assert!(input.last_step.is_none_or(|l| step > l));
        assert_eq!(totp.code_for_step(step).as_str(), code.replace(' ', ""));
    }
    let hotp = Hotp::new(&secret, HotpParams { algorithm, digits });
    let look_ahead = input.past % 64;
    if let Ok(next) = hotp.verify(&code, input.counter, look_ahead) {
        assert!(next > input.counter);
        assert!(next - input.counter <= u64::from(look_ahead) + 1);
        assert_eq!(hotp.code(next - 1).as_str(), code.replace(' ', ""));
    }
});
