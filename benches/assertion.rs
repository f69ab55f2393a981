//! One WebAuthn assertion, ours and webauthn-rs-core's, set up for the `webauthn` and
//! `webauthn_ratio` benches alike.
#![allow(
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    clippy::indexing_slicing,
    reason = "benchmark set-up: a panic is a broken bench"
)]

use std::time::Duration;

use mfa_core::{OsRandom, Timestamp};
use mfa_webauthn::cose::Algorithm;
use mfa_webauthn::json::{AuthenticationResponseJson, Base64UrlBytes};
use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
use mfa_webauthn::{
    AuthenticationRequest, AuthenticationState, Backend, CredentialRecord, RegistrationRequest,
    RelyingParty,
};
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AuthenticationState as PeerState, COSEAlgorithm, RegisterPublicKeyCredential,
};

/// The relying party's origin.
pub const ORIGIN: &str = "https://example.com";

/// The signature backends compiled in: RustCrypto, and aws-lc with the feature `aws-lc`.
pub fn backends() -> Vec<Backend> {
    #[allow(unused_mut, reason = "pushed to only with the feature aws-lc")]
    let mut b = vec![Backend::RustCrypto];
    #[cfg(feature = "aws-lc")]
    b.push(Backend::AwsLc);
    b
}

/// The benches' fixed time.
pub fn now() -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000)
}

/// A software authenticator of `alg` registered with our relying party on `backend`,
/// then signing in once: the stored credential, what the relying party kept when it
/// started the sign-in, the assertion, and the assertion as the browser posts it.
pub fn ours(
    alg: Algorithm,
    backend: Backend,
) -> (
    CredentialRecord,
    AuthenticationState,
    AuthenticationResponseJson,
    String,
) {
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
    let response = a
        .authenticate(&opts.public_key, ORIGIN, Fault::None)
        .unwrap();
    let json = serde_json::to_string(&response).unwrap();
    (record, state, response, json)
}

/// webauthn-rs-core 0.6: registration through its own ceremony (so its `Credential` is
/// what it would have stored), then the same kind of assertion, as JSON; `None` (after
/// saying so) where it refuses the algorithm.
pub fn peer(alg: Algorithm) -> Option<(WebauthnCore, PeerState, String)> {
    let peer_alg = match alg {
        Algorithm::Es256 => COSEAlgorithm::ES256,
        Algorithm::Rs256 => COSEAlgorithm::RS256,
        Algorithm::EdDsa => COSEAlgorithm::EDDSA,
        _ => return None,
    };
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
            return None;
        }
    };
    let builder = core
        .new_challenge_authenticate_builder(vec![cred], None)
        .unwrap();
    let (rcr, auth_state) = core.generate_challenge_authenticate(builder).unwrap();
    let (mut opts, _) = rp
        .start_authentication(&AuthenticationRequest::default(), now(), &mut OsRandom)
        .unwrap();
    opts.public_key.challenge = challenge_of(&serde_json::to_value(&rcr).unwrap());
    let resp = a
        .authenticate(&opts.public_key, ORIGIN, Fault::None)
        .unwrap();
    Some((core, auth_state, serde_json::to_string(&resp).unwrap()))
}

fn challenge_of(options: &serde_json::Value) -> Base64UrlBytes {
    Base64UrlBytes::decode(options["publicKey"]["challenge"].as_str().unwrap()).unwrap()
}
