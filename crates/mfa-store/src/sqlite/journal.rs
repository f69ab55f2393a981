//! The SQLite backend's journal: the change and its audit and outbox rows in one
//! `BEGIN IMMEDIATE` transaction.

use mfa_core::store::{
    AuditEntry, Change, Committed, Journal, JournalFn, JournalStore, OutboxMessage,
};

use super::state::{forget_device_tx, reset_user_tx};
use super::*;

impl JournalStore for SqliteStore {
    fn keeps_journal(&self) -> bool {
        true
    }

    async fn commit_journaled(
        &self,
        change: Change,
        journal: JournalFn,
    ) -> Result<Committed, StoreError> {
        let change = Prepared::new(change)?;
        self.write(move |tx| {
            let out = change.apply(tx)?;
            append(tx, journal(&out)?)?;
            Ok(out)
        })
        .await
    }

    async fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let after = sql::to_i64(after)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, at, body, prev_hash, hash FROM mfa_audit WHERE seq > ?1 \
                     ORDER BY seq LIMIT ?2",
                )
                .map_err(lite)?;
            let rows = stmt
                .query_map(params![after, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .map_err(lite)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(corrupt)?;
            rows.into_iter()
                .map(|(seq, at, body, prev, hash)| {
                    Ok(AuditEntry::new(
                        sql::to_u64(seq, "audit seq")?,
                        sql::timestamp(at, "audit at")?,
                        body,
                        prev,
                        hash,
                    ))
                })
                .collect()
        })
        .await
    }

    async fn outbox_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let now = sql::now_i64(now);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, payload, created_at, attempts, next_attempt_at FROM mfa_outbox \
                     WHERE delivered_at IS NULL AND next_attempt_at <= ?1 \
                     ORDER BY created_at, rowid LIMIT ?2",
                )
                .map_err(lite)?;
            let rows = stmt
                .query_map(params![now, limit], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
                .map_err(lite)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(corrupt)?;
            rows.into_iter()
                .map(|(id, payload, created, attempts, next)| {
                    let mut m = OutboxMessage::new(
                        id,
                        payload,
                        sql::timestamp(created, "outbox created_at")?,
                    );
                    m.attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
                    m.next_attempt_at = sql::timestamp(next, "outbox next_attempt_at")?;
                    Ok(m)
                })
                .collect()
        })
        .await
    }

    async fn outbox_delivered(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let id = id.to_owned();
        let now = sql::now_i64(now);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE mfa_outbox SET delivered_at = ?2 WHERE id = ?1 AND delivered_at IS NULL",
                    params![id, now],
                )
                .map_err(lite)?;
            Ok(n > 0)
        })
        .await
    }

    async fn outbox_retry(&self, id: &str, next_attempt_at: Timestamp) -> Result<(), StoreError> {
        let id = id.to_owned();
        let next = sql::now_i64(next_attempt_at);
        self.write(move |tx| {
            tx.execute(
                "UPDATE mfa_outbox SET attempts = attempts + 1, next_attempt_at = ?2 \
                 WHERE id = ?1 AND delivered_at IS NULL",
                params![id, next],
            )
            .map_err(lite)?;
            Ok(())
        })
        .await
    }
}

/// A [`Change`] with its columns ready for the blocking pool.
enum Prepared {
    Insert(FactorCols),
    Nothing,
    Remove(String, String),
    Forget(String, String),
    Reset(String),
    Update(FactorCols, i64),
}

impl Prepared {
    fn new(change: Change) -> Result<Self, StoreError> {
        Ok(match change {
            Change::InsertFactor(r) => Self::Insert(FactorCols::new(&r)?),
            Change::UpdateFactor { record, expected } => Self::Update(
                FactorCols::new(&record)?,
                sql::version_param(expected).unwrap_or(-1),
            ),
            Change::RemoveFactor { user, id } => {
                Self::Remove(user.as_str().to_owned(), id.as_str().to_owned())
            }
            Change::ForgetDevice { user, device_id } => {
                Self::Forget(user.as_str().to_owned(), device_id)
            }
            Change::ResetUser(user) => Self::Reset(user.as_str().to_owned()),
            _ => Self::Nothing,
        })
    }

    fn apply(&self, tx: &Transaction<'_>) -> Result<Committed, StoreError> {
        Ok(match self {
            Self::Insert(c) => Committed::Version(insert_factor_tx(tx, c)?),
            Self::Update(c, expected) => Committed::Version(update_factor_tx(tx, c, *expected)?),
            Self::Remove(u, i) => Committed::Removed(remove_factor_tx(tx, u, i)?),
            Self::Forget(u, d) => Committed::Removed(forget_device_tx(tx, u, d)?),
            Self::Reset(u) => Committed::Reset(reset_user_tx(tx, u)?),
            Self::Nothing => Committed::Nothing,
        })
    }
}

/// Appends `journal` in the caller's transaction: the head row's update takes the write
/// lock (already held under `BEGIN IMMEDIATE`), then the chained rows and the outbox rows.
fn append(tx: &Transaction<'_>, journal: Journal) -> Result<(), StoreError> {
    if journal.is_empty() {
        return Ok(());
    }
    if !journal.audit.is_empty() {
        let (seq, hash): (i64, String) = tx
            .query_row(
                "SELECT seq, hash FROM mfa_audit_head WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(lite)?;
        let chained = crate::journal::chain((sql::to_u64(seq, "audit head")?, hash), journal.audit);
        for e in &chained {
            tx.prepare_cached(
                "INSERT INTO mfa_audit (seq, at, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(lite)?
            .execute(params![
                sql::to_i64(e.seq)?,
                sql::now_i64(e.at),
                e.body,
                e.prev_hash,
                e.hash
            ])
            .map_err(lite)?;
        }
        if let Some(last) = chained.last() {
            tx.execute(
                "UPDATE mfa_audit_head SET seq = ?1, hash = ?2 WHERE id = 1",
                params![sql::to_i64(last.seq)?, last.hash],
            )
            .map_err(lite)?;
        }
    }
    for m in &journal.outbox {
        tx.prepare_cached(
            "INSERT INTO mfa_outbox (id, payload, created_at, attempts, next_attempt_at) \
             VALUES (?1, ?2, ?3, 0, ?4)",
        )
        .map_err(lite)?
        .execute(params![
            m.id,
            m.payload,
            sql::now_i64(m.created_at),
            sql::now_i64(m.next_attempt_at)
        ])
        .map_err(lite)?;
    }
    Ok(())
}
