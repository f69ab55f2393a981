//! Wycheproof signature vectors through the COSE-key → signature path that assertions
//! use: each group's key is encoded as a COSE_Key, parsed back with
//! `PublicKey::from_cose`, and every test goes through `crypto::verify_signature` and
//! through `CredentialRecord::verify_signature` (the login path: the key decoded and,
//! with aws-lc, parsed once per group), which must answer the same, on
//! every backend that supports the algorithm (Ed448: pure Rust only; aws-lc must answer
//! `AlgorithmNotSupported` for every Ed448 test).
//!
//! The four files of ES256, ES384, Ed25519 and RS256 are in the shared vectors. The
//! files of the other algorithms (same Wycheproof commit, `testvectors_v1/`) are read
//! from the shared vectors when present there, else from `$MFA_WYCHEPROOF_DIR`; without
//! either the test says so and passes, unless `MFA_REQUIRE_WYCHEPROOF=1`.

use coset::CborSerializable as _;
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

/// A Wycheproof file: the shared vectors, else `$MFA_WYCHEPROOF_DIR`.
fn locate(file: &str) -> Option<std::path::PathBuf> {
    let shared = crate::vectors(&format!("wycheproof/{file}"));
    if shared.exists() {
        return Some(shared);
    }
    let dir = std::env::var_os("MFA_WYCHEPROOF_DIR")?;
    let p = std::path::Path::new(&dir).join(file);
    p.exists().then_some(p)
}

/// Runs `file` when it can be found (see the module docs); the number of tests run.
fn run_optional(file: &str, cose_for_group: impl Fn(&Value) -> Vec<u8>) -> Option<usize> {
    if locate(file).is_none() {
        assert!(
            std::env::var("MFA_REQUIRE_WYCHEPROOF").as_deref() != Ok("1"),
            "wycheproof/{file} not found (shared vectors or $MFA_WYCHEPROOF_DIR)"
        );
        eprintln!(
            "skipped: wycheproof/{file} is not in the shared vectors, and MFA_WYCHEPROOF_DIR is unset"
        );
        return None;
    }
    Some(run(file, cose_for_group))
}

fn run(file: &str, cose_for_group: impl Fn(&Value) -> Vec<u8>) -> usize {
    let path = locate(file).unwrap_or_else(|| panic!("wycheproof/{file} not found"));
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut count = 0;
    for backend in crate::backends() {
        for group in doc["testGroups"].as_array().unwrap() {
            let cose = cose_for_group(group);
            // A key the COSE layer refuses (a wrong length): every test must be invalid.
            let key = PublicKey::from_cose(&cose);
            // And through a credential record, as a login verifies: the key decoded once
            // and (aws-lc) parsed once for the whole group.
            let record = mfa_webauthn::CredentialRecord::from_parts(vec![1], cose.clone(), 0, 0);
            for t in group["tests"].as_array().unwrap() {
                // ML-DSA tests with a context string: WebAuthn signs with the empty one.
                if t.get("ctx").is_some_and(|c| c.as_str() != Some("")) {
                    continue;
                }
                let msg = hex(t["msg"].as_str().unwrap());
                let sig = hex(t["sig"].as_str().unwrap());
                let Ok(key) = &key else {
                    assert_eq!(
                        t["result"], "invalid",
                        "{file} tcId {}: key refused",
                        t["tcId"]
                    );
                    count += 1;
                    continue;
                };
                let res = verify_signature(backend, key, &msg, &sig);
                let via_record = record.verify_signature(backend, &msg, &sig);
                assert_eq!(
                    format!("{res:?}"),
                    format!("{via_record:?}"),
                    "{file} {backend:?} tcId {}: the record's path answers differently",
                    t["tcId"]
                );
                if !backend.supports(key.alg) {
                    assert!(
                        crate::refused_r(
                            &res,
                            mfa_webauthn::FailureCode::AlgorithmNotAllowed,
                            "not supported by this backend"
                        ),
                        "{file} {backend:?}: {res:?}"
                    );
                    count += 1;
                    continue;
                }
                let got = res.is_ok();
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

fn ec_cose(g: &Value, alg: Algorithm, len: usize) -> Vec<u8> {
    let x = fixed(hex(g["publicKey"]["wx"].as_str().unwrap()), len);
    let y = fixed(hex(g["publicKey"]["wy"].as_str().unwrap()), len);
    let mut point = vec![4u8];
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let key = match alg {
        Algorithm::Es512 => KeyMaterial::P521(Box::new(point.try_into().unwrap())),
        _ => unreachable!(),
    };
    PublicKey { alg, key }.to_cose()
}

fn rsa_cose(g: &Value, alg: Algorithm) -> Vec<u8> {
    let bytes = g["keySize"].as_str().map_or_else(
        || g["keySize"].as_u64().unwrap(),
        |s| s.parse::<u64>().unwrap(),
    ) / 8;
    let n = fixed(
        hex(g["publicKey"]["modulus"].as_str().unwrap()),
        bytes as usize,
    );
    let e = hex(g["publicKey"]["publicExponent"].as_str().unwrap());
    PublicKey {
        alg,
        key: KeyMaterial::Rsa { n, e },
    }
    .to_cose()
}

#[test]
fn es512_wycheproof() {
    if let Some(n) = run_optional("ecdsa_secp521r1_sha512_test.json", |g| {
        ec_cose(g, Algorithm::Es512, 66)
    }) {
        assert!(n >= 542 * crate::backends().len(), "ran {n}");
    }
}

#[test]
fn rs384_rs512_wycheproof() {
    for (file, alg, tests) in [
        ("rsa_signature_2048_sha384_test.json", Algorithm::Rs384, 258),
        ("rsa_signature_3072_sha384_test.json", Algorithm::Rs384, 0),
        ("rsa_signature_2048_sha512_test.json", Algorithm::Rs512, 258),
    ] {
        if let Some(n) = run_optional(file, |g| rsa_cose(g, alg)) {
            assert!(n >= tests * crate::backends().len(), "{file}: ran {n}");
        }
    }
}

#[test]
fn ps256_ps384_ps512_wycheproof() {
    // RFC 8230: MGF1 with the hash of the signature, salt as long as the hash.
    for (file, alg, tests) in [
        (
            "rsa_pss_2048_sha256_mgf1_32_test.json",
            Algorithm::Ps256,
            108,
        ),
        (
            "rsa_pss_2048_sha384_mgf1_48_test.json",
            Algorithm::Ps384,
            100,
        ),
        (
            "rsa_pss_4096_sha512_mgf1_64_test.json",
            Algorithm::Ps512,
            179,
        ),
    ] {
        if let Some(n) = run_optional(file, |g| {
            let hash = match alg {
                Algorithm::Ps256 => ("SHA-256", "32"),
                Algorithm::Ps384 => ("SHA-384", "48"),
                _ => ("SHA-512", "64"),
            };
            assert_eq!(g["sha"], hash.0);
            assert_eq!(g["mgfSha"], hash.0);
            assert_eq!(g["sLen"].to_string().trim_matches('"'), hash.1);
            rsa_cose(g, alg)
        }) {
            assert!(n >= tests * crate::backends().len(), "{file}: ran {n}");
        }
    }
}

#[test]
fn ed448_wycheproof() {
    if let Some(n) = run_optional("ed448_test.json", |g| {
        let pk: [u8; 57] = hex(g["publicKey"]["pk"].as_str().unwrap())
            .try_into()
            .unwrap();
        PublicKey {
            alg: Algorithm::Ed448,
            key: KeyMaterial::Ed448(Box::new(pk)),
        }
        .to_cose()
    }) {
        assert!(n >= 87 * crate::backends().len(), "ran {n}");
    }
}

#[test]
fn ml_dsa_44_wycheproof() {
    if let Some(n) = run_optional("mldsa_44_verify_test.json", |g| {
        // Wrong-length keys are encoded as they are, so `from_cose` refuses them.
        let pk = hex(g["publicKey"].as_str().unwrap());
        coset::CoseKeyBuilder::new()
            .key_type(coset::iana::KeyType::AKP)
            .param(
                coset::iana::AkpKeyParameter::Pub as i64,
                ciborium::Value::Bytes(pk),
            )
            .algorithm(coset::iana::Algorithm::ML_DSA_44)
            .build()
            .to_vec()
            .unwrap()
    }) {
        assert!(n >= 150 * crate::backends().len(), "ran {n}");
    }
}
