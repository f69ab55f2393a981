//! `otp`: an operator's command-line tool for HOTP and TOTP codes, otpauth:// URIs and
//! QR codes, built on `mfa-otp`, with `clap` for the command line.
//!
//! Run with `cargo run --release --example otp -- <command>`; `otp --help` and
//! `otp <command> --help` describe every option:
//!
//! ```text
//! otp code   --secret B32 [--algorithm sha1|sha256|sha512] [--digits N] [--period S] [--time UNIX]
//! otp code   --hotp --counter N --secret B32 [--algorithm ..] [--digits N]
//! otp verify --secret B32 --code C [--window-past N] [--window-future N] [--time UNIX]
//!            [--last-step S] [--algorithm ..] [--digits N] [--period S] [--show-reason]
//! otp verify --hotp --counter N --secret B32 --code C [--window-future N] [..]
//! otp uri    --secret B32 --issuer I --account A [--algorithm ..] [--digits N]
//!            [--period S | --hotp --counter N] [--image URL]
//! otp parse  URI
//! otp qr     URI
//! otp secret
//! ```
//!
//! The commands that read a secret accept `--allow-short-secret` for keys under 128 bits
//! (legacy enrollments). `verify` prints the matched step (with `--hotp --counter N`:
//! the next counter, searching `--window-future` counters ahead, default 10).
//!
//! Exit status: 0 on success; 1 when `verify` rejects the code (stderr says
//! `verification failed`); 2 for bad input or a usage error, with a message on stderr.
//! No input makes the tool panic.
//!
//! Shortcuts acceptable only because this is an example: the secret is taken on the
//! command line (visible to other local users through the process list), `verify
//! --show-reason` prints the log-only rejection reason, and `now` is read from the system
//! clock here rather than injected.
//!
//! Everything but `main` is [`run`], which takes the arguments and the two output
//! streams and returns the exit status, so the tests (`examples/tests/otp.rs`) run the
//! whole tool in-process without depending on where cargo put the example's binary.

use mfa_core::Timestamp;
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use mfa_core::{Clock as _, OsRandom, SystemClock};
use mfa_examples::tool::{self, BAD_INPUT, SUCCESS};
use mfa_otp::{
    Algorithm, Digits, Error, Hotp, HotpParams, OtpAuthUri, OtpKind, Period, Secret, Totp,
    TotpParams, UriError, Window,
};

/// `verify` rejected the code.
const REJECTED: u8 = 1;

fn main() -> ExitCode {
    tool::main(run)
}

/// Runs the tool on `args` (the program name first), writing results to `out` and
/// messages to `err`; returns the exit status.
pub(crate) fn run(args: Vec<OsString>, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let outcome = tool::parse(args, out, err).map(|cli: Cli| execute(cli.command, out));
    match outcome {
        Err(status) => status,
        Ok(Ok(())) => SUCCESS,
        Ok(Err(Failure::Rejected { reason })) => {
            let _ = writeln!(err, "verification failed");
            if let Some(reason) = reason {
                let _ = writeln!(err, "reason (for logs only): {reason}");
            }
            REJECTED
        }
        Ok(Err(Failure::BadInput(message))) => {
            let _ = writeln!(err, "error: {message}");
            BAD_INPUT
        }
    }
}

/// Why a command did not succeed.
enum Failure {
    /// `verify` refused the code; `reason` only with `--show-reason`.
    Rejected { reason: Option<&'static str> },
    /// Bad input (or output that could not be written), with the message to print.
    BadInput(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::BadInput(e.to_string())
    }
}

impl From<UriError> for Failure {
    fn from(e: UriError) -> Self {
        Self::BadInput(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::BadInput(format!("cannot write the output: {e}"))
    }
}

/// HOTP and TOTP codes, otpauth:// URIs and QR codes (mfa-otp).
#[derive(Debug, Parser)]
#[command(
    name = "otp",
    version,
    after_help = "Exit status: 0 success; 1 verification failed; 2 bad input or usage error.\n\
                  Run `otp <command> --help` for a command's options."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the TOTP code at a time (default: now), or an HOTP code with --hotp --counter N.
    Code(CodeArgs),
    /// Check a code: print the matched TOTP step (or the next HOTP counter) and exit 0,
    /// or print `verification failed` and exit 1.
    Verify(VerifyArgs),
    /// Build an otpauth:// URI for an authenticator app.
    Uri(UriArgs),
    /// Print the fields of an otpauth:// URI as JSON.
    Parse(UriInput),
    /// Draw an otpauth:// URI as a QR code in the terminal.
    Qr(UriInput),
    /// Print a new random 160-bit secret in base32.
    Secret,
}

/// The shared secret.
#[derive(Debug, Args)]
struct SecretArgs {
    /// The shared secret in base32 (any case; spaces, hyphens and `=` padding are
    /// tolerated).
    #[arg(long, value_name = "B32")]
    secret: String,
    /// Accept a secret shorter than 128 bits (only for legacy enrollments).
    #[arg(long)]
    allow_short_secret: bool,
}

impl SecretArgs {
    fn secret(&self) -> Result<Secret, Failure> {
        if self.allow_short_secret {
            Secret::danger_from_base32_short(&self.secret)
        } else {
            Secret::from_base32(&self.secret)
        }
        .map_err(|e| Failure::BadInput(format!("invalid secret: {e}")))
    }
}

/// The parameters every code has, and the choice of HOTP or TOTP.
#[derive(Debug, Args)]
struct ParamArgs {
    /// The HMAC hash.
    #[arg(long, value_name = "sha1|sha256|sha512", default_value = "sha1", value_parser = parse_algorithm)]
    algorithm: Algorithm,
    /// The number of digits, 6 to 10.
    #[arg(long, value_name = "N", default_value = "6", value_parser = parse_digits)]
    digits: Digits,
    /// The TOTP period in seconds.
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_period, conflicts_with = "hotp")]
    period: Period,
    /// HOTP (RFC 4226, counter-based) instead of TOTP; needs --counter.
    #[arg(long, requires = "counter")]
    hotp: bool,
    /// The HOTP counter (with --hotp).
    #[arg(long, value_name = "N", requires = "hotp")]
    counter: Option<u64>,
}

impl ParamArgs {
    /// The HOTP counter, or `None` for TOTP.
    fn hotp_counter(&self) -> Result<Option<u64>, Failure> {
        match (self.hotp, self.counter) {
            (false, _) => Ok(None),
            (true, Some(counter)) => Ok(Some(counter)),
            // clap's `requires` already refuses this; kept so no path can panic.
            (true, None) => Err(Failure::BadInput("--hotp needs --counter N".to_owned())),
        }
    }

    fn hotp(&self) -> HotpParams {
        HotpParams {
            algorithm: self.algorithm,
            digits: self.digits,
        }
    }

    fn totp(&self) -> TotpParams {
        TotpParams {
            algorithm: self.algorithm,
            digits: self.digits,
            period: self.period,
            t0: 0,
        }
    }
}

#[derive(Debug, Args)]
struct CodeArgs {
    #[command(flatten)]
    secret: SecretArgs,
    #[command(flatten)]
    params: ParamArgs,
    /// The time in Unix seconds (TOTP; default: now).
    #[arg(long, value_name = "UNIX", conflicts_with = "hotp")]
    time: Option<u64>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    secret: SecretArgs,
    /// The code to check (ASCII spaces are ignored).
    #[arg(long, value_name = "C")]
    code: String,
    #[command(flatten)]
    params: ParamArgs,
    /// TOTP steps accepted before the current one.
    #[arg(long, value_name = "N", default_value_t = 1, conflicts_with = "hotp")]
    window_past: u32,
    /// TOTP steps accepted after the current one (default 1), or HOTP counters searched
    /// ahead of --counter (default 10).
    #[arg(long, value_name = "N")]
    window_future: Option<u32>,
    /// The time in Unix seconds (TOTP; default: now).
    #[arg(long, value_name = "UNIX", conflicts_with = "hotp")]
    time: Option<u64>,
    /// The last accepted TOTP step: it and every step before it are refused as replays.
    #[arg(long, value_name = "S", conflicts_with = "hotp")]
    last_step: Option<u64>,
    /// On a rejection, also print the log-only reason (wrong_code, replay, malformed).
    #[arg(long)]
    show_reason: bool,
}

#[derive(Debug, Args)]
struct UriArgs {
    #[command(flatten)]
    secret: SecretArgs,
    /// The issuer (service name), shown by the app and put in the label.
    #[arg(long, value_name = "I")]
    issuer: String,
    /// The account name, e.g. the user's email address.
    #[arg(long, value_name = "A")]
    account: String,
    #[command(flatten)]
    params: ParamArgs,
    /// An image URL for apps that show one (the `image` parameter).
    #[arg(long, value_name = "URL")]
    image: Option<String>,
}

#[derive(Debug, Args)]
struct UriInput {
    /// The otpauth:// URI.
    uri: String,
    /// Accept a secret shorter than 128 bits (only for legacy enrollments).
    #[arg(long)]
    allow_short_secret: bool,
}

impl UriInput {
    fn parse(&self) -> Result<OtpAuthUri, Failure> {
        if self.allow_short_secret {
            OtpAuthUri::danger_parse_allow_short_secret(&self.uri)
        } else {
            OtpAuthUri::parse(&self.uri)
        }
        .map_err(Failure::from)
    }
}

fn parse_algorithm(text: &str) -> Result<Algorithm, String> {
    text.parse().map_err(|e| format!("{e}"))
}

fn parse_digits(text: &str) -> Result<Digits, String> {
    let n: u64 = text
        .parse()
        .map_err(|_| format!("must be a whole number from 6 to 10, got {text:?}"))?;
    u8::try_from(n)
        .map_err(|_| Error::Digits(n))
        .and_then(Digits::new)
        .map_err(|e| e.to_string())
}

fn parse_period(text: &str) -> Result<Period, String> {
    let secs: u64 = text
        .parse()
        .map_err(|_| format!("must be a whole number of seconds, got {text:?}"))?;
    Period::new(secs).map_err(|e| e.to_string())
}

fn now() -> u64 {
    SystemClock.now().unix_secs()
}

fn execute(command: Command, out: &mut dyn Write) -> Result<(), Failure> {
    match command {
        Command::Code(a) => code(&a, out),
        Command::Verify(a) => verify(&a, out),
        Command::Uri(a) => uri(&a, out),
        Command::Parse(a) => parse(&a.parse()?, out),
        Command::Qr(a) => {
            let picture = a.parse()?.to_qr_terminal()?;
            write!(out, "{}", picture.as_str())?;
            Ok(())
        }
        Command::Secret => {
            let secret = Secret::generate(&mut OsRandom)?;
            writeln!(out, "{}", secret.to_base32().as_str())?;
            Ok(())
        }
    }
}

fn code(a: &CodeArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let secret = a.secret.secret()?;
    let code = match a.params.hotp_counter()? {
        Some(counter) => Hotp::new(&secret, a.params.hotp()).code(counter),
        None => Totp::new(&secret, a.params.totp())
            .code_at(Timestamp::from_unix_secs(a.time.unwrap_or_else(now)))?,
    };
    writeln!(out, "{}", code.as_str())?;
    Ok(())
}

fn verify(a: &VerifyArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let secret = a.secret.secret()?;
    let result = match a.params.hotp_counter()? {
        Some(counter) => {
            let look_ahead = a.window_future.unwrap_or(10);
            Hotp::new(&secret, a.params.hotp()).verify(&a.code, counter, look_ahead)
        }
        None => {
            let window = Window::new(a.window_past, a.window_future.unwrap_or(1))?;
            let now = a.time.unwrap_or_else(now);
            Totp::new(&secret, a.params.totp()).verify(
                &a.code,
                Timestamp::from_unix_secs(now),
                window,
                a.last_step,
            )
        }
    };
    match result {
        Ok(step) => {
            writeln!(out, "{step}")?;
            Ok(())
        }
        Err(Error::Rejected(r)) => Err(Failure::Rejected {
            reason: a.show_reason.then_some(r.reason().as_str()),
        }),
        Err(e) => Err(e.into()),
    }
}

fn uri(a: &UriArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let secret = a.secret.secret()?;
    let (issuer, account) = (Some(a.issuer.as_str()), a.account.as_str());
    let mut uri = match a.params.hotp_counter()? {
        Some(counter) => OtpAuthUri::hotp(secret, a.params.hotp(), counter, issuer, account),
        None => OtpAuthUri::totp(secret, a.params.totp(), issuer, account),
    }?;
    if let Some(image) = &a.image {
        uri = uri.with_image(image);
    }
    writeln!(out, "{}", uri.to_uri_string().as_str())?;
    Ok(())
}

fn parse(uri: &OtpAuthUri, out: &mut dyn Write) -> Result<(), Failure> {
    let (period, counter) = match uri.kind() {
        OtpKind::Totp { period } => (Some(period.secs()), None),
        OtpKind::Hotp { counter } => (None, Some(counter)),
    };
    let json = serde_json::json!({
        "type": uri.kind().as_str(),
        "issuer": uri.issuer(),
        "account": uri.account(),
        "secret": uri.secret().to_base32().as_str(),
        "algorithm": uri.algorithm().as_str(),
        "digits": uri.digits().get(),
        "period": period,
        "counter": counter,
        "image": uri.image(),
    });
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| Failure::BadInput(format!("cannot print the URI's fields: {e}")))?;
    writeln!(out, "{text}")?;
    Ok(())
}
