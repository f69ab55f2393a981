//! The SQLite backend: one file, WAL mode, blocking calls on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, DeviceStore, FactorRecord, FactorStore,
    FailureKey, FailureStore, Failures, Generation, LookupKey, LookupScope, PendingChallenge,
    RememberedDevice, ResetSummary, StoreError, UserState, UserStore, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::sql::{
    self, CHALLENGE_COLUMNS, ChallengeRow, FACTOR_COLUMNS, FactorCols, FactorRow, Message, backend,
};

mod attempt;
mod journal;
mod state;

/// The migrations, in order: `(version, description, SQL)`.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "factors, challenges, failures, users, devices",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "when each failure counter lapses, for the purge",
        include_str!("../migrations/sqlite/0002_failure_lapse.sql"),
    ),
    (
        3,
        "the journal: audit hash chain, its head, the outbox",
        include_str!("../migrations/sqlite/0003_journal.sql"),
    ),
];

/// How long a statement waits for another connection's write lock before failing with
/// [`StoreError::Backend`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`](mfa_core::store::Store) in one SQLite file: embedded, persistent, for a
/// single service instance (several processes on one file work too, through SQLite's
/// file locks, but not over a network file system).
///
/// The file is in WAL mode (readers do not block the writer). Every write that must be
/// atomic runs in a `BEGIN IMMEDIATE` transaction, which takes the write lock before
/// reading, so a compare-and-swap, a take or an increment cannot interleave with another
/// connection's. Versions come from a one-row sequence table updated in the same
/// transaction. Calls run on tokio's blocking pool (`spawn_blocking`), never on the
/// async executor; one store holds one connection, so its calls are serialised (SQLite
/// has one writer anyway). Cloning shares the connection.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

fn lite(e: rusqlite::Error) -> StoreError {
    backend(e)
}

fn corrupt(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, switches it to WAL and
    /// applies pending migrations, on the blocking pool.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the file cannot be opened or migrated.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(backend)?
    }

    /// [`SqliteStore::open`] on the calling thread (for synchronous setup code).
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`].
    pub fn open_blocking(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(lite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(lite)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(lite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(backend(Message("the database does not support WAL mode")));
        }
        // FULL: a committed write survives a power cut, not only a process crash.
        conn.execute_batch("PRAGMA synchronous = FULL")
            .map_err(lite)?;
        migrate_conn(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies the migrations the file has not seen, in one `BEGIN IMMEDIATE`
    /// transaction, recording each in `mfa_schema_version`; returns the schema version.
    /// [`SqliteStore::open`] already calls it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when a statement fails (nothing of the migration stays).
    pub async fn migrate(&self) -> Result<i32, StoreError> {
        self.run(migrate_conn).await
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(backend)?
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, committed when `f` returns `Ok` and
    /// rolled back otherwise.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(lite)?;
            let out = f(&tx)?;
            tx.commit().map_err(lite)?;
            Ok(out)
        })
        .await
    }
}

fn migrate_conn(conn: &mut Connection) -> Result<i32, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(lite)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS mfa_schema_version (
             version     INTEGER PRIMARY KEY,
             description TEXT    NOT NULL,
             applied_at  INTEGER NOT NULL DEFAULT (unixepoch())
         )",
    )
    .map_err(lite)?;
    let mut current: i32 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM mfa_schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(lite)?;
    for &(version, description, sql) in MIGRATIONS {
        if version <= current {
            continue;
        }
        tx.execute_batch(sql).map_err(lite)?;
        tx.execute(
            "INSERT INTO mfa_schema_version (version, description) VALUES (?1, ?2)",
            params![version, description],
        )
        .map_err(lite)?;
        current = version;
    }
    tx.commit().map_err(lite)?;
    Ok(current)
}

/// The next version from the sequence row, in the caller's transaction.
fn next_version(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    tx.query_row(
        "UPDATE mfa_sequence SET value = value + 1 WHERE id = 1 RETURNING value",
        [],
        |r| r.get(0),
    )
    .map_err(lite)
}

/// A unique index (or primary key) refused the write; other constraint failures (a
/// trigger's `RAISE`, a `CHECK`) are backend errors.
fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

fn factor_row(row: &Row<'_>) -> rusqlite::Result<FactorRow> {
    Ok(FactorRow {
        user_id: row.get(0)?,
        factor_id: row.get(1)?,
        version: row.get(2)?,
        kind: row.get(3)?,
        label: row.get(4)?,
        confirmed: row.get(5)?,
        created_at: row.get(6)?,
        last_used_at: row.get(7)?,
        lookup_scope: row.get(8)?,
        lookup_namespace: row.get(9)?,
        lookup_value: row.get(10)?,
        data_format: row.get(11)?,
        data_key_id: row.get(12)?,
        data: row.get(13)?,
    })
}

fn challenge_row(row: &Row<'_>) -> rusqlite::Result<ChallengeRow> {
    Ok(ChallengeRow {
        id: row.get(0)?,
        owner: row.get(1)?,
        factor_id: row.get(2)?,
        version: row.get(3)?,
        data_format: row.get(4)?,
        data_key_id: row.get(5)?,
        data: row.get(6)?,
        expires_at: row.get(7)?,
    })
}

const DEVICE_COLUMNS: &str = "user_id, device_id, label, generation, created_at, expires_at";

type DeviceRow = (String, String, String, i64, i64, i64);

fn device_row(row: &Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn decode_device(r: DeviceRow) -> Result<RememberedDevice, StoreError> {
    let (user, id, label, generation, created_at, expires_at) = r;
    let user = UserId::new(user).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let d = RememberedDevice::new(
        user,
        id,
        sql::generation(generation)?,
        sql::timestamp(created_at, "created_at")?,
        sql::timestamp(expires_at, "expires_at")?,
    )
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(d.with_label(label))
}

/// Writes the factor columns of `c` with `version` into a fresh row (`insert`) or over
/// the row at `expected`; returns the number of rows written.
fn write_factor(
    tx: &Transaction<'_>,
    c: &FactorCols,
    version: i64,
    expected: Option<i64>,
) -> Result<usize, StoreError> {
    let sql = if expected.is_some() {
        "UPDATE mfa_factors SET version = ?3, kind = ?4, label = ?5, confirmed = ?6, \
         created_at = ?7, last_used_at = ?8, lookup_scope = ?9, lookup_namespace = ?10, \
         lookup_value = ?11, lookup_owner = ?12, data_format = ?13, data_key_id = ?14, \
         data = ?15 WHERE user_id = ?1 AND factor_id = ?2 AND version = ?16"
    } else {
        "INSERT INTO mfa_factors (user_id, factor_id, version, kind, label, confirmed, \
         created_at, last_used_at, lookup_scope, lookup_namespace, lookup_value, lookup_owner, \
         data_format, data_key_id, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
         ?11, ?12, ?13, ?14, ?15)"
    };
    let mut stmt = tx.prepare_cached(sql).map_err(lite)?;
    let base = params![
        c.user_id,
        c.factor_id,
        version,
        c.kind,
        c.label,
        c.confirmed,
        c.created_at,
        c.last_used_at,
        c.lookup_scope(),
        c.lookup_namespace(),
        c.lookup_value(),
        c.lookup_owner(),
        c.data_format,
        c.data_key_id,
        c.data,
    ];
    let result = match expected {
        Some(e) => {
            let mut all: Vec<&dyn rusqlite::ToSql> = base.to_vec();
            all.push(&e);
            stmt.execute(all.as_slice())
        }
        None => stmt.execute(base),
    };
    match result {
        Ok(n) => Ok(n),
        // The primary key is checked before; what is left is the lookup-key index.
        Err(e) if is_unique_violation(&e) => Err(StoreError::LookupKeyTaken),
        Err(e) => Err(lite(e)),
    }
}

fn factor_exists(tx: &Transaction<'_>, user: &str, id: &str) -> Result<bool, StoreError> {
    tx.prepare_cached("SELECT 1 FROM mfa_factors WHERE user_id = ?1 AND factor_id = ?2")
        .map_err(lite)?
        .exists(params![user, id])
        .map_err(lite)
}

pub(crate) fn insert_factor_tx(
    tx: &Transaction<'_>,
    c: &FactorCols,
) -> Result<Version, StoreError> {
    if factor_exists(tx, &c.user_id, &c.factor_id)? {
        return Err(StoreError::AlreadyExists);
    }
    let v = next_version(tx)?;
    write_factor(tx, c, v, None)?;
    sql::version(v)
}

pub(crate) fn update_factor_tx(
    tx: &Transaction<'_>,
    c: &FactorCols,
    expected: i64,
) -> Result<Version, StoreError> {
    let v = next_version(tx)?;
    if write_factor(tx, c, v, Some(expected))? == 1 {
        return sql::version(v);
    }
    // Nothing written (and the sequence step rolls back with the error).
    Err(if factor_exists(tx, &c.user_id, &c.factor_id)? {
        StoreError::Conflict
    } else {
        StoreError::NotFound
    })
}

pub(crate) fn remove_factor_tx(tx: &Transaction<'_>, u: &str, i: &str) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "DELETE FROM mfa_factors WHERE user_id = ?1 AND factor_id = ?2",
            params![u, i],
        )
        .map_err(lite)?;
    Ok(n > 0)
}

/// A user's factors, oldest first (the statement of [`FactorStore::list_factors`]).
fn list_factors_conn(
    conn: &Connection,
    user: &str,
) -> Result<Vec<Versioned<FactorRecord>>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {FACTOR_COLUMNS} FROM mfa_factors WHERE user_id = ?1 \
             ORDER BY created_at, factor_id"
        ))
        .map_err(lite)?;
    let rows = stmt
        .query_map(params![user], factor_row)
        .map_err(lite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt)?;
    rows.into_iter().map(FactorRow::decode).collect()
}

/// Deletes a challenge of `owner` and returns it, expired or not (the statement of
/// [`ChallengeStore::take_challenge`]).
fn take_challenge_conn(
    conn: &Connection,
    id: &str,
    owner: Option<&str>,
) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
    conn.prepare_cached(&format!(
        "DELETE FROM mfa_challenges WHERE id = ?1 AND owner IS ?2 \
         RETURNING {CHALLENGE_COLUMNS}"
    ))
    .map_err(lite)?
    .query_row(params![id, owner], challenge_row)
    .optional()
    .map_err(corrupt)?
    .map(ChallengeRow::decode)
    .transpose()
}

/// A challenge of `owner`, unexpired at `now` (the statement of
/// [`ChallengeStore::challenge`]).
fn challenge_conn(
    conn: &Connection,
    id: &str,
    owner: Option<&str>,
    now: i64,
) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {CHALLENGE_COLUMNS} FROM mfa_challenges WHERE id = ?1 \
         AND owner IS ?2 AND expires_at >= ?3"
    ))
    .map_err(lite)?
    .query_row(params![id, owner, now], challenge_row)
    .optional()
    .map_err(corrupt)?
    .map(ChallengeRow::decode)
    .transpose()
}

impl FactorStore for SqliteStore {
    async fn insert_factor(&self, record: FactorRecord) -> Result<Version, StoreError> {
        let c = FactorCols::new(&record)?;
        self.write(move |tx| insert_factor_tx(tx, &c)).await
    }

    async fn factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        let (u, i) = (user.as_str().to_owned(), id.as_str().to_owned());
        self.run(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {FACTOR_COLUMNS} FROM mfa_factors WHERE user_id = ?1 AND factor_id = ?2"
            ))
            .map_err(lite)?
            .query_row(params![u, i], factor_row)
            .optional()
            .map_err(corrupt)?
            .map(FactorRow::decode)
            .transpose()
        })
        .await
    }

    async fn factor_by_lookup_key(
        &self,
        key: &LookupKey,
        user: Option<&UserId>,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        let owner = match (key.scope(), user) {
            (LookupScope::Global, _) => String::new(),
            (_, None) => return Ok(None),
            (_, Some(u)) => u.as_str().to_owned(),
        };
        let scope = sql::scope_str(key.scope());
        let ns = key.namespace().to_owned();
        let value = key.value().to_vec();
        let user = user.map(|u| u.as_str().to_owned());
        self.run(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {FACTOR_COLUMNS} FROM mfa_factors WHERE lookup_scope = ?1 \
                 AND lookup_namespace = ?2 AND lookup_value = ?3 AND lookup_owner = ?4 \
                 AND (?5 IS NULL OR user_id = ?5)"
            ))
            .map_err(lite)?
            .query_row(params![scope, ns, value, owner, user], factor_row)
            .optional()
            .map_err(corrupt)?
            .map(FactorRow::decode)
            .transpose()
        })
        .await
    }

    async fn list_factors(
        &self,
        user: &UserId,
    ) -> Result<Vec<Versioned<FactorRecord>>, StoreError> {
        let u = user.as_str().to_owned();
        self.run(move |conn| list_factors_conn(conn, &u)).await
    }

    async fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        let c = FactorCols::new(&record)?;
        let expected = sql::version_param(expected).unwrap_or(-1);
        self.write(move |tx| update_factor_tx(tx, &c, expected))
            .await
    }

    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> Result<bool, StoreError> {
        let (u, i) = (user.as_str().to_owned(), id.as_str().to_owned());
        self.write(move |tx| remove_factor_tx(tx, &u, &i)).await
    }
}

impl ChallengeStore for SqliteStore {
    async fn put_challenge(&self, challenge: PendingChallenge) -> Result<Version, StoreError> {
        let id = challenge.id.as_str().to_owned();
        let owner = sql::owner_col(&challenge.owner).map(str::to_owned);
        let factor = challenge.factor.as_ref().map(|f| f.as_str().to_owned());
        let format = i32::from(challenge.data.format());
        let key_id = challenge.data.key_id().map(str::to_owned);
        let data = challenge.data.expose_bytes().to_vec();
        let expires = sql::to_i64(challenge.expires_at.unix_secs())?;
        self.write(move |tx| {
            let v = next_version(tx)?;
            let n = tx
                .prepare_cached(
                    "INSERT INTO mfa_challenges (id, owner, factor_id, version, data_format, \
                     data_key_id, data, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .map_err(lite)?
                .execute(params![id, owner, factor, v, format, key_id, data, expires])
                .map_err(lite)?;
            if n == 0 {
                return Err(StoreError::AlreadyExists);
            }
            sql::version(v)
        })
        .await
    }

    async fn challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
        let id = id.as_str().to_owned();
        let owner = sql::owner_col(owner).map(str::to_owned);
        let now = sql::now_i64(now);
        self.run(move |conn| challenge_conn(conn, &id, owner.as_deref(), now))
            .await
    }

    async fn update_challenge_if_version(
        &self,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        let id = challenge.id.as_str().to_owned();
        let owner = sql::owner_col(&challenge.owner).map(str::to_owned);
        let factor = challenge.factor.as_ref().map(|f| f.as_str().to_owned());
        let format = i32::from(challenge.data.format());
        let key_id = challenge.data.key_id().map(str::to_owned);
        let data = challenge.data.expose_bytes().to_vec();
        let expires = sql::to_i64(challenge.expires_at.unix_secs())?;
        let expected = sql::version_param(expected).unwrap_or(-1);
        let now = sql::now_i64(now);
        self.write(move |tx| {
            let v = next_version(tx)?;
            let n = tx
                .prepare_cached(
                    "UPDATE mfa_challenges SET version = ?1, data_format = ?2, data_key_id = ?3, \
                     data = ?4, expires_at = ?5 WHERE id = ?6 AND owner IS ?7 \
                     AND factor_id IS ?8 AND version = ?9 AND expires_at >= ?10",
                )
                .map_err(lite)?
                .execute(params![
                    v, format, key_id, data, expires, id, owner, factor, expected, now
                ])
                .map_err(lite)?;
            if n == 1 {
                return sql::version(v);
            }
            let live = tx
                .prepare_cached(
                    "SELECT 1 FROM mfa_challenges WHERE id = ?1 AND owner IS ?2 \
                     AND factor_id IS ?3 AND expires_at >= ?4",
                )
                .map_err(lite)?
                .exists(params![id, owner, factor, now])
                .map_err(lite)?;
            Err(if live {
                StoreError::Conflict
            } else {
                StoreError::NotFound
            })
        })
        .await
    }

    async fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        let id = id.as_str().to_owned();
        let owner = sql::owner_col(owner).map(str::to_owned);
        let row = self
            .write(move |tx| take_challenge_conn(tx, &id, owner.as_deref()))
            .await?;
        Ok(row.map(|c| c.value).filter(|c| now <= c.expires_at))
    }

    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        let now = sql::now_i64(now);
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM mfa_challenges WHERE expires_at < ?1",
                params![now],
            )
            .map_err(lite)
        })
        .await
    }
}
