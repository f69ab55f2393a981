//! Bringing existing enrollments in: parsers for the common seed formats, and
//! [`Service::import`](crate::Service::import).
//!
//! Every parser is pure (no I/O, no clock) and returns one result **per record**: a
//! malformed line does not hide the good ones, and the report says which record was
//! wrong and why ([`RecordError`]). A source that cannot be read as a whole (a CSV
//! without its header) is a [`FormatError`].
//!
//! | format | parser | one record is |
//! |---|---|---|
//! | `otpauth://` URIs, one per line | [`parse_otpauth_lines`] | a line |
//! | Google Authenticator export, `otpauth-migration://offline?data=…` | [`parse_google_migration`] | an entry of a batch |
//! | CSV with a header (below) | [`parse_csv`] | a row |
//! | PSKC, RFC 6030: plain, pre-shared key or PBKDF2 ([`pskc`]) | [`parse_pskc`] | a `Key` |
//! | WebAuthn credentials as JSON (below) | [`parse_webauthn_json`] | an array element |
//!
//! Secrets under 128 bits are parsed (legacy tokens have them) and flagged
//! ([`ImportRecord::short_secret`]); the import refuses them unless
//! [`ImportOptions::allow_short_secrets`] is set.
//!
//! **QR images** are not read: decode a Google Authenticator export's QR codes first
//! (`zbarimg --raw export.png`) and pass the `otpauth-migration://` lines. No pure-Rust
//! QR *decoder* is both small and well kept today; the encoder this workspace uses
//! (`qrcodegen`) does not decode.
//!
//! ## CSV
//!
//! RFC 4180 (quoted fields, `""` inside quotes), UTF-8, a header row naming the
//! columns in any order; unknown columns are refused (a typo must not drop data):
//!
//! | column | required | value |
//! |---|---|---|
//! | `user` | yes | the user id |
//! | `type` | yes | `totp` or `hotp` |
//! | `secret` | yes | base32 (any case, spaces, padding), or hex with a `hex:` prefix |
//! | `digits` | no | 6 to 10, default 6 |
//! | `algorithm` | no | `SHA1`, `SHA256`, `SHA512`, default `SHA1` |
//! | `period` | no | TOTP time step in seconds, default 30 |
//! | `counter` | HOTP | the next counter the server expects |
//! | `last_step` | no | TOTP: the last time step accepted (codes up to it are replays) |
//! | `label` | no | the factor's label |
//!
//! ## WebAuthn JSON
//!
//! A JSON array (or `{"credentials": [...]}`) of objects, the fields other relying
//! parties store (webauthn-rs' `Credential`, SimpleWebAuthn's `WebAuthnCredential`,
//! Keycloak's credential export); binary values base64url (padding and the standard
//! alphabet accepted); unknown fields ignored:
//!
//! ```json
//! [{"user": "alice", "credentialId": "AAEC…", "publicKey": "pQECAyYgASFY…",
//!   "signCount": 17, "transports": ["usb", "nfc"], "userHandle": "q83v…",
//!   "backupEligible": false, "backupState": false,
//!   "aaguid": "cb69481e-8ff7-4039-93ec-0a2729a154a8", "label": "YubiKey 5"}]
//! ```
//!
//! `user`, `credentialId`, `publicKey` (a COSE_Key, as the authenticator sent it) are
//! required; `signCount` defaults to 0, `label` to "Imported security key".

mod csv;
mod migration;
mod otpauth;
pub mod pskc;
mod run;
mod webauthn;

use std::fmt;

use mfa_core::UserId;
use mfa_otp::{HotpRecord, SecretError, TotpRecord, UriError};
use mfa_webauthn::CredentialRecord;
use serde::Serialize;

pub use csv::parse_csv;
pub use migration::parse_google_migration;
pub use otpauth::parse_otpauth_lines;
pub use pskc::{ExportError, PskcExportKey, PskcKey, parse_pskc, write_pskc};
pub use run::{ImportOptions, ImportReport, ImportSummary, RecordOutcome, RecordStatus};
pub use webauthn::{parse_webauthn_json, write_webauthn_json};

/// The source formats.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// CSV with the documented header.
    Csv,
    /// Google Authenticator's `otpauth-migration://` export.
    GoogleMigration,
    /// `otpauth://` URIs, one per line.
    Otpauth,
    /// PSKC (RFC 6030).
    Pskc,
    /// WebAuthn credentials as JSON.
    WebAuthnJson,
}

impl Format {
    /// A stable kebab-case name (in reports and the `Imported` audit event).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::GoogleMigration => "google-migration",
            Self::Otpauth => "otpauth",
            Self::Pskc => "pskc",
            Self::WebAuthnJson => "webauthn-json",
        }
    }

    /// Parses `input` in this format (PSKC: plain values only; use [`parse_pskc`] with a
    /// key for an encrypted file).
    ///
    /// # Errors
    ///
    /// A [`FormatError`] when the input cannot be read as a whole.
    pub fn parse(self, input: &str) -> Result<Parsed, FormatError> {
        match self {
            Self::Csv => parse_csv(input),
            Self::GoogleMigration => Ok(parse_google_migration(input)),
            Self::Otpauth => Ok(parse_otpauth_lines(input)),
            Self::Pskc => parse_pskc(input, &PskcKey::None, None),
            Self::WebAuthnJson => parse_webauthn_json(input),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a parser read: one result per record, in source order.
#[derive(Debug)]
pub struct Parsed {
    /// The format.
    pub format: Format,
    /// Each record, or why it was refused.
    pub records: Vec<Result<ImportRecord, RecordError>>,
}

impl Parsed {
    /// Replaces the user of every record (and of none that failed): for sources whose
    /// account names are not your user ids, such as one person's authenticator export.
    #[must_use]
    pub fn for_user(mut self, user: &UserId) -> Self {
        for r in self.records.iter_mut().flatten() {
            r.user = user.clone();
        }
        self
    }
}

/// One enrollment read from a source.
#[derive(Debug)]
pub struct ImportRecord {
    /// Where it was: the 1-based line (otpauth, CSV), entry (Google export, counted
    /// over all batches) or array element (JSON).
    pub index: usize,
    /// The owner.
    pub user: UserId,
    /// The factor's label.
    pub label: String,
    /// The factor.
    pub factor: ImportedFactor,
}

impl ImportRecord {
    /// Whether an OTP secret is under 128 bits (RFC 4226 §4's minimum).
    pub fn short_secret(&self) -> bool {
        match &self.factor {
            ImportedFactor::Hotp(r) => r.secret.len() < mfa_otp::Secret::MIN_LEN,
            ImportedFactor::Totp(r) => r.secret.len() < mfa_otp::Secret::MIN_LEN,
            ImportedFactor::WebAuthn(_) => false,
        }
    }
}

/// An imported factor's record, as the service stores it.
#[non_exhaustive]
#[derive(Debug)]
pub enum ImportedFactor {
    /// HOTP, with the next counter.
    Hotp(HotpRecord),
    /// TOTP, with the last accepted step when the source had it.
    Totp(TotpRecord),
    /// A WebAuthn credential.
    WebAuthn(Box<CredentialRecord>),
}

impl ImportedFactor {
    /// `hotp`, `totp` or `webauthn`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Hotp(_) => "hotp",
            Self::Totp(_) => "totp",
            Self::WebAuthn(_) => "webauthn",
        }
    }
}

/// Why one record was refused; `index` as [`ImportRecord::index`] (0: the source as a
/// whole, such as a missing batch).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("record {index}: {problem}")]
pub struct RecordError {
    /// Where.
    pub index: usize,
    /// The record's user, when it could be read: the import holds back that user's
    /// other records (all or nothing per user).
    pub user: Option<UserId>,
    /// What was wrong.
    pub problem: Problem,
}

impl RecordError {
    pub(crate) fn new(index: usize, problem: Problem) -> Self {
        Self {
            index,
            user: None,
            problem,
        }
    }

    /// With the user, when `user` is an acceptable id.
    #[must_use]
    pub(crate) fn for_user(mut self, user: Option<&str>) -> Self {
        self.user = user.and_then(|u| UserId::new(u.trim()).ok());
        self
    }
}

/// What was wrong with a record. Messages never contain a secret.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum Problem {
    /// An algorithm other than SHA1, SHA256, SHA512 (Google's MD5, say).
    #[error("unsupported algorithm {0:?}")]
    Algorithm(String),
    /// A Google export batch that is not complete.
    #[error("batch {batch_id}: {missing} of {size} QR codes missing")]
    BatchIncomplete {
        /// The export's batch id.
        batch_id: i64,
        /// How many QR codes the batch had.
        size: i64,
        /// How many were not given.
        missing: i64,
    },
    /// A counter that is not a whole number from 0 to 2^64-1.
    #[error("counter {0:?} is not a number from 0 to 2^64-1")]
    Counter(String),
    /// A digits value outside 6 to 10 (or Google's unknown enum values).
    #[error("digits {0:?} is not a number from 6 to 10")]
    Digits(String),
    /// A field with a bad value.
    #[error("{field}: {why}")]
    Field {
        /// Which.
        field: &'static str,
        /// Why.
        why: &'static str,
    },
    /// An HOTP record without its counter.
    #[error("hotp needs a counter")]
    MissingCounter,
    /// A required field is absent or empty.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A period that is not a whole number of seconds from 1.
    #[error("period {0:?} is not a number of seconds from 1")]
    Period(String),
    /// The protobuf payload of a Google export is malformed.
    #[error("malformed migration payload: {0}")]
    Protobuf(&'static str),
    /// The secret cannot be decoded.
    #[error("secret is {0}")]
    Secret(SecretError),
    /// A type other than TOTP and HOTP.
    #[error("type {0:?} is not totp or hotp")]
    Type(String),
    /// An `otpauth://` line that does not parse.
    #[error("{0}")]
    Uri(UriError),
    /// The user id is not acceptable.
    #[error("user id is not acceptable ({0})")]
    User(String),
    /// A WebAuthn credential that cannot be used.
    #[error("webauthn credential: {0}")]
    WebAuthn(String),
}

/// A source that cannot be read as a whole.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum FormatError {
    /// A CSV header problem.
    #[error("csv header: {0}")]
    CsvHeader(String),
    /// The JSON document is not an array of objects.
    #[error("json: {0}")]
    Json(String),
    /// A PSKC container that cannot be read or opened.
    #[error("pskc: {0}")]
    Pskc(String),
    /// Not well-formed XML.
    #[error("xml: {0}")]
    Xml(String),
}

pub(crate) fn user_id(index: usize, user: &str) -> Result<UserId, RecordError> {
    UserId::new(user.trim()).map_err(|e| RecordError::new(index, Problem::User(e.to_string())))
}
