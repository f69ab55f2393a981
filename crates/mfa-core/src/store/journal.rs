//! The journal: the audit hash chain and the outbox ([`JournalStore`]).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;

use serde::{Deserialize, Serialize};

use super::{FactorRecord, ResetSummary, StoreError, Version};
use crate::clock::Timestamp;
use crate::id::{FactorId, UserId};

/// A state change applied together with journal entries by
/// [`JournalStore::commit_journaled`]: the same operation as the named store method.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum Change {
    /// [`FactorStore::insert_factor`](super::FactorStore::insert_factor).
    InsertFactor(FactorRecord),
    /// Journal entries alone, with no change (an event no store write caused, such as a
    /// failed verification).
    Nothing,
    /// [`FactorStore::remove_factor`](super::FactorStore::remove_factor).
    RemoveFactor {
        /// The user.
        user: UserId,
        /// The factor.
        id: FactorId,
    },
    /// [`DeviceStore::forget_device`](super::DeviceStore::forget_device).
    ForgetDevice {
        /// The user.
        user: UserId,
        /// The device.
        device_id: String,
    },
    /// [`UserStore::reset_user`](super::UserStore::reset_user).
    ResetUser(UserId),
    /// [`FactorStore::update_factor_if_version`](super::FactorStore::update_factor_if_version).
    UpdateFactor {
        /// The new record.
        record: FactorRecord,
        /// The version it must replace.
        expected: Version,
    },
}

/// What a [`Change`] did, as its store method would have returned it.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Committed {
    /// [`Change::Nothing`].
    Nothing,
    /// [`Change::RemoveFactor`] or [`Change::ForgetDevice`]: whether there was one.
    Removed(bool),
    /// [`Change::ResetUser`].
    Reset(ResetSummary),
    /// [`Change::InsertFactor`] or [`Change::UpdateFactor`]: the new version.
    Version(Version),
}

/// Builds the journal entries from a change's outcome, inside the transaction (so a
/// reset's entry can carry its counts). Return an empty [`Journal`] to add nothing (a
/// removal that found no factor), an error to roll the change back (an event that
/// could not be signed).
pub type JournalFn = Box<dyn FnOnce(&Committed) -> Result<Journal, StoreError> + Send>;

/// Entries to append in one transaction.
#[non_exhaustive]
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Journal {
    /// Audit entries, chained in this order.
    pub audit: Vec<NewAuditEntry>,
    /// Messages for the outbox.
    pub outbox: Vec<OutboxMessage>,
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there is nothing to append.
    pub fn is_empty(&self) -> bool {
        self.audit.is_empty() && self.outbox.is_empty()
    }
}

/// An audit entry before the backend chains it.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct NewAuditEntry {
    /// When it happened.
    pub at: Timestamp,
    /// The entry itself, as one line of JSON (never a secret).
    pub body: String,
}

impl NewAuditEntry {
    /// An entry.
    pub fn new(at: Timestamp, body: String) -> Self {
        Self { at, body }
    }
}

/// A chained audit entry as stored.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct AuditEntry {
    /// Its position in the chain: 1, 2, 3, … with no gap.
    pub seq: u64,
    /// When it happened.
    pub at: Timestamp,
    /// The entry, one line of JSON.
    pub body: String,
    /// The hash of the entry before it (hex SHA-256; 64 zeros for the first).
    pub prev_hash: String,
    /// Its own hash (hex SHA-256 over `prev_hash`, `seq`, `at` and `body`).
    pub hash: String,
}

impl AuditEntry {
    /// An entry (for backends).
    pub fn new(seq: u64, at: Timestamp, body: String, prev_hash: String, hash: String) -> Self {
        Self {
            seq,
            at,
            body,
            prev_hash,
            hash,
        }
    }
}

/// A message waiting for delivery.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct OutboxMessage {
    /// Unique id: the receiver's idempotency key (a Security Event Token's `jti`).
    pub id: String,
    /// What to deliver (a signed SET, compact JWS).
    pub payload: String,
    /// When it was written.
    pub created_at: Timestamp,
    /// Delivery attempts that failed so far.
    pub attempts: u32,
    /// Not to be tried again before this time.
    pub next_attempt_at: Timestamp,
}

impl OutboxMessage {
    /// A new message, due at once.
    pub fn new(id: String, payload: String, created_at: Timestamp) -> Self {
        Self {
            id,
            payload,
            created_at,
            attempts: 0,
            next_attempt_at: created_at,
        }
    }
}

/// The journal: an audit log kept as a hash chain, and an outbox of security events,
/// both written **in the same transaction as the change that caused them**.
///
/// A backend that keeps a journal ([`JournalStore::keeps_journal`]) applies a
/// [`Change`] and appends the entries the caller derives from its outcome
/// ([`JournalFn`]) in one transaction: either the factor is removed *and* its audit
/// entry and security event are stored, or nothing is. The SQL backends (SQLite,
/// PostgreSQL) and the memory store keep one; a backend without one (Redis alone)
/// answers [`StoreError::Unsupported`], and the service refuses to build a journal over it.
///
/// The audit chain: each [`AuditEntry`] carries its sequence number, the hash of the
/// entry before it and its own hash over both and its body (the backend computes them
/// under the transaction's lock, so concurrent writers cannot fork the chain). Editing,
/// deleting or reordering rows breaks the chain at that point; `mfa_store::journal`
/// verifies it. The outbox: [`OutboxMessage`]s wait until a sender marks them delivered,
/// so a crash between commit and delivery loses nothing (delivery is at least once; the
/// message id is the receiver's idempotency key).
///
/// Every method has a default that answers [`StoreError::Unsupported`], so a backend
/// without a journal needs no code; [`keeps_journal`](Self::keeps_journal) says which.
pub trait JournalStore: Send + Sync {
    /// Whether this store keeps a journal: `true` only when every method below works.
    fn keeps_journal(&self) -> bool {
        false
    }

    /// Applies `change` and appends `journal(&outcome)` **in one transaction**: the
    /// change's errors are its store method's, and nothing is appended then; an error of
    /// `journal` rolls the change back. SQL: the
    /// change's statements, then a lock on the chain's head row, the audit rows and the
    /// outbox rows, then `COMMIT`.
    ///
    /// # Errors
    ///
    /// As the change's store method; [`StoreError::Unsupported`] without a journal.
    fn commit_journaled(
        &self,
        change: Change,
        journal: JournalFn,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send {
        let _ = (change, journal);
        async { Err(StoreError::Unsupported("journal")) }
    }

    /// Audit entries with `seq > after`, in order, at most `limit`.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Unsupported`] without a journal.
    fn audit_entries(
        &self,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send {
        let _ = (after, limit);
        async { Err(StoreError::Unsupported("journal")) }
    }

    /// Undelivered messages due at `now` (`next_attempt_at <= now`), oldest first, at
    /// most `limit`.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Unsupported`] without a journal.
    fn outbox_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, StoreError>> + Send {
        let _ = (now, limit);
        async { Err(StoreError::Unsupported("journal")) }
    }

    /// Marks a message delivered (it is never due again); `Ok(false)` when unknown or
    /// already delivered.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Unsupported`] without a journal.
    fn outbox_delivered(
        &self,
        id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let _ = (id, now);
        async { Err(StoreError::Unsupported("journal")) }
    }

    /// Records a failed attempt: `attempts + 1`, due again at `next_attempt_at`.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Unsupported`] without a journal.
    fn outbox_retry(
        &self,
        id: &str,
        next_attempt_at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (id, next_attempt_at);
        async { Err(StoreError::Unsupported("journal")) }
    }
}
