//! `mfactl audit`: the store's hash-chained audit log (written when the service keeps a
//! journal: `mfactl --audit-log`, or `ServiceBuilder::journal` in an application).
//!
//! * `audit verify [--head FILE --head-key PEM]` walks the chain from its first entry
//!   and exits 1 naming the first entry that was edited, deleted or reordered; with a
//!   signed head (from `audit head`), also when the log was cut short after it.
//! * `audit export --out FILE` writes every entry as one JSON line (`seq`, `at`, `body`,
//!   `prev_hash`, `hash`) to a new file.
//! * `audit head --signing-key PEM --issuer NAME` prints the chain's head signed with
//!   ES256, to publish somewhere the database's administrators cannot rewrite.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use mfa::ops::{EventSigner, verify_audit_head};
use mfa_core::Timestamp;
use mfa_core::store::{AuditEntry, JournalStore};
use mfa_store::AnyStore;
use mfa_store::journal::{verify_against_head, verify_chain};
use serde_json::{Value, json};

use super::{Failure, read_small};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Walk the hash chain: exit 1 with the first edited, deleted or reordered entry.
    Verify(VerifyArgs),
    /// Write every entry as one JSON line to a new file.
    Export(ExportArgs),
    /// Print the chain's head signed with ES256 (publish it; `verify --head` uses it).
    Head(HeadArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// A signed head printed earlier by `audit head`.
    #[arg(long, requires = "head_key")]
    head: Option<PathBuf>,
    /// The public key (PEM) that signed the head.
    #[arg(long, requires = "head")]
    head_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The file to create (refuses to overwrite).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct HeadArgs {
    /// The P-256 private key (PEM) to sign with.
    #[arg(long)]
    signing_key: PathBuf,
    /// The issuer named in the head.
    #[arg(long)]
    issuer: String,
}

pub(crate) async fn audit(
    store: &AnyStore,
    command: AuditCommand,
    now: Timestamp,
) -> Result<Value, Failure> {
    let entries = all_entries(store).await?;
    match command {
        AuditCommand::Verify(a) => {
            let result = match (&a.head, &a.head_key) {
                (Some(head), Some(key)) => {
                    let token = read_small(head, "signed head")?;
                    let key = read_small(key, "head key")?;
                    let head = verify_audit_head(token.trim(), key.as_bytes())
                        .map_err(|e| Failure::bad(format!("signed head: {e}")))?;
                    verify_against_head(&entries, head.seq, &head.hash)
                }
                _ => verify_chain(&entries),
            };
            match result {
                Ok(()) => Ok(json!({"ok": true, "entries": entries.len()})),
                Err(e) => Err(Failure::Partial(json!({
                    "ok": false,
                    "entries": entries.len(),
                    "break": e,
                    "message": e.to_string(),
                }))),
            }
        }
        AuditCommand::Export(a) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&a.out)
                .map_err(|e| Failure::bad(format!("{}: {e}", a.out.display())))?;
            for e in &entries {
                let line = serde_json::to_string(e).map_err(Failure::bad)?;
                writeln!(file, "{line}")?;
            }
            file.sync_all()?;
            Ok(json!({"ok": true, "exported": entries.len(), "out": a.out}))
        }
        AuditCommand::Head(a) => {
            let pem = read_small(&a.signing_key, "signing key")?;
            let signer = EventSigner::es256_pem(a.issuer, pem.as_bytes())?;
            let (seq, hash) = entries
                .last()
                .map_or((0, mfa_store::journal::GENESIS.to_owned()), |e| {
                    (e.seq, e.hash.clone())
                });
            let head = signer.sign_audit_head(seq, &hash, now)?;
            Ok(json!({"ok": true, "seq": seq, "hash": hash, "head": head}))
        }
    }
}

/// The whole chain, in pages.
async fn all_entries(store: &AnyStore) -> Result<Vec<AuditEntry>, Failure> {
    let mut entries: Vec<AuditEntry> = Vec::new();
    loop {
        let after = entries.last().map_or(0, |e| e.seq);
        let page = store
            .audit_entries(after, 1000)
            .await
            .map_err(|e| Failure::bad(format!("store: {e}")))?;
        if page.is_empty() {
            return Ok(entries);
        }
        entries.extend(page);
    }
}
