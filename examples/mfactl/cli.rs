//! The command line: what clap parses.

use super::*;

/// The operator's tool for the mfa service.
#[derive(Debug, Parser)]
#[command(name = "mfactl", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(super) global: Global,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Args)]
pub(super) struct Global {
    /// The store: sqlite://PATH, postgres://…, memory://
    #[arg(long, global = true, value_name = "URL")]
    pub(super) store: Option<String>,
    /// Append every audit event to the store's hash-chained audit log.
    #[arg(long, global = true)]
    pub(super) audit_log: bool,
    /// The key file (from `keys init`).
    #[arg(long, global = true, value_name = "FILE")]
    pub(super) keys: Option<PathBuf>,
    /// A fixed clock: the Unix time every check uses.
    #[arg(long, global = true, value_name = "UNIX")]
    pub(super) now: Option<u64>,
    /// The policy (TOML); default: MFA always, mfa-policy's defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub(super) policy: Option<PathBuf>,
    /// The caller's session (JSON, as `verify --save-session` writes it); default: a
    /// password-only session at now.
    #[arg(long, global = true, value_name = "FILE")]
    pub(super) session: Option<PathBuf>,
    /// The issuer shown in authenticator apps.
    #[arg(long, global = true, default_value = "mfa-rs", value_name = "NAME")]
    pub(super) issuer: String,
    /// The directory sender for SMS and email codes and security notices.
    #[arg(long, global = true, value_name = "DIR")]
    pub(super) outbox: Option<PathBuf>,
    /// The country calling codes SMS may go to, comma-separated.
    #[arg(long, global = true, default_value = "1,44", value_name = "LIST")]
    pub(super) sms_countries: String,
    /// The site's host name SMS codes are bound to (`@HOST #123456`, for autofill).
    #[arg(
        long,
        global = true,
        default_value = "example.com",
        value_name = "HOST"
    )]
    pub(super) origin: String,
    /// Print one JSON object on stdout.
    #[arg(long, global = true)]
    pub(super) json: bool,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Open the store and apply its migrations.
    Migrate,
    /// Create or rotate a key file.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Re-seal a user's factor records under the active data key.
    Rekey(UserArgs),
    /// Start enrolling a factor (confirm it with `confirm`).
    Enroll(EnrollArgs),
    /// Confirm an enrollment with its first code.
    Confirm(ConfirmArgs),
    /// Start a challenge for one factor.
    Challenge(FactorArgs),
    /// Verify a code or a recovery code: exit 0, or 1 with `verification failed`.
    Verify(VerifyArgs),
    /// Recovery codes.
    #[command(subcommand)]
    Recovery(RecoveryCommand),
    /// List a user's factors (never a secret).
    List(UserArgs),
    /// Rename a factor.
    Rename(RenameArgs),
    /// Remove a factor (guarded by the policy's enrollment rules).
    Remove(FactorArgs),
    /// Reset a user's MFA: factors, challenges, devices, counters.
    Reset(UserArgs),
    /// Clear failure counters (the user's, and one factor's or all of them).
    Unlock(UnlockArgs),
    /// Show the user's failure counters and whether each factor is open, backing off
    /// or locked, and whether the account reached its limit (counts nothing).
    Lockout(UserArgs),
    /// Remove failure counters that have lapsed (those of ids callers invented pile up
    /// otherwise); never an account's consecutive-failure count. Run it from cron.
    Purge,
    /// Import enrollments from another system: a dry run unless `--write`.
    Import(import::ImportArgs),
    /// Export users' factors: OTP seeds as encrypted PSKC, WebAuthn credentials as JSON.
    Export(export::ExportArgs),
    /// The audit log: verify its hash chain, export it, sign its head.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Re-check users' WebAuthn credentials against a new FIDO MDS3 BLOB: disable (or
    /// flag) those whose model it reports revoked or compromised.
    WebauthnRecheck(metadata::RecheckArgs),
}

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Write a new key file (0600; refuses to overwrite).
    Init(KeyFileArgs),
    /// Add a fresh data key to the file and make it active.
    Rotate(KeyFileArgs),
}

#[derive(Debug, Args)]
pub(super) struct KeyFileArgs {
    /// The key file.
    pub(super) file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(super) enum RecoveryCommand {
    /// Generate recovery codes (replacing any existing set); shown once.
    Generate(UserArgs),
}

#[derive(Debug, Args)]
pub(super) struct UserArgs {
    /// The user id.
    #[arg(long)]
    pub(super) user: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum EnrollKind {
    /// An authenticator app (RFC 6238).
    Totp,
    /// A counter-based token (RFC 4226).
    Hotp,
    /// Codes by SMS (`--phone`, needs `--outbox`).
    Sms,
    /// Codes by email (`--email`, needs `--outbox`).
    Email,
}

#[derive(Debug, Args)]
pub(super) struct EnrollArgs {
    /// What to enroll.
    pub(super) kind: EnrollKind,
    /// The user id.
    #[arg(long)]
    pub(super) user: String,
    /// The user's name for the factor.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub(super) label: String,
    /// The phone number (`enroll sms`): international (`+1 201 555 0123`) or national
    /// with `--region`.
    #[arg(long, allow_hyphen_values = true)]
    pub(super) phone: Option<String>,
    /// The region of a national phone number (`US`, `GB`).
    #[arg(long)]
    pub(super) region: Option<String>,
    /// The email address (`enroll email`).
    #[arg(long, allow_hyphen_values = true)]
    pub(super) email: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct ConfirmArgs {
    /// The user id.
    #[arg(long)]
    pub(super) user: String,
    /// The factor id `enroll` printed (it may start with `-`).
    #[arg(long, allow_hyphen_values = true)]
    pub(super) factor: String,
    /// The code the authenticator shows.
    #[arg(long)]
    pub(super) code: String,
}

#[derive(Debug, Args)]
pub(super) struct FactorArgs {
    /// The user id.
    #[arg(long)]
    pub(super) user: String,
    /// The factor id (it may start with `-`).
    #[arg(long, allow_hyphen_values = true)]
    pub(super) factor: String,
}

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// The user id.
    #[arg(long)]
    pub(super) user: String,
    /// A TOTP or HOTP code.
    #[arg(
        long,
        conflicts_with = "recovery_code",
        required_unless_present = "recovery_code"
    )]
    pub(super) code: Option<String>,
    /// A recovery code.
    #[arg(long)]
    pub(super) recovery_code: Option<String>,
    /// The factor (default: the user's only confirmed TOTP or HOTP factor).
    #[arg(long, conflicts_with = "recovery_code", allow_hyphen_values = true)]
    pub(super) factor: Option<String>,
    /// Write the session after the verification here (0600), for `--session`.
    #[arg(long, value_name = "FILE")]
    pub(super) save_session: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct RenameArgs {
    /// The user id.
    #[arg(long)]
    pub(super) user: String,
    /// The factor id (it may start with `-`).
    #[arg(long, allow_hyphen_values = true)]
    pub(super) factor: String,
    /// The new name.
    #[arg(long, allow_hyphen_values = true)]
    pub(super) label: String,
}

#[derive(Debug, Args)]
pub(super) struct UnlockArgs {
    /// The user id.
    #[arg(long)]
    pub(super) user: String,
    /// Only this factor's counter (besides the user's); default every factor's.
    #[arg(long, allow_hyphen_values = true)]
    pub(super) factor: Option<String>,
}

// ------------------------------------------------------------------ key file
