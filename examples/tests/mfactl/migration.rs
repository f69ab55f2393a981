//! `mfactl import` and `export`: dry runs, exit statuses, round trips.

use super::*;

const KEY32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// The number of factor rows in the test's SQLite file, read by the test itself.
fn factor_rows(env: &Env) -> i64 {
    let path = env.store.strip_prefix("sqlite://").unwrap();
    let db = rusqlite::Connection::open(path).unwrap();
    db.query_row("SELECT count(*) FROM mfa_factors", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn import_is_a_dry_run_until_write_and_imports_once() {
    let env = Env::new();
    let file = env.path("seeds.txt");
    std::fs::write(
        &file,
        format!(
            "otpauth://totp/ACME:alice?secret={KEY32}&issuer=ACME\n\
             otpauth://hotp/bob?secret={KEY32}&counter=3\n"
        ),
    )
    .unwrap();

    // Dry run (the default, and --dry-run): a report, exit 0, nothing in the table.
    for extra in [&[][..], &["--dry-run"][..]] {
        let mut args = vec!["import", "otpauth", &file];
        args.extend_from_slice(extra);
        let v = env.ok(T0, &args);
        assert_eq!(v["dry_run"], true, "{v}");
        assert_eq!(v["summary"]["would_import"], 2, "{v}");
        assert_eq!(v["records"][0]["new_user"], true, "{v}");
    }
    assert_eq!(factor_rows(&env), 0);

    let v = env.ok(T0, &["import", "otpauth", &file, "--write"]);
    assert_eq!(v["summary"]["imported"], 2, "{v}");
    assert_eq!(factor_rows(&env), 2);
    // Twice: nothing twice.
    let v = env.ok(T0, &["import", "otpauth", &file, "--write"]);
    assert_eq!(
        (&v["summary"]["imported"], &v["summary"]["already_imported"]),
        (&serde_json::json!(0), &serde_json::json!(2)),
        "{v}"
    );
    assert_eq!(factor_rows(&env), 2);

    // The imported TOTP factor is confirmed and verifies a code.
    let secret = Secret::from_base32(KEY32).unwrap();
    let ok = env.ok(
        T0,
        &["verify", "--user", "alice", "--code", &code(&secret, T0)],
    );
    assert_eq!(ok["ok"], true);
    // The HOTP one starts at counter 3.
    let hotp = mfa_otp::Hotp::new(&secret, mfa_otp::HotpParams::default());
    rejected(&env.at(
        T0,
        &["verify", "--user", "bob", "--code", hotp.code(2).as_str()],
    ));
    env.ok(
        T0,
        &["verify", "--user", "bob", "--code", hotp.code(3).as_str()],
    );
}

#[test]
fn import_exit_statuses_and_text_report() {
    let env = Env::new();
    let csv = env.path("seeds.csv");
    std::fs::write(
        &csv,
        format!(
            "user,type,secret,counter\n\
             alice,totp,{KEY32},\n\
             bob,hotp,{KEY32},\n\
             carol,totp,JBSWY3DPEHPK3PXP,\n"
        ),
    )
    .unwrap();
    // Rejected records: exit 1, the report on stdout (JSON: ok false), nothing on stderr.
    let o = env.at(T0, &["import", "csv", &csv, "--write"]);
    assert_eq!(o.status, 1, "{o:?}");
    let v = o.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["summary"]["imported"], 1, "{v}");
    assert_eq!(v["summary"]["rejected"], 2, "{v}");
    assert_eq!(v["records"][1]["status"], "rejected");
    assert!(
        v["records"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("counter")
    );
    assert_eq!(v["records"][2]["short_secret"], true);
    assert!(!o.stdout.contains(KEY32), "a secret was printed");
    assert_eq!(factor_rows(&env), 1);

    // --allow-short-secrets takes carol's legacy key.
    let o = env.at(
        T0,
        &["import", "csv", &csv, "--write", "--allow-short-secrets"],
    );
    assert_eq!(o.status, 1, "{o:?}"); // bob's row is still bad
    assert_eq!(o.json()["summary"]["imported"], 1);
    assert_eq!(factor_rows(&env), 2);

    // Text output names the record and the reason.
    let o = run(&[
        "--store", &env.store, "--keys", &env.keys, "import", "csv", &csv,
    ]);
    assert_eq!(o.status, 1, "{o:?}");
    assert!(
        o.stdout.contains("3 bob totp") || o.stdout.contains("3 bob"),
        "{o:?}"
    );
    assert!(o.stdout.contains("hotp needs a counter"), "{o:?}");

    // Bad input: exit 2.
    let missing = env.path("nope.csv");
    bad(&env.at(T0, &["import", "csv", &missing]), "nope.csv");
    let headerless = env.path("headerless.csv");
    std::fs::write(&headerless, format!("alice,totp,{KEY32}\n")).unwrap();
    bad(&env.at(T0, &["import", "csv", &headerless]), "csv header");
    let not_json = env.path("creds.json");
    std::fs::write(&not_json, "{").unwrap();
    bad(&env.at(T0, &["import", "webauthn", &not_json]), "json");
    bad(&env.at(T0, &["import", "pdf", &csv]), "invalid value");
}

#[test]
fn import_assigns_one_persons_export_to_a_user() {
    let env = Env::new();
    let file = env.path("export.txt");
    std::fs::write(&file, format!("otpauth://totp/Site:nick?secret={KEY32}\n")).unwrap();
    let v = env.ok(
        T0,
        &["import", "otpauth", &file, "--user", "zoe", "--write"],
    );
    assert_eq!(v["records"][0]["user"], "zoe");
    let list = env.ok(T0, &["list", "--user", "zoe"]);
    assert_eq!(list["factors"][0]["label"], "Site", "{list}");
}

#[test]
fn export_is_encrypted_and_imports_into_an_empty_store() {
    let env = Env::new();
    let (id, secret) = env.totp("alice");
    let _ = id;
    let psk = env.path("psk.hex");
    std::fs::write(&psk, "000102030405060708090a0b0c0d0e0f\n").unwrap();
    let out = env.path("export.pskc");

    // Always encrypted; never printed; never over a file.
    bad(
        &env.at(T0, &["export", "--user", "alice", "--out", &out]),
        "always encrypted",
    );
    bad(
        &env.at(
            T0,
            &[
                "export",
                "--user",
                "alice",
                "--out",
                "-",
                "--psk-file",
                &psk,
            ],
        ),
        "never printed",
    );
    let export: &[&str] = &[
        "export",
        "--user",
        "alice",
        "--out",
        &out,
        "--psk-file",
        &psk,
    ];
    let v = env.ok(T0, export);
    assert_eq!(v["otp"], 1, "{v}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("<pskc:Secret><pskc:EncryptedValue>")
            && !text.contains("<pskc:Secret><pskc:PlainValue>"),
        "{text}"
    );
    assert!(!text.contains(secret.to_base32().as_str()));
    bad(&env.at(T0, export), "export.pskc");

    // Into an empty store: a code one step later verifies there.
    let other = Env::new();
    let o = other.at(T0, &["import", "pskc", &out]);
    bad(&o, "encrypted");
    let v = other.ok(T0, &["import", "pskc", &out, "--psk-file", &psk, "--write"]);
    assert_eq!(v["summary"]["imported"], 1, "{v}");
    let later = T0 + 30;
    other.ok(
        later,
        &["verify", "--user", "alice", "--code", &code(&secret, later)],
    );

    // A password export, read back with the password.
    let pw = env.path("password.txt");
    std::fs::write(&pw, "correct horse battery staple\n").unwrap();
    let out2 = env.path("export2.pskc");
    env.ok(
        T0,
        &[
            "export",
            "--user",
            "alice",
            "--out",
            &out2,
            "--password-file",
            &pw,
            "--iterations",
            "100000",
        ],
    );
    let third = Env::new();
    let v = third.ok(T0, &["import", "pskc", &out2, "--password-file", &pw]);
    assert_eq!(v["summary"]["would_import"], 1, "{v}");
    let wrong = env.path("wrong.txt");
    std::fs::write(&wrong, "Tr0ub4dor&3\n").unwrap();
    let o = third.at(T0, &["import", "pskc", &out2, "--password-file", &wrong]);
    assert_ne!(o.status, 0, "{o:?}");
}
