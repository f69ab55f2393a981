//! Cross-checks with two independent implementations, pyotp (Python) and oathtool
//! (OATH Toolkit, C), on 1,000 random (secret, time, algorithm, digits, period) tuples
//! each: codes both ways, and verification both ways.
//!
//! The tools run as subprocesses in batches (one Python process for all tuples, one
//! shell for all oathtool calls). When a tool is missing the test prints why and skips,
//! unless `MFA_REQUIRE_EXTERNAL=1` (CI), where a missing tool fails the test.
//!
//! oathtool only supports 6 to 8 digits and HOTP with SHA-1 only, so its tuples are
//! drawn from those; pyotp covers 6 to 10 digits. pyotp refuses periods over 120 s, so
//! periods are 1, 30, 60 or random in 1..=120 s (longer ones are checked by vectors).

use mfa_core::Timestamp;
use std::io::Write as _;
use std::process::{Command, Stdio};

use mfa_otp::{
    Algorithm, Digits, Hotp, HotpParams, Period, RejectReason, Secret, Totp, TotpParams, Window,
};
use serde_json::{Value, json};

use crate::support::to_hex;

const CASES: usize = 1_000;

/// A small deterministic generator (SplitMix64), so a failure can be reproduced.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Case {
    secret: Secret,
    params: TotpParams,
    time: u64,
    counter: u64,
}

fn cases(seed: u64, max_digits: u8) -> Vec<Case> {
    let mut rng = SplitMix(seed);
    (0..CASES)
        .map(|_| {
            let len = 16 + rng.below(49) as usize; // 16..=64 bytes
            let secret = Secret::from_bytes((0..len).map(|_| rng.next() as u8).collect()).unwrap();
            let algorithm = Algorithm::ALL[rng.below(3) as usize];
            let digits = Digits::new(6 + rng.below(u64::from(max_digits) - 5) as u8).unwrap();
            let period = match rng.below(4) {
                0 => 30,
                1 => 60,
                2 => 1,
                // pyotp refuses periods over 120 s.
                _ => 1 + rng.below(120),
            };
            // Up to 2^37 s (year 6325): past 2038 and 2106, inside Python's datetime.
            let time = 600 * 3 + rng.below(1 << 37);
            Case {
                secret,
                params: TotpParams {
                    algorithm,
                    digits,
                    period: Period::new(period).unwrap(),
                    t0: 0,
                },
                time,
                counter: rng.below(1 << 62),
            }
        })
        .collect()
}

/// Whether a tool is present; otherwise skips (returns false) with a message on the
/// real stderr, or fails under `MFA_REQUIRE_EXTERNAL=1`.
fn tool_available(name: &str, probe: &mut Command) -> bool {
    let ok = probe
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    let message = format!(
        "SKIPPED: {name} is not installed, so this cross-check did not run \
         (install it, or set MFA_REQUIRE_EXTERNAL=1 to make this a failure)\n"
    );
    assert!(
        std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
        "MFA_REQUIRE_EXTERNAL=1 but {name} is missing"
    );
    // Not captured by the test harness, so the skip is visible.
    let _ = std::io::stderr().write_all(message.as_bytes());
    false
}

const PYOTP_SCRIPT: &str = r#"
import hashlib, json, sys
import pyotp
digests = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
out = []
for c in json.load(sys.stdin):
    d = digests[c["algorithm"]]
    totp = pyotp.TOTP(c["secret"], digits=c["digits"], digest=d, interval=c["period"])
    hotp = pyotp.HOTP(c["secret"], digits=c["digits"], digest=d)
    t, p = c["time"], c["period"]
    out.append({
        "totp": [totp.at(t + k * p) for k in range(-2, 3)],
        "verify": [totp.verify(code, for_time=t, valid_window=1) for code in c["ours"]],
        "hotp": hotp.at(c["counter"]),
    })
json.dump(out, sys.stdout)
"#;

#[test]
fn pyotp_agrees_on_codes_and_verification() {
    if !tool_available(
        "pyotp (pip install pyotp)",
        Command::new("python3").args(["-c", "import pyotp"]),
    ) {
        return;
    }
    let cases = cases(0x5eed_0001, 10);
    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            let totp = Totp::new(&c.secret, c.params);
            let step = totp.step_at(Timestamp::from_unix_secs(c.time)).unwrap();
            let ours: Vec<String> = (0..5)
                .map(|k| totp.code_for_step(step + k - 2).as_str().to_owned())
                .collect();
            json!({
                "secret": c.secret.to_base32().as_str(),
                "algorithm": c.params.algorithm.as_str(),
                "digits": c.params.digits.get(),
                "period": c.params.period.secs(),
                "time": c.time,
                "counter": c.counter,
                "ours": ours,
            })
        })
        .collect();
    let mut child = Command::new("python3")
        .args(["-c", PYOTP_SCRIPT])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "pyotp script failed");
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results.len(), CASES);

    let mut verified = 0;
    for (i, (c, r)) in cases.iter().zip(&results).enumerate() {
        let ctx = &input[i];
        let totp = Totp::new(&c.secret, c.params);
        let step = totp.step_at(Timestamp::from_unix_secs(c.time)).unwrap();
        let theirs: Vec<&str> = r["totp"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let ours: Vec<&str> = ctx["ours"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(theirs, ours, "#{i} codes differ: {ctx}");
        let hotp = Hotp::new(
            &c.secret,
            HotpParams {
                algorithm: c.params.algorithm,
                digits: c.params.digits,
            },
        );
        assert_eq!(
            hotp.code(c.counter).as_str(),
            r["hotp"].as_str().unwrap(),
            "#{i} hotp: {ctx}"
        );

        // Verification, both ways, with a ±1 window: offsets -1..=1 are accepted (ours
        // returns the step), ±2 refused, unless that code happens to equal one inside
        // the window (a 10^-digits coincidence, checked rather than assumed).
        let pyotp_verify: Vec<bool> = r["verify"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_bool().unwrap())
            .collect();
        for (k, code) in theirs.iter().enumerate() {
            let inside = (1..=3).contains(&k);
            let collides = theirs[1..=3].contains(code);
            let result = totp.verify(
                code,
                Timestamp::from_unix_secs(c.time),
                Window::default(),
                None,
            );
            if inside {
                let matched = result.unwrap_or_else(|e| panic!("#{i} k={k}: {e:?} {ctx}"));
                if !theirs[1..k].contains(code) {
                    assert_eq!(matched, step + k as u64 - 2, "#{i} k={k}");
                }
                assert!(pyotp_verify[k], "#{i} k={k}: pyotp refused our code {ctx}");
            } else if !collides {
                let e = result.unwrap_err();
                assert_eq!(
                    e,
                    mfa_otp::Error::Rejected(mfa_otp::Rejected::new(RejectReason::WrongCode))
                );
                assert!(
                    !pyotp_verify[k],
                    "#{i} k={k}: pyotp accepted a code outside its window"
                );
            }
            verified += 1;
        }
    }
    assert_eq!(verified, 5 * CASES);
}

#[test]
fn oathtool_agrees_on_codes_and_verification() {
    if !tool_available(
        "oathtool (apt-get install oathtool)",
        Command::new("oathtool").arg("--version"),
    ) {
        return;
    }
    // oathtool supports 6 to 8 digits only, and HOTP with SHA-1 only.
    let cases = cases(0x5eed_0002, 8);
    let mut script = String::new();
    for c in &cases {
        let key = to_hex(c.secret.expose_secret());
        let alg = c.params.algorithm.as_str().to_lowercase();
        let (d, p, t) = (c.params.digits.get(), c.params.period.secs(), c.time);
        let ours = Totp::new(&c.secret, c.params)
            .code_at(Timestamp::from_unix_secs(t))
            .unwrap();
        let ours_hotp = Hotp::new(
            &c.secret,
            HotpParams {
                algorithm: Algorithm::Sha1,
                digits: c.params.digits,
            },
        )
        .code(c.counter);
        // Line 1: their TOTP code. Line 2: whether they accept ours (exact step).
        // Line 3: their HOTP (SHA-1) code. Line 4: whether they accept our HOTP code.
        script.push_str(&format!(
            "oathtool --totp={alg} -d {d} -s {p}s -N @{t} {key}\n\
             oathtool --totp={alg} -d {d} -s {p}s -N @{t} -w 0 {key} {o} >/dev/null 2>&1 && echo ok || echo no\n\
             oathtool --hotp -d {d} -c {n} {key}\n\
             oathtool --hotp -d {d} -c {n} -w 0 {key} {h} >/dev/null 2>&1 && echo ok || echo no\n",
            o = ours.as_str(),
            n = c.counter,
            h = ours_hotp.as_str(),
        ));
    }
    let mut child = Command::new("sh")
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        4 * CASES,
        "oathtool printed {} lines",
        lines.len()
    );
    for (i, (c, l)) in cases.iter().zip(lines.chunks(4)).enumerate() {
        let totp = Totp::new(&c.secret, c.params);
        let ctx = format!("{:?} t={} counter={}", c.params, c.time, c.counter);
        assert_eq!(
            totp.code_at(Timestamp::from_unix_secs(c.time))
                .unwrap()
                .as_str(),
            l[0],
            "#{i} {ctx}"
        );
        assert_eq!(l[1], "ok", "#{i} oathtool refused our TOTP code {ctx}");
        let step = totp.step_at(Timestamp::from_unix_secs(c.time)).unwrap();
        assert_eq!(
            totp.verify(l[0], Timestamp::from_unix_secs(c.time), Window::EXACT, None)
                .unwrap(),
            step,
            "#{i}"
        );
        let hotp = Hotp::new(
            &c.secret,
            HotpParams {
                algorithm: Algorithm::Sha1,
                digits: c.params.digits,
            },
        );
        assert_eq!(hotp.code(c.counter).as_str(), l[2], "#{i} {ctx}");
        assert_eq!(l[3], "ok", "#{i} oathtool refused our HOTP code {ctx}");
        assert_eq!(
            hotp.verify(l[2], c.counter, 0).unwrap(),
            c.counter + 1,
            "#{i}"
        );
    }
}
