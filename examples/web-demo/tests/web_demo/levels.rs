//! Issue 19's session holes, over HTTP: a sign-up named `admin` is no administrator;
//! every rise in a session's level moves it to a new id (the old one stops working);
//! sessions end when idle or too old, on the sessions' own clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mfa_core::{Clock as _, FixedClock, OsRandom, SystemClock, Timestamp};
use mfa_webauthn::cose::Algorithm;
use mfa_webauthn::json::{CreationOptionsJson, RequestOptionsJson};
use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::persistence::{
    Browser, PASSWORD, PORT, SID, assert_stage, demo, sid_hash, strings, totp_in,
};
use super::{TempDir, web_demo};

const ORIGIN: &str = "http://localhost:8080";

/// Signs `name` up and enrolls TOTP; returns the browser (signed in) and the secret.
async fn signed_up(app: &Arc<web_demo::App>, name: &str) -> (Browser, String) {
    let mut b = Browser::open(app, BTreeMap::new()).await;
    b.sign_up(name).await;
    let secret = b.begin_totp().await;
    b.confirm_totp(&secret).await;
    (b, secret)
}

/// Whether a request carrying only the session cookie `sid` is still signed in.
async fn signed_in(b: &Browser, sid: &str) -> bool {
    let res = b
        .app
        .clone()
        .oneshot(
            Request::get("/api/factors")
                .header(header::COOKIE, format!("{SID}={sid}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    res.status() == StatusCode::OK
}

/// `step` (a request that raises the session) gave the browser a new session id and
/// CSRF token, the new id is signed in, and the old one no longer is.
async fn rotated(b: &Browser, before: &(String, String), step: &str) {
    let (old_sid, old_csrf) = before;
    assert_ne!(&b.sid(), old_sid, "{step}: the session id did not change");
    assert_ne!(&b.csrf, old_csrf, "{step}: the CSRF token did not change");
    assert!(
        signed_in(b, &b.sid()).await,
        "{step}: the new id is signed in"
    );
    assert!(
        !signed_in(b, old_sid).await,
        "{step}: the old session id still works"
    );
}

fn ids(b: &Browser) -> (String, String) {
    (b.sid(), b.csrf.clone())
}

async fn sign_in_password(b: &mut Browser, name: &str) {
    let (s, v) = b.sign_in(name, PASSWORD).await;
    assert_stage(s, &v, "mfa");
}

/// The newest code in the user's outbox.
async fn outbox_code(b: &mut Browser) -> String {
    let (s, v) = b.get("/api/outbox").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let body = v["messages"][0]["body"].as_str().unwrap().to_owned();
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| (6..=10).contains(&w.len()))
        .unwrap_or_else(|| panic!("no code in {body:?}"))
        .to_owned()
}

/// Starts an SMS or email enrollment (`body`) past the cooldown; the code sent.
async fn oob_enroll_code(b: &mut Browser, body: Value) -> String {
    let v = post_past_cooldown(b, "/api/oob/enroll", body).await;
    assert!(v["destination"].is_string(), "{v}");
    outbox_code(b).await
}

/// Posts until the 5 s resend cooldown lets the code go.
async fn post_past_cooldown(b: &mut Browser, path: &str, body: Value) -> Value {
    for _ in 0..10 {
        let (s, v) = b.post(path, body.clone()).await;
        if s == StatusCode::OK {
            return v;
        }
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("{path}: still refused after 10 s");
}

/// Issue 19: the first account to sign up as `admin` became the administrator. Now
/// no sign-up does; `grant-admin` on the command line does, for an existing account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_up_as_admin_gives_no_admin_rights() {
    let dir = TempDir::new("web_demo_admin");
    let config = web_demo::Config::new(PORT, dir.path());
    let app = web_demo::build_app(&config).await.unwrap();
    let (mut b, _) = signed_up(&app, "admin").await;
    let (_, me) = b.get("/api/me").await;
    assert_eq!(
        (me["user"].as_str(), me["admin"].as_bool()),
        (Some("admin"), Some(false)),
        "{me}"
    );
    for path in ["/api/admin/users", "/api/admin/audit"] {
        let (s, v) = b.get(path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
    }
    let (s, v) = b.post("/api/admin/unlock", json!({"user": "admin"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // The operator's way: an existing account, named on the command line.
    let e = web_demo::set_admin(&config, "nobody", true)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no account named"), "{e}");
    let grant = ["grant-admin", "admin", "--data-dir"];
    let parsed = web_demo::parse_args(
        grant
            .iter()
            .map(|s| (*s).to_owned())
            .chain([dir.path().display().to_string()]),
    );
    let Ok(web_demo::Parsed::Admin {
        config: c,
        user,
        grant: true,
    }) = parsed
    else {
        panic!("grant-admin not parsed");
    };
    assert_eq!(c.data_dir, dir.path());
    let said = web_demo::set_admin(&c, &user, true).await.unwrap();
    assert_eq!(said, "admin is now an administrator");
    let (s, v) = b.get("/api/admin/users").await;
    assert_eq!(s, StatusCode::OK, "granted, without a restart: {v}");
    let (_, me) = b.get("/api/me").await;
    assert_eq!(me["admin"], true, "{me}");
    web_demo::set_admin(&c, "admin", false).await.unwrap();
    let (s, _) = b.get("/api/admin/users").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "revoked");
}

/// Issue 19: only the password sign-in rotated the session id. Now the first code of a
/// new factor, and every second factor (TOTP, recovery code, SMS, email, push), does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factors_rotate_the_session_id() {
    use mfa_oob::testkit::SoftwareDevice;
    let (_dir, app) = demo("web_demo_rotate").await;
    // Sign-up (a password) rotates, as before; so does the first TOTP code.
    let mut b = Browser::open(&app, BTreeMap::new()).await;
    let before = ids(&b);
    b.sign_up("hana").await;
    rotated(&b, &before, "sign-up").await;
    let secret = b.begin_totp().await;
    let before = ids(&b);
    b.confirm_totp(&secret).await;
    rotated(&b, &before, "TOTP enrollment").await;
    let (_, v) = b.post("/api/recovery/generate", json!({})).await;
    let codes = strings(&v["codes"]);
    // SMS enrollment: its code counts for the session.
    let sms = json!({"channel": "sms", "destination": "+1 201 555 0199"});
    let code = oob_enroll_code(&mut b, sms).await;
    let before = ids(&b);
    let (s, v) = b.post("/api/oob/confirm", json!({"code": code})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    rotated(&b, &before, "SMS enrollment").await;
    let email = json!({"channel": "email", "destination": "hana@example.com"});
    let code = oob_enroll_code(&mut b, email).await;
    let (s, v) = b.post("/api/oob/confirm", json!({"code": code})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // A phone for push.
    let (s, pair) = b.post("/api/push/enroll", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{pair}");
    let device = SoftwareDevice::new("Hana's phone", "token-hana", &mut OsRandom).unwrap();
    let challenge: mfa_oob::EnrollmentChallenge =
        serde_json::from_value(pair["challenge"].clone()).unwrap();
    let mut phone = Browser::open(&app, BTreeMap::new()).await;
    let request = json!(device.enrollment_request(&challenge));
    phone.enroll_phone("hana", &pair, request).await;
    let (_, v) = b.get("/api/factors").await;
    let factors = v["factors"].as_array().unwrap().clone();
    let id_of = |kind: &str| {
        factors
            .iter()
            .find(|f| f["kind"] == kind)
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {kind} factor: {factors:?}"))
    };

    // Each second factor, from a password-only session.
    let mut step = 0;
    for kind in ["totp", "recovery", "sms", "email", "push"] {
        let (s, _) = b.post("/api/signout", json!({})).await;
        assert_eq!(s, StatusCode::OK);
        let mut b2 = Browser::open(&app, BTreeMap::new()).await;
        sign_in_password(&mut b2, "hana").await;
        let body = match kind {
            "totp" => {
                step += 1;
                json!({"kind": "totp", "code": totp_in(&secret, step)})
            }
            "recovery" => json!({"kind": "recovery", "code": codes[0]}),
            "sms" | "email" => {
                let v =
                    post_past_cooldown(&mut b2, "/api/oob/start", json!({"id": id_of(kind)})).await;
                assert!(v["destination"].is_string(), "{v}");
                json!({"kind": "oob", "code": outbox_code(&mut b2).await})
            }
            _ => {
                let (s, v) = b2.post("/api/push/start", json!({})).await;
                assert_eq!(s, StatusCode::OK, "{v}");
                let number = v["number"].as_str().unwrap().to_owned();
                let nonce = v["nonce"].as_str().unwrap().to_owned();
                let (_, inbox) = phone
                    .post("/api/phone/inbox", json!({"push_token": "token-hana"}))
                    .await;
                let n: mfa_oob::PushNotification =
                    serde_json::from_value(inbox["notifications"][0].clone()).unwrap();
                let ok = device.approve(&n, &number, SystemClock.now()).unwrap();
                let (_, v) = phone.phone_respond("hana", &ok.to_base64url()).await;
                assert_eq!(v["status"], "approved", "{v}");
                // The nonce the sign-in page holds binds the approval to it.
                json!({"kind": "push", "code": "", "nonce": nonce})
            }
        };
        let before = ids(&b2);
        let (s, v) = b2.post("/api/verify", body).await;
        assert_eq!(
            (s, v["stage"].as_str()),
            (StatusCode::OK, Some("ok")),
            "{kind}: {v}"
        );
        rotated(&b2, &before, kind).await;
        // The new CSRF token works, the old one does not.
        let (s, _) = b2.post("/api/devices/forget", json!({"id": "x"})).await;
        assert_eq!(s, StatusCode::OK, "{kind}: the new token");
        let new_csrf = std::mem::replace(&mut b2.csrf, before.1.clone());
        let (s, _) = b2.post("/api/devices/forget", json!({"id": "x"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{kind}: the old token");
        b2.csrf = new_csrf;
        b = b2;
    }
}

/// Issue 19: a passkey as the second factor and a passkey step-up kept the session id;
/// now they rotate it, as the usernameless passkey sign-in does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_rotate_the_session_id() {
    let (_dir, app) = demo("web_demo_rotate_passkey").await;
    let (mut b, _) = signed_up(&app, "ines").await;
    let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let (s, v) = b.post("/api/passkey/register/begin", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let options: CreationOptionsJson = serde_json::from_value(v["options"].clone()).unwrap();
    let reg = key.register(&options, ORIGIN, Fault::None).unwrap();
    let (s, v) = b
        .post(
            "/api/passkey/register/finish",
            serde_json::to_value(&reg).unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Step-up of a signed-in session (what the payment page asks for).
    assert_with_key(&mut key, &mut b, "step-up").await;
    let (s, v) = b
        .post("/api/pay", json!({"to": "Bob", "amount": "5"}))
        .await;
    assert_eq!(s, StatusCode::OK, "the stepped-up session pays: {v}");
    // The second factor after a password.
    b.post("/api/signout", json!({})).await;
    let mut b = Browser::open(&app, BTreeMap::new()).await;
    sign_in_password(&mut b, "ines").await;
    assert_with_key(&mut key, &mut b, "passkey second factor").await;
    // Usernameless: the passkey alone.
    b.post("/api/signout", json!({})).await;
    let mut b = Browser::open(&app, BTreeMap::new()).await;
    assert_with_key(&mut key, &mut b, "usernameless passkey sign-in").await;
}

/// A passkey assertion from `b` answered by `key`; checks it rotated the session.
async fn assert_with_key(key: &mut SoftAuthenticator, b: &mut Browser, what: &str) {
    let (s, v) = b.post("/api/passkey/begin", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let options: RequestOptionsJson =
        serde_json::from_value(v["options"]["publicKey"].clone()).unwrap();
    let response = key.authenticate(&options, ORIGIN, Fault::None).unwrap();
    let before = ids(b);
    let (s, v) = b
        .post(
            "/api/passkey/finish",
            serde_json::to_value(&response).unwrap(),
        )
        .await;
    assert_eq!(
        (s, v["stage"].as_str()),
        (StatusCode::OK, Some("ok")),
        "{what}: {v}"
    );
    rotated(b, &before, what).await;
}

/// Where the test reads `demo_sessions`.
enum Rows {
    Sqlite(std::path::PathBuf),
    Postgres(tokio_postgres::Client, String),
}

impl Rows {
    /// How many sessions are stored, or with the id `sid` only.
    async fn count(&self, sid: Option<&str>) -> i64 {
        match self {
            Self::Sqlite(file) => {
                let conn = rusqlite::Connection::open(file).unwrap();
                match sid {
                    Some(sid) => conn.query_row(
                        "SELECT count(*) FROM demo_sessions WHERE id_hash = ?1",
                        [sid_hash(sid)],
                        |r| r.get(0),
                    ),
                    None => conn.query_row("SELECT count(*) FROM demo_sessions", [], |r| r.get(0)),
                }
                .unwrap()
            }
            Self::Postgres(client, schema) => {
                let table = format!("{schema}.demo_sessions");
                let row = match sid {
                    Some(sid) => {
                        let q = format!("SELECT count(*) FROM {table} WHERE id_hash = $1");
                        client.query_one(&q, &[&sid_hash(sid)]).await
                    }
                    None => {
                        let q = format!("SELECT count(*) FROM {table}");
                        client.query_one(&q, &[]).await
                    }
                };
                row.unwrap().get(0)
            }
        }
    }
}

/// Sessions end after `--session-idle` without a request and `--session-lifetime`
/// after the sign-in, also across a restart; ended ones are deleted, and the sweep
/// deletes the ones nobody presents again. The sessions' clock is a `FixedClock`.
async fn sessions_end_when_idle_or_too_old(mut config: web_demo::Config, rows: Rows) {
    config.session_limits = web_demo::SessionLimits {
        idle: Duration::from_secs(600),
        lifetime: Duration::from_secs(3600),
    };
    let clock = Arc::new(FixedClock::new(SystemClock.now()));
    let app = web_demo::build_app_with_clock(&config, clock.clone())
        .await
        .unwrap();

    // Idle: a request every 9 minutes keeps it; 10 minutes without one ends it.
    let (idle, _) = signed_up(&app, "jack").await;
    let sid = idle.sid();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(540));
        assert!(signed_in(&idle, &sid).await, "active: kept");
    }
    clock.advance(Duration::from_secs(600));
    assert_eq!(rows.count(Some(&sid)).await, 1);
    assert!(!signed_in(&idle, &sid).await, "idle for 10 minutes: ended");
    assert_eq!(
        rows.count(Some(&sid)).await,
        0,
        "an idle-expired session is deleted when presented"
    );

    // Absolute: active all along, still ended an hour after the sign-in; a restart
    // changes nothing.
    let (busy, _) = signed_up(&app, "kate").await;
    let sid = busy.sid();
    for _ in 0..6 {
        clock.advance(Duration::from_secs(590));
        assert!(signed_in(&busy, &sid).await, "within the hour");
    }
    let again = web_demo::build_app_with_clock(&config, clock.clone())
        .await
        .unwrap();
    let after_restart = Browser::open(&again, busy.jar.clone()).await;
    assert!(signed_in(&after_restart, &sid).await, "kept over a restart");
    clock.advance(Duration::from_secs(60));
    assert!(
        !signed_in(&after_restart, &sid).await,
        "an hour after the sign-in: ended"
    );
    assert_eq!(
        rows.count(Some(&sid)).await,
        0,
        "an absolute-expired session is deleted when presented"
    );

    // The sweep deletes expired sessions nobody presents; a restart sweeps too.
    let (_left, _) = signed_up(&again, "liam").await;
    let (_also, _) = signed_up(&again, "mia").await;
    assert_eq!(rows.count(None).await, 2);
    assert_eq!(again.sweep_sessions().await.unwrap(), 0, "none expired yet");
    clock.advance(Duration::from_secs(601));
    assert_eq!(again.sweep_sessions().await.unwrap(), 2);
    assert_eq!(rows.count(None).await, 0);
    let (_nina, _) = signed_up(&again, "nina").await;
    assert_eq!(rows.count(None).await, 1);
    clock.set(Timestamp::from_unix_secs(clock.now().unix_secs() + 3601));
    drop(
        web_demo::build_app_with_clock(&config, clock.clone())
            .await
            .unwrap(),
    );
    assert_eq!(
        rows.count(None).await,
        0,
        "the restart swept the expired session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sessions_end_when_idle_or_too_old() {
    let dir = TempDir::new("web_demo_expiry");
    let config = web_demo::Config::new(PORT, dir.path());
    let rows = Rows::Sqlite(dir.path().join("web_demo.sqlite3"));
    sessions_end_when_idle_or_too_old(config, rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_end_when_idle_or_too_old() {
    let dir = TempDir::new("web_demo_expiry_pg");
    let Some((config, client, schema)) = super::persistence::pg_config(dir.path()).await else {
        return;
    };
    let rows = Rows::Postgres(client, schema.name.clone());
    sessions_end_when_idle_or_too_old(config, rows).await;
    drop(schema);
}
