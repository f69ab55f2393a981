//! The ratios of the mfa-webauthn README, measured so that a busy machine cannot skew
//! them (as `otp_ratio` does for OTP): for each algorithm and backend the contenders run
//! interleaved, in rounds of a few milliseconds each, and each keeps its fastest round.
//! Sequential criterion groups (`benches/webauthn.rs`) drift by 20–40 % on a shared
//! machine; the minimum over interleaved rounds is what each costs when undisturbed.
//!
//! Contenders, all on one assertion of the testkit's software authenticator:
//! - `full`: the relying party's whole job for one login: parse the posted
//!   `AuthenticationResponseJSON`, run §7.2 against the stored record (which keeps its
//!   decoded key after the first login), verify the signature, build the new record;
//! - `full decoding the key`: the same with a clone of a record that has not decoded
//!   its COSE key yet (as a record just read from storage): the clone and the decode;
//! - `bare`: `hazmat::verify_signature` on the decoded key and the signed bytes;
//! - `bare with the record's key`: `CredentialRecord::verify_signature`, the signature
//!   step of a login alone (the key decoded and, with aws-lc, parsed once): the floor
//!   of `full`;
//! - `webauthn-rs-core`: its `authenticate_credential` on an assertion of the same
//!   shape, from JSON, against a credential it registered itself (ES256, RS256; it
//!   refuses EdDSA credentials).
//!
//! Run with `cargo bench -p mfa-benches --features aws-lc --bench webauthn_ratio`; it
//! prints one line per algorithm and backend.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, clippy::cast_precision_loss, reason = "benchmark")]
#![allow(clippy::cast_possible_truncation, reason = "benchmark")]
#![allow(clippy::cast_sign_loss, clippy::indexing_slicing, reason = "benchmark")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use mfa_benches::assertion;
use mfa_webauthn::cose::{Algorithm, PublicKey};
use mfa_webauthn::hazmat::{verify_authentication, verify_signature};
use mfa_webauthn::json::AuthenticationResponseJson;
use mfa_webauthn::{Backend, CredentialRecord, SignCountPolicy};
use sha2::Digest as _;
use webauthn_rs_core::proto::PublicKeyCredential;

const ROUNDS: usize = 60;
/// The target length of one round of one contender.
const ROUND: Duration = Duration::from_millis(3);

/// Nanoseconds per call of `f`, over `calls` calls.
fn per_call(calls: u32, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(calls)
}

/// The fastest round of each contender, interleaved round by round.
fn interleaved(contenders: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    // Calls per round from one warm-up call each, so that a round lasts about ROUND.
    let calls: Vec<u32> = contenders
        .iter_mut()
        .map(|f| {
            per_call(1, *f);
            let once = per_call(3, *f).max(1.0);
            ((ROUND.as_nanos() as f64 / once) as u32).clamp(1, 100_000)
        })
        .collect();
    let mut best = vec![f64::MAX; contenders.len()];
    for _ in 0..ROUNDS {
        for ((f, b), &n) in contenders.iter_mut().zip(&mut best).zip(&calls) {
            *b = b.min(per_call(n, *f));
        }
    }
    best
}

/// webauthn-rs-core 0.6 with a credential it registered itself, and an assertion JSON
/// for it; `None` when it refuses the algorithm.
/// The non-signature steps of the full path, each alone (backend-independent).
fn parts(json: &str, record: &CredentialRecord, undecoded: &CredentialRecord) {
    let resp: AuthenticationResponseJson = serde_json::from_str(json).unwrap();
    let cd = resp.response.client_data_json.as_slice();
    let ad = resp.response.authenticator_data.as_slice();
    let t = interleaved(&mut [
        &mut || {
            black_box(serde_json::from_str::<AuthenticationResponseJson>(black_box(json)).unwrap());
        },
        &mut || {
            let c = mfa_webauthn::CollectedClientData::parse(black_box(cd)).unwrap();
            let a =
                mfa_webauthn::hazmat::authdata::AuthenticatorData::parse(black_box(ad)).unwrap();
            black_box((c, a.sign_count));
        },
        &mut || {
            black_box(sha2::Sha256::digest(black_box(cd)));
        },
        &mut || {
            black_box(record.clone());
        },
        &mut || {
            black_box(PublicKey::from_cose(black_box(undecoded.public_key.as_slice())).unwrap());
        },
    ]);
    println!(
        "  parts: response JSON {:.2} µs, client data + authenticator data {:.2} µs, \
         SHA-256(clientDataJSON) {:.2} µs, record clone {:.2} µs, COSE key decode {:.2} µs",
        t[0] / 1000.0,
        t[1] / 1000.0,
        t[2] / 1000.0,
        t[3] / 1000.0,
        t[4] / 1000.0,
    );
}

fn main() {
    for alg in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
        let mut peer = assertion::peer(alg);
        for backend in assertion::backends() {
            let (record, state, resp, json) = assertion::ours(alg, backend);
            // The stored form, without a decoded key: what a record read from storage is.
            let stored = serde_json::to_string(&record).unwrap();
            let key = PublicKey::from_cose(record.public_key.as_slice()).unwrap();
            let mut signed = resp.response.authenticator_data.0.clone();
            signed.extend_from_slice(&sha2::Sha256::digest(&resp.response.client_data_json.0));
            let sig = resp.response.signature.0.clone();
            let verify = |record: &CredentialRecord| {
                let r: AuthenticationResponseJson = serde_json::from_str(black_box(&json)).unwrap();
                verify_authentication(
                    &state.expectations,
                    &state.allowed,
                    &r,
                    record,
                    SignCountPolicy::Reject,
                    backend,
                )
                .unwrap()
            };
            let mut full = || {
                black_box(verify(&record));
            };
            // A record that has not decoded its key yet (its cache stays empty: only
            // the clones are verified), cloned per call as a stand-in for reading it.
            let undecoded: CredentialRecord = serde_json::from_str(&stored).unwrap();
            let mut full_decoding = || {
                black_box(verify(&undecoded.clone()));
            };
            let mut bare = || {
                verify_signature(backend, &key, black_box(&signed), &sig).unwrap();
            };
            let mut bare_record = || {
                record
                    .verify_signature(backend, black_box(&signed), &sig)
                    .unwrap();
            };
            let mut theirs = peer.as_mut().map(|(core, auth_state, peer_json)| {
                move || {
                    let r: PublicKeyCredential =
                        serde_json::from_str(black_box(peer_json.as_str())).unwrap();
                    black_box(core.authenticate_credential(&r, auth_state).unwrap());
                }
            });
            if backend == Backend::RustCrypto {
                parts(&json, &record, &undecoded);
            }
            let t = match theirs.as_mut() {
                Some(p) => interleaved(&mut [
                    &mut full,
                    &mut full_decoding,
                    &mut bare,
                    &mut bare_record,
                    p,
                ]),
                None => {
                    interleaved(&mut [&mut full, &mut full_decoding, &mut bare, &mut bare_record])
                }
            };
            let us = |ns: f64| ns / 1000.0;
            let peer_part = t.get(4).map_or_else(
                || "webauthn-rs-core: refuses the algorithm".to_owned(),
                |p| {
                    format!(
                        "webauthn-rs-core {:.1} µs, full/webauthn-rs-core {:.2}",
                        us(*p),
                        t[0] / p
                    )
                },
            );
            println!(
                "{alg:?} {backend:?}: full {:.1} µs, full decoding the key {:.1} µs, bare {:.1} µs, \
                 bare with the record's key {:.1} µs; full/bare {:.3}, full decoding/bare {:.3}, \
                 full/bare with the record's key {:.3}; {peer_part}",
                us(t[0]),
                us(t[1]),
                us(t[2]),
                us(t[3]),
                t[0] / t[2],
                t[1] / t[2],
                t[0] / t[3],
            );
        }
    }
}
