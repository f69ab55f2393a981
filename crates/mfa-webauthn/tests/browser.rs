//! End to end with Debian's Chromium: a page served on localhost calls
//! `navigator.credentials.create` / `get` with options from this crate, Chromium's
//! virtual authenticator (DevTools `WebAuthn.addVirtualAuthenticator`) answers, and the
//! crate verifies what the browser returns.
//!
//! Skips with a message when /usr/bin/chromium is missing, unless
//! `MFA_REQUIRE_EXTERNAL=1` (CI), where a missing browser fails the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mfa_core::{Factor, OsRandom, StartOptions, Timestamp, UserVerification};
use mfa_webauthn::cose::Algorithm;
use mfa_webauthn::json::{AuthenticationResponseJson, Base64UrlBytes, RegistrationResponseJson};
use mfa_webauthn::{
    AuthenticationRequest, Conveyance, CredentialRecord, FailureCode, Preference,
    RegistrationRequest, RelyingParty, WebAuthnFactor,
};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";

struct Browser {
    child: Child,
    ws: tungstenite::WebSocket<TcpStream>,
    next_id: u64,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn launch(profile: &std::path::Path) -> Self {
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines.next().expect("chromium exited").unwrap();
            if let Some(u) = line.strip_prefix("DevTools listening on ") {
                break u.trim().to_owned();
            }
        };
        // Keep draining stderr so Chromium never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let hostport = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let stream = TcpStream::connect(&hostport).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let (ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
        Self {
            child,
            ws,
            next_id: 0,
        }
    }

    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .unwrap();
        loop {
            let m = self.ws.read().unwrap();
            let tungstenite::Message::Text(t) = m else {
                continue;
            };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn eval(&mut self, session: &str, expr: &str) -> Value {
        let r = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }
}

/// Serves one tiny page on 127.0.0.1 for as long as the test runs.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = "<!doctype html><title>mfa-webauthn</title><p>test";
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

struct Scenario {
    protocol: &'static str,
    alg: Algorithm,
    resident_key: bool,
    uv: bool,
}

/// `navigator.credentials.get()` with `options`, and the credential's `toJSON()`.
fn get(
    browser: &mut Browser,
    session: &str,
    options: &mfa_webauthn::json::RequestOptionsJson,
) -> AuthenticationResponseJson {
    let js = format!(
        "(async () => {{ const o = PublicKeyCredential.parseRequestOptionsFromJSON({});
           const c = await navigator.credentials.get({{publicKey: o}});
           return JSON.stringify(c.toJSON()); }})()",
        serde_json::to_string(options).unwrap()
    );
    let out = browser.eval(session, &js);
    serde_json::from_str(out.as_str().unwrap()).unwrap()
}

/// Chromium (profile `tag`) on the page [`serve`] serves, WebAuthn enabled: the browser,
/// the page's session id, its origin and the profile directory. `None` (the test `test` is
/// skipped) when Chromium is not installed, unless `MFA_REQUIRE_EXTERNAL=1`.
fn open_page(test: &str, tag: &str) -> Option<(Browser, String, String, std::path::PathBuf)> {
    if !std::path::Path::new(CHROMIUM).exists() {
        if std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
            panic!("MFA_REQUIRE_EXTERNAL=1 but {CHROMIUM} is missing (apt-get install chromium)");
        }
        println!("SKIPPED {test}: {CHROMIUM} not installed");
        return None;
    }
    let port = serve();
    let origin = format!("http://localhost:{port}");
    let profile = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    let mut browser = Browser::launch(&profile);
    let target = browser.call(
        None,
        "Target.createTarget",
        json!({"url": format!("{origin}/")}),
    );
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({"targetId": target["targetId"], "flatten": true}),
    );
    let session = attached["sessionId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while browser.eval(&session, "document.readyState + location.href")
        != json!(format!("complete{origin}/"))
    {
        assert!(Instant::now() < deadline, "page did not load");
        std::thread::sleep(Duration::from_millis(100));
    }
    browser.call(
        Some(&session),
        "WebAuthn.enable",
        json!({"enableUI": false}),
    );
    Some((browser, session, origin, profile))
}

#[test]
fn chromium_virtual_authenticator_end_to_end() {
    let Some((mut browser, session, origin, profile)) = open_page(
        "chromium_virtual_authenticator_end_to_end",
        "mfa-webauthn-chromium",
    ) else {
        return;
    };
    let s = session.as_str();

    let scenarios = [
        Scenario {
            protocol: "ctap2",
            alg: Algorithm::Es256,
            resident_key: true,
            uv: true,
        },
        Scenario {
            protocol: "ctap2",
            alg: Algorithm::EdDsa,
            resident_key: false,
            uv: false,
        },
        Scenario {
            protocol: "ctap2",
            alg: Algorithm::Rs256,
            resident_key: true,
            uv: true,
        },
        Scenario {
            protocol: "u2f",
            alg: Algorithm::Es256,
            resident_key: false,
            uv: false,
        },
    ];
    let now = Timestamp::from_unix_secs(1_700_000_000);
    for sc in scenarios {
        let label = format!(
            "{} {:?} rk={} uv={}",
            sc.protocol, sc.alg, sc.resident_key, sc.uv
        );
        let added = browser.call(
            Some(s),
            "WebAuthn.addVirtualAuthenticator",
            json!({"options": {
                "protocol": sc.protocol,
                "transport": if sc.protocol == "u2f" { "usb" } else { "internal" },
                "hasResidentKey": sc.resident_key,
                "hasUserVerification": sc.uv,
                "isUserVerified": sc.uv,
                "automaticPresenceSimulation": true,
            }}),
        );
        let rp = RelyingParty::builder("localhost", "mfa-webauthn test")
            .origin(origin.clone())
            .algorithms([sc.alg])
            .build()
            .unwrap();
        let mut req = RegistrationRequest::new(b"browser-user".to_vec(), "alice", "Alice");
        req.resident_key = if sc.resident_key {
            Preference::Required
        } else {
            Preference::Discouraged
        };
        req.user_verification = if sc.uv {
            Preference::Required
        } else {
            Preference::Discouraged
        };
        req.attestation = Conveyance::Direct;
        let (options, state) = rp.start_registration(&req, now, &mut OsRandom).unwrap();
        let js = format!(
            "(async () => {{ const o = PublicKeyCredential.parseCreationOptionsFromJSON({});
               const c = await navigator.credentials.create({{publicKey: o}});
               return JSON.stringify(c.toJSON()); }})()",
            serde_json::to_string(&options).unwrap()
        );
        let out = browser.eval(s, &js);
        let resp: RegistrationResponseJson = serde_json::from_str(out.as_str().unwrap()).unwrap();
        let reg = rp
            .finish_registration(&state, &resp, now)
            .unwrap_or_else(|e| panic!("{label}: registration: {e}\n{out}"));
        let mut record = reg.record;
        assert_eq!(record.alg, sc.alg.cose_id(), "{label}");
        assert_eq!(record.user_verified, sc.uv, "{label}");
        println!(
            "{label}: registered with fmt {} ({:?})",
            record.attestation_format, record.attestation_type
        );

        // Two assertions in a row: the counter rises. Resident keys sign in usernameless
        // (WebAuthnFactor::start without a record: an empty allow list), the others with
        // an allow list.
        let uv = if sc.uv {
            UserVerification::Required
        } else {
            UserVerification::Discouraged
        };
        let factor = WebAuthnFactor::new(rp.clone(), uv);
        let mut last = record.sign_count;
        for round in 0..2 {
            let known = (!sc.resident_key).then_some(&record);
            let (options, state) = factor
                .start(known, &StartOptions::new(), now, &mut OsRandom)
                .unwrap();
            assert_eq!(
                options.public_key.allow_credentials.is_empty(),
                sc.resident_key
            );
            let resp = get(&mut browser, s, &options.public_key);
            if sc.resident_key && round == 1 {
                // The same assertion against a record of another user handle: refused.
                let mut other = record.clone();
                other.user_handle = Some(Base64UrlBytes(b"someone-else".to_vec()));
                let err = factor
                    .verify(&other, &state, &resp, now, &mut OsRandom)
                    .unwrap_err();
                assert_eq!(
                    err.failure_code(),
                    Some(FailureCode::UserHandleMismatch),
                    "{label}"
                );
            }
            let ok = factor
                .verify(&record, &state, &resp, now, &mut OsRandom)
                .unwrap_or_else(|e| panic!("{label}: authentication: {e}\n{resp:?}"));
            let auth = ok.details;
            assert!(auth.sign_count > last, "{label}: counter must rise");
            assert_eq!(auth.user_verified, sc.uv, "{label}");
            if sc.resident_key {
                // Chromium returns the handle of a discoverable credential.
                assert_eq!(
                    auth.user_handle.as_ref().map(|h| h.as_slice()),
                    Some(&b"browser-user"[..]),
                    "{label}"
                );
            }
            // Nothing attests Chromium's virtual authenticator: never `hwk`.
            assert_eq!(ok.methods[0], mfa_core::AuthMethod::Swk, "{label}");
            assert_eq!(
                ok.methods.contains(&mfa_core::AuthMethod::Mfa),
                sc.uv,
                "{label}"
            );
            last = auth.sign_count;
            record = auth.record;
        }
        // A modal sign-in with an allow list still works for resident keys.
        let req = AuthenticationRequest {
            allow_credentials: vec![record.descriptor()],
            user_verification: Preference::Discouraged,
            hints: Vec::new(),
            conditional: false,
        };
        let (options, state) = rp.start_authentication(&req, now, &mut OsRandom).unwrap();
        let resp = get(&mut browser, s, &options.public_key);
        record = rp
            .finish_authentication(&state, &resp, &record, now)
            .unwrap_or_else(|e| panic!("{label}: allow-list authentication: {e}"))
            .record;
        assert!(record.sign_count > last, "{label}");
        browser.call(
            Some(s),
            "WebAuthn.removeVirtualAuthenticator",
            json!({"authenticatorId": added["authenticatorId"]}),
        );
    }
    drop(browser);
    let _ = std::fs::remove_dir_all(&profile);
}

/// Issue 22 in Chromium: options with `hints` are taken by the browser's own JSON
/// parser; BE and BS as the virtual authenticator reports them, then flipped with
/// `WebAuthn.setCredentialProperties`: a BS change is reported, a BE change refused
/// by default and accepted under `AcceptAndRecord`; and a `signalUnknownCredential`
/// payload from this crate hides the credential in the authenticator.
#[test]
fn chromium_hints_backup_state_and_signals() {
    use mfa_core::WebAuthnHint;
    use mfa_webauthn::BackupEligibilityRule;
    let Some((mut browser, session, origin, profile)) = open_page(
        "chromium_hints_backup_state_and_signals",
        "mfa-webauthn-chromium22",
    ) else {
        return;
    };
    let s = session.as_str();
    let added = browser.call(
        Some(s),
        "WebAuthn.addVirtualAuthenticator",
        json!({"options": {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "automaticPresenceSimulation": true,
            "defaultBackupEligibility": true,
            "defaultBackupState": false,
        }}),
    );
    let authenticator = added["authenticatorId"].clone();
    let now = Timestamp::from_unix_secs(1_700_000_000);
    let builder = RelyingParty::builder("localhost", "mfa-webauthn test").origin(origin.clone());
    let rp = builder.clone().build().unwrap();
    let lenient = builder
        .backup_eligibility_rule(BackupEligibilityRule::AcceptAndRecord)
        .build()
        .unwrap();
    let mut req = RegistrationRequest::new(b"browser-user".to_vec(), "alice", "Alice");
    req.resident_key = Preference::Required;
    req.hints = vec![WebAuthnHint::ClientDevice, WebAuthnHint::Hybrid];
    let (options, state) = rp.start_registration(&req, now, &mut OsRandom).unwrap();
    // The browser's parser keeps the hints it understood.
    let js = format!(
        "(async () => {{ const o = PublicKeyCredential.parseCreationOptionsFromJSON({});
           const hints = JSON.stringify(o.hints);
           const c = await navigator.credentials.create({{publicKey: o}});
           return JSON.stringify({{hints, c: c.toJSON()}}); }})()",
        serde_json::to_string(&options).unwrap()
    );
    let out: Value = serde_json::from_str(browser.eval(s, &js).as_str().unwrap()).unwrap();
    assert_eq!(out["hints"], json!(r#"["client-device","hybrid"]"#));
    let resp: RegistrationResponseJson = serde_json::from_value(out["c"].clone()).unwrap();
    let record = rp.finish_registration(&state, &resp, now).unwrap().record;
    assert_eq!(record.backup_eligible, Some(true));
    assert!(!record.backup_state);
    let sign_in = |browser: &mut Browser, rp: &RelyingParty, record: &CredentialRecord| {
        let req = AuthenticationRequest {
            allow_credentials: vec![record.descriptor()],
            hints: vec![WebAuthnHint::ClientDevice],
            ..Default::default()
        };
        let (options, state) = rp.start_authentication(&req, now, &mut OsRandom).unwrap();
        let resp = get(browser, s, &options.public_key);
        rp.finish_authentication(&state, &resp, record, now)
    };
    let set_flags = |browser: &mut Browser, be: bool, bs: bool| {
        browser.call(
            Some(s),
            "WebAuthn.setCredentialProperties",
            json!({"authenticatorId": authenticator,
                   "credentialId": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, record.id.as_slice()),
                   "backupEligibility": be, "backupState": bs}),
        );
    };
    // BS 0 -> 1: accepted and reported.
    set_flags(&mut browser, true, true);
    let login = sign_in(&mut browser, &rp, &record).unwrap();
    assert!(login.backup_state_changed && login.record.backup_state);
    let record2 = login.record;
    // BE 1 -> 0: refused by default, accepted and recorded under the lenient rule.
    set_flags(&mut browser, false, false);
    let err = sign_in(&mut browser, &rp, &record2).unwrap_err();
    assert_eq!(
        err.failure_code(),
        Some(FailureCode::BackupEligibilityChanged)
    );
    let accepted = sign_in(&mut browser, &lenient, &record2).unwrap();
    assert!(accepted.backup_eligibility_changed);
    assert_eq!(accepted.record.backup_eligible, Some(false));
    // signalUnknownCredential with this crate's payload: the authenticator drops it.
    let count = |browser: &mut Browser| {
        browser.call(
            Some(s),
            "WebAuthn.getCredentials",
            json!({"authenticatorId": authenticator}),
        )["credentials"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(count(&mut browser), 1);
    let payload =
        serde_json::to_string(&rp.signal_unknown_credential(record.id.as_slice())).unwrap();
    browser.eval(
        s,
        &format!("PublicKeyCredential.signalUnknownCredential({payload}).then(() => true)"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&mut browser) != 0 {
        assert!(
            Instant::now() < deadline,
            "signalUnknownCredential did not remove it"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(browser);
    let _ = std::fs::remove_dir_all(&profile);
}
