//! What the SQL backends share: how records map to columns and back.
//!
//! Both SQL schemas have the same tables and columns (see the crate README); this module
//! turns records into column values and rows back into records, validating everything
//! it reads (a row that does not decode is [`StoreError::Corrupt`], never a panic).

use std::time::Duration;

use mfa_core::store::{
    ChallengeId, ChallengeOwner, FactorRecord, LookupKey, LookupScope, PendingChallenge,
    RecordData, StoreError, Version,
};
use mfa_core::{FactorId, FactorKind, Timestamp, UserId};

/// A backend failure with a message of our own (a value out of the column's range).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Message(pub(crate) &'static str);

/// Wraps any driver error as [`StoreError::Backend`].
pub(crate) fn backend<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// A stored integer that should be a non-negative `i64`, read back as `u64`.
pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}

/// A `u64` (timestamp, generation) into a `BIGINT` column; values past `i64::MAX` are
/// refused rather than wrapped.
pub(crate) fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| backend(Message("value too large for a BIGINT column")))
}

/// A `now` for comparisons: past `i64::MAX` it compares as `i64::MAX` (later than every
/// stored instant, which is what it is).
pub(crate) fn now_i64(now: Timestamp) -> i64 {
    i64::try_from(now.unix_secs()).unwrap_or(i64::MAX)
}

/// A window in whole seconds for `now - last_at > window` on integer seconds (for an
/// integer difference `d`, `d > w` iff `d > floor(w)`).
pub(crate) fn window_secs(window: Duration) -> i64 {
    i64::try_from(window.as_secs()).unwrap_or(i64::MAX)
}

/// What a counter's `lapses_at` adds to its last failure: the window in seconds, or
/// `NULL` (never lapses, so never purged) for a window past any real date, which also
/// keeps `last_at + window` from overflowing a `BIGINT`.
pub(crate) fn lapse_secs(window: Duration) -> Option<i64> {
    /// About 31 million years.
    const NEVER: i64 = 1_000_000_000_000_000;
    let w = window_secs(window);
    (w < NEVER).then_some(w)
}

pub(crate) fn version(v: i64) -> Result<Version, StoreError> {
    to_u64(v, "version").map(Version::new)
}

pub(crate) fn version_param(v: Version) -> Option<i64> {
    // A version the store never handed out (beyond BIGINT) matches no row.
    i64::try_from(v.get()).ok()
}

pub(crate) fn scope_str(s: LookupScope) -> &'static str {
    match s {
        LookupScope::Global => "global",
        _ => "per-user",
    }
}

/// The lookup-key columns `(scope, namespace, value, owner)` of a factor's key.
pub(crate) struct LookupCols {
    pub(crate) scope: &'static str,
    pub(crate) namespace: String,
    pub(crate) value: Vec<u8>,
    pub(crate) owner: String,
}

/// The columns of a lookup key as held by `user`: the owner column is the empty string
/// for a global key and the user id for a per-user one.
pub(crate) fn lookup_cols(key: &LookupKey, user: &UserId) -> LookupCols {
    let owner = match key.scope() {
        LookupScope::Global => String::new(),
        _ => user.as_str().to_owned(),
    };
    LookupCols {
        scope: scope_str(key.scope()),
        namespace: key.namespace().to_owned(),
        value: key.value().to_vec(),
        owner,
    }
}

/// The columns of a factor row, in the order the backends bind them.
pub(crate) struct FactorCols {
    pub(crate) user_id: String,
    pub(crate) factor_id: String,
    pub(crate) kind: &'static str,
    pub(crate) label: String,
    pub(crate) confirmed: bool,
    pub(crate) created_at: i64,
    pub(crate) last_used_at: Option<i64>,
    pub(crate) lookup: Option<LookupCols>,
    pub(crate) data_format: i32,
    pub(crate) data_key_id: Option<String>,
    pub(crate) data: Vec<u8>,
}

impl FactorCols {
    pub(crate) fn new(r: &FactorRecord) -> Result<Self, StoreError> {
        Ok(Self {
            user_id: r.user.as_str().to_owned(),
            factor_id: r.id.as_str().to_owned(),
            kind: r.kind.as_str(),
            label: r.label.clone(),
            confirmed: r.confirmed,
            created_at: to_i64(r.created_at.unix_secs())?,
            last_used_at: r.last_used_at.map(|t| to_i64(t.unix_secs())).transpose()?,
            lookup: r.lookup_key.as_ref().map(|k| lookup_cols(k, &r.user)),
            data_format: i32::from(r.data.format()),
            data_key_id: r.data.key_id().map(str::to_owned),
            data: r.data.expose_bytes().to_vec(),
        })
    }

    pub(crate) fn lookup_scope(&self) -> Option<&'static str> {
        self.lookup.as_ref().map(|l| l.scope)
    }
    pub(crate) fn lookup_namespace(&self) -> Option<&str> {
        self.lookup.as_ref().map(|l| l.namespace.as_str())
    }
    pub(crate) fn lookup_value(&self) -> Option<&[u8]> {
        self.lookup.as_ref().map(|l| l.value.as_slice())
    }
    pub(crate) fn lookup_owner(&self) -> Option<&str> {
        self.lookup.as_ref().map(|l| l.owner.as_str())
    }
}

/// The column list every factor `SELECT` / `RETURNING` reads, in [`FactorRow`] order.
pub(crate) const FACTOR_COLUMNS: &str = "user_id, factor_id, version, kind, label, confirmed, \
     created_at, last_used_at, lookup_scope, lookup_namespace, lookup_value, data_format, \
     data_key_id, data";

/// A factor row as read from the database.
pub(crate) struct FactorRow {
    pub(crate) user_id: String,
    pub(crate) factor_id: String,
    pub(crate) version: i64,
    pub(crate) kind: String,
    pub(crate) label: String,
    pub(crate) confirmed: bool,
    pub(crate) created_at: i64,
    pub(crate) last_used_at: Option<i64>,
    pub(crate) lookup_scope: Option<String>,
    pub(crate) lookup_namespace: Option<String>,
    pub(crate) lookup_value: Option<Vec<u8>>,
    pub(crate) data_format: i32,
    pub(crate) data_key_id: Option<String>,
    pub(crate) data: Vec<u8>,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(crate) fn data(
    format: i32,
    key_id: Option<String>,
    bytes: Vec<u8>,
) -> Result<RecordData, StoreError> {
    let format = u16::try_from(format).map_err(|e| corrupt("data_format", e))?;
    Ok(RecordData::sealed(format, key_id, bytes))
}

pub(crate) fn timestamp(v: i64, what: &str) -> Result<Timestamp, StoreError> {
    to_u64(v, what).map(Timestamp::from_unix_secs)
}

impl FactorRow {
    pub(crate) fn decode(self) -> Result<mfa_core::store::Versioned<FactorRecord>, StoreError> {
        let user = UserId::new(self.user_id).map_err(|e| corrupt("user_id", e))?;
        let id = FactorId::new(self.factor_id).map_err(|e| corrupt("factor_id", e))?;
        let kind = FactorKind::try_from(self.kind.as_str()).map_err(|e| corrupt("kind", e))?;
        let data = data(self.data_format, self.data_key_id, self.data)?;
        let mut rec = FactorRecord::new(
            user,
            id,
            kind,
            data,
            timestamp(self.created_at, "created_at")?,
        )
        .with_label(self.label)
        .with_confirmed(self.confirmed);
        rec.last_used_at = self
            .last_used_at
            .map(|t| timestamp(t, "last_used_at"))
            .transpose()?;
        match (self.lookup_scope, self.lookup_namespace, self.lookup_value) {
            (None, None, None) => {}
            (Some(scope), Some(ns), Some(value)) => {
                let scope = match scope.as_str() {
                    "global" => LookupScope::Global,
                    "per-user" => LookupScope::PerUser,
                    other => return Err(corrupt("lookup_scope", other)),
                };
                let key = LookupKey::new(scope, ns, value).map_err(|e| corrupt("lookup key", e))?;
                rec = rec.with_lookup_key(key);
            }
            _ => return Err(StoreError::Corrupt("half a lookup key".into())),
        }
        Ok(mfa_core::store::Versioned::new(rec, version(self.version)?))
    }
}

/// The owner column of a challenge: the user id, or NULL for a usernameless challenge.
pub(crate) fn owner_col(owner: &ChallengeOwner) -> Option<&str> {
    owner.user().map(UserId::as_str)
}

/// The column list every challenge `SELECT` / `RETURNING` reads, in [`ChallengeRow`] order.
pub(crate) const CHALLENGE_COLUMNS: &str =
    "id, owner, factor_id, version, data_format, data_key_id, data, expires_at";

/// A challenge row as read from the database.
pub(crate) struct ChallengeRow {
    pub(crate) id: String,
    pub(crate) owner: Option<String>,
    pub(crate) factor_id: Option<String>,
    pub(crate) version: i64,
    pub(crate) data_format: i32,
    pub(crate) data_key_id: Option<String>,
    pub(crate) data: Vec<u8>,
    pub(crate) expires_at: i64,
}

impl ChallengeRow {
    pub(crate) fn decode(self) -> Result<mfa_core::store::Versioned<PendingChallenge>, StoreError> {
        let id = ChallengeId::parse(&self.id).map_err(|e| corrupt("challenge id", e))?;
        let owner = match self.owner {
            Some(u) => ChallengeOwner::User(UserId::new(u).map_err(|e| corrupt("owner", e))?),
            None => ChallengeOwner::Usernameless,
        };
        let data = data(self.data_format, self.data_key_id, self.data)?;
        let mut c =
            PendingChallenge::new(id, owner, data, timestamp(self.expires_at, "expires_at")?);
        if let Some(f) = self.factor_id {
            c = c.with_factor(FactorId::new(f).map_err(|e| corrupt("factor_id", e))?);
        }
        Ok(mfa_core::store::Versioned::new(c, version(self.version)?))
    }
}

pub(crate) fn failures(
    count: i32,
    first: i64,
    last: i64,
) -> Result<mfa_core::store::Failures, StoreError> {
    let count = u32::try_from(count).map_err(|e| corrupt("count", e))?;
    Ok(mfa_core::store::Failures::new(
        count,
        timestamp(first, "first_at")?,
        timestamp(last, "last_at")?,
    ))
}

pub(crate) fn generation(v: i64) -> Result<mfa_core::store::Generation, StoreError> {
    to_u64(v, "generation").map(mfa_core::store::Generation::new)
}

#[cfg(feature = "postgres")]
pub(crate) fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
