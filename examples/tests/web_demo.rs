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
