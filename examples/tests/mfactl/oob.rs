//! SMS and email codes through the directory outbox.

use super::*;

/// The code in the newest outbox file holding a code (notices are skipped), as the
/// user reads it: the SMS's last line `@example.com #123456`, or the email's own line.
fn outbox_code(dir: &str) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files.iter().rev() {
        let text = std::fs::read_to_string(f).unwrap();
        if !text.contains("verification code") {
            continue;
        }
        if let Some(line) = text.lines().rev().find(|l| l.starts_with('@')) {
            return line.rsplit('#').next().unwrap().trim().to_owned();
        }
        return text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_digit()))
            .unwrap()
            .to_owned();
    }
    panic!("no code in {dir}")
}

#[test]
fn sms_and_email_codes_through_the_outbox_on_sqlite() {
    let env = Env::new();
    let outbox = env.path("outbox");
    let ob = ["--outbox", outbox.as_str()];
    let with =
        |args: &[&str]| -> Vec<String> { ob.iter().chain(args).map(|s| (*s).to_owned()).collect() };
    let at = |now: u64, args: &[&str]| {
        let all = with(args);
        env.at(now, &all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let ok = |now: u64, args: &[&str]| {
        let all = with(args);
        env.ok(now, &all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let e = ok(
        T0,
        &[
            "enroll",
            "sms",
            "--user",
            "alice",
            "--phone",
            "201-555-0123",
            "--region",
            "US",
        ],
    );
    assert_eq!(e["kind"], "sms");
    assert_eq!(
        e["destination"],
        "+1 \u{2022}\u{2022}\u{2022} \u{2022}\u{2022}\u{2022} 0123"
    );
    let id = e["factor"].as_str().unwrap().to_owned();
    let files = std::fs::read_dir(&outbox).unwrap().count();
    assert_eq!(files, 1);
    let code = outbox_code(&outbox);
    ok(
        T0,
        &[
            "confirm", "--user", "alice", "--factor", &id, "--code", &code,
        ],
    );
    // Listed with the masked number.
    let list = ok(T0, &["list", "--user", "alice"]);
    assert_eq!(list["factors"][0]["confirmed"], true);
    assert_eq!(list["factors"][0]["destination"], e["destination"]);
    // Sign-in: `challenge` sends a new code (after the 30 s cooldown).
    let t = T0 + 31;
    let c = ok(t, &["challenge", "--user", "alice", "--factor", &id]);
    assert_eq!(c["challenge"]["type"], "oob_code");
    let code = outbox_code(&outbox);
    ok(
        t,
        &[
            "verify", "--user", "alice", "--factor", &id, "--code", &code,
        ],
    );
    // Replay: exit 1, no detail.
    rejected(&at(
        t,
        &[
            "verify", "--user", "alice", "--factor", &id, "--code", &code,
        ],
    ));
    // Without --outbox the SMS commands say what is missing.
    bad(
        &env.at(t, &["challenge", "--user", "alice", "--factor", &id]),
        "need --outbox",
    );
    // A bad phone number, a country not allowed: exit 2.
    bad(
        &at(t, &["enroll", "sms", "--user", "bob", "--phone", "12"]),
        "phone",
    );
    bad(
        &at(
            t,
            &[
                "enroll",
                "sms",
                "--user",
                "bob",
                "--phone",
                "+49 151 23456789",
            ],
        ),
        "country",
    );
    // Email, for another user.
    let e = ok(
        t,
        &[
            "enroll",
            "email",
            "--user",
            "carol",
            "--email",
            "carol@example.com",
        ],
    );
    assert_eq!(e["kind"], "email");
    let id = e["factor"].as_str().unwrap().to_owned();
    let code = outbox_code(&outbox);
    ok(
        t,
        &[
            "confirm", "--user", "carol", "--factor", &id, "--code", &code,
        ],
    );
}

// ------------------------------------------------------------------ import
