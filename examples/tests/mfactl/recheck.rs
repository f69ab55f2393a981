//! `mfactl webauthn-recheck` over a real SQLite store (issue 22 item 9): a credential of
//! a model a new MDS3 BLOB reports revoked is flagged, then disabled.

use serde_json::json;

use super::{Env, T0};

/// A real ES256 credential (the key of one of mfa-webauthn's own conformance cases),
/// imported as Google Password Manager's.
fn credential() -> serde_json::Value {
    let case: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/mfa-webauthn/tests/data/conformance/auth-related-origin-valid.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let stored = &case["stored_credential"];
    json!([{
        "user": "alice",
        "credentialId": stored["id"],
        "publicKey": stored["public_key_cose"],
        "aaguid": "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        "label": "Android phone",
    }])
}

fn compiled(env: &Env, name: &str, statuses: &[&str]) -> String {
    let path = env.path(name);
    let store = json!({
        "no": 9,
        "next_update": "2030-01-01",
        "entries": [{
            "aaguid": "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
            "description": "Google Password Manager",
            "roots": [],
            "status_reports": statuses.iter().map(|s| json!({"status": s})).collect::<Vec<_>>(),
        }],
    });
    std::fs::write(&path, store.to_string()).unwrap();
    path
}

#[test]
fn webauthn_recheck_flags_then_disables_a_revoked_model() {
    let env = Env::new();
    let creds = env.path("creds.json");
    std::fs::write(&creds, credential().to_string()).unwrap();
    let v = env.ok(T0, &["import", "webauthn", &creds, "--write"]);
    assert_eq!(v["ok"], true, "{v}");
    let fine = compiled(&env, "fine.json", &["FIDO_CERTIFIED_L1"]);
    let v = env.ok(
        T0,
        &["webauthn-recheck", "--user", "alice", "--compiled", &fine],
    );
    assert_eq!(v["findings"], json!([]), "{v}");
    let revoked = compiled(&env, "revoked.json", &["REVOKED"]);
    let recheck: &[&str] = &[
        "webauthn-recheck",
        "--user",
        "alice",
        "--compiled",
        &revoked,
    ];
    let v = env.ok(T0, &[recheck, &["--flag-only"]].concat());
    assert_eq!(v["findings"][0]["status"], "REVOKED", "{v}");
    assert_eq!(v["findings"][0]["disabled"], false);
    assert_eq!(v["findings"][0]["evidence"], "claimed");
    let v = env.ok(T0, recheck);
    assert_eq!(v["findings"][0]["disabled"], true, "{v}");
    let list = env.ok(T0, &["list", "--user", "alice"]);
    let factors = list["factors"].as_array().unwrap();
    assert!(factors.iter().all(|f| f["confirmed"] == false), "{list}");
    // A BLOB that does not verify is refused with a message.
    let bogus = env.path("bogus.jwt");
    std::fs::write(&bogus, "not.a.jws").unwrap();
    let o = env.at(
        T0,
        &["webauthn-recheck", "--user", "alice", "--blob", &bogus],
    );
    assert_eq!(o.status, 2, "{o:?}");
}
