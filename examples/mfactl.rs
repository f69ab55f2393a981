//! `mfactl`: the operator's tool and the `mfa` service's command-line face, over any
//! store URL (`sqlite://PATH`, `postgres://…`, `memory://`), with `clap` for the command
//! line.
//!
//! Run with `cargo run --example mfactl -- <command>`; `mfactl --help` and
//! `mfactl <command> --help` describe every option:
//!
//! ```text
//! mfactl [--store URL] [--keys FILE] [--now UNIX] [--policy FILE] [--session FILE]
//!        [--issuer NAME] [--outbox DIR] [--sms-countries LIST] [--origin HOST] [--json]
//!        <command>
//!
//! mfactl migrate
//! mfactl keys init FILE            a new key file (0600): one data key, one pepper
//! mfactl keys rotate FILE          a new active data key; old keys stay to open old records
//! mfactl rekey --user U            re-seal U's factors under the active data key
//! mfactl enroll totp|hotp --user U [--label L]
//! mfactl enroll sms --user U --phone P [--region R] [--label L]    sends a code (--outbox)
//! mfactl enroll email --user U --email E [--label L]                sends a code (--outbox)
//! mfactl confirm --user U --factor F --code C
//! mfactl challenge --user U --factor F      for SMS and email: sends a code (--outbox)
//! mfactl verify --user U (--code C [--factor F] | --recovery-code C) [--save-session FILE]
//! mfactl recovery generate --user U
//! mfactl list --user U
//! mfactl rename --user U --factor F --label L
//! mfactl remove --user U --factor F
//! mfactl reset --user U
//! mfactl unlock --user U [--factor F]
//! mfactl lockout --user U                 # failure counts and lockout states; counts nothing
//! mfactl purge                            # remove lapsed failure counters
//! mfactl import otpauth|google|csv|webauthn|pskc FILE [--user U] [--write] [--allow-short-secrets]
//!        [--psk-file FILE | --password-file FILE]
//! mfactl export --user U [--users FILE] --out FILE (--psk-file F | --password-file F) [--webauthn-out FILE]
//! mfactl audit verify [--head FILE --head-key PEM]   # exit 1 naming the first tampered entry
//! mfactl audit export --out FILE                     # JSON lines
//! mfactl audit head --signing-key PEM --issuer NAME  # a signed head to publish
//! mfactl webauthn-recheck --user U [--users FILE] (--blob FILE [--root DER] | --compiled FILE) [--flag-only]
//! ```
//!
//! `--audit-log` makes every command that changes something append its audit events to
//! the store's hash-chained audit log (`mfa::ops`); `audit` reads it; see
//! `examples/mfactl/audit.rs`.
//!
//! `import` is a dry run unless `--write`, and exits 1 (report on stdout) when any
//! record was rejected or held back; see `examples/mfactl/import.rs`. `export` writes
//! encrypted PSKC to a new 0600 file and never prints a seed; see
//! `examples/mfactl/export.rs`.
//!
//! **Exit status**: 0 on success; 1 when a verification (`verify`, `confirm`) is
//! rejected, locked out or throttled: stderr says `verification failed` and nothing more
//! (no oracle); 2 for bad input, a usage error, a store failure or anything else the
//! service refuses, with a message saying what was wrong. No input makes the tool panic.
//! With `--json` stdout holds exactly one JSON object (also for exit 1:
//! `{"ok":false}`).
//!
//! **Store**: `--store`, opened — and migrated — with
//! `mfa_store::AnyStore::open`. Every invocation is one service instance: concurrent
//! invocations against one database race exactly like concurrent service instances
//! (failure counters are atomic, every factor update is a compare-and-swap).
//!
//! **Keys**: `--keys FILE`, a JSON file written by `keys init`
//! with 0600 permissions:
//! `{"version":1,"data":{"active":"ID","keys":{"ID":"BASE64"}},"pepper":{…the same…}}`.
//! `data` keys are the AES-256-GCM keys sealing every stored record (32 bytes each);
//! `pepper` keys are the recovery codes' HMAC keyring. `keys rotate` adds a data key and
//! makes it active; run `rekey --user U` to move a user's records to it.
//!
//! **Policy**: `--policy FILE` (TOML, `mfa_policy::Policy::from_toml`), or the built-in
//! default [`DEFAULT_POLICY`]: MFA always required, and every other setting at
//! mfa-policy's defaults (5 consecutive failures lock a factor for 15 minutes).
//!
//! **Session**: changing the factors of a user who already has a confirmed factor needs a
//! session at AAL2, as in the service. The tool acts with a password-only session at
//! `now` unless `--session FILE` names a session (JSON), such as the one
//! `verify --save-session FILE` wrote after a successful verification. Without one,
//! `recovery generate` for a user with a confirmed TOTP factor exits 2 ("this needs a
//! session at aal2").
//!
//! **Clock**: `--now UNIX` fixes the clock (replays, tests); default the system clock.
//!
//! **`--outbox DIR`** names the directory sender for SMS and email codes and security
//! notices (mfa-oob's `OutboxSender`: one file per message, `000001-sms-+12015550123.txt`).
//! Every SMS or email command (`enroll sms|email`, and `confirm`, `challenge`, `verify`
//! of such a factor) needs it and exits 2 without it. With it, security notices (a
//! factor added or removed, a reset) go to the user's confirmed email, else SMS number.
//! `--origin HOST` (default `example.com`) is the site the SMS's last line binds the
//! code to. `--sms-countries` (default `1,44`) lists the country calling codes SMS may go to;
//! mfa-oob allows none by default (SMS pumping). The code key is the key file's `oob`
//! ring (written by `keys init`; a key file from before it has none, and SMS and email
//! commands then exit 2). `verify --factor F --code C` answers the factor's latest code.
//!
//! Shortcuts acceptable only because this is an example: codes are taken on the command
//! line (visible in the process list).
//!
//! Everything but `main` is [`run`], which takes the arguments and the two output
//! streams and returns the exit status, so the tests (`examples/tests/mfactl.rs`) run the
//! whole tool in-process.

#[path = "mfactl/audit.rs"]
mod audit;
#[path = "mfactl/cli.rs"]
mod cli;
#[path = "mfactl/export.rs"]
mod export;
#[path = "mfactl/import.rs"]
mod import;
#[path = "mfactl/keys.rs"]
mod keys;
#[path = "mfactl/metadata.rs"]
mod metadata;

pub(crate) use cli::Cli;
use cli::*;
use keys::*;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Parser, Subcommand, ValueEnum};
use mfa::oob::{OobConfig, OobFactor, OutboxSender, SendLimits, Templates};
use mfa::policy::Policy;
use mfa::policy::input::{Session, Subject};
use mfa::recovery::RecoveryConfig;
use mfa::{Error, KeyId, Keyring, Response, Service};
use mfa_core::{
    AuthMethod, Channel, Clock, FactorId, FactorKind, FixedClock, OsRandom, SecretBytes,
    StartOptions, SystemClock, Timestamp, UserId,
};
use mfa_examples::tool::{self, BAD_INPUT, SUCCESS};
use mfa_store::AnyStore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// A verification was rejected.
const REJECTED: u8 = 1;

/// The policy used without `--policy`: MFA always, everything else at mfa-policy's
/// defaults.
pub(crate) const DEFAULT_POLICY: &str = "version = 1\nmode = \"always\"\n";

/// The largest key or policy file read (they are a few hundred bytes).
const MAX_FILE: u64 = 1 << 20;

fn main() -> ExitCode {
    tool::main(run)
}

/// Runs the tool on `args` (the program name first), writing results to `out` and
/// messages to `err`; returns the exit status.
pub(crate) fn run(args: Vec<OsString>, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let cli: Cli = match tool::parse(args, out, err) {
        Ok(cli) => cli,
        Err(status) => return status,
    };
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "mfactl: cannot start the runtime: {e}");
            return BAD_INPUT;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(value) => {
            let written = if json {
                writeln!(out, "{value}")
            } else {
                write_text(out, &value)
            };
            match written {
                Ok(()) => SUCCESS,
                Err(_) => BAD_INPUT,
            }
        }
        Err(Failure::Rejected) => {
            if json {
                let _ = writeln!(out, "{}", json!({"ok": false}));
            }
            let _ = writeln!(err, "verification failed");
            REJECTED
        }
        Err(Failure::Partial(value)) => {
            let _ = if json {
                writeln!(out, "{value}")
            } else {
                write_text(out, &value)
            };
            REJECTED
        }
        Err(Failure::Bad(message)) => {
            if json {
                let _ = writeln!(out, "{}", json!({"ok": false, "error": message}));
            }
            let _ = writeln!(err, "mfactl: {message}");
            BAD_INPUT
        }
    }
}

/// Plain output: `key: value` lines of the result object (lists one item per line).
fn write_text(out: &mut dyn Write, value: &Value) -> std::io::Result<()> {
    let Value::Object(map) = value else {
        return writeln!(out, "{value}");
    };
    for (k, v) in map {
        match v {
            Value::String(s) => writeln!(out, "{k}: {s}")?,
            Value::Array(items) => {
                writeln!(out, "{k}:")?;
                for item in items {
                    match item {
                        Value::String(s) => writeln!(out, "  {s}")?,
                        other => writeln!(out, "  {other}")?,
                    }
                }
            }
            other => writeln!(out, "{k}: {other}")?,
        }
    }
    Ok(())
}

/// Why a command failed.
#[derive(Debug)]
enum Failure {
    /// A verification was rejected (exit 1, no detail).
    Rejected,
    /// Anything else (exit 2) with what was wrong.
    Bad(String),
    /// A result printed as on success, with exit 1 (an import with rejected records).
    Partial(Value),
}

impl Failure {
    fn bad(message: impl fmt::Display) -> Self {
        Self::Bad(message.to_string())
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        if e.is_rejection() {
            Self::Rejected
        } else {
            Self::Bad(e.to_string())
        }
    }
}

impl From<mfa_core::Error> for Failure {
    fn from(e: mfa_core::Error) -> Self {
        Error::from(e).into()
    }
}

impl From<mfa_core::InvalidInput> for Failure {
    fn from(e: mfa_core::InvalidInput) -> Self {
        Self::bad(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::bad(e)
    }
}

fn user(id: &str) -> Result<UserId, Failure> {
    Ok(UserId::new(id)?)
}

fn factor(id: &str) -> Result<FactorId, Failure> {
    Ok(FactorId::new(id)?)
}

async fn open_store(global: &Global) -> Result<AnyStore, Failure> {
    let url = global
        .store
        .as_deref()
        .ok_or_else(|| Failure::bad("no store: pass --store URL"))?;
    AnyStore::open(url)
        .await
        .map_err(|e| Failure::bad(format!("store: {e}")))
}

fn build_service(
    global: &Global,
    store: AnyStore,
    now: Timestamp,
) -> Result<Service<AnyStore>, Failure> {
    let keys_path = global
        .keys
        .as_deref()
        .ok_or_else(|| Failure::bad("no key file: pass --keys FILE"))?;
    let file = read_key_file(keys_path)?;
    let policy = match &global.policy {
        Some(path) => {
            let text = read_small(path, "policy")?;
            Policy::from_toml(&text).map_err(|e| Failure::bad(format!("policy: {e}")))?
        }
        None => {
            Policy::from_toml(DEFAULT_POLICY).map_err(|e| Failure::bad(format!("policy: {e}")))?
        }
    };
    let mut builder = Service::builder(store, policy, keyring("data", &file.data)?)
        .recovery(keyring("pepper", &file.pepper)?, RecoveryConfig::default())
        .issuer(global.issuer.clone());
    if global.now.is_some() {
        builder = builder.clock(FixedClock::new(now));
    }
    if global.audit_log {
        builder = builder.journal(mfa::ops::Journaling::new());
    }
    if let Some(dir) = &global.outbox {
        let ring = file.oob.as_ref().ok_or_else(|| {
            Failure::bad("key file: no oob key (written by `keys init` since SMS and email codes)")
        })?;
        let key = keyring("oob", ring)?;
        let mut countries = Vec::new();
        for c in global
            .sms_countries
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            countries.push(c.parse::<u16>().map_err(|_| {
                Failure::bad(format!(
                    "--sms-countries: {c:?} is not a country calling code"
                ))
            })?);
        }
        let limits = SendLimits::new()
            .with_allowed_country_codes(countries)
            .map_err(Failure::bad)?;
        let templates =
            Templates::new(global.issuer.clone(), global.origin.clone()).map_err(Failure::bad)?;
        let codes = OobFactor::new(key, OobConfig::new(templates).with_limits(limits));
        let outbox = OutboxSender::new(dir)
            .map_err(|e| Failure::bad(format!("--outbox {}: {e}", dir.display())))?;
        builder = builder.sender(Arc::new(outbox)).oob_codes(codes);
    }
    Ok(builder.build()?)
}

/// Refuses an SMS or email command without `--outbox`, saying so.
fn need_outbox(global: &Global, kind: FactorKind) -> Result<(), Failure> {
    let oob = matches!(
        kind,
        FactorKind::Sms | FactorKind::Voice | FactorKind::Email
    );
    if oob && global.outbox.is_none() {
        return Err(Failure::bad(format!(
            "{} codes need --outbox DIR (the directory sender)",
            kind.as_str()
        )));
    }
    Ok(())
}

/// The kind of one of `user`'s factors, for [`need_outbox`]; unknown factors pass
/// (the service says so).
async fn kind_of(
    service: &Service<AnyStore>,
    user: &UserId,
    id: &FactorId,
) -> Result<Option<FactorKind>, Failure> {
    Ok(service
        .list_factors(user)
        .await?
        .into_iter()
        .find(|f| f.id == *id)
        .map(|f| f.kind))
}

fn session(global: &Global, now: Timestamp) -> Result<Session, Failure> {
    match &global.session {
        Some(path) => {
            let text = read_small(path, "session")?;
            serde_json::from_str(&text)
                .map_err(|e| Failure::bad(format!("session {}: {e}", path.display())))
        }
        None => Ok(Session::primary(AuthMethod::Pwd, now)),
    }
}

fn factor_json(f: &mfa::FactorInfo) -> Value {
    json!({
        "id": f.id.as_str(),
        "kind": f.kind.as_str(),
        "label": f.label,
        "confirmed": f.confirmed,
        "created_at": f.created_at.unix_secs(),
        "last_used_at": f.last_used_at.map(Timestamp::unix_secs),
        "destination": f.destination,
        "remaining_codes": f.remaining_codes,
    })
}

async fn execute(cli: Cli) -> Result<Value, Failure> {
    let global = cli.global;
    let now = match global.now {
        Some(secs) => Timestamp::from_unix_secs(secs),
        None => SystemClock.now(),
    };
    if let Command::Keys(k) = &cli.command {
        return keys_command(k, now.unix_secs());
    }
    if let Command::Enroll(EnrollArgs { kind, .. }) = &cli.command {
        match kind {
            EnrollKind::Sms => need_outbox(&global, FactorKind::Sms)?,
            EnrollKind::Email => need_outbox(&global, FactorKind::Email)?,
            EnrollKind::Totp | EnrollKind::Hotp => {}
        }
    }
    let store = open_store(&global).await?;
    if let Command::Migrate = cli.command {
        return Ok(json!({"ok": true, "store": store.scheme(), "migrated": true}));
    }
    if let Command::Audit(a) = cli.command {
        return audit::audit(&store, a, now).await;
    }
    let service = build_service(&global, store, now)?;
    let session = session(&global, now)?;
    match cli.command {
        Command::Migrate | Command::Keys(_) | Command::Audit(_) => {
            Err(Failure::bad("unreachable command"))
        }
        Command::Rekey(a) => {
            let count = service.admin().rekey_user(&user(&a.user)?).await?;
            Ok(json!({"ok": true, "resealed": count}))
        }
        Command::Enroll(a) => {
            let u = user(&a.user)?;
            let e = match a.kind {
                EnrollKind::Totp => {
                    service
                        .start_totp_enrollment(&u, &a.label, &session)
                        .await?
                }
                EnrollKind::Hotp => {
                    service
                        .start_hotp_enrollment(&u, &a.label, &session)
                        .await?
                }
                EnrollKind::Sms | EnrollKind::Email => {
                    let (channel, to) = match a.kind {
                        EnrollKind::Sms => (Channel::Sms, a.phone.as_deref()),
                        _ => (Channel::Email, a.email.as_deref()),
                    };
                    let to = to.ok_or_else(|| {
                        Failure::bad(if channel == Channel::Sms {
                            "enroll sms: pass --phone P"
                        } else {
                            "enroll email: pass --email E"
                        })
                    })?;
                    let e = service
                        .start_oob_enrollment(
                            &u,
                            mfa::OobAddress::new(channel, to, a.region.as_deref()),
                            &a.label,
                            &session,
                        )
                        .await?;
                    return Ok(json!({
                        "ok": true,
                        "factor": e.factor_id.as_str(),
                        "kind": e.kind.as_str(),
                        "destination": e.destination,
                        "challenge": e.challenge_id.as_str(),
                        "expires_at": e.expires_at.unix_secs(),
                    }));
                }
            };
            Ok(json!({
                "ok": true,
                "factor": e.factor_id.as_str(),
                "uri": e.uri.as_str(),
                "secret": e.secret_base32.as_str(),
            }))
        }
        Command::Confirm(a) => {
            let (u, f) = (user(&a.user)?, factor(&a.factor)?);
            if let Some(kind) = kind_of(&service, &u, &f).await? {
                need_outbox(&global, kind)?;
            }
            let v = service.finish_enrollment(&u, &f, &a.code, &session).await?;
            Ok(json!({"ok": true, "factor": factor_json(&v.factor)}))
        }
        Command::Challenge(a) => {
            let (u, f) = (user(&a.user)?, factor(&a.factor)?);
            if let Some(kind) = kind_of(&service, &u, &f).await? {
                need_outbox(&global, kind)?;
            }
            let c = service
                .start_challenge(&u, &f, &StartOptions::default())
                .await?;
            Ok(json!({"ok": true, "challenge": serde_json::to_value(&c).map_err(Failure::bad)?}))
        }
        Command::Verify(a) => {
            if let Some(f) = &a.factor {
                let (u, f) = (user(&a.user)?, factor(f)?);
                if let Some(kind) = kind_of(&service, &u, &f).await? {
                    need_outbox(&global, kind)?;
                }
            }
            verify(&service, &session, a).await
        }
        Command::Recovery(RecoveryCommand::Generate(a)) => {
            let u = user(&a.user)?;
            let has = service
                .list_factors(&u)
                .await?
                .iter()
                .any(|f| f.kind == FactorKind::RecoveryCode && f.confirmed);
            let e = if has {
                service.regenerate_recovery_codes(&u, &session).await?
            } else {
                let e = service.start_recovery_enrollment(&u, &session).await?;
                service.finish_recovery_enrollment(&u, &e.factor_id).await?;
                e
            };
            let codes: Vec<String> = e
                .codes
                .iter()
                .map(|c| c.expose_grouped().to_string())
                .collect();
            Ok(json!({"ok": true, "factor": e.factor_id.as_str(), "codes": codes}))
        }
        Command::List(a) => {
            let list = service.list_factors(&user(&a.user)?).await?;
            Ok(json!({"ok": true, "factors": list.iter().map(factor_json).collect::<Vec<_>>()}))
        }
        Command::Rename(a) => {
            let info = service
                .rename_factor(&user(&a.user)?, &factor(&a.factor)?, &a.label)
                .await?;
            Ok(json!({"ok": true, "factor": factor_json(&info)}))
        }
        Command::Remove(a) => {
            service
                .remove_factor(
                    &user(&a.user)?,
                    &Subject::default(),
                    &session,
                    &factor(&a.factor)?,
                )
                .await?;
            Ok(json!({"ok": true, "removed": a.factor}))
        }
        Command::Reset(a) => {
            let s = service.admin().reset_user(&user(&a.user)?).await?;
            Ok(json!({
                "ok": true,
                "factors": s.factors,
                "challenges": s.challenges,
                "devices": s.devices,
                "failure_counters": s.failure_counters,
            }))
        }
        Command::Unlock(a) => {
            let f = a.factor.as_deref().map(factor).transpose()?;
            service.admin().unlock(&user(&a.user)?, f.as_ref()).await?;
            Ok(json!({"ok": true}))
        }
        Command::Lockout(a) => {
            let status = service.admin().lockout_status(&user(&a.user)?).await?;
            Ok(json!({"ok": true, "lockout": status}))
        }
        Command::Import(a) => import::import(&service, a, global.json).await,
        Command::Export(a) => export::export(&service, a).await,
        Command::WebauthnRecheck(a) => metadata::recheck(&service, a, now).await,
        Command::Purge => {
            let purged = service.admin().purge_failures().await?;
            Ok(json!({"ok": true, "purged": purged}))
        }
    }
}

async fn verify(
    service: &Service<AnyStore>,
    session: &Session,
    a: VerifyArgs,
) -> Result<Value, Failure> {
    let u = user(&a.user)?;
    let (factor_id, code) = match (&a.code, &a.recovery_code, &a.factor) {
        (Some(code), None, Some(f)) => (factor(f)?, code),
        (Some(code), None, None) => {
            // Never try several factors: each try counts towards the lockout.
            let list = service.list_factors(&u).await?;
            let mut otp = list
                .iter()
                .filter(|f| f.confirmed && matches!(f.kind, FactorKind::Totp | FactorKind::Hotp));
            match (otp.next(), otp.next()) {
                (Some(f), None) => (f.id.clone(), code),
                (None, _) => return Err(Failure::Rejected),
                (Some(_), Some(_)) => {
                    return Err(Failure::bad(
                        "the user has several code factors: name one with --factor",
                    ));
                }
            }
        }
        (None, Some(code), None) => {
            let list = service.list_factors(&u).await?;
            match list
                .iter()
                .find(|f| f.confirmed && f.kind == FactorKind::RecoveryCode)
            {
                Some(f) => (f.id.clone(), code),
                None => return Err(Failure::Rejected),
            }
        }
        _ => {
            return Err(Failure::bad(
                "pass --code C (with or without --factor F) or --recovery-code C",
            ));
        }
    };
    let v = service
        .verify(&u, &factor_id, Response::Code(code), session)
        .await?;
    if let Some(path) = &a.save_session {
        let text = serde_json::to_string(&v.session).map_err(Failure::bad)?;
        write_private(path, text.as_bytes(), path.exists())?;
    }
    Ok(json!({
        "ok": true,
        "user": v.user.as_str(),
        "factor": factor_json(&v.factor),
        "methods": v.methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "amr": serde_json::to_value(v.amr).map_err(Failure::bad)?,
        "aal": v.aal.map(|a| a.as_str()),
        "recovery_codes_left": v.recovery.as_ref().map(|r| r.remaining),
    }))
}
