//! Boundaries and misuse: windows, replay, arithmetic at the ends of `u64`, the
//! `Factor` implementations, records through serde, and typed errors.

use mfa_core::{AuthMethod, Factor, FactorKind, OsRandom, Timestamp};
use mfa_otp::{
    Algorithm, Digits, Error, Hotp, HotpFactor, HotpParams, HotpRecord, Period, RejectReason,
    Secret, SecretError, Totp, TotpFactor, TotpParams, TotpRecord, Window,
};

fn rfc_secret() -> Secret {
    Secret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
}

fn reason(e: Error) -> RejectReason {
    match e {
        Error::Rejected(r) => {
            assert_eq!(r.to_string(), "verification failed");
            r.reason()
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Which offsets (in steps, from the current one) each window accepts.
const WINDOW_TABLE: &[((u32, u32), &[i64], &[i64])] = &[
    ((0, 0), &[0], &[-2, -1, 1, 2]),
    ((1, 1), &[-1, 0, 1], &[-3, -2, 2, 3]),
    ((2, 0), &[-2, -1, 0], &[-3, 1, 2]),
    ((0, 2), &[0, 1, 2], &[-2, -1, 3]),
];

#[test]
fn windows_accept_exactly_their_steps() {
    let totp = Totp::new(&rfc_secret(), TotpParams::default());
    let now = 1_700_000_000;
    let step = totp.step_at(Timestamp::from_unix_secs(now)).unwrap();
    for &((past, future), accepted, refused) in WINDOW_TABLE {
        let window = Window::new(past, future).unwrap();
        for &k in accepted {
            let s = step.checked_add_signed(k).unwrap();
            let code = totp.code_for_step(s);
            assert_eq!(
                totp.verify(code.as_str(), Timestamp::from_unix_secs(now), window, None)
                    .unwrap(),
                s,
                "{window:?} {k}"
            );
        }
        for &k in refused {
            let code = totp.code_for_step(step.checked_add_signed(k).unwrap());
            let e = totp
                .verify(code.as_str(), Timestamp::from_unix_secs(now), window, None)
                .unwrap_err();
            assert_eq!(reason(e), RejectReason::WrongCode, "{window:?} {k}");
        }
    }
}

#[test]
fn replay_refuses_every_step_at_or_before_the_last() {
    let totp = Totp::new(&rfc_secret(), TotpParams::default());
    let now = 1_700_000_000;
    let step = totp.step_at(Timestamp::from_unix_secs(now)).unwrap();
    let window = Window::new(2, 2).unwrap();
    for last in [step - 1, step, step + 1] {
        for k in -2i64..=2 {
            let s = step.checked_add_signed(k).unwrap();
            let code = totp.code_for_step(s);
            let result = totp.verify(
                code.as_str(),
                Timestamp::from_unix_secs(now),
                window,
                Some(last),
            );
            if s > last {
                assert_eq!(result.unwrap(), s);
            } else {
                assert_eq!(
                    reason(result.unwrap_err()),
                    RejectReason::Replay,
                    "last {last} step {s}"
                );
            }
        }
    }
    let code = totp.code_for_step(step);
    assert_eq!(
        reason(
            totp.verify(
                code.as_str(),
                Timestamp::from_unix_secs(now),
                window,
                Some(u64::MAX)
            )
            .unwrap_err()
        ),
        RejectReason::Replay
    );
}

#[test]
fn arithmetic_at_the_edges_never_panics_or_wraps() {
    let secret = rfc_secret();
    let wide = Window::new(Window::MAX_STEPS, Window::MAX_STEPS).unwrap();
    // t = 0 with a past window: the window is clamped at step 0.
    let totp = Totp::new(&secret, TotpParams::default());
    let code = totp.code_at(Timestamp::from_unix_secs(0)).unwrap();
    assert_eq!(
        totp.verify(code.as_str(), Timestamp::from_unix_secs(0), wide, None)
            .unwrap(),
        0
    );
    // The code of the "wrapped" step u64::MAX is never checked near t = 0.
    let wrapped = totp.code_for_step(u64::MAX);
    if (0..=u64::from(Window::MAX_STEPS)).all(|s| totp.code_for_step(s) != wrapped) {
        assert!(
            totp.verify(wrapped.as_str(), Timestamp::from_unix_secs(0), wide, None)
                .is_err()
        );
    }
    // The largest time: the window is clamped at u64::MAX.
    let end = Totp::new(
        &secret,
        TotpParams {
            period: Period::new(1).unwrap(),
            ..TotpParams::default()
        },
    );
    let code = end.code_at(Timestamp::from_unix_secs(u64::MAX)).unwrap();
    assert_eq!(
        end.verify(
            code.as_str(),
            Timestamp::from_unix_secs(u64::MAX),
            wide,
            None
        )
        .unwrap(),
        u64::MAX
    );
    assert_eq!(
        end.verify(
            code.as_str(),
            Timestamp::from_unix_secs(u64::MAX),
            wide,
            Some(u64::MAX - 1)
        )
        .unwrap(),
        u64::MAX
    );
    // Before T0: a typed error, for codes and for verification.
    let late = Totp::new(
        &secret,
        TotpParams {
            t0: 100,
            ..TotpParams::default()
        },
    );
    assert_eq!(
        late.step_at(Timestamp::from_unix_secs(99)).unwrap_err(),
        Error::TimeBeforeT0 { now: 99, t0: 100 }
    );
    assert_eq!(
        late.verify("123456", Timestamp::from_unix_secs(0), wide, None)
            .unwrap_err(),
        Error::TimeBeforeT0 { now: 0, t0: 100 }
    );
    assert_eq!(late.step_at(Timestamp::from_unix_secs(100)).unwrap(), 0);
    // HOTP near u64::MAX: the window stops at u64::MAX - 1, whose successor exists.
    let hotp = Hotp::new(&secret, HotpParams::default());
    let top = hotp.code(u64::MAX - 1);
    assert_eq!(
        hotp.verify(top.as_str(), u64::MAX - 5, 1_000).unwrap(),
        u64::MAX
    );
    assert_eq!(
        hotp.verify(top.as_str(), u64::MAX, 10).unwrap_err(),
        Error::CounterExhausted
    );
    let last = hotp.code(u64::MAX);
    if (u64::MAX - 3..u64::MAX).all(|c| hotp.code(c) != last) {
        assert!(
            hotp.verify(last.as_str(), u64::MAX - 3, 10)
                .unwrap_err()
                .is_rejection()
        );
    }
    assert!(matches!(
        hotp.verify("123456", 0, Hotp::MAX_LOOK_AHEAD + 1),
        Err(Error::Window { .. })
    ));
    assert!(Window::new(0, Window::MAX_STEPS + 1).is_err());
}

#[test]
fn malformed_codes_are_rejected_as_malformed() {
    let totp = Totp::new(&rfc_secret(), TotpParams::default());
    let good = totp.code_at(Timestamp::from_unix_secs(1_000)).unwrap();
    for bad in [
        "",
        "12345",
        "1234567",
        "12345a",
        "１２３４５６",
        "-12345",
        "+123456",
        "123\u{0}456",
    ] {
        let e = totp
            .verify(
                bad,
                Timestamp::from_unix_secs(1_000),
                Window::default(),
                None,
            )
            .unwrap_err();
        assert_eq!(reason(e), RejectReason::Malformed, "{bad:?}");
    }
    // Spaces are what users type between groups; they are ignored.
    let spaced = format!("{} {}", &good.as_str()[..3], &good.as_str()[3..]);
    assert!(
        totp.verify(
            &spaced,
            Timestamp::from_unix_secs(1_000),
            Window::default(),
            None
        )
        .is_ok()
    );
}

#[test]
fn ten_digits_is_the_zero_padded_31_bit_value() {
    let secret = rfc_secret();
    for algorithm in Algorithm::ALL {
        let hotp = Hotp::new(
            &secret,
            HotpParams {
                algorithm,
                digits: Digits::new(10).unwrap(),
            },
        );
        for counter in 0..50 {
            let value =
                mfa_otp::hazmat::truncated_value(algorithm, secret.expose_secret(), counter);
            assert_eq!(hotp.code(counter).as_str(), format!("{value:010}"));
        }
    }
}

#[test]
fn codes_compare_by_value_in_constant_time() {
    use subtle::ConstantTimeEq as _;
    let secret = rfc_secret();
    let six = Hotp::new(&secret, HotpParams::default());
    let eight = Hotp::new(
        &secret,
        HotpParams {
            algorithm: Algorithm::Sha1,
            digits: Digits::EIGHT,
        },
    );
    // RFC 4226 Appendix D, counter 0: 755224, and 84755224 with 8 digits.
    assert_eq!(six.code(0).as_str(), "755224");
    assert_eq!(eight.code(0).as_str(), "84755224");
    assert!(bool::from(six.code(0).ct_eq(&six.code(0))));
    assert_eq!(six.code(0), six.code(0));
    assert!(!bool::from(six.code(0).ct_eq(&six.code(1))));
    assert_ne!(six.code(0), six.code(1));
    // The same last six digits with a different length are not the same code.
    assert!(!bool::from(six.code(0).ct_eq(&eight.code(0))));
    assert_ne!(six.code(0), eight.code(0));
}

#[test]
fn hotp_resync_needs_two_consecutive_codes() {
    let hotp = Hotp::new(&rfc_secret(), HotpParams::default());
    let (a, b) = (hotp.code(57), hotp.code(58));
    assert_eq!(hotp.resync(a.as_str(), b.as_str(), 0, 100).unwrap(), 59);
    // Out of order, or not consecutive: refused.
    assert!(
        hotp.resync(b.as_str(), a.as_str(), 0, 100)
            .unwrap_err()
            .is_rejection()
    );
    let c = hotp.code(60);
    assert!(
        hotp.resync(a.as_str(), c.as_str(), 0, 100)
            .unwrap_err()
            .is_rejection()
    );
    // Beyond the window: refused.
    assert!(
        hotp.resync(a.as_str(), b.as_str(), 0, 50)
            .unwrap_err()
            .is_rejection()
    );
    // At the top of the counter space.
    let (y, z) = (hotp.code(u64::MAX - 2), hotp.code(u64::MAX - 1));
    assert_eq!(
        hotp.resync(y.as_str(), z.as_str(), u64::MAX - 10, 100)
            .unwrap(),
        u64::MAX
    );
    assert_eq!(
        hotp.resync("123456", "123456", u64::MAX - 1, 100)
            .unwrap_err(),
        Error::CounterExhausted
    );
}

#[test]
fn totp_factor_moves_the_last_step_and_refuses_replays() {
    let record = TotpRecord::generate(TotpParams::default(), &mut OsRandom).unwrap();
    assert_eq!(record.secret.len(), Secret::DEFAULT_LEN);
    let factor = TotpFactor::default();
    assert_eq!(factor.kind(&record), FactorKind::Totp);
    let now = Timestamp::from_unix_secs(2_000_000_000);
    let code = record.totp().code_at(now).unwrap();
    let ok = factor
        .verify(&record, &(), code.as_str(), now, &mut OsRandom)
        .unwrap();
    assert_eq!(ok.methods, [AuthMethod::Otp]);
    assert_eq!(ok.record.last_step, Some(ok.details));
    let replay = factor
        .verify(&ok.record, &(), code.as_str(), now, &mut OsRandom)
        .unwrap_err();
    let core: mfa_core::Error = replay.into();
    match core {
        mfa_core::Error::Rejected(r) => assert_eq!(r.reason(), RejectReason::Replay),
        other => panic!("{other:?}"),
    }
    // The next step's code is accepted 30 s later.
    let later = Timestamp::from_unix_secs(2_000_000_030);
    let next = record.totp().code_at(later).unwrap();
    let ok2 = factor
        .verify(&ok.record, &(), next.as_str(), later, &mut OsRandom)
        .unwrap();
    assert_eq!(ok2.details, ok.details + 1);
}

#[test]
fn hotp_factor_moves_the_counter() {
    let record = HotpRecord::new(rfc_secret(), HotpParams::default());
    let factor = HotpFactor::default();
    assert_eq!(factor.kind(&record), FactorKind::Hotp);
    let now = Timestamp::EPOCH;
    let ok = factor
        .verify(&record, &(), "254676", now, &mut OsRandom)
        .unwrap();
    assert_eq!((ok.details, ok.record.counter), (6, 6));
    assert!(
        factor
            .verify(&ok.record, &(), "254676", now, &mut OsRandom)
            .unwrap_err()
            .is_rejection()
    );
    let hotp = record.hotp();
    let far = factor
        .resync(&record, hotp.code(80).as_str(), hotp.code(81).as_str())
        .unwrap();
    assert_eq!(far.counter, 82);
}

#[test]
fn records_round_trip_through_serde_and_hide_the_secret_in_debug() {
    let record = TotpRecord {
        last_step: Some(42),
        ..TotpRecord::new(
            rfc_secret(),
            TotpParams {
                algorithm: Algorithm::Sha512,
                digits: Digits::EIGHT,
                period: Period::new(60).unwrap(),
                t0: 7,
            },
        )
    };
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["secret"], "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_eq!(json["params"]["algorithm"], "SHA512");
    let back: TotpRecord = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, record);
    assert!(!format!("{record:?}").contains("GEZD"));
    assert!(format!("{record:?}").contains("Secret([redacted])"));
    // Invalid parameters do not deserialise.
    let mut bad = json.clone();
    bad["params"]["digits"] = 11.into();
    assert!(serde_json::from_value::<TotpRecord>(bad).is_err());
    let mut bad = json;
    bad["params"]["period"] = 0.into();
    assert!(serde_json::from_value::<TotpRecord>(bad).is_err());
    let hotp = HotpRecord {
        counter: 9,
        ..HotpRecord::new(rfc_secret(), HotpParams::default())
    };
    let back: HotpRecord = serde_json::from_str(&serde_json::to_string(&hotp).unwrap()).unwrap();
    assert_eq!(back, hotp);
}

#[test]
fn short_keys_only_through_danger_constructors() {
    assert_eq!(
        Secret::from_base32("JBSWY3DPEHPK3PXP").unwrap_err(),
        SecretError::TooShort { bits: 80 }
    );
    assert_eq!(
        Secret::from_bytes(vec![1; 15]).unwrap_err(),
        SecretError::TooShort { bits: 120 }
    );
    assert_eq!(
        Secret::danger_from_base32_short("JBSWY3DPEHPK3PXP")
            .unwrap()
            .len(),
        10
    );
    assert_eq!(
        Secret::danger_from_short_bytes(vec![]).unwrap_err(),
        SecretError::Empty
    );
    assert!(Secret::generate_len(15, &mut OsRandom).is_err());
    let a = Secret::generate(&mut OsRandom).unwrap();
    assert_ne!(a, Secret::generate(&mut OsRandom).unwrap());
    assert_eq!(format!("{a:?}"), "Secret([redacted])");
}

#[test]
fn input_errors_convert_to_named_invalid_input() {
    let e: mfa_core::Error = Digits::new(11).unwrap_err().into();
    assert_eq!(
        e.to_string(),
        "invalid digits: must be between 6 and 10, got 11"
    );
    let e: mfa_core::Error = Error::from(Secret::from_base32("AB1").unwrap_err()).into();
    assert_eq!(
        e.to_string(),
        "invalid secret: '1' at position 2 is not base32"
    );
    let e: mfa_core::Error = Period::new(0).unwrap_err().into();
    assert!(!e.is_rejection());

    // Every kind of input error becomes an `InvalidInput` whose field and problem are
    // exactly what the error displays, including problems that themselves hold ": ".
    let s = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let uv =
        mfa_core::StartOptions::new().with_user_verification(mfa_core::UserVerification::Required);
    let cases: Vec<(Error, &str)> = vec![
        ("md5".parse::<Algorithm>().unwrap_err().into(), "algorithm"),
        (Error::CounterExhausted, "counter"),
        (Digits::new(5).unwrap_err(), "digits"),
        (Period::new(0).unwrap_err(), "period"),
        (
            Secret::from_base32("JBSWY3DPEHPK3PXP").unwrap_err().into(),
            "secret",
        ),
        (Secret::from_base32("ab:c").unwrap_err().into(), "secret"),
        (
            Totp::new(
                &rfc_secret(),
                TotpParams {
                    t0: 100,
                    ..TotpParams::default()
                },
            )
            .code_at(Timestamp::from_unix_secs(99))
            .unwrap_err(),
            "time",
        ),
        (
            mfa_otp::OtpAuthUri::parse("https://example.com")
                .unwrap_err()
                .into(),
            "otpauth uri",
        ),
        (
            mfa_otp::OtpAuthUri::parse(&format!("otpauth://totp/A:%20b?secret={s}&issuer=A:%20x"))
                .unwrap_err()
                .into(),
            "otpauth uri",
        ),
        (Window::new(1_000_000, 0).unwrap_err(), "window"),
        (
            TotpFactor::default()
                .start(None, &uv, Timestamp::from_unix_secs(0), &mut OsRandom)
                .unwrap_err(),
            "user verification",
        ),
    ];
    for (e, what) in cases {
        let shown = e.to_string();
        assert!(!e.is_rejection(), "{shown}");
        let core = mfa_core::Error::from(e);
        assert_eq!(core.to_string(), shown);
        let mfa_core::Error::Invalid(input) = core else {
            panic!("{shown}: not Invalid");
        };
        assert_eq!(input.what(), what, "{shown}");
        assert_eq!(format!("invalid {what}: {}", input.problem()), shown);
    }
}

#[test]
fn rejections_and_secrets_are_the_facades_types() {
    // The rejection is mfa_core's own `Rejected`: it converts as it is.
    let key = Hotp::new(&rfc_secret(), HotpParams::default());
    let Error::Rejected(rejected) = key.verify("000000", 0, 0).unwrap_err() else {
        panic!("not a rejection");
    };
    let same: mfa_core::Rejected = rejected.clone();
    assert_eq!(same.reason(), RejectReason::WrongCode);
    assert_eq!(same.detail(), None);
    match mfa_core::Error::from(Error::Rejected(rejected.clone())) {
        mfa_core::Error::Rejected(r) => assert_eq!(r, rejected),
        other => panic!("{other:?}"),
    }
    // A random-source failure stays one.
    assert!(matches!(
        mfa_core::Error::from(Error::Random(mfa_core::RandomError)),
        mfa_core::Error::Random(_)
    ));

    // Secret <-> SecretBytes, with the 128-bit floor checked on the way in.
    let secret = rfc_secret();
    assert_eq!(
        secret.as_secret_bytes().expose_secret(),
        secret.expose_secret()
    );
    let bytes = mfa_core::SecretBytes::from(secret.clone());
    assert_eq!(bytes.expose_secret(), b"12345678901234567890");
    assert_eq!(Secret::try_from(bytes).unwrap(), secret);
    assert_eq!(
        Secret::try_from(mfa_core::SecretBytes::from(vec![1u8; 10])).unwrap_err(),
        SecretError::TooShort { bits: 80 }
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Canonical base32 round-trips, and the spellings apps produce (lower case, groups
    /// separated by spaces or hyphens, padding) decode to the same bytes.
    #[test]
    fn base32_round_trips_in_every_tolerated_spelling(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..80),
        group in 1usize..9,
        separator in proptest::sample::select(vec![" ", "-", "  ", "\t"]),
        padding in 0usize..10,
    ) {
        let secret = Secret::danger_from_short_bytes(bytes.clone()).unwrap();
        let canonical = secret.to_base32();
        proptest::prop_assert!(!canonical.contains('='));
        proptest::prop_assert_eq!(canonical.len(), (bytes.len() * 8).div_ceil(5));
        let spelled: Vec<String> = canonical
            .as_bytes()
            .chunks(group)
            .map(|c| String::from_utf8(c.to_vec()).unwrap().to_lowercase())
            .collect();
        let spelled = format!("{}{}", spelled.join(separator), "=".repeat(padding));
        let decoded = Secret::danger_from_base32_short(&spelled).unwrap();
        proptest::prop_assert_eq!(decoded.expose_secret(), bytes.as_slice());
        proptest::prop_assert_eq!(Secret::from_base32(&spelled).is_ok(), bytes.len() >= Secret::MIN_LEN);
    }
}
