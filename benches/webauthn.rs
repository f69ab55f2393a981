//! Full assertion verification from JSON, per algorithm and backend, against:
//! - the bare signature check on the same key and message (`bare_signature`);
//! - the parts of the full path that are not the signature (`parts/*`), to show where
//!   the overhead goes;
//! - `webauthn-rs-core` 0.6 verifying the same kind of assertion from JSON (`peer`).
//!
//! Keys come from the testkit's `SoftAuthenticator` (RS256: its fixed 2048-bit key).
//! Run with `cargo bench -p mfa-benches --features aws-lc --bench webauthn`.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, clippy::indexing_slicing, reason = "benchmark")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mfa_benches::assertion;
use mfa_webauthn::cose::{Algorithm, PublicKey};
use mfa_webauthn::hazmat::authdata::AuthenticatorData;
use mfa_webauthn::hazmat::{verify_authentication, verify_signature};
use mfa_webauthn::json::AuthenticationResponseJson;
use mfa_webauthn::{Backend, CollectedClientData, SignCountPolicy};
use sha2::Digest as _;
use webauthn_rs_core::proto::PublicKeyCredential;

const ALGORITHMS: [Algorithm; 3] = [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256];

fn ours(c: &mut Criterion) {
    for alg in ALGORITHMS {
        for backend in assertion::backends() {
            let (record, state, resp, json) = assertion::ours(alg, backend);
            let name = format!("{alg:?}/{backend:?}");
            // The relying party's whole job for one login: parse the posted JSON, run
            // §7.2 (including decoding the stored COSE key) and verify the signature.
            c.bench_function(&format!("assertion_from_json/{name}"), |b| {
                b.iter(|| {
                    let r: AuthenticationResponseJson = serde_json::from_str(&json).unwrap();
                    verify_authentication(
                        &state.expectations,
                        &state.allowed,
                        &r,
                        &record,
                        SignCountPolicy::Reject,
                        backend,
                    )
                    .unwrap()
                })
            });
            let key = PublicKey::from_cose(record.public_key.as_slice()).unwrap();
            let mut signed = resp.response.authenticator_data.0.clone();
            signed.extend_from_slice(&sha2::Sha256::digest(&resp.response.client_data_json.0));
            let sig = resp.response.signature.0.clone();
            c.bench_function(&format!("bare_signature/{name}"), |b| {
                b.iter(|| verify_signature(backend, &key, black_box(&signed), &sig).unwrap())
            });
            if backend == Backend::RustCrypto {
                parts(c, alg, &json, record.public_key.as_slice());
            }
        }
    }
}

/// The non-signature steps of the full path, each alone.
fn parts(c: &mut Criterion, alg: Algorithm, json: &str, cose: &[u8]) {
    let resp: AuthenticationResponseJson = serde_json::from_str(json).unwrap();
    c.bench_function(&format!("parts/response_json/{alg:?}"), |b| {
        b.iter(|| serde_json::from_str::<AuthenticationResponseJson>(black_box(json)).unwrap())
    });
    c.bench_function(&format!("parts/client_data_and_auth_data/{alg:?}"), |b| {
        b.iter(|| {
            let cd =
                CollectedClientData::parse(black_box(resp.response.client_data_json.as_slice()))
                    .unwrap();
            let ad = AuthenticatorData::parse(resp.response.authenticator_data.as_slice()).unwrap();
            (cd, ad.sign_count)
        })
    });
    c.bench_function(&format!("parts/cose_key/{alg:?}"), |b| {
        b.iter(|| PublicKey::from_cose(black_box(cose)).unwrap())
    });
}

/// webauthn-rs-core 0.6 verifying the same kind of assertion, from JSON.
fn peer(c: &mut Criterion) {
    for alg in ALGORITHMS {
        let Some((core, auth_state, json)) = assertion::peer(alg) else {
            continue;
        };
        c.bench_function(
            &format!("peer_webauthn_rs_core/assertion_from_json/{alg:?}"),
            |b| {
                b.iter(|| {
                    let r: PublicKeyCredential = serde_json::from_str(&json).unwrap();
                    core.authenticate_credential(&r, &auth_state).unwrap()
                })
            },
        );
    }
}

criterion_group!(benches, ours, peer);
criterion_main!(benches);
