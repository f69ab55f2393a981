//! Secrets at rest, read from the SQL tables themselves: after a user enrolls TOTP, HOTP,
//! recovery codes, a security key, an SMS number and a push device (and leaves a
//! registration pending, so a challenge row exists), no table of SQLite or PostgreSQL holds any secret in any common encoding,
//! and every record and challenge column is an AES-256-GCM envelope with a key id.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mfa::envelope::FORMAT_AES256GCM_V1;
use mfa::oob::testkit::SoftwareDevice;
use mfa::otp::Secret;
use mfa_core::store::Store;
use mfa_core::{OsRandom, UserId};

use crate::common::{
    Harness, confirm_oob, enroll_push, enroll_totp, harness, register_key, right, start_oob,
    temp_db,
};
use crate::postgres::Schema;

/// What must never appear in a table.
struct Secrets(Vec<(String, Vec<u8>)>);

impl Secrets {
    fn add(&mut self, what: &str, raw: &[u8]) {
        assert!(raw.len() >= 8, "{what}: too short to search for");
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        for (form, bytes) in [
            ("raw", raw.to_vec()),
            ("hex", hex.into_bytes()),
            ("base64", STANDARD.encode(raw).into_bytes()),
            ("base64url", URL_SAFE_NO_PAD.encode(raw).into_bytes()),
        ] {
            self.0.push((format!("{what} ({form})"), bytes));
        }
    }

    fn add_text(&mut self, what: &str, text: &str) {
        self.0.push((what.to_owned(), text.as_bytes().to_vec()));
        let compact: String = text.chars().filter(char::is_ascii_alphanumeric).collect();
        self.0
            .push((format!("{what} (compact)"), compact.into_bytes()));
    }

    /// Panics naming the secret and where it was found.
    fn assert_absent(&self, place: &str, haystack: &[u8]) {
        for (what, needle) in &self.0 {
            assert!(!needle.is_empty(), "{what}: an empty secret");
            let lower = haystack.to_ascii_lowercase();
            let found = haystack
                .windows(needle.len())
                .any(|w| w == needle.as_slice())
                || lower
                    .windows(needle.len())
                    .any(|w| w == needle.to_ascii_lowercase().as_slice());
            assert!(!found, "{what} found in {place}");
        }
    }
}

/// Enrolls every kind the service stores a secret for; returns the secrets shown.
async fn enroll_everything<S: Store + 'static>(h: &Harness<S>) -> Secrets {
    let alice = UserId::new("alice").unwrap();
    let mut secrets = Secrets(Vec::new());
    let totp = enroll_totp(h, &alice).await;
    let secret = Secret::from_base32(&totp.secret_base32).unwrap();
    secrets.add("TOTP secret", secret.expose_secret());
    secrets.add_text("TOTP secret (base32)", &totp.secret_base32);
    h.clock.advance(std::time::Duration::from_secs(30));
    let session = right(h, &alice, &totp).await.unwrap().session;
    let hotp = h
        .service
        .start_hotp_enrollment(&alice, "token", &session)
        .await
        .unwrap();
    let hsecret = Secret::from_base32(&hotp.secret_base32).unwrap();
    secrets.add("HOTP secret", hsecret.expose_secret());
    secrets.add_text("HOTP secret (base32)", &hotp.secret_base32);
    let set = h
        .service
        .start_recovery_enrollment(&alice, &session)
        .await
        .unwrap();
    for c in &set.codes {
        secrets.add_text("a recovery code", c.expose_secret());
    }
    h.service
        .finish_recovery_enrollment(&alice, &set.factor_id)
        .await
        .unwrap();
    register_key(h, &alice, "key", &session).await;
    // An SMS number (its code hash lives in a sealed challenge until confirmed; the
    // number itself is the per-user lookup key, personal data rather than a secret) and
    // a push device, whose key the record holds.
    let sms = mfa::OobAddress::new(mfa_core::Channel::Sms, "+12015550123", None);
    let e = start_oob(h, &alice, sms, "sms", &session).await;
    confirm_oob(h, &alice, e, "+12015550123").await;
    let device =
        SoftwareDevice::new("phone", "push-token-for-the-raw-tables-test", &mut OsRandom).unwrap();
    let service = &*h.service;
    enroll_push([service, service], &alice, "push", &session, &device).await;
    secrets.add("the push device's key", &device.public_key().to_sec1());
    secrets.add_text(
        "the push device's token",
        "push-token-for-the-raw-tables-test",
    );
    // A second registration left pending: its challenge row stays in the table.
    let (_, pending) = h
        .service
        .start_webauthn_registration(&alice, "spare", None, &session)
        .await
        .unwrap();
    secrets.add("a pending registration's challenge", &pending.challenge.0);
    secrets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tables_hold_no_secret() {
    let path = temp_db("raw-tables");
    let dir = path.parent().unwrap().to_owned();
    let h = harness(mfa_store::SqliteStore::open(&path).await.unwrap());
    let secrets = enroll_everything(&h).await;
    drop(h);

    let db = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.iter().any(|t| t == "mfa_factors"), "{tables:?}");
    let mut cells = 0;
    for table in &tables {
        let mut stmt = db.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let bytes = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        t.to_vec()
                    }
                    other => format!("{other:?}").into_bytes(),
                };
                secrets.assert_absent(&format!("{table} column {i}"), &bytes);
                cells += 1;
            }
        }
    }
    assert!(cells > 50, "the tables were read ({cells} cells)");
    let sealed: Vec<(i64, Option<String>)> = db
        .prepare(
            "SELECT data_format, data_key_id FROM mfa_factors
             UNION ALL SELECT data_format, data_key_id FROM mfa_challenges",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sealed.len(), 6 + 1, "six factors and the pending challenge");
    for (format, key) in sealed {
        assert_eq!(format, i64::from(FORMAT_AES256GCM_V1));
        assert_eq!(key.as_deref(), Some("k1"));
    }
    drop(db);
    // And the database files as bytes (the write-ahead log included).
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        secrets.assert_absent(&p.display().to_string(), &std::fs::read(&p).unwrap());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tables_hold_no_secret() {
    let Some(db) = Schema::new("postgres_tables_hold_no_secret").await else {
        return;
    };
    let h = harness(db.store().await);
    let secrets = enroll_everything(&h).await;
    let client = db.client().await;
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
            &[&db.name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.iter().any(|t| t == "mfa_factors"), "{tables:?}");
    let mut rows = 0;
    for table in &tables {
        // Each row as PostgreSQL renders it: bytea columns in hex, text as is.
        for row in client
            .query(&format!("SELECT row_to_json(t)::text FROM {table} t"), &[])
            .await
            .unwrap()
        {
            let text: String = row.get(0);
            secrets.assert_absent(table, text.as_bytes());
            rows += 1;
        }
        // And the bytea columns as raw bytes.
        for col in client
            .query(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = $1 AND table_name = $2 AND data_type = 'bytea'",
                &[&db.name, table],
            )
            .await
            .unwrap()
        {
            let col: String = col.get(0);
            for row in client
                .query(
                    &format!("SELECT {col} FROM {table} WHERE {col} IS NOT NULL"),
                    &[],
                )
                .await
                .unwrap()
            {
                let bytes: Vec<u8> = row.get(0);
                secrets.assert_absent(&format!("{table}.{col}"), &bytes);
            }
        }
    }
    assert!(rows >= 6, "the tables were read ({rows} rows)");
    let sealed = client
        .query(
            "SELECT data_format, data_key_id FROM mfa_factors
             UNION ALL SELECT data_format, data_key_id FROM mfa_challenges",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(sealed.len(), 6 + 1, "six factors and the pending challenge");
    for row in sealed {
        let format: i32 = row.get(0);
        let key: Option<String> = row.get(1);
        assert_eq!(format, i32::from(FORMAT_AES256GCM_V1));
        assert_eq!(key.as_deref(), Some("k1"));
    }
}
