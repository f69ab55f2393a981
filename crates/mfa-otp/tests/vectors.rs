//! Every vector of `shared/vectors/otp/rfc.json` and `edge_cases.json`, read by path.

use mfa_core::Timestamp;
use mfa_otp::hazmat;
use mfa_otp::{
    Algorithm, Digits, Hotp, HotpParams, Period, RejectReason, Secret, Totp, TotpParams, Window,
};
use serde_json::Value;

use crate::support::{hex, read_vectors};

fn algorithm(v: &Value) -> Algorithm {
    v.as_str().unwrap().parse().unwrap()
}

fn digits(v: &Value) -> Digits {
    Digits::new(u8::try_from(v.as_u64().unwrap()).unwrap()).unwrap()
}

/// The key of a case: `secret_ascii`, `secret_hex` or `secret_base32` (short keys, like
/// the Google Authenticator wiki's, go through the `danger_` constructor).
fn secret(case: &Value) -> Secret {
    if let Some(ascii) = case["secret_ascii"].as_str() {
        return Secret::danger_from_short_bytes(ascii.as_bytes().to_vec()).unwrap();
    }
    let from_hex =
        Secret::danger_from_short_bytes(hex(case["secret_hex"].as_str().unwrap())).unwrap();
    if let Some(b32) = case["secret_base32"].as_str() {
        assert_eq!(
            Secret::danger_from_base32_short(b32).unwrap(),
            from_hex,
            "{case}"
        );
    }
    from_hex
}

fn code_error_reason(e: mfa_otp::Error) -> RejectReason {
    match e {
        mfa_otp::Error::Rejected(r) => r.reason(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn hotp_rfc4226_appendix_d() {
    let rfc = read_vectors("rfc.json");
    let d = &rfc["rfc4226_appendix_d"];
    let secret = Secret::from_base32(d["secret_base32"].as_str().unwrap()).unwrap();
    assert_eq!(
        secret.expose_secret(),
        hex(d["secret_hex"].as_str().unwrap())
    );
    assert_eq!(
        secret.expose_secret(),
        d["secret_ascii"].as_str().unwrap().as_bytes()
    );
    let params = HotpParams {
        algorithm: algorithm(&d["algorithm"]),
        digits: digits(&d["digits"]),
    };
    let hotp = Hotp::new(&secret, params);
    let vectors = d["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 10);
    for (i, v) in vectors.iter().enumerate() {
        let count = v["count"].as_u64().unwrap();
        // Truncation of the published HMAC, and of ours.
        let mac = hex(v["hmac_sha1_hex"].as_str().unwrap());
        let truncated = u32::from_str_radix(v["truncated_hex"].as_str().unwrap(), 16).unwrap();
        assert_eq!(
            u64::from(truncated),
            v["truncated_dec"].as_u64().unwrap(),
            "#{i}"
        );
        assert_eq!(hazmat::dynamic_truncate(&mac), Some(truncated), "#{i} {v}");
        assert_eq!(
            hazmat::truncated_value(params.algorithm, secret.expose_secret(), count),
            truncated,
            "#{i} {v}"
        );
        let expected = v["hotp"].as_str().unwrap();
        assert_eq!(hotp.code(count).as_str(), expected, "#{i} {v}");
        assert_eq!(hotp.verify(expected, count, 0).unwrap(), count + 1, "#{i}");
    }
}

#[test]
fn totp_rfc6238_appendix_b() {
    let rfc = read_vectors("rfc.json");
    let b = &rfc["rfc6238_appendix_b"];
    let vectors = b["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 18);
    for (i, v) in vectors.iter().enumerate() {
        let mode = v["mode"].as_str().unwrap();
        let seed = &b["seeds"][mode];
        let secret = Secret::from_base32(seed["base32_nopad"].as_str().unwrap()).unwrap();
        assert_eq!(
            Secret::from_base32(seed["base32_padded"].as_str().unwrap()).unwrap(),
            secret
        );
        assert_eq!(secret.expose_secret(), hex(seed["hex"].as_str().unwrap()));
        assert_eq!(secret.len() as u64, seed["length_bytes"].as_u64().unwrap());
        let params = TotpParams {
            algorithm: mode.parse().unwrap(),
            digits: digits(&b["digits"]),
            period: Period::new(b["time_step_seconds"].as_u64().unwrap()).unwrap(),
            t0: b["t0"].as_u64().unwrap(),
        };
        let totp = Totp::new(&secret, params);
        let time = v["time"].as_u64().unwrap();
        let step = u64::from_str_radix(v["T_hex"].as_str().unwrap(), 16).unwrap();
        assert_eq!(
            totp.step_at(Timestamp::from_unix_secs(time)).unwrap(),
            step,
            "#{i} {v}"
        );
        let expected = v["totp"].as_str().unwrap();
        assert_eq!(
            totp.code_at(Timestamp::from_unix_secs(time))
                .unwrap()
                .as_str(),
            expected,
            "#{i} {v}"
        );
        assert_eq!(
            totp.verify(
                expected,
                Timestamp::from_unix_secs(time),
                Window::EXACT,
                None
            )
            .unwrap(),
            step,
            "#{i} {v}"
        );
    }
}

#[test]
fn edge_case_codes() {
    let edge = read_vectors("edge_cases.json");
    let mut checked = 0;
    for (i, case) in edge["cases"].as_array().unwrap().iter().enumerate() {
        let kind = case["kind"].as_str().unwrap();
        match kind {
            "hotp" => {
                let params = HotpParams {
                    algorithm: algorithm(&case["algorithm"]),
                    digits: digits(&case["digits"]),
                };
                let hotp = Hotp::new(&secret(case), params);
                let counter = case["counter"].as_u64().unwrap();
                let expected = case["expected"].as_str().unwrap();
                assert_eq!(hotp.code(counter).as_str(), expected, "#{i} {case}");
                if let Some(wrong) = case["must_not_equal"].as_str() {
                    assert_ne!(hotp.code(counter).as_str(), wrong, "#{i}");
                }
                if let Some(wrong) = case["wrong_if_unmasked"].as_str() {
                    assert_ne!(hotp.code(counter).as_str(), wrong, "#{i}");
                }
                if let Some(mac) = case["hmac_hex"].as_str() {
                    let mac = hex(mac);
                    let offset = u64::from(mac.last().unwrap() & 0x0f);
                    assert_eq!(offset, case["offset"].as_u64().unwrap(), "#{i}");
                    let value = hazmat::dynamic_truncate(&mac).unwrap();
                    let modulus = 10u64.pow(u32::from(params.digits.get()));
                    let width = usize::from(params.digits.get());
                    assert_eq!(
                        format!("{:0width$}", u64::from(value) % modulus),
                        expected,
                        "#{i}"
                    );
                }
                if let Some(masked) = case["masked_dec"].as_u64() {
                    let value = hazmat::truncated_value(
                        params.algorithm,
                        secret(case).expose_secret(),
                        counter,
                    );
                    assert_eq!(u64::from(value), masked, "#{i}");
                }
                // A verifier at that counter accepts it, unless no counter can follow.
                match hotp.verify(expected, counter, 0) {
                    Ok(next) => assert_eq!(next, counter + 1, "#{i}"),
                    Err(mfa_otp::Error::CounterExhausted) => assert_eq!(counter, u64::MAX),
                    Err(e) => panic!("#{i}: {e:?}"),
                }
                checked += 1;
            }
            "totp" => {
                let params = TotpParams {
                    algorithm: algorithm(&case["algorithm"]),
                    digits: digits(&case["digits"]),
                    period: Period::new(case["period"].as_u64().unwrap()).unwrap(),
                    t0: case["t0"].as_u64().unwrap_or(0),
                };
                let totp = Totp::new(&secret(case), params);
                let time = case["time"].as_u64().unwrap();
                if let Some(t) = case["T_hex"].as_str() {
                    assert_eq!(
                        totp.step_at(Timestamp::from_unix_secs(time)).unwrap(),
                        u64::from_str_radix(t, 16).unwrap()
                    );
                }
                let expected = case["expected"].as_str().unwrap();
                assert_eq!(
                    totp.code_at(Timestamp::from_unix_secs(time))
                        .unwrap()
                        .as_str(),
                    expected,
                    "#{i} {case}"
                );
                let step = totp.step_at(Timestamp::from_unix_secs(time)).unwrap();
                assert_eq!(
                    totp.verify(
                        expected,
                        Timestamp::from_unix_secs(time),
                        Window::default(),
                        None
                    )
                    .unwrap(),
                    step,
                    "#{i}"
                );
                if params.t0 > 0 {
                    assert_eq!(
                        totp.code_at(Timestamp::from_unix_secs(params.t0 - 1))
                            .unwrap_err(),
                        mfa_otp::Error::TimeBeforeT0 {
                            now: params.t0 - 1,
                            t0: params.t0
                        }
                    );
                }
                checked += 1;
            }
            "steam" => {
                assert_eq!(case["alphabet"], "23456789BCDFGHJKMNPQRTVWXY");
                assert_eq!(case["length"], 5);
                let step = case["time"].as_u64().unwrap() / case["period"].as_u64().unwrap();
                let value = hazmat::truncated_value(
                    algorithm(&case["algorithm"]),
                    secret(case).expose_secret(),
                    step,
                );
                assert_eq!(
                    hazmat::steam_code(value),
                    case["expected"].as_str().unwrap(),
                    "#{i}"
                );
                checked += 1;
            }
            "hotp_verify_scenario" => {
                let params = HotpParams {
                    algorithm: algorithm(&case["algorithm"]),
                    digits: digits(&case["digits"]),
                };
                let hotp = Hotp::new(&secret(case), params);
                let counter = case["server_counter"].as_u64().unwrap();
                let look_ahead = u32::try_from(case["look_ahead"].as_u64().unwrap()).unwrap();
                let code = case["submitted"].as_str().unwrap();
                let result = hotp.verify(code, counter, look_ahead);
                let expect_valid = case["expect_valid"].as_bool().unwrap();
                let new_counter = case["expect_new_server_counter"].as_u64().unwrap();
                match result {
                    Ok(next) => {
                        assert!(expect_valid, "#{i}");
                        assert_eq!(next, new_counter, "#{i}");
                        if let Some(again) =
                            case["then_replay_submitted_again_expect_valid"].as_bool()
                        {
                            assert_eq!(hotp.verify(code, next, look_ahead).is_ok(), again, "#{i}");
                        }
                    }
                    Err(e) => {
                        assert!(!expect_valid, "#{i}: {e:?}");
                        // The caller keeps its counter: verification returns none.
                        assert_eq!(counter, new_counter, "#{i}");
                        assert_eq!(code_error_reason(e), RejectReason::WrongCode);
                    }
                }
                checked += 1;
            }
            "totp_verify_scenario" => {
                let params = TotpParams {
                    algorithm: algorithm(&case["algorithm"]),
                    digits: digits(&case["digits"]),
                    period: Period::new(case["period"].as_u64().unwrap()).unwrap(),
                    t0: 0,
                };
                let totp = Totp::new(&secret(case), params);
                let skew = u32::try_from(case["skew"].as_u64().unwrap()).unwrap();
                let window = Window::new(skew, skew).unwrap();
                // Steps either say what the last step was, or follow on from the previous.
                let mut last: Option<u64> = None;
                for (j, s) in case["steps"].as_array().unwrap().iter().enumerate() {
                    if let Some(before) = s.get("last_used_step_before") {
                        last = before.as_u64();
                    }
                    let now = s["now"].as_u64().unwrap();
                    let code = s["submitted"].as_str().unwrap();
                    let result = totp.verify(code, Timestamp::from_unix_secs(now), window, last);
                    if s["expect_valid"].as_bool().unwrap() {
                        let step = result.unwrap_or_else(|e| panic!("#{i}.{j}: {e:?}"));
                        assert_eq!(step, s["expect_matched_step"].as_u64().unwrap(), "#{i}.{j}");
                        last = Some(step);
                    } else {
                        assert!(result.is_err(), "#{i}.{j} {s}");
                    }
                }
                checked += 1;
            }
            other => panic!("#{i}: unknown kind {other}"),
        }
    }
    assert_eq!(checked, edge["cases"].as_array().unwrap().len());
}

#[test]
fn wrong_seed_traps_differ_from_rfc_values() {
    let rfc = read_vectors("rfc.json");
    let edge = read_vectors("edge_cases.json");
    for case in edge["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if !name.starts_with("wrong_seed_trap") {
            continue;
        }
        let mode = case["algorithm"].as_str().unwrap();
        let seed = rfc["rfc6238_appendix_b"]["seeds"][mode]["ascii"]
            .as_str()
            .unwrap();
        let params = TotpParams {
            algorithm: mode.parse().unwrap(),
            digits: Digits::EIGHT,
            ..TotpParams::default()
        };
        let right = Totp::new(
            &Secret::from_bytes(seed.as_bytes().to_vec()).unwrap(),
            params,
        );
        let time = case["time"].as_u64().unwrap();
        assert_ne!(
            right
                .code_at(Timestamp::from_unix_secs(time))
                .unwrap()
                .as_str(),
            case["expected"].as_str().unwrap()
        );
    }
}

#[test]
fn base32_spellings() {
    let edge = read_vectors("edge_cases.json");
    let b = &edge["base32_inputs"];
    for (i, case) in b["cases"].as_array().unwrap().iter().enumerate() {
        let input = case["input"].as_str().unwrap();
        let decoded =
            Secret::danger_from_base32_short(input).unwrap_or_else(|e| panic!("#{i} {input}: {e}"));
        assert_eq!(
            decoded.expose_secret(),
            hex(case["decoded_hex"].as_str().unwrap()),
            "#{i}"
        );
        // The canonical form decodes to the same bytes.
        let canonical = decoded.to_base32();
        assert!(!canonical.contains('='));
        assert_eq!(canonical.to_uppercase(), *canonical);
        assert_eq!(
            Secret::danger_from_base32_short(&canonical).unwrap(),
            decoded
        );
    }
    for (i, case) in b["invalid_inputs"].as_array().unwrap().iter().enumerate() {
        let input = case["input"].as_str().unwrap();
        assert!(
            Secret::danger_from_base32_short(input).is_err(),
            "#{i} {input}"
        );
        assert!(Secret::from_base32(input).is_err(), "#{i} {input}");
    }
}
