//! A restart keeps accounts, factors, recovery-code hints, remembered devices and the
//! audit log: SQLite under a data directory, and PostgreSQL when
//! `MFA_TEST_POSTGRES_URL` is set (a schema of its own per run).

use mfa_core::Timestamp;
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

    /// Signs `name` in with `password`.
    pub(crate) async fn sign_in(&mut self, name: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({"username": name, "password": password});
        self.post("/api/signin", body).await
    }

    /// Signs `name` up with [`PASSWORD`]: signed in, and sent on to enroll a factor.
    pub(crate) async fn sign_up(&mut self, name: &str) {
        let body = json!({"username": name, "password": PASSWORD});
        let (s, v) = self.post("/api/signup", body).await;
        assert_stage(s, &v, "enroll");
    }

    /// As the phone, answers the push pairing `pair` (the browser's `/api/push/enroll`
    /// reply) of `account` with `request`, which is accepted.
    pub(crate) async fn enroll_phone(&mut self, account: &str, pair: &Value, request: Value) {
        let id = &pair["challenge_id"];
        let body = json!({"account": account, "challenge_id": id, "request": request});
        let (s, v) = self.post("/api/phone/enroll", body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    /// As the phone, sends `account`'s answer to a push, `response` (base64url).
    pub(crate) async fn phone_respond(
        &mut self,
        account: &str,
        response: &str,
    ) -> (StatusCode, Value) {
        let body = json!({"account": account, "response": response});
        self.post("/api/phone/respond", body).await
    }

    /// Starts a TOTP enrollment; its secret.
    pub(crate) async fn begin_totp(&mut self) -> String {
        let (s, v) = self.post("/api/totp/begin", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["secret"].as_str().unwrap().to_owned()
    }

    /// Confirms TOTP with the code of now, which signs in fully; the code.
    pub(crate) async fn confirm_totp(&mut self, secret: &str) -> String {
        let code = totp_now(secret);
        let (s, v) = self.post("/api/totp/confirm", json!({"code": code})).await;
        assert_stage(s, &v, "ok");
        code
    }
}

/// A demo app over a fresh data directory named after `name` (keep the directory).
pub(crate) async fn demo(name: &str) -> (TempDir, Arc<web_demo::App>) {
    let dir = TempDir::new(name);
    let config = web_demo::Config::new(PORT, dir.path());
    (dir, web_demo::build_app(&config).await.unwrap())
}

/// That a request answered OK and moved the sign-in to `stage`.
pub(crate) fn assert_stage(s: StatusCode, v: &Value, stage: &str) {
    assert_eq!(
        (s, v["stage"].as_str()),
        (StatusCode::OK, Some(stage)),
        "{v}"
    );
}

/// A JSON array of strings.
pub(crate) fn strings(v: &Value) -> Vec<String> {
    let items = v.as_array().unwrap().iter();
    items.map(|c| c.as_str().unwrap().to_owned()).collect()
}

pub(crate) fn totp_now(secret: &str) -> String {
    totp_in(secret, 0)
}

/// The code of the TOTP step `steps` after the current one.
pub(crate) fn totp_in(secret: &str, steps: u64) -> String {
    use mfa_core::Clock as _;
    let s = mfa_otp::Secret::from_base32(secret).unwrap();
    mfa_otp::Totp::new(&s, mfa_otp::TotpParams::default())
        .code_at(Timestamp::from_unix_secs(
            mfa_core::SystemClock.now().unix_secs() + 30 * steps,
        ))
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
    b.sign_up("carol").await;
    let secret = b.begin_totp().await;
    let totp_code = b.confirm_totp(&secret).await;
    let (s, v) = b.post("/api/recovery/generate", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let recovery = strings(&v["codes"]);
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
    let (s, v) = b.sign_in("carol", "not the password").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = b.sign_in("carol", PASSWORD).await;
    assert_stage(s, &v, "mfa");
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
    assert_stage(s, &v, "ok");
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
    let (s, v) = b.sign_in("carol", PASSWORD).await;
    assert_stage(s, &v, "ok");
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
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
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

#[test]
fn arguments() {
    let parse = |a: &[&str]| web_demo::parse_args(a.iter().map(|s| (*s).to_owned()));
    let Ok(web_demo::Parsed::Run(c)) = parse(&["--data-dir", "/tmp/x", "--port", "9000"]) else {
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

/// The value of the Prometheus sample `name{labels}` in `text` (0 when absent).
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(app: &Arc<web_demo::App>) -> String {
    let res = web_demo::router(Arc::clone(app))
        .unwrap()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_page_counts_an_enrollment_and_a_sign_in() {
    let dir = TempDir::new("web_demo_metrics");
    let config = web_demo::Config::new(PORT, dir.path());
    let app = web_demo::build_app(&config).await.unwrap();
    let before = scrape(&app).await;
    let accepted = [r#"kind="totp""#, r#"outcome="accepted""#];
    let rejected = [
        r#"kind="totp""#,
        r#"outcome="rejected""#,
        r#"reason="wrong_code""#,
    ];
    let confirmed = [r#"kind="totp""#, r#"stage="confirmed""#];
    let mut b = Browser::open(&app, BTreeMap::new()).await;
    b.sign_up("dora").await;
    let secret = b.begin_totp().await;
    b.confirm_totp(&secret).await;
    let (s, _) = b.post("/api/signout", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let mut b = Browser::open(&app, b.jar.clone()).await;
    let (s, v) = b.sign_in("dora", PASSWORD).await;
    assert_stage(s, &v, "mfa");
    let (s, _) = b
        .post("/api/verify", json!({"kind": "totp", "code": "000000"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = b
        .post(
            "/api/verify",
            json!({"kind": "totp", "code": totp_in(&secret, 1)}),
        )
        .await;
    assert_stage(s, &v, "ok");

    let after = scrape(&app).await;
    let moved =
        |name: &str, labels: &[&str]| sample(&after, name, labels) - sample(&before, name, labels);
    assert!(moved("mfa_enrollments_total", &confirmed) >= 1.0, "{after}");
    assert!(
        moved("mfa_verifications_total", &accepted) >= 1.0,
        "{after}"
    );
    assert!(
        moved("mfa_verifications_total", &rejected) >= 1.0,
        "{after}"
    );
    assert!(
        moved(
            "mfa_verification_duration_seconds_count",
            &[r#"outcome="accepted""#]
        ) >= 1.0,
        "{after}"
    );
    assert!(
        after.contains("# TYPE mfa_verifications_total counter"),
        "{after}"
    );
    assert!(!after.contains("dora"), "no user id in a label: {after}");
}
