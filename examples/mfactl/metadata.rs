//! `mfactl webauthn-recheck`: after downloading a new FIDO MDS3 BLOB, re-check the
//! users' registered WebAuthn credentials against it (issue 22).
//!
//! ```text
//! mfactl webauthn-recheck --user U [--user U2 …] [--users FILE]
//!        (--blob FILE [--root FILE …] | --compiled FILE) [--flag-only]
//! ```
//!
//! `--blob` is the BLOB as downloaded (a JWS), verified to GlobalSign Root CA - R3 or to
//! the `--root` DER certificates given instead; `--compiled` a store already verified
//! and cached as JSON (`MetadataTrustStore`'s serde form). A credential whose model the
//! BLOB reports `REVOKED`, `USER_KEY_REMOTE_COMPROMISE`, `USER_KEY_PHYSICAL_COMPROMISE`
//! or `ATTESTATION_KEY_COMPROMISE` is disabled (`--flag-only`: only audited and
//! notified). The store has no list of users: name them. Prints one JSON object with
//! the findings; exit status 0, or 2 with a message.

use std::path::PathBuf;

use clap::Args;
use mfa::webauthn::{MetadataLoader, MetadataTrustStore, TrustAnchor};
use mfa::{MetadataAction, Service};
use mfa_core::Timestamp;
use mfa_store::AnyStore;
use serde_json::{Value, json};

use super::{Failure, read_small, user, users_named};

/// The largest BLOB read (the real one is a few MB).
const MAX_BLOB: u64 = 64 << 20;

#[derive(Debug, Args)]
pub(crate) struct RecheckArgs {
    /// A user whose credentials to re-check (repeatable).
    #[arg(long)]
    user: Vec<String>,
    /// A file of user ids, one per line.
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    /// The MDS3 BLOB as downloaded (JWS).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "compiled",
        required_unless_present = "compiled"
    )]
    blob: Option<PathBuf>,
    /// Roots (DER) the BLOB's signer must chain to, instead of GlobalSign Root CA - R3.
    #[arg(long, value_name = "FILE", requires = "blob")]
    root: Vec<PathBuf>,
    /// A verified store cached as JSON, instead of --blob.
    #[arg(long, value_name = "FILE")]
    compiled: Option<PathBuf>,
    /// Only audit and notify; leave the factors working.
    #[arg(long)]
    flag_only: bool,
}

pub(crate) async fn recheck(
    service: &Service<AnyStore>,
    a: RecheckArgs,
    now: Timestamp,
) -> Result<Value, Failure> {
    let users = users_named(&a.user, a.users.as_deref())?;
    let metadata = load(&a, now)?;
    let action = if a.flag_only {
        MetadataAction::Flag
    } else {
        MetadataAction::Disable
    };
    let mut findings = Vec::new();
    for u in &users {
        for f in service
            .admin()
            .recheck_metadata(&user(u)?, &metadata, action)
            .await?
        {
            findings.push(json!({
                "user": u,
                "factor": f.factor.as_str(),
                "label": f.label,
                "aaguid": f.aaguid,
                "status": f.status,
                "evidence": f.evidence,
                "disabled": f.disabled,
            }));
        }
    }
    Ok(json!({
        "ok": true,
        "blob_no": metadata.no(),
        "users": users.len(),
        "findings": findings,
    }))
}

fn load(a: &RecheckArgs, now: Timestamp) -> Result<MetadataTrustStore, Failure> {
    if let Some(path) = &a.compiled {
        let text = read_small(path, "compiled metadata")?;
        return serde_json::from_str(&text)
            .map_err(|e| Failure::bad(format!("compiled metadata {}: {e}", path.display())));
    }
    let Some(path) = &a.blob else {
        return Err(Failure::bad("--blob FILE or --compiled FILE"));
    };
    let blob = read_limited(path)?;
    let mut loader = MetadataLoader::new();
    if !a.root.is_empty() {
        let roots = a
            .root
            .iter()
            .map(|p| {
                let der = read_limited(p)?;
                TrustAnchor::from_der(der)
                    .map_err(|e| Failure::bad(format!("root {}: {e}", p.display())))
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        loader = loader.with_roots_only(roots);
    }
    loader
        .load(&blob, now)
        .map_err(|e| Failure::bad(format!("blob {}: {e}", path.display())))
}

fn read_limited(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    use std::io::Read as _;
    let file =
        std::fs::File::open(path).map_err(|e| Failure::bad(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    file.take(MAX_BLOB)
        .read_to_end(&mut out)
        .map_err(|e| Failure::bad(format!("{}: {e}", path.display())))?;
    Ok(out)
}
