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
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../web_demo.rs"]
#[allow(dead_code, reason = "the example's `main` is not called here")]
mod web_demo;

#[path = "web_demo/levels.rs"]
mod levels;

/// A fresh directory under the target dir, removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn missing(what: &str) {
    if std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
        panic!("MFA_REQUIRE_EXTERNAL=1 but {what}");
    }
    eprintln!("skipping the web demo browser test: {what}");
}

/// Starts the demo on a free port of 127.0.0.1 in a thread of its own, with its data in
/// `data_dir`; returns the port.
fn start_demo(data_dir: &Path) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    let config = web_demo::Config::new(0, data_dir);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            web_demo::serve(listener, &config, std::future::pending())
                .await
                .unwrap();
        });
    });
    rx.recv().unwrap()
}

/// The administrator the browser test signs in as (`WEB_DEMO_ADMIN`), with the
/// script's password.
const E2E_ADMIN: &str = "root";

/// What an operator does before the browser test: `root` signs up (no factor yet),
/// then `web_demo grant-admin root` makes it the administrator. Signing up as `admin`
/// would not.
fn make_admin(data_dir: &Path) {
    use std::collections::BTreeMap;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = web_demo::Config::new(persistence::PORT, data_dir);
        let app = web_demo::build_app(&config).await.unwrap();
        let mut b = persistence::Browser::open(&app, BTreeMap::new()).await;
        let (s, v) = b
            .post(
                "/api/signup",
                serde_json::json!({"username": E2E_ADMIN, "password": persistence::PASSWORD}),
            )
            .await;
        assert_eq!(s, axum::http::StatusCode::OK, "{v}");
        app.flush_audit().await;
        drop(b);
        drop(app);
        let said = web_demo::set_admin(&config, E2E_ADMIN, true).await.unwrap();
        assert_eq!(said, format!("{E2E_ADMIN} is now an administrator"));
    });
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
    let data = TempDir::new("web_demo_e2e");
    make_admin(data.path());
    let port = start_demo(data.path());
    let shots = std::env::var_os("MFA_SCREENSHOTS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web_demo_screenshots"),
        PathBuf::from,
    );
    let out = Command::new("node")
        .arg("e2e.mjs")
        .current_dir(&tests)
        .env("WEB_DEMO_URL", format!("http://localhost:{port}"))
        .env("WEB_DEMO_ADMIN", E2E_ADMIN)
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
        let (app, _dir) = app().await;
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

    /// A fresh anonymous session: its cookie and CSRF token.
    async fn anonymous(app: &axum::Router) -> (String, String) {
        let res = send(app, Request::get("/").body(Body::empty()).unwrap()).await;
        let cookie = pair(&set_cookie(&res));
        let me = send(
            app,
            Request::get("/api/me")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let csrf = json(me).await["csrf"].as_str().unwrap().to_owned();
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
        let res = send(
            app,
            Request::get("/api/me")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        json(res).await
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
}

/// A restart keeps accounts, factors, recovery-code hints, remembered devices and the
/// audit log: SQLite under a data directory, and PostgreSQL when
/// `MFA_TEST_POSTGRES_URL` is set (a schema of its own per run).
pub(crate) mod persistence {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode, header};
    use serde_json::{Value, json};
    use tower::ServiceExt as _;

    use super::{TempDir, web_demo};

    pub(crate) const PORT: u16 = 8080;
    pub(crate) const PASSWORD: &str = "correct horse battery staple";
    pub(crate) const SID: &str = "__Host-demo_sid";

    /// A browser for the in-process router: a cookie jar, the page's CSRF token, our
    /// `Origin` on every request.
    pub(crate) struct Browser {
        pub(crate) app: axum::Router,
        pub(crate) jar: BTreeMap<String, String>,
        pub(crate) csrf: String,
    }

    impl Browser {
        /// Opens the sign-in page on `app` with the cookies of `jar` (a browser that
        /// kept its cookies over the server's restart) and reads the CSRF token.
        pub(crate) async fn open(app: &Arc<web_demo::App>, jar: BTreeMap<String, String>) -> Self {
            let mut b = Self {
                app: web_demo::router(Arc::clone(app)).unwrap(),
                jar,
                csrf: String::new(),
            };
            let (status, _) = b.send(Method::GET, "/", None).await;
            assert_eq!(status, StatusCode::OK);
            let (_, me) = b.send(Method::GET, "/api/me", None).await;
            b.csrf = me["csrf"].as_str().unwrap().to_owned();
            b
        }

        pub(crate) async fn send(
            &mut self,
            method: Method,
            path: &str,
            body: Option<Value>,
        ) -> (StatusCode, Value) {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut r = Request::builder()
                .method(method)
                .uri(path)
                .header(header::ORIGIN, format!("http://localhost:{PORT}"));
            if !cookies.is_empty() {
                r = r.header(header::COOKIE, cookies.join("; "));
            }
            let req = match body {
                Some(b) => r
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("x-csrf-token", &self.csrf)
                    .body(Body::from(b.to_string())),
                None => r.body(Body::empty()),
            }
            .unwrap();
            let res = self.app.clone().oneshot(req).await.unwrap();
            for c in res.headers().get_all(header::SET_COOKIE) {
                let c = c.to_str().unwrap();
                let (name, value) = c.split(';').next().unwrap().split_once('=').unwrap();
                if c.contains("Max-Age=0") {
                    self.jar.remove(name);
                } else {
                    self.jar.insert(name.to_owned(), value.to_owned());
                }
            }
            let status = res.status();
            let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
                .await
                .unwrap();
            let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            // As the page does: a response that rotated the session brings its new token.
            if let Some(t) = v.get("csrf").and_then(Value::as_str) {
                t.clone_into(&mut self.csrf);
            }
            (status, v)
        }

        pub(crate) async fn get(&mut self, path: &str) -> (StatusCode, Value) {
            self.send(Method::GET, path, None).await
        }

        /// The session cookie's value.
        pub(crate) fn sid(&self) -> String {
            self.jar[SID].clone()
        }

        pub(crate) async fn post(&mut self, path: &str, body: Value) -> (StatusCode, Value) {
            self.send(Method::POST, path, Some(body)).await
        }
    }

    pub(crate) fn totp_now(secret: &str) -> String {
        totp_in(secret, 0)
    }

    /// The code of the TOTP step `steps` after the current one.
    pub(crate) fn totp_in(secret: &str, steps: u64) -> String {
        use mfa_core::Clock as _;
        let s = mfa_otp::Secret::from_base32(secret).unwrap();
        mfa_otp::Totp::new(&s, mfa_otp::TotpParams::default())
            .code_at(mfa_core::SystemClock.now().unix_secs() + 30 * steps)
            .unwrap()
            .as_str()
            .to_owned()
    }

    pub(crate) fn events(list: &[Value], name: &str) -> usize {
        list.iter().filter(|e| e["event"] == name).count()
    }

    /// What the first run enrolled, for the checks after the restarts.
    struct FirstRun {
        secret: String,
        totp_code: String,
        recovery: Vec<String>,
        jar: BTreeMap<String, String>,
    }

    async fn first_run(config: &web_demo::Config) -> FirstRun {
        let app = web_demo::build_app(config).await.unwrap();
        let mut b = Browser::open(&app, BTreeMap::new()).await;
        let (s, v) = b
            .post(
                "/api/signup",
                json!({"username": "carol", "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            (s, v["stage"].as_str()),
            (StatusCode::OK, Some("enroll")),
            "{v}"
        );
        let (s, v) = b.post("/api/totp/begin", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let secret = v["secret"].as_str().unwrap().to_owned();
        let totp_code = totp_now(&secret);
        let (s, v) = b
            .post("/api/totp/confirm", json!({"code": totp_code}))
            .await;
        assert_eq!(
            (s, v["stage"].as_str()),
            (StatusCode::OK, Some("ok")),
            "{v}"
        );
        let (s, v) = b.post("/api/recovery/generate", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let recovery: Vec<String> = v["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(recovery.len(), 10);
        let audit = app.audit_events(200).await.unwrap();
        assert!(events(&audit, "confirmed") >= 1, "{audit:?}");
        FirstRun {
            secret,
            totp_code,
            recovery,
            jar: b.jar,
        }
    }

    /// Signs up and enrolls, restarts, signs in with the password and a recovery code
    /// (remembering the device), restarts again and signs in on the remembered device.
    /// Returns the first run's enrollment and the session id the last run signed in
    /// with.
    async fn restart_keeps_everything(config: &web_demo::Config) -> (FirstRun, String) {
        let first = first_run(config).await;

        // Restart: a new app on the same data. The browser kept its cookies, and the
        // session is in the database: still signed in, with the same CSRF token.
        let app = web_demo::build_app(config).await.unwrap();
        let mut b = Browser::open(&app, first.jar.clone()).await;
        assert_eq!(b.sid(), first.jar[SID], "the session cookie is still good");
        let (s, v) = b.get("/api/factors").await;
        assert_eq!(s, StatusCode::OK, "the session survives a restart: {v}");
        let (_, me) = b.get("/api/me").await;
        assert_eq!(
            (me["user"].as_str(), me["stage"].as_str()),
            (Some("carol"), Some("ok")),
            "{me}"
        );
        let (s, v) = b.post("/api/devices/forget", json!({"id": "none"})).await;
        assert_eq!(s, StatusCode::OK, "the CSRF token is still good: {v}");
        let (s, _) = b.post("/api/signout", json!({})).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = b.get("/api/factors").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "signed out");
        let mut b = Browser::open(&app, b.jar.clone()).await;
        let (s, v) = b
            .post(
                "/api/signin",
                json!({"username": "carol", "password": "not the password"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        let (s, v) = b
            .post(
                "/api/signin",
                json!({"username": "carol", "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            (s, v["stage"].as_str()),
            (StatusCode::OK, Some("mfa")),
            "{v}"
        );
        let (_, v) = b.get("/api/factors").await;
        let kinds: Vec<&str> = v["factors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["confirmed"] == true)
            .map(|f| f["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"totp") && kinds.contains(&"recovery-code"),
            "{v}"
        );
        // The TOTP code accepted before the restart is not accepted again.
        let (s, v) = b
            .post(
                "/api/verify",
                json!({"kind": "totp", "code": first.totp_code}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        // A recovery code opens under the pepper of the key file.
        let (s, v) = b
            .post(
                "/api/verify",
                json!({"kind": "recovery", "code": first.recovery[0], "remember": true}),
            )
            .await;
        assert_eq!(
            (s, v["stage"].as_str()),
            (StatusCode::OK, Some("ok")),
            "{v}"
        );
        let (_, v) = b.get("/api/recovery").await;
        let codes = v["codes"].as_array().unwrap();
        assert_eq!(codes.len(), 10, "{v}");
        let used: Vec<bool> = codes.iter().map(|c| c["used"] == true).collect();
        assert_eq!(used.iter().filter(|u| **u).count(), 1, "{v}");
        assert!(used[0], "the first code is the used one: {v}");
        let hint = codes[0]["hint"].as_str().unwrap();
        assert!(
            first.recovery[0].starts_with(hint.trim_end_matches('…')),
            "{hint} {}",
            first.recovery[0]
        );
        let (_, v) = b.get("/api/devices").await;
        assert_eq!(v["devices"].as_array().unwrap().len(), 1, "{v}");
        let (s, _) = b.post("/api/signout", json!({})).await;
        assert_eq!(s, StatusCode::OK);
        let jar = b.jar.clone();
        drop(b);
        drop(app);

        // Second restart: the remembered device's token verifies under the key file's
        // device key, so the password alone signs in on this browser.
        let app = web_demo::build_app(config).await.unwrap();
        let mut b = Browser::open(&app, jar).await;
        let (s, v) = b
            .post(
                "/api/signin",
                json!({"username": "carol", "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            (s, v["stage"].as_str()),
            (StatusCode::OK, Some("ok")),
            "{v}"
        );
        // The audit log holds the events of all three runs, newest first.
        let audit = app.audit_events(200).await.unwrap();
        assert!(events(&audit, "confirmed") >= 1, "first run: {audit:?}");
        assert_eq!(events(&audit, "recovery_code_used"), 1, "{audit:?}");
        assert!(events(&audit, "device_remembered") == 1, "{audit:?}");
        let (s, v) = b.get("/api/recovery").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let sid = b.sid();
        app.flush_audit().await;
        (first, sid)
    }

    /// The SHA-256 of a session id, as `demo_sessions.id_hash` holds it.
    pub(crate) fn sid_hash(sid: &str) -> Vec<u8> {
        use sha2::Digest as _;
        sha2::Sha256::digest(sid.as_bytes()).to_vec()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_restart_keeps_accounts_and_factors() {
        let dir = TempDir::new("web_demo_sqlite");
        let config = web_demo::Config::new(PORT, dir.path());
        let (first, sid) = restart_keeps_everything(&config).await;

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode =
                |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(dir.path()), 0o700);
            assert_eq!(mode(&dir.path().join("keys.json")), 0o600);
        }
        // At rest the TOTP secret is sealed: neither its base32 nor its bytes are in
        // the database file or its write-ahead log.
        let raw = mfa_otp::Secret::from_base32(&first.secret).unwrap();
        let mut stored = Vec::new();
        for f in ["web_demo.sqlite3", "web_demo.sqlite3-wal"] {
            if let Ok(b) = std::fs::read(dir.path().join(f)) {
                stored.extend(b);
            }
        }
        assert!(stored.len() > 4096);
        let has = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
        assert!(!has(first.secret.as_bytes()));
        assert!(!has(raw.expose_secret()));
        assert!(!has(PASSWORD.as_bytes()));
        // The signed-in session is stored by the hash of its id, never the cookie.
        assert!(
            !has(sid.as_bytes()),
            "the raw session id is in the database"
        );
        let conn = rusqlite::Connection::open(dir.path().join("web_demo.sqlite3")).unwrap();
        let stored_sessions: Vec<(Vec<u8>, String, String)> = conn
            .prepare("SELECT id_hash, username, session FROM demo_sessions")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stored_sessions.len(), 1, "only the signed-in session");
        let (hash, user, session) = &stored_sessions[0];
        assert_eq!((hash, user.as_str()), (&sid_hash(&sid), "carol"));
        assert!(!session.contains(&sid));
        drop(conn);
        // The accounts are in the demo's own table of that file.
        let conn = rusqlite::Connection::open(dir.path().join("web_demo.sqlite3")).unwrap();
        let users: i64 = conn
            .query_row(
                "SELECT count(*) FROM demo_users WHERE username = 'carol'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(users, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_foreign_or_readable_key_file_is_refused() {
        let dir = TempDir::new("web_demo_keys");
        let config = web_demo::Config::new(PORT, dir.path());
        drop(web_demo::build_app(&config).await.unwrap());
        let keys = dir.path().join("keys.json");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = web_demo::build_app(&config)
                .await
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("chmod 600"), "{e}");
            std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
            drop(web_demo::build_app(&config).await.unwrap());
        }
        // A new key file for an existing database: its sealed records would not open.
        std::fs::remove_file(&keys).unwrap();
        let e = web_demo::build_app(&config)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("not the one this database was created with"),
            "{e}"
        );
    }

    /// The outbox shows a user only what was sent for their own requests, even when two
    /// users type the same number; the phone's endpoints want our `Origin`; SMS codes
    /// from the outbox enroll and sign in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn outbox_is_per_user_and_phone_requests_need_our_origin() {
        let dir = TempDir::new("web_demo_outbox");
        let app = web_demo::build_app(&web_demo::Config::new(PORT, dir.path()))
            .await
            .unwrap();
        let mut users = Vec::new();
        for name in ["erin", "frank"] {
            let mut b = Browser::open(&app, BTreeMap::new()).await;
            let (s, v) = b
                .post(
                    "/api/signup",
                    json!({"username": name, "password": PASSWORD}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            // One number gets one text per 5 s whoever asks: the second account waits.
            let mut tries = 0;
            let v = loop {
                let (s, v) = b
                    .post(
                        "/api/oob/enroll",
                        json!({"channel": "sms", "destination": "+1 201 555 0123"}),
                    )
                    .await;
                if s == StatusCode::OK {
                    break v;
                }
                assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
                assert!(
                    v["error"].as_str().unwrap().contains("wait a few seconds"),
                    "{v}"
                );
                tries += 1;
                assert!(tries < 10, "{v}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            };
            assert!(v["destination"].as_str().unwrap().starts_with("+1"), "{v}");
            users.push(b);
        }
        let mut codes = Vec::new();
        for b in &mut users {
            let (s, v) = b.get("/api/outbox").await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let messages = v["messages"].as_array().unwrap();
            assert_eq!(messages.len(), 1, "only the user's own message: {v}");
            assert_eq!(messages[0]["to"], "+12015550123");
            let body = messages[0]["body"].as_str().unwrap();
            codes.push(body.split_whitespace().next().unwrap().to_owned());
        }
        assert_ne!(codes[0], codes[1]);
        // Each confirms with the code from their own outbox; the other's is refused.
        let (s, _) = users[0]
            .post("/api/oob/confirm", json!({"code": codes[1]}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        for (b, code) in users.iter_mut().zip(&codes) {
            let (s, v) = b.post("/api/oob/confirm", json!({"code": code})).await;
            assert_eq!(
                (s, v["stage"].as_str()),
                (StatusCode::OK, Some("ok")),
                "{v}"
            );
        }
        // Signed out, the outbox shows nothing.
        let mut anon = Browser::open(&app, BTreeMap::new()).await;
        let (s, _) = anon.get("/api/outbox").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // The phone's endpoints carry no cookie authority but want our Origin.
        for path in [
            "/api/phone/inbox",
            "/api/phone/respond",
            "/api/phone/enroll",
        ] {
            for origin in [None, Some("http://evil.example")] {
                let mut r = Request::post(path).header(header::CONTENT_TYPE, "application/json");
                if let Some(o) = origin {
                    r = r.header(header::ORIGIN, o);
                }
                let res = anon
                    .app
                    .clone()
                    .oneshot(r.body(Body::from(r#"{"push_token":"x"}"#)).unwrap())
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} {origin:?}");
            }
        }
        let (s, v) = anon
            .post("/api/phone/inbox", json!({"push_token": "unknown"}))
            .await;
        assert_eq!(
            (s, v["notifications"].as_array().map(Vec::len)),
            (StatusCode::OK, Some(0))
        );
        let (s, _) = anon
            .post(
                "/api/phone/respond",
                json!({"account": "erin", "response": "AAAA"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }

    /// What the demo's push provider holds for gina's phone.
    async fn inbox(phone: &mut Browser) -> Vec<Value> {
        let (s, v) = phone
            .post("/api/phone/inbox", json!({"push_token": "token-gina"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["notifications"].as_array().unwrap().clone()
    }

    /// Push over HTTP with mfa-oob's software device (a check of the server side that
    /// does not depend on the phone page's JavaScript): a user pairs a phone while
    /// enrolling and is sent on to verify with it; a denial is final, reported to the
    /// sign-in page and audited; an approval with the number shown signs in, once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn push_with_a_software_device() {
        use mfa_oob::testkit::SoftwareDevice;
        let dir = TempDir::new("web_demo_push");
        let app = web_demo::build_app(&web_demo::Config::new(PORT, dir.path()))
            .await
            .unwrap();
        let mut b = Browser::open(&app, BTreeMap::new()).await;
        let (_, v) = b
            .post(
                "/api/signup",
                json!({"username": "gina", "password": PASSWORD}),
            )
            .await;
        assert_eq!(v["stage"], "enroll");
        let (s, pair) = b.post("/api/push/enroll", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{pair}");
        let device =
            SoftwareDevice::new("Gina's phone", "token-gina", &mut mfa_core::OsRandom).unwrap();
        let challenge: mfa_oob::EnrollmentChallenge =
            serde_json::from_value(pair["challenge"].clone()).unwrap();
        let mut phone = Browser::open(&app, BTreeMap::new()).await;
        // Another pairing secret does not pair.
        let other = mfa_oob::EnrollmentChallenge::generate(&mut mfa_core::OsRandom).unwrap();
        let body = |c: &mfa_oob::EnrollmentChallenge| {
            json!({
                "account": "gina",
                "challenge_id": pair["challenge_id"],
                "request": device.enrollment_request(c),
            })
        };
        let (s, _) = phone.post("/api/phone/enroll", body(&other)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, v) = b.post("/api/push/enroll", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let pair = v;
        let challenge_2: mfa_oob::EnrollmentChallenge =
            serde_json::from_value(pair["challenge"].clone()).unwrap();
        assert_ne!(challenge, challenge_2);
        let (s, v) = phone
            .post(
                "/api/phone/enroll",
                json!({
                    "account": "gina",
                    "challenge_id": pair["challenge_id"],
                    "request": device.enrollment_request(&challenge_2),
                }),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        // Pairing proved nothing in the browser: on to the second factor.
        let (_, v) = b.post("/api/stage", json!({})).await;
        assert_eq!(v["stage"], "mfa", "{v}");

        let now = || {
            use mfa_core::Clock as _;
            mfa_core::SystemClock.now()
        };
        // Deny: final, and the sign-in page sees it.
        let (s, v) = b.post("/api/push/start", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let notes = inbox(&mut phone).await;
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0]["account"], "gina");
        assert_eq!(notes[0]["context"]["client_ip"], "127.0.0.1");
        assert!(
            notes[0].get("number").is_none(),
            "the number is not sent to the phone"
        );
        let n: mfa_oob::PushNotification = serde_json::from_value(notes[0].clone()).unwrap();
        let deny = device.deny(&n, now()).unwrap();
        let (s, v) = phone
            .post(
                "/api/phone/respond",
                json!({"account": "gina", "response": deny.to_base64url()}),
            )
            .await;
        assert_eq!(
            (s, v["status"].as_str()),
            (StatusCode::OK, Some("denied")),
            "{v}"
        );
        assert!(
            inbox(&mut phone).await.is_empty(),
            "an answered request leaves the phone"
        );
        let (_, v) = b.get("/api/push/status").await;
        assert_eq!(v["status"], "denied");
        let (s, _) = b
            .post("/api/verify", json!({"kind": "push", "code": ""}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        // Approve with the number the page showed: signs in, once.
        let (_, v) = b.post("/api/push/start", json!({})).await;
        let number = v["number"].as_str().unwrap().to_owned();
        let nonce = v["nonce"].as_str().unwrap().to_owned();
        let note = inbox(&mut phone).await[0].clone();
        assert!(
            !note.to_string().contains(&nonce),
            "the page's nonce is not sent to the phone"
        );
        let n: mfa_oob::PushNotification = serde_json::from_value(note).unwrap();
        let (_, v) = b.get("/api/push/status").await;
        assert_eq!(v["status"], "pending");
        let ok = device.approve(&n, &number, now()).unwrap();
        let (_, v) = phone
            .post(
                "/api/phone/respond",
                json!({"account": "gina", "response": ok.to_base64url()}),
            )
            .await;
        assert_eq!(v["status"], "approved", "{v}");
        // The same answer again is refused.
        let (s, _) = phone
            .post(
                "/api/phone/respond",
                json!({"account": "gina", "response": ok.to_base64url()}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (_, v) = b.get("/api/push/status").await;
        assert_eq!(v["status"], "approved");
        // Without the page's nonce the approval does not complete, and stays.
        let (s, _) = b
            .post("/api/verify", json!({"kind": "push", "code": ""}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (_, v) = b.get("/api/push/status").await;
        assert_eq!(v["status"], "approved");
        let (s, v) = b
            .post(
                "/api/verify",
                json!({"kind": "push", "code": "", "nonce": nonce}),
            )
            .await;
        assert_eq!(
            (s, v["stage"].as_str()),
            (StatusCode::OK, Some("ok")),
            "{v}"
        );
        let audit = app.audit_events(200).await.unwrap();
        assert_eq!(events(&audit, "push_denied"), 1, "{audit:?}");
    }

    #[test]
    fn arguments() {
        let parse = |a: &[&str]| web_demo::parse_args(a.iter().map(|s| (*s).to_owned()));
        let Ok(web_demo::Parsed::Run(c)) = parse(&["--data-dir", "/tmp/x", "--port", "9000"])
        else {
            panic!("not parsed");
        };
        assert_eq!(
            (c.port, c.data_dir.to_str(), c.database_url),
            (9000, Some("/tmp/x"), None)
        );
        let Ok(web_demo::Parsed::Run(c)) = parse(&["--database-url", "postgres://u@h/db"]) else {
            panic!("not parsed");
        };
        assert_eq!(c.database_url.as_deref(), Some("postgres://u@h/db"));
        assert!(c.data_dir.ends_with("mfa-web-demo") || c.data_dir.ends_with("mfa-web-demo-data"));
        assert_eq!(c.session_limits, web_demo::SessionLimits::DEFAULT);
        let Ok(web_demo::Parsed::Run(c)) =
            parse(&["--session-idle", "60", "--session-lifetime", "3600"])
        else {
            panic!("not parsed");
        };
        assert_eq!(
            (
                c.session_limits.idle.as_secs(),
                c.session_limits.lifetime.as_secs()
            ),
            (60, 3600)
        );
        let Ok(web_demo::Parsed::Admin {
            user,
            grant,
            config,
        }) = parse(&[
            "revoke-admin",
            "root",
            "--database-url",
            "postgres://u@h/db",
        ])
        else {
            panic!("not parsed");
        };
        assert_eq!(
            (user.as_str(), grant, config.database_url.as_deref()),
            ("root", false, Some("postgres://u@h/db"))
        );
        for bad in [
            &["--database-url", "sqlite://x.db"][..],
            &["--database-url", "memory://"],
            &["--database-url"],
            &["--data-dir"],
            &["--frobnicate"],
            // The administrator is no start-up option any more: grant-admin.
            &["--admin", "root"],
            &["grant-admin"],
            &["grant-admin", "--data-dir", "/tmp/x"],
            &["--session-idle", "0"],
            &["--session-lifetime", "soon"],
            &["--session-idle"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(parse(&["--help"]), Ok(web_demo::Parsed::Help)));
    }

    /// A schema of its own on the test server, dropped at the end (also on failure).
    pub(crate) struct PgSchema {
        url: String,
        pub(crate) name: String,
    }

    impl Drop for PgSchema {
        fn drop(&mut self) {
            let (url, name) = (self.url.clone(), self.name.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok((client, conn)) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                            .await;
                    }
                });
            })
            .join();
        }
    }

    /// The demo's configuration on a fresh schema of `MFA_TEST_POSTGRES_URL`'s database
    /// (the key file in `dir`), a client, and the schema's guard; `None` (skip) when
    /// the variable is unset, a failure then under `MFA_REQUIRE_EXTERNAL=1`.
    pub(crate) async fn pg_config(
        dir: &std::path::Path,
    ) -> Option<(web_demo::Config, tokio_postgres::Client, PgSchema)> {
        let Some(url) = std::env::var("MFA_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            assert!(
                std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
                "MFA_TEST_POSTGRES_URL is not set and MFA_REQUIRE_EXTERNAL=1"
            );
            eprintln!("skipping: the web demo on PostgreSQL (MFA_TEST_POSTGRES_URL is not set)");
            return None;
        };
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("MFA_TEST_POSTGRES_URL is set but unreachable: {e}"));
        tokio::spawn(conn);
        let mut salt = [0u8; 4];
        mfa_core::SecureRandom::fill(&mut mfa_core::OsRandom, &mut salt).unwrap();
        let schema = PgSchema {
            url: url.clone(),
            name: format!(
                "web_demo_test_{}_{}",
                std::process::id(),
                salt.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
        };
        client
            .batch_execute(&format!("CREATE SCHEMA {}", schema.name))
            .await
            .unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let mut config = web_demo::Config::new(PORT, dir);
        config.database_url = Some(format!(
            "{url}{sep}options=-c%20search_path%3D{}",
            schema.name
        ));
        Some((config, client, schema))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_restart_keeps_accounts_and_factors() {
        let dir = TempDir::new("web_demo_pg");
        let Some((config, client, schema)) = pg_config(dir.path()).await else {
            return;
        };
        let (_, sid) = restart_keeps_everything(&config).await;
        // Everything is in the run's schema: mfa-store's tables and the demo's.
        let count = |table: &str| {
            let q = format!("SELECT count(*) FROM {}.{table}", schema.name);
            let client = &client;
            async move { client.query_one(&q, &[]).await.unwrap().get::<_, i64>(0) }
        };
        assert_eq!(count("demo_users").await, 1);
        assert_eq!(count("demo_recovery_hints").await, 10);
        assert!(count("demo_audit").await >= 3);
        assert_eq!(count("mfa_factors").await, 2);
        assert_eq!(count("mfa_devices").await, 1);
        // The signed-in session, by the hash of its id; the cookie's value is nowhere.
        let rows = client
            .query(
                &format!(
                    "SELECT id_hash, username, session FROM {}.demo_sessions",
                    schema.name
                ),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<_, Vec<u8>>(0), sid_hash(&sid));
        assert_eq!(rows[0].get::<_, String>(1), "carol");
        assert!(!rows[0].get::<_, String>(2).contains(&sid));
        let raw = sid.as_bytes().to_vec();
        let found = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}.demo_sessions WHERE id_hash = $1",
                    schema.name
                ),
                &[&raw],
            )
            .await
            .unwrap()
            .get::<_, i64>(0);
        assert_eq!(found, 0, "the raw session id is not a key");
        // No SQLite file was made: the data directory holds only the key file.
        assert!(!dir.path().join("web_demo.sqlite3").exists());
        assert!(dir.path().join("keys.json").exists());
    }
}
