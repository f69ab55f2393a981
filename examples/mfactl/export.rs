//! `mfactl export`: a user's factors out of the store, never a seed in clear.
//!
//! ```text
//! mfactl export --user U [--user U2 …] [--users FILE] --out FILE
//!               (--psk-file FILE | --password-file FILE [--iterations N])
//!               [--webauthn-out FILE]
//! ```
//!
//! OTP seeds go to `--out` as PSKC (RFC 6030) encrypted under a pre-shared AES-128 key
//! (`--psk-file`: 32 hex digits) or a password (`--password-file`: its first line;
//! PBKDF2-HMAC-SHA1, `--iterations`, default 1,300,000 as OWASP advises), written 0600
//! and never over an existing file: an export is never printed, so a seed never reaches
//! a terminal, not even encrypted. WebAuthn public credentials go to `--webauthn-out` as JSON (the
//! shape `import webauthn` reads). `mfactl import pskc FILE --psk-file …` (or
//! `--password-file`) reads an export back.
//!
//! The store has no list of users: name them with `--user` (repeatable) or `--users FILE`
//! (one id per line). Exit status 0, or 2 with a message.

use std::path::PathBuf;

use clap::Args;
use mfa::Service;
use mfa::import::{PskcExportKey, write_pskc, write_webauthn_json};
use mfa_core::OsRandom;
use mfa_store::AnyStore;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{Failure, read_small, user, users_named, write_private};

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// A user to export (repeatable).
    #[arg(long)]
    user: Vec<String>,
    /// A file of user ids, one per line.
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    /// Where the encrypted PSKC goes (a new file, 0600; never stdout).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Where the WebAuthn credentials (public) go, as JSON.
    #[arg(long, value_name = "FILE")]
    webauthn_out: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
    /// PBKDF2 iterations with --password-file.
    #[arg(long, default_value_t = 1_300_000)]
    iterations: u32,
}

/// The key of an encrypted PSKC file (import and export).
#[derive(Debug, Args)]
#[group(multiple = false)]
pub(crate) struct KeyArgs {
    /// A file holding the pre-shared AES key in hex (32, 48 or 64 digits).
    #[arg(long, value_name = "FILE")]
    pub(crate) psk_file: Option<PathBuf>,
    /// A file whose first line is the password.
    #[arg(long, value_name = "FILE")]
    pub(crate) password_file: Option<PathBuf>,
}

/// What [`KeyArgs`] read.
pub(crate) enum KeyMaterial {
    None,
    PreShared(Zeroizing<Vec<u8>>),
    Password(Zeroizing<String>),
}

impl KeyArgs {
    pub(crate) fn read(&self) -> Result<KeyMaterial, Failure> {
        if let Some(path) = &self.psk_file {
            let text = read_small(path, "pre-shared key")?;
            let hex: Zeroizing<String> = Zeroizing::new(text.split_whitespace().collect());
            let key = decode_hex(&hex).ok_or_else(|| {
                Failure::bad(format!("pre-shared key {}: not hex", path.display()))
            })?;
            return Ok(KeyMaterial::PreShared(key));
        }
        if let Some(path) = &self.password_file {
            let text = read_small(path, "password")?;
            let line = text.lines().next().unwrap_or("");
            if line.is_empty() {
                return Err(Failure::bad(format!("password {}: empty", path.display())));
            }
            return Ok(KeyMaterial::Password(Zeroizing::new(line.to_owned())));
        }
        Ok(KeyMaterial::None)
    }
}

pub(crate) async fn export(service: &Service<AnyStore>, a: ExportArgs) -> Result<Value, Failure> {
    let users = users_named(&a.user, a.users.as_deref())?;
    if a.out.as_os_str() == "-" {
        return Err(Failure::bad(
            "an export is never printed: --out names a new file",
        ));
    }
    let material = a.key.read()?;
    let mut records = Vec::new();
    for u in &users {
        records.extend(service.export_factors(&user(u)?).await?);
    }
    let psk: [u8; 16];
    let key = match &material {
        KeyMaterial::PreShared(k) => {
            psk = k.as_slice().try_into().map_err(|_| {
                Failure::bad("an export's pre-shared key is 16 bytes (32 hex digits)")
            })?;
            PskcExportKey::PreShared(&psk)
        }
        KeyMaterial::Password(p) => PskcExportKey::Password {
            password: p.as_bytes(),
            iterations: a.iterations,
        },
        KeyMaterial::None => {
            return Err(Failure::bad(
                "an export is always encrypted: pass --psk-file or --password-file",
            ));
        }
    };
    let pskc = write_pskc(&records, &key, &mut OsRandom).map_err(Failure::bad)?;
    let otp = records
        .iter()
        .filter(|r| !matches!(r.factor, mfa::import::ImportedFactor::WebAuthn(_)))
        .count();
    let webauthn = records.len() - otp;
    if let Some(path) = &a.webauthn_out {
        write_private(path, write_webauthn_json(&records).as_bytes(), false)?;
    } else if webauthn > 0 {
        return Err(Failure::bad(format!(
            "{webauthn} WebAuthn credentials: pass --webauthn-out FILE for them"
        )));
    }
    write_private(&a.out, pskc.as_bytes(), false)?;
    Ok(json!({
        "ok": true,
        "users": users.len(),
        "otp": otp,
        "webauthn": webauthn,
        "out": a.out.display().to_string(),
        "webauthn_out": a.webauthn_out.as_ref().map(|p| p.display().to_string()),
    }))
}

fn decode_hex(hex: &str) -> Option<Zeroizing<Vec<u8>>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(hex.len() / 2));
    let bytes = hex.as_bytes();
    for pair in bytes.chunks_exact(2) {
        let s = std::str::from_utf8(pair).ok()?;
        out.push(u8::from_str_radix(s, 16).ok()?);
    }
    Some(out)
}
