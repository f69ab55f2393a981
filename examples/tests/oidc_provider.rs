//! The OIDC resource server example against a certified OpenID provider: panva's
//! `oidc-provider` on Node, started here on free ports of 127.0.0.1 by
//! `examples/oidc_provider/provider.mjs` and stopped when the test ends.
//!
//! How tokens differ per scenario: the provider's interaction page is the script's own
//! route, which finishes each login with the `amr`, `acr` and `auth_time` of the login
//! this test names (password, OTP, WebAuthn, WebAuthn ten minutes ago); the script runs
//! the authorization code flow with PKCE for the authorization request URL this test
//! sends it (built by `mfa_axum::oidc::authorization_request`, from the example's
//! `/step-up` helper after a challenge), and returns the ID token: signed by the
//! provider's own keys, published at its discovery document's `jwks_uri`, which the
//! example fetches over HTTP.
//!
//! The example's file is compiled in as a module, so no stale binary is tested. Needs
//! Node 20.19+ and `npm ci` in `examples/oidc_provider`; skips with a message when one is
//! missing, unless `MFA_REQUIRE_EXTERNAL=1` (CI), where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use mfa_axum::oidc::{Challenge, HttpFetcher, StepUpRequest, authorization_request};
use mfa_core::{Clock, FixedClock, SystemClock};
use tower::ServiceExt as _;

#[path = "../oidc_resource_server.rs"]
#[allow(dead_code, reason = "the example's `main` is not called here")]
mod oidc_resource_server;

const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
const CHALLENGE: &str = "Bearer realm=\"payments\", error=\"insufficient_user_authentication\", \
    error_description=\"A different authentication level is required\", \
    acr_values=\"http://schemas.openid.net/pape/policies/2007/06/phishing-resistant\", \
    max_age=\"300\"";
const INVALID: &str = "Bearer realm=\"payments\", error=\"invalid_token\"";

fn missing(what: &str) {
    if std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
        panic!("MFA_REQUIRE_EXTERNAL=1 but {what}");
    }
    eprintln!("skipping the oidc-provider test: {what}");
}

/// The Node provider, killed (and reaped) when dropped.
struct Provider {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    issuer: String,
    other_issuer: String,
    next_id: u64,
}

impl Provider {
    fn start(dir: &Path) -> Self {
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut p = Self {
            child,
            stdin,
            stdout,
            issuer: String::new(),
            other_issuer: String::new(),
            next_id: 0,
        };
        let hello = p.read_json();
        p.issuer = hello["issuer"].as_str().unwrap().to_owned();
        p.other_issuer = hello["other_issuer"].as_str().unwrap().to_owned();
        p
    }

    /// The next JSON line (the provider may log other lines).
    fn read_json(&mut self) -> serde_json::Value {
        loop {
            let mut line = String::new();
            assert_ne!(
                self.stdout.read_line(&mut line).unwrap(),
                0,
                "provider exited"
            );
            if let Ok(v) = serde_json::from_str(&line) {
                return v;
            }
            eprint!("provider: {line}");
        }
    }

    /// Signs in through `url` as `login`: the ID token and the same claims under a rogue
    /// key.
    fn login(&mut self, url: &str, login: &str) -> (String, String) {
        self.next_id += 1;
        let cmd = serde_json::json!({"id": self.next_id, "url": url, "login": login});
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{cmd}").unwrap();
        stdin.flush().unwrap();
        let v = self.read_json();
        assert_eq!(v["id"], self.next_id);
        assert!(v["error"].is_null(), "{login}: {}", v["error"]);
        (
            v["id_token"].as_str().unwrap().to_owned(),
            v["rogue"].as_str().unwrap().to_owned(),
        )
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        // Closing stdin stops it; kill in case it does not.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn settings(issuer: &str) -> oidc_resource_server::Settings {
    oidc_resource_server::Settings {
        issuer: issuer.to_owned(),
        audience: "web".to_owned(),
        dialect: oidc_resource_server::dialect("standard").unwrap(),
        client_id: "web".to_owned(),
        redirect_uri: REDIRECT_URI.to_owned(),
    }
}

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let challenge = res
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_up_against_oidc_provider() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc_provider");
    let Ok(out) = Command::new("node").arg("--version").output() else {
        return missing("node is missing (Node 20.19 or later)");
    };
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut v = version
        .trim_start_matches('v')
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    if (v.next().unwrap_or(0), v.next().unwrap_or(0)) < (20, 19) {
        return missing(&format!(
            "node {version} is older than 20.19 (oidc-provider 9 needs it)"
        ));
    }
    if !dir.join("node_modules/oidc-provider").exists() {
        return missing("oidc-provider is not installed (npm ci in examples/oidc_provider)");
    }
    let mut idp = Provider::start(&dir);
    let issuer = idp.issuer.clone();
    let settings = settings(&issuer);
    let app = oidc_resource_server::app(
        &settings,
        HttpFetcher::dangerous_allow_http().unwrap(),
        Arc::new(SystemClock),
    )
    .unwrap();

    // The first sign-in: the front end's plain authorization request.
    let endpoint = format!("{issuer}/auth");
    let plain = StepUpRequest {
        client_id: "web".to_owned(),
        redirect_uri: REDIRECT_URI.to_owned(),
        scope: "openid".to_owned(),
        ..StepUpRequest::default()
    };
    let sign_in = authorization_request(&endpoint, &plain).unwrap();

    // Password only: signed in, but not enough to pay; RFC 9470 says what is.
    let (password, rogue) = idp.login(&sign_in, "password");
    assert_eq!(claims(&password)["amr"], serde_json::json!(["pwd"]));
    let (s, _, body) = send(&app, "GET", "/api/profile", Some(&password)).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "{\"user\":\"alice\"}"));
    let (s, challenge, _) = send(&app, "POST", "/api/payments", Some(&password)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge, CHALLENGE);

    // An OTP login is multi-factor, but not phishing-resistant: the same answer.
    let (otp, _) = idp.login(&sign_in, "otp");
    assert_eq!(claims(&otp)["amr"], serde_json::json!(["pwd", "otp"]));
    let (s, challenge, _) = send(&app, "POST", "/api/payments", Some(&otp)).await;
    assert_eq!(
        (s, challenge.as_str()),
        (StatusCode::UNAUTHORIZED, CHALLENGE)
    );

    // The front end acts on the challenge: the example's helper builds the request...
    let c = Challenge::parse(&challenge).unwrap();
    let query = url_query(&c);
    let (s, _, step_up) = send(&app, "GET", &format!("/step-up?{query}"), None).await;
    assert_eq!(s, StatusCode::OK, "{step_up}");
    assert!(step_up.starts_with(&format!("{issuer}/auth?response_type=code&client_id=web&")));
    assert!(step_up.contains("&acr_values=http%3A%2F%2Fschemas.openid.net%2Fpape%2Fpolicies%2F2007%2F06%2Fphishing-resistant&max_age=300"));
    // ...the user steps up with a security key, and the payment goes through.
    let (webauthn, _) = idp.login(&step_up, "webauthn");
    let wc = claims(&webauthn);
    assert_eq!(wc["amr"], serde_json::json!(["pwd", "hwk"]));
    assert_eq!(
        wc["acr"],
        "http://schemas.openid.net/pape/policies/2007/06/phishing-resistant"
    );
    let (s, _, body) = send(&app, "POST", "/api/payments", Some(&webauthn)).await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::OK, "{\"paid\":true,\"user\":\"alice\"}")
    );

    // The same factors ten minutes ago are past max_age: step up again.
    let (stale, _) = idp.login(&sign_in, "webauthn-stale");
    let (s, challenge, _) = send(&app, "POST", "/api/payments", Some(&stale)).await;
    assert_eq!(
        (s, challenge.as_str()),
        (StatusCode::UNAUTHORIZED, CHALLENGE)
    );

    // Tokens the server must not accept, each `401 invalid_token`.
    let other_client = StepUpRequest {
        client_id: "other".to_owned(),
        ..plain.clone()
    };
    let (for_other_audience, _) = idp.login(
        &authorization_request(&endpoint, &other_client).unwrap(),
        "webauthn",
    );
    let other_issuer = idp.other_issuer.clone();
    let (from_other_issuer, _) = idp.login(
        &authorization_request(&format!("{other_issuer}/auth"), &plain).unwrap(),
        "webauthn",
    );
    let mut parts = webauthn.split('.');
    let (h, p, sig) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let alg_none = format!("{}.{p}.", b64(serde_json::json!({"alg": "none"})));
    let mut forged = sig.as_bytes().to_vec();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    let forged = format!("{h}.{p}.{}", String::from_utf8(forged).unwrap());
    let (_, rogue_webauthn) = idp.login(&sign_in, "webauthn");
    for (what, token) in [
        ("another audience", for_other_audience.as_str()),
        ("another issuer", &from_other_issuer),
        ("an unknown kid", &rogue),
        ("an unknown kid, strong claims", &rogue_webauthn),
        ("alg none", &alg_none),
        ("a forged signature", &forged),
        ("not a JWT", "not-a-jwt"),
    ] {
        let (s, challenge, _) = send(&app, "POST", "/api/payments", Some(token)).await;
        assert_eq!(
            (s, challenge.as_str()),
            (StatusCode::UNAUTHORIZED, INVALID),
            "{what}"
        );
    }
    // Expired: the same strong token, judged two hours later (ID tokens live one hour).
    let later = Arc::new(FixedClock::new(
        SystemClock.now().saturating_add(Duration::from_secs(7_200)),
    ));
    let app_later = oidc_resource_server::app(
        &settings,
        HttpFetcher::dangerous_allow_http().unwrap(),
        later as Arc<dyn Clock>,
    )
    .unwrap();
    let (s, challenge, _) = send(&app_later, "POST", "/api/payments", Some(&webauthn)).await;
    assert_eq!(
        (s, challenge.as_str()),
        (StatusCode::UNAUTHORIZED, INVALID),
        "expired"
    );
    // No token: a plain challenge.
    let (s, challenge, _) = send(&app, "POST", "/api/payments", None).await;
    assert_eq!(
        (s, challenge.as_str()),
        (StatusCode::UNAUTHORIZED, "Bearer realm=\"payments\"")
    );
    drop(idp);
}

fn url_query(c: &Challenge) -> String {
    let mut q = format!(
        "acr_values={}",
        c.acr_values
            .join("+")
            .replace(':', "%3A")
            .replace('/', "%2F")
    );
    if let Some(age) = c.max_age {
        q.push_str(&format!("&max_age={}", age.as_secs()));
    }
    q
}
