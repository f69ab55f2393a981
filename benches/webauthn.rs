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
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mfa_core::{OsRandom, Timestamp};
use mfa_webauthn::Backend;
use mfa_webauthn::cose::{Algorithm, PublicKey};
use mfa_webauthn::hazmat::authdata::AuthenticatorData;
use mfa_webauthn::hazmat::verify_authentication;
use mfa_webauthn::hazmat::verify_signature;
use mfa_webauthn::json::{AuthenticationResponseJson, Base64UrlBytes};
use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
use mfa_webauthn::{
    AuthenticationRequest, CollectedClientData, RegistrationRequest, RelyingParty, SignCountPolicy,
};
use sha2::Digest as _;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{COSEAlgorithm, PublicKeyCredential, RegisterPublicKeyCredential};

const ORIGIN: &str = "https://example.com";
const ALGORITHMS: [Algorithm; 3] = [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256];

fn backends() -> Vec<Backend> {
    #[allow(unused_mut)]
    let mut b = vec![Backend::RustCrypto];
    #[cfg(feature = "aws-lc")]
    b.push(Backend::AwsLc);
    b
}

fn now() -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000)
}

fn ours(c: &mut Criterion) {
    for alg in ALGORITHMS {
        for backend in backends() {
            let rp = RelyingParty::builder("example.com", "Bench")
                .origin(ORIGIN)
                .backend(backend)
                .build()
                .unwrap();
            let mut a = SoftAuthenticator::new(alg, &mut OsRandom).unwrap();
            let req = RegistrationRequest::new(b"u".to_vec(), "u", "U");
            let (opts, state) = rp.start_registration(&req, now(), &mut OsRandom).unwrap();
            let resp = a.register(&opts, ORIGIN, Fault::None).unwrap();
            let record = rp.finish_registration(&state, &resp, now()).unwrap().record;
            let req = AuthenticationRequest {
                allow_credentials: vec![record.descriptor()],
                ..Default::default()
            };
            let (opts, state) = rp.start_authentication(&req, now(), &mut OsRandom).unwrap();
            let resp = a
                .authenticate(&opts.public_key, ORIGIN, Fault::None)
                .unwrap();
            let json = serde_json::to_string(&resp).unwrap();
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

/// webauthn-rs-core 0.6: registration through its own ceremony (so its `Credential` is
/// what it would have stored), then the same kind of assertion, from JSON.
fn peer(c: &mut Criterion) {
    let core = WebauthnCore::new_unsafe_experts_only(
        "Bench",
        "example.com",
        vec![url::Url::parse(ORIGIN).unwrap()],
        Duration::from_secs(60),
        None,
        None,
    );
    // Our relying party only to shape the options the software authenticator reads.
    let rp = RelyingParty::builder("example.com", "Bench")
        .origin(ORIGIN)
        .build()
        .unwrap();
    for (alg, peer_alg) in [
        (Algorithm::Es256, COSEAlgorithm::ES256),
        (Algorithm::EdDsa, COSEAlgorithm::EDDSA),
        (Algorithm::Rs256, COSEAlgorithm::RS256),
    ] {
        let mut a = SoftAuthenticator::new(alg, &mut OsRandom).unwrap();
        let builder = core
            .new_challenge_register_builder(b"u", "u", "U")
            .unwrap()
            .credential_algorithms(vec![peer_alg]);
        let (ccr, reg_state) = core.generate_challenge_register(builder).unwrap();
        let req = RegistrationRequest::new(b"u".to_vec(), "u", "U");
        let (mut opts, _) = rp.start_registration(&req, now(), &mut OsRandom).unwrap();
        opts.challenge = challenge_of(&serde_json::to_value(&ccr).unwrap());
        let reg = a.register(&opts, ORIGIN, Fault::None).unwrap();
        let reg: RegisterPublicKeyCredential =
            serde_json::from_str(&serde_json::to_string(&reg).unwrap()).unwrap();
        let cred = match core.register_credential(&reg, &reg_state, None) {
            Ok(cred) => cred,
            Err(e) => {
                eprintln!("webauthn-rs-core refuses the {alg:?} registration: {e:?}; skipped");
                continue;
            }
        };
        let builder = core
            .new_challenge_authenticate_builder(vec![cred], None)
            .unwrap();
        let (rcr, auth_state) = core.generate_challenge_authenticate(builder).unwrap();
        let req = AuthenticationRequest::default();
        let (mut opts, _) = rp.start_authentication(&req, now(), &mut OsRandom).unwrap();
        opts.public_key.challenge = challenge_of(&serde_json::to_value(&rcr).unwrap());
        let resp = a
            .authenticate(&opts.public_key, ORIGIN, Fault::None)
            .unwrap();
        let json = serde_json::to_string(&resp).unwrap();
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

fn challenge_of(options: &serde_json::Value) -> Base64UrlBytes {
    Base64UrlBytes::decode(options["publicKey"]["challenge"].as_str().unwrap()).unwrap()
}

criterion_group!(benches, ours, peer);
criterion_main!(benches);
