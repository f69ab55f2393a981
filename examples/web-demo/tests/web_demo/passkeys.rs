//! Issue 22 over HTTP: the passkey upgrade after a password (conditional create) accepts
//! a registration without user presence at its own endpoint only; a passkey sign-in
//! hands the page the Signal API payloads; a removed passkey's answer carries the
//! accepted list, and an assertion with it the `signalUnknownCredential` payload.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use mfa_core::OsRandom;
use mfa_webauthn::cose::Algorithm;
use mfa_webauthn::json::{CreationOptionsJson, RequestOptionsJson};
use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
use serde_json::{Value, json};

use super::persistence::{Browser, PASSWORD, PORT, totp_now};
use super::{TempDir, web_demo};

const ORIGIN: &str = "http://localhost:8080";

/// `begin` then `finish` with `key`'s registration (with `fault`).
async fn register(
    b: &mut Browser,
    key: &mut SoftAuthenticator,
    begin: &str,
    finish: &str,
    fault: Fault,
) -> (StatusCode, Value) {
    let (s, v) = b.post(begin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{begin}: {v}");
    let options: CreationOptionsJson = serde_json::from_value(v["options"].clone()).unwrap();
    let reg = key.register(&options, ORIGIN, fault).unwrap();
    b.post(finish, serde_json::to_value(&reg).unwrap()).await
}

/// A passkey sign-in by `key` from `b`'s session.
async fn passkey_sign_in(b: &mut Browser, key: &mut SoftAuthenticator) -> (StatusCode, Value) {
    let (s, v) = b.post("/api/passkey/begin", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let options: RequestOptionsJson =
        serde_json::from_value(v["options"]["publicKey"].clone()).unwrap();
    let response = key.authenticate(&options, ORIGIN, Fault::None).unwrap();
    b.post(
        "/api/passkey/finish",
        serde_json::to_value(&response).unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_upgrade_and_signals() {
    let dir = TempDir::new("web_demo_passkey_upgrade");
    let app = web_demo::build_app(&web_demo::Config::new(PORT, dir.path()))
        .await
        .unwrap();
    let mut b = Browser::open(&app, BTreeMap::new()).await;
    let (s, v) = b
        .post(
            "/api/signup",
            json!({"username": "uma", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = b.post("/api/totp/begin", json!({})).await;
    let secret = v["secret"].as_str().unwrap().to_owned();
    let (s, v) = b
        .post("/api/totp/confirm", json!({"code": totp_now(&secret)}))
        .await;
    assert_eq!(
        (s, v["stage"].as_str()),
        (StatusCode::OK, Some("ok")),
        "{v}"
    );

    // Without user presence: refused by the ordinary registration.
    let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let (s, v) = register(
        &mut b,
        &mut key,
        "/api/passkey/register/begin",
        "/api/passkey/register/finish",
        Fault::NoUserPresence,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "no UP, ordinary flow: {v}");
    // The upgrade's challenge is not the ordinary finish's to take.
    let (s, _) = b.post("/api/passkey/upgrade/begin", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = b.post("/api/passkey/register/finish", json!({})).await;
    assert!(s.is_client_error(), "{v}");
    // Accepted through the upgrade, right after the password.
    let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let (s, v) = register(
        &mut b,
        &mut key,
        "/api/passkey/upgrade/begin",
        "/api/passkey/upgrade/finish",
        Fault::NoUserPresence,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "no UP, the upgrade: {v}");
    let (_, v) = b.get("/api/factors").await;
    let passkeys = v["factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"].as_str().unwrap().starts_with("webauthn"))
        .count();
    assert_eq!(passkeys, 1, "{v}");

    // A passkey sign-in: the Signal API payloads for the page.
    b.post("/api/signout", json!({})).await;
    let mut b = Browser::open(&app, BTreeMap::new()).await;
    let (s, v) = passkey_sign_in(&mut b, &mut key).await;
    assert_eq!(
        (s, v["stage"].as_str()),
        (StatusCode::OK, Some("ok")),
        "{v}"
    );
    let all = &v["signals"]["allAcceptedCredentials"];
    assert_eq!(all["rpId"], "localhost", "{v}");
    assert_eq!(
        all["allAcceptedCredentialIds"].as_array().unwrap().len(),
        1,
        "{v}"
    );
    let handle = all["userId"].as_str().unwrap().to_owned();
    let details = &v["signals"]["currentUserDetails"];
    assert_eq!(
        (details["userId"].as_str(), details["name"].as_str()),
        (Some(handle.as_str()), Some("uma")),
        "{v}"
    );
    // No password in this session: no upgrade.
    let (s, v) = b.post("/api/passkey/upgrade/begin", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "upgrade without a password: {v}");

    // Removing the last passkey: an empty accepted list under the user's handle.
    let (_, v) = b.get("/api/factors").await;
    let id = v["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"].as_str().unwrap().starts_with("webauthn"))
        .map(|f| f["id"].clone())
        .unwrap();
    let (s, v) = b.post("/api/factors/remove", json!({"id": id})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let all = &v["signals"]["allAcceptedCredentials"];
    assert_eq!(all["userId"].as_str(), Some(handle.as_str()), "{v}");
    assert_eq!(all["allAcceptedCredentialIds"], json!([]), "{v}");
    // The removed passkey signs in no more, and the refusal names it unknown.
    b.post("/api/signout", json!({})).await;
    let mut b = Browser::open(&app, BTreeMap::new()).await;
    let (s, v) = passkey_sign_in(&mut b, &mut key).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let unknown = &v["signals"]["unknownCredential"];
    assert_eq!(unknown["rpId"], "localhost", "{v}");
    assert!(
        unknown["credentialId"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{v}"
    );
}
