//! The SQLite store's per-user state beside factors and challenges: failure counters,
//! remembered devices, the revocation generation and the reset.

use super::*;

/// A counter's `(kind, owner, subject)` columns ([`FailureKey::columns`]).
pub(super) type CounterCols = (&'static str, String, String);

/// Counts one failure (the statement of [`FailureStore::record_failure`]).
pub(super) fn record_failure_conn(
    conn: &Connection,
    (kind, owner, subject): &CounterCols,
    now: Timestamp,
    window: Duration,
) -> Result<Failures, StoreError> {
    let now = sql::now_i64(now);
    let w = sql::window_secs(window);
    let lapse = sql::lapse_secs(window);
    let (count, first, last) = conn
        .prepare_cached(
            "INSERT INTO mfa_failures AS f (kind, owner, subject, count, first_at, \
             last_at, lapses_at) VALUES (?1, ?2, ?3, 1, ?4, ?4, ?4 + ?6) \
             ON CONFLICT (kind, owner, subject) DO UPDATE SET \
             count = CASE WHEN ?4 - f.last_at > ?5 THEN 1 \
                          ELSE MIN(f.count, 2147483646) + 1 END, \
             first_at = CASE WHEN ?4 - f.last_at > ?5 THEN ?4 ELSE f.first_at END, \
             last_at = CASE WHEN ?4 - f.last_at > ?5 THEN ?4 ELSE MAX(f.last_at, ?4) END, \
             lapses_at = CASE WHEN ?4 - f.last_at > ?5 THEN ?4 \
                              ELSE MAX(f.last_at, ?4) END + ?6 \
             RETURNING count, first_at, last_at",
        )
        .map_err(lite)?
        .query_row(params![kind, owner, subject, now, w, lapse], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(lite)?;
    sql::failures(count, first, last)
}

/// A counter through its window (the statement of [`FailureStore::failures`]).
pub(super) fn failures_conn(
    conn: &Connection,
    (kind, owner, subject): &CounterCols,
    now: Timestamp,
    window: Duration,
) -> Result<Option<Failures>, StoreError> {
    let now = sql::now_i64(now);
    let w = sql::window_secs(window);
    let row: Option<(i32, i64, i64)> = conn
        .prepare_cached(
            "SELECT count, first_at, last_at FROM mfa_failures WHERE kind = ?1 \
             AND owner = ?2 AND subject = ?3 AND NOT (?4 - last_at > ?5)",
        )
        .map_err(lite)?
        .query_row(params![kind, owner, subject, now, w], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(lite)?;
    row.map(|(c, f, l)| sql::failures(c, f, l)).transpose()
}

/// Removes a counter (the statement of [`FailureStore::clear_failures`]).
pub(super) fn clear_failures_conn(
    conn: &Connection,
    (kind, owner, subject): &CounterCols,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM mfa_failures WHERE kind = ?1 AND owner = ?2 AND subject = ?3")
        .map_err(lite)?
        .execute(params![kind, owner, subject])
        .map_err(lite)?;
    Ok(())
}

impl FailureStore for SqliteStore {
    async fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        let cols = key.columns();
        self.write(move |tx| record_failure_conn(tx, &cols, now, window))
            .await
    }

    async fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Option<Failures>, StoreError> {
        let cols = key.columns();
        self.run(move |conn| failures_conn(conn, &cols, now, window))
            .await
    }

    async fn clear_failures(&self, key: &FailureKey) -> Result<(), StoreError> {
        let cols = key.columns();
        self.write(move |tx| clear_failures_conn(tx, &cols)).await
    }

    async fn purge_failures(&self, now: Timestamp) -> Result<usize, StoreError> {
        let now = sql::now_i64(now);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM mfa_failures WHERE lapses_at < ?1",
                    params![now],
                )
                .map_err(lite)?;
            Ok(n)
        })
        .await
    }
}

fn generation_of(tx: &Transaction<'_>, user: &str) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached("SELECT generation FROM mfa_users WHERE user_id = ?1")
        .map_err(lite)?
        .query_row(params![user], |r| r.get(0))
        .optional()
        .map_err(lite)?
        .unwrap_or(0))
}

/// Bumps the user's generation in the caller's transaction; `Conflict` at the largest.
fn bump(tx: &Transaction<'_>, user: &str) -> Result<Generation, StoreError> {
    let g: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO mfa_users AS u (user_id, generation) VALUES (?1, 1) \
             ON CONFLICT (user_id) DO UPDATE SET generation = u.generation + 1 \
             WHERE u.generation < 9223372036854775807 RETURNING generation",
        )
        .map_err(lite)?
        .query_row(params![user], |r| r.get(0))
        .optional()
        .map_err(lite)?;
    g.map(sql::generation)
        .transpose()?
        .ok_or(StoreError::Conflict)
}

impl DeviceStore for SqliteStore {
    async fn remember_device(&self, device: RememberedDevice) -> Result<(), StoreError> {
        let user = device.user.as_str().to_owned();
        let generation = sql::to_i64(device.generation.get()).map_err(|_| StoreError::Conflict)?;
        let created = sql::to_i64(device.created_at.unix_secs())?;
        let expires = sql::to_i64(device.expires_at.unix_secs())?;
        let (id, label) = (device.device_id, device.label);
        self.write(move |tx| {
            if generation_of(tx, &user)? != generation {
                return Err(StoreError::Conflict);
            }
            tx.prepare_cached(
                "INSERT INTO mfa_devices (user_id, device_id, label, generation, created_at, \
                 expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (user_id, device_id) DO UPDATE SET label = excluded.label, \
                 generation = excluded.generation, created_at = excluded.created_at, \
                 expires_at = excluded.expires_at",
            )
            .map_err(lite)?
            .execute(params![user, id, label, generation, created, expires])
            .map_err(lite)?;
            Ok(())
        })
        .await
    }

    async fn remembered_device(
        &self,
        user: &UserId,
        device_id: &str,
        now: Timestamp,
    ) -> Result<Option<RememberedDevice>, StoreError> {
        let (u, d) = (user.as_str().to_owned(), device_id.to_owned());
        let now = sql::now_i64(now);
        self.run(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {DEVICE_COLUMNS} FROM mfa_devices WHERE user_id = ?1 \
                 AND device_id = ?2 AND expires_at >= ?3"
            ))
            .map_err(lite)?
            .query_row(params![u, d, now], device_row)
            .optional()
            .map_err(corrupt)?
            .map(decode_device)
            .transpose()
        })
        .await
    }

    async fn list_devices(
        &self,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RememberedDevice>, StoreError> {
        let u = user.as_str().to_owned();
        let now = sql::now_i64(now);
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {DEVICE_COLUMNS} FROM mfa_devices WHERE user_id = ?1 \
                     AND expires_at >= ?2 ORDER BY created_at, device_id"
                ))
                .map_err(lite)?;
            let rows = stmt
                .query_map(params![u, now], device_row)
                .map_err(lite)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(corrupt)?;
            rows.into_iter().map(decode_device).collect()
        })
        .await
    }

    async fn forget_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError> {
        let (u, d) = (user.as_str().to_owned(), device_id.to_owned());
        self.write(move |tx| forget_device_tx(tx, &u, &d)).await
    }
}

impl UserStore for SqliteStore {
    async fn user_state(&self, user: &UserId) -> Result<UserState, StoreError> {
        let u = user.as_str().to_owned();
        let g: Option<i64> = self
            .run(move |conn| {
                conn.prepare_cached("SELECT generation FROM mfa_users WHERE user_id = ?1")
                    .map_err(lite)?
                    .query_row(params![u], |r| r.get(0))
                    .optional()
                    .map_err(lite)
            })
            .await?;
        let generation = g.map(sql::generation).transpose()?.unwrap_or_default();
        Ok(UserState::new(user.clone(), generation))
    }

    async fn bump_generation(&self, user: &UserId) -> Result<Generation, StoreError> {
        let u = user.as_str().to_owned();
        self.write(move |tx| bump(tx, &u)).await
    }

    async fn reset_user(&self, user: &UserId) -> Result<ResetSummary, StoreError> {
        let u = user.as_str().to_owned();
        self.write(move |tx| reset_user_tx(tx, &u)).await
    }
}

pub(crate) fn forget_device_tx(tx: &Transaction<'_>, u: &str, d: &str) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "DELETE FROM mfa_devices WHERE user_id = ?1 AND device_id = ?2",
            params![u, d],
        )
        .map_err(lite)?;
    Ok(n > 0)
}

pub(crate) fn reset_user_tx(tx: &Transaction<'_>, u: &str) -> Result<ResetSummary, StoreError> {
    let generation = bump(tx, u)?;
    let mut counts = [0usize; 4];
    let deletes = [
        "DELETE FROM mfa_factors WHERE user_id = ?1",
        "DELETE FROM mfa_challenges WHERE owner = ?1",
        "DELETE FROM mfa_devices WHERE user_id = ?1",
        "DELETE FROM mfa_failures WHERE owner = ?1",
    ];
    for (slot, sql) in counts.iter_mut().zip(deletes) {
        *slot = tx.execute(sql, params![u]).map_err(lite)?;
    }
    let [factors, challenges, devices, failure_counters] = counts;
    Ok(ResetSummary::new(
        factors,
        challenges,
        devices,
        failure_counters,
        generation,
    ))
}
