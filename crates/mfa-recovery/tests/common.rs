//! Shared helpers: factors with fixed keys, a failing RNG, external tools.

use std::io::Write as _;
use std::process::{Command, Stdio};

use mfa_core::{RandomError, SecretBytes, SecureRandom};
use mfa_recovery::{RecoveryConfig, RecoveryFactor};

use mfa_core::{KeyId, Keyring};

pub(crate) const KEY1: [u8; 32] = [0x11; 32];
pub(crate) const KEY2: [u8; 32] = [0x22; 32];

pub(crate) fn key_id(s: &str) -> KeyId {
    KeyId::new(s).unwrap()
}

pub(crate) fn keyring(id: &str, key: [u8; 32]) -> Keyring {
    Keyring::new(key_id(id), SecretBytes::from(key.to_vec())).unwrap()
}

pub(crate) fn factor(config: RecoveryConfig) -> RecoveryFactor {
    RecoveryFactor::new(keyring("k1", KEY1), config).unwrap()
}

/// A source that returns the same byte forever: a broken RNG.
pub(crate) struct Stuck;

impl SecureRandom for Stuck {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        dest.fill(7);
        Ok(())
    }
}

/// A source that always fails.
pub(crate) struct Failing;

impl SecureRandom for Failing {
    fn fill(&mut self, _: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError)
    }
}

/// Runs `python3 -c script` with `stdin`, after checking that `modules` import. `None`
/// (with a printed reason) when python3 or a module is missing, unless
/// `MFA_REQUIRE_EXTERNAL=1`, which turns a missing tool into a failure.
pub(crate) fn python(modules: &[&str], script: &str, stdin: &str) -> Option<String> {
    let require = std::env::var("MFA_REQUIRE_EXTERNAL").is_ok_and(|v| v == "1");
    let probe = format!("import {}", modules.join(", "));
    let available = Command::new("python3")
        .args(["-c", &probe])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        let msg = format!(
            "python3 with {modules:?} not found (pip install argon2pure==1.3 base32-crockford==0.3.0)"
        );
        assert!(!require, "MFA_REQUIRE_EXTERNAL=1 but {msg}");
        // Written to the real stderr, not through the test harness's capture, so the
        // skip shows in a normal `cargo test` run.
        let _ = writeln!(std::io::stderr(), "SKIPPED external cross-check: {msg}");
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}
