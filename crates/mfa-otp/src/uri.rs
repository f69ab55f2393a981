//! The Key URI Format (`otpauth://`) that authenticator apps scan from QR codes.
//!
//! The format is Google Authenticator's (`google-authenticator` wiki, "Key Uri Format"):
//! `otpauth://TYPE/LABEL?PARAMETERS`, where `TYPE` is `totp` or `hotp`, `LABEL` is
//! `Issuer:account` (percent-encoded; the issuer prefix is optional) and the parameters
//! are `secret` (base32, required), `issuer`, `algorithm`, `digits`, `period` (TOTP),
//! `counter` (HOTP, required) and `image`. Unknown parameters are ignored.

use alloc::borrow::ToOwned as _;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::fmt::Write as _;

use zeroize::Zeroizing;

use crate::error::SecretError;
use crate::hotp::{HotpParams, HotpRecord};
use crate::params::{Algorithm, Digits, Period};
use crate::secret::Secret;
use crate::totp::{TotpParams, TotpRecord};

/// Why an otpauth:// URI was refused; the message names what was wrong.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum UriError {
    /// The account name is empty or not allowed in a label.
    Account(&'static str),
    /// The `algorithm` parameter is not SHA1, SHA256 or SHA512 (in any case).
    Algorithm(String),
    /// The `counter` parameter is not a whole number that fits in 64 bits.
    Counter(String),
    /// The `digits` parameter is not a number from 6 to 10.
    Digits(String),
    /// A known parameter appears more than once.
    DuplicateParameter(&'static str),
    /// The issuer is empty or not allowed in a label.
    Issuer(&'static str),
    /// The label's issuer prefix and the `issuer` parameter disagree.
    IssuerMismatch {
        /// The issuer prefix of the label.
        label: String,
        /// The `issuer` parameter.
        parameter: String,
    },
    /// There is no `/` and label after the type.
    MissingLabel,
    /// An `hotp` URI has no `counter` parameter.
    MissingCounter,
    /// There is no `secret` parameter.
    MissingSecret,
    /// A parameter has no `=`.
    Parameter(String),
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded.
    PercentEncoding(&'static str),
    /// The `period` parameter is not a whole number of seconds ≥ 1.
    Period(String),
    /// The URI does not start with `otpauth://`.
    Scheme,
    /// The `secret` parameter is not an acceptable base32 key.
    Secret(SecretError),
    /// A TOTP enrollment with `T0` other than 0, which the format cannot express.
    T0,
    /// The URI does not fit in a QR code (feature `qr`).
    TooLongForQr,
    /// The type is neither `totp` nor `hotp`.
    Type(String),
    /// A record of one type was asked of a URI of the other.
    WrongType {
        /// The type asked for.
        wanted: &'static str,
        /// The URI's type.
        found: &'static str,
    },
}

impl UriError {
    /// The field name in messages and in [`mfa_core::InvalidInput::what`].
    pub(crate) const FIELD: &'static str = "otpauth uri";

    /// Writes what was wrong, the part of the message after `invalid otpauth uri: `.
    pub(crate) fn fmt_problem(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Account(v) => write!(f, "account {v}"),
            Self::Algorithm(v) => write!(f, "algorithm {v:?} is not SHA1, SHA256 or SHA512"),
            Self::Counter(v) => write!(f, "counter {v:?} is not a number from 0 to 2^64-1"),
            Self::Digits(v) => write!(f, "digits {v:?} is not a number from 6 to 10"),
            Self::DuplicateParameter(v) => write!(f, "parameter {v} appears more than once"),
            Self::Issuer(v) => write!(f, "issuer {v}"),
            Self::IssuerMismatch { label, parameter } => write!(
                f,
                "label issuer {label:?} differs from issuer parameter {parameter:?}"
            ),
            Self::MissingLabel => f.write_str("no label after the type"),
            Self::MissingCounter => f.write_str("hotp requires a counter parameter"),
            Self::MissingSecret => f.write_str("no secret parameter"),
            Self::Parameter(v) => write!(f, "parameter {v:?} has no '='"),
            Self::PercentEncoding(v) => write!(f, "bad percent-encoding in the {v}"),
            Self::Period(v) => write!(
                f,
                "period {v:?} is not a number of seconds from 1 to 2^64-1"
            ),
            Self::Scheme => f.write_str("does not start with otpauth://"),
            Self::Secret(v) => write!(f, "secret is {v}"),
            Self::T0 => f.write_str("t0 must be 0, the format has no parameter for it"),
            Self::TooLongForQr => f.write_str("too long for a QR code"),
            Self::Type(v) => write!(f, "type {v:?} is not totp or hotp"),
            Self::WrongType { wanted, found } => write!(f, "it is {found}, not {wanted}"),
        }
    }
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: ", Self::FIELD)?;
        self.fmt_problem(f)
    }
}

impl core::error::Error for UriError {}

/// The type-specific part of an otpauth:// URI.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum OtpKind {
    /// `otpauth://hotp/…` with its `counter`.
    Hotp {
        /// The counter the app starts at.
        counter: u64,
    },
    /// `otpauth://totp/…` with its `period`.
    Totp {
        /// The time step.
        period: Period,
    },
}

impl OtpKind {
    /// `"hotp"` or `"totp"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hotp { .. } => "hotp",
            Self::Totp { .. } => "totp",
        }
    }
}

/// A parsed or to-be-built otpauth:// URI.
///
/// Built values always satisfy what parsing checks (a non-empty account, no `:` in the
/// issuer or account, no surrounding spaces), so `parse(build(x)) == x` for every value
/// (a property test checks this).
///
/// ```
/// use mfa_otp::{OtpAuthUri, Secret, TotpParams};
///
/// let secret = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
/// let uri = OtpAuthUri::totp(secret, TotpParams::default(), Some("ACME Co"), "jane@example.com")?;
/// let text = uri.to_uri_string();
/// assert_eq!(
///     text.as_str(),
///     "otpauth://totp/ACME%20Co:jane@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
///      &issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
/// );
/// assert_eq!(OtpAuthUri::parse(&text)?, uri);
///
/// // Parsing is as tolerant as the apps: any case for the algorithm, %3A or ':' before
/// // the account, spaces after it, lower-case secrets.
/// let parsed = OtpAuthUri::parse(
///     "otpauth://totp/ACME%20Co%3A%20jane@example.com?secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq&algorithm=sha1",
/// )?;
/// assert_eq!(parsed, uri);
/// # Ok::<(), mfa_otp::Error>(())
/// ```
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OtpAuthUri {
    kind: OtpKind,
    issuer: Option<String>,
    account: String,
    secret: Secret,
    algorithm: Algorithm,
    digits: Digits,
    image: Option<String>,
}

impl OtpAuthUri {
    /// A `totp` URI.
    ///
    /// # Errors
    ///
    /// [`UriError::Account`] or [`UriError::Issuer`] when either is empty, contains `:`
    /// or starts or ends with white space; [`UriError::T0`] when `params.t0` is not 0.
    pub fn totp(
        secret: Secret,
        params: TotpParams,
        issuer: Option<&str>,
        account: &str,
    ) -> Result<Self, UriError> {
        if params.t0 != 0 {
            return Err(UriError::T0);
        }
        Self::build(
            OtpKind::Totp {
                period: params.period,
            },
            secret,
            params.algorithm,
            params.digits,
            issuer,
            account,
        )
    }

    /// An `hotp` URI whose app starts at `counter`.
    ///
    /// # Errors
    ///
    /// [`UriError::Account`] or [`UriError::Issuer`] when either is empty, contains `:`
    /// or starts or ends with white space.
    pub fn hotp(
        secret: Secret,
        params: HotpParams,
        counter: u64,
        issuer: Option<&str>,
        account: &str,
    ) -> Result<Self, UriError> {
        Self::build(
            OtpKind::Hotp { counter },
            secret,
            params.algorithm,
            params.digits,
            issuer,
            account,
        )
    }

    fn build(
        kind: OtpKind,
        secret: Secret,
        algorithm: Algorithm,
        digits: Digits,
        issuer: Option<&str>,
        account: &str,
    ) -> Result<Self, UriError> {
        check_label_part(account).map_err(UriError::Account)?;
        if let Some(issuer) = issuer {
            check_label_part(issuer).map_err(UriError::Issuer)?;
        }
        Ok(Self {
            kind,
            issuer: issuer.map(str::to_owned),
            account: account.to_owned(),
            secret,
            algorithm,
            digits,
            image: None,
        })
    }

    /// Adds an `image` parameter (a logo URL some apps show), kept exactly as given.
    #[must_use]
    pub fn with_image(mut self, image: &str) -> Self {
        self.image = Some(image.to_owned());
        self
    }

    /// Parses an otpauth:// URI, requiring a secret of at least 128 bits.
    ///
    /// # Errors
    ///
    /// A [`UriError`] naming what is wrong: the scheme, the type, the label, a
    /// parameter's value, a duplicate parameter, a missing secret or counter, or an
    /// issuer prefix that disagrees with the `issuer` parameter.
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        parse(uri, false)
    }

    /// **Dangerous:** parses like [`OtpAuthUri::parse`] but accepts secrets under 128
    /// bits, for importing legacy enrollments that cannot be re-keyed.
    ///
    /// # Errors
    ///
    /// As [`OtpAuthUri::parse`], except for short secrets.
    pub fn danger_parse_allow_short_secret(uri: &str) -> Result<Self, UriError> {
        parse(uri, true)
    }

    /// The URI text. It contains the secret: show it to the enrolling user (as a QR
    /// code) and never log it.
    pub fn to_uri_string(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(128));
        out.push_str("otpauth://");
        out.push_str(self.kind.as_str());
        out.push('/');
        if let Some(issuer) = &self.issuer {
            encode_into(&mut out, issuer, true);
            out.push(':');
        }
        encode_into(&mut out, &self.account, true);
        out.push_str("?secret=");
        out.push_str(&self.secret.to_base32());
        if let Some(issuer) = &self.issuer {
            out.push_str("&issuer=");
            encode_into(&mut out, issuer, false);
        }
        // Writing into a String cannot fail.
        let _ = write!(out, "&algorithm={}&digits={}", self.algorithm, self.digits);
        let _ = match self.kind {
            OtpKind::Hotp { counter } => write!(out, "&counter={counter}"),
            OtpKind::Totp { period } => write!(out, "&period={}", period.secs()),
        };
        if let Some(image) = &self.image {
            out.push_str("&image=");
            encode_into(&mut out, image, false);
        }
        out
    }

    /// `totp` or `hotp`, with the period or counter.
    pub fn kind(&self) -> OtpKind {
        self.kind
    }

    /// The issuer (the label prefix or the `issuer` parameter), if any.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The shared secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The HMAC hash.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits.
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// The `image` parameter, as given.
    pub fn image(&self) -> Option<&str> {
        self.image.as_deref()
    }

    /// The TOTP record this URI enrolls (no step accepted yet).
    ///
    /// # Errors
    ///
    /// [`UriError::WrongType`] for an `hotp` URI.
    pub fn to_totp_record(&self) -> Result<TotpRecord, UriError> {
        match self.kind {
            OtpKind::Totp { period } => Ok(TotpRecord::new(
                self.secret.clone(),
                TotpParams {
                    algorithm: self.algorithm,
                    digits: self.digits,
                    period,
                    t0: 0,
                },
            )),
            OtpKind::Hotp { .. } => Err(UriError::WrongType {
                wanted: "totp",
                found: "hotp",
            }),
        }
    }

    /// The HOTP record this URI enrolls, expecting its counter next.
    ///
    /// # Errors
    ///
    /// [`UriError::WrongType`] for a `totp` URI.
    pub fn to_hotp_record(&self) -> Result<HotpRecord, UriError> {
        match self.kind {
            OtpKind::Hotp { counter } => Ok(HotpRecord {
                secret: self.secret.clone(),
                params: HotpParams {
                    algorithm: self.algorithm,
                    digits: self.digits,
                },
                counter,
            }),
            OtpKind::Totp { .. } => Err(UriError::WrongType {
                wanted: "hotp",
                found: "totp",
            }),
        }
    }
}

impl fmt::Display for OtpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn check_label_part(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("is empty");
    }
    if s.contains(':') {
        return Err("contains ':', the label separator");
    }
    if s.trim() != s {
        return Err("starts or ends with white space");
    }
    Ok(())
}

fn parse(uri: &str, allow_short_secret: bool) -> Result<OtpAuthUri, UriError> {
    const SCHEME: &str = "otpauth://";
    let rest = match uri.get(..SCHEME.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(SCHEME) => uri.get(SCHEME.len()..),
        _ => None,
    }
    .ok_or(UriError::Scheme)?;
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (kind, rest) = rest.split_once('/').ok_or(UriError::MissingLabel)?;
    let is_totp = if kind.eq_ignore_ascii_case("totp") {
        true
    } else if kind.eq_ignore_ascii_case("hotp") {
        false
    } else {
        return Err(UriError::Type(kind.to_owned()));
    };
    let (label, query) = rest.split_once('?').unwrap_or((rest, ""));

    // The label: `Issuer:account`, where the ':' may be percent-encoded and spaces may
    // follow it.
    let label = decode(label, false).ok_or(UriError::PercentEncoding("label"))?;
    let (label_issuer, account) = match label.split_once(':') {
        Some((issuer, account)) => (Some(issuer.trim()), account.trim()),
        None => (None, label.trim()),
    };
    check_label_part(account).map_err(UriError::Account)?;
    let label_issuer = label_issuer.filter(|i| !i.is_empty());

    let mut params = Params::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| UriError::Parameter(pair.to_owned()))?;
        let slot = match key {
            "secret" => &mut params.secret,
            "issuer" => &mut params.issuer,
            "algorithm" => &mut params.algorithm,
            "digits" => &mut params.digits,
            "period" => &mut params.period,
            "counter" => &mut params.counter,
            "image" => &mut params.image,
            _ => continue,
        };
        if slot.is_some() {
            return Err(UriError::DuplicateParameter(match key {
                "secret" => "secret",
                "issuer" => "issuer",
                "algorithm" => "algorithm",
                "digits" => "digits",
                "period" => "period",
                "counter" => "counter",
                _ => "image",
            }));
        }
        *slot = Some(Zeroizing::new(
            decode(value, true).ok_or(UriError::PercentEncoding("query"))?,
        ));
    }

    let secret_text = params.secret.ok_or(UriError::MissingSecret)?;
    let secret = if allow_short_secret {
        Secret::danger_from_base32_short(&secret_text)
    } else {
        Secret::from_base32(&secret_text)
    }
    .map_err(UriError::Secret)?;

    let parameter_issuer = params
        .issuer
        .as_deref()
        .map(|i| i.trim())
        .filter(|i| !i.is_empty());
    if let Some(issuer) = parameter_issuer {
        check_label_part(issuer).map_err(UriError::Issuer)?;
    }
    let issuer = match (label_issuer, parameter_issuer) {
        (Some(label), Some(parameter)) if label != parameter => {
            return Err(UriError::IssuerMismatch {
                label: label.to_owned(),
                parameter: parameter.to_owned(),
            });
        }
        (label, parameter) => parameter.or(label).map(str::to_owned),
    };

    let algorithm = match params.algorithm.as_deref() {
        None => Algorithm::default(),
        Some(a) => a.parse().map_err(|_| UriError::Algorithm(a.to_owned()))?,
    };
    let digits = match params.digits.as_deref() {
        None => Digits::default(),
        Some(d) => d
            .parse::<u8>()
            .ok()
            .and_then(|n| Digits::new(n).ok())
            .ok_or_else(|| UriError::Digits(d.to_owned()))?,
    };
    let kind = if is_totp {
        let period = match params.period.as_deref() {
            None => Period::default(),
            Some(p) => p
                .parse::<u64>()
                .ok()
                .and_then(|n| Period::new(n).ok())
                .ok_or_else(|| UriError::Period(p.to_owned()))?,
        };
        OtpKind::Totp { period }
    } else {
        let c = params.counter.as_deref().ok_or(UriError::MissingCounter)?;
        let counter = c
            .parse::<u64>()
            .map_err(|_| UriError::Counter(c.to_owned()))?;
        OtpKind::Hotp { counter }
    };

    Ok(OtpAuthUri {
        kind,
        issuer,
        account: account.to_owned(),
        secret,
        algorithm,
        digits,
        image: params.image.map(|i| i.as_str().to_owned()),
    })
}

#[derive(Default)]
struct Params {
    secret: Option<Zeroizing<String>>,
    issuer: Option<Zeroizing<String>>,
    algorithm: Option<Zeroizing<String>>,
    digits: Option<Zeroizing<String>>,
    period: Option<Zeroizing<String>>,
    counter: Option<Zeroizing<String>>,
    image: Option<Zeroizing<String>>,
}

/// Percent-decodes `s` (and `+` as a space in query values, as HTML forms and Python's
/// `urlencode` write it). `None` on a bad escape or non-UTF-8 result.
fn decode(s: &str, plus_is_space: bool) -> Option<String> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(s.len()));
    let mut iter = s.bytes();
    while let Some(b) = iter.next() {
        match b {
            b'%' => {
                let high = hex_value(iter.next()?)?;
                let low = hex_value(iter.next()?)?;
                bytes.push((high << 4) | low);
            }
            b'+' if plus_is_space => bytes.push(b' '),
            _ => bytes.push(b),
        }
    }
    String::from_utf8(core::mem::take(&mut *bytes)).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `@` in the label,
/// as pyotp writes it).
fn encode_into(out: &mut String, s: &str, in_label: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (in_label && b == b'@')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            for nibble in [b >> 4, b & 0x0f] {
                out.push(HEX.get(usize::from(nibble)).map_or('0', |&h| char::from(h)));
            }
        }
    }
}
