#![no_main]
//! FIDO MDS3 BLOBs: never panics. The first byte picks the input's role:
//! - 0: an MDS3 payload (JSON) through `hazmat::parse_metadata_payload`;
//! - 1: a whole BLOB (JWS) through `MetadataLoader::load` with the test root;
//! - 2: a payload signed here with the test chain (ES256), so the fuzzer reaches the
//!   compile step behind a valid signature: the verified load succeeds exactly when the
//!   unverified parse does, with the same summary, and its store survives a serde round
//!   trip unchanged.
use libfuzzer_sys::fuzz_target;
use mfa_core::Timestamp;
use mfa_webauthn::hazmat::parse_metadata_payload;
use mfa_webauthn::metadata::testkit::{header, sign_es256};
use mfa_webauthn::{MetadataLoader, MetadataTrustStore, TrustAnchor};

const ROOT: &[u8] = include_bytes!("../../crates/mfa-webauthn/tests/data/mds/mds-root.der");
const INT: &[u8] = include_bytes!("../../crates/mfa-webauthn/tests/data/mds/mds-int.der");
const SIGNER: &[u8] = include_bytes!("../../crates/mfa-webauthn/tests/data/mds/mds-signer.der");
const SCALAR: &[u8] = include_bytes!("../../crates/mfa-webauthn/tests/data/mds/mds-signer.scalar");
/// 2027-01-01T00:00:00Z, inside the fixtures' validity.
const NOW: Timestamp = Timestamp::from_unix_secs(1_798_761_600);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(root) = TrustAnchor::from_der(ROOT) else {
        return;
    };
    let loader = MetadataLoader::new().with_roots_only([root]);
    match mode % 3 {
        0 => {
            let _ = parse_metadata_payload(rest);
        }
        1 => {
            let _ = loader.load(rest, NOW);
        }
        _ => {
            let Ok(blob) = sign_es256(
                &header("ES256", &[SIGNER.to_vec(), INT.to_vec()]),
                rest,
                SCALAR,
            ) else {
                return;
            };
            let loaded = loader.load(&blob, NOW);
            let parsed = parse_metadata_payload(rest);
            match (&loaded, &parsed) {
                (Ok(store), Ok(summary)) => {
                    assert_eq!(store.no(), summary.no);
                    assert_eq!(store.next_update(), summary.next_update);
                    assert_eq!(store.entries().len(), summary.entries);
                    let text = serde_json::to_string(store).unwrap();
                    let back: MetadataTrustStore = serde_json::from_str(&text).unwrap();
                    assert_eq!(&back, store);
                }
                (Err(a), Err(b)) => assert_eq!(a, b),
                _ => panic!("verified load and unverified parse disagree: {loaded:?} / {parsed:?}"),
            }
        }
    }
});
