//! What a reviewer checks without a browser: headers, cookie flags, CSRF, session
//! rotation, and `mfa-axum`'s answers on the payment route.
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use tower::ServiceExt as _;

use super::{TempDir, web_demo};

const PORT: u16 = 8080;

/// The demo on a fresh SQLite data directory (kept as long as the guard lives).
async fn app() -> (axum::Router, TempDir) {
    let dir = TempDir::new("web_demo_http");
    let config = web_demo::Config::new(PORT, dir.path());
    let app = web_demo::build_app(&config).await.unwrap();
    (web_demo::router(app).unwrap(), dir)
}

async fn send(app: &axum::Router, req: Request<Body>) -> Response {
    app.clone().oneshot(req).await.unwrap()
}

fn set_cookie(res: &Response) -> String {
    res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned()
}

/// `name=value` of a `Set-Cookie` header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn json(res: Response) -> serde_json::Value {
    let b = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    serde_json::from_slice(&b).unwrap()
}

fn signup(cookie: &str, csrf: Option<&str>, origin: Option<&str>) -> Request<Body> {
    let mut r = Request::post("/api/signup")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = csrf {
        r = r.header("x-csrf-token", t);
    }
    if let Some(o) = origin {
        r = r.header(header::ORIGIN, o);
    }
    r.body(Body::from(
        r#"{"username":"carol","password":"a long demo password"}"#,
    ))
    .unwrap()
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_cookie_flags() {
    let (app, _dir) = app().await;
    let res = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let c = set_cookie(&res);
    assert!(c.starts_with("__Host-demo_sid="), "{c}");
    for flag in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(c.split("; ").any(|f| f == flag), "{flag} missing from {c}");
    }
    // No page has an inline script or style.
    for page in [
        "index.html",
        "mfa.html",
        "account.html",
        "stepup.html",
        "pay.html",
        "admin.html",
        "outbox.html",
        "phone.html",
        "layout.html",
    ] {
        let html = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("static")
                .join(page),
        )
        .unwrap();
        assert!(
            !html.contains("<script>") && !html.contains("<style"),
            "{page}"
        );
        let inline_handler = html.split('<').any(|tag| {
            tag.split_whitespace()
                .skip(1)
                .any(|attr| attr.starts_with("on") && attr.contains('='))
        });
        assert!(!html.contains(" style=") && !inline_handler, "{page}");
        assert!(
            !html.contains("javascript:") && !html.contains("http"),
            "{page}: no external URL"
        );
    }
}

#[tokio::test]
async fn state_changes_need_the_csrf_token_and_our_origin() {
    let (app, _dir) = app().await;
    let (cookie, csrf) = anonymous(&app).await;
    let ours = format!("http://localhost:{PORT}");
    for (token, origin) in [
        (None, None),
        (Some("forged"), None),
        (Some(csrf.as_str()), Some("http://evil.example")),
    ] {
        let res = send(&app, signup(&cookie, token, origin)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{token:?} {origin:?}");
    }
    let res = send(&app, signup(&cookie, Some(&csrf), Some(&ours))).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Signing in rotates the session id: the old cookie no longer names a session.
    let new = pair(&set_cookie(&res));
    assert_ne!(new, cookie);
    assert_eq!(json(res).await["stage"], "enroll");
    let old = send(&app, get("/api/factors", &cookie)).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
}

/// A fresh anonymous session: its cookie and CSRF token.
async fn anonymous(app: &axum::Router) -> (String, String) {
    let res = send(app, Request::get("/").body(Body::empty()).unwrap()).await;
    let cookie = pair(&set_cookie(&res));
    let csrf = me(app, &cookie).await["csrf"].as_str().unwrap().to_owned();
    (cookie, csrf)
}

fn post(path: &str, cookie: &str, csrf: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-csrf-token", csrf)
        .header(header::ORIGIN, format!("http://localhost:{PORT}"))
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn me(app: &axum::Router, cookie: &str) -> serde_json::Value {
    json(send(app, get("/api/me", cookie)).await).await
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    let request = Request::get(path).header(header::COOKIE, cookie);
    request.body(Body::empty()).unwrap()
}

/// The policy's grace period: "set up later" three times, then enrolment is required.
#[tokio::test]
async fn enrolment_can_be_put_off_for_three_sign_ins() {
    let (app, _dir) = app().await;
    let creds = r#"{"username":"carol","password":"a long demo password"}"#;
    for (i, path) in ["/api/signup", "/api/signin", "/api/signin", "/api/signin"]
        .into_iter()
        .enumerate()
    {
        let (cookie, csrf) = anonymous(&app).await;
        let res = send(&app, post(path, &cookie, &csrf, creds)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path} #{i}");
        let cookie = pair(&set_cookie(&res));
        let v = json(res).await;
        assert_eq!(v["stage"], "enroll", "#{i}");
        let csrf = v["csrf"].as_str().unwrap().to_owned();
        let m = me(&app, &cookie).await;
        let skip = send(&app, post("/api/enroll/skip", &cookie, &csrf, "{}")).await;
        if i < 3 {
            assert_eq!(m["grace"]["sign_ins_left"], 3 - i, "#{i}: {m}");
            assert_eq!(skip.status(), StatusCode::OK, "#{i}");
            let cookie = pair(&set_cookie(&skip));
            assert_eq!(json(skip).await["stage"], "ok");
            assert_eq!(me(&app, &cookie).await["stage"], "ok");
        } else {
            assert!(m["grace"].is_null(), "{m}");
            assert_eq!(skip.status(), StatusCode::FORBIDDEN);
            assert_eq!(me(&app, &cookie).await["stage"], "enroll");
        }
    }
}

#[tokio::test]
async fn payment_route_is_behind_mfa_axum() {
    let (app, _dir) = app().await;
    // No session: an API client gets a plain Bearer challenge, a browser the sign-in page.
    let res = send(
        &app,
        Request::post("/api/pay")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let res = send(
        &app,
        Request::get("/pay")
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/?next=%2Fpay");
}
