//! Store traits: the narrow, atomic persistence the service needs.
//!
//! Four concerns, each its own trait so a deployment can mix backends (factors in
//! PostgreSQL, challenges in Redis); [`Store`] is all four together.
//!
//! | trait | holds | atomic operation |
//! | --- | --- | --- |
//! | [`FactorStore`] | enrolled factors, versioned | compare-and-swap update on the version |
//! | [`ChallengeStore`] | pending challenges with a TTL | take: read-and-delete, once |
//! | [`FailureStore`] | failure counters for rate limits and lockout | increment-and-read |
//! | [`DeviceStore`] | remembered devices ("trust this browser for 30 days") | insert, revoke |
//!
//! Every method is one atomic step: a backend must never let a concurrent caller observe
//! half of it, and a failed call changes nothing. What each method promises is written
//! on the method; `mfa_core::testkit::conformance` (feature `testkit`) checks every
//! promise, including under concurrency, and every backend runs it.
//!
//! The traits use `async fn` in traits returning `Send` futures, so they are static
//! (generic) rather than object-safe: the service is generic over its store.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::{Error, InvalidInput};
use crate::id::{FactorId, FactorKind, UserId};
use crate::random::SecureRandom;

/// A failure of a store operation.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An insert found a record with the same key; nothing was written.
    #[error("record already exists")]
    AlreadyExists,
    /// A compare-and-swap found another version (another request won the race); nothing
    /// was written. For a verification this is a replay and must be rejected, not retried.
    #[error("record version conflict")]
    Conflict,
    /// The record to update does not exist (any more).
    #[error("record not found")]
    NotFound,
    /// The backend returned data that does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The backend itself failed (connection, I/O, driver error).
    #[error("store backend failed")]
    Backend(#[source] Box<dyn core::error::Error + Send + Sync>),
}

/// The version of a stored record. Starts at 1 on insert and grows by one on every
/// successful update; compare-and-swap checks it.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Version(u64);

impl Version {
    /// The version of a freshly inserted record.
    pub const INITIAL: Self = Self(1);

    /// Wraps a raw version number (for backends reading it from a column).
    pub const fn new(v: u64) -> Self {
        Self(v)
    }

    /// The raw version number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The next version, or `None` at `u64::MAX` (a backend must then refuse the update).
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

/// A value read from a store with the version it had.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version when read; pass it to the compare-and-swap.
    pub version: Version,
}

/// One enrolled factor of one user, as the store keeps it.
///
/// The factor's own record (secret, counters, public key) is `data`: bytes the service
/// serialises and, when configured, encrypts, so backends never interpret it.
#[derive(Clone, Eq, PartialEq, Deserialize, Serialize)]
pub struct FactorRecord {
    /// The factor's identifier, unique per user.
    pub id: FactorId,
    /// The owner.
    pub user: UserId,
    /// What kind of factor it is.
    pub kind: FactorKind,
    /// A name the user chose ("YubiKey on keyring").
    pub label: String,
    /// Whether enrollment was confirmed (a first code verified); unconfirmed factors do
    /// not satisfy policy.
    pub confirmed: bool,
    /// When it was enrolled.
    pub created_at: Timestamp,
    /// When it last verified successfully.
    pub last_used_at: Option<Timestamp>,
    /// The factor's record, opaque to the store.
    pub data: Vec<u8>,
}

impl fmt::Debug for FactorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `data` may hold a secret (an OTP key), so only its length is shown.
        f.debug_struct("FactorRecord")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("kind", &self.kind)
            .field("label", &self.label)
            .field("confirmed", &self.confirmed)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("data", &format_args!("[{} bytes]", self.data.len()))
            .finish()
    }
}

/// Versioned storage of enrolled factors.
pub trait FactorStore: Send + Sync {
    /// Inserts a new factor at [`Version::INITIAL`].
    ///
    /// Atomic: either the record is stored, or nothing is.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when the user already has a factor with this id.
    fn insert_factor(
        &self,
        record: FactorRecord,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send;

    /// Reads one factor with its current version.
    ///
    /// # Errors
    ///
    /// Only backend failures; an unknown factor is `Ok(None)`.
    fn factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> impl Future<Output = Result<Option<Versioned<FactorRecord>>, StoreError>> + Send;

    /// All of a user's factors, oldest first (ties broken by id).
    ///
    /// # Errors
    ///
    /// Only backend failures; a user without factors gets an empty list.
    fn list_factors(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Vec<Versioned<FactorRecord>>, StoreError>> + Send;

    /// Replaces the factor `(record.user, record.id)` with `record` **if and only if** its
    /// current version is `expected`, and returns the new version (`expected + 1`).
    ///
    /// Atomic compare-and-swap: of any number of concurrent calls with the same
    /// `expected`, across processes, at most one succeeds. This is what makes an OTP
    /// accepted once.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the version differs (nothing written);
    /// [`StoreError::NotFound`] when the factor no longer exists.
    fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send;

    /// Removes one factor; `Ok(false)` when there was none.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn remove_factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes all of a user's factors (an admin's MFA reset) in one atomic step, and
    /// returns how many there were.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn remove_all_factors(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// The identifier of a pending challenge: 32 random bytes, base64url. Unguessable, so it
/// can travel to the client as a handle.
#[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(transparent)]
pub struct ChallengeId(String);

impl ChallengeId {
    /// A new random identifier.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    pub fn generate(rng: &mut dyn SecureRandom) -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Parses an identifier received from a client.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless it is 43 base64url characters.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok = s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidInput::new("challenge id", "must be 43 base64url characters").into())
        }
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChallengeId({:?})", self.0)
    }
}

impl fmt::Display for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A challenge waiting for its response.
#[derive(Clone, Eq, PartialEq, Deserialize, Serialize)]
pub struct PendingChallenge {
    /// Its identifier.
    pub id: ChallengeId,
    /// The user being challenged.
    pub user: UserId,
    /// The factor challenged, when one was chosen (a discoverable-credential WebAuthn
    /// challenge has none).
    pub factor: Option<FactorId>,
    /// The factor's challenge state, serialised by the service; opaque to the store.
    pub data: Vec<u8>,
    /// After this instant it can no longer be taken.
    pub expires_at: Timestamp,
}

impl fmt::Debug for PendingChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingChallenge")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("factor", &self.factor)
            .field("data", &format_args!("[{} bytes]", self.data.len()))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Single-use pending challenges with a time to live.
pub trait ChallengeStore: Send + Sync {
    /// Stores a new challenge.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when the id is taken (nothing written).
    fn put_challenge(
        &self,
        challenge: PendingChallenge,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the challenge and returns it, if it exists and `now <= expires_at`.
    ///
    /// Atomic read-and-delete: of any number of concurrent calls, across processes, at
    /// most one gets `Some`. An expired challenge is removed and reported as `None`.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn take_challenge(
        &self,
        id: &ChallengeId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<PendingChallenge>, StoreError>> + Send;

    /// Deletes every challenge that expired before `now`; returns how many.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn purge_expired_challenges(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// What a failure counter counts: a user's failures on one factor, or on all of them.
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
pub struct FailureKey {
    /// The user.
    pub user: UserId,
    /// One factor, or `None` for the user's total.
    pub factor: Option<FactorId>,
}

/// The state of a failure counter.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct Failures {
    /// Consecutive failures inside the window.
    pub count: u32,
    /// When the first of them happened.
    pub first_at: Timestamp,
    /// When the last of them happened.
    pub last_at: Timestamp,
}

/// Failure counters for rate limiting and lockout (NIST SP 800-63B §5.2.2).
pub trait FailureStore: Send + Sync {
    /// Records one failure at `now` and returns the counter after it.
    ///
    /// Atomic increment: `n` concurrent calls raise the count by exactly `n`. If the last
    /// failure was more than `window` before `now`, the count restarts at 1.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> impl Future<Output = Result<Failures, StoreError>> + Send;

    /// The counter at `now`: `None` when there were no failures, or the last one was
    /// more than `window` before `now`.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> impl Future<Output = Result<Option<Failures>, StoreError>> + Send;

    /// Resets the counter (after a success, or an admin's unlock).
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn clear_failures(
        &self,
        key: &FailureKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A device the user asked to remember: MFA is skipped on it until `expires_at`, unless
/// policy demands fresh MFA or the device is revoked.
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct RememberedDevice {
    /// The user.
    pub user: UserId,
    /// The device's identifier, as carried in its signed token.
    pub device_id: String,
    /// A description for the user's device list ("Firefox on Linux").
    pub label: String,
    /// When it was remembered.
    pub created_at: Timestamp,
    /// When remembering lapses.
    pub expires_at: Timestamp,
}

/// Remembered devices, so they can be listed and revoked server-side.
pub trait DeviceStore: Send + Sync {
    /// Remembers a device, replacing any entry with the same `(user, device_id)`.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn remember_device(
        &self,
        device: RememberedDevice,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The device's entry if it exists and `now <= expires_at`.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn remembered_device(
        &self,
        user: &UserId,
        device_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<RememberedDevice>, StoreError>> + Send;

    /// The user's unexpired devices at `now`, oldest first.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn list_devices(
        &self,
        user: &UserId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<RememberedDevice>, StoreError>> + Send;

    /// Forgets one device; `Ok(false)` when there was none.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn forget_device(
        &self,
        user: &UserId,
        device_id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Forgets all of a user's devices in one step (after an MFA reset or a password
    /// change); returns how many.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn forget_all_devices(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// Everything the service needs from storage.
pub trait Store: FactorStore + ChallengeStore + FailureStore + DeviceStore {}

impl<T: FactorStore + ChallengeStore + FailureStore + DeviceStore> Store for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_ids_parse_only_their_own_shape() {
        let id = ChallengeId::generate(&mut crate::OsRandom).unwrap();
        assert_eq!(ChallengeId::parse(id.as_str()).unwrap(), id);
        assert!(ChallengeId::parse("short").is_err());
        assert!(ChallengeId::parse(&"+".repeat(43)).is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<ChallengeId>(&json).unwrap(), id);
    }

    #[test]
    fn versions_count_up_and_stop_at_the_top() {
        assert_eq!(Version::INITIAL.next(), Some(Version::new(2)));
        assert_eq!(Version::new(u64::MAX).next(), None);
        assert_eq!(serde_json::to_string(&Version::new(7)).unwrap(), "7");
    }

    #[test]
    fn records_do_not_print_their_data() {
        let rec = FactorRecord {
            id: FactorId::new("f1").unwrap(),
            user: UserId::new("u1").unwrap(),
            kind: FactorKind::Totp,
            label: "phone".into(),
            confirmed: true,
            created_at: Timestamp::EPOCH,
            last_used_at: None,
            data: b"JBSWY3DPEHPK3PXP".to_vec(),
        };
        let dbg = format!("{rec:?}");
        assert!(dbg.contains("[16 bytes]"));
        assert!(!dbg.contains("74")); // 'J' as a byte value
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(serde_json::from_str::<FactorRecord>(&json).unwrap(), rec);
    }
}
