//! Failure limits: backoff, then lockout (NIST SP 800-63B-4 §3.2.2, rev3 §5.2.2: at most
//! 100 consecutive failed attempts), and the window over which the store counts them.
//!
//! The service records each failure with the store's `record_failure(key, now,
//! limits.window)` — per user, factor, destination or client IP, as the store defines
//! its keys; this module names no key — and asks [`Policy::failure_state`] with the
//! count it got back.

use std::time::Duration;

use mfa_core::Timestamp;
use serde::Serialize;

use crate::policy::Policy;

/// Limits on failed verifications of one factor (`[failures]` in the document).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct FailureLimits {
    /// Consecutive failures that lock the factor (default 5; at most 100, NIST SP
    /// 800-63B-4 §3.2.2, rev3 §5.2.2).
    pub max_consecutive: u32,
    /// Failures after which each further attempt waits (default 3).
    pub backoff_after: u32,
    /// The first wait, doubled after each further failure (default 1 s).
    pub backoff_base: Duration,
    /// The longest wait (default 60 s).
    pub backoff_max: Duration,
    /// How long a lockout lasts from the last failure (default 15 min). It may be
    /// longer than `window`: counters are then kept over the lockout (see
    /// [`counting_window`](Self::counting_window)), so a lockout always lasts as long as
    /// it says.
    pub lockout: Duration,
    /// The counting window (`failures.window`, default 15 min): the `window` the service
    /// passes to the store's [`FailureStore::record_failure`](mfa_core::store::FailureStore::record_failure),
    /// so a failure more than this long after the previous one starts the count again at
    /// one. Never zero, and at least `backoff_max`, so waiting out the longest backoff
    /// does not reset the count and escape the lockout.
    pub window: Duration,
}

impl FailureLimits {
    /// The window the service counts a factor's failures over: the longer of `window`
    /// and `lockout`. A count kept only for `window` would vanish before a longer
    /// lockout ends and so end it early; kept for the longer of the two, the lockout
    /// holds for all of `lockout` and the count restarts only after both have passed.
    pub fn counting_window(&self) -> Duration {
        self.window.max(self.lockout)
    }
}

impl Default for FailureLimits {
    fn default() -> Self {
        Self {
            max_consecutive: 5,
            backoff_after: 3,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            lockout: Duration::from_secs(15 * 60),
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Whether a factor may be tried now.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FailureState {
    /// Wait until `until` before the next attempt.
    Backoff {
        /// The earliest next attempt.
        until: Timestamp,
    },
    /// Locked after `failures.max_consecutive` failures until `until`.
    LockedOut {
        /// When the lockout ends.
        until: Timestamp,
    },
    /// Attempts are allowed.
    Open,
}

impl FailureState {
    /// Whether an attempt is allowed now.
    pub fn is_open(self) -> bool {
        self == Self::Open
    }
}

impl Policy {
    /// The state of a factor with `consecutive` failures since its last success, the
    /// last at `last_failure`.
    ///
    /// From `backoff_after` failures on, each attempt waits `backoff_base`, doubled per
    /// further failure, at most `backoff_max`. At `max_consecutive` failures the factor
    /// is locked for `lockout` from the last failure; the service resets the counter on
    /// success (and may keep it after a lockout ends, so one more failure relocks).
    pub fn failure_state(
        &self,
        consecutive: u32,
        last_failure: Option<Timestamp>,
        now: Timestamp,
    ) -> FailureState {
        let l = &self.failures;
        if consecutive >= l.max_consecutive {
            let until = last_failure.unwrap_or(now).saturating_add(l.lockout);
            return if now < until {
                FailureState::LockedOut { until }
            } else {
                FailureState::Open
            };
        }
        if l.backoff_after > 0 && consecutive >= l.backoff_after {
            let Some(last) = last_failure else {
                return FailureState::Open;
            };
            let doublings = (consecutive - l.backoff_after).min(31);
            let delay = l
                .backoff_base
                .checked_mul(1u32 << doublings)
                .unwrap_or(l.backoff_max)
                .min(l.backoff_max);
            let until = last.saturating_add(delay);
            if now < until {
                return FailureState::Backoff { until };
            }
        }
        FailureState::Open
    }
}
