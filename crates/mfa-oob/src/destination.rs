//! Where a code goes: phone numbers (E.164) and email addresses, validated, normalised
//! and masked for display.

use std::fmt;
use std::str::FromStr;

use mfa_core::Channel;
use phonenumber::metadata::DATABASE;
use serde::{Deserialize, Serialize};

mod phone;

/// The bullet every masked form uses (U+2022).
pub const MASK: char = '\u{2022}';

/// The longest phone-number input read, in bytes; longer input is refused before parsing.
pub const MAX_PHONE_INPUT: usize = 40;

/// The most digits a phone-number input may have.
const MAX_PHONE_DIGITS: usize = 20;

/// The longest email address accepted, in bytes (RFC 5321 §4.5.3.1.3 path limit less
/// the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// Why a phone number or an email address was refused. The messages name the problem
/// and never repeat the input, so they may be shown to the user who typed it.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum DestinationError {
    /// The channel cannot reach this kind of destination (a voice call to an email
    /// address).
    #[error("{channel} cannot be delivered to {destination}")]
    ChannelMismatch {
        /// The channel asked for.
        channel: &'static str,
        /// The kind of destination.
        destination: &'static str,
    },
    /// The number's country calling code is not on the allow-list.
    #[error("phone numbers with country calling code +{0} are not accepted")]
    CountryNotAllowed(u16),
    /// The email address is not of the accepted syntax.
    #[error("invalid email address: {0}")]
    Email(&'static str),
    /// The phone number could not be read or is not a valid number.
    #[error("invalid phone number: {0}")]
    Phone(&'static str),
    /// A valid number of a type that cannot receive codes, or that costs the sender
    /// (premium rate, shared cost, toll free, pager, voicemail, short code).
    #[error("this kind of phone number cannot receive codes")]
    UnsupportedNumberType,
}

/// A phone number in E.164 form (`+14155552671`), parsed and validated with
/// libphonenumber's metadata (the `phonenumber` crate).
///
/// Serialised as the E.164 string; deserialising parses it again, so a stored value
/// that is not canonical E.164 is refused.
///
/// ```
/// use mfa_oob::PhoneNumber;
///
/// let n = PhoneNumber::parse("(201) 555-0123", Some("US"))?;
/// assert_eq!(n.e164(), "+12015550123");
/// assert_eq!(n.country_code(), 1);
/// assert_eq!(n.masked(), "+1 \u{2022}\u{2022}\u{2022} \u{2022}\u{2022}\u{2022} 0123");
/// assert_eq!(PhoneNumber::parse("+44 7400 123456", None)?.e164(), "+447400123456");
/// # Ok::<(), mfa_oob::DestinationError>(())
/// ```
#[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
}

impl PhoneNumber {
    /// Parses a number typed in international form (`+49 30 123456`) or, with
    /// `default_region` (an ISO 3166-1 alpha-2 code such as `"DE"`), in that region's
    /// national form (`030 123456`).
    ///
    /// Only ASCII digits, spaces and `+ - ( ) . /` are accepted (no letters: no vanity
    /// numbers, no extensions), at most [`MAX_PHONE_INPUT`] bytes, and `+` only first.
    /// The number must be valid by libphonenumber's metadata and of a type that can
    /// receive a text or a call (mobile, fixed line, either, personal, VoIP): premium
    /// rate, shared cost, toll free, pager, voicemail and short codes are refused, since
    /// sending to them is how SMS pumping makes money.
    ///
    /// # Errors
    ///
    /// [`DestinationError::Phone`] naming the problem, or
    /// [`DestinationError::UnsupportedNumberType`].
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Self, DestinationError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(DestinationError::Phone("empty"));
        }
        if s.len() > MAX_PHONE_INPUT {
            return Err(DestinationError::Phone("too long"));
        }
        let allowed =
            |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.' | '/');
        let (plus, rest) = match s.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if !rest.chars().all(allowed) {
            return Err(DestinationError::Phone(
                "only digits, spaces and + - ( ) . / are accepted",
            ));
        }
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        // E.164's fifteen digits after an international prefix of up to four (`0011`
        // from Australia, `0015` from Brazil) and a spare: libphonenumber itself limits
        // only the national number (to 17 digits), as `phone::parse` does.
        if !(3..=MAX_PHONE_DIGITS).contains(&digits.len()) {
            return Err(DestinationError::Phone("wrong number of digits"));
        }
        let region = match default_region {
            Some(r) => {
                let id = phonenumber::country::Id::from_str(&r.to_ascii_uppercase())
                    .map_err(|_| DestinationError::Phone("unknown default region"))?;
                Some(
                    DATABASE
                        .by_id(id.as_ref())
                        .ok_or(DestinationError::Phone("unknown default region"))?,
                )
            }
            None => None,
        };
        if !plus && region.is_none() {
            return Err(DestinationError::Phone(
                "needs a country calling code (+…) or a default region",
            ));
        }
        let parsed = phone::parse(&digits, plus, region)?;
        if !parsed.receivable {
            return Err(DestinationError::UnsupportedNumberType);
        }
        let e164 = format!("+{}{}", parsed.country_code, parsed.national);
        // What is enrolled must read back as itself: the service parses the stored
        // E.164 form again (serde, the next sign-in). A number whose E.164 form reads
        // as another number (a national prefix that looks like part of it) is refused.
        let again = phone::parse(e164.get(1..).unwrap_or_default(), true, None);
        if again.as_ref() != Ok(&parsed) {
            return Err(DestinationError::Phone("not a valid number"));
        }
        Self::from_parts(e164, parsed.country_code)
    }

    fn from_parts(e164: String, country_code: u16) -> Result<Self, DestinationError> {
        // What E.164 allows: `+`, then 1 to 15 digits, the first not zero.
        let ok = e164.len() <= 16
            && e164.strip_prefix('+').is_some_and(|d| {
                !d.is_empty() && !d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit())
            });
        if !ok {
            return Err(DestinationError::Phone("not representable in E.164"));
        }
        Ok(Self { e164, country_code })
    }

    /// The E.164 form: `+` and up to 15 digits.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The country calling code (`1`, `44`, `49`).
    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// A form to show on a sign-in page: the country code, the national number's digits
    /// masked in groups of three, and its last four (two for numbers of six digits or
    /// fewer): `+1 ••• ••• 4567`.
    pub fn masked(&self) -> String {
        let cc = self.country_code.to_string();
        let national = self.e164.get(1 + cc.len()..).unwrap_or_default().as_bytes();
        let shown = if national.len() <= 6 { 2 } else { 4 };
        let hidden = national.len().saturating_sub(shown);
        let mut out = format!("+{cc}");
        let first = hidden % 3;
        let mut left = hidden;
        if first > 0 {
            out.push(' ');
            out.extend(std::iter::repeat_n(MASK, first));
            left -= first;
        }
        while left > 0 {
            out.push(' ');
            out.extend(std::iter::repeat_n(MASK, 3));
            left -= 3;
        }
        out.push(' ');
        out.push_str(&String::from_utf8_lossy(
            national.get(hidden..).unwrap_or_default(),
        ));
        out
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.e164)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.e164)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let n = Self::parse(&s, None).map_err(serde::de::Error::custom)?;
        if n.e164 != s {
            return Err(serde::de::Error::custom(
                "phone number is not in E.164 form",
            ));
        }
        Ok(n)
    }
}

/// An email address of a deliberately plain syntax: the WHATWG HTML "valid e-mail
/// address" (what `<input type=email>` accepts) tightened to RFC 5321's dot-atom.
///
/// - local part: 1 to 64 of `A-Z a-z 0-9 . ! # $ % & ' * + / = ? ^ _ ` { | } ~ -`, not
///   starting or ending with `.`, no `..`; its case is kept;
/// - domain: at least two labels of letters, digits and inner hyphens, each 1 to 63,
///   the last not all digits; lowercased;
/// - at most [`MAX_EMAIL_LEN`] bytes in all; surrounding whitespace is trimmed.
///
/// Quoted local parts, comments, IP-literal domains and non-ASCII addresses are
/// refused: they are legal in RFC 5322 but rare, often refused by mail providers'
/// APIs, and make display and comparison ambiguous. Internationalised domains are
/// accepted in their `xn--` form.
///
/// ```
/// use mfa_oob::EmailAddress;
///
/// let a = EmailAddress::parse(" Alice.Smith@Example.COM ")?;
/// assert_eq!(a.as_str(), "Alice.Smith@example.com");
/// assert_eq!(a.masked(), "A\u{2022}\u{2022}\u{2022}@example.com");
/// assert!(EmailAddress::parse("alice@localhost").is_err());
/// # Ok::<(), mfa_oob::DestinationError>(())
/// ```
#[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses and normalises an address (see the type's docs for the syntax).
    ///
    /// # Errors
    ///
    /// [`DestinationError::Email`] naming the problem.
    pub fn parse(input: &str) -> Result<Self, DestinationError> {
        use DestinationError::Email;
        let s = input.trim();
        if s.is_empty() {
            return Err(Email("empty"));
        }
        if s.len() > MAX_EMAIL_LEN {
            return Err(Email("longer than 254 bytes"));
        }
        if !s.is_ascii() {
            return Err(Email(
                "only ASCII addresses are accepted (write a domain in its xn-- form)",
            ));
        }
        let (local, domain) = s.rsplit_once('@').ok_or(Email("missing @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(Email("the part before @ must have 1 to 64 characters"));
        }
        let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-.".contains(&b);
        if !local.bytes().all(atext) {
            return Err(Email(
                "the part before @ has a character that is not accepted",
            ));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(Email("misplaced dot before @"));
        }
        let domain = domain.to_ascii_lowercase();
        check_domain(&domain).map_err(Email)?;
        Ok(Self(format!("{local}@{domain}")))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain, lowercased.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// A form to show on a sign-in page: the first character of the local part, three
    /// bullets whatever its length, and the domain: `a•••@example.com`.
    pub fn masked(&self) -> String {
        let first = self.0.chars().next().unwrap_or(MASK);
        format!("{first}{MASK}{MASK}{MASK}@{}", self.domain())
    }
}

/// Checks a lowercased DNS name of at least two labels (also used for the SMS origin).
pub(crate) fn check_domain(domain: &str) -> Result<(), &'static str> {
    if domain.is_empty() || domain.len() > 253 {
        return Err("the domain must have 1 to 253 characters");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("the domain needs a dot");
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(
                "a domain label is empty, too long or has a character that is not accepted",
            );
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("the top-level domain cannot be all digits");
    }
    Ok(())
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.0)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let a = Self::parse(&s).map_err(serde::de::Error::custom)?;
        if a.0 != s {
            return Err(serde::de::Error::custom("email address is not normalised"));
        }
        Ok(a)
    }
}

/// Where a code is sent: a phone number (SMS, voice) or an email address.
///
/// Serialised as `{"phone": "+14155552671"}` or `{"email": "alice@example.com"}`.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Destination {
    /// An email address.
    Email(EmailAddress),
    /// A phone number.
    Phone(PhoneNumber),
}

impl Destination {
    /// Parses a destination for `channel`: an email address for [`Channel::Email`], a
    /// phone number (with an optional default region for national forms) otherwise.
    ///
    /// # Errors
    ///
    /// [`DestinationError`] when the input is not a valid destination of that kind, or
    /// the channel is not one this crate delivers over.
    pub fn parse(
        channel: Channel,
        input: &str,
        default_region: Option<&str>,
    ) -> Result<Self, DestinationError> {
        match channel {
            Channel::Email => EmailAddress::parse(input).map(Self::Email),
            Channel::Sms | Channel::Voice => {
                PhoneNumber::parse(input, default_region).map(Self::Phone)
            }
            _ => Err(DestinationError::ChannelMismatch {
                channel: "this channel",
                destination: "any destination",
            }),
        }
    }

    /// The normalised form: E.164 or the normalised address. This is what a code is
    /// bound to, and the key for per-destination counters.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(a) => a.as_str(),
            Self::Phone(n) => n.e164(),
        }
    }

    /// The masked form for display.
    pub fn masked(&self) -> String {
        match self {
            Self::Email(a) => a.masked(),
            Self::Phone(n) => n.masked(),
        }
    }

    /// Whether `channel` can deliver to this destination.
    ///
    /// # Errors
    ///
    /// [`DestinationError::ChannelMismatch`] when it cannot.
    pub fn check_channel(&self, channel: Channel) -> Result<(), DestinationError> {
        let ok = matches!(
            (self, channel),
            (Self::Email(_), Channel::Email) | (Self::Phone(_), Channel::Sms | Channel::Voice)
        );
        if ok {
            Ok(())
        } else {
            Err(DestinationError::ChannelMismatch {
                channel: channel_name(channel),
                destination: match self {
                    Self::Email(_) => "an email address",
                    Self::Phone(_) => "a phone number",
                },
            })
        }
    }

    /// A one-byte tag of the destination's kind, for hashing.
    pub(crate) fn kind_byte(&self) -> u8 {
        match self {
            Self::Email(_) => b'e',
            Self::Phone(_) => b'p',
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A channel's lowercase name, for messages and file names.
pub(crate) fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "sms",
        Channel::Voice => "voice",
        Channel::Email => "email",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_the_examples_show() {
        let us = PhoneNumber::parse("+1 201 555 4567", None).unwrap();
        assert_eq!(us.masked(), "+1 ••• ••• 4567");
        let de = PhoneNumber::parse("030 1234567", Some("de")).unwrap();
        assert_eq!(de.e164(), "+49301234567");
        assert_eq!(de.masked(), "+49 •• ••• 4567");
        let a = EmailAddress::parse("alice@example.com").unwrap();
        assert_eq!(a.masked(), "a•••@example.com");
        let one = EmailAddress::parse("x@example.com").unwrap();
        assert_eq!(one.masked(), "x•••@example.com");
    }

    #[test]
    fn phone_input_is_filtered_before_parsing() {
        for (input, region) in [
            ("", None),
            ("   ", None),
            ("+1 800 FLOWERS", None),
            ("+1 201 555 0123 ext. 12", None),
            ("2015550123", None),
            ("+1 201 555 0123", Some("ZZ")),
            ("++12015550123", None),
            ("+1 2+01 555 0123", None),
            ("1".repeat(41).as_str(), Some("US")),
            ("+12", None),
        ] {
            assert!(
                matches!(
                    PhoneNumber::parse(input, region),
                    Err(DestinationError::Phone(_))
                ),
                "{input:?}"
            );
        }
    }

    /// `phonenumber` 0.3.10's `number_type` classifies from the national number without
    /// its leading zeros, so Italian fixed lines (national numbers starting with 0) come
    /// out `Unknown`; classifying with it refused them. Found by the Python cross-check.
    #[test]
    fn italian_fixed_lines_keep_their_leading_zero_and_are_accepted() {
        let rome = PhoneNumber::parse("06 1234 5678", Some("IT")).unwrap();
        assert_eq!(rome.e164(), "+390612345678");
        assert_eq!(
            PhoneNumber::parse("+39 02 1234 5678", None).unwrap().e164(),
            "+390212345678"
        );
        // The bug being worked around, so this test notices when it is fixed upstream.
        let raw = phonenumber::parse(None, "+390612345678").unwrap();
        assert_eq!(raw.number_type(&DATABASE), phonenumber::Type::Unknown);
    }

    /// Found by the `oob_destination` fuzz target: `00 7 0843…` typed with the UK as
    /// default region was read by `phonenumber::parse` with the UK's national prefix
    /// rule, so its `0` was dropped and the valid `+78439084743` enrolled; that E.164
    /// form then read back as `+7439084743` (the `8` stripped as Russia's national
    /// prefix though what is left fits no Russian number) and was refused. libphonenumber
    /// keeps the `0`, calls the typed number invalid, and reads `+78439084743` as itself.
    #[test]
    fn uk_international_prefix_to_russia_keeps_the_zero_and_reads_back() {
        for input in ["00.708439084743", "00708439084743", "00 7 0843 908 4743"] {
            assert_eq!(
                PhoneNumber::parse(input, Some("GB")),
                Err(DestinationError::Phone("not a valid number")),
                "{input}"
            );
        }
        let n = PhoneNumber::parse("+78439084743", None).unwrap();
        assert_eq!(n.e164(), "+78439084743");
        assert_eq!(PhoneNumber::parse(n.e164(), Some("GB")).unwrap(), n);
        // A national prefix is stripped once: `+44 00 7400…` is not `+44 7400…`.
        assert!(PhoneNumber::parse("+44 00 7400 123456", None).is_err());
        assert_eq!(
            PhoneNumber::parse("+44 0 7400 123456", None)
                .unwrap()
                .e164(),
            "+447400123456"
        );
        // The upstream behaviour worked around, so this test notices a fix there.
        let raw = phonenumber::parse(Some(phonenumber::country::GB), "00708439084743").unwrap();
        assert_eq!(raw.national().to_string(), "8439084743");
    }

    /// A pattern is matched against the whole number (Java's `matches()`), not only its
    /// leftmost-first prefix: KR's general pattern finds eight of `1020000000`'s ten
    /// digits first. Found by the Python cross-check.
    #[test]
    fn korean_mobiles_match_the_whole_pattern() {
        let n = PhoneNumber::parse("010-2000-0000", Some("KR")).unwrap();
        assert_eq!(n.e164(), "+821020000000");
    }

    /// Regions sharing a calling code (+1: US, CA and the Caribbean) are told apart the
    /// way libphonenumber does, so a Canadian number is classified with Canada's data.
    #[test]
    fn shared_calling_codes_pick_the_right_region() {
        for (n, region) in [("(506) 234-5678", "CA"), ("(201) 555-0123", "US")] {
            assert!(PhoneNumber::parse(n, Some(region)).is_ok(), "{n}");
        }
        assert!(PhoneNumber::parse("+1 506 234 5678", None).is_ok());
    }

    #[test]
    fn costly_number_types_are_refused() {
        // UK premium rate (09) and US toll free (800).
        for n in ["+44 909 8790000", "+1 800 253 0000"] {
            assert_eq!(
                PhoneNumber::parse(n, None),
                Err(DestinationError::UnsupportedNumberType),
                "{n}"
            );
        }
    }

    #[test]
    fn email_syntax_table() {
        let ok = [
            ("a@example.com", "a@example.com"),
            ("A.B+tag@Sub.Example.ORG", "A.B+tag@sub.example.org"),
            (
                "o'neil@xn--bcher-kva.example",
                "o'neil@xn--bcher-kva.example",
            ),
            ("x@a-b.co", "x@a-b.co"),
        ];
        for (input, want) in ok {
            assert_eq!(
                EmailAddress::parse(input).unwrap().as_str(),
                want,
                "{input}"
            );
        }
        let bad = [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a@-x.com",
            "a@x-.com",
            "a@x..com",
            "a@1.2.3.4",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
            "\"a b\"@example.com",
            "a@[127.0.0.1]",
            "a(comment)@example.com",
            "ä@example.com",
            "a@bücher.example",
            "a b@example.com",
        ];
        for input in bad {
            assert!(EmailAddress::parse(input).is_err(), "{input:?}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(EmailAddress::parse(&long_local).is_err());
        let long = format!("a@{}.com", "b".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn serde_refuses_non_canonical_forms() {
        let d = Destination::Phone(PhoneNumber::parse("+12015550123", None).unwrap());
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"phone":"+12015550123"}"#);
        assert_eq!(serde_json::from_str::<Destination>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Destination>(r#"{"phone":"+1 201 555 0123"}"#).is_err());
        assert!(serde_json::from_str::<Destination>(r#"{"email":"A@EXAMPLE.com"}"#).is_err());
        let e = Destination::parse(Channel::Email, "a@example.com", None).unwrap();
        assert!(e.check_channel(Channel::Sms).is_err());
        assert!(d.check_channel(Channel::Voice).is_ok());
    }
}
