//! Operations, against the real things: metrics read back from a recording recorder
//! (and checked to carry no user data in labels), Security Event Tokens verified by
//! Python's jwcrypto, the journal written in the change's transaction in SQLite, and the
//! outbox delivered to a webhook receiver on 127.0.0.1 across a sender killed
//! mid-delivery.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use mfa::Error;
use mfa::ops::{
    ChangeType, EventSigner, Initiator, Journaling, Metered, OutboxSender, RetryPolicy,
    SecurityEvent, UserField, names,
};
use mfa::policy::input::Subject;
use mfa_core::store::{JournalStore, Store};
use mfa_core::{Clock, FactorKind, Timestamp, UserId};
use mfa_store::MemoryStore;
use mfa_store::journal::verify_chain;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Harness, TempDb, code, harness, harness_journal, start_oob, with_totp, wrong};

const KEY_PEM: &str = include_str!("data/set-es256-test-key.pem");
const ISSUER: &str = "https://bank.example/";

fn signer() -> EventSigner {
    EventSigner::es256_pem(ISSUER, KEY_PEM.as_bytes())
        .unwrap()
        .audience("https://receiver.example/")
        .key_id("set-key-1")
}

fn journaling() -> Journaling {
    Journaling::new().security_events(signer())
}

// ------------------------------------------------------------------------ metrics

#[test]
fn metrics_count_what_happened_and_no_label_carries_user_data() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let user = "alice-7c1f9e";
    metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            let h = harness(Metered::new(MemoryStore::new()));
            let alice = UserId::new(user).unwrap();
            let (e, aal2) = with_totp(&h, &alice).await;
            // Five wrong codes lock the factor; the sixth attempt meets the gate.
            for _ in 0..6 {
                wrong(&h, &alice, &e.factor_id).await;
            }
            start_oob(
                &h,
                &alice,
                mfa::OobAddress::sms("(201) 555-0123", Some("US")),
                "phone",
                &aal2,
            )
            .await;
            h.service.admin().reset_user(&alice).await.unwrap();
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let counter = |name: &str, labels: &[(&str, &str)]| -> u64 {
        snapshot
            .iter()
            .filter(|(k, _, _, _)| k.key().name() == name)
            .filter(|(k, _, _, _)| {
                labels
                    .iter()
                    .all(|(lk, lv)| k.key().labels().any(|l| l.key() == *lk && l.value() == *lv))
            })
            .map(|(_, _, _, v)| match v {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum()
    };
    let totp = FactorKind::Totp.as_str();
    assert_eq!(
        counter(names::ENROLLMENTS, &[("kind", totp), ("stage", "started")]),
        1
    );
    assert_eq!(
        counter(
            names::ENROLLMENTS,
            &[("kind", totp), ("stage", "confirmed")]
        ),
        1
    );
    assert_eq!(
        counter(
            names::VERIFICATIONS,
            &[("kind", totp), ("outcome", "accepted")]
        ),
        1
    );
    assert_eq!(
        counter(
            names::VERIFICATIONS,
            &[
                ("kind", totp),
                ("outcome", "rejected"),
                ("reason", "wrong_code")
            ]
        ),
        5
    );
    assert_eq!(counter(names::VERIFICATIONS, &[("outcome", "locked")]), 1);
    // The fifth failure locks the factor; the sixth attempt, refused, extends the lock.
    assert_eq!(counter(names::LOCKOUTS, &[("scope", "factor")]), 2);
    assert_eq!(
        counter(names::CODES_SENT, &[("channel", "sms"), ("country", "1")]),
        1
    );
    assert_eq!(counter(names::RESETS, &[]), 1);
    let histograms: BTreeSet<String> = snapshot
        .iter()
        .filter(|(_, _, _, v)| matches!(v, DebugValue::Histogram(_)))
        .map(|(k, _, _, _)| {
            let labels: Vec<String> = k
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            format!("{} {}", k.key().name(), labels.join(","))
        })
        .collect();
    assert!(
        histograms.contains(&format!(
            "{} outcome=accepted",
            names::VERIFICATION_DURATION
        )),
        "{histograms:?}"
    );
    assert!(
        histograms.contains(&format!(
            "{} operation=list_factors,result=ok",
            names::STORE_DURATION
        )),
        "{histograms:?}"
    );
    // Bounded cardinality: no label value is a user id, a destination, a code or an id.
    for (k, _, _, _) in &snapshot {
        for l in k.key().labels() {
            let v = l.value();
            assert!(!v.contains(user), "{}: {v}", k.key().name());
            assert!(!v.contains("555"), "{}: {v}", k.key().name());
            assert!(!v.contains("000000"), "{}: {v}", k.key().name());
            assert!(
                v.len() <= 32
                    && v.chars().all(|c| c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || c == '_'
                        || c == '-'),
                "{}: {l:?}",
                k.key().name()
            );
        }
    }
}

#[test]
fn user_ids_in_traces_can_be_hashed_or_omitted() {
    let alice = UserId::new("alice").unwrap();
    assert_eq!(UserField::Plain.show(&alice).as_deref(), Some("alice"));
    assert_eq!(UserField::Omitted.show(&alice), None);
    let a = UserField::hashed(&[7; 32]).unwrap();
    let b = UserField::hashed(&[8; 32]).unwrap();
    let shown = a.show(&alice).unwrap();
    assert_eq!(shown.len(), 32);
    assert!(!shown.contains("alice"));
    assert_eq!(a.show(&alice), a.show(&alice), "stable");
    assert_ne!(a.show(&alice), b.show(&alice), "keyed");
    assert!(UserField::hashed(&[1; 8]).is_err());
    assert_eq!(format!("{a:?}"), "UserField::Hashed([redacted])");
}

// ------------------------------------------------------------------ security events

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn event_of(token: &str) -> (String, serde_json::Value) {
    let c = claims(token);
    let events = c["events"].as_object().unwrap();
    assert_eq!(events.len(), 1, "one event per SET");
    let (uri, body) = events.iter().next().unwrap();
    (uri.clone(), body.clone())
}

/// Verifies each token with jwcrypto (signature with the public half of the key, `alg`,
/// `typ`, the claims' presence and types) and prints one line per token:
/// `URI change_type credential_type initiating_entity`.
fn verify_with_jwcrypto(tokens: &[String]) -> Vec<String> {
    let script = r#"
import json, sys
from jwcrypto import jwk, jwt
priv = jwk.JWK.from_pem(open(sys.argv[1], "rb").read())
pub = jwk.JWK.from_json(priv.export_public())
assert not pub.has_private
for tok in sys.argv[2:]:
    t = jwt.JWT(jwt=tok, key=pub, algs=["ES256"], expected_type="JWS")
    head = json.loads(t.header)
    assert head["alg"] == "ES256", head
    assert head["typ"] == "secevent+jwt", head
    assert head["kid"] == "set-key-1", head
    c = json.loads(t.claims)
    assert c["iss"] == "https://bank.example/", c
    assert c["aud"] == "https://receiver.example/", c
    assert isinstance(c["iat"], int) and isinstance(c["jti"], str) and len(c["jti"]) >= 22, c
    assert "sub" not in c and "exp" not in c, c
    assert c["sub_id"]["format"] == "opaque" and c["sub_id"]["id"], c
    (uri, ev), = c["events"].items()
    assert isinstance(ev["event_timestamp"], int), ev
    print(uri, ev.get("change_type", "-"), ev.get("credential_type", "-"), ev.get("initiating_entity", "-"))
"#;
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mfa-set-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key.pem");
    std::fs::write(&key, KEY_PEM).unwrap();
    let have = Command::new("python3")
        .args(["-c", "import jwcrypto"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
            "python3 with jwcrypto is required (MFA_REQUIRE_EXTERNAL=1) but missing"
        );
        println!("SKIPPED: python3 with jwcrypto not found");
        return Vec::new();
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&key)
        .args(tokens)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "jwcrypto refused a SET: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";
const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";

#[test]
fn every_kind_of_set_verifies_with_jwcrypto() {
    let s = signer();
    let alice = UserId::new("alice").unwrap();
    let at = Timestamp::from_unix_secs(1_700_000_000);
    let events = [
        SecurityEvent::credential(FactorKind::Totp, ChangeType::Create, Initiator::User),
        SecurityEvent::credential(
            FactorKind::WebAuthn {
                attachment: Some(mfa_core::Attachment::Platform),
            },
            ChangeType::Delete,
            Initiator::User,
        ),
        SecurityEvent::credential(FactorKind::Sms, ChangeType::Revoke, Initiator::Admin),
        SecurityEvent::SessionRevoked {
            initiator: Initiator::Admin,
        },
        SecurityEvent::AccountDisabled,
        SecurityEvent::AccountEnabled,
    ];
    let tokens: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            s.sign(e, &alice, &format!("jti-{i}-0123456789abcdef"), at, at)
                .unwrap()
        })
        .collect();
    let lines = verify_with_jwcrypto(&tokens);
    if lines.is_empty() {
        return;
    }
    assert_eq!(
        lines,
        [
            format!("{CAEP}credential-change create app user"),
            format!("{CAEP}credential-change delete fido2-platform user"),
            format!("{CAEP}credential-change revoke phone-sms admin"),
            format!("{CAEP}session-revoked - - admin"),
            format!("{RISC}account-disabled - - policy"),
            format!("{RISC}account-enabled - - admin"),
        ]
    );
    // A tampered token is refused by the independent verifier.
    let mut bad = tokens[0].clone();
    bad.replace_range(bad.len() - 4.., "AAAA");
    let script_ok = std::panic::catch_unwind(|| verify_with_jwcrypto(&[bad]));
    assert!(script_ok.is_err(), "a bad signature must not verify");
}

// ----------------------------------------------------------------------- journal

/// Alice enrolls TOTP, renames and removes it, enrolls again, and is reset: the audit
/// chain has every event and the outbox the SETs those changes imply.
async fn life_cycle<S: Store>(h: &Harness<S>) -> UserId {
    let alice = UserId::new("alice").unwrap();
    let (e, aal2) = with_totp(h, &alice).await;
    h.service
        .rename_factor(&alice, &e.factor_id, "work phone")
        .await
        .unwrap();
    // A second factor, so the policy lets the first go.
    let now = h.clock.now();
    let e2 = h.begin_totp(&alice, "tablet", &aal2).await;
    h.service
        .finish_enrollment(&alice, &e2.factor_id, &code(&e2, now.unix_secs()), &aal2)
        .await
        .unwrap();
    h.service
        .remove_factor(&alice, &Subject::default(), &aal2, &e.factor_id)
        .await
        .unwrap();
    h.service.admin().reset_user(&alice).await.unwrap();
    alice
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_journal_holds_the_audit_chain_and_the_sets_of_each_change() {
    let db = TempDb::new("journal");
    let store = mfa_store::SqliteStore::open(&db.0).await.unwrap();
    let h = harness_journal(store.clone(), journaling());
    let before = store.audit_entries(0, 1000).await.unwrap().len();
    assert_eq!(before, 0);
    life_cycle(&h).await;

    // The audit log: every audit event, chained.
    let entries = store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(verify_chain(&entries), Ok(()));
    let names: Vec<String> = entries
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.body).unwrap();
            v["event"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "enrolled",
            "confirmed",
            "verified",
            "factor_renamed",
            "enrolled",
            "confirmed",
            "factor_removed",
            "reset"
        ]
    );
    let reset: serde_json::Value = serde_json::from_str(&entries[7].body).unwrap();
    assert_eq!(reset["factors"], 1, "the reset's entry carries its counts");

    // The outbox: the SETs, in order.
    let far = Timestamp::from_unix_secs(u64::from(u32::MAX));
    let due = store.outbox_due(far, 100).await.unwrap();
    let kinds: Vec<String> = due
        .iter()
        .map(|m| {
            let (uri, body) = event_of(&m.payload);
            assert_eq!(
                claims(&m.payload)["jti"],
                m.id.as_str(),
                "jti is the message id"
            );
            format!(
                "{} {}",
                uri.rsplit('/').next().unwrap(),
                body["change_type"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "credential-change create",
            "credential-change update",
            "credential-change create",
            "credential-change delete",
            "session-revoked -",
            "credential-change revoke",
        ]
    );
    let tokens: Vec<String> = due.iter().map(|m| m.payload.clone()).collect();
    let lines = verify_with_jwcrypto(&tokens);
    if !lines.is_empty() {
        assert_eq!(lines.len(), tokens.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_journals_nothing_and_a_journal_needs_a_store_that_keeps_one() {
    let db = TempDb::new("refused");
    let store = mfa_store::SqliteStore::open(&db.0).await.unwrap();
    let h = harness_journal(store.clone(), journaling());
    let alice = UserId::new("alice").unwrap();
    let (e, aal2) = with_totp(&h, &alice).await;
    let n = store.audit_entries(0, 1000).await.unwrap().len();
    let far = Timestamp::from_unix_secs(u64::from(u32::MAX));
    let m = store.outbox_due(far, 100).await.unwrap().len();
    // The last factor of a user who must have MFA cannot go: no change, no entry.
    let err = h
        .service
        .remove_factor(&alice, &Subject::default(), &aal2, &e.factor_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Enroll(_)), "{err:?}");
    let unknown = mfa_core::FactorId::new("nope").unwrap();
    assert!(
        h.service
            .rename_factor(&alice, &unknown, "x")
            .await
            .is_err()
    );
    assert!(
        !h.service
            .forget_device(&alice, "no-such-device")
            .await
            .unwrap()
    );
    assert_eq!(store.audit_entries(0, 1000).await.unwrap().len(), n);
    assert_eq!(store.outbox_due(far, 100).await.unwrap().len(), m);

    // A store without a journal: the builder says so rather than dropping events.
    let built = mfa::Service::builder(
        crate::fail_closed::flaky_store(),
        mfa::Policy::default(),
        crate::common::keys("k"),
    )
    .journal(Journaling::new())
    .build();
    assert!(matches!(built, Err(Error::NotConfigured(_))), "{built:?}");
}

// ----------------------------------------------------------------------- outbox

const HOLD: u8 = 0;
const DROP: u8 = 1;
const ACCEPT: u8 = 2;

/// A webhook receiver on 127.0.0.1: HTTP/1.1, one request per connection. In `DROP`
/// mode it reads the request and closes without answering; in `HOLD` it never answers;
/// in `ACCEPT` it records `(Idempotency-Key, body)` and answers `202 Accepted`.
struct Receiver {
    url: String,
    mode: Arc<AtomicU8>,
    requests: Arc<AtomicUsize>,
    accepted: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(DROP));
        let requests = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let (m, r, a) = (mode.clone(), requests.clone(), accepted.clone());
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (m, r, a) = (m.clone(), r.clone(), a.clone());
                tokio::spawn(async move {
                    let _ = handle(sock, &m, &r, &a).await;
                });
            }
        });
        Self {
            url,
            mode,
            requests,
            accepted,
        }
    }
}

async fn handle(
    mut sock: tokio::net::TcpStream,
    mode: &AtomicU8,
    requests: &AtomicUsize,
    accepted: &Mutex<Vec<(String, String)>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let len: usize = header("content-length").parse().unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    assert!(head.starts_with("POST /events HTTP/1.1"), "{head}");
    assert_eq!(header("content-type"), "application/secevent+jwt");
    requests.fetch_add(1, Ordering::SeqCst);
    match mode.load(Ordering::SeqCst) {
        DROP => Ok(()),
        HOLD => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }
        _ => {
            let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
            accepted
                .lock()
                .unwrap()
                .push((header("idempotency-key"), body));
            sock.write_all(
                b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_survives_a_sender_killed_mid_delivery_and_loses_no_event() {
    let db = TempDb::new("outbox");
    let store = mfa_store::SqliteStore::open(&db.0).await.unwrap();
    let h = harness_journal(store.clone(), journaling());
    life_cycle(&h).await;
    let far = Timestamp::from_unix_secs(u64::from(u32::MAX));
    let all: BTreeSet<String> = store
        .outbox_due(far, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(all.len(), 6);
    let receiver = Receiver::start().await;
    let mut retry = RetryPolicy::default();
    retry.first = Duration::from_secs(1);
    retry.max = Duration::from_secs(60);
    retry.poll = Duration::from_millis(50);
    retry.timeout = Duration::from_secs(30);
    let sender = || {
        OutboxSender::new(store.clone(), &receiver.url)
            .unwrap()
            .retry(retry)
            .unwrap()
            .clock(h.clock.clone())
    };

    // 1. The receiver drops every connection: all six fail and wait for a retry.
    let report = sender().send_due().await.unwrap();
    assert_eq!((report.delivered, report.failed), (0, 6));
    assert!(
        store
            .outbox_due(h.clock.now(), 100)
            .await
            .unwrap()
            .is_empty(),
        "backing off"
    );
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 6);

    // 2. The sender is killed while the receiver holds its request.
    h.clock.advance(Duration::from_secs(5));
    receiver.mode.store(HOLD, Ordering::SeqCst);
    let first = sender();
    let task = tokio::spawn(async move { first.run().await });
    for _ in 0..500 {
        if receiver.requests.load(Ordering::SeqCst) > 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        receiver.requests.load(Ordering::SeqCst) > 6,
        "a delivery was in flight"
    );
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(
        store.outbox_due(far, 100).await.unwrap().len(),
        6,
        "nothing is marked delivered that the receiver did not accept"
    );

    // 3. Restarted, with the receiver accepting: every event arrives.
    receiver.mode.store(ACCEPT, Ordering::SeqCst);
    h.clock.advance(Duration::from_secs(120));
    let report = sender().send_due().await.unwrap();
    assert_eq!((report.delivered, report.failed), (6, 0));
    assert!(store.outbox_due(far, 100).await.unwrap().is_empty());
    let accepted = receiver.accepted.lock().unwrap().clone();
    let got: BTreeSet<String> = accepted.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(got, all, "every event delivered, none lost");
    for (key, body) in &accepted {
        assert_eq!(
            claims(body)["jti"],
            key.as_str(),
            "the idempotency key is the jti"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_journal_holds_the_audit_chain_and_the_sets_of_each_change() {
    let test = "postgres_journal_holds_the_audit_chain_and_the_sets_of_each_change";
    let Some(schema) = crate::postgres::Schema::new(test).await else {
        return;
    };
    let store = schema.store().await;
    let h = harness_journal(store.clone(), journaling());
    life_cycle(&h).await;
    let entries = store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(verify_chain(&entries), Ok(()));
    assert_eq!(entries.len(), 8);
    let far = Timestamp::from_unix_secs(u64::from(u32::MAX));
    let due = store.outbox_due(far, 100).await.unwrap();
    assert_eq!(due.len(), 6);
    // A second instance on the same schema appends to the same chain.
    let other = harness_journal(schema.store().await, journaling());
    let bob = UserId::new("bob").unwrap();
    with_totp(&other, &bob).await;
    let entries = store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(verify_chain(&entries), Ok(()));
    assert_eq!(entries.len(), 11);
}
