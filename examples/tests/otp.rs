//! The `otp` example tool, run in-process: `--help` on every command, its outputs
//! against the RFC vectors, exit statuses 0 / 1 / 2, and no panic on any argument list.
//!
//! The example's file is compiled into this test as a module, and its `run` (all of the
//! tool but the three lines of `main` that hand `run`'s status to the process) is called
//! with captured streams. Unlike running the example's binary, this depends neither on
//! cargo having built examples before the tests (it does not under `--test otp`) nor on
//! where the target directory is, and a stale binary cannot be tested by mistake.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(clippy::panic, clippy::indexing_slicing, reason = "tests")]

#[path = "../otp.rs"]
#[allow(dead_code, reason = "the example's `main` is not called here")]
mod otp;

use std::ffi::OsString;

use clap::CommandFactory as _;
use mfa_examples::tool::Outcome;
use serde_json::Value;

/// The RFC 4226 / 6238 SHA-1 seed, `12345678901234567890`.
const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn run_os(args: Vec<OsString>) -> Outcome {
    Outcome::of(otp::run, args)
}

fn run(args: &[&str]) -> Outcome {
    Outcome::of_strs(otp::run, "otp", args)
}

/// Runs and checks that the command succeeded with nothing on stderr.
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.status, 0, "{args:?}: {o:?}");
    assert!(o.stderr.is_empty(), "{args:?}: {o:?}");
    o.stdout
}

/// Runs and checks that the command failed as bad input: status 2, nothing on stdout,
/// a message on stderr.
fn bad(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.status, 2, "{args:?}: {o:?}");
    assert!(o.stdout.is_empty(), "{args:?}: {o:?}");
    assert!(o.stderr.starts_with("error: "), "{args:?}: {o:?}");
    o.stderr
}

fn rfc_vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/otp/rfc.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

const COMMANDS: [&str; 6] = ["code", "verify", "uri", "parse", "qr", "secret"];

#[test]
fn the_command_line_definition_is_consistent() {
    // clap's own checks of the derive (conflicting names, bad `requires`, ...).
    otp::Cli::command().debug_assert();
}

#[test]
fn help_lists_every_command_and_the_exit_statuses() {
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let help = ok(args);
        assert!(help.starts_with("HOTP and TOTP codes"), "{help}");
        for command in COMMANDS {
            assert!(
                help.contains(&format!("\n  {command} ")),
                "{command}: {help}"
            );
        }
        assert!(help.contains("Exit status: 0 success; 1 verification failed; 2 bad input"));
    }
    // Without a command: the help, as a usage error.
    let o = run(&[]);
    assert_eq!(o.status, 2, "{o:?}");
    assert!(o.stderr.contains("Usage: otp <COMMAND>"), "{o:?}");
}

#[test]
fn every_command_has_its_own_help() {
    for command in COMMANDS {
        for args in [[command, "--help"], ["help", command]] {
            let help = ok(&args);
            assert!(
                help.contains(&format!("Usage: otp {command}")),
                "{args:?}: {help}"
            );
            assert!(help.contains("-h, --help"), "{args:?}: {help}");
        }
    }
    let verify = ok(&["verify", "--help"]);
    for option in [
        "--secret <B32>",
        "--code <C>",
        "--algorithm",
        "--digits <N>",
        "--period <S>",
        "--hotp",
        "--counter <N>",
        "--window-past <N>",
        "--window-future <N>",
        "--time <UNIX>",
        "--last-step <S>",
        "--allow-short-secret",
        "--show-reason",
    ] {
        assert!(verify.contains(option), "{option}: {verify}");
    }
}

#[test]
fn codes_match_the_rfc_vectors() {
    let rfc = rfc_vectors();
    let hotp = &rfc["rfc4226_appendix_d"];
    let secret = hotp["secret_base32"].as_str().unwrap();
    for v in hotp["vectors"].as_array().unwrap() {
        let counter = v["count"].to_string();
        let printed = ok(&["code", "--hotp", "--counter", &counter, "--secret", secret]);
        assert_eq!(printed, format!("{}\n", v["hotp"].as_str().unwrap()));
    }
    let totp = &rfc["rfc6238_appendix_b"];
    let vectors = totp["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 18);
    for v in vectors {
        let mode = v["mode"].as_str().unwrap();
        let secret = totp["seeds"][mode]["base32_nopad"].as_str().unwrap();
        let (time, algorithm) = (v["time"].to_string(), mode.to_lowercase());
        let args = [
            "code",
            "--secret",
            secret,
            "--algorithm",
            &algorithm,
            "--digits",
            "8",
            "--time",
            &time,
        ];
        assert_eq!(ok(&args), format!("{}\n", v["totp"].as_str().unwrap()));
    }
}

#[test]
fn verify_exits_0_with_the_step_and_1_with_verification_failed() {
    // RFC 6238: 94287082 at t = 59 (step 1); its last six digits are the 6-digit code.
    let at_59 = ["verify", "--secret", SECRET, "--time", "59"];
    let accepted = |extra: &[&str]| ok(&[&at_59[..], extra].concat());
    assert_eq!(accepted(&["--code", "287082"]), "1\n");
    assert_eq!(accepted(&["--code", "287 082"]), "1\n");
    assert_eq!(accepted(&["--code", "94287082", "--digits", "8"]), "1\n");
    // One step later the code is still in the default ±1 window, not with 0 past steps.
    let later = [
        "verify", "--secret", SECRET, "--time", "89", "--code", "287082",
    ];
    assert_eq!(ok(&later), "1\n");

    let rejected = |args: &[&str], reason: &str| {
        let o = run(args);
        assert_eq!(o.status, 1, "{args:?}: {o:?}");
        assert!(o.stdout.is_empty(), "{args:?}: {o:?}");
        assert_eq!(o.stderr, "verification failed\n", "{args:?}: {o:?}");
        // The log-only reason appears only when asked for.
        let o = run(&[args, &["--show-reason"]].concat());
        assert_eq!(o.status, 1, "{args:?}: {o:?}");
        assert_eq!(
            o.stderr,
            format!("verification failed\nreason (for logs only): {reason}\n")
        );
    };
    rejected(&[&at_59[..], &["--code", "287083"]].concat(), "wrong_code");
    rejected(&[&at_59[..], &["--code", "28708"]].concat(), "malformed");
    rejected(
        &[&at_59[..], &["--code", "287082", "--last-step", "1"]].concat(),
        "replay",
    );
    rejected(
        &[&later[..], &["--window-past", "0"]].concat(),
        "wrong_code",
    );

    // HOTP: the code of counter 3 (969429) found from counter 0 gives the next counter.
    let hotp = ["verify", "--hotp", "--secret", SECRET, "--code", "969429"];
    assert_eq!(ok(&[&hotp[..], &["--counter", "0"]].concat()), "4\n");
    rejected(&[&hotp[..], &["--counter", "4"]].concat(), "wrong_code");
    rejected(
        &[&hotp[..], &["--counter", "0", "--window-future", "2"]].concat(),
        "wrong_code",
    );
}

#[test]
fn uri_parse_qr_and_secret_print_what_they_promise() {
    let uri = ok(&[
        "uri",
        "--secret",
        "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
        "--issuer",
        "ACME Co",
        "--account",
        "jane@example.com",
        "--digits",
        "8",
    ]);
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/ACME%20Co:jane@example.com?secret={SECRET}&issuer=ACME%20Co&algorithm=SHA1&digits=8&period=30\n"
        )
    );
    let fields: Value = serde_json::from_str(&ok(&["parse", uri.trim_end()])).unwrap();
    assert_eq!(fields["type"], "totp");
    assert_eq!(fields["issuer"], "ACME Co");
    assert_eq!(fields["account"], "jane@example.com");
    assert_eq!(fields["secret"], SECRET);
    assert_eq!(fields["algorithm"], "SHA1");
    assert_eq!(fields["digits"], 8);
    assert_eq!(fields["period"], 30);
    assert_eq!(fields["counter"], Value::Null);

    let hotp = ok(&[
        "uri",
        "--secret",
        SECRET,
        "--issuer",
        "I",
        "--account",
        "a",
        "--hotp",
        "--counter",
        "7",
    ]);
    let fields: Value = serde_json::from_str(&ok(&["parse", hotp.trim_end()])).unwrap();
    assert_eq!(fields["type"], "hotp");
    assert_eq!(fields["counter"], 7);

    let picture = ok(&["qr", uri.trim_end()]);
    assert!(picture.lines().count() > 10, "{picture}");
    assert!(picture.contains('█') || picture.contains('▀'), "{picture}");

    let secret = ok(&["secret"]);
    let secret = secret.trim_end();
    assert_eq!(secret.len(), 32, "{secret}");
    let decoded = mfa_otp::Secret::from_base32(secret).unwrap();
    assert_eq!(decoded.len(), 20);
    assert_ne!(ok(&["secret"]).trim_end(), secret);
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let message = bad(&["code", "--secret", "AB1"]);
    assert_eq!(
        message,
        "error: invalid secret: '1' at position 2 is not base32\n"
    );
    // 80 bits: refused unless asked for.
    assert!(bad(&["code", "--secret", "JBSWY3DPEHPK3PXP"]).contains("128-bit minimum"));
    ok(&[
        "code",
        "--secret",
        "JBSWY3DPEHPK3PXP",
        "--allow-short-secret",
    ]);
    for args in [
        &["frobnicate"][..],
        &["code"],
        &["code", "--secret"],
        &["code", "--secret", SECRET, "--bogus", "1"],
        &["code", "--secret", SECRET, "--secret", SECRET],
        &["code", "--secret", SECRET, "extra"],
        &["code", "--secret", SECRET, "--digits", "11"],
        &["code", "--secret", SECRET, "--digits", "5"],
        &[
            "code",
            "--secret",
            SECRET,
            "--digits",
            "999999999999999999999",
        ],
        &["code", "--secret", SECRET, "--algorithm", "md5"],
        &["code", "--secret", SECRET, "--period", "0"],
        &["code", "--secret", SECRET, "--time", "-1"],
        &["code", "--secret", SECRET, "--hotp"],
        &["code", "--secret", SECRET, "--counter", "1"],
        &[
            "code",
            "--secret",
            SECRET,
            "--hotp",
            "--counter",
            "1",
            "--period",
            "60",
        ],
        &[
            "code",
            "--secret",
            SECRET,
            "--hotp",
            "--counter",
            "1",
            "--time",
            "60",
        ],
        &["verify", "--secret", SECRET],
        &[
            "verify",
            "--secret",
            SECRET,
            "--code",
            "1",
            "--window-past",
            "4294967296",
        ],
        &[
            "verify",
            "--secret",
            SECRET,
            "--code",
            "1",
            "--window-past",
            "1000000",
        ],
        &[
            "verify",
            "--secret",
            SECRET,
            "--code",
            "1",
            "--hotp",
            "--counter",
            "0",
            "--last-step",
            "1",
        ],
        &["uri", "--secret", SECRET, "--issuer", "I"],
        &[
            "uri",
            "--secret",
            SECRET,
            "--issuer",
            "I:x",
            "--account",
            "a",
        ],
        &["parse"],
        &["parse", "https://example.com"],
        &["parse", "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP"],
        &["qr", "otpauth://totp/a"],
        &["secret", "--secret", SECRET],
    ] {
        bad(args);
    }
    // Not UTF-8.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt as _;
        let o = run_os(vec![
            "otp".into(),
            "code".into(),
            "--secret".into(),
            OsString::from_vec(vec![0xff, 0xfe]),
        ]);
        assert_eq!(o.status, 2, "{o:?}");
        assert!(o.stderr.starts_with("error: "), "{o:?}");
    }
}

/// Words the generator builds argument lists from: every command and option, values of
/// the right and the wrong kind, and extremes.
const WORDS: &[&str] = &[
    "code",
    "verify",
    "uri",
    "parse",
    "qr",
    "secret",
    "help",
    "--help",
    "-h",
    "--version",
    "--secret",
    SECRET,
    "JBSWY3DPEHPK3PXP",
    "AB1",
    "",
    "=",
    "--allow-short-secret",
    "--algorithm",
    "sha1",
    "SHA512",
    "md5",
    "--digits",
    "6",
    "10",
    "11",
    "--period",
    "0",
    "1",
    "30",
    "--hotp",
    "--counter",
    "--code",
    "287082",
    "--time",
    "59",
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "--window-past",
    "--window-future",
    "4294967295",
    "--last-step",
    "--show-reason",
    "--issuer",
    "--account",
    "a:b",
    "--image",
    "otpauth://totp/a:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    "otpauth://hotp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=18446744073709551615",
    "otpauth://",
    "--",
    "-",
    "é",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Any argument list ends in one of the three statuses, never a panic, and says why
    /// when it fails.
    #[test]
    fn no_argument_list_panics(
        words in proptest::collection::vec(proptest::sample::select(WORDS), 0..12),
        free in proptest::collection::vec(".{0,12}", 0..3),
    ) {
        let mut args: Vec<&str> = words.clone();
        args.extend(free.iter().map(String::as_str));
        let o = run(&args);
        proptest::prop_assert!(o.status <= 2, "{args:?}: {o:?}");
        match o.status {
            0 => proptest::prop_assert!(!o.stdout.is_empty(), "{args:?}: {o:?}"),
            1 => proptest::prop_assert_eq!(o.stderr.lines().next(), Some("verification failed")),
            // A message; with no command at all it is the usage text rather than "error: ".
            _ => proptest::prop_assert!(!o.stderr.trim().is_empty(), "{args:?}: {o:?}"),
        }
    }
}
