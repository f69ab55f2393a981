//! `otp`: an operator's command-line tool for HOTP and TOTP codes, otpauth:// URIs and
//! QR codes, built on `mfa-otp`.
//!
//! Run with `cargo run --release --example otp -- <command>`:
//!
//! ```text
//! otp code   --secret B32 [--algorithm sha1|sha256|sha512] [--digits N] [--period S] [--time UNIX]
//! otp code   --hotp --counter N --secret B32 [--algorithm ..] [--digits N]
//! otp verify --secret B32 --code C [--window-past N] [--window-future N] [--time UNIX]
//!            [--last-step S] [--algorithm ..] [--digits N] [--period S]
//! otp uri    --secret B32 --issuer I --account A [--algorithm ..] [--digits N]
//!            [--period S | --hotp --counter N] [--image URL]
//! otp parse  URI
//! otp qr     URI
//! otp secret
//! ```
//!
//! Every command accepts `--allow-short-secret` to read keys under 128 bits (legacy
//! enrollments). `verify` prints the matched step (with `--hotp --counter N`: the next
//! counter, searching `--window-future` counters ahead, default 10) and exits 0, or
//! prints the reason on stderr and exits 1. Bad arguments print one line on stderr and exit 2.
//!
//! Shortcuts acceptable only because this is an example: the secret is taken on the
//! command line (visible to other local users through the process list), `verify`
//! prints the log-only rejection reason, and `now` is read from the system clock here
//! rather than injected.

use std::collections::HashMap;
use std::process::ExitCode;

use mfa_core::{Clock as _, OsRandom, SystemClock};
use mfa_otp::{
    Algorithm, Digits, Error, Hotp, HotpParams, OtpAuthUri, OtpKind, Period, Secret, Totp,
    TotpParams, Window,
};

const USAGE: &str =
    "usage: otp <code|verify|uri|parse|qr|secret> [options] (see the example's docs)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let (command, rest) = args.split_first().ok_or_else(|| USAGE.to_owned())?;
    match command.as_str() {
        "code" => code(&Options::parse(rest, &["hotp", "allow-short-secret"])?),
        "verify" => verify(&Options::parse(rest, &["hotp", "allow-short-secret"])?),
        "uri" => uri(&Options::parse(rest, &["hotp", "allow-short-secret"])?),
        "parse" => parse(rest),
        "qr" => qr(rest),
        "secret" => {
            Options::parse(rest, &[])?.finish()?;
            let secret = Secret::generate(&mut OsRandom).map_err(|e| e.to_string())?;
            println!("{}", secret.to_base32().as_str());
            Ok(ExitCode::SUCCESS)
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command {other:?}; {USAGE}")),
    }
}

fn code(o: &Options) -> Result<ExitCode, String> {
    let secret = o.secret()?;
    let (algorithm, digits) = (o.algorithm()?, o.digits()?);
    let code = if o.flag("hotp") {
        let counter = o.number("counter")?.ok_or("--hotp needs --counter N")?;
        Hotp::new(&secret, HotpParams { algorithm, digits }).code(counter)
    } else {
        let params = TotpParams {
            algorithm,
            digits,
            period: o.period()?,
            t0: 0,
        };
        Totp::new(&secret, params)
            .code_at(o.time()?)
            .map_err(|e| e.to_string())?
    };
    o.finish()?;
    println!("{}", code.as_str());
    Ok(ExitCode::SUCCESS)
}

fn verify(o: &Options) -> Result<ExitCode, String> {
    let secret = o.secret()?;
    let presented = o.value("code").ok_or("verify needs --code C")?.to_owned();
    let (algorithm, digits) = (o.algorithm()?, o.digits()?);
    let result = if o.flag("hotp") {
        let counter = o.number("counter")?.ok_or("--hotp needs --counter N")?;
        let look_ahead = o.number("window-future")?.unwrap_or(10);
        let look_ahead = u32::try_from(look_ahead).map_err(|_| "--window-future is too large")?;
        o.finish()?;
        Hotp::new(&secret, HotpParams { algorithm, digits }).verify(&presented, counter, look_ahead)
    } else {
        let params = TotpParams {
            algorithm,
            digits,
            period: o.period()?,
            t0: 0,
        };
        let side = |name| -> Result<u32, String> {
            let n = o.number(name)?.unwrap_or(1);
            u32::try_from(n).map_err(|_| format!("--{name} is too large"))
        };
        let window =
            Window::new(side("window-past")?, side("window-future")?).map_err(|e| e.to_string())?;
        let (now, last) = (o.time()?, o.number("last-step")?);
        o.finish()?;
        Totp::new(&secret, params).verify(&presented, now, window, last)
    };
    match result {
        Ok(step) => {
            println!("{step}");
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::Rejected(r)) => {
            eprintln!("rejected: {}", r.reason());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.to_string()),
    }
}

fn uri(o: &Options) -> Result<ExitCode, String> {
    let secret = o.secret()?;
    let issuer = o.value("issuer").ok_or("uri needs --issuer I")?;
    let account = o.value("account").ok_or("uri needs --account A")?;
    let (algorithm, digits) = (o.algorithm()?, o.digits()?);
    let mut uri = if o.flag("hotp") {
        let counter = o.number("counter")?.ok_or("--hotp needs --counter N")?;
        OtpAuthUri::hotp(
            secret,
            HotpParams { algorithm, digits },
            counter,
            Some(issuer),
            account,
        )
    } else {
        let params = TotpParams {
            algorithm,
            digits,
            period: o.period()?,
            t0: 0,
        };
        OtpAuthUri::totp(secret, params, Some(issuer), account)
    }
    .map_err(|e| e.to_string())?;
    if let Some(image) = o.value("image") {
        uri = uri.with_image(image);
    }
    o.finish()?;
    println!("{}", uri.to_uri_string().as_str());
    Ok(ExitCode::SUCCESS)
}

fn parse_uri(rest: &[String]) -> Result<OtpAuthUri, String> {
    let mut o = Options::parse(rest, &["allow-short-secret"])?;
    o.takes_positional = true;
    let [text] = o.positional.as_slice() else {
        return Err("expected exactly one URI".to_owned());
    };
    let parsed = if o.flag("allow-short-secret") {
        OtpAuthUri::danger_parse_allow_short_secret(text)
    } else {
        OtpAuthUri::parse(text)
    };
    o.finish()?;
    parsed.map_err(|e| e.to_string())
}

fn parse(rest: &[String]) -> Result<ExitCode, String> {
    let uri = parse_uri(rest)?;
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
    println!(
        "{}",
        serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
    );
    Ok(ExitCode::SUCCESS)
}

fn qr(rest: &[String]) -> Result<ExitCode, String> {
    let uri = parse_uri(rest)?;
    print!(
        "{}",
        uri.to_qr_terminal().map_err(|e| e.to_string())?.as_str()
    );
    Ok(ExitCode::SUCCESS)
}

/// `--name value` options, `--flag`s and positional arguments, each used at most once;
/// [`Options::finish`] refuses any that no command read.
struct Options {
    values: HashMap<String, String>,
    flags: Vec<String>,
    positional: Vec<String>,
    used: std::cell::RefCell<Vec<String>>,
    takes_positional: bool,
}

impl Options {
    fn parse(args: &[String], flags: &[&str]) -> Result<Self, String> {
        let mut o = Options {
            values: HashMap::new(),
            flags: Vec::new(),
            positional: Vec::new(),
            used: std::cell::RefCell::new(Vec::new()),
            takes_positional: false,
        };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let Some(name) = arg.strip_prefix("--") else {
                o.positional.push(arg.clone());
                continue;
            };
            if flags.contains(&name) {
                o.flags.push(name.to_owned());
                continue;
            }
            let value = iter
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            if o.values.insert(name.to_owned(), value.clone()).is_some() {
                return Err(format!("--{name} given twice"));
            }
        }
        Ok(o)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.used.borrow_mut().push(name.to_owned());
        self.values.get(name).map(String::as_str)
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    fn number(&self, name: &str) -> Result<Option<u64>, String> {
        self.value(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("--{name} must be a whole number ≥ 0, got {v:?}"))
            })
            .transpose()
    }

    fn secret(&self) -> Result<Secret, String> {
        let text = self.value("secret").ok_or("--secret B32 is required")?;
        if self.flag("allow-short-secret") {
            Secret::danger_from_base32_short(text)
        } else {
            Secret::from_base32(text)
        }
        .map_err(|e| format!("invalid secret: {e}"))
    }

    fn algorithm(&self) -> Result<Algorithm, String> {
        self.value("algorithm").map_or(Ok(Algorithm::Sha1), |a| {
            a.parse().map_err(|e| format!("{e}"))
        })
    }

    fn digits(&self) -> Result<Digits, String> {
        match self.number("digits")? {
            None => Ok(Digits::SIX),
            Some(n) => u8::try_from(n)
                .map_err(|_| Error::Digits(n))
                .and_then(Digits::new)
                .map_err(|e| e.to_string()),
        }
    }

    fn period(&self) -> Result<Period, String> {
        Period::new(self.number("period")?.unwrap_or(30)).map_err(|e| e.to_string())
    }

    fn time(&self) -> Result<u64, String> {
        Ok(self
            .number("time")?
            .unwrap_or_else(|| SystemClock.now().unix_secs()))
    }

    /// Refuses options and positional arguments that the command did not read.
    fn finish(&self) -> Result<(), String> {
        let used = self.used.borrow();
        if let Some(name) = self.values.keys().find(|k| !used.contains(k)) {
            return Err(format!("unknown option --{name}"));
        }
        if let Some(arg) = self
            .positional
            .get(usize::from(self.takes_positional)..)
            .and_then(|p| p.first())
        {
            return Err(format!("unexpected argument {arg:?}"));
        }
        Ok(())
    }
}
