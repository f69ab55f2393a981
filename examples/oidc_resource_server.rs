//! A resource server behind any OpenID provider: payments need a phishing-resistant
//! factor verified within five minutes, and the provider's tokens say whether they have
//! one (`amr`, `acr`, `auth_time`).
//!
//! Run with
//! `OIDC_ISSUER=https://id.example.com OIDC_AUDIENCE=payments-api cargo run --example oidc_resource_server`
//! (optional: `OIDC_DIALECT=auth0|keycloak|okta|entra|zitadel|standard`, `PORT`,
//! `OIDC_CLIENT_ID` and `OIDC_REDIRECT_URI` for the `/step-up` helper). Routes:
//!
//! - `GET /api/profile`: any signed-in user (one factor within the policy's limits);
//! - `POST /api/payments`: a security key or passkey (`hwk`/`swk` in `amr`, or an `acr`
//!   of the PAPE `phishing-resistant` policy, `phr`, `phrh`) verified within 300 s;
//!   otherwise `401` with `WWW-Authenticate: Bearer error="insufficient_user_authentication",
//!   acr_values="…", max_age="300"`; a bad token is `401 invalid_token`;
//! - `GET /step-up?acr_values=…&max_age=…`: the authorization request URL the front end
//!   sends the user to next (what `mfa_axum::oidc::authorization_request` builds).
//!
//! The loop is in crates/mfa-axum/README.md. Shortcuts acceptable only because this is an
//! example: the policy is inline, the server listens on 127.0.0.1 without TLS, and the
//! payment handler does nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mfa_axum::oidc::{
    Challenge, Dialect, Fetcher, OidcSessions, StepUpRequest, authorization_request,
};
use mfa_axum::{MfaSession, RequireMfaLayer, phishing_resistant};
use mfa_core::{Clock, InvalidInput};
use mfa_policy::Policy;
use mfa_policy::assurance::{Level, Requirement};
use mfa_policy::document::KindSet;
use serde::Deserialize;

/// How long ago the phishing-resistant factor may have been verified for a payment.
pub(crate) const PAYMENT_MAX_AGE: Duration = Duration::from_secs(300);

/// What the server needs to know about the provider and itself.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// The provider's issuer identifier (`iss`).
    pub(crate) issuer: String,
    /// This API's identifier in `aud` (or the client id, for ID tokens).
    pub(crate) audience: String,
    /// The provider's dialect.
    pub(crate) dialect: Dialect,
    /// The client the `/step-up` helper builds requests for.
    pub(crate) client_id: String,
    /// Where the provider returns the user.
    pub(crate) redirect_uri: String,
}

/// The provider dialect named `name`.
pub(crate) fn dialect(name: &str) -> Option<Dialect> {
    Some(match name {
        "auth0" => Dialect::auth0(),
        "entra" => Dialect::entra(),
        "keycloak" => Dialect::keycloak(),
        "okta" => Dialect::okta(),
        "standard" => Dialect::standard(),
        "zitadel" => Dialect::zitadel(),
        _ => return None,
    })
}

/// The application: its routes behind the token-backed MFA layers.
///
/// # Errors
///
/// [`InvalidInput`] when the token validator or a layer cannot be built from `settings`.
pub(crate) fn app<F: Fetcher>(
    settings: &Settings,
    fetcher: F,
    clock: Arc<dyn Clock>,
) -> Result<Router, InvalidInput> {
    let sessions = OidcSessions::builder(&settings.issuer, [&settings.audience])
        .dialect(settings.dialect.clone())
        .clock(Arc::clone(&clock))
        .build(fetcher)?;
    let policy = Arc::new(
        Policy::from_toml("version = 1\nmode = \"always\"")
            .map_err(|e| InvalidInput::new("policy", e.to_string()))?,
    );
    let signed_in = Requirement {
        level: Level::Aal1,
        kinds: KindSet::ALL,
        max_age: None,
        fresh: true,
    };
    let profile = RequireMfaLayer::builder(Arc::clone(&policy), sessions.clone(), signed_in)
        .realm("payments")
        .clock(Arc::clone(&clock))
        .build()?;
    let payments = RequireMfaLayer::builder(
        policy,
        sessions.clone(),
        phishing_resistant(PAYMENT_MAX_AGE),
    )
    .realm("payments")
    .clock(clock)
    .build()?;
    let step_up = {
        let settings = settings.clone();
        move |Query(q): Query<StepUpQuery>| async move { step_up_url(&sessions, &settings, q).await }
    };
    Ok(Router::new()
        .route("/api/profile", get(profile_handler).layer(profile))
        .route("/api/payments", post(pay).layer(payments))
        .route("/step-up", get(step_up)))
}

async fn profile_handler(Extension(s): Extension<MfaSession>) -> String {
    format!("{{\"user\":{}}}", serde_json::Value::from(s.user.as_str()))
}

async fn pay(Extension(s): Extension<MfaSession>) -> String {
    format!(
        "{{\"paid\":true,\"user\":{}}}",
        serde_json::Value::from(s.user.as_str())
    )
}

/// The `/step-up` query: what the challenge asked for.
#[derive(Debug, Deserialize)]
struct StepUpQuery {
    #[serde(default)]
    acr_values: String,
    #[serde(default)]
    max_age: Option<u64>,
}

async fn step_up_url<F: Fetcher>(
    sessions: &OidcSessions<F>,
    settings: &Settings,
    q: StepUpQuery,
) -> Response {
    let endpoint = match sessions.authorization_endpoint().await {
        Ok(e) => e,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let challenge = Challenge {
        error: None,
        acr_values: q
            .acr_values
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect(),
        max_age: q.max_age.map(Duration::from_secs),
    };
    let req =
        StepUpRequest::from_challenge(&settings.client_id, &settings.redirect_uri, &challenge);
    match authorization_request(&endpoint, &req) {
        Ok(url) => url.into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

#[allow(
    dead_code,
    reason = "the end-to-end test includes this file without calling main"
)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |k: &str| std::env::var(k).map_err(|_| format!("set {k}"));
    let dialect_name = std::env::var("OIDC_DIALECT").unwrap_or_else(|_| "standard".to_owned());
    let settings = Settings {
        issuer: var("OIDC_ISSUER")?,
        audience: var("OIDC_AUDIENCE")?,
        dialect: dialect(&dialect_name).ok_or_else(|| format!("unknown dialect {dialect_name}"))?,
        client_id: std::env::var("OIDC_CLIENT_ID").unwrap_or_else(|_| "web".to_owned()),
        redirect_uri: std::env::var("OIDC_REDIRECT_URI")
            .unwrap_or_else(|_| "http://localhost:3000/callback".to_owned()),
    };
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let loopback = url_is_loopback(&settings.issuer);
    let fetcher = if loopback {
        mfa_axum::oidc::HttpFetcher::dangerous_allow_http()?
    } else {
        mfa_axum::oidc::HttpFetcher::new()?
    };
    let app = app(&settings, fetcher, Arc::new(mfa_core::SystemClock))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("oidc_resource_server on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// Whether the issuer is on this machine (then plain HTTP is allowed for its keys).
fn url_is_loopback(issuer: &str) -> bool {
    ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|p| issuer.starts_with(p))
}
