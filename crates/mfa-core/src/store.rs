//! Store traits: the narrow, atomic persistence the service needs.
//!
//! Six concerns, each its own trait, and the two steps of a verification over them;
//! [`Store`] is all of them together.
//!
//! | trait | holds | atomic operations |
//! | --- | --- | --- |
//! | [`FactorStore`] | enrolled factors, versioned, with an optional unique [`LookupKey`] | insert refusing duplicates; compare-and-swap update |
//! | [`ChallengeStore`] | pending challenges with a TTL, versioned while they live | compare-and-swap update; take: read-and-delete, once |
//! | [`FailureStore`] | failure counters per account, factor, destination, client IP, credential; send caps | increment-and-read; purge of lapsed counters |
//! | [`DeviceStore`] | remembered devices ("trust this browser for 30 days") | insert guarded by the user's generation |
//! | [`UserStore`] | per-user state: the revocation [`Generation`] | bump; reset everything of a user at once |
//! | [`JournalStore`] | the audit hash chain and the outbox of security events (optional) | a change and its entries in one transaction |
//! | [`AttemptStore`] | a verification's hot half: counters and challenges | count an attempt by the lockout rules and read or take its challenge; clear the counters and take the challenge of a success |
//! | [`VerificationStore`] | a verification's two steps | begin: count, challenge and the user's factors in one round trip; commit: compare-and-swap, take, clear, all or nothing |
//!
//! Every method is one atomic step: a backend must never let a concurrent caller observe
//! half of it, and a failed call changes nothing. Each method says how a SQL backend does
//! it in **one statement or one transaction**. `mfa_core::testkit::conformance` (feature
//! `testkit`) checks every promise, including races of 32 tasks released together, and
//! every backend runs it.
//!
//! Records are `#[non_exhaustive]` and built with constructors ([`FactorRecord::new`],
//! [`PendingChallenge::new`], [`RememberedDevice::new`]), so new columns do not break
//! backends or users. Secret payloads are [`RecordData`]: zeroized, never printed, with
//! the service's envelope header (format, key id) that backends store without reading.
//!
//! The traits use `async fn` in traits returning `Send` futures, so they are static
//! (generic) rather than object-safe. A binary that picks its backend at run time uses
//! `mfa_store::AnyStore::open(url)`, an enum over the compiled-in backends.
//!
//! [`UserStore::reset_user`] spans every concern, so one backend holds all of them for a
//! user; a deployment that keeps challenges elsewhere (Redis) loses the single-step reset
//! for those.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::time::Duration;

use crate::clock::Timestamp;
use crate::id::{FactorId, UserId};

mod attempt;
mod failure;
mod journal;
mod lookup;
mod operations;
mod record;

pub use attempt::{
    AttemptCount, AttemptRequest, AttemptRules, AttemptStore, Begun, ChallengeUse,
    MAX_BACKOFF_STEPS, MAX_WAIT_SECS, Success, Verdict, VerificationStore,
};
pub use failure::{DestinationKey, FailureKey, Failures, UserLimit};
pub use journal::{
    AuditEntry, Change, Committed, Journal, JournalFn, JournalStore, NewAuditEntry, OutboxMessage,
};
pub use lookup::{LookupKey, LookupScope};
pub use record::{
    ChallengeId, ChallengeOwner, FactorRecord, Generation, PendingChallenge, RecordData,
    RememberedDevice, ResetSummary, UserState, Version, Versioned,
};

/// The window of a counter that time never restarts (`Duration::MAX`): passed to
/// [`FailureStore::record_failure`] it makes the count run until
/// [`clear_failures`](FailureStore::clear_failures) (a success or an operator) or a reset
/// removes it. Backends keep such a counter without any expiry, and
/// [`purge_failures`](FailureStore::purge_failures) never removes it. The service counts
/// an account's consecutive failures this way (NIST SP 800-63B-4 §3.2.2).
pub const NEVER_LAPSES: Duration = Duration::MAX;

/// A failure of a store operation.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An insert found a record with the same key (factor id for the user, challenge
    /// id); nothing was written.
    #[error("record already exists")]
    AlreadyExists,
    /// The record's [`LookupKey`] is already held by another factor in its scope (a
    /// WebAuthn credential registered twice); nothing was written.
    #[error("lookup key already in use")]
    LookupKeyTaken,
    /// A compare-and-swap found another version, or a guarded write found another
    /// generation (another request won the race); nothing was written. For a
    /// verification this is a replay and must be rejected, not retried.
    #[error("record version conflict")]
    Conflict,
    /// The record to update does not exist (any more), or is not the named owner's.
    #[error("record not found")]
    NotFound,
    /// The backend returned data that does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The backend itself failed (connection, I/O, driver error).
    #[error("store backend failed")]
    Backend(#[source] Box<dyn core::error::Error + Send + Sync>),
    /// The backend does not offer this part of the store (a journal on Redis alone).
    #[error("not supported by this store: {0}")]
    Unsupported(&'static str),
}

/// Versioned storage of enrolled factors.
///
/// Versions follow [`Version`]'s rule: strictly increasing per `(user, factor id)` over
/// its whole history, removals and resets included.
pub trait FactorStore: Send + Sync {
    /// Inserts a new factor and returns its version, fresh from the store's sequence.
    ///
    /// Atomic: either the record and its lookup key are stored, or nothing is. SQL: one
    /// `INSERT … VALUES (…, nextval(…))`, the lookup key's unique index refusing a
    /// duplicate.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when the user already has a factor with this id;
    /// [`StoreError::LookupKeyTaken`] when another factor holds the lookup key in its
    /// scope (for a [`LookupScope::PerUser`] key: another factor of the same user).
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

    /// The factor holding `key`, through the store's index.
    ///
    /// For a [`LookupScope::Global`] key `user` narrows the result: `None` finds the
    /// factor whoever owns it (a usernameless passkey sign-in), `Some` only if that user
    /// owns it. A [`LookupScope::PerUser`] key is unique only within a user, so `user`
    /// is required: with `None` the answer is `Ok(None)`. SQL: one indexed `SELECT`.
    ///
    /// # Errors
    ///
    /// Only backend failures; no match is `Ok(None)`.
    fn factor_by_lookup_key(
        &self,
        key: &LookupKey,
        user: Option<&UserId>,
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
    /// current version is `expected`, and returns the new version (greater than
    /// `expected`).
    ///
    /// Atomic compare-and-swap: of any number of concurrent calls with the same
    /// `expected`, across processes, at most one succeeds, and an update never
    /// re-creates a removed factor. This is what makes an OTP accepted once. The lookup
    /// key may change; uniqueness applies as on insert. SQL: one `UPDATE … SET version =
    /// nextval(…) WHERE user = ? AND id = ? AND version = ?`; on zero rows, a `SELECT` in
    /// the same transaction tells [`StoreError::Conflict`] from [`StoreError::NotFound`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the version differs (nothing written);
    /// [`StoreError::NotFound`] when the factor no longer exists;
    /// [`StoreError::LookupKeyTaken`] when a changed lookup key is held elsewhere.
    fn update_factor_if_version(
        &self,
        record: FactorRecord,
        expected: Version,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send;

    /// Removes one factor and its lookup key; `Ok(false)` when there was none. SQL: one
    /// `DELETE`.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn remove_factor(
        &self,
        user: &UserId,
        id: &FactorId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Pending challenges with a time to live, which may live through several steps.
///
/// Every read, update and take names the challenge's [`ChallengeOwner`], which must
/// match exactly; a mismatch behaves as an unknown id and changes nothing. An expired
/// challenge (`now > expires_at`) cannot be read, updated or taken.
///
/// Challenge versions follow [`Version`]'s rule (ids are random and never reused).
pub trait ChallengeStore: Send + Sync {
    /// Stores a new challenge and returns its version.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when the id is taken (nothing written).
    fn put_challenge(
        &self,
        challenge: PendingChallenge,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send;

    /// Reads the challenge without consuming it (a browser polling a push approval), if
    /// it exists, belongs to `owner` and `now <= expires_at`. SQL: one `SELECT`.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Versioned<PendingChallenge>>, StoreError>> + Send;

    /// Replaces the challenge's `data` and `expires_at` with `challenge`'s **if and only
    /// if** it exists with the same `id`, `owner` and `factor`, has not expired at `now`,
    /// and its version is `expected` (an attempt used, a decision recorded); returns the
    /// new version.
    ///
    /// Atomic compare-and-swap: of concurrent calls with the same `expected`, at most one
    /// succeeds; an update never re-creates a taken challenge. SQL: one `UPDATE … WHERE id
    /// = ? AND owner IS NOT DISTINCT FROM ? AND factor IS NOT DISTINCT FROM ? AND version
    /// = ? AND expires_at >= ?`, then a `SELECT` in the same transaction on zero rows.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the version differs; [`StoreError::NotFound`] when
    /// the challenge is gone, expired or not `owner`'s.
    fn update_challenge_if_version(
        &self,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send;

    /// The final consumption: removes the challenge and returns it, whatever its version,
    /// if it belongs to `owner` and `now <= expires_at`.
    ///
    /// Atomic read-and-delete: of any number of concurrent calls, across processes, at
    /// most one gets `Some`. An expired challenge of `owner` is removed and reported as
    /// `None`; another owner's challenge is left in place. SQL: one `DELETE … WHERE id = ?
    /// AND owner IS NOT DISTINCT FROM ? RETURNING *`, expiry checked on the returned row.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
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

/// Failure counters for rate limiting and lockout (NIST SP 800-63B-4 §3.2.2), keyed by
/// [`FailureKey`]: per account, per factor, per destination, per client IP, per
/// credential, and the service's send caps.
///
/// The window is the caller's, per call (`mfa_policy::FailureLimits::window` for
/// factors); [`NEVER_LAPSES`] makes a counter that time never restarts.
pub trait FailureStore: Send + Sync {
    /// Records one failure at `now` and returns the counter after it.
    ///
    /// Atomic increment: `n` concurrent calls raise the count by exactly `n`, each seeing
    /// a distinct count. If the last failure was more than `window` before `now`, the
    /// count restarts at 1. The counter remembers when it lapses (its last failure plus
    /// `window`; never, for [`NEVER_LAPSES`]) for
    /// [`purge_failures`](Self::purge_failures). SQL: one `INSERT … ON CONFLICT DO UPDATE
    /// SET count = CASE … END RETURNING …`.
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

    /// Removes every counter that has lapsed at `now` (its last failure more than the
    /// window of its last [`record_failure`](Self::record_failure) before `now`), and
    /// returns how many. A counter recorded with [`NEVER_LAPSES`] stays. Counters for
    /// ids callers invent (a factor that does not exist, a credential no one has) so do
    /// not pile up; a lapsed counter reads as `None` anyway, so purging changes no
    /// decision. SQL: one `DELETE … WHERE lapses_at < $now`; a backend with expiring
    /// keys (Redis) may return 0 because its keys expire on their own.
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn purge_failures(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// Remembered devices, so they can be listed and revoked server-side.
pub trait DeviceStore: Send + Sync {
    /// Remembers a device, replacing any entry with the same `(user, device_id)`,
    /// **if and only if** `device.generation` is the user's current generation.
    ///
    /// The guard makes a sign-in that completes after a concurrent reset or "sign out
    /// everywhere" fail instead of leaving a device behind. SQL: one transaction that
    /// locks the user's row (`SELECT generation … FOR UPDATE`, creating the row at
    /// generation 0 if absent), compares, and upserts the device; reset and bump lock
    /// the same row.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the user's generation has moved on (nothing
    /// written).
    fn remember_device(
        &self,
        device: RememberedDevice,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The device's entry if it exists and `now <= expires_at`, whatever its generation
    /// (compare [`RememberedDevice::generation`] with the user's, as the token check
    /// does).
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

    /// The user's unexpired devices at `now`, oldest first, whatever their generation.
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
}

/// Per-user state, and the reset that spans every concern.
pub trait UserStore: Send + Sync {
    /// The user's state; a user the store has never seen is at
    /// [`Generation::INITIAL`]. SQL: one `SELECT` (no row: the initial state).
    ///
    /// # Errors
    ///
    /// Only backend failures.
    fn user_state(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<UserState, StoreError>> + Send;

    /// Bumps the user's generation by one and returns the new one, revoking every
    /// remembered-device token issued before (a password change, "sign out everywhere").
    ///
    /// Atomic increment: `n` concurrent calls raise it by exactly `n`. Devices stay
    /// listed with their old generation until forgotten. SQL: one `INSERT … ON CONFLICT
    /// DO UPDATE SET generation = generation + 1 RETURNING generation`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] at the largest generation (nothing written).
    fn bump_generation(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Generation, StoreError>> + Send;

    /// An admin's MFA reset, **in one atomic step**: removes the user's factors (and
    /// their lookup keys), the challenges they own, their remembered devices and their
    /// `User` and `Factor` failure counters, and bumps their generation.
    ///
    /// No concurrent caller sees part of it: a verification's compare-and-swap either
    /// lands before (and its factor is removed) or fails with [`StoreError::NotFound`];
    /// a device remembered at the old generation either lands before (and is forgotten)
    /// or fails with [`StoreError::Conflict`]. Usernameless challenges and `Destination`
    /// and `ClientIp` counters are not the user's and stay. Removed factor ids keep their
    /// version history ([`Version`]). SQL: one transaction that first bumps the user's
    /// row (taking its lock), then deletes from each table.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] at the largest generation (nothing removed).
    fn reset_user(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<ResetSummary, StoreError>> + Send;
}

/// Everything the service needs from storage.
///
/// [`JournalStore`] has defaults for every method, so a backend without a journal only
/// writes `impl JournalStore for MyStore {}`. [`AttemptStore`] and [`VerificationStore`]
/// have no defaults but for the begin (their all-or-nothing steps cannot be made of the
/// other operations): a backend writes them natively, and the conformance suite checks
/// them with races.
pub trait Store:
    FactorStore
    + ChallengeStore
    + FailureStore
    + DeviceStore
    + UserStore
    + JournalStore
    + AttemptStore
    + VerificationStore
{
}

impl<
    T: FactorStore
        + ChallengeStore
        + FailureStore
        + DeviceStore
        + UserStore
        + JournalStore
        + AttemptStore
        + VerificationStore,
> Store for T
{
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FactorKind;

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
        assert_eq!(Generation::INITIAL.next(), Some(Generation::new(1)));
        assert_eq!(Generation::new(u64::MAX).next(), None);
    }

    #[test]
    fn records_do_not_print_their_data() {
        let rec = FactorRecord::new(
            UserId::new("u1").unwrap(),
            FactorId::new("f1").unwrap(),
            FactorKind::Totp,
            RecordData::sealed(3, Some("k-2026".into()), b"JBSWY3DPEHPK3PXP".to_vec()),
            Timestamp::EPOCH,
        )
        .with_label("phone")
        .with_lookup_key(LookupKey::phone("+15551234567").unwrap());
        let dbg = format!("{rec:?}");
        assert!(dbg.contains("[16 bytes]"), "{dbg}");
        assert!(dbg.contains("k-2026"), "{dbg}");
        assert!(!dbg.contains("74"), "{dbg}"); // 'J' as a byte value
        assert!(!dbg.contains("JBSW"), "{dbg}");
        assert!(!dbg.contains("5551234567"), "{dbg}");
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(serde_json::from_str::<FactorRecord>(&json).unwrap(), rec);
    }

    #[test]
    fn lookup_keys_are_validated_also_when_deserialised() {
        assert!(LookupKey::webauthn_credential(&[]).is_err());
        assert!(LookupKey::webauthn_credential(&[0; 1024]).is_err());
        assert!(LookupKey::webauthn_credential(&[0; 1023]).is_ok());
        assert!(LookupKey::new(LookupScope::Global, "Upper", b"x".to_vec()).is_err());
        assert!(LookupKey::phone("+0123").is_err());
        assert!(LookupKey::phone("+1234567890123456").is_err());
        assert!(LookupKey::email("a@b").is_ok());
        assert!(LookupKey::email("a@b@c").is_err());
        assert!(LookupKey::email("a b@c").is_err());
        let k = LookupKey::email("a@b").unwrap();
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(serde_json::from_str::<LookupKey>(&json).unwrap(), k);
        let bad = r#"{"scope":"global","namespace":"BAD","value":"eA"}"#;
        assert!(serde_json::from_str::<LookupKey>(bad).is_err());
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        let a = FailureKey::client_ip("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = FailureKey::client_ip("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = FailureKey::client_ip("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        let v4 = FailureKey::client_ip("192.0.2.7".parse().unwrap());
        assert_eq!(v4, FailureKey::ClientIp("192.0.2.7".parse().unwrap()));
        assert!(FailureKey::destination("").is_err());
        assert!(FailureKey::destination("+1 555").is_err());
        assert_eq!(v4.kind(), "client-ip");
        assert_eq!(v4.owner(), None);
    }
}
