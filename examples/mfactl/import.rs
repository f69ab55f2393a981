//! `mfactl import`: enrollments from other systems through `mfa::import`.
//!
//! ```text
//! mfactl import FORMAT FILE [--user U] [--write] [--allow-short-secrets]
//!               [--psk-file FILE | --password-file FILE]
//!   FORMAT: otpauth | google | csv | webauthn | pskc
//! ```
//!
//! `pskc` reads RFC 6030 files: plain, or encrypted under the pre-shared AES key in
//! `--psk-file` (hex) or a password (`--password-file`, its first line) — what
//! `mfactl export` writes. A `Key` without `UserId` needs `--user`.
//!
//! **A dry run unless `--write`**: the report says, record by record, what would happen
//! (`would_import`, `already_imported`, `duplicate`, `rejected` with the reason,
//! `held_back` when another record of the same user was rejected), whether each user is
//! new (no factor yet) and which secrets are under 128 bits; nothing is written.
//! `--dry-run` is accepted for symmetry and is the default. With `--write` each user's
//! records are stored all or nothing, and running the same import twice imports
//! nothing twice.
//!
//! **Exit status**: 0 when every record was imported, would be, or already was; 1 when
//! any record was rejected or held back (the report is still printed, on stdout; with
//! `--json` it is the one JSON object, `"ok": false`); 2 when the file cannot be read
//! as a whole (unreadable, not the format's shape: a CSV without its header, JSON
//! that is not an array) or the store fails.
//!
//! Google Authenticator exports are QR codes: decode them first (`zbarimg --raw
//! export.png > export.txt`) and import the `otpauth-migration://` lines with
//! `google`. `--user U` assigns every record to `U` (one person's authenticator
//! export, whose account names are not your user ids).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use mfa::import::{Format, ImportOptions, ImportReport, PskcKey, RecordStatus, parse_pskc};
use mfa::{Error, Service};
use mfa_store::AnyStore;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::export::{KeyArgs, KeyMaterial};
use super::{Failure, user};

/// The largest import file read (64 MiB: about half a million CSV rows).
const MAX_IMPORT: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ImportFormat {
    /// `otpauth://` URIs, one per line.
    Otpauth,
    /// Google Authenticator's `otpauth-migration://offline?data=…` URIs, one per line.
    Google,
    /// CSV: user,type,secret[,digits,algorithm,period,counter,last_step,label].
    Csv,
    /// WebAuthn credentials as a JSON array.
    Webauthn,
    /// PSKC (RFC 6030), plain or encrypted (--psk-file, --password-file).
    Pskc,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The source format.
    format: ImportFormat,
    /// The file to read.
    file: PathBuf,
    /// Assign every record to this user.
    #[arg(long)]
    user: Option<String>,
    /// Check only, write nothing (the default).
    #[arg(long, conflicts_with = "write")]
    dry_run: bool,
    /// Write: import for real.
    #[arg(long)]
    write: bool,
    /// Import OTP secrets under 128 bits (legacy tokens) instead of refusing them.
    #[arg(long)]
    allow_short_secrets: bool,
    #[command(flatten)]
    key: KeyArgs,
}

/// Runs `import`; `Ok` for a clean report, `Failure::Partial` (exit 1) otherwise.
pub(crate) async fn import(
    service: &Service<AnyStore>,
    a: ImportArgs,
    json_output: bool,
) -> Result<Value, Failure> {
    let format = match a.format {
        ImportFormat::Otpauth => Format::Otpauth,
        ImportFormat::Google => Format::GoogleMigration,
        ImportFormat::Csv => Format::Csv,
        ImportFormat::Webauthn => Format::WebAuthnJson,
        ImportFormat::Pskc => Format::Pskc,
    };
    let text = read(&a.file)?;
    let fallback = a.user.as_deref().map(user).transpose()?;
    let material = a.key.read()?;
    if !matches!(material, KeyMaterial::None) && !matches!(a.format, ImportFormat::Pskc) {
        return Err(Failure::bad("--psk-file and --password-file are for pskc"));
    }
    let parsed = match &material {
        KeyMaterial::None => match a.format {
            ImportFormat::Pskc => parse_pskc(&text, &PskcKey::None, fallback.as_ref()),
            _ => format.parse(&text),
        },
        KeyMaterial::PreShared(k) => parse_pskc(&text, &PskcKey::PreShared(k), fallback.as_ref()),
        KeyMaterial::Password(p) => {
            parse_pskc(&text, &PskcKey::Password(p.as_bytes()), fallback.as_ref())
        }
    };
    let mut parsed = parsed.map_err(|e| Failure::bad(format!("{}: {e}", a.file.display())))?;
    drop(text);
    if let Some(u) = &fallback {
        parsed = parsed.for_user(u);
    }
    let mut options = ImportOptions::dry_run();
    if a.write {
        options = options.write();
    }
    if a.allow_short_secrets {
        options = options.danger_allow_short_secrets();
    }
    let report = service
        .import(parsed, options)
        .await
        .map_err(|e: Error| Failure::bad(format!("store: {e}")))?;
    let value = if json_output {
        report_json(&report)?
    } else {
        report_text(&report)
    };
    if report.is_clean() {
        Ok(value)
    } else {
        Err(Failure::Partial(value))
    }
}

fn read(path: &Path) -> Result<Zeroizing<String>, Failure> {
    use std::io::Read as _;
    let file =
        std::fs::File::open(path).map_err(|e| Failure::bad(format!("{}: {e}", path.display())))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_IMPORT.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::bad(format!("{}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_IMPORT {
        return Err(Failure::bad(format!(
            "{}: larger than {} MiB; split it",
            path.display(),
            MAX_IMPORT >> 20
        )));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::bad(format!("{}: not UTF-8", path.display())))?;
    Ok(Zeroizing::new(text.to_owned()))
}

fn report_json(report: &ImportReport) -> Result<Value, Failure> {
    let mut value = serde_json::to_value(report).map_err(Failure::bad)?;
    if let Value::Object(map) = &mut value {
        map.insert("ok".to_owned(), Value::Bool(report.is_clean()));
    }
    Ok(value)
}

/// `key: value` lines, one line per record that is not simply fine.
fn report_text(report: &ImportReport) -> Value {
    let s = &report.summary;
    let lines: Vec<String> = report
        .records
        .iter()
        .map(|r| {
            let who = r.user.as_deref().unwrap_or("?");
            let what = r.factor.unwrap_or("record");
            let short = if r.short_secret {
                " (secret under 128 bits)"
            } else {
                ""
            };
            let status = match &r.status {
                RecordStatus::AlreadyImported => "already imported".to_owned(),
                RecordStatus::Duplicate { of } => format!("duplicate of record {of}"),
                RecordStatus::HeldBack { reason } => format!("held back: {reason}"),
                RecordStatus::Imported => "imported".to_owned(),
                RecordStatus::Rejected { reason } => format!("rejected: {reason}"),
                RecordStatus::WouldImport => "would import".to_owned(),
                _ => "?".to_owned(),
            };
            let new = if r.new_user == Some(true) {
                " [new user]"
            } else {
                ""
            };
            format!("{} {who} {what}{new}: {status}{short}", r.index)
        })
        .collect();
    json!({
        "ok": report.is_clean(),
        "dry_run": report.dry_run,
        "format": report.format.as_str(),
        "records": lines,
        "imported": s.imported,
        "would_import": s.would_import,
        "already_imported": s.already_imported,
        "duplicates": s.duplicates,
        "rejected": s.rejected,
        "held_back": s.held_back,
        "users": s.users,
        "new_users": s.new_users,
    })
}
