//! The command line (where the demo keeps its state and how it is reached) and building
//! the app from it.

use super::*;

/// Where the demo keeps its state and how it is reached.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// The port of `http://localhost:PORT`, the origin WebAuthn checks.
    pub(crate) port: u16,
    /// The key file, and the SQLite file unless `database_url` is set.
    pub(crate) data_dir: PathBuf,
    /// A `postgres://` URL: the database instead of the SQLite file.
    pub(crate) database_url: Option<String>,
    /// The sessions' idle and absolute timeouts.
    pub(crate) session_limits: SessionLimits,
}

impl Config {
    /// The defaults of `cargo run -p mfa-web-demo`, on `data_dir`.
    pub(crate) fn new(port: u16, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            port,
            data_dir: data_dir.into(),
            database_url: None,
            session_limits: SessionLimits::DEFAULT,
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
        "usage: web_demo [--port PORT] [--data-dir DIR] [--database-url URL]
                [--session-idle SECONDS] [--session-lifetime SECONDS]
       web_demo grant-admin USERNAME [--data-dir DIR] [--database-url URL]
       web_demo revoke-admin USERNAME [--data-dir DIR] [--database-url URL]

  --port PORT          listen on 127.0.0.1:PORT, open http://localhost:PORT/ (default 8080)
  --data-dir DIR       the key file keys.json (0600) and, without --database-url, the
                       SQLite database {SQLITE_FILE}; created on first start
                       (default {})
  --database-url URL   postgres://user@host:port/db: keep the data in PostgreSQL instead
                       of SQLite (mfa-store's tables and the demo's demo_* tables; put
                       them in a schema with ?options=-c%20search_path%3DNAME). The key
                       file stays in --data-dir.
  --session-idle SECONDS      a session ends after this long without a request
                              (default {idle}, 30 minutes)
  --session-lifetime SECONDS  a session ends this long after its sign-in, however
                              active (default {lifetime}, 12 hours)

  grant-admin USERNAME   make an existing account an administrator (it sees /admin:
                         users, audit log, MFA reset, unlock), in the database the
                         other options name; works while the demo runs. Signing up
                         never makes an administrator, whatever the name.
  revoke-admin USERNAME  take that right away again.

Accounts, factors, remembered devices, sessions (by the SHA-256 of their id) and the
audit log survive a restart.",
        default_data_dir().display(),
        idle = SessionLimits::DEFAULT.idle.as_secs(),
        lifetime = SessionLimits::DEFAULT.lifetime.as_secs(),
    )
}

pub(crate) enum Parsed {
    /// Serve the demo.
    Run(Config),
    /// `grant-admin` (`grant`) or `revoke-admin` `user` in the configuration's database.
    Admin {
        config: Config,
        user: String,
        grant: bool,
    },
    Help,
}

pub(crate) fn parse_args(it: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut it = it.peekable();
    let admin = match it.peek().map(String::as_str) {
        Some("grant-admin") => Some(true),
        Some("revoke-admin") => Some(false),
        _ => None,
    };
    let admin = match admin {
        Some(grant) => {
            it.next();
            let user = it
                .next()
                .filter(|u| !u.starts_with('-'))
                .ok_or("grant-admin and revoke-admin need a user name")?;
            Some((user, grant))
        }
        None => None,
    };
    let mut config = Config::new(8080, default_data_dir());
    let seconds = |v: Option<String>, flag: &str| {
        v.and_then(|v| v.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .map(Duration::from_secs)
            .ok_or(format!("{flag} needs a number of seconds above 0"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                config.port = it
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a number")?;
            }
            "--session-idle" => {
                config.session_limits.idle = seconds(it.next(), "--session-idle")?;
            }
            "--session-lifetime" => {
                config.session_limits.lifetime = seconds(it.next(), "--session-lifetime")?;
            }
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
    Ok(match admin {
        Some((user, grant)) => Parsed::Admin {
            config,
            user,
            grant,
        },
        None => Parsed::Run(config),
    })
}

/// `grant-admin` / `revoke-admin`: marks an existing account an administrator or not,
/// in the database `config` names. Returns the sentence to print.
///
/// # Errors
///
/// No database there yet, no such account, or a database failure.
pub(crate) async fn set_admin(
    config: &Config,
    user: &str,
    grant: bool,
) -> Result<String, Box<dyn std::error::Error>> {
    let db = match &config.database_url {
        Some(url) => Db::open_postgres(url).await?,
        None => {
            let file = config.data_dir.join(SQLITE_FILE);
            if !file.exists() {
                return Err(format!("no demo database at {}", file.display()).into());
            }
            Db::open_sqlite(&file).await?
        }
    };
    if !valid_username(user) || db.user(user).await?.is_none() {
        return Err(format!("no account named {user:?}: sign up first, then grant").into());
    }
    let changed = db.set_admin(user, grant).await?;
    Ok(match (grant, changed) {
        (true, true) => format!("{user} is now an administrator"),
        (true, false) => format!("{user} was already an administrator"),
        (false, true) => format!("{user} is no longer an administrator"),
        (false, false) => format!("{user} was not an administrator"),
    })
}

/// Opens the stores the configuration names (creating the data directory, key file and
/// tables on first start) and builds the app.
pub(crate) async fn build_app(config: &Config) -> Result<Arc<App>, Box<dyn std::error::Error>> {
    build_app_with_clock(config, Arc::new(SystemClock)).await
}

/// [`build_app`] with the sessions' timeouts read on `session_clock` (a test's
/// `FixedClock`).
pub(crate) async fn build_app_with_clock(
    config: &Config,
    session_clock: Arc<dyn Clock>,
) -> Result<Arc<App>, Box<dyn std::error::Error>> {
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
    let codes = mfa::oob::OobFactor::new(
        keys.oob,
        mfa::oob::OobConfig::new(templates).with_limits(limits),
    );
    let policy = Policy::from_toml(POLICY)?.with_device_key(keys.device);
    let rp = RelyingParty::builder("localhost", "mfa-rs web demo")
        .origin(origin.as_str())
        .build()?;
    let svc = Service::builder(store, policy, keys.data)
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
    let app = Arc::new(App {
        svc,
        db,
        audit,
        outbox,
        phone,
        clock: SystemClock,
        session_clock,
        session_limits: config.session_limits,
        sessions: Mutex::new(HashMap::new()),
        password_failures: Mutex::new(HashMap::new()),
        origin,
    });
    // The sessions that expired while the demo was stopped go now, the rest as they
    // expire.
    app.sweep_sessions().await?;
    sessions::start_sweeper(&app);
    Ok(app)
}
