//! The demo's own tables, next to mfa-store's in the same database: accounts (Argon2id
//! hashes), the recovery-code hints the account page lists, the audit log the admin
//! page reads, and a check value that ties the database to its key file.
//!
//! SQLite (`rusqlite`, the file mfa-store's `SqliteStore` uses, a connection of its
//! own) or PostgreSQL (`tokio-postgres` through a small `deadpool` pool, the URL
//! mfa-store's `PostgresStore` uses, so the same database and `search_path`). Every
//! table name starts with `demo_`; mfa-store's start with `mfa_`.
//!
//! Schema (created when missing, in one transaction; in PostgreSQL under an advisory
//! lock, so two demos starting together create it once):
//!
//! | table | columns |
//! | --- | --- |
//! | `demo_users` | `username` (primary key), `salt`, `hash` (Argon2id output), `m_cost`, `t_cost`, `p_cost` (its parameters, so a change of defaults never breaks old hashes), `created_at` |
//! | `demo_recovery_hints` | `(username, position)` primary key, `hint` (the code's first four symbols), `digest` (SHA-256 of the code), `used` |
//! | `demo_audit` | `id` (increasing), `at` (Unix seconds), `event` (the service's `AuditEvent` as JSON: ids, kinds, times, never a secret) |
//! | `demo_meta` | `name` (primary key), `value`: `key_check`, a digest of the key file's data key |
//! | `demo_admins` | `username` (primary key): the administrators, set only by `web_demo grant-admin` / `revoke-admin` on the command line |
//! | `demo_sessions` | `id_hash` (primary key: SHA-256 of the session cookie's value, never the value), `username`, `stage`, `session` (mfa-policy's `Session` as JSON: methods, factor ids, times), `created_at`, `last_seen` (Unix seconds) |
//!
//! Only signed-in sessions (a password or a passkey accepted) are stored; an anonymous
//! one lives in memory until it signs in. A session past its idle or absolute timeout
//! is refused and deleted when presented, and swept every few minutes.
//!
//! A recovery code has 120 random bits; the hint shows 20 of them, so the digest of the
//! other 100 is no shortcut to a code. The service's own check of a code needs the
//! pepper in the key file anyway.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A database failure: the driver's message, for the operator's terminal (never a
/// secret: statements carry their values as parameters, and messages name no value).
#[derive(Debug)]
pub(crate) struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "demo database: {}", self.0)
    }
}

impl std::error::Error for DbError {}

pub(crate) fn err(e: impl std::fmt::Display) -> DbError {
    DbError(e.to_string())
}

/// A password hash and the Argon2id parameters it was made with.
#[derive(Clone, Debug)]
pub(crate) struct PasswordRecord {
    pub(crate) salt: [u8; 16],
    pub(crate) hash: [u8; 32],
    pub(crate) m_cost: u32,
    pub(crate) t_cost: u32,
    pub(crate) p_cost: u32,
}

/// One recovery code as the account page lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CodeHint {
    pub(crate) hint: String,
    pub(crate) digest: [u8; 32],
    pub(crate) used: bool,
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS demo_users (
    username   TEXT PRIMARY KEY,
    salt       BLOB NOT NULL,
    hash       BLOB NOT NULL,
    m_cost     INTEGER NOT NULL,
    t_cost     INTEGER NOT NULL,
    p_cost     INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS demo_recovery_hints (
    username TEXT NOT NULL REFERENCES demo_users (username),
    position INTEGER NOT NULL,
    hint     TEXT NOT NULL,
    digest   BLOB NOT NULL,
    used     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (username, position)
);
CREATE TABLE IF NOT EXISTS demo_audit (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    at    INTEGER NOT NULL,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS demo_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS demo_admins (
    username TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS demo_sessions (
    id_hash    BLOB PRIMARY KEY,
    username   TEXT NOT NULL,
    stage      TEXT NOT NULL,
    session    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS demo_sessions_username ON demo_sessions (username);
";

const POSTGRES_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS demo_users (
    username   TEXT PRIMARY KEY,
    salt       BYTEA NOT NULL,
    hash       BYTEA NOT NULL,
    m_cost     BIGINT NOT NULL,
    t_cost     BIGINT NOT NULL,
    p_cost     BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS demo_recovery_hints (
    username TEXT NOT NULL REFERENCES demo_users (username),
    position INTEGER NOT NULL,
    hint     TEXT NOT NULL,
    digest   BYTEA NOT NULL,
    used     BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (username, position)
);
CREATE TABLE IF NOT EXISTS demo_audit (
    id    BIGSERIAL PRIMARY KEY,
    at    BIGINT NOT NULL,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS demo_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS demo_admins (
    username TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS demo_sessions (
    id_hash    BYTEA PRIMARY KEY,
    username   TEXT NOT NULL,
    stage      TEXT NOT NULL,
    session    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS demo_sessions_username ON demo_sessions (username);
";

/// A `demo_users` row as read: salt, hash, m_cost, t_cost, p_cost.
type RawRecord = (Vec<u8>, Vec<u8>, i64, i64, i64);

/// The demo's database. Cloning shares the connection or pool.
#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    Postgres(deadpool_postgres::Pool),
}

fn bytes<const N: usize>(v: &[u8]) -> Result<[u8; N], DbError> {
    v.try_into()
        .map_err(|_| DbError("a stored value has the wrong length".into()))
}

fn cost(v: i64) -> Result<u32, DbError> {
    u32::try_from(v).map_err(|_| DbError("a stored Argon2 parameter is out of range".into()))
}

pub(crate) fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Db {
    /// Opens (creating) the SQLite file at `path` and its tables.
    pub(crate) async fn open_sqlite(path: &Path) -> Result<Self, DbError> {
        let path = path.to_owned();
        let conn = tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open(&path).map_err(err)?;
            conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
            let _mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(err)?;
            conn.execute_batch(&format!(
                "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
                 BEGIN IMMEDIATE; {SQLITE_SCHEMA} COMMIT;"
            ))
            .map_err(err)?;
            Ok::<_, DbError>(conn)
        })
        .await
        .map_err(err)??;
        Ok(Self::Sqlite(Arc::new(Mutex::new(conn))))
    }

    /// Connects a pool to `url` and creates the tables.
    pub(crate) async fn open_postgres(url: &str) -> Result<Self, DbError> {
        let config: tokio_postgres::Config = url.parse().map_err(err)?;
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(4)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(err)?;
        let mut client = pool.get().await.map_err(err)?;
        let tx = client.transaction().await.map_err(err)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':demo'))",
            &[],
        )
        .await
        .map_err(err)?;
        tx.batch_execute(POSTGRES_SCHEMA).await.map_err(err)?;
        tx.commit().await.map_err(err)?;
        drop(client);
        Ok(Self::Postgres(pool))
    }

    /// Runs `f` on the SQLite connection, on the blocking pool.
    pub(crate) async fn lite<T: Send + 'static>(
        conn: &Arc<Mutex<rusqlite::Connection>>,
        f: impl FnOnce(&mut rusqlite::Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, DbError> {
        let conn = Arc::clone(conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard).map_err(err)
        })
        .await
        .map_err(err)?
    }

    pub(crate) async fn pg(
        pool: &deadpool_postgres::Pool,
    ) -> Result<deadpool_postgres::Object, DbError> {
        pool.get().await.map_err(err)
    }

    /// Adds an account; `false` when the name is taken.
    pub(crate) async fn insert_user(
        &self,
        name: &str,
        rec: &PasswordRecord,
        now: u64,
    ) -> Result<bool, DbError> {
        let (name, rec) = (name.to_owned(), rec.clone());
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    let n = c.execute(
                        "INSERT INTO demo_users (username, salt, hash, m_cost, t_cost, p_cost, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (username) DO NOTHING",
                        rusqlite::params![
                            name,
                            &rec.salt[..],
                            &rec.hash[..],
                            rec.m_cost,
                            rec.t_cost,
                            rec.p_cost,
                            secs(now)
                        ],
                    )?;
                    Ok(n == 1)
                })
                .await
            }
            Self::Postgres(p) => {
                let n = Self::pg(p)
                    .await?
                    .execute(
                        "INSERT INTO demo_users (username, salt, hash, m_cost, t_cost, p_cost, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (username) DO NOTHING",
                        &[
                            &name,
                            &&rec.salt[..],
                            &&rec.hash[..],
                            &i64::from(rec.m_cost),
                            &i64::from(rec.t_cost),
                            &i64::from(rec.p_cost),
                            &secs(now),
                        ],
                    )
                    .await
                    .map_err(err)?;
                Ok(n == 1)
            }
        }
    }

    /// An account's password record.
    pub(crate) async fn user(&self, name: &str) -> Result<Option<PasswordRecord>, DbError> {
        let name = name.to_owned();
        let raw: Option<RawRecord> = match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    use rusqlite::OptionalExtension as _;
                    c.query_row(
                    "SELECT salt, hash, m_cost, t_cost, p_cost FROM demo_users WHERE username = ?1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()
                })
                .await?
            }
            Self::Postgres(p) => Self::pg(p)
                .await?
                .query_opt(
                    "SELECT salt, hash, m_cost, t_cost, p_cost FROM demo_users WHERE username = $1",
                    &[&name],
                )
                .await
                .map_err(err)?
                .map(|r| {
                    Ok::<_, tokio_postgres::Error>((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        r.try_get(4)?,
                    ))
                })
                .transpose()
                .map_err(err)?,
        };
        raw.map(|(salt, hash, m, t, p)| {
            Ok(PasswordRecord {
                salt: bytes(&salt)?,
                hash: bytes(&hash)?,
                m_cost: cost(m)?,
                t_cost: cost(t)?,
                p_cost: cost(p)?,
            })
        })
        .transpose()
    }

    /// Every account name, sorted.
    pub(crate) async fn usernames(&self) -> Result<Vec<String>, DbError> {
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, |c| {
                    let mut st = c.prepare("SELECT username FROM demo_users ORDER BY username")?;
                    st.query_map([], |r| r.get(0))?.collect()
                })
                .await
            }
            Self::Postgres(p) => Self::pg(p)
                .await?
                .query("SELECT username FROM demo_users ORDER BY username", &[])
                .await
                .map_err(err)?
                .iter()
                .map(|r| r.try_get(0).map_err(err))
                .collect(),
        }
    }

    /// Replaces an account's recovery-code hints (an empty list clears them), in one
    /// transaction.
    pub(crate) async fn replace_codes(
        &self,
        name: &str,
        codes: &[CodeHint],
    ) -> Result<(), DbError> {
        let (name, codes) = (name.to_owned(), codes.to_vec());
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    let tx =
                        c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    tx.execute(
                        "DELETE FROM demo_recovery_hints WHERE username = ?1",
                        [&name],
                    )?;
                    for (i, h) in codes.iter().enumerate() {
                        tx.execute(
                        "INSERT INTO demo_recovery_hints (username, position, hint, digest, used)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        rusqlite::params![
                            name,
                            i64::try_from(i).unwrap_or(i64::MAX),
                            h.hint,
                            &h.digest[..],
                            h.used
                        ],
                    )?;
                    }
                    tx.commit()
                })
                .await
            }
            Self::Postgres(p) => {
                let mut client = Self::pg(p).await?;
                let tx = client.transaction().await.map_err(err)?;
                tx.execute(
                    "DELETE FROM demo_recovery_hints WHERE username = $1",
                    &[&name],
                )
                .await
                .map_err(err)?;
                for (i, h) in codes.iter().enumerate() {
                    let pos = i32::try_from(i).unwrap_or(i32::MAX);
                    tx.execute(
                        "INSERT INTO demo_recovery_hints (username, position, hint, digest, used)
                         VALUES ($1, $2, $3, $4, $5)",
                        &[&name, &pos, &h.hint, &&h.digest[..], &h.used],
                    )
                    .await
                    .map_err(err)?;
                }
                tx.commit().await.map_err(err)
            }
        }
    }

    /// An account's recovery-code hints, in the order shown when generated.
    pub(crate) async fn codes(&self, name: &str) -> Result<Vec<CodeHint>, DbError> {
        let name = name.to_owned();
        let raw: Vec<(String, Vec<u8>, bool)> = match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    let mut st = c.prepare(
                        "SELECT hint, digest, used FROM demo_recovery_hints WHERE username = ?1 ORDER BY position",
                    )?;
                    st.query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                })
                .await?
            }
            Self::Postgres(p) => Self::pg(p)
                .await?
                .query(
                    "SELECT hint, digest, used FROM demo_recovery_hints WHERE username = $1 ORDER BY position",
                    &[&name],
                )
                .await
                .map_err(err)?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(err)?,
        };
        raw.into_iter()
            .map(|(hint, digest, used)| {
                Ok(CodeHint {
                    hint,
                    digest: bytes(&digest)?,
                    used,
                })
            })
            .collect()
    }

    /// Marks the hint whose digest is `digest` used.
    pub(crate) async fn mark_code_used(&self, name: &str, digest: [u8; 32]) -> Result<(), DbError> {
        let name = name.to_owned();
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    c.execute(
                        "UPDATE demo_recovery_hints SET used = 1 WHERE username = ?1 AND digest = ?2",
                        rusqlite::params![name, &digest[..]],
                    )
                    .map(drop)
                })
                .await
            }
            Self::Postgres(p) => Self::pg(p)
                .await?
                .execute(
                    "UPDATE demo_recovery_hints SET used = TRUE WHERE username = $1 AND digest = $2",
                    &[&name, &&digest[..]],
                )
                .await
                .map(drop)
                .map_err(err),
        }
    }

    /// Appends one audit event (its JSON).
    pub(crate) async fn append_audit(&self, at: u64, event: String) -> Result<(), DbError> {
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    c.execute(
                        "INSERT INTO demo_audit (at, event) VALUES (?1, ?2)",
                        rusqlite::params![secs(at), event],
                    )
                    .map(drop)
                })
                .await
            }
            Self::Postgres(p) => Self::pg(p)
                .await?
                .execute(
                    "INSERT INTO demo_audit (at, event) VALUES ($1, $2)",
                    &[&secs(at), &event],
                )
                .await
                .map(drop)
                .map_err(err),
        }
    }

    /// The newest `limit` audit events (their JSON), newest first.
    pub(crate) async fn audit(&self, limit: u32) -> Result<Vec<String>, DbError> {
        let limit = i64::from(limit);
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    let mut st =
                        c.prepare("SELECT event FROM demo_audit ORDER BY id DESC LIMIT ?1")?;
                    st.query_map([limit], |r| r.get(0))?.collect()
                })
                .await
            }
            Self::Postgres(p) => Self::pg(p)
                .await?
                .query(
                    "SELECT event FROM demo_audit ORDER BY id DESC LIMIT $1",
                    &[&limit],
                )
                .await
                .map_err(err)?
                .iter()
                .map(|r| r.try_get(0).map_err(err))
                .collect(),
        }
    }

    /// Records `check` as the database's key check if it has none; returns the one it
    /// has (equal to `check` on first use).
    pub(crate) async fn key_check(&self, check: &str) -> Result<String, DbError> {
        let check = check.to_owned();
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    c.execute(
                        "INSERT INTO demo_meta (name, value) VALUES ('key_check', ?1)
                         ON CONFLICT (name) DO NOTHING",
                        [&check],
                    )?;
                    c.query_row(
                        "SELECT value FROM demo_meta WHERE name = 'key_check'",
                        [],
                        |r| r.get(0),
                    )
                })
                .await
            }
            Self::Postgres(p) => {
                let client = Self::pg(p).await?;
                client
                    .execute(
                        "INSERT INTO demo_meta (name, value) VALUES ('key_check', $1)
                         ON CONFLICT (name) DO NOTHING",
                        &[&check],
                    )
                    .await
                    .map_err(err)?;
                client
                    .query_one("SELECT value FROM demo_meta WHERE name = 'key_check'", &[])
                    .await
                    .map_err(err)?
                    .try_get(0)
                    .map_err(err)
            }
        }
    }
}
