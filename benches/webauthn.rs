//! Full assertion verification from JSON against the bare signature check on the same
//! key, per algorithm and backend.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use mfa_core::{OsRandom, Timestamp};
use mfa_webauthn::cose::{Algorithm, PublicKey};
use mfa_webauthn::crypto::{Backend, verify_signature};
use mfa_webauthn::json::AuthenticationResponseJson;
use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
use mfa_webauthn::{
    AuthenticationRequest, RegistrationRequest, RelyingParty, SignCountPolicy,
    verify_authentication,
};

fn backends() -> Vec<Backend> {
    #[allow(unused_mut)]
    let mut b = vec![Backend::RustCrypto];
    #[cfg(feature = "aws-lc")]
    b.push(Backend::AwsLc);
    b
}

fn assertion(c: &mut Criterion) {
    let now = Timestamp::from_unix_secs(1_700_000_000);
    for alg in [Algorithm::Es256, Algorithm::EdDsa] {
        for backend in backends() {
            let rp = RelyingParty::builder("example.com", "Bench")
                .origin("https://example.com")
                .backend(backend)
                .sign_count_policy(SignCountPolicy::DangerAccept)
                .build()
                .unwrap();
            let mut a = SoftAuthenticator::new(alg, &mut OsRandom).unwrap();
            let req = RegistrationRequest::new(b"u".to_vec(), "u", "U");
            let (opts, state) = rp.start_registration(&req, now, &mut OsRandom).unwrap();
            let resp = a
                .register(&opts, "https://example.com", Fault::None)
                .unwrap();
            let record = rp.finish_registration(&state, &resp, now).unwrap().record;
            let req = AuthenticationRequest {
                allow_credentials: vec![record.descriptor()],
                ..Default::default()
            };
            let (opts, state) = rp.start_authentication(&req, now, &mut OsRandom).unwrap();
            let resp = a
                .authenticate(&opts.public_key, "https://example.com", Fault::None)
                .unwrap();
            let json = serde_json::to_string(&resp).unwrap();
            let name = format!("{alg:?}/{backend:?}");
            c.bench_function(&format!("assertion_from_json/{name}"), |b| {
                b.iter(|| {
                    let r: AuthenticationResponseJson = serde_json::from_str(&json).unwrap();
                    verify_authentication(
                        &state.expectations,
                        &state.allowed,
                        &r,
                        &record,
                        SignCountPolicy::DangerAccept,
                        backend,
                    )
                    .unwrap()
                })
            });
            let key = PublicKey::from_cose(record.public_key.as_slice()).unwrap();
            let mut signed = resp.response.authenticator_data.0.clone();
            use sha2::Digest as _;
            signed.extend_from_slice(&sha2::Sha256::digest(&resp.response.client_data_json.0));
            let sig = resp.response.signature.0.clone();
            c.bench_function(&format!("bare_signature/{name}"), |b| {
                b.iter(|| verify_signature(backend, &key, &signed, &sig).unwrap())
            });
        }
    }
}

criterion_group!(benches, assertion);
criterion_main!(benches);
