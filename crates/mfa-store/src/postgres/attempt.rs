//! A verification's two steps in PostgreSQL, each one statement: the functions of
//! migration 4 (`mfa_count_attempt`, `mfa_commit_attempt`), which take the user's
//! advisory lock and then judge, count, read or take, swap and clear.

use mfa_core::store::{
    AttemptCount, AttemptRequest, AttemptStore, Begun, ChallengeUse, Success, Verdict,
    VerificationStore,
};

use super::*;

/// Counts the attempt; `$1`..`$16` are [`AttemptParams::params`].
const COUNT_ATTEMPT: &str = "SELECT * FROM mfa_count_attempt($1, $2, $3, $4, $5, $6, $7, $8, \
     $9, $10, $11, $12, $13, $14, $15, $16)";

/// The number of columns `mfa_count_attempt` returns, before the factor's in
/// [`BEGIN_VERIFICATION`].
const GATE_COLUMNS: usize = 16;

/// Counts the attempt and, when it may be verified, lists the user's factors, oldest
/// first: one statement, one round trip. The function runs once (a materialised CTE);
/// without factors (or on a refusal) there is one row with the factor's columns NULL.
fn begin_verification_sql() -> String {
    let factor_columns = FACTOR_COLUMNS
        .split(", ")
        .map(|c| format!("f.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH g AS MATERIALIZED ({COUNT_ATTEMPT}) \
         SELECT g.*, {factor_columns} FROM g LEFT JOIN mfa_factors f \
         ON g.o_verdict = 0 AND f.user_id = $1 \
         ORDER BY f.created_at, f.factor_id COLLATE \"C\""
    )
}

/// An attempt's statement parameters.
struct AttemptParams {
    user: String,
    account: (&'static str, String, String),
    factor: (&'static str, String, String),
    now: i64,
    window: i64,
    lapse: Option<i64>,
    account_limit: i32,
    backoff: Vec<i64>,
    lockout: i64,
    challenge: Option<String>,
    take: bool,
    durable: bool,
}

impl AttemptParams {
    fn new(r: &AttemptRequest<'_>, durable: bool) -> Self {
        let rules = r.rules;
        let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        Self {
            user: r.user.as_str().to_owned(),
            account: r.account_key().columns(),
            factor: r.factor_key().columns(),
            now: sql::now_i64(r.now),
            window: sql::window_secs(rules.window()),
            lapse: sql::lapse_secs(rules.window()),
            account_limit: i32::try_from(rules.account_limit()).unwrap_or(i32::MAX),
            backoff: rules.backoff_secs().iter().map(|&s| secs(s)).collect(),
            lockout: secs(rules.lockout_secs()),
            challenge: r.challenge.map(|c| c.id().as_str().to_owned()),
            take: matches!(r.challenge, Some(ChallengeUse::Take(_))),
            durable,
        }
    }

    fn params(&self) -> [Param<'_>; 16] {
        [
            &self.user,
            &self.account.0,
            &self.account.1,
            &self.account.2,
            &self.factor.0,
            &self.factor.1,
            &self.factor.2,
            &self.now,
            &self.window,
            &self.lapse,
            &self.account_limit,
            &self.backoff,
            &self.lockout,
            &self.challenge,
            &self.take,
            &self.durable,
        ]
    }
}

fn counter(row: &Row, at: usize) -> Result<Option<Failures>, StoreError> {
    let count: Option<i32> = get(row, at)?;
    count
        .map(|c| sql::failures(c, get(row, at + 1)?, get(row, at + 2)?))
        .transpose()
}

/// The gate's columns of a row of `mfa_count_attempt`.
fn attempt_count(row: &Row) -> Result<AttemptCount, StoreError> {
    let verdict = Verdict::from_code(
        i64::from(get::<i32>(row, 0)?),
        sql::to_u64(get(row, 1)?, "until")?,
    )?;
    let challenge = match get::<Option<String>>(row, 8)? {
        Some(id) => Some(
            ChallengeRow {
                id,
                owner: get(row, 9)?,
                factor_id: get(row, 10)?,
                version: get(row, 11)?,
                data_format: get(row, 12)?,
                data_key_id: get(row, 13)?,
                data: get(row, 14)?,
                expires_at: get(row, 15)?,
            }
            .decode()?,
        ),
        None => None,
    };
    Ok(AttemptCount::new(
        verdict,
        counter(row, 2)?,
        counter(row, 5)?,
        challenge,
    ))
}

/// Commits a success; `$1`..`$24` as the function's arguments.
const COMMIT_ATTEMPT: &str = "SELECT mfa_commit_attempt($1, $2, $3, $4, $5, $6, $7, $8, $9, \
     $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)";

impl AttemptStore for PostgresStore {
    async fn count_attempt(
        &self,
        request: &AttemptRequest<'_>,
    ) -> Result<AttemptCount, StoreError> {
        let p = AttemptParams::new(request, self.durable_attempt_counts);
        let rows = self.query(COUNT_ATTEMPT, &p.params()).await?;
        first(rows, attempt_count)?
            .ok_or_else(|| backend(Message("mfa_count_attempt returned no row")))
    }

    async fn settle_attempt(
        &self,
        user: &UserId,
        factor: &FactorId,
        take: Option<&ChallengeId>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.commit_verification(settle(user, factor, take, now))
            .await
            .map(|_| ())
    }
}

fn settle<'a>(
    user: &'a UserId,
    factor: &'a FactorId,
    take: Option<&'a ChallengeId>,
    now: Timestamp,
) -> Success<'a> {
    let s = Success::new(user, factor, now);
    match take {
        Some(id) => s.with_take(id),
        None => s,
    }
}

impl VerificationStore for PostgresStore {
    async fn begin_verification(&self, request: &AttemptRequest<'_>) -> Result<Begun, StoreError> {
        let p = AttemptParams::new(request, self.durable_attempt_counts);
        let rows = self.query(&begin_verification_sql(), &p.params()).await?;
        let Some(head) = rows.first() else {
            return Err(backend(Message("mfa_count_attempt returned no row")));
        };
        let attempt = attempt_count(head)?;
        let mut factors = Vec::new();
        for row in &rows {
            if get::<Option<String>>(row, GATE_COLUMNS)?.is_some() {
                factors.push(factor_row_at(row, GATE_COLUMNS)?);
            }
        }
        Ok(Begun::new(attempt, factors))
    }

    async fn commit_verification(
        &self,
        success: Success<'_>,
    ) -> Result<Option<Version>, StoreError> {
        let user = success.user.as_str();
        let (akind, aowner, asubject) = FailureKey::user(success.user).columns();
        let (fkind, fowner, fsubject) = FailureKey::factor(success.user, success.factor).columns();
        let take = success.take.map(ChallengeId::as_str);
        let now = sql::now_i64(success.now);
        let (cols, expected) = match &success.update {
            Some((record, expected)) => (
                Some(FactorCols::new(record)?),
                sql::version_param(*expected).unwrap_or(-1),
            ),
            None => (None, -1),
        };
        let update = cols.is_some();
        let fp = cols.as_ref().map(|c| FactorParams::new(c, expected));
        let factor_id = cols.as_ref().map(|c| c.factor_id.as_str());
        let kind = cols.as_ref().map(|c| c.kind);
        let label = cols.as_ref().map(|c| c.label.as_str());
        let confirmed = cols.as_ref().map(|c| c.confirmed);
        let created_at = cols.as_ref().map(|c| c.created_at);
        let last_used_at = cols.as_ref().and_then(|c| c.last_used_at);
        let scope = fp.as_ref().and_then(|p| p.scope);
        let namespace = fp.as_ref().and_then(|p| p.namespace);
        let value = fp.as_ref().and_then(|p| p.value);
        let owner = fp.as_ref().and_then(|p| p.owner);
        let format = cols.as_ref().map(|c| c.data_format);
        let key_id = cols.as_ref().and_then(|c| c.data_key_id.as_deref());
        let data = cols.as_ref().map(|c| c.data.as_slice());
        let rows = self
            .query(
                COMMIT_ATTEMPT,
                &[
                    &user,
                    &akind,
                    &aowner,
                    &asubject,
                    &fkind,
                    &fowner,
                    &fsubject,
                    &take,
                    &now,
                    &update,
                    &factor_id,
                    &expected,
                    &kind,
                    &label,
                    &confirmed,
                    &created_at,
                    &last_used_at,
                    &scope,
                    &namespace,
                    &value,
                    &owner,
                    &format,
                    &key_id,
                    &data,
                ],
            )
            .await?;
        let version: Option<i64> = first(rows, |r| get(r, 0))?.flatten();
        version.map(sql::version).transpose()
    }
}
