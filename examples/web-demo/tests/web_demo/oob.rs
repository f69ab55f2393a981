//! SMS, email and push over HTTP: the per-user outbox, the phone's endpoints, and push
//! approval with mfa-oob's software device.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::persistence::*;

/// The outbox shows a user only what was sent for their own requests, even when two
/// users type the same number; the phone's endpoints want our `Origin`; SMS codes
/// from the outbox enroll and sign in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_is_per_user_and_phone_requests_need_our_origin() {
    let (_dir, app) = demo("web_demo_outbox").await;
    let mut users = Vec::new();
    for name in ["erin", "frank"] {
        let mut b = Browser::open(&app, BTreeMap::new()).await;
        b.sign_up(name).await;
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
        assert_stage(s, &v, "ok");
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
    let (s, _) = anon.phone_respond("erin", "AAAA").await;
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
    let (_dir, app) = demo("web_demo_push").await;
    let mut b = Browser::open(&app, BTreeMap::new()).await;
    b.sign_up("gina").await;
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
    let request = json!(device.enrollment_request(&challenge_2));
    phone.enroll_phone("gina", &pair, request).await;
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
    let (s, v) = phone.phone_respond("gina", &deny.to_base64url()).await;
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
    assert_eq!(verify_push_without_nonce(&mut b).await, "denied");
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
    let (_, v) = phone.phone_respond("gina", &ok.to_base64url()).await;
    assert_eq!(v["status"], "approved", "{v}");
    // The same answer again is refused.
    let (s, _) = phone.phone_respond("gina", &ok.to_base64url()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, v) = b.get("/api/push/status").await;
    assert_eq!(v["status"], "approved");
    // Without the page's nonce the approval does not complete, and stays.
    assert_eq!(verify_push_without_nonce(&mut b).await, "approved");
    let (s, v) = b
        .post(
            "/api/verify",
            json!({"kind": "push", "code": "", "nonce": nonce}),
        )
        .await;
    assert_stage(s, &v, "ok");
    let audit = app.audit_events(200).await.unwrap();
    assert_eq!(events(&audit, "push_denied"), 1, "{audit:?}");
}

/// `/api/verify` for push without the page's nonce: refused. The push status after it.
async fn verify_push_without_nonce(b: &mut Browser) -> Value {
    let (s, _) = b
        .post("/api/verify", json!({"kind": "push", "code": ""}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    b.get("/api/push/status").await.1["status"].clone()
}
