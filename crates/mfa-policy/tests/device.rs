//! Remembered-device tokens: round trip, every binding, tampering, and a cross-check of
//! the HMAC-SHA-256 tag with Python's standard library (an independent implementation).

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_core::{FactorKind, KeyId, Keyring, SecretBytes, Timestamp, UserId};
use mfa_policy::assurance::Aal;
use mfa_policy::device::{DeviceClaims, DeviceProof, DeviceTokenError, DeviceTokenKey};

fn key(byte: u8) -> DeviceTokenKey {
    DeviceTokenKey::new(ring("k1", byte))
}

fn claims() -> DeviceClaims {
    DeviceClaims {
        user: UserId::new("alice@example.com").unwrap(),
        device_id: "laptop-7".into(),
        issued_at: Timestamp::from_unix_secs(1_000),
        expires_at: Timestamp::from_unix_secs(2_000),
        generation: 3,
        aal: Aal::Aal2,
        kinds: [FactorKind::Totp, FactorKind::Sms].into_iter().collect(),
    }
}

#[test]
fn round_trip_and_bindings() {
    let k = key(7);
    let c = claims();
    let t = k.issue(&c).unwrap();
    assert!(t.starts_with("rd2."));
    let at = |s| Timestamp::from_unix_secs(s);
    assert_eq!(k.verify(&t, &c.user, "laptop-7", 3, at(1_500)).unwrap(), c);
    assert_eq!(k.verify(&t, &c.user, "laptop-7", 3, at(1_000)).unwrap(), c);
    let other = UserId::new("bob").unwrap();
    let cases = [
        (
            k.verify(&t, &other, "laptop-7", 3, at(1_500)),
            DeviceTokenError::WrongUser,
        ),
        (
            k.verify(&t, &c.user, "phone", 3, at(1_500)),
            DeviceTokenError::WrongDevice,
        ),
        (
            k.verify(&t, &c.user, "laptop-7", 4, at(1_500)),
            DeviceTokenError::Revoked,
        ),
        (
            k.verify(&t, &c.user, "laptop-7", 3, at(2_000)),
            DeviceTokenError::Expired,
        ),
        (
            k.verify(&t, &c.user, "laptop-7", 3, at(999)),
            DeviceTokenError::NotYetValid,
        ),
        (
            key(8).verify(&t, &c.user, "laptop-7", 3, at(1_500)),
            DeviceTokenError::BadSignature,
        ),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        assert_eq!(got, Err(want), "case {i}");
    }
}

#[test]
fn any_altered_byte_is_refused() {
    let k = key(7);
    let c = claims();
    let t = k.issue(&c).unwrap();
    let bytes = t.as_bytes();
    for i in 0..bytes.len() {
        for replacement in [b'A', b'_', b'.', b'0'] {
            if bytes[i] == replacement {
                continue;
            }
            let mut altered = bytes.to_vec();
            altered[i] = replacement;
            let altered = String::from_utf8(altered).unwrap();
            let r = k.verify(
                &altered,
                &c.user,
                "laptop-7",
                3,
                Timestamp::from_unix_secs(1_500),
            );
            assert!(r.is_err(), "byte {i} -> {}: {altered}", replacement as char);
        }
    }
    for bad in [
        "",
        "rd1.",
        "rd1..",
        "rd1.AAAA.AAAA",
        "rd2.AAAA.AAAA",
        "x",
        "rd1.AAAA",
        "rd1.!!!.AAAA",
    ] {
        assert!(k.open(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        k.open("rd3.AA.AA"),
        Err(DeviceTokenError::UnsupportedVersion)
    );
    // A version 1 token (no level, no kinds) is refused as such, even with a valid tag.
    assert_eq!(
        k.open("rd1.AQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        Err(DeviceTokenError::UnsupportedVersion)
    );
}

fn ring(id: &str, byte: u8) -> Keyring {
    Keyring::new(KeyId::new(id).unwrap(), SecretBytes::from(vec![byte; 32])).unwrap()
}

/// Rotation: a token signed by the old key verifies while the old key is in the ring,
/// new tokens are signed by the new current key, and removing the old key revokes the
/// tokens it signed (and only those).
#[test]
fn rotation_keeps_old_tokens_until_their_key_is_removed() {
    let c = claims();
    let old = key(1).issue(&c).unwrap();
    let k2 = KeyId::new("k2").unwrap();
    let mut ring = ring("k1", 1)
        .with_key(k2.clone(), SecretBytes::from(vec![2u8; 32]))
        .unwrap()
        .with_current(&k2)
        .unwrap();
    let rotated = DeviceTokenKey::new(ring.clone());
    assert_eq!(
        rotated
            .verify(
                &old,
                &c.user,
                "laptop-7",
                3,
                Timestamp::from_unix_secs(1_500)
            )
            .unwrap(),
        c
    );
    let new = rotated.issue(&c).unwrap();
    assert_ne!(new, old, "the new current key signs");
    // Only k2 signed `new`: a ring holding k1 alone refuses it.
    assert_eq!(key(1).open(&new), Err(DeviceTokenError::BadSignature));
    ring.remove(&KeyId::new("k1").unwrap()).unwrap();
    let retired = DeviceTokenKey::new(ring);
    assert_eq!(retired.open(&old), Err(DeviceTokenError::BadSignature));
    assert_eq!(retired.open(&new).unwrap(), c);
}

#[test]
fn invalid_inputs() {
    assert!(Keyring::new(KeyId::new("k").unwrap(), SecretBytes::from(vec![1u8; 31])).is_err());
    let k = key(1);
    let mut c = claims();
    c.device_id = String::new();
    assert_eq!(k.issue(&c), Err(DeviceTokenError::InvalidDeviceId));
    c.device_id = "x".repeat(256);
    assert_eq!(k.issue(&c), Err(DeviceTokenError::InvalidDeviceId));
    c.device_id = "a\nb".into();
    assert_eq!(k.issue(&c), Err(DeviceTokenError::InvalidDeviceId));
    assert_eq!(format!("{k:?}"), "DeviceTokenKey([redacted])");
}

/// Recomputes the documented tag with Python's `hmac` and `hashlib` and compares it with
/// ours; also parses the payload layout independently.
#[test]
fn tag_matches_python_hmac() {
    let python = ["python3", "python"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(python) = python else {
        assert!(
            std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
            "python3 is required (MFA_REQUIRE_EXTERNAL=1) but missing"
        );
        println!("SKIPPED tag_matches_python_hmac: python3 not found");
        return;
    };
    let k = key(0x5a);
    let token = k.issue(&claims()).unwrap();
    let script = r#"
import base64, hashlib, hmac, struct, sys
tok = sys.argv[1]
prefix, p, t = tok.split(".")
assert prefix == "rd2"
pad = lambda s: s + "=" * (-len(s) % 4)
payload = base64.urlsafe_b64decode(pad(p))
tag = base64.urlsafe_b64decode(pad(t))
key = bytes([0x5a]) * 32
want = hmac.new(key, b"mfa-policy/remembered-device/v2\x00" + payload, hashlib.sha256).digest()
assert hmac.compare_digest(want, tag), "tag mismatch"
v = payload[0]; ul = payload[1]; user = payload[2:2+ul]; dl = payload[2+ul]
dev = payload[3+ul:3+ul+dl]
o = 3 + ul + dl
iat, exp, gen = struct.unpack(">QQQ", payload[o:o+24])
o += 24
aal = payload[o]; n = payload[o+1]; o += 2
kinds = []
for _ in range(n):
    kl = payload[o]; kinds.append(payload[o+1:o+1+kl].decode()); o += 1 + kl
assert o == len(payload), "trailing bytes"
print(v, user.decode(), dev.decode(), iat, exp, gen, aal, ",".join(kinds))
"#;
    let out = Command::new(python)
        .args(["-c", script, &token])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "2 alice@example.com laptop-7 1000 2000 3 2 sms,totp"
    );
    // The payload is exactly the documented layout: 1+1+17+1+8+24, then aal (1) and
    // the kinds in FactorKind::ALL order: count (1), "sms" (1+3), "totp" (1+4).
    let payload = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    assert_eq!(payload.len(), 1 + 1 + 17 + 1 + 8 + 24 + 1 + 1 + 5 + 4);
}

#[test]
fn device_proof_debug_hides_the_token() {
    let token = key(7).issue(&claims()).unwrap();
    let proof = DeviceProof {
        token: &token,
        device_id: "laptop-7",
        generation: 3,
        stored: None,
    };
    for dbg in [format!("{proof:?}"), format!("{proof:#?}")] {
        assert!(!dbg.contains(&token), "{dbg}");
        // Not even its signature part alone.
        let tag = token.rsplit('.').next().unwrap();
        assert!(!dbg.contains(tag), "{dbg}");
        assert!(dbg.contains("[redacted]"), "{dbg}");
        assert!(
            dbg.starts_with("DeviceProof") && dbg.contains("laptop-7"),
            "{dbg}"
        );
    }
}
