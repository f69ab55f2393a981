//! The stored HMAC tags are what the documented construction gives when computed by an
//! independent implementation (Python's `hmac` and `hashlib`).

use mfa_core::testkit::SeededRandom;
use mfa_recovery::{RecoveryConfig, RecoveryMode};

use crate::common::{KEY1, factor, python};

#[test]
fn hmac_tags_match_python_hmac() {
    let f = factor(RecoveryConfig::default().with_mode(RecoveryMode::set(20).unwrap()));
    let (codes, record) = f.generate(&mut SeededRandom::new(99)).unwrap().into_parts();
    let json: serde_json::Value = serde_json::to_value(&record).unwrap();
    assert_eq!(json["hashes"]["alg"], "hmac_sha256");
    let nonce = json["nonce"].as_str().unwrap();
    let mut stored: Vec<&str> = json["hashes"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    // HMAC-SHA-256(pepper, "mfa-recovery v1 hmac-sha256\0" || nonce || code).
    let script = r#"
import sys, hmac, hashlib, base64
key_hex, nonce_b64, *codes = sys.stdin.read().split()
d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
nonce = d(nonce_b64)
for c in codes:
    tag = hmac.new(bytes.fromhex(key_hex), b"mfa-recovery v1 hmac-sha256\0" + nonce + c.encode(), hashlib.sha256).digest()
    print(base64.urlsafe_b64encode(tag).decode().rstrip("="))
"#;
    let key_hex: String = KEY1.iter().map(|b| format!("{b:02x}")).collect();
    let mut input = format!("{key_hex} {nonce}");
    for c in &codes {
        input.push(' ');
        input.push_str(c.expose_secret());
    }
    let Some(out) = python(&["hmac", "hashlib", "base64"], script, &input) else {
        return;
    };
    let mut theirs: Vec<&str> = out.lines().collect();
    assert_eq!(theirs.len(), 20);
    theirs.sort_unstable();
    stored.sort_unstable();
    assert_eq!(theirs, stored);
}
