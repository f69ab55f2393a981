//! The command line (where the demo keeps its state and how it is reached) and building
//! the app from it.

use super::*;

/// Where the demo keeps its state and how it is reached.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// The port of `http://localhost:PORT`, the origin WebAuthn checks.
    pub(crate) port: u16,
    /// The user name of the administrator.
    pub(crate) admin: String,
    /// The key file, and the SQLite file unless `database_url` is set.
    pub(crate) data_dir: PathBuf,
    /// A `postgres://` URL: the database instead of the SQLite file.
    pub(crate) database_url: Option<String>,
}

impl Config {
    /// The defaults of `cargo run --example web_demo`, on `data_dir`.
    pub(crate) fn new(port: u16, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            port,
            admin: "admin".into(),
            data_dir: data_dir.into(),
            database_url: None,
        }
    }
}

/// `$XDG_DATA_HOME/mfa-web-demo`, else `$HOME/.local/share/mfa-web-demo`, else
/// `./mfa-web-demo-data`.
pub(super) fn default_data_dir() -> PathBuf {
    let nonempty = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    nonempty("XDG_DATA_HOME")
        .map(|d| d.join("mfa-web-demo"))
        .or_else(|| nonempty("HOME").map(|h| h.join(".local/share/mfa-web-demo")))
        .unwrap_or_else(|| PathBuf::from("mfa-web-demo-data"))
}

pub(super) fn usage() -> String {
    format!(
        "usage: web_demo [--port PORT] [--admin USERNAME] [--data-dir DIR] [--database-url URL]

  --port PORT          listen on 127.0.0.1:PORT, open http://localhost:PORT/ (default 8080)
  --admin USERNAME     the user who sees /admin (default admin)
  --data-dir DIR       the key file keys.json (0600) and, without --database-url, the
                       SQLite database {SQLITE_FILE}; created on first start
                       (default {})
  --database-url URL   postgres://user@host:port/db: keep the data in PostgreSQL instead
                       of SQLite (mfa-store's tables and the demo's demo_* tables; put
                       them in a schema with ?options=-c%20search_path%3DNAME). The key
                       file stays in --data-dir.

Accounts, factors, remembered devices and the audit log survive a restart; sessions
are in memory, so a restart signs everyone out.",
        default_data_dir().display()
    )
}

pub(crate) enum Parsed {
    Run(Config),
    Help,
}

pub(crate) fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut config = Config::new(8080, default_data_dir());
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                config.port = it
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a number")?;
            }
            "--admin" => config.admin = it.next().ok_or("--admin needs a user name")?,
            "--data-dir" => {
                config.data_dir = it.next().ok_or("--data-dir needs a directory")?.into();
            }
            "--database-url" => {
                let url = it.next().ok_or("--database-url needs a postgres:// URL")?;
                let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
                if !matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
                    return Err(
                        "--database-url takes a postgres:// URL (SQLite is the default, under --data-dir)"
                            .into(),
                    );
                }
                config.database_url = Some(url);
            }
            "--help" | "-h" => return Ok(Parsed::Help),
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(Parsed::Run(config))
}

/// Opens the stores the configuration names (creating the data directory, key file and
/// tables on first start) and builds the app.
pub(crate) async fn build_app(config: &Config) -> Result<Arc<App>, Box<dyn std::error::Error>> {
    let origin = format!("http://localhost:{}", config.port);
    keys::ensure_dir(&config.data_dir)?;
    let keys = keys::load_or_create(&config.data_dir)?;
    let (store, db) = match &config.database_url {
        Some(url) => (AnyStore::open(url).await?, Db::open_postgres(url).await?),
        None => {
            let file = config.data_dir.join(SQLITE_FILE);
            let url = format!("sqlite://{}", file.display());
            (AnyStore::open(&url).await?, Db::open_sqlite(&file).await?)
        }
    };
    if db.key_check(&keys.check).await? != keys.check {
        return Err(format!(
            "the key file {} is not the one this database was created with: its sealed \
             factors would not open. Use the data directory it belongs to, or a new database.",
            config.data_dir.join(keys::KEY_FILE).display()
        )
        .into());
    }
    let audit = Arc::new(DbAudit::start(db.clone()));
    let outbox = oob::Outbox::open(&config.data_dir.join("outbox"))?;
    let phone = Arc::new(oob::PhoneInbox::default());
    // mfa-oob's templates bind SMS codes to a host name with a dot (WebOTP's
    // `@host #code` line); `localhost` has none, so the demo's texts name
    // `demo.localhost`.
    let templates = mfa::oob::Templates::new("mfa-rs demo bank", "demo.localhost")?;
    // The resend cooldown is 5 s instead of mfa-oob's 30 s, so a walk through the demo
    // (enroll by SMS, then sign in with SMS) does not wait; the hourly caps are mfa-oob's.
    let limits = mfa::oob::SendLimits::new()
        .with_allowed_country_codes([1, 33, 44, 49])?
        .with_cooldown(Duration::from_secs(5));
    let codes = mfa::oob::OobCodes::new(
        keys.oob,
        mfa::oob::OobConfig::new(templates).with_limits(limits),
    )?;
    let policy = Policy::from_toml(POLICY)?.with_device_key(keys.device);
    let rp = RelyingParty::builder("localhost", "mfa-rs web demo")
        .origin(origin.as_str())
        .build()?;
    let svc = Service::builder(store)
        .policy(policy)
        .keys(keys.data)
        .issuer("mfa-rs demo")
        .relying_party(rp, UserVerification::Preferred)
        .recovery(keys.pepper, RecoveryConfig::default())
        .audit(audit.clone())
        .sender(Arc::clone(&outbox.sender))
        .oob_codes(codes)
        .push(
            mfa::oob::PushFactor::new(mfa::oob::PushConfig::default()),
            Arc::clone(&phone),
        )
        .build()?;
    Ok(Arc::new(App {
        svc,
        db,
        audit,
        outbox,
        phone,
        clock: SystemClock,
        sessions: Mutex::new(HashMap::new()),
        password_failures: Mutex::new(HashMap::new()),
        origin,
        admin: config.admin.clone(),
    }))
}
