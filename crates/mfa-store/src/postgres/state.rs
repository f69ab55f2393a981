//! The PostgreSQL store's per-user state beside factors and challenges: failure counters,
//! remembered devices, the revocation generation and the reset.

use super::*;

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

pub(crate) enum ResetError {
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
    let tx = client.transaction().await?;
    let summary = reset_tx(&tx, user).await?;
    tx.commit().await?;
    Ok(summary)
}

/// The reset's statements in the caller's transaction.
pub(crate) async fn reset_tx(
    tx: &deadpool_postgres::Transaction<'_>,
    user: &UserId,
) -> Result<ResetSummary, ResetError> {
    {
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
