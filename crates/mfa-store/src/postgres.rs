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
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            schema: None,
            wait_timeout: Duration::from_secs(10),
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
        Ok(Self { pool })
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
    FactorRow {
        user_id: get(row, 0)?,
        factor_id: get(row, 1)?,
        version: get(row, 2)?,
        kind: get(row, 3)?,
        label: get(row, 4)?,
        confirmed: get(row, 5)?,
        created_at: get(row, 6)?,
        last_used_at: get(row, 7)?,
        lookup_scope: get(row, 8)?,
        lookup_namespace: get(row, 9)?,
        lookup_value: get(row, 10)?,
        data_format: get(row, 11)?,
        data_key_id: get(row, 12)?,
        data: get(row, 13)?,
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

impl FactorStore for PostgresStore {
    async fn insert_factor(&self, record: FactorRecord) -> Result<Version, StoreError> {
        let c = FactorCols::new(&record)?;
        let rows = self
            .query(
                "INSERT INTO mfa_factors (user_id, factor_id, version, kind, label, confirmed, \
                 created_at, last_used_at, lookup_scope, lookup_namespace, lookup_value, \
                 lookup_owner, data_format, data_key_id, data) VALUES ($1, $2, \
                 nextval('mfa_version_seq'), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                 $14) RETURNING version",
                &[
                    &c.user_id,
                    &c.factor_id,
                    &c.kind,
                    &c.label,
                    &c.confirmed,
                    &c.created_at,
                    &c.last_used_at,
                    &c.lookup_scope(),
                    &c.lookup_namespace(),
                    &c.lookup_value(),
                    &c.lookup_owner(),
                    &c.data_format,
                    &c.data_key_id,
                    &c.data,
                ],
            )
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
            .query(
                "UPDATE mfa_factors SET version = nextval('mfa_version_seq'), kind = $4, \
                 label = $5, confirmed = $6, created_at = $7, last_used_at = $8, \
                 lookup_scope = $9, lookup_namespace = $10, lookup_value = $11, \
                 lookup_owner = $12, data_format = $13, data_key_id = $14, data = $15 \
                 WHERE user_id = $1 AND factor_id = $2 AND version = $3 RETURNING version",
                &[
                    &c.user_id,
                    &c.factor_id,
                    &expected,
                    &c.kind,
                    &c.label,
                    &c.confirmed,
                    &c.created_at,
                    &c.last_used_at,
                    &c.lookup_scope(),
                    &c.lookup_namespace(),
                    &c.lookup_value(),
                    &c.lookup_owner(),
                    &c.data_format,
                    &c.data_key_id,
                    &c.data,
                ],
            )
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

impl FailureStore for PostgresStore {
    async fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        let (kind, owner, subject) = key.columns();
        let rows = self
            .query(
                "INSERT INTO mfa_failures AS f (kind, owner, subject, count, first_at, last_at, \
                 lapses_at) VALUES ($1, $2, $3, 1, $4, $4, $4::BIGINT + $6::BIGINT) \
                 ON CONFLICT (kind, owner, subject) DO UPDATE SET \
                 count = CASE WHEN $4 - f.last_at > $5 THEN 1 \
                              ELSE LEAST(f.count, 2147483646) + 1 END, \
                 first_at = CASE WHEN $4 - f.last_at > $5 THEN $4 ELSE f.first_at END, \
                 last_at = CASE WHEN $4 - f.last_at > $5 THEN $4 ELSE GREATEST(f.last_at, $4) END, \
                 lapses_at = CASE WHEN $4 - f.last_at > $5 THEN $4 \
                                  ELSE GREATEST(f.last_at, $4) END + $6::BIGINT \
                 RETURNING count, first_at, last_at",
                &[
                    &kind,
                    &owner,
                    &subject,
                    &sql::now_i64(now),
                    &sql::window_secs(window),
                    &sql::lapse_secs(window),
                ],
            )
            .await?;
        first(rows, |r| sql::failures(get(r, 0)?, get(r, 1)?, get(r, 2)?))?
            .ok_or_else(|| backend(Message("the failure upsert returned no row")))
    }

    async fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Option<Failures>, StoreError> {
        let (kind, owner, subject) = key.columns();
        let rows = self
            .query(
                "SELECT count, first_at, last_at FROM mfa_failures WHERE kind = $1 \
                 AND owner = $2 AND subject = $3 AND NOT ($4 - last_at > $5)",
                &[
                    &kind,
                    &owner,
                    &subject,
                    &sql::now_i64(now),
                    &sql::window_secs(window),
                ],
            )
            .await?;
        first(rows, |r| sql::failures(get(r, 0)?, get(r, 1)?, get(r, 2)?))
    }

    async fn clear_failures(&self, key: &FailureKey) -> Result<(), StoreError> {
        let (kind, owner, subject) = key.columns();
        self.query(
            "DELETE FROM mfa_failures WHERE kind = $1 AND owner = $2 AND subject = $3",
            &[&kind, &owner, &subject],
        )
        .await?;
        Ok(())
    }

    async fn purge_failures(&self, now: Timestamp) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM mfa_failures WHERE lapses_at < $1")
            .await
            .map_err(pg)?;
        let n = client
            .execute(&stmt, &[&sql::now_i64(now)])
            .await
            .map_err(pg)?;
        Ok(rows_affected(n))
    }
}

impl DeviceStore for PostgresStore {
    async fn remember_device(&self, device: RememberedDevice) -> Result<(), StoreError> {
        // One statement: the CTE locks (or creates) the user's row and reads its current
        // generation; the device is written only if it matches. A reset locks the same
        // row first, so it is either before (generation moved: nothing written) or after
        // (and removes the device).
        let rows = self
            .query(
                "WITH u AS (INSERT INTO mfa_users (user_id, generation) VALUES ($1, 0) \
                   ON CONFLICT (user_id) DO UPDATE SET generation = mfa_users.generation \
                   RETURNING generation) \
                 INSERT INTO mfa_devices (user_id, device_id, label, generation, created_at, \
                   expires_at) SELECT $1, $2, $3, $4, $5, $6 FROM u WHERE u.generation = $4 \
                 ON CONFLICT (user_id, device_id) DO UPDATE SET label = EXCLUDED.label, \
                   generation = EXCLUDED.generation, created_at = EXCLUDED.created_at, \
                   expires_at = EXCLUDED.expires_at \
                 RETURNING 1",
                &[
                    &device.user.as_str(),
                    &device.device_id,
                    &device.label,
                    &sql::to_i64(device.generation.get()).map_err(|_| StoreError::Conflict)?,
                    &sql::to_i64(device.created_at.unix_secs())?,
                    &sql::to_i64(device.expires_at.unix_secs())?,
                ],
            )
            .await?;
        if rows.is_empty() {
            Err(StoreError::Conflict)
        } else {
            Ok(())
        }
    }

    async fn remembered_device(
        &self,
        user: &UserId,
        device_id: &str,
        now: Timestamp,
    ) -> Result<Option<RememberedDevice>, StoreError> {
        let rows = self
            .query(
                &format!(
                    "SELECT {DEVICE_COLUMNS} FROM mfa_devices WHERE user_id = $1 \
                     AND device_id = $2 AND expires_at >= $3"
                ),
                &[&user.as_str(), &device_id, &sql::now_i64(now)],
            )
            .await?;
        first(rows, device_row)
    }

    async fn list_devices(
        &self,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RememberedDevice>, StoreError> {
        let rows = self
            .query(
                &format!(
                    "SELECT {DEVICE_COLUMNS} FROM mfa_devices WHERE user_id = $1 \
                     AND expires_at >= $2 ORDER BY created_at, device_id COLLATE \"C\""
                ),
                &[&user.as_str(), &sql::now_i64(now)],
            )
            .await?;
        rows.iter().map(device_row).collect()
    }

    async fn forget_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "DELETE FROM mfa_devices WHERE user_id = $1 AND device_id = $2 RETURNING 1",
                &[&user.as_str(), &device_id],
            )
            .await?;
        Ok(!rows.is_empty())
    }
}

/// Bumps the user's generation, creating the row at 1; no row back at the largest
/// generation.
const BUMP: &str = "INSERT INTO mfa_users AS u (user_id, generation) VALUES ($1, 1) \
     ON CONFLICT (user_id) DO UPDATE SET generation = u.generation + 1 \
     WHERE u.generation < 9223372036854775807 RETURNING generation";

impl UserStore for PostgresStore {
    async fn user_state(&self, user: &UserId) -> Result<UserState, StoreError> {
        let rows = self
            .query(
                "SELECT generation FROM mfa_users WHERE user_id = $1",
                &[&user.as_str()],
            )
            .await?;
        let generation = first(rows, |r| sql::generation(get(r, 0)?))?.unwrap_or_default();
        Ok(UserState::new(user.clone(), generation))
    }

    async fn bump_generation(&self, user: &UserId) -> Result<Generation, StoreError> {
        let rows = self.query(BUMP, &[&user.as_str()]).await?;
        first(rows, |r| sql::generation(get(r, 0)?))?.ok_or(StoreError::Conflict)
    }

    async fn reset_user(&self, user: &UserId) -> Result<ResetSummary, StoreError> {
        let mut client = self.client().await?;
        match reset_in(&mut client, user).await {
            Ok(summary) => Ok(summary),
            Err(ResetError::Store(e)) => Err(e),
            Err(ResetError::Driver(e)) => Err(discard_if_broken(client, e)),
        }
    }
}

enum ResetError {
    Store(StoreError),
    Driver(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for ResetError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Driver(e)
    }
}

impl From<StoreError> for ResetError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The reset's transaction: the bump first (it takes the user's row lock, which
/// `remember_device` takes too), then one `DELETE` per table; dropped uncommitted (rolled
/// back) on any error.
async fn reset_in(
    client: &mut deadpool_postgres::Object,
    user: &UserId,
) -> Result<ResetSummary, ResetError> {
    {
        let tx = client.transaction().await?;
        let u = user.as_str();
        let bump = tx.prepare_cached(BUMP).await?;
        let rows = tx.query(&bump, &[&u]).await?;
        let Some(generation) = first(rows, |r| sql::generation(get(r, 0)?))? else {
            return Err(StoreError::Conflict.into());
        };
        let mut counts = [0usize; 4];
        let deletes = [
            "DELETE FROM mfa_factors WHERE user_id = $1",
            "DELETE FROM mfa_challenges WHERE owner = $1",
            "DELETE FROM mfa_devices WHERE user_id = $1",
            "DELETE FROM mfa_failures WHERE owner = $1",
        ];
        for (slot, sql) in counts.iter_mut().zip(deletes) {
            let stmt = tx.prepare_cached(sql).await?;
            *slot = rows_affected(tx.execute(&stmt, &[&u]).await?);
        }
        tx.commit().await?;
        let [factors, challenges, devices, failure_counters] = counts;
        Ok(ResetSummary::new(
            factors,
            challenges,
            devices,
            failure_counters,
            generation,
        ))
    }
}
