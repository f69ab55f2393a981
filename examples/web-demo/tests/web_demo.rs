//! The web demo in a real browser: serves the demo in-process on a free port and runs
//! `examples/web-demo/e2e/e2e.mjs` (`playwright-core` driving Debian's Chromium with a
//! virtual authenticator) against it.
//!
//! The binary's `main.rs` is compiled into this test as a module, so no stale binary
//! can be tested and `--test web_demo` needs no prior build.
//! Needs Node 20+, `npm ci` in `examples/web-demo/e2e` and `/usr/bin/chromium`. Skips
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

#[path = "../src/main.rs"]
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
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return missing(&format!("{chromium} is missing (apt-get install chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return missing("node is missing (Node 20 or later)");
    }
    if !tests.join("node_modules/playwright-core").exists() {
        return missing("playwright-core is not installed (npm ci in examples/web-demo/e2e)");
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

#[path = "web_demo/http.rs"]
mod http;

#[path = "web_demo/persistence.rs"]
pub(crate) mod persistence;

#[path = "web_demo/oob.rs"]
mod oob;

#[path = "web_demo/passkeys.rs"]
mod passkeys;
