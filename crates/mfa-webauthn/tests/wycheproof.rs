//! Wycheproof signature vectors through the COSE-key → signature path that assertions
//! use: each group's key is encoded as a COSE_Key, parsed back with
//! `PublicKey::from_cose`, and every test goes through `crypto::verify_signature`.

use mfa_webauthn::cose::{Algorithm, KeyMaterial, PublicKey};
use mfa_webauthn::hazmat::verify_signature;
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Big-endian integer bytes to exactly `n` bytes (Wycheproof adds a sign byte or drops
/// leading zeros).
fn fixed(mut b: Vec<u8>, n: usize) -> Vec<u8> {
    while b.len() > n && b[0] == 0 {
        b.remove(0);
    }
    while b.len() < n {
        b.insert(0, 0);
    }
    b
}

/// How `acceptable` (legacy-encoding) tests are decided: rejected. WebAuthn signatures
/// come from authenticators that encode correctly; nothing legitimate needs leniency.
const ACCEPTABLE_IS_ACCEPTED: bool = false;

fn run(file: &str, cose_for_group: impl Fn(&Value) -> Vec<u8>) -> usize {
    let text = std::fs::read_to_string(crate::vectors(&format!("wycheproof/{file}"))).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut count = 0;
    for backend in crate::backends() {
        for group in doc["testGroups"].as_array().unwrap() {
            let cose = cose_for_group(group);
            let key = PublicKey::from_cose(&cose).unwrap();
            for t in group["tests"].as_array().unwrap() {
                let msg = hex(t["msg"].as_str().unwrap());
                let sig = hex(t["sig"].as_str().unwrap());
                let got = verify_signature(backend, &key, &msg, &sig).is_ok();
                let want = match t["result"].as_str().unwrap() {
                    "valid" => true,
                    "invalid" => false,
                    _ => ACCEPTABLE_IS_ACCEPTED,
                };
                assert_eq!(
                    got, want,
                    "{file} {backend:?} tcId {} ({}): {t}",
                    t["tcId"], t["comment"]
                );
                count += 1;
            }
        }
    }
    count
}

#[test]
fn es256_wycheproof() {
    let n = run("ecdsa_secp256r1_sha256_test.json", |g| {
        let x = fixed(hex(g["publicKey"]["wx"].as_str().unwrap()), 32);
        let y = fixed(hex(g["publicKey"]["wy"].as_str().unwrap()), 32);
        let mut point = [0u8; 65];
        point[0] = 4;
        point[1..33].copy_from_slice(&x);
        point[33..].copy_from_slice(&y);
        PublicKey {
            alg: Algorithm::Es256,
            key: KeyMaterial::P256(point),
        }
        .to_cose()
    });
    assert!(n >= 484, "ran {n}");
}

#[test]
fn es384_wycheproof() {
    let n = run("ecdsa_secp384r1_sha384_test.json", |g| {
        let x = fixed(hex(g["publicKey"]["wx"].as_str().unwrap()), 48);
        let y = fixed(hex(g["publicKey"]["wy"].as_str().unwrap()), 48);
        let mut point = [0u8; 97];
        point[0] = 4;
        point[1..49].copy_from_slice(&x);
        point[49..].copy_from_slice(&y);
        PublicKey {
            alg: Algorithm::Es384,
            key: KeyMaterial::P384(point),
        }
        .to_cose()
    });
    assert!(n >= 504 * crate::backends().len(), "ran {n}");
}

#[test]
fn ed25519_wycheproof() {
    let n = run("ed25519_test.json", |g| {
        let pk: [u8; 32] = hex(g["publicKey"]["pk"].as_str().unwrap())
            .try_into()
            .unwrap();
        PublicKey {
            alg: Algorithm::EdDsa,
            key: KeyMaterial::Ed25519(pk),
        }
        .to_cose()
    });
    assert!(n >= 151, "ran {n}");
}

#[test]
fn rs256_wycheproof() {
    let n = run("rsa_signature_2048_sha256_test.json", |g| {
        let n = hex(g["publicKey"]["modulus"].as_str().unwrap());
        let e = hex(g["publicKey"]["publicExponent"].as_str().unwrap());
        let n = fixed(n, 256);
        PublicKey {
            alg: Algorithm::Rs256,
            key: KeyMaterial::Rsa { n, e },
        }
        .to_cose()
    });
    assert!(n >= 259, "ran {n}");
}
