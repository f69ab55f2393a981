//! What [`Service::import`](crate::Service::import) takes and reports.

use mfa_core::FactorId;
use serde::Serialize;

use super::Format;

/// How to import.
///
/// The default is a **dry run**: everything parsed and checked against the store,
/// nothing written. Call [`write`](Self::write) for the real run.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ImportOptions {
    /// Check only; write nothing (the default).
    pub dry_run: bool,
    /// Import OTP secrets under 128 bits (legacy tokens) instead of refusing them.
    pub allow_short_secrets: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            dry_run: true,
            allow_short_secrets: false,
        }
    }
}

impl ImportOptions {
    /// A dry run (the default).
    pub fn dry_run() -> Self {
        Self::default()
    }

    /// The real run: writes.
    #[must_use]
    pub fn write(mut self) -> Self {
        self.dry_run = false;
        self
    }

    /// **Dangerous:** imports secrets under 128 bits. Only for legacy tokens that cannot
    /// be re-keyed; plan to replace them.
    #[must_use]
    pub fn danger_allow_short_secrets(mut self) -> Self {
        self.allow_short_secrets = true;
        self
    }
}

/// The outcome of an import (or a dry run), record by record.
#[non_exhaustive]
#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    /// The source format.
    pub format: Format,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// One entry per record, in source order (records that failed to parse first
    /// appear at their index too).
    pub records: Vec<RecordOutcome>,
    /// The counts.
    pub summary: ImportSummary,
}

impl ImportReport {
    /// Whether every record was imported, would be, or already was (no rejection, no
    /// record held back).
    pub fn is_clean(&self) -> bool {
        self.summary.rejected == 0 && self.summary.held_back == 0
    }
}

/// What happened to one record.
#[non_exhaustive]
#[derive(Clone, Debug, Serialize)]
pub struct RecordOutcome {
    /// Where it was in the source (see [`ImportRecord::index`](super::ImportRecord::index)).
    pub index: usize,
    /// The user, when the record got that far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `totp`, `hotp` or `webauthn`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factor: Option<&'static str>,
    /// Whether the user had no factor before this import.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_user: Option<bool>,
    /// An OTP secret under 128 bits.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub short_secret: bool,
    /// The factor id it was stored under (or was already stored under).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factor_id: Option<FactorId>,
    /// What happened.
    #[serde(flatten)]
    pub status: RecordStatus,
}

/// What happened to one record.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RecordStatus {
    /// Already in the store (imported before): skipped.
    AlreadyImported,
    /// The same factor appeared earlier in this source: skipped.
    Duplicate {
        /// The index of the first occurrence.
        of: usize,
    },
    /// Valid, but not written because the user's import is all or nothing: another
    /// record of the same user was rejected, or a write failed and was rolled back.
    HeldBack {
        /// Why.
        reason: String,
    },
    /// Stored.
    Imported,
    /// Refused: malformed, unsupported, a short secret, or a credential another user
    /// holds.
    Rejected {
        /// Why (never a secret).
        reason: String,
    },
    /// Dry run: would be stored.
    WouldImport,
}

/// The counts of an [`ImportReport`].
#[non_exhaustive]
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize)]
pub struct ImportSummary {
    /// Records read.
    pub records: usize,
    /// Stored now.
    pub imported: usize,
    /// Would be stored (dry run).
    pub would_import: usize,
    /// Already in the store.
    pub already_imported: usize,
    /// Repeated in the source.
    pub duplicates: usize,
    /// Refused.
    pub rejected: usize,
    /// Valid but not written (their user's import did not go through).
    pub held_back: usize,
    /// Distinct users among the valid records.
    pub users: usize,
    /// Of those, users without any factor before.
    pub new_users: usize,
}

impl ImportSummary {
    pub(crate) fn count(records: &[RecordOutcome], users: usize, new_users: usize) -> Self {
        let mut s = Self {
            records: records.len(),
            users,
            new_users,
            ..Self::default()
        };
        for r in records {
            let slot = match r.status {
                RecordStatus::AlreadyImported => &mut s.already_imported,
                RecordStatus::Duplicate { .. } => &mut s.duplicates,
                RecordStatus::HeldBack { .. } => &mut s.held_back,
                RecordStatus::Imported => &mut s.imported,
                RecordStatus::Rejected { .. } => &mut s.rejected,
                RecordStatus::WouldImport => &mut s.would_import,
            };
            *slot = slot.saturating_add(1);
        }
        s
    }
}
