//! Token validation, the mapping to the policy's session and the layer's answers, with
//! keys generated here (no network).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{EncodingKey, Header};
use mfa_core::FixedClock;
use mfa_policy::Policy;
use mfa_policy::assurance::{Level, Requirement};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::*;
use crate::{RequireMfaLayer, phishing_resistant};

const ISS: &str = "https://id.example.com";
const AUD: &str = "payments-api";
const NOW: u64 = 1_800_000_000;
const DISCOVERY: &str = "https://id.example.com/.well-known/openid-configuration";
const JWKS: &str = "https://id.example.com/jwks";

struct Key {
    kid: String,
    enc: EncodingKey,
    jwk: Jwk,
}

impl Key {
    fn new(kid: &str) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let enc = EncodingKey::from_ec_der(pkcs8.as_ref());
        let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::ES256).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            enc,
            jwk,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.enc).unwrap()
    }
}

fn jwks(keys: &[&Key]) -> String {
    serde_json::to_string(&JwkSet {
        keys: keys.iter().map(|k| k.jwk.clone()).collect(),
    })
    .unwrap()
}

/// Serves the discovery document and a JWKS that a test can change, counting fetches.
#[derive(Clone)]
struct TestFetcher {
    docs: Arc<StdMutex<BTreeMap<String, Vec<u8>>>>,
    jwks_fetches: Arc<AtomicUsize>,
}

impl TestFetcher {
    fn new(issuer: &str, keys: &[&Key]) -> Self {
        let f = Self {
            docs: Arc::default(),
            jwks_fetches: Arc::default(),
        };
        f.set(
            DISCOVERY,
            json!({"issuer": issuer, "jwks_uri": JWKS,
                   "authorization_endpoint": "https://id.example.com/authorize"})
            .to_string(),
        );
        f.set(JWKS, jwks(keys));
        f
    }

    fn set(&self, url: &str, body: String) {
        self.docs
            .lock()
            .unwrap()
            .insert(url.to_owned(), body.into_bytes());
    }

    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

impl Fetcher for TestFetcher {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        if url == JWKS {
            self.jwks_fetches.fetch_add(1, Ordering::SeqCst);
        }
        self.docs
            .lock()
            .unwrap()
            .get(url)
            .cloned()
            .ok_or_else(|| FetchError::new(url, "404"))
    }
}

fn claims(amr: &[&str], auth_time: u64) -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "alice",
        "iat": NOW - 10, "exp": NOW + 300, "auth_time": auth_time, "amr": amr,
    })
}

fn sessions(fetcher: TestFetcher, clock: &Arc<FixedClock>) -> OidcSessions<TestFetcher> {
    OidcSessions::builder(ISS, [AUD])
        .clock(Arc::clone(clock) as Arc<dyn Clock>)
        .build(fetcher)
        .unwrap()
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(Timestamp::from_unix_secs(NOW)))
}

fn app(s: OidcSessions<TestFetcher>, clock: &Arc<FixedClock>, req: Requirement) -> Router {
    let policy = Arc::new(Policy::from_toml("version = 1\nmode = \"always\"").unwrap());
    let layer = RequireMfaLayer::builder(policy, s, req)
        .clock(Arc::clone(clock) as Arc<dyn Clock>)
        .build()
        .unwrap();
    Router::new().route("/pay", get(|| async { "paid" }).layer(layer))
}

async fn call(app: &Router, token: &str) -> (StatusCode, Option<String>) {
    let req = Request::get("/pay")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let h = res
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    (res.status(), h)
}

async fn reason(s: &OidcSessions<TestFetcher>, token: &str) -> TokenRejection {
    match s.validate(token).await {
        Err(ValidateError::InvalidToken(e)) => e.reason(),
        Err(e) => panic!("provider error {e}"),
        Ok(_) => panic!("accepted"),
    }
}

const PR_CHALLENGE: &str = "Bearer error=\"insufficient_user_authentication\", \
    error_description=\"A different authentication level is required\", \
    acr_values=\"http://schemas.openid.net/pape/policies/2007/06/phishing-resistant\", \
    max_age=\"300\"";

#[tokio::test]
async fn password_and_otp_are_refused_with_rfc9470_then_a_security_key_passes() {
    let key = Key::new("k1");
    let clock = clock();
    let app = app(
        sessions(TestFetcher::new(ISS, &[&key]), &clock),
        &clock,
        phishing_resistant(Duration::from_secs(300)),
    );
    for amr in [&["pwd"][..], &["pwd", "otp"], &["pwd", "sms"], &["mfa"]] {
        let (status, h) = call(&app, &key.sign(&claims(amr, NOW - 30))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{amr:?}");
        assert_eq!(h.as_deref(), Some(PR_CHALLENGE), "{amr:?}");
    }
    for amr in [
        &["pwd", "hwk"][..],
        &["hwk", "pin"],
        &["swk", "user", "mfa"],
        &["pwd", "swk"],
    ] {
        let (status, h) = call(&app, &key.sign(&claims(amr, NOW - 30))).await;
        assert_eq!(status, StatusCode::OK, "{amr:?} {h:?}");
    }
    // Too old: the same factors verified six minutes ago.
    let (status, h) = call(&app, &key.sign(&claims(&["pwd", "hwk"], NOW - 360))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.as_deref(), Some(PR_CHALLENGE));
}

#[tokio::test]
async fn otp_meets_an_mfa_requirement_password_does_not() {
    let key = Key::new("k1");
    let clock = clock();
    let app = app(
        sessions(TestFetcher::new(ISS, &[&key]), &clock),
        &clock,
        Requirement::MFA,
    );
    let (status, _) = call(&app, &key.sign(&claims(&["pwd", "otp"], NOW - 30))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, h) = call(&app, &key.sign(&claims(&["pwd"], NOW - 30))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(h.unwrap().contains("insufficient_user_authentication"));
}

#[tokio::test]
async fn bad_tokens_are_invalid_token_never_403() {
    let key = Key::new("k1");
    let other = Key::new("k1");
    let stranger = Key::new("k9");
    let clock = clock();
    let f = TestFetcher::new(ISS, &[&key]);
    let s = sessions(f.clone(), &clock);
    let good = claims(&["pwd", "hwk"], NOW - 30);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let header_b64 = |h: Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.to_string())
    };
    let signed = key.sign(&good);
    let mut parts = signed.split('.');
    let (_, body, sig) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let alg_none = format!(
        "{}.{body}.",
        header_b64(json!({"alg": "none", "kid": "k1"}))
    );
    let alg_hs256 = format!(
        "{}.{body}.{sig}",
        header_b64(json!({"alg": "HS256", "kid": "k1"}))
    );
    let es384 = format!(
        "{}.{body}.{sig}",
        header_b64(json!({"alg": "ES384", "kid": "k1"}))
    );
    let crit = format!(
        "{}.{body}.{sig}",
        header_b64(json!({"alg": "ES256", "kid": "k1", "crit": ["exp"]}))
    );
    let mut forged_sig = sig.to_owned();
    forged_sig.replace_range(
        ..4,
        if sig.starts_with("AAAA") {
            "BBBB"
        } else {
            "AAAA"
        },
    );
    let forged = format!("{}.{body}.{forged_sig}", signed.split('.').next().unwrap());
    let table: Vec<(&str, String, TokenRejection)> = vec![
        (
            "expired",
            key.sign(&with("exp", json!(NOW - 61))),
            TokenRejection::Expired,
        ),
        (
            "not yet valid",
            key.sign(&with("nbf", json!(NOW + 61))),
            TokenRejection::NotYetValid,
        ),
        (
            "issued in the future",
            key.sign(&with("iat", json!(NOW + 61))),
            TokenRejection::IssuedInFuture,
        ),
        (
            "authenticated in the future",
            key.sign(&with("auth_time", json!(NOW + 61))),
            TokenRejection::IssuedInFuture,
        ),
        (
            "other issuer",
            key.sign(&with("iss", json!("https://evil.example.com"))),
            TokenRejection::Issuer,
        ),
        (
            "other audience",
            key.sign(&with("aud", json!("other-api"))),
            TokenRejection::Audience,
        ),
        (
            "no audience",
            key.sign(&without("aud")),
            TokenRejection::MissingClaim,
        ),
        (
            "no expiry",
            key.sign(&without("exp")),
            TokenRejection::MissingClaim,
        ),
        (
            "no subject",
            key.sign(&without("sub")),
            TokenRejection::MissingClaim,
        ),
        (
            "empty subject",
            key.sign(&with("sub", json!(""))),
            TokenRejection::Subject,
        ),
        (
            "unknown kid",
            stranger.sign(&good),
            TokenRejection::UnknownKey,
        ),
        (
            "same kid, other key",
            other.sign(&good),
            TokenRejection::Signature,
        ),
        ("forged signature", forged, TokenRejection::Signature),
        ("alg none", alg_none, TokenRejection::Algorithm),
        (
            "alg HS256 (key confusion)",
            alg_hs256,
            TokenRejection::Algorithm,
        ),
        ("alg ES384, not allowed", es384, TokenRejection::Algorithm),
        ("crit header", crit, TokenRejection::Malformed),
        (
            "four parts",
            format!("{signed}.x"),
            TokenRejection::Malformed,
        ),
        ("not a JWT", "abc".to_owned(), TokenRejection::Malformed),
        (
            "amr of numbers",
            key.sign(&with("amr", json!([1, 2]))),
            TokenRejection::Malformed,
        ),
        (
            "exp a string",
            key.sign(&with("exp", json!("soon"))),
            TokenRejection::Malformed,
        ),
    ];
    let app = app(
        s.clone(),
        &clock,
        phishing_resistant(Duration::from_secs(300)),
    );
    for (what, token, want) in &table {
        assert_eq!(reason(&s, token).await, *want, "{what}");
        let (status, h) = call(&app, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            h.as_deref(),
            Some("Bearer error=\"invalid_token\""),
            "{what}"
        );
    }
    // Within the leeway is fine.
    assert!(
        s.validate(&key.sign(&with("exp", json!(NOW - 59))))
            .await
            .is_ok()
    );
    // No token at all: a plain challenge, no error code (RFC 6750 §3).
    let res = app
        .clone()
        .oneshot(Request::get("/pay").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
}

#[tokio::test]
async fn unknown_kid_refreshes_at_most_once_per_interval() {
    let k1 = Key::new("k1");
    let k2 = Key::new("k2");
    let clock = clock();
    let f = TestFetcher::new(ISS, &[&k1]);
    let s = sessions(f.clone(), &clock);
    let t2 = k2.sign(&claims(&["pwd"], NOW - 30));
    assert!(
        s.validate(&k1.sign(&claims(&["pwd"], NOW - 30)))
            .await
            .is_ok()
    );
    assert_eq!(f.fetches(), 1);
    // The provider rotates to k2; the first token with k2 arrives within a minute of the
    // last fetch, so keys are not refetched and a flood of made-up kids costs nothing.
    f.set(JWKS, jwks(&[&k1, &k2]));
    for _ in 0..5 {
        assert_eq!(reason(&s, &t2).await, TokenRejection::UnknownKey);
    }
    assert_eq!(f.fetches(), 1);
    clock.advance(Duration::from_secs(60));
    assert!(s.validate(&t2).await.is_ok());
    assert_eq!(f.fetches(), 2);
    // Known kids never refetch.
    assert!(s.validate(&t2).await.is_ok());
    assert_eq!(f.fetches(), 2);
}

#[tokio::test]
async fn provider_failures_are_500_and_a_foreign_discovery_is_refused() {
    let key = Key::new("k1");
    let clock = clock();
    // Discovery names another issuer (a mix-up): nothing is trusted.
    let s = sessions(
        TestFetcher::new("https://evil.example.com", &[&key]),
        &clock,
    );
    let t = key.sign(&claims(&["pwd", "hwk"], NOW - 30));
    assert!(matches!(
        s.validate(&t).await,
        Err(ValidateError::Provider(_))
    ));
    let app = app(s, &clock, Requirement::MFA);
    assert_eq!(call(&app, &t).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    // A JWKS that is not JSON.
    let f = TestFetcher::new(ISS, &[&key]);
    f.set(JWKS, "<html>".to_owned());
    let s = sessions(f, &clock);
    assert!(matches!(
        s.validate(&t).await,
        Err(ValidateError::Provider(_))
    ));
}

#[tokio::test]
async fn auth_time_missing_counts_as_never_verified_unless_iat_is_trusted() {
    let key = Key::new("k1");
    let clock = clock();
    let mut c = claims(&["pwd", "hwk"], 0);
    c.as_object_mut().unwrap().remove("auth_time");
    let t = key.sign(&c);
    let strict = app(
        sessions(TestFetcher::new(ISS, &[&key]), &clock),
        &clock,
        Requirement::MFA,
    );
    assert_eq!(call(&strict, &t).await.0, StatusCode::UNAUTHORIZED);
    let lenient = OidcSessions::builder(ISS, [AUD])
        .clock(Arc::clone(&clock) as Arc<dyn Clock>)
        .iat_as_auth_time(true)
        .build(TestFetcher::new(ISS, &[&key]))
        .unwrap();
    let lenient = app(lenient, &clock, Requirement::MFA);
    assert_eq!(call(&lenient, &t).await.0, StatusCode::OK);
}

/// Which provider `acr`/`amr` values meet which requirement: (dialect, acr, amr, level
/// met, level not met).
#[tokio::test]
async fn provider_dialects() {
    let mfa = Requirement::MFA;
    let pr = Requirement {
        max_age: None,
        ..phishing_resistant(Duration::from_secs(300))
    };
    let aal3 = Requirement {
        level: Level::Aal3,
        ..Requirement::MFA
    };
    let pape_mfa = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";
    let pape_pr = "http://schemas.openid.net/pape/policies/2007/06/phishing-resistant";
    // (dialect, acr, amr, meets mfa, meets phishing-resistant, meets aal3)
    type Row<'a> = (
        &'a str,
        Dialect,
        Option<&'a str>,
        &'a [&'a str],
        bool,
        bool,
        bool,
    );
    let table: Vec<Row<'_>> = vec![
        (
            "standard pape mfa",
            Dialect::standard(),
            Some(pape_mfa),
            &["pwd"],
            true,
            false,
            false,
        ),
        (
            "standard pape pr",
            Dialect::standard(),
            Some(pape_pr),
            &[],
            true,
            true,
            false,
        ),
        (
            "standard phr",
            Dialect::standard(),
            Some("phr"),
            &[],
            true,
            true,
            false,
        ),
        (
            "standard phrh",
            Dialect::standard(),
            Some("phrh"),
            &[],
            true,
            true,
            true,
        ),
        (
            "standard unknown acr",
            Dialect::standard(),
            Some("urn:x:gold"),
            &["pwd"],
            false,
            false,
            false,
        ),
        (
            "standard amr mfa alone",
            Dialect::standard(),
            None,
            &["mfa"],
            false,
            false,
            false,
        ),
        (
            "standard keycloak 2 unknown",
            Dialect::standard(),
            Some("2"),
            &["pwd"],
            false,
            false,
            false,
        ),
        (
            "auth0 amr mfa",
            Dialect::auth0(),
            None,
            &["mfa"],
            true,
            false,
            false,
        ),
        (
            "auth0 pape mfa",
            Dialect::auth0(),
            Some(pape_mfa),
            &["pwd"],
            true,
            false,
            false,
        ),
        (
            "keycloak 0",
            Dialect::keycloak(),
            Some("0"),
            &[],
            false,
            false,
            false,
        ),
        (
            "keycloak 1",
            Dialect::keycloak(),
            Some("1"),
            &["pwd"],
            false,
            false,
            false,
        ),
        (
            "keycloak 2",
            Dialect::keycloak(),
            Some("2"),
            &["pwd"],
            true,
            false,
            false,
        ),
        (
            "keycloak 2 + hwk",
            Dialect::keycloak(),
            Some("2"),
            &["pwd", "hwk"],
            true,
            true,
            true,
        ),
        (
            "okta 2fa",
            Dialect::okta(),
            Some("urn:okta:loa:2fa:any"),
            &["pwd"],
            true,
            false,
            false,
        ),
        (
            "okta 1fa",
            Dialect::okta(),
            Some("urn:okta:loa:1fa:pwd"),
            &["pwd"],
            false,
            false,
            false,
        ),
        (
            "entra mfa",
            Dialect::entra(),
            None,
            &["pwd", "mfa"],
            true,
            false,
            false,
        ),
        (
            "entra fido",
            Dialect::entra(),
            None,
            &["fido"],
            true,
            true,
            false,
        ),
        (
            "zitadel mfa",
            Dialect::zitadel(),
            None,
            &["pwd", "mfa"],
            true,
            false,
            false,
        ),
        (
            "rfc 8176 sms",
            Dialect::empty(),
            None,
            &["pwd", "sms"],
            true,
            false,
            false,
        ),
        (
            "rfc 8176 unknown amr",
            Dialect::empty(),
            None,
            &["pwd", "retina-v2"],
            false,
            false,
            false,
        ),
        (
            "rfc 8176 otp twice",
            Dialect::empty(),
            None,
            &["otp", "otp"],
            false,
            false,
            false,
        ),
    ];
    let policy = Policy::from_toml("version = 1\nmode = \"always\"").unwrap();
    let now = Timestamp::from_unix_secs(NOW);
    let at = Timestamp::from_unix_secs(NOW - 30);
    for (what, d, acr, amr, want_mfa, want_pr, want_aal3) in table {
        let amr: Vec<String> = amr.iter().map(|s| (*s).to_owned()).collect();
        let (session, enrolled) = d.session(acr, &amr, at, now);
        let got = (
            policy.meets(&mfa, &session, &enrolled, now),
            policy.meets(&pr, &session, &enrolled, now),
            policy.meets(&aal3, &session, &enrolled, now),
        );
        assert_eq!(got, (want_mfa, want_pr, want_aal3), "{what}");
    }
}

#[test]
fn challenge_parses_back_and_builds_the_step_up_request() {
    let c = Challenge::parse(PR_CHALLENGE).unwrap();
    assert_eq!(c.error.as_deref(), Some("insufficient_user_authentication"));
    assert_eq!(
        c.acr_values,
        ["http://schemas.openid.net/pape/policies/2007/06/phishing-resistant"]
    );
    assert_eq!(c.max_age, Some(Duration::from_secs(300)));
    let c2 = Challenge::parse("bearer realm=\"a\\\"b\", error=invalid_token").unwrap();
    assert_eq!(c2.error.as_deref(), Some("invalid_token"));
    assert!(Challenge::parse("Basic realm=\"x\"").is_none());
    assert!(Challenge::parse("Bearer error=\"unterminated").is_none());
    let mut req = StepUpRequest::from_challenge("web", "https://app.example.com/cb", &c);
    req.prompt_login = true;
    req.state = Some("s1".to_owned());
    let url = authorization_request("https://id.example.com/authorize", &req).unwrap();
    assert_eq!(
        url,
        "https://id.example.com/authorize?response_type=code&client_id=web&\
         redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=openid&\
         acr_values=http%3A%2F%2Fschemas.openid.net%2Fpape%2Fpolicies%2F2007%2F06%2Fphishing-resistant&\
         max_age=300&prompt=login&state=s1"
    );
    assert!(authorization_request("http://id.example.com/authorize", &req).is_err());
    assert!(authorization_request("http://127.0.0.1:4000/auth", &req).is_ok());
    assert!(authorization_request("https://id.example.com/a#frag", &req).is_err());
}

#[test]
fn builder_refuses_hmac_and_empty_settings() {
    let f = StaticFetcher::new();
    assert!(
        OidcSessions::builder(ISS, [AUD])
            .algorithms([Algorithm::HS256])
            .build(f.clone())
            .is_err()
    );
    assert!(
        OidcSessions::builder(ISS, Vec::<String>::new())
            .build(f.clone())
            .is_err()
    );
    assert!(OidcSessions::builder("", [AUD]).build(f.clone()).is_err());
    assert!(
        OidcSessions::builder(ISS, [AUD])
            .algorithms([])
            .build(f)
            .is_err()
    );
}

#[test]
fn jwks_parsing_skips_unusable_keys() {
    let k = Key::new("k1");
    let mut set: Value = serde_json::from_str(&jwks(&[&k])).unwrap();
    set["keys"].as_array_mut().unwrap().extend([
        json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}),
        json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "use": "enc", "kid": "enc"}),
        json!({"kty": "weird", "kid": "w"}),
        json!("not an object"),
    ]);
    let keys = Keys::parse(set.to_string().as_bytes()).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys.find(Some("k1"), Algorithm::ES256).is_some());
    // The key says ES256: it verifies nothing else.
    assert!(keys.find(Some("k1"), Algorithm::RS256).is_none());
    assert!(keys.find(Some("hmac"), Algorithm::HS256).is_none());
    assert!(Keys::parse(b"{}").is_err());
    assert!(Keys::parse(b"[").is_err());
}

#[test]
fn documents_that_are_not_utf8_are_refused_even_in_members_we_skip() {
    // Found by the `jwks` fuzz target: serde_json checks UTF-8 only in the strings it
    // keeps, so bytes outside UTF-8 in a member neither parser reads used to parse.
    let k = Key::new("k1");
    let good = jwks(&[&k]);
    assert_eq!(Keys::parse(good.as_bytes()).unwrap().len(), 1);
    let mut bad = b"{\"x\":\"A\xf2\xff\xff\xff\",".to_vec();
    bad.extend_from_slice(&good.as_bytes()[1..]);
    assert!(serde_json::from_slice::<Value>(&bad).is_err(), "not JSON");
    let err = Keys::parse(&bad).unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
    let discovery = |x: &[u8]| {
        let mut d =
            br#"{"issuer":"https://id.example","jwks_uri":"https://id.example/k","x":""#.to_vec();
        d.extend_from_slice(x);
        d.extend_from_slice(br#""}"#);
        Discovery::parse(&d)
    };
    assert!(discovery(b"y").is_ok());
    assert!(discovery(b"\xff").is_err());
}
