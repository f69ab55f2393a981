//! The web demo in a real browser: serves the demo in-process on a free port and runs
//! `examples/web_demo/tests/e2e.mjs` (`playwright-core` driving Debian's Chromium with a
//! virtual authenticator) against it.
//!
//! The example's file is compiled into this test as a module (as `tests/otp.rs` does),
//! so no stale example binary can be tested and `--test web_demo` needs no prior build.
//! Needs Node 20+, `npm ci` in `examples/web_demo/tests` and `/usr/bin/chromium`. Skips
//! with a message when one is missing, unless `MFA_REQUIRE_EXTERNAL=1` (CI), where it
//! fails. Screenshots go to `$MFA_SCREENSHOTS_DIR` when set (`docs/screenshots` to
//! refresh the README's), else to a directory under the target dir.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../web_demo.rs"]
#[allow(dead_code, reason = "the example's `main` is not called here")]
mod web_demo;

fn missing(what: &str) {
    if std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
        panic!("MFA_REQUIRE_EXTERNAL=1 but {what}");
    }
    eprintln!("skipping the web demo browser test: {what}");
}

/// Starts the demo on a free port of 127.0.0.1 in a thread of its own; returns the port.
fn start_demo() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            web_demo::serve(listener, "admin").await.unwrap();
        });
    });
    rx.recv().unwrap()
}

#[test]
fn web_demo_end_to_end_in_chromium() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("web_demo/tests");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return missing(&format!("{chromium} is missing (apt-get install chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return missing("node is missing (Node 20 or later)");
    }
    if !tests.join("node_modules/playwright-core").exists() {
        return missing("playwright-core is not installed (npm ci in examples/web_demo/tests)");
    }
    let port = start_demo();
    let shots = std::env::var_os("MFA_SCREENSHOTS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web_demo_screenshots"),
        PathBuf::from,
    );
    let out = Command::new("node")
        .arg("e2e.mjs")
        .current_dir(&tests)
        .env("WEB_DEMO_URL", format!("http://localhost:{port}"))
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &shots)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(out.status.success(), "the browser test failed: {stderr}");
    assert!(
        stdout.contains("every step behaved as expected"),
        "the browser test did not finish: {stdout}"
    );
}

/// What a reviewer checks without a browser: headers, cookie flags, CSRF, session
/// rotation, and `mfa-axum`'s answers on the payment route.
mod http {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::response::Response;
    use tower::ServiceExt as _;

    use super::web_demo;

    const PORT: u16 = 8080;

    async fn app() -> axum::Router {
        web_demo::router(web_demo::build_app(PORT, "admin").await.unwrap()).unwrap()
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
        let app = app().await;
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
        ] {
            let html = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("web_demo")
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
        let app = app().await;
        let res = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
        let cookie = pair(&set_cookie(&res));
        let me = send(
            &app,
            Request::get("/api/me")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let csrf = json(me).await["csrf"].as_str().unwrap().to_owned();
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
        let old = send(
            &app,
            Request::get("/api/factors")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn payment_route_is_behind_mfa_axum() {
        let app = app().await;
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
}
