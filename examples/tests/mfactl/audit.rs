//! `mfactl audit`: the hash-chained audit log written with `--audit-log`, verified,
//! exported and tampered with by SQL in the SQLite file.

use super::*;

const KEY: &str = "../crates/mfa/tests/data/set-es256-test-key.pem";
const PUBLIC_KEY: &str = "../crates/mfa/tests/data/set-es256-test-key.pub.pem";

fn sql(env: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(env.dir.join("mfa.db")).unwrap()
}

fn broken(env: &Env, extra: &[&str]) -> Value {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(extra);
    let o = env.at(T0, &args);
    assert_eq!(o.status, 1, "{o:?}");
    let v = o.json();
    assert_eq!(v["ok"], false, "{v}");
    v["break"].clone()
}

#[test]
fn audit_verify_names_each_edit_deletion_reordering_and_truncation() {
    let env = Env::new();
    let e = env.ok(
        T0,
        &[
            "--audit-log",
            "enroll",
            "totp",
            "--user",
            "alice",
            "--label",
            "Phone",
        ],
    );
    let id = e["factor"].as_str().unwrap().to_owned();
    let secret = Secret::from_base32(e["secret"].as_str().unwrap()).unwrap();
    let code = code(&secret, T0);
    env.ok(
        T0,
        &[
            "--audit-log",
            "confirm",
            "--user",
            "alice",
            "--factor",
            &id,
            "--code",
            &code,
        ],
    );
    env.ok(
        T0,
        &[
            "--audit-log",
            "rename",
            "--user",
            "alice",
            "--factor",
            &id,
            "--label",
            "Work",
        ],
    );
    env.ok(T0, &["--audit-log", "unlock", "--user", "alice"]);
    env.ok(T0, &["--audit-log", "reset", "--user", "alice"]);
    // Without --audit-log nothing is journaled.
    env.ok(T0, &["unlock", "--user", "alice"]);

    let v = env.ok(T0, &["audit", "verify"]);
    let n = v["entries"].as_u64().unwrap();
    assert!(n >= 5, "{v}");
    let out = env.path("audit.jsonl");
    let x = env.ok(T0, &["audit", "export", "--out", &out]);
    assert_eq!(x["exported"], n);
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, n);
    assert_eq!(lines[0]["seq"], 1);
    let first: Value = serde_json::from_str(lines[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(first["event"], "enrolled");
    assert_eq!(first["user"], "alice");
    let last: Value =
        serde_json::from_str(lines.last().unwrap()["body"].as_str().unwrap()).unwrap();
    assert_eq!(last["event"], "reset");
    bad(&env.at(T0, &["audit", "export", "--out", &out]), "exists");

    // A signed head of the whole chain, published now.
    let h = env.ok(
        T0,
        &["audit", "head", "--signing-key", KEY, "--issuer", "ops"],
    );
    assert_eq!(h["seq"], n);
    let head_file = env.path("head.jws");
    std::fs::write(&head_file, h["head"].as_str().unwrap()).unwrap();
    let with_head = ["--head", head_file.as_str(), "--head-key", PUBLIC_KEY];
    let v = env.ok(
        T0,
        &[
            "audit",
            "verify",
            "--head",
            &head_file,
            "--head-key",
            PUBLIC_KEY,
        ],
    );
    assert_eq!(v["entries"], n);

    let db = sql(&env);
    // Edited: one entry's body changed.
    let body: String = db
        .query_row("SELECT body FROM mfa_audit WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    db.execute(
        "UPDATE mfa_audit SET body = replace(body, 'alice', 'mallory') WHERE seq = 2",
        [],
    )
    .unwrap();
    assert_eq!(
        broken(&env, &[]),
        serde_json::json!({"problem": "edited", "seq": 2})
    );
    db.execute("UPDATE mfa_audit SET body = ?1 WHERE seq = 2", [&body])
        .unwrap();
    env.ok(T0, &["audit", "verify"]);

    // Reordered: entries 3 and 4 swap places.
    let swap = "UPDATE mfa_audit SET seq = -1 WHERE seq = 3; \
                UPDATE mfa_audit SET seq = 3 WHERE seq = 4; \
                UPDATE mfa_audit SET seq = 4 WHERE seq = -1;";
    db.execute_batch(swap).unwrap();
    assert_eq!(
        broken(&env, &[]),
        serde_json::json!({"problem": "reordered", "seq": 3})
    );
    db.execute_batch(swap).unwrap();
    env.ok(T0, &["audit", "verify"]);

    // Deleted: entry 2 is gone.
    db.execute_batch(
        "CREATE TEMP TABLE saved AS SELECT * FROM mfa_audit WHERE seq = 2; \
         DELETE FROM mfa_audit WHERE seq = 2;",
    )
    .unwrap();
    assert_eq!(
        broken(&env, &[]),
        serde_json::json!({"problem": "deleted", "from": 2, "to": 2})
    );
    db.execute_batch("INSERT INTO mfa_audit SELECT * FROM saved;")
        .unwrap();
    env.ok(T0, &["audit", "verify"]);

    // Truncated: the newest entry removed leaves a valid chain, but not the signed head.
    db.execute(
        "DELETE FROM mfa_audit WHERE seq = ?1",
        [i64::try_from(n).unwrap()],
    )
    .unwrap();
    env.ok(T0, &["audit", "verify"]);
    assert_eq!(
        broken(&env, &with_head),
        serde_json::json!({"problem": "truncated", "last": n - 1, "head": n})
    );
    // A head signed by another key is refused outright.
    bad(
        &env.at(
            T0,
            &["audit", "verify", "--head", &head_file, "--head-key", KEY],
        ),
        "signed head",
    );
}
