//! Bearer JWTs through mfa-axum's OIDC validator (header and claims parsing, algorithm
//! and key selection, time and audience checks, the amr/acr mapping).
//!
//! Input: `S` + header JSON + newline + claims JSON, which the target signs with the
//! fixed test key (so the fuzzer reaches every claim check), or `R` + a raw token. A
//! signed token is accepted only when its header is ES256 with kid `fuzz` and its claims
//! say the right issuer, audience, subject and unexpired times; a raw token that is
//! accepted must carry the issuer too. Validation never panics.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use mfa_axum::oidc::{OidcSessions, StaticFetcher, TokenHeader, ValidatedToken};
use mfa_core::{Clock, FixedClock, Timestamp};

const ISS: &str = "https://id.example.com";
const NOW: u64 = 1_800_000_000;
const JWK: &str = r#"{"kty":"EC","x":"tlZpN_DUeC6rgp-HoE_g62t8kfuQ9K0SFhZVQxZ2JqY","y":"0Dh0hcdv4_kxdctupOH5v0MYgWWAln7HcKzEvyO8SM4","crv":"P-256","kid":"fuzz","alg":"ES256","use":"sig"}"#;
const PKCS8_HEX: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420fe8da247ba5e683aa9608c5408546055b83234404a42499e68868ef3cca3ce24a14403420004b6566937f0d4782eab829f87a04fe0eb6b7c91fb90f4ad1216165543167626a6d0387485c76fe3f93175cb6ea4e1f9bf4318816580967ec770acc4bf23bc48ce";

/// The static fetcher answers at once: one poll finishes.
fn run<T>(f: impl Future<Output = T>) -> T {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn sessions() -> OidcSessions<StaticFetcher> {
    let fetcher = StaticFetcher::new()
        .with(
            format!("{ISS}/.well-known/openid-configuration"),
            format!(r#"{{"issuer":"{ISS}","jwks_uri":"{ISS}/jwks"}}"#),
        )
        .with(format!("{ISS}/jwks"), format!(r#"{{"keys":[{JWK}]}}"#));
    OidcSessions::builder(ISS, ["api"])
        .clock(Arc::new(FixedClock::new(Timestamp::from_unix_secs(NOW))) as Arc<dyn Clock>)
        .build(fetcher)
        .unwrap()
}

fn sign(header: &str, claims: &str) -> String {
    let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let input = format!("{}.{}", b(header), b(claims));
    let key = jsonwebtoken::EncodingKey::from_ec_der(&hex(PKCS8_HEX));
    let sig =
        jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::ES256).unwrap();
    format!("{input}.{sig}")
}

fn check_accepted(token: &str, t: &ValidatedToken) {
    let h = TokenHeader::parse(token).expect("an accepted token's header parses");
    assert_eq!(h.alg, Some(jsonwebtoken::Algorithm::ES256));
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], ISS);
    assert_eq!(claims["sub"].as_str(), Some(t.session.user.as_str()));
    let aud_ok = claims["aud"] == "api"
        || claims["aud"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "api"));
    assert!(aud_ok, "audience {}", claims["aud"]);
    let exp = claims["exp"].as_f64().unwrap();
    assert!(exp + 60.0 >= NOW as f64);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let s = sessions();
    match text.split_at_checked(1) {
        Some(("S", rest)) => {
            let (header, claims) = rest.split_once('\n').unwrap_or((rest, "{}"));
            let token = sign(header, claims);
            if let Ok(t) = run(s.validate(&token)) {
                let h: serde_json::Value = serde_json::from_str(header).unwrap();
                assert!(h.get("kid").is_none_or(|k| k == "fuzz"));
                check_accepted(&token, &t);
            }
        }
        Some(("R", token)) => {
            let _ = TokenHeader::parse(token);
            if let Ok(t) = run(s.validate(token)) {
                check_accepted(token, &t);
            }
        }
        _ => {}
    }
});
