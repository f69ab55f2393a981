//! The layer's answers: pass, redirect, RFC 9470 challenge, no session, store failure.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use mfa_core::{AuthMethod, FactorId, FixedClock, Timestamp};
use mfa_policy::input::CompletedMethod;
use tower::ServiceExt as _;

use super::*;

const T0: u64 = 1_700_000_000;

#[derive(Clone)]
enum Loader {
    Fixed(Option<MfaSession>),
    Fails,
    RefusesToken,
}

impl SessionLoader for Loader {
    async fn load(&self, _: &Parts) -> Result<Option<MfaSession>, LoadError> {
        match self {
            Self::Fixed(s) => Ok(s.clone()),
            Self::Fails => Err(LoadError::new("database down")),
            Self::RefusesToken => Err(LoadError::invalid_token("bad signature")),
        }
    }
}

fn id(s: &str) -> FactorId {
    FactorId::new(s).unwrap()
}

fn method(method: AuthMethod, factor: Option<&str>, at: u64) -> CompletedMethod {
    CompletedMethod {
        method,
        factor: factor.map(id),
        at: Timestamp::from_unix_secs(at),
    }
}

/// Password and TOTP at `T0`, plus a user-verified security key at `key_at` if given.
fn session(key_at: Option<u64>, key_enrolled: bool) -> MfaSession {
    let mut methods = vec![
        method(AuthMethod::Pwd, None, T0),
        method(AuthMethod::Otp, Some("f-totp"), T0),
    ];
    if let Some(at) = key_at {
        methods.push(method(AuthMethod::Hwk, Some("f-key"), at));
        methods.push(method(AuthMethod::Pin, Some("f-key"), at));
    }
    let mut enrolled = vec![EnrolledFactor::new(id("f-totp"), FactorKind::Totp)];
    if key_enrolled {
        enrolled.push(EnrolledFactor::new(
            id("f-key"),
            FactorKind::WebAuthn {
                attachment: Some(Attachment::CrossPlatform),
            },
        ));
    }
    MfaSession {
        user: UserId::new("alice").unwrap(),
        session: Session {
            methods,
            last_activity: Some(Timestamp::from_unix_secs(key_at.unwrap_or(T0))),
        },
        enrolled,
    }
}

struct App {
    router: Router,
    calls: Arc<AtomicUsize>,
}

fn app(loader: Loader, now: u64) -> App {
    let policy = Arc::new(Policy::from_toml("version = 1\nmode = \"always\"").unwrap());
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(Timestamp::from_unix_secs(now)));
    let layer =
        RequireMfaLayer::builder(policy, loader, phishing_resistant(Duration::from_secs(300)))
            .step_up_path("/step-up")
            .sign_in_path("/sign-in")
            .clock(clock)
            .build()
            .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let router = Router::new().route(
        "/pay",
        get(move |axum::Extension(s): axum::Extension<MfaSession>| {
            let c = Arc::clone(&c);
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                format!("paid by {}", s.user.as_str())
            }
        })
        .layer(layer),
    );
    App { router, calls }
}

async fn send(app: &App, accept: Option<&str>, auth: bool) -> Response {
    let mut req = Request::get("/pay?amount=10");
    if let Some(a) = accept {
        req = req.header(header::ACCEPT, a);
    }
    if auth {
        req = req.header(header::AUTHORIZATION, "Bearer abc");
    }
    app.router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

const HTML: Option<&str> = Some("text/html,application/xhtml+xml,*/*;q=0.8");

fn header_of(res: &Response, name: header::HeaderName) -> &str {
    res.headers().get(name).unwrap().to_str().unwrap()
}

#[tokio::test]
async fn api_client_gets_the_rfc9470_challenge() {
    let app = app(Loader::Fixed(Some(session(None, true))), T0 + 10);
    let res = send(&app, Some("application/json"), false).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header_of(&res, header::WWW_AUTHENTICATE),
        "Bearer error=\"insufficient_user_authentication\", \
         error_description=\"A different authentication level is required\", \
         acr_values=\"http://schemas.openid.net/pape/policies/2007/06/phishing-resistant\", \
         max_age=\"300\""
    );
    assert_eq!(app.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn browser_is_redirected_to_step_up_with_next() {
    let app = app(Loader::Fixed(Some(session(None, true))), T0 + 10);
    let res = send(&app, HTML, false).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header_of(&res, header::LOCATION),
        "/step-up?next=%2Fpay%3Famount%3D10&acr_values=\
         http%3A%2F%2Fschemas.openid.net%2Fpape%2Fpolicies%2F2007%2F06%2Fphishing-resistant\
         &max_age=300"
    );
    assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-store");
    assert_eq!(app.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn authorization_header_means_api_even_when_accepting_html() {
    let app = app(Loader::Fixed(Some(session(None, true))), T0 + 10);
    let res = send(&app, HTML, true).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(header_of(&res, header::WWW_AUTHENTICATE).contains("insufficient_user_authentication"));
}

#[tokio::test]
async fn fresh_security_key_passes_and_handler_sees_the_session() {
    let app = app(Loader::Fixed(Some(session(Some(T0 + 5), true))), T0 + 10);
    let res = send(&app, HTML, false).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
    assert_eq!(&body[..], b"paid by alice");
    assert_eq!(app.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn security_key_older_than_max_age_steps_up_again() {
    // Verified at T0 + 5, checked 301 s later: past the 300 s limit.
    let app = app(Loader::Fixed(Some(session(Some(T0 + 5), true))), T0 + 306);
    let res = send(&app, None, false).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.calls.load(Ordering::SeqCst), 0);
    // One second inside the limit passes.
    let app = self::app(Loader::Fixed(Some(session(Some(T0 + 5), true))), T0 + 305);
    assert_eq!(send(&app, None, false).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn key_method_from_a_factor_not_enrolled_counts_for_nothing() {
    let app = app(Loader::Fixed(Some(session(Some(T0 + 5), false))), T0 + 10);
    assert_eq!(
        send(&app, None, false).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn no_session_is_sign_in_for_browsers_and_plain_bearer_for_apis() {
    let app = app(Loader::Fixed(None), T0);
    let res = send(&app, HTML, false).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header_of(&res, header::LOCATION),
        "/sign-in?next=%2Fpay%3Famount%3D10"
    );
    let res = send(&app, None, false).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&res, header::WWW_AUTHENTICATE), "Bearer");
    assert_eq!(app.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn store_failure_fails_closed() {
    let app = app(Loader::Fails, T0);
    let res = send(&app, HTML, false).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(app.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn refused_credentials_are_401_invalid_token_or_sign_in_for_browsers() {
    let app = app(Loader::RefusesToken, T0);
    let res = send(&app, HTML, false).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()[header::LOCATION],
        "/sign-in?next=%2Fpay%3Famount%3D10"
    );
    for (accept, auth) in [(HTML, true), (None, true), (None, false)] {
        let res = send(&app, accept, auth).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
    }
    assert_eq!(app.calls.load(Ordering::SeqCst), 0);
    assert!(LoadError::invalid_token("x").is_invalid_token());
    assert!(!LoadError::new("x").is_invalid_token());
}

#[test]
fn build_refuses_what_it_cannot_honour() {
    let policy = Arc::new(Policy::from_toml("version = 1\nmode = \"always\"").unwrap());
    let none =
        RequireMfaLayer::builder(Arc::clone(&policy), Loader::Fixed(None), Requirement::NONE);
    assert!(none.build().is_err());
    for bad in [
        "//evil.example",
        "https://evil.example/",
        "step-up",
        "/a b",
        "/x?y=1",
        "/\\evil",
    ] {
        let b =
            RequireMfaLayer::builder(Arc::clone(&policy), Loader::Fixed(None), Requirement::MFA)
                .step_up_path(bad);
        assert!(b.build().is_err(), "{bad}");
    }
    let quote =
        RequireMfaLayer::builder(Arc::clone(&policy), Loader::Fixed(None), Requirement::MFA)
            .acr_values(["a\"b"]);
    assert!(quote.build().is_err());
    let ok = RequireMfaLayer::builder(policy, Loader::Fixed(None), Requirement::MFA)
        .realm("api")
        .build()
        .unwrap();
    assert_eq!(ok.requirement().level, Level::Mfa);
}
