//! A verification's two steps in SQLite: each one `BEGIN IMMEDIATE` transaction, so the
//! judgement and the counts (or the swap, the take and the clearing) cannot interleave
//! with another connection's.

use mfa_core::store::{
    AttemptCount, AttemptRequest, AttemptRules, AttemptStore, Begun, ChallengeUse, NEVER_LAPSES,
    Success, Verdict, VerificationStore,
};

use super::state::{CounterCols, clear_failures_conn, failures_conn, record_failure_conn};
use super::*;

/// An attempt's parameters, owned for the blocking pool.
struct Attempt {
    user: String,
    account: CounterCols,
    factor: CounterCols,
    rules: AttemptRules,
    now: Timestamp,
    challenge: Option<(String, bool)>,
}

impl Attempt {
    fn new(request: &AttemptRequest<'_>) -> Self {
        Self {
            user: request.user.as_str().to_owned(),
            account: request.account_key().columns(),
            factor: request.factor_key().columns(),
            rules: request.rules.clone(),
            now: request.now,
            challenge: request.challenge.map(|c| {
                (
                    c.id().as_str().to_owned(),
                    matches!(c, ChallengeUse::Take(_)),
                )
            }),
        }
    }

    /// Judges and counts, inside the caller's transaction.
    fn run(&self, tx: &Transaction<'_>) -> Result<AttemptCount, StoreError> {
        let (rules, now) = (&self.rules, self.now);
        let account = failures_conn(tx, &self.account, now, NEVER_LAPSES)?;
        let factor = failures_conn(tx, &self.factor, now, rules.window())?;
        let verdict = rules.judge(account, factor, now);
        if matches!(verdict, Verdict::Proceed | Verdict::Locked { .. }) {
            record_failure_conn(tx, &self.factor, now, rules.window())?;
        }
        let mut challenge = None;
        if verdict == Verdict::Proceed {
            record_failure_conn(tx, &self.account, now, NEVER_LAPSES)?;
            let owner = Some(self.user.as_str());
            challenge = match &self.challenge {
                Some((id, false)) => challenge_conn(tx, id, owner, sql::now_i64(now))?,
                Some((id, true)) => {
                    take_challenge_conn(tx, id, owner)?.filter(|c| now <= c.value.expires_at)
                }
                None => None,
            };
        }
        Ok(AttemptCount::new(verdict, account, factor, challenge))
    }
}

/// Takes the user's challenge (a conflict when it is not there to take) and clears the
/// two counters, inside the caller's transaction.
fn settle(
    tx: &Transaction<'_>,
    user: &str,
    counters: &[CounterCols; 2],
    take: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    if let Some(id) = take {
        let taken = take_challenge_conn(tx, id, Some(user))?;
        if taken.is_none_or(|c| now > c.value.expires_at) {
            // Rolled back with the error: an expired challenge stays for the purge.
            return Err(StoreError::Conflict);
        }
    }
    for c in counters {
        clear_failures_conn(tx, c)?;
    }
    Ok(())
}

fn counters(user: &UserId, factor: &FactorId) -> [CounterCols; 2] {
    [
        FailureKey::user(user).columns(),
        FailureKey::factor(user, factor).columns(),
    ]
}

impl AttemptStore for SqliteStore {
    async fn count_attempt(
        &self,
        request: &AttemptRequest<'_>,
    ) -> Result<AttemptCount, StoreError> {
        let attempt = Attempt::new(request);
        self.write(move |tx| attempt.run(tx)).await
    }

    async fn settle_attempt(
        &self,
        user: &UserId,
        factor: &FactorId,
        take: Option<&ChallengeId>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let counters = counters(user, factor);
        let u = user.as_str().to_owned();
        let take = take.map(|id| id.as_str().to_owned());
        self.write(move |tx| settle(tx, &u, &counters, take.as_deref(), now))
            .await
    }
}

impl VerificationStore for SqliteStore {
    async fn begin_verification(&self, request: &AttemptRequest<'_>) -> Result<Begun, StoreError> {
        let attempt = Attempt::new(request);
        self.write(move |tx| {
            let count = attempt.run(tx)?;
            let factors = if count.verdict == Verdict::Proceed {
                list_factors_conn(tx, &attempt.user)?
            } else {
                Vec::new()
            };
            Ok(Begun::new(count, factors))
        })
        .await
    }

    async fn commit_verification(
        &self,
        success: Success<'_>,
    ) -> Result<Option<Version>, StoreError> {
        let counters = counters(success.user, success.factor);
        let u = success.user.as_str().to_owned();
        let take = success.take.map(|id| id.as_str().to_owned());
        let now = success.now;
        let update = match success.update {
            Some((record, expected)) => Some((
                FactorCols::new(&record)?,
                sql::version_param(expected).unwrap_or(-1),
            )),
            None => None,
        };
        // One transaction: any error rolls the take and the swap back.
        self.write(move |tx| {
            let version = match &update {
                Some((c, expected)) => Some(update_factor_tx(tx, c, *expected)?),
                None => None,
            };
            settle(tx, &u, &counters, take.as_deref(), now)?;
            Ok(version)
        })
        .await
    }
}
