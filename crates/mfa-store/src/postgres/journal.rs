//! The PostgreSQL backend's journal: the change, then `SELECT … FOR UPDATE` on the
//! chain's head row (so concurrent appends queue up instead of forking the chain), the
//! audit rows and the outbox rows, in one transaction.

use mfa_core::store::{
    AuditEntry, Change, Committed, Journal, JournalFn, JournalStore, OutboxMessage,
};

use super::state::{ResetError, reset_tx};
use super::*;

impl JournalStore for PostgresStore {
    fn keeps_journal(&self) -> bool {
        true
    }

    async fn commit_journaled(
        &self,
        change: Change,
        journal: JournalFn,
    ) -> Result<Committed, StoreError> {
        let mut client = self.client().await?;
        match commit_in(&mut client, change, journal).await {
            Ok(out) => Ok(out),
            Err(ResetError::Store(e)) => Err(e),
            Err(ResetError::Driver(e)) => Err(discard_if_broken(client, e)),
        }
    }

    async fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let after = sql::to_i64(after)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT seq, at, body, prev_hash, hash FROM mfa_audit WHERE seq > $1 \
                 ORDER BY seq LIMIT $2",
                &[&after, &limit],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry::new(
                    sql::to_u64(get(r, 0)?, "audit seq")?,
                    sql::timestamp(get(r, 1)?, "audit at")?,
                    get(r, 2)?,
                    get(r, 3)?,
                    get(r, 4)?,
                ))
            })
            .collect()
    }

    async fn outbox_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT id, payload, created_at, attempts, next_attempt_at FROM mfa_outbox \
                 WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
                 ORDER BY created_at, id LIMIT $2",
                &[&sql::now_i64(now), &limit],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let mut m = OutboxMessage::new(
                    get(r, 0)?,
                    get(r, 1)?,
                    sql::timestamp(get(r, 2)?, "outbox created_at")?,
                );
                m.attempts = u32::try_from(get::<i32>(r, 3)?).unwrap_or(0);
                m.next_attempt_at = sql::timestamp(get(r, 4)?, "outbox next_attempt_at")?;
                Ok(m)
            })
            .collect()
    }

    async fn outbox_delivered(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "UPDATE mfa_outbox SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL \
                 RETURNING 1",
                &[&id, &sql::now_i64(now)],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn outbox_retry(&self, id: &str, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        self.query(
            "UPDATE mfa_outbox SET attempts = LEAST(attempts, 2147483646) + 1, \
             next_attempt_at = $2 WHERE id = $1 AND delivered_at IS NULL RETURNING 1",
            &[&id, &sql::now_i64(next_attempt_at)],
        )
        .await?;
        Ok(())
    }
}

async fn commit_in(
    client: &mut deadpool_postgres::Object,
    change: Change,
    journal: JournalFn,
) -> Result<Committed, ResetError> {
    let tx = client.transaction().await?;
    let out = match change {
        Change::InsertFactor(record) => {
            let c = FactorCols::new(&record)?;
            let stmt = tx.prepare_cached(INSERT_FACTOR).await?;
            let p = FactorParams::new(&c, 0);
            // A unique violation maps as on `insert_factor` (`discard_if_broken`).
            let rows = tx.query(&stmt, &p.insert()).await?;
            Committed::Version(
                first(rows, |r| sql::version(get(r, 0)?))?.ok_or(StoreError::NotFound)?,
            )
        }
        Change::UpdateFactor { record, expected } => {
            let c = FactorCols::new(&record)?;
            let expected = sql::version_param(expected).unwrap_or(-1);
            let stmt = tx.prepare_cached(UPDATE_FACTOR).await?;
            let p = FactorParams::new(&c, expected);
            let rows = tx.query(&stmt, &p.update()).await?;
            match first(rows, |r| sql::version(get(r, 0)?))? {
                Some(v) => Committed::Version(v),
                None => {
                    let rows = tx
                        .query(
                            "SELECT 1 FROM mfa_factors WHERE user_id = $1 AND factor_id = $2",
                            &[&c.user_id, &c.factor_id],
                        )
                        .await?;
                    return Err(if rows.is_empty() {
                        StoreError::NotFound
                    } else {
                        StoreError::Conflict
                    }
                    .into());
                }
            }
        }
        Change::RemoveFactor { user, id } => {
            let rows = tx
                .query(
                    "DELETE FROM mfa_factors WHERE user_id = $1 AND factor_id = $2 RETURNING 1",
                    &[&user.as_str(), &id.as_str()],
                )
                .await?;
            Committed::Removed(!rows.is_empty())
        }
        Change::ForgetDevice { user, device_id } => {
            let rows = tx
                .query(
                    "DELETE FROM mfa_devices WHERE user_id = $1 AND device_id = $2 RETURNING 1",
                    &[&user.as_str(), &device_id],
                )
                .await?;
            Committed::Removed(!rows.is_empty())
        }
        Change::ResetUser(user) => Committed::Reset(reset_tx(&tx, &user).await?),
        _ => Committed::Nothing,
    };
    append(&tx, journal(&out)?).await?;
    tx.commit().await?;
    Ok(out)
}

async fn append(
    tx: &deadpool_postgres::Transaction<'_>,
    journal: Journal,
) -> Result<(), ResetError> {
    if !journal.audit.is_empty() {
        let rows = tx
            .query(
                "SELECT seq, hash FROM mfa_audit_head WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await?;
        let head = first(rows, |r| {
            Ok((sql::to_u64(get(r, 0)?, "audit head")?, get::<String>(r, 1)?))
        })?
        .ok_or_else(|| StoreError::Corrupt("the audit head row is missing".into()))?;
        let chained = crate::journal::chain(head, journal.audit);
        let insert = tx
            .prepare_cached(
                "INSERT INTO mfa_audit (seq, at, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5)",
            )
            .await?;
        for e in &chained {
            tx.execute(
                &insert,
                &[
                    &sql::to_i64(e.seq)?,
                    &sql::now_i64(e.at),
                    &e.body,
                    &e.prev_hash,
                    &e.hash,
                ],
            )
            .await?;
        }
        if let Some(last) = chained.last() {
            tx.execute(
                "UPDATE mfa_audit_head SET seq = $1, hash = $2 WHERE id = 1",
                &[&sql::to_i64(last.seq)?, &last.hash],
            )
            .await?;
        }
    }
    if !journal.outbox.is_empty() {
        let insert = tx
            .prepare_cached(
                "INSERT INTO mfa_outbox (id, payload, created_at, attempts, next_attempt_at) \
                 VALUES ($1, $2, $3, 0, $4)",
            )
            .await?;
        for m in &journal.outbox {
            tx.execute(
                &insert,
                &[
                    &m.id,
                    &m.payload,
                    &sql::now_i64(m.created_at),
                    &sql::now_i64(m.next_attempt_at),
                ],
            )
            .await?;
        }
    }
    Ok(())
}
