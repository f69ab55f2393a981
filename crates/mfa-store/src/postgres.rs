//! The PostgreSQL backend: a pool of tokio-postgres connections, plain SQL.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, DeviceStore, FactorRecord, FactorStore,
    FailureKey, FailureStore, Failures, Generation, LookupKey, LookupScope, PendingChallenge,
    RememberedDevice, ResetSummary, StoreError, UserState, UserStore, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

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
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "when each failure counter lapses, for the purge",
        include_str!("../migrations/postgres/0002_failure_lapse.sql"),
    ),
    (
        3,
        "the journal: audit hash chain, its head, the outbox",
        include_str!("../migrations/postgres/0003_journal.sql"),
    ),
    (
        4,
        "a verification's two steps as functions: count an attempt, commit a success",
        include_str!("../migrations/postgres/0004_verification.sql"),
    ),
];

/// Settings of a [`PostgresStore`] beyond its URL.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// The most connections the pool opens (default 16).
    pub max_connections: usize,
    /// The schema the tables live in: every pooled connection starts with
    /// `search_path` set to it. `None` (the default) uses the server's search path.
    pub schema: Option<String>,
    /// How long to wait for a free connection before failing with
    /// [`StoreError::Backend`] (default 10 s).
    pub wait_timeout: Duration,
    /// Whether counting a verification's attempt waits for the server's WAL flush
    /// (default `false`). Without it the count commits asynchronously
    /// (`synchronous_commit = off` for that one statement): a crash of the database
    /// server may lose the counts of its last few hundred milliseconds (at most three
    /// `wal_writer_delay`s), so an attacker who could crash the server at will would get
    /// that many uncounted guesses per crash. Nothing else is relaxed: the commit that
    /// consumes a code or a challenge, and every other write, always waits. With it, a
    /// verification waits for two flushes instead of one (see the crate README's speed
    /// table).
    pub durable_attempt_counts: bool,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            schema: None,
            wait_timeout: Duration::from_secs(10),
            durable_attempt_counts: false,
        }
    }
}

impl PostgresOptions {
    /// With a pool size.
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Whether attempt counts wait for the WAL flush
    /// ([`durable_attempt_counts`](Self::durable_attempt_counts)).
    #[must_use]
    pub fn durable_attempt_counts(mut self, durable: bool) -> Self {
        self.durable_attempt_counts = durable;
        self
    }

    /// With a schema (an SQL identifier of `a-z`, `0-9`, `_`, starting with a letter or `_`).
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }
}

/// A [`Store`](mfa_core::store::Store) in PostgreSQL (or a wire-compatible database),
/// for services with several instances on one database.
///
/// Every single-use promise is one statement the database executes atomically: the
/// factor compare-and-swap is `UPDATE … WHERE version = $n RETURNING version`, a
/// challenge is taken by `DELETE … RETURNING`, a failure is counted by one upsert that
/// returns the new count, and [`reset_user`](UserStore::reset_user) is one transaction
/// that first locks the user's row. So two instances with two pools on one database
/// accept a code once. Statements are prepared once per connection and cached, so a
/// verification (read the factor, conditional write) is two round trips.
///
/// Connections are plain TCP (`NoTls`): run it on a trusted network or through a local
/// TLS proxy. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    durable_attempt_counts: bool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.pool.status();
        f.debug_struct("PostgresStore")
            .field("size", &s.size)
            .field("max_size", &s.max_size)
            .finish()
    }
}

fn valid_schema(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.len() <= 63
}

impl PostgresStore {
    /// Connects a pool to `url` (`postgres://user@host:port/db`, or a key=value string)
    /// and applies pending migrations ([`PostgresStore::migrate`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] for a URL tokio-postgres does not parse, an invalid
    /// schema name, or a database that cannot be reached or migrated.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let store = Self::connect_lazy(url, options)?;
        store.migrate().await?;
        Ok(store)
    }

    /// Builds the pool without connecting or migrating; the first call connects.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] for a URL that does not parse or an invalid schema name.
    pub fn connect_lazy(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(backend)?;
        if let Some(schema) = &options.schema {
            if !valid_schema(schema) {
                return Err(backend(Message(
                    "schema must be 1 to 63 bytes of a-z, 0-9, '_', not starting with a digit",
                )));
            }
            config.options(format!("-c search_path={schema}"));
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .wait_timeout(Some(options.wait_timeout))
            .create_timeout(Some(options.wait_timeout))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(backend)?;
        Ok(Self {
            pool,
            durable_attempt_counts: options.durable_attempt_counts,
        })
    }

    /// Applies the migrations the database has not seen, each in its own transaction
    /// under an advisory lock (so instances starting together migrate once), and records
    /// each in `mfa_schema_version`. Returns the schema version after it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when a statement fails (nothing of that migration stays).
    pub async fn migrate(&self) -> Result<i32, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        // One lock per schema: hashtext(current_schema()).
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext(current_schema()))",
            &[],
        )
        .await
        .map_err(backend)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS mfa_schema_version (
                 version     INTEGER PRIMARY KEY,
                 description TEXT    NOT NULL,
                 applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(backend)?;
        let row = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM mfa_schema_version",
                &[],
            )
            .await
            .map_err(backend)?;
        let mut current: i32 = row.try_get(0).map_err(backend)?;
        for &(version, description, sql) in MIGRATIONS {
            if version <= current {
                continue;
            }
            tx.batch_execute(sql).await.map_err(backend)?;
            tx.execute(
                "INSERT INTO mfa_schema_version (version, description) VALUES ($1, $2)",
                &[&version, &description],
            )
            .await
            .map_err(backend)?;
            current = version;
        }
        tx.commit().await.map_err(backend)?;
        Ok(current)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(backend)
    }

    /// Runs one prepared (and cached) statement and returns its rows.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let result = match client.prepare_cached(sql).await {
            Ok(stmt) => client.query(&stmt, params).await,
            Err(e) => Err(e),
        };
        result.map_err(|e| discard_if_broken(client, e))
    }
}

/// Maps a driver error, and keeps a connection that may be dead (closed, terminated by
/// the server, a protocol error) out of the pool, so the next caller gets a fresh one
/// instead of the same failure.
fn discard_if_broken(client: deadpool_postgres::Object, e: tokio_postgres::Error) -> StoreError {
    let statement_error = e
        .as_db_error()
        .is_some_and(|d| d.severity() == "ERROR" && !client.is_closed());
    if !statement_error {
        drop(deadpool_postgres::Object::take(client));
    }
    pg(e)
}

/// A driver error as a store error: a unique violation of the lookup-key index is
/// [`StoreError::LookupKeyTaken`], of a primary key [`StoreError::AlreadyExists`];
/// everything else is [`StoreError::Backend`].
fn pg(e: tokio_postgres::Error) -> StoreError {
    // Raised by mfa_commit_attempt (migration 4).
    match e.code().map(SqlState::code) {
        Some("MF409") => return StoreError::Conflict,
        Some("MF404") => return StoreError::NotFound,
        _ => {}
    }
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        let constraint = e.as_db_error().and_then(|d| d.constraint()).unwrap_or("");
        if constraint == "mfa_factors_lookup_key" {
            return StoreError::LookupKeyTaken;
        }
        if constraint.ends_with("_pkey") {
            return StoreError::AlreadyExists;
        }
    }
    backend(e)
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn factor_row(row: &Row) -> Result<Versioned<FactorRecord>, StoreError> {
    factor_row_at(row, 0)
}

/// A factor from the row's [`FACTOR_COLUMNS`], starting at column `at`.
fn factor_row_at(row: &Row, at: usize) -> Result<Versioned<FactorRecord>, StoreError> {
    FactorRow {
        user_id: get(row, at)?,
        factor_id: get(row, at + 1)?,
        version: get(row, at + 2)?,
        kind: get(row, at + 3)?,
        label: get(row, at + 4)?,
        confirmed: get(row, at + 5)?,
        created_at: get(row, at + 6)?,
        last_used_at: get(row, at + 7)?,
        lookup_scope: get(row, at + 8)?,
        lookup_namespace: get(row, at + 9)?,
        lookup_value: get(row, at + 10)?,
        data_format: get(row, at + 11)?,
        data_key_id: get(row, at + 12)?,
        data: get(row, at + 13)?,
    }
    .decode()
}

fn challenge_row(row: &Row) -> Result<Versioned<PendingChallenge>, StoreError> {
    ChallengeRow {
        id: get(row, 0)?,
        owner: get(row, 1)?,
        factor_id: get(row, 2)?,
        version: get(row, 3)?,
        data_format: get(row, 4)?,
        data_key_id: get(row, 5)?,
        data: get(row, 6)?,
        expires_at: get(row, 7)?,
    }
    .decode()
}

const DEVICE_COLUMNS: &str = "user_id, device_id, label, generation, created_at, expires_at";

fn device_row(row: &Row) -> Result<RememberedDevice, StoreError> {
    let user =
        UserId::new(get::<String>(row, 0)?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let d = RememberedDevice::new(
        user,
        get::<String>(row, 1)?,
        sql::generation(get(row, 3)?)?,
        sql::timestamp(get(row, 4)?, "created_at")?,
        sql::timestamp(get(row, 5)?, "expires_at")?,
    )
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(d.with_label(get::<String>(row, 2)?))
}

fn first<T>(
    rows: Vec<Row>,
    f: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    rows.first().map(f).transpose()
}

fn rows_affected(n: u64) -> usize {
    sql::count(n)
}

/// Inserts a factor (parameters: [`insert_params`]).
pub(crate) const INSERT_FACTOR: &str = "INSERT INTO mfa_factors (user_id, factor_id, version, kind, label, \
     confirmed, created_at, last_used_at, lookup_scope, lookup_namespace, lookup_value, \
     lookup_owner, data_format, data_key_id, data) VALUES ($1, $2, nextval('mfa_version_seq'), \
     $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING version";

/// Compare-and-swap of a factor (parameters: [`update_params`]).
pub(crate) const UPDATE_FACTOR: &str = "UPDATE mfa_factors SET version = nextval('mfa_version_seq'), \
     kind = $4, label = $5, confirmed = $6, created_at = $7, last_used_at = $8, \
     lookup_scope = $9, lookup_namespace = $10, lookup_value = $11, lookup_owner = $12, \
     data_format = $13, data_key_id = $14, data = $15 \
     WHERE user_id = $1 AND factor_id = $2 AND version = $3 RETURNING version";

type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// A factor row's parameters for [`INSERT_FACTOR`] and [`UPDATE_FACTOR`].
pub(crate) struct FactorParams<'a> {
    c: &'a FactorCols,
    expected: i64,
    scope: Option<&'static str>,
    namespace: Option<&'a str>,
    value: Option<&'a [u8]>,
    owner: Option<&'a str>,
}

impl<'a> FactorParams<'a> {
    pub(crate) fn new(c: &'a FactorCols, expected: i64) -> Self {
        Self {
            c,
            expected,
            scope: c.lookup_scope(),
            namespace: c.lookup_namespace(),
            value: c.lookup_value(),
            owner: c.lookup_owner(),
        }
    }

    pub(crate) fn insert(&self) -> [Param<'_>; 14] {
        let c = self.c;
        [
            &c.user_id,
            &c.factor_id,
            &c.kind,
            &c.label,
            &c.confirmed,
            &c.created_at,
            &c.last_used_at,
            &self.scope,
            &self.namespace,
            &self.value,
            &self.owner,
            &c.data_format,
            &c.data_key_id,
            &c.data,
        ]
    }

    pub(crate) fn update(&self) -> [Param<'_>; 15] {
        let c = self.c;
        [
            &c.user_id,
            &c.factor_id,
            &self.expected,
            &c.kind,
            &c.label,
            &c.confirmed,
            &c.created_at,
            &c.last_used_at,
            &self.scope,
            &self.namespace,
            &self.value,
            &self.owner,
            &c.data_format,
            &c.data_key_id,
            &c.data,
        ]
    }
}

impl FactorStore for PostgresStore {
    async fn insert_factor(&self, record: FactorRecord) -> Result<Version, StoreError> {
        let c = FactorCols::new(&record)?;
        let rows = self
            .query(INSERT_FACTOR, &FactorParams::new(&c, 0).insert())
            .await?;
        first(rows, |r| sql::version(get(r, 0)?))?.ok_or(StoreError::NotFound)
    }

    async fn factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        let rows = self
            .query(
                &format!(
                    "SELECT {FACTOR_COLUMNS} FROM mfa_factors WHERE user_id = $1 AND factor_id = $2"
                ),
                &[&user.as_str(), &id.as_str()],
            )
            .await?;
        first(rows, factor_row)
    }

    async fn factor_by_lookup_key(
        &self,
        key: &LookupKey,
        user: Option<&UserId>,
    ) -> Result<Option<Versioned<FactorRecord>>, StoreError> {
        let holder = match (key.scope(), user) {
            (LookupScope::PerUser, None) => return Ok(None),
            (_, Some(u)) => u.clone(),
            (_, None) => {
                // A global key, whoever holds it.
                let c = sql::lookup_cols(
                    key,
                    &UserId::new("-").map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
                let rows = self
                    .query(
                        &format!(
                            "SELECT {FACTOR_COLUMNS} FROM mfa_factors WHERE lookup_scope = $1 \
                             AND lookup_namespace = $2 AND lookup_value = $3 AND lookup_owner = $4"
                        ),
                        &[&c.scope, &c.namespace, &c.value, &c.owner],
                    )
                    .await?;
                return first(rows, factor_row);
            }
        };
        let c = sql::lookup_cols(key, &holder);
        let rows = self
            .query(
                &format!(
                    "SELECT {FACTOR_COLUMNS} FROM mfa_factors WHERE lookup_scope = $1 \
                     AND lookup_namespace = $2 AND lookup_value = $3 AND lookup_owner = $4 \
                     AND user_id = $5"
                ),
                &[&c.scope, &c.namespace, &c.value, &c.owner, &holder.as_str()],
            )
            .await?;
        first(rows, factor_row)
    }

    async fn list_factors(
        &self,
        user: &UserId,
    ) -> Result<Vec<Versioned<FactorRecord>>, StoreError> {
        let rows = self
            .query(
                &format!(
                    "SELECT {FACTOR_COLUMNS} FROM mfa_factors WHERE user_id = $1 \
                     ORDER BY created_at, factor_id COLLATE \"C\""
                ),
                &[&user.as_str()],
            )
            .await?;
        rows.iter().map(factor_row).collect()
    }

    async fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> Result<Version, StoreError> {
        let c = FactorCols::new(&record)?;
        let expected = sql::version_param(expected).unwrap_or(-1);
        let rows = self
            .query(UPDATE_FACTOR, &FactorParams::new(&c, expected).update())
            .await?;
        if let Some(v) = first(rows, |r| sql::version(get(r, 0)?))? {
            return Ok(v);
        }
        // Nothing written: tell a lost race from a removed factor.
        let rows = self
            .query(
                "SELECT 1 FROM mfa_factors WHERE user_id = $1 AND factor_id = $2",
                &[&c.user_id, &c.factor_id],
            )
            .await?;
        Err(if rows.is_empty() {
            StoreError::NotFound
        } else {
            StoreError::Conflict
        })
    }

    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "DELETE FROM mfa_factors WHERE user_id = $1 AND factor_id = $2 RETURNING 1",
                &[&user.as_str(), &id.as_str()],
            )
            .await?;
        Ok(!rows.is_empty())
    }
}

impl ChallengeStore for PostgresStore {
    async fn put_challenge(&self, challenge: PendingChallenge) -> Result<Version, StoreError> {
        let data = &challenge.data;
        let rows = self
            .query(
                "INSERT INTO mfa_challenges (id, owner, factor_id, version, data_format, \
                 data_key_id, data, expires_at) VALUES ($1, $2, $3, nextval('mfa_version_seq'), \
                 $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING version",
                &[
                    &challenge.id.as_str(),
                    &sql::owner_col(&challenge.owner),
                    &challenge.factor.as_ref().map(FactorId::as_str),
                    &i32::from(data.format()),
                    &data.key_id(),
                    &data.expose_bytes(),
                    &sql::to_i64(challenge.expires_at.unix_secs())?,
                ],
            )
            .await?;
        first(rows, |r| sql::version(get(r, 0)?))?.ok_or(StoreError::AlreadyExists)
    }

    async fn challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
        let rows = self
            .query(
                &format!(
                    "SELECT {CHALLENGE_COLUMNS} FROM mfa_challenges WHERE id = $1 \
                     AND owner IS NOT DISTINCT FROM $2 AND expires_at >= $3"
                ),
                &[&id.as_str(), &sql::owner_col(owner), &sql::now_i64(now)],
            )
            .await?;
        first(rows, challenge_row)
    }

    async fn update_challenge_if_version(
        &self,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        let data = &challenge.data;
        let id = challenge.id.as_str();
        let owner = sql::owner_col(&challenge.owner);
        let factor = challenge.factor.as_ref().map(FactorId::as_str);
        let now = sql::now_i64(now);
        let rows = self
            .query(
                "UPDATE mfa_challenges SET version = nextval('mfa_version_seq'), \
                 data_format = $6, data_key_id = $7, data = $8, expires_at = $9 \
                 WHERE id = $1 AND owner IS NOT DISTINCT FROM $2 \
                 AND factor_id IS NOT DISTINCT FROM $3 AND version = $4 AND expires_at >= $5 \
                 RETURNING version",
                &[
                    &id,
                    &owner,
                    &factor,
                    &sql::version_param(expected).unwrap_or(-1),
                    &now,
                    &i32::from(data.format()),
                    &data.key_id(),
                    &data.expose_bytes(),
                    &sql::to_i64(challenge.expires_at.unix_secs())?,
                ],
            )
            .await?;
        if let Some(v) = first(rows, |r| sql::version(get(r, 0)?))? {
            return Ok(v);
        }
        let rows = self
            .query(
                "SELECT 1 FROM mfa_challenges WHERE id = $1 AND owner IS NOT DISTINCT FROM $2 \
                 AND factor_id IS NOT DISTINCT FROM $3 AND expires_at >= $4",
                &[&id, &owner, &factor, &now],
            )
            .await?;
        Err(if rows.is_empty() {
            StoreError::NotFound
        } else {
            StoreError::Conflict
        })
    }

    async fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        let rows = self
            .query(
                &format!(
                    "DELETE FROM mfa_challenges WHERE id = $1 AND owner IS NOT DISTINCT FROM $2 \
                     RETURNING {CHALLENGE_COLUMNS}"
                ),
                &[&id.as_str(), &sql::owner_col(owner)],
            )
            .await?;
        Ok(first(rows, challenge_row)?
            .map(|c| c.value)
            .filter(|c| now <= c.expires_at))
    }

    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM mfa_challenges WHERE expires_at < $1")
            .await
            .map_err(pg)?;
        let n = client
            .execute(&stmt, &[&sql::now_i64(now)])
            .await
            .map_err(pg)?;
        Ok(rows_affected(n))
    }
}
