//! The store operations shaped like a verification: one step that counts an attempt
//! (and reads or takes its challenge, and lists the user's factors), one step that
//! commits a success.
//!
//! A verification needs, at the least, to read what it verifies against and to write
//! that it was used. [`VerificationStore::begin_verification`] is the read, with the
//! lockout gate folded in: the store judges the attempt by the service's
//! [`AttemptRules`] while it counts it, so the decision and the count are one atomic step
//! and a burst of concurrent attempts is judged exactly like a sequence.
//! [`VerificationStore::commit_verification`] is the write: the compare-and-swap of the
//! factor, the single-use take of the challenge and the clearing of the counters, all or
//! nothing. On PostgreSQL each is one statement, so a TOTP verification is two round
//! trips.

use alloc::vec::Vec;
use core::future::Future;
use core::time::Duration;

use super::{
    ChallengeId, ChallengeOwner, ChallengeStore, FactorRecord, FactorStore, FailureKey,
    FailureStore, Failures, PendingChallenge, StoreError, Version, Versioned,
};
use crate::clock::Timestamp;
use crate::error::{Error, InvalidInput};
use crate::id::{FactorId, UserId};

/// The most entries an [`AttemptRules`] backoff schedule holds (a lock after at most
/// 1,024 failures; NIST SP 800-63B-4 allows at most 100).
pub const MAX_BACKOFF_STEPS: usize = 1024;

/// The longest wait an [`AttemptRules`] keeps, in seconds (about 31 million years):
/// longer ones are cut to it, so every backend adds it to a time without overflow.
pub const MAX_WAIT_SECS: u64 = 1_000_000_000_000_000;

/// The lockout rules a store applies while it counts an attempt: the service's policy,
/// as data every backend evaluates the same way (in Rust, SQL or Lua).
///
/// With `c` the factor's consecutive failures inside `window` and `last` the time of the
/// latest:
///
/// - the account's failures ([`FailureKey::User`], never lapsing) at or above
///   `account_limit`: **account locked**, nothing counted;
/// - `c < backoff.len()` and `now < last + backoff[c]`: **backoff**, nothing counted;
/// - `c >= backoff.len()` and `now < last + lockout`: **locked**, counted on the factor
///   only (it extends the lock) — the attempt is refused unverified, so it guessed
///   nothing and must not hasten the account's lock;
/// - otherwise **proceed**: counted on the factor and on the account, then verified.
///
/// Waits are whole seconds, like [`Timestamp`], and at most [`MAX_WAIT_SECS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRules {
    account_limit: u32,
    window: Duration,
    backoff: Vec<u64>,
    lockout: u64,
}

impl AttemptRules {
    /// Rules with an account limit, the factor counter's window, the wait after `c`
    /// failures for each `c` below the lock (`backoff[c]`, zero for none) and the
    /// lockout's length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a zero account limit or window, or more than
    /// [`MAX_BACKOFF_STEPS`] backoff entries.
    pub fn new(
        account_limit: u32,
        window: Duration,
        backoff: &[Duration],
        lockout: Duration,
    ) -> Result<Self, Error> {
        if account_limit == 0 {
            return Err(InvalidInput::new("account_limit", "must be at least 1").into());
        }
        if window.as_secs() == 0 {
            return Err(InvalidInput::new("window", "must be at least one second").into());
        }
        if backoff.len() > MAX_BACKOFF_STEPS {
            return Err(InvalidInput::new("backoff", "at most 1024 steps").into());
        }
        Ok(Self {
            account_limit,
            window,
            backoff: backoff
                .iter()
                .map(|d| d.as_secs().min(MAX_WAIT_SECS))
                .collect(),
            lockout: lockout.as_secs().min(MAX_WAIT_SECS),
        })
    }

    /// The account's failures at which every attempt is refused.
    pub fn account_limit(&self) -> u32 {
        self.account_limit
    }

    /// The window of the factor's counter.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The wait after `c` failures, in seconds, for each `c` below the lock.
    pub fn backoff_secs(&self) -> &[u64] {
        &self.backoff
    }

    /// The lockout's length, in seconds.
    pub fn lockout_secs(&self) -> u64 {
        self.lockout
    }

    /// The verdict on an attempt at `now`, from the counters as they are before it
    /// (`factor` already read through the window: `None` when lapsed).
    pub fn judge(
        &self,
        account: Option<Failures>,
        factor: Option<Failures>,
        now: Timestamp,
    ) -> Verdict {
        if account.is_some_and(|a| a.count >= self.account_limit) {
            return Verdict::AccountLocked;
        }
        let Some(f) = factor else {
            return Verdict::Proceed;
        };
        let step = usize::try_from(f.count).unwrap_or(usize::MAX);
        match self.backoff.get(step) {
            Some(&wait) => {
                let until = Timestamp::from_unix_secs(f.last_at.unix_secs().saturating_add(wait));
                if now < until {
                    Verdict::Backoff { until }
                } else {
                    Verdict::Proceed
                }
            }
            None => {
                let until = f.last_at.unix_secs().saturating_add(self.lockout);
                if now.unix_secs() < until {
                    // Counted: the lock now runs from this attempt.
                    Verdict::Locked {
                        until: Timestamp::from_unix_secs(
                            now.unix_secs().saturating_add(self.lockout),
                        ),
                    }
                } else {
                    Verdict::Proceed
                }
            }
        }
    }
}

/// What the store decided about an attempt (see [`AttemptRules`]). A closed set: the
/// service maps each to its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Counted on the factor and the account: verify it.
    Proceed,
    /// Refused, counted nowhere: wait until `until`.
    Backoff {
        /// When the next attempt may come.
        until: Timestamp,
    },
    /// Refused, counted on the factor (extending the lock) but not on the account.
    Locked {
        /// When the lock ends, counted from this attempt.
        until: Timestamp,
    },
    /// Refused, counted nowhere: the account is locked until an operator unlocks it.
    AccountLocked,
}

impl Verdict {
    /// A number per verdict, for backends that return it as a column (`0` proceed, `1`
    /// backoff, `2` locked, `3` account locked), with [`from_code`](Self::from_code).
    pub fn code(self) -> i32 {
        match self {
            Self::Proceed => 0,
            Self::Backoff { .. } => 1,
            Self::Locked { .. } => 2,
            Self::AccountLocked => 3,
        }
    }

    /// The verdict of [`code`](Self::code) with its time.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for an unknown code.
    pub fn from_code(code: i64, until: u64) -> Result<Self, StoreError> {
        let until = Timestamp::from_unix_secs(until);
        Ok(match code {
            0 => Self::Proceed,
            1 => Self::Backoff { until },
            2 => Self::Locked { until },
            3 => Self::AccountLocked,
            _ => return Err(StoreError::Corrupt("unknown attempt verdict".into())),
        })
    }

    /// When the refusal ends, if it ends by itself.
    pub fn until(self) -> Option<Timestamp> {
        match self {
            Self::Backoff { until } | Self::Locked { until } => Some(until),
            Self::Proceed | Self::AccountLocked => None,
        }
    }
}

/// What an attempt does with its challenge (always the user's own:
/// [`ChallengeOwner::User`]), in the same step as its count, and only when the verdict
/// is [`Verdict::Proceed`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeUse<'a> {
    /// Read it, unexpired, without consuming it (an out-of-band code that allows
    /// several attempts).
    Read(&'a ChallengeId),
    /// Take it: read and delete, once (a WebAuthn assertion, a push completion).
    Take(&'a ChallengeId),
}

impl ChallengeUse<'_> {
    /// The challenge's id.
    pub fn id(&self) -> &ChallengeId {
        match self {
            Self::Read(id) | Self::Take(id) => id,
        }
    }
}

/// One attempt at one factor of one user, at `now`, under `rules`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct AttemptRequest<'a> {
    /// Whose factor.
    pub user: &'a UserId,
    /// Which factor: its counter is [`FailureKey::Factor`].
    pub factor: &'a FactorId,
    /// How the store judges it.
    pub rules: &'a AttemptRules,
    /// When.
    pub now: Timestamp,
    /// The challenge to read or take with the count.
    pub challenge: Option<ChallengeUse<'a>>,
}

impl<'a> AttemptRequest<'a> {
    /// An attempt without a challenge.
    pub fn new(
        user: &'a UserId,
        factor: &'a FactorId,
        rules: &'a AttemptRules,
        now: Timestamp,
    ) -> Self {
        Self {
            user,
            factor,
            rules,
            now,
            challenge: None,
        }
    }

    /// With a challenge to read or take in the same step.
    #[must_use]
    pub fn with_challenge(mut self, challenge: ChallengeUse<'a>) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// The account's counter key.
    pub fn account_key(&self) -> FailureKey {
        FailureKey::user(self.user)
    }

    /// The factor's counter key.
    pub fn factor_key(&self) -> FailureKey {
        FailureKey::factor(self.user, self.factor)
    }

    /// The challenge's owner: the user.
    pub fn owner(&self) -> ChallengeOwner {
        ChallengeOwner::User(self.user.clone())
    }
}

/// What [`AttemptStore::count_attempt`] did.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct AttemptCount {
    /// The verdict; only [`Verdict::Proceed`] may be verified.
    pub verdict: Verdict,
    /// The account's counter as it was before this attempt.
    pub account: Option<Failures>,
    /// The factor's counter (through the window) as it was before this attempt.
    pub factor: Option<Failures>,
    /// The challenge read or taken, when asked for, the verdict is
    /// [`Verdict::Proceed`] and it exists for the user unexpired (whatever factor it
    /// names: the caller checks that).
    pub challenge: Option<Versioned<PendingChallenge>>,
}

impl AttemptCount {
    /// A result (for backends).
    pub fn new(
        verdict: Verdict,
        account: Option<Failures>,
        factor: Option<Failures>,
        challenge: Option<Versioned<PendingChallenge>>,
    ) -> Self {
        Self {
            verdict,
            account,
            factor,
            challenge,
        }
    }
}

/// What [`VerificationStore::begin_verification`] returns: the count, and the user's
/// factors (oldest first, as [`FactorStore::list_factors`]) when the verdict is
/// [`Verdict::Proceed`], else none.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Begun {
    /// The attempt's count and verdict.
    pub attempt: AttemptCount,
    /// The user's factors.
    pub factors: Vec<Versioned<FactorRecord>>,
}

impl Begun {
    /// A result (for backends).
    pub fn new(attempt: AttemptCount, factors: Vec<Versioned<FactorRecord>>) -> Self {
        Self { attempt, factors }
    }
}

/// A success to commit: the factor's compare-and-swap, the challenge to take, and the
/// user's account and factor counters to clear.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Success<'a> {
    /// Whose.
    pub user: &'a UserId,
    /// Which factor's counter to clear (and, with `update`, which factor).
    pub factor: &'a FactorId,
    /// The new record and the version it replaces.
    pub update: Option<(FactorRecord, Version)>,
    /// The user's challenge to take, once.
    pub take: Option<&'a ChallengeId>,
    /// When (a challenge expired at `now` cannot be taken).
    pub now: Timestamp,
}

impl<'a> Success<'a> {
    /// A success that only clears the counters.
    pub fn new(user: &'a UserId, factor: &'a FactorId, now: Timestamp) -> Self {
        Self {
            user,
            factor,
            update: None,
            take: None,
            now,
        }
    }

    /// With the factor's compare-and-swap.
    #[must_use]
    pub fn with_update(mut self, record: FactorRecord, expected: Version) -> Self {
        self.update = Some((record, expected));
        self
    }

    /// With the challenge to take.
    #[must_use]
    pub fn with_take(mut self, id: &'a ChallengeId) -> Self {
        self.take = Some(id);
        self
    }
}

/// The hot half of a verification: counters and challenges. A store of challenges and
/// counters alone (Redis) implements it; `mfa_store::Split` runs it beside the durable
/// half.
pub trait AttemptStore: ChallengeStore + FailureStore {
    /// Counts one attempt by `request.rules` ([`AttemptRules`]) and, when the verdict is
    /// [`Verdict::Proceed`], reads or takes its challenge — **one atomic step**.
    ///
    /// Of any number of concurrent attempts at one factor, each is judged by the
    /// counters the earlier ones left, exactly as if they had come one after the other:
    /// a burst gets no more verifications than a sequence. A taken challenge is taken
    /// once. The factor's counter is kept over `rules.window()`, the account's with
    /// [`NEVER_LAPSES`](super::NEVER_LAPSES), as [`FailureStore::record_failure`] keeps them. SQL: one
    /// statement (PostgreSQL: a function under the user's advisory lock); Redis: one
    /// script.
    ///
    /// # Errors
    ///
    /// Only backend failures (nothing counted).
    fn count_attempt(
        &self,
        request: &AttemptRequest<'_>,
    ) -> impl Future<Output = Result<AttemptCount, StoreError>> + Send;

    /// The hot half of a success: takes `take` (once) and clears the user's account and
    /// `factor` counters — one atomic step, all or nothing (Redis: one script).
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the challenge is gone, expired or was taken by
    /// another request (nothing cleared).
    fn settle_attempt(
        &self,
        user: &UserId,
        factor: &FactorId,
        take: Option<&ChallengeId>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A verification's two steps on a store that holds factors, challenges and counters.
pub trait VerificationStore: FactorStore + AttemptStore {
    /// [`count_attempt`](AttemptStore::count_attempt) and, when the verdict is
    /// [`Verdict::Proceed`], the user's factors — one round trip (SQL: one statement;
    /// `Split`: both halves at once). The listing need not be atomic with the count; the
    /// default makes the two calls one after the other.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn begin_verification(
        &self,
        request: &AttemptRequest<'_>,
    ) -> impl Future<Output = Result<Begun, StoreError>> + Send {
        async move {
            let attempt = self.count_attempt(request).await?;
            let factors = if attempt.verdict == Verdict::Proceed {
                self.list_factors(request.user).await?
            } else {
                Vec::new()
            };
            Ok(Begun::new(attempt, factors))
        }
    }

    /// Commits a success **in one atomic step**, all or nothing: the factor's
    /// compare-and-swap (as [`FactorStore::update_factor_if_version`]), the take of the
    /// challenge (as [`ChallengeStore::take_challenge`]) and the clearing of the user's
    /// account and factor counters. Returns the factor's new version when it was
    /// updated.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the factor's version differs or the challenge is
    /// gone (a lost race: a replay); [`StoreError::NotFound`] when the factor no longer
    /// exists; [`StoreError::LookupKeyTaken`] as for an update. Nothing is written.
    fn commit_verification(
        &self,
        success: Success<'_>,
    ) -> impl Future<Output = Result<Option<Version>, StoreError>> + Send;
}
