//! Injected time.

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
#[cfg(feature = "std")]
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// An instant, in whole seconds since the Unix epoch (UTC). MFA needs no finer grain:
/// TOTP steps, challenge lifetimes and lockouts are all counted in seconds.
///
/// Serialised as the integer number of seconds.
#[derive(
    Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// The instant `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix_secs(self) -> u64 {
        self.0
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        self.0.checked_add(d.as_secs()).map(Self)
    }

    /// `self + d`, saturating at the largest instant.
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d.as_secs()))
    }

    /// `self - d`, or `None` before the epoch.
    pub fn checked_sub(self, d: Duration) -> Option<Self> {
        self.0.checked_sub(d.as_secs()).map(Self)
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Self) -> Duration {
        Duration::from_secs(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl From<SystemTime> for Timestamp {
    /// Whole seconds since the epoch; instants before it map to the epoch.
    fn from(t: SystemTime) -> Self {
        Self(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }
}

/// A source of the current time. The service reads it once per operation and passes
/// `now` down; factor crates never read a clock.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock (feature `std`).
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[cfg(feature = "std")]
impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place that reads the wall clock"
    )]
    fn now(&self) -> Timestamp {
        SystemTime::now().into()
    }
}

/// A clock that stands still until told to move: for tests, examples and replaying
/// events. Shareable across threads.
///
/// ```
/// use core::time::Duration;
/// use mfa_core::{Clock, FixedClock, Timestamp};
///
/// let clock = FixedClock::new(Timestamp::from_unix_secs(59));
/// assert_eq!(clock.now(), Timestamp::from_unix_secs(59));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(clock.now().unix_secs(), 60);
/// clock.set(Timestamp::EPOCH);
/// assert_eq!(clock.now().unix_secs(), 0);
/// ```
#[derive(Debug, Default)]
pub struct FixedClock(AtomicU64);

impl FixedClock {
    /// A clock stopped at `t`.
    pub fn new(t: Timestamp) -> Self {
        Self(AtomicU64::new(t.0))
    }

    /// Moves the clock to `t` (backwards is allowed).
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }

    /// Moves the clock forward by `d`, saturating at the largest instant.
    pub fn advance(&self, d: Duration) {
        let secs = d.as_secs();
        // fetch_update with a closure that always returns Some cannot fail.
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(secs))
            });
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

impl<C: Clock + ?Sized> Clock for alloc::sync::Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_stands_still_and_moves_when_told() {
        let c = FixedClock::new(Timestamp::from_unix_secs(1_111_111_109));
        assert_eq!(c.now(), c.now());
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now().unix_secs(), 1_111_111_111);
        c.set(Timestamp::from_unix_secs(u64::MAX - 1));
        c.advance(Duration::from_secs(10));
        assert_eq!(c.now().unix_secs(), u64::MAX);
        let shared = std::sync::Arc::new(FixedClock::new(Timestamp::EPOCH));
        let other = std::sync::Arc::clone(&shared);
        other.advance(Duration::from_secs(5));
        assert_eq!(shared.now().unix_secs(), 5);
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(SystemClock.now().unix_secs() > 1_704_067_200);
    }

    #[test]
    fn timestamp_arithmetic_is_checked() {
        let t = Timestamp::from_unix_secs(10);
        assert_eq!(t.checked_sub(Duration::from_secs(11)), None);
        assert_eq!(
            Timestamp::from_unix_secs(u64::MAX).checked_add(Duration::from_secs(1)),
            None
        );
        assert_eq!(
            t.saturating_since(Timestamp::from_unix_secs(20)),
            Duration::ZERO
        );
        assert_eq!(serde_json::to_string(&t).unwrap(), "10");
        assert_eq!(serde_json::from_str::<Timestamp>("10").unwrap(), t);
        assert_eq!(
            Timestamp::from(UNIX_EPOCH - Duration::from_secs(5)),
            Timestamp::EPOCH
        );
    }
}
