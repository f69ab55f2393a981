//! FIDO MDS3: loading a BLOB of the real size (over 10 MB: FIDO's carries icons and
//! full metadata statements) — JWS check, signer chain, payload parse and compile into
//! a `MetadataTrustStore` — against the floor of parsing the same payload into a
//! `serde_json::Value` (no checks, no compile), in the same run.
//!
//! The BLOB is generated in memory: 1500 entries, each with a unique AAGUID, two root
//! certificates, status reports, a 6 KB icon and other members the loader ignores,
//! signed ES256 by the `tests/data/mds/gen.sh` test chain.
//! Run with `cargo bench -p mfa-benches --bench mds`.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, clippy::indexing_slicing, reason = "benchmark")]

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use mfa_core::Timestamp;
use mfa_webauthn::metadata::testkit::{header, sign_es256};
use mfa_webauthn::{MetadataLoader, TrustAnchor};
use serde_json::json;

const ROOT: &[u8] = include_bytes!("../crates/mfa-webauthn/tests/data/mds/mds-root.der");
const INT: &[u8] = include_bytes!("../crates/mfa-webauthn/tests/data/mds/mds-int.der");
const SIGNER: &[u8] = include_bytes!("../crates/mfa-webauthn/tests/data/mds/mds-signer.der");
const SCALAR: &[u8] = include_bytes!("../crates/mfa-webauthn/tests/data/mds/mds-signer.scalar");
const OTHER: &[u8] = include_bytes!("../crates/mfa-webauthn/tests/data/mds/other-root.der");
/// 2027-01-01T00:00:00Z, inside the fixtures' validity.
const NOW: Timestamp = Timestamp::from_unix_secs(1_798_761_600);
const ENTRIES: usize = 1500;

fn payload() -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let roots = [b64.encode(OTHER), b64.encode(ROOT)];
    let icon = format!("data:image/png;base64,{}", "iVBORw0KGgo".repeat(560));
    let entries: Vec<_> = (0..ENTRIES)
        .map(|i| {
            let aaguid = format!("{i:08x}-0000-4000-8000-{:012x}", i * 7919);
            json!({
                "aaguid": aaguid,
                "metadataStatement": {
                    "legalHeader": "https://fidoalliance.org/metadata/metadata-statement-legal-header/",
                    "aaguid": aaguid,
                    "description": format!("Authenticator model {i}"),
                    "authenticatorVersion": 50_100,
                    "protocolFamily": "fido2",
                    "schema": 3,
                    "upv": [{"major": 1, "minor": 1}, {"major": 1, "minor": 0}],
                    "authenticationAlgorithms": ["ed25519_eddsa_sha512_raw", "secp256r1_ecdsa_sha256_raw"],
                    "publicKeyAlgAndEncodings": ["cose"],
                    "attestationTypes": ["basic_full"],
                    "userVerificationDetails": [[{"userVerificationMethod": "presence_internal"}],
                        [{"userVerificationMethod": "passcode_external", "caDesc": {"base": 64, "minLength": 4}}]],
                    "keyProtection": ["hardware", "secure_element"],
                    "matcherProtection": ["on_chip"],
                    "attachmentHint": ["external", "wired", "wireless", "nfc"],
                    "tcDisplay": [],
                    "attestationRootCertificates": roots,
                    "icon": icon,
                    "authenticatorGetInfo": {
                        "versions": ["U2F_V2", "FIDO_2_0", "FIDO_2_1"],
                        "extensions": ["credProtect", "hmac-secret", "largeBlobKey"],
                        "aaguid": aaguid.replace('-', ""),
                        "options": {"rk": true, "up": true, "plat": false, "clientPin": true},
                        "maxMsgSize": 1200,
                        "pinUvAuthProtocols": [2, 1],
                    },
                },
                "statusReports": [
                    {"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2023-05-01",
                     "certificateNumber": format!("FIDO2{i:08}"), "certificationPolicyVersion": "1.4"},
                    {"status": "UPDATE_AVAILABLE", "effectiveDate": "2024-02-01", "url": "https://example.com/fw"},
                ],
                "timeOfLastStatusChange": "2024-02-01",
            })
        })
        .collect();
    json!({
        "legalHeader": "Retrieval and use of this BLOB indicates acceptance of the appropriate agreement.",
        "no": 80,
        "nextUpdate": "2027-02-01",
        "entries": entries,
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let payload = payload();
    let blob = sign_es256(
        &header("ES256", &[SIGNER.to_vec(), INT.to_vec()]),
        payload.as_bytes(),
        SCALAR,
    )
    .unwrap();
    let loader = MetadataLoader::new().with_roots_only([TrustAnchor::from_der(ROOT).unwrap()]);
    let store = loader.load(&blob, NOW).unwrap();
    assert_eq!(store.entries().len(), ENTRIES);
    assert!(blob.len() > 10_000_000, "{}", blob.len());
    eprintln!(
        "mds: BLOB {} bytes, payload {} bytes, {} entries",
        blob.len(),
        payload.len(),
        ENTRIES
    );
    let mut g = c.benchmark_group("mds");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("load (jws + chain + parse + compile)", |b| {
        b.iter(|| loader.load(black_box(&blob), NOW).unwrap())
    });
    g.bench_function("floor: payload to serde_json::Value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&payload)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
