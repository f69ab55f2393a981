//! `Service::import`: a dry run writes nothing (counted in the database's own table), the
//! real run is all-or-nothing per user and idempotent, imported factors verify the codes
//! of independent implementations — pyotp's URIs, a Google Authenticator export built
//! with Python's `protobuf` — on memory, SQLite and PostgreSQL.
//!
//! The Python cross-checks skip with a message when `pyotp` / `protobuf` are missing,
//! and fail under `MFA_REQUIRE_EXTERNAL=1`.

use std::io::Write as _;
use std::process::{Command, Stdio};

use mfa::EventKind;
use mfa::import::{Format, ImportOptions, RecordStatus, parse_csv, parse_otpauth_lines};
use mfa::policy::input::Session;
use mfa::{Response, Service};
use mfa_core::store::{FactorStore as _, Store};
use mfa_core::{AuthMethod, Clock, FactorId, UserId};
use mfa_store::MemoryStore;
use serde_json::Value;

use crate::common::{Harness, harness, temp_db};
use crate::postgres::Schema;

const NOW: u64 = 1_700_000_000;
/// "12345678901234567890" (RFC 4226's key).
const KEY32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn user(u: &str) -> UserId {
    UserId::new(u).unwrap()
}

fn session(h: &Harness<impl Store>) -> Session {
    Session::primary(AuthMethod::Pwd, h.clock.now())
}

async fn verify<S: Store>(h: &Harness<S>, u: &str, factor: &FactorId, code: &str) -> bool {
    h.service
        .verify(&user(u), factor, Response::Code(code), &session(h))
        .await
        .is_ok()
}

fn factor_of(report: &mfa::import::ImportReport, index: usize) -> FactorId {
    report
        .records
        .iter()
        .find(|r| r.index == index)
        .and_then(|r| r.factor_id.clone())
        .unwrap_or_else(|| panic!("record {index} has no factor: {report:#?}"))
}

/// The CSV every backend imports: alice (TOTP with a last step, HOTP at counter 5),
/// bob (one good row and one MD5 row: nothing of bob's is written), carol (a short
/// secret), and alice's TOTP again (a duplicate).
fn csv_source() -> String {
    format!(
        "user,type,secret,digits,algorithm,period,counter,last_step,label\n\
         alice,totp,{KEY32},8,SHA256,30,,{last},Phone\n\
         alice,hotp,hex:3132333435363738393031323334353637383930,6,SHA1,,5,,Token\n\
         bob,totp,{KEY32},,,,,,\n\
         bob,totp,{KEY32},,MD5,,,,\n\
         carol,totp,JBSWY3DPEHPK3PXP,,,,,,\n\
         alice,totp,{KEY32},8,SHA256,30,,,Phone again\n",
        last = NOW / 30
    )
}

/// The whole cycle on one store; `rows` counts the factor rows in the database itself.
async fn dry_run_then_import_once<S: Store>(h: &Harness<S>, rows: impl AsyncFn() -> i64) {
    let before = rows().await;
    let parsed = || parse_csv(&csv_source()).unwrap();

    // 1. Dry run: the report, and nothing written.
    let dry = h
        .service
        .import(parsed(), ImportOptions::dry_run())
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(rows().await, before, "a dry run wrote rows");
    assert!(h.audit.events().is_empty(), "a dry run emitted events");
    let status = |r: &mfa::import::ImportReport, i: usize| {
        r.records
            .iter()
            .find(|o| o.index == i)
            .unwrap()
            .status
            .clone()
    };
    assert_eq!(status(&dry, 2), RecordStatus::WouldImport);
    assert_eq!(status(&dry, 3), RecordStatus::WouldImport);
    assert!(matches!(status(&dry, 4), RecordStatus::HeldBack { .. }));
    assert!(matches!(status(&dry, 5), RecordStatus::Rejected { reason } if reason.contains("MD5")));
    assert!(
        matches!(status(&dry, 6), RecordStatus::Rejected { reason } if reason.contains("128 bits"))
    );
    assert!(dry.records.iter().any(|o| o.index == 6 && o.short_secret));
    assert_eq!(status(&dry, 7), RecordStatus::Duplicate { of: 2 });
    assert_eq!(
        (
            dry.summary.would_import,
            dry.summary.rejected,
            dry.summary.held_back,
            dry.summary.users,
            dry.summary.new_users
        ),
        (2, 2, 1, 3, 3)
    );
    assert!(!dry.is_clean());

    // 2. The real run: alice's two factors, confirmed, audited as imported.
    let report = h
        .service
        .import(parsed(), ImportOptions::dry_run().write())
        .await
        .unwrap();
    assert_eq!((report.summary.imported, report.summary.held_back), (2, 1));
    assert_eq!(rows().await, before + 2);
    let factors = h.service.list_factors(&user("alice")).await.unwrap();
    assert!(factors.iter().all(|f| f.confirmed), "{factors:?}");
    assert!(
        h.service
            .list_factors(&user("bob"))
            .await
            .unwrap()
            .is_empty()
    );
    let imported = h
        .audit
        .events()
        .into_iter()
        .filter(|e| e.event == EventKind::Imported { format: "csv" })
        .count();
    assert_eq!(imported, 2);

    // 3. Again: nothing imported twice.
    let again = h
        .service
        .import(parsed(), ImportOptions::dry_run().write())
        .await
        .unwrap();
    assert_eq!(
        (again.summary.imported, again.summary.already_imported),
        (0, 3) // row 7 repeats row 2, which is in the store now
    );
    assert_eq!(rows().await, before + 2);
    assert_eq!(factor_of(&again, 2), factor_of(&report, 2));

    // 4. State kept: the TOTP's last step is a replay, the next step verifies; the HOTP
    //    refuses counter 4's code and accepts counter 5's.
    let totp = factor_of(&report, 2);
    let secret = mfa::otp::Secret::from_base32(KEY32).unwrap();
    let params = mfa::otp::TotpParams {
        algorithm: mfa::otp::Algorithm::Sha256,
        digits: mfa::otp::Digits::EIGHT,
        ..Default::default()
    };
    let t = mfa::otp::Totp::new(&secret, params);
    let step = NOW / 30;
    assert!(
        !verify(h, "alice", &totp, t.code_for_step(step).as_str()).await,
        "last step replayed"
    );
    h.clock.set(mfa_core::Timestamp::from_unix_secs(NOW + 30));
    assert!(verify(h, "alice", &totp, t.code_for_step(step + 1).as_str()).await);
    let hotp = factor_of(&report, 3);
    let k = mfa::otp::Hotp::new(&secret, mfa::otp::HotpParams::default());
    assert!(!verify(h, "alice", &hotp, k.code(4).as_str()).await);
    assert!(verify(h, "alice", &hotp, k.code(5).as_str()).await);
}

#[tokio::test]
async fn memory_dry_run_writes_nothing_then_imports_once() {
    let h = harness(MemoryStore::new());
    let service = h.service.clone();
    dry_run_then_import_once(&h, async || {
        let mut n = 0;
        for u in ["alice", "bob", "carol"] {
            n += service.store().list_factors(&user(u)).await.unwrap().len() as i64;
        }
        n
    })
    .await;
}

fn sqlite_rows(path: &std::path::Path) -> i64 {
    let db = rusqlite::Connection::open(path).unwrap();
    db.query_row("SELECT count(*) FROM mfa_factors", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_dry_run_writes_nothing_then_imports_once() {
    let path = temp_db("cycle");
    let h = harness(mfa_store::SqliteStore::open(&path).await.unwrap());
    dry_run_then_import_once(&h, async || sqlite_rows(&path)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dry_run_writes_nothing_then_imports_once() {
    let Some(db) = Schema::new("postgres_dry_run_writes_nothing_then_imports_once").await else {
        return;
    };
    let h = harness(db.store().await);
    let client = db.client().await;
    dry_run_then_import_once(&h, async || {
        client
            .query_one("SELECT count(*) FROM mfa_factors", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    })
    .await;
}

/// Runs `script` with `input` on stdin and returns its JSON output; `None` (after
/// saying so) when `module` is missing, a failure under `MFA_REQUIRE_EXTERNAL=1`.
fn python(module: &str, script: &str, input: &Value) -> Option<Value> {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("MFA_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
            "MFA_REQUIRE_EXTERNAL=1 but the Python module {module} is missing"
        );
        let _ = std::io::stderr().write_all(
            format!("SKIPPED: python3 -c 'import {module}' failed (pip install {module}); this cross-check did not run\n").as_bytes(),
        );
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python script failed");
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// pyotp's `provisioning_uri` for TOTP (three algorithms, 6 and 8 digits, 30 and 60 s)
/// and HOTP (initial count 7), and its codes at `NOW` / counter 7.
const PYOTP_URIS: &str = r#"
import json, sys, hashlib, pyotp
req = json.load(sys.stdin)
out = []
for i, (digest, digits, period) in enumerate([("sha1", 6, 30), ("sha256", 8, 60), ("sha512", 8, 30)]):
    s = pyotp.random_base32(32)
    t = pyotp.TOTP(s, digits=digits, digest=getattr(hashlib, digest), interval=period)
    out.append({"uri": t.provisioning_uri(name="user%d@example.com" % i, issuer_name="Py Corp"),
                "code": t.at(req["now"]), "user": "user%d@example.com" % i})
s = pyotp.random_base32(32)
h = pyotp.HOTP(s, initial_count=7)
out.append({"uri": h.provisioning_uri(name="hotp@example.com", issuer_name="Py Corp", initial_count=7),
            "code": h.at(7), "user": "hotp@example.com"})
json.dump(out, sys.stdout)
"#;

async fn pyotp_codes_verify_after_import<S: Store>(h: &Harness<S>) {
    let Some(cases) = python("pyotp", PYOTP_URIS, &serde_json::json!({"now": NOW})) else {
        return;
    };
    let cases = cases.as_array().unwrap();
    let lines: Vec<&str> = cases.iter().map(|c| c["uri"].as_str().unwrap()).collect();
    let parsed = parse_otpauth_lines(&lines.join("\n"));
    let report = h
        .service
        .import(parsed, ImportOptions::dry_run().write())
        .await
        .unwrap();
    assert_eq!(report.summary.imported, 4, "{report:#?}");
    for (i, c) in cases.iter().enumerate() {
        let f = factor_of(&report, i + 1);
        let (u, code) = (c["user"].as_str().unwrap(), c["code"].as_str().unwrap());
        assert!(verify(h, u, &f, code).await, "pyotp case {i}: {}", c["uri"]);
        assert!(!verify(h, u, &f, code).await, "pyotp case {i} replayed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyotp_codes_verify_after_import_on_sqlite() {
    let path = temp_db("pyotp");
    pyotp_codes_verify_after_import(&harness(mfa_store::SqliteStore::open(&path).await.unwrap()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyotp_codes_verify_after_import_on_postgres() {
    let Some(db) = Schema::new("pyotp_codes_verify_after_import_on_postgres").await else {
        return;
    };
    pyotp_codes_verify_after_import(&harness(db.store().await)).await;
}

/// A Google Authenticator export in two QR codes, built with Python's protobuf from the
/// `MigrationPayload` schema (declared at run time: no protoc needed), and pyotp's codes.
const GOOGLE_EXPORT: &str = r#"
import base64, json, sys, urllib.parse, pyotp
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass
F = descriptor_pb2.FieldDescriptorProto
fd = descriptor_pb2.FileDescriptorProto(name="migration.proto", package="gauth", syntax="proto3")
m = fd.message_type.add(name="MigrationPayload")
for name, values in [("Algorithm", ["UNSPECIFIED", "SHA1", "SHA256", "SHA512", "MD5"]),
                     ("DigitCount", ["UNSPECIFIED", "SIX", "EIGHT"]),
                     ("OtpType", ["UNSPECIFIED", "HOTP", "TOTP"])]:
    e = m.enum_type.add(name=name)
    for i, v in enumerate(values):
        e.value.add(name=name.upper() + "_" + v, number=i)
o = m.nested_type.add(name="OtpParameters")
o.field.add(name="secret", number=1, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL)
o.field.add(name="name", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
o.field.add(name="issuer", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
o.field.add(name="algorithm", number=4, type=F.TYPE_ENUM, type_name=".gauth.MigrationPayload.Algorithm", label=F.LABEL_OPTIONAL)
o.field.add(name="digits", number=5, type=F.TYPE_ENUM, type_name=".gauth.MigrationPayload.DigitCount", label=F.LABEL_OPTIONAL)
o.field.add(name="type", number=6, type=F.TYPE_ENUM, type_name=".gauth.MigrationPayload.OtpType", label=F.LABEL_OPTIONAL)
o.field.add(name="counter", number=7, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
m.field.add(name="otp_parameters", number=1, type=F.TYPE_MESSAGE, type_name=".gauth.MigrationPayload.OtpParameters", label=F.LABEL_REPEATED)
for i, n in enumerate(["version", "batch_size", "batch_index", "batch_id"]):
    m.field.add(name=n, number=i + 2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
pool = descriptor_pool.DescriptorPool()
pool.Add(fd)
Payload = GetMessageClass(pool.FindMessageTypeByName("gauth.MigrationPayload"))
now = json.load(sys.stdin)["now"]
entries = [  # (name, issuer, algorithm, digits, type, counter)
    ("Example:alice@example.com", "Example", 1, 1, 2, 0),
    ("bob@example.com", "", 2, 2, 2, 0),
    ("carol@example.com", "Token Co", 1, 1, 1, 3),
    ("dave@example.com", "", 3, 1, 2, 0),
]
uris, codes = [], []
for batch in range(2):
    p = Payload(version=1, batch_size=2, batch_index=batch, batch_id=-123456)
    for (name, issuer, alg, digits, typ, counter) in entries[batch * 2:batch * 2 + 2]:
        secret = pyotp.random_base32(32)
        raw = base64.b32decode(secret)
        p.otp_parameters.add(secret=raw, name=name, issuer=issuer, algorithm=alg, digits=digits, type=typ, counter=counter)
        digest = {1: "sha1", 2: "sha256", 3: "sha512"}[alg]
        import hashlib
        d = 6 if digits == 1 else 8
        if typ == 2:
            codes.append(pyotp.TOTP(secret, digits=d, digest=getattr(hashlib, digest)).at(now))
        else:
            codes.append(pyotp.HOTP(secret, digits=d, digest=getattr(hashlib, digest)).at(counter))
    data = base64.b64encode(p.SerializeToString()).decode()
    uris.append("otpauth-migration://offline?data=" + urllib.parse.quote(data, safe=""))
json.dump({"uris": uris, "codes": codes, "users": [e[0].split(":")[-1] for e in entries]}, sys.stdout)
"#;

#[tokio::test]
async fn google_export_from_python_protobuf_verifies_after_import() {
    let h = harness(MemoryStore::new());
    let Some(export) = python(
        "pyotp, google.protobuf",
        GOOGLE_EXPORT,
        &serde_json::json!({"now": NOW}),
    ) else {
        return;
    };
    let uris: Vec<&str> = export["uris"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // One QR code of two: the other entry is reported missing.
    let half = Format::GoogleMigration.parse(uris[0]).unwrap();
    assert!(
        half.records
            .iter()
            .any(|r| matches!(r, Err(e) if e.to_string().contains("1 of 2 QR codes missing")))
    );

    let parsed = Format::GoogleMigration.parse(&uris.join("\n")).unwrap();
    let report = h
        .service
        .import(parsed, ImportOptions::dry_run().write())
        .await
        .unwrap();
    assert_eq!(report.summary.imported, 4, "{report:#?}");
    let users = export["users"].as_array().unwrap();
    for (i, code) in export["codes"].as_array().unwrap().iter().enumerate() {
        let u = users[i].as_str().unwrap();
        let f = factor_of(&report, i + 1);
        assert!(
            verify(&h, u, &f, code.as_str().unwrap()).await,
            "entry {i} ({u})"
        );
    }
}

/// A WebAuthn credential held by one user cannot be imported for another; importing it
/// again for its owner is a no-op.
#[tokio::test]
async fn webauthn_credentials_import_once_and_never_for_another_user() {
    let h = harness(MemoryStore::new());
    let cose = "pQECAyYgASFYIGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWIlggT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";
    let doc = |u: &str| {
        format!(
            r#"[{{"user": "{u}", "credentialId": "AAECAw", "publicKey": "{cose}", "signCount": 9, "label": "Key"}}]"#
        )
    };
    let run = async |u: &str| {
        h.service
            .import(
                Format::WebAuthnJson.parse(&doc(u)).unwrap(),
                ImportOptions::dry_run().write(),
            )
            .await
            .unwrap()
    };
    assert_eq!(run("alice").await.summary.imported, 1);
    assert_eq!(run("alice").await.summary.already_imported, 1);
    let other = run("mallory").await;
    assert!(
        matches!(&other.records[0].status, RecordStatus::Rejected { reason } if reason.contains("another user"))
    );
    assert!(
        h.service
            .list_factors(&user("mallory"))
            .await
            .unwrap()
            .is_empty()
    );
    let alice = h.service.list_factors(&user("alice")).await.unwrap();
    assert_eq!((alice.len(), alice[0].confirmed), (1, true));
}

/// Not a Service method test: the parsers' output goes through `Parsed::for_user`.
#[tokio::test]
async fn one_persons_export_is_assigned_to_one_user() {
    let h = harness(MemoryStore::new());
    let parsed = parse_otpauth_lines(&format!("otpauth://totp/Site:whatever?secret={KEY32}"))
        .for_user(&user("zoe"));
    let report = h
        .service
        .import(parsed, ImportOptions::dry_run().write())
        .await
        .unwrap();
    assert_eq!(report.summary.imported, 1);
    assert_eq!(
        h.service.list_factors(&user("zoe")).await.unwrap()[0].label,
        "Site"
    );
}

#[allow(dead_code, reason = "keeps the generic bound honest")]
fn assert_send<S: Store>(s: &Service<S>) -> impl Send + '_ {
    s.import(parse_otpauth_lines(""), ImportOptions::dry_run())
}

/// Export → encrypted PSKC (pre-shared key, then password) and WebAuthn JSON → import
/// into an empty store: the same codes verify there, the same credentials are there.
#[tokio::test]
async fn an_export_imported_into_an_empty_store_verifies_the_same_codes() {
    use mfa::import::{
        PskcExportKey, PskcKey, parse_pskc, parse_webauthn_json, write_pskc, write_webauthn_json,
    };

    let source = harness(MemoryStore::new());
    let csv = format!(
        "user,type,secret,digits,algorithm,period,counter,label\n\
         alice,totp,{KEY32},8,SHA512,60,,Phone <work>\n\
         alice,hotp,{KEY32},7,SHA256,,9,Token\n"
    );
    let cose = "pQECAyYgASFYIGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWIlggT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";
    let creds = format!(
        r#"[{{"user": "alice", "credentialId": "AAECAw", "publicKey": "{cose}", "signCount": 9,
             "transports": ["usb"], "userHandle": "q83v", "backupEligible": false, "label": "Key"}}]"#
    );
    for parsed in [
        parse_csv(&csv).unwrap(),
        parse_webauthn_json(&creds).unwrap(),
    ] {
        let r = source
            .service
            .import(parsed, ImportOptions::dry_run().write())
            .await
            .unwrap();
        assert!(r.is_clean(), "{r:#?}");
    }
    let exported = source.service.export_factors(&user("alice")).await.unwrap();
    assert_eq!(exported.len(), 3);
    assert!(
        source
            .audit
            .events()
            .iter()
            .any(|e| e.event == EventKind::Exported { factors: 3 })
    );

    let psk = [7u8; 16];
    for (key, open) in [
        (PskcExportKey::PreShared(&psk), PskcKey::PreShared(&psk)),
        (
            PskcExportKey::Password {
                password: b"correct horse",
                iterations: 100_000,
            },
            PskcKey::Password(b"correct horse"),
        ),
    ] {
        let pskc = write_pskc(&exported, &key, &mut mfa_core::OsRandom).unwrap();
        assert!(
            !pskc.contains(KEY32) && !pskc.contains("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA"),
            "a seed in clear"
        );
        assert!(
            parse_pskc(&pskc, &PskcKey::None, None).is_err(),
            "opened without the key"
        );
        let target = harness(MemoryStore::new());
        let r = target
            .service
            .import(
                parse_pskc(&pskc, &open, None).unwrap(),
                ImportOptions::dry_run().write(),
            )
            .await
            .unwrap();
        assert_eq!(r.summary.imported, 2, "{r:#?}");
        let r = target
            .service
            .import(
                parse_webauthn_json(&write_webauthn_json(&exported)).unwrap(),
                ImportOptions::dry_run().write(),
            )
            .await
            .unwrap();
        assert_eq!(r.summary.imported, 1, "{r:#?}");

        let mut theirs = target.service.list_factors(&user("alice")).await.unwrap();
        let mut ours = source.service.list_factors(&user("alice")).await.unwrap();
        theirs.sort_by(|a, b| a.label.cmp(&b.label));
        ours.sort_by(|a, b| a.label.cmp(&b.label));
        let shape = |v: &[mfa::FactorInfo]| {
            v.iter()
                .map(|f| (f.kind, f.label.clone(), f.confirmed))
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&theirs), shape(&ours));

        // The same codes: TOTP (SHA-512, 8 digits, 60 s) two steps ahead, HOTP (SHA-256,
        // 7 digits) at counter 9, in both stores.
        let secret = mfa::otp::Secret::from_base32(KEY32).unwrap();
        let t = mfa::otp::Totp::new(
            &secret,
            mfa::otp::TotpParams {
                algorithm: mfa::otp::Algorithm::Sha512,
                digits: mfa::otp::Digits::new(8).unwrap(),
                period: mfa::otp::Period::new(60).unwrap(),
                t0: 0,
            },
        );
        let h = mfa::otp::Hotp::new(
            &secret,
            mfa::otp::HotpParams {
                algorithm: mfa::otp::Algorithm::Sha256,
                digits: mfa::otp::Digits::new(7).unwrap(),
            },
        );
        let step = NOW / 60;
        for hs in [&target, &source] {
            hs.clock.set(mfa_core::Timestamp::from_unix_secs(NOW));
            let list = hs.service.list_factors(&user("alice")).await.unwrap();
            let id = |label: &str| list.iter().find(|f| f.label == label).unwrap().id.clone();
            assert!(
                verify(
                    hs,
                    "alice",
                    &id("Phone <work>"),
                    t.code_for_step(step).as_str()
                )
                .await
            );
            assert!(verify(hs, "alice", &id("Token"), h.code(9).as_str()).await);
        }
        // Reset the source for the next key kind.
        source
            .service
            .admin()
            .reset_user(&user("alice"))
            .await
            .unwrap();
        for parsed in [
            parse_csv(&csv).unwrap(),
            parse_webauthn_json(&creds).unwrap(),
        ] {
            source
                .service
                .import(parsed, ImportOptions::dry_run().write())
                .await
                .unwrap();
        }
    }
}

/// RFC 6030 figure 6 through the service: the HOTP key verifies RFC 4226's counter-0
/// code in eight digits.
#[tokio::test]
async fn rfc6030_figure6_imports_and_verifies() {
    use mfa::import::{PskcKey, parse_pskc};
    let figure6 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/pskc/rfc6030_figure6.xml"
    ))
    .unwrap();
    let psk = [
        0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90,
        0x12,
    ];
    let h = harness(MemoryStore::new());
    let parsed = parse_pskc(&figure6, &PskcKey::PreShared(&psk), Some(&user("jsmith"))).unwrap();
    let r = h
        .service
        .import(parsed, ImportOptions::dry_run().write())
        .await
        .unwrap();
    assert_eq!(r.summary.imported, 1, "{r:#?}");
    let f = factor_of(&r, 1);
    assert!(!verify(&h, "jsmith", &f, "755224").await);
    assert!(verify(&h, "jsmith", &f, "84755224").await);
    assert!(
        h.audit
            .events()
            .iter()
            .any(|e| e.event == EventKind::Imported { format: "pskc" })
    );
}
