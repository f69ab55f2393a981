//! Reading a phone number's digits the way libphonenumber does (`PhoneNumberUtil.parse`
//! and `isValidNumber`), over the `phonenumber` crate's copy of its metadata.
//!
//! Written here rather than calling `phonenumber::parse`, which in 0.3.10 differs from
//! libphonenumber in ways that enrol numbers the service cannot read back:
//!
//! - a number with its own country calling code (`+7 …`, or `00 7 …` with a default
//!   region) has its national prefix stripped by the *default region's* rules, so
//!   `00 7 0843 908 4743` typed in the UK lost its `0` (the UK's national prefix) and came
//!   out as the valid `+78439084743`, where libphonenumber keeps it and calls the number
//!   invalid;
//! - a national prefix is stripped even when that leaves a number that no longer fits
//!   the region's pattern (the check compares the unstripped number with itself), and
//!   then stripped a second time, so `+78439084743` reads back as `+7439084743`, invalid;
//! - its pattern matches are prefix matches, not whole-number matches, and the general
//!   description's possible lengths (the union over the number types, filled in by
//!   libphonenumber's metadata build) are missing.
//!
//! Each step below names the libphonenumber method it follows. Only what this crate
//! accepts is handled: ASCII digits after an optional `+` (punctuation already removed).

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex, PoisonError};

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};

use super::DestinationError;

/// `PhoneNumberUtil.MIN_LENGTH_FOR_NSN`: the shortest national significant number.
const MIN_NSN: usize = 2;
/// `PhoneNumberUtil.MAX_LENGTH_FOR_NSN`: the longest national significant number.
const MAX_NSN: usize = 17;
/// `PhoneNumberUtil.MAX_LENGTH_COUNTRY_CODE`.
const MAX_COUNTRY_CODE: usize = 3;

/// A number libphonenumber calls valid, split into its country calling code and its
/// national significant number (leading zeros kept), with whether it can receive codes.
#[derive(Debug, Eq, PartialEq)]
pub(super) struct Parsed {
    pub(super) country_code: u16,
    pub(super) national: String,
    pub(super) receivable: bool,
}

/// Parses `digits` (ASCII digits only), typed after a `+` when `plus`, else in the
/// national or international-dialling form of `region`; `PhoneNumberUtil.parse`
/// followed by `isValidNumber` and `getNumberType`.
pub(super) fn parse(
    digits: &str,
    plus: bool,
    region: Option<&Metadata>,
) -> Result<Parsed, DestinationError> {
    let (country_code, national, metadata) = match country_code(digits, plus, region)? {
        Some((code, national)) => (code, national, main_metadata(code).ok_or(UNKNOWN_CODE)?),
        None => {
            let region = region.ok_or(NEEDS_CODE)?;
            (region.country_code(), digits.to_owned(), region)
        }
    };
    if national.len() < MIN_NSN {
        return Err(TOO_SHORT);
    }
    // `parseHelper`: strip a national prefix only when what is left has a possible
    // length (otherwise the unstripped number may be a valid short one).
    let national = match strip_national_prefix(&national, metadata) {
        Some(stripped)
            if matches!(
                length(&stripped, metadata),
                Length::Possible | Length::TooLong
            ) =>
        {
            stripped
        }
        _ => national,
    };
    if national.len() < MIN_NSN {
        return Err(TOO_SHORT);
    }
    if national.len() > MAX_NSN {
        return Err(DestinationError::Phone("too long"));
    }
    let kind = kind(country_code, &national).ok_or(INVALID)?;
    Ok(Parsed {
        country_code,
        national,
        receivable: kind == Kind::Receivable,
    })
}

const INVALID: DestinationError = DestinationError::Phone("not a valid number");
const NEEDS_CODE: DestinationError =
    DestinationError::Phone("needs a country calling code (+…) or a default region");
const TOO_SHORT: DestinationError = DestinationError::Phone("too short");
const UNKNOWN_CODE: DestinationError = DestinationError::Phone("unknown country calling code");

/// `maybeExtractCountryCode` (with `parseHelper`'s retry of `+` followed by an
/// international prefix, `+00 44 …`): the country calling code and the rest, or `None`
/// when the number is in the default region's national form.
fn country_code(
    digits: &str,
    plus: bool,
    region: Option<&Metadata>,
) -> Result<Option<(u16, String)>, DestinationError> {
    if plus {
        if digits.len() <= MIN_NSN {
            return Err(TOO_SHORT);
        }
        if let Some(found) = leading_country_code(digits) {
            return Ok(Some(found));
        }
        // libphonenumber retries without the `+`, but only a country code found that
        // way counts.
        return match without_plus(digits, region)? {
            Some(found) => Ok(Some(found)),
            None => Err(UNKNOWN_CODE),
        };
    }
    without_plus(digits, region)
}

/// `maybeExtractCountryCode` for a number without `+`: after the default region's
/// international prefix, or starting with the default region's own country code where
/// the number makes more sense without it.
fn without_plus(
    digits: &str,
    region: Option<&Metadata>,
) -> Result<Option<(u16, String)>, DestinationError> {
    let Some(region) = region else {
        return Ok(None);
    };
    if let Some(rest) = strip_international_prefix(digits, region) {
        if rest.len() <= MIN_NSN {
            return Err(TOO_SHORT);
        }
        return leading_country_code(rest).map(Some).ok_or(UNKNOWN_CODE);
    }
    let code = region.country_code();
    if let Some(rest) = digits.strip_prefix(code.to_string().as_str()) {
        let general = region.descriptors().general();
        let potential = strip_national_prefix(rest, region).unwrap_or_else(|| rest.to_owned());
        if (!full_match(general, digits) && full_match(general, &potential))
            || length(digits, region) == Length::TooLong
        {
            return Ok(Some((code, potential)));
        }
    }
    Ok(None)
}

/// `parsePrefixAsIdd`: the digits after the region's international prefix, unless the
/// next digit is 0 (no country calling code starts with 0).
fn strip_international_prefix<'a>(digits: &'a str, region: &Metadata) -> Option<&'a str> {
    let found = region.international_prefix()?.find(digits)?;
    if found.start() != 0 {
        return None;
    }
    let rest = digits.get(found.end()..)?;
    (!rest.starts_with('0')).then_some(rest)
}

/// `extractCountryCode`: the first one to three digits that are a country calling code.
fn leading_country_code(digits: &str) -> Option<(u16, String)> {
    if digits.starts_with('0') {
        return None;
    }
    (1..=MAX_COUNTRY_CODE.min(digits.len())).find_map(|len| {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        DATABASE.by_code(&code)?;
        Some((code, digits.get(len..)?.to_owned()))
    })
}

/// The metadata libphonenumber reads a country calling code's numbers with: its main
/// region's (`getRegionCodeForCountryCode`), or the non-geographic entity's.
fn main_metadata(code: u16) -> Option<&'static Metadata> {
    let regions = DATABASE.by_code(&code)?;
    regions
        .iter()
        .copied()
        .find(|m| m.is_main_country_for_code())
        .or_else(|| regions.first().copied())
}

/// `maybeStripNationalPrefixAndCarrierCode`: the number without its national prefix
/// (or transformed by the region's rule), or `None` when there is none to strip or
/// stripping would turn a number fitting the region's pattern into one that does not.
fn strip_national_prefix(number: &str, metadata: &Metadata) -> Option<String> {
    let general = metadata.descriptors().general();
    let viable = full_match(general, number);
    let keep =
        |candidate: String| (!viable || full_match(general, &candidate)).then_some(candidate);
    let Some(pattern) = metadata.national_prefix_for_parsing() else {
        // The metadata build uses the national prefix when no parsing pattern is given.
        let prefix = metadata.national_prefix().filter(|p| !p.is_empty())?;
        return keep(number.strip_prefix(prefix)?.to_owned());
    };
    let captures = pattern.captures(number)?;
    let whole = captures.get(0)?;
    if whole.start() != 0 {
        return None;
    }
    let last = captures.get(pattern.captures_len().saturating_sub(1));
    match metadata.national_prefix_transform_rule() {
        Some(rule) if !rule.is_empty() && last.is_some() => {
            keep(pattern.replace(number, rule).into_owned())
        }
        _ => keep(number.get(whole.end()..)?.to_owned()),
    }
}

/// `PhoneNumberUtil.ValidationResult`, as far as parsing needs it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Length {
    Invalid,
    LocalOnly,
    Possible,
    TooLong,
    TooShort,
}

/// `testNumberLength` against the region's general lengths.
fn length(number: &str, metadata: &Metadata) -> Length {
    let Ok(len) = u16::try_from(number.len()) else {
        return Length::TooLong;
    };
    let (possible, local_only) = general_lengths(metadata);
    let (Some(&min), Some(&max)) = (possible.first(), possible.last()) else {
        return Length::Invalid;
    };
    if local_only.contains(&len) {
        Length::LocalOnly
    } else if len < min {
        Length::TooShort
    } else if len > max {
        Length::TooLong
    } else if possible.contains(&len) {
        Length::Possible
    } else {
        Length::Invalid
    }
}

/// The general description's possible lengths and local-only lengths, sorted. The
/// metadata XML leaves them out and libphonenumber's build fills them in as the union
/// over the number types (`setPossibleLengthsGeneralDesc`, which skips "no
/// international dialling" and drops local-only lengths that are also national ones);
/// the `phonenumber` crate reads the XML as it is, so the union is taken here.
fn general_lengths(metadata: &Metadata) -> (Vec<u16>, Vec<u16>) {
    let d = metadata.descriptors();
    let general = d.general();
    if !general.possible_length().is_empty() {
        return (
            general.possible_length().to_vec(),
            general.possible_local_length().to_vec(),
        );
    }
    let types = [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ];
    let mut national = BTreeSet::new();
    let mut local = BTreeSet::new();
    for desc in types.into_iter().flatten() {
        national.extend(desc.possible_length());
        local.extend(desc.possible_local_length());
    }
    let local = local.difference(&national).copied().collect();
    (national.into_iter().collect(), local)
}

/// What a valid number can be used for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Kind {
    /// Premium rate, toll free, shared cost, pager, UAN, voicemail, or anything also
    /// matching the emergency or short-code patterns: sending to these costs the sender
    /// or reaches no person.
    Costly,
    /// Fixed line, mobile, either, VoIP or personal number.
    Receivable,
}

/// `isValidNumber` and `getNumberType`: `None` for a number libphonenumber calls
/// invalid. The region among those sharing a calling code is picked as
/// `getRegionCodeForNumberFromRegionList` does: the only one, else the first whose
/// leading digits start the number or, for one without leading digits, the first where
/// the number has a type.
fn kind(country_code: u16, national: &str) -> Option<Kind> {
    let regions = DATABASE.by_code(&country_code)?;
    let region = if let [only] = regions.as_slice() {
        *only
    } else {
        regions.iter().copied().find(|m| match m.leading_digits() {
            Some(p) => p.find(national).is_some_and(|f| f.start() == 0),
            None => number_kind(m, national).is_some(),
        })?
    };
    number_kind(region, national)
}

/// `getNumberTypeHelper`, in its order, folded into [`Kind`].
fn number_kind(metadata: &Metadata, national: &str) -> Option<Kind> {
    let d = metadata.descriptors();
    let matches = |x: Option<&Descriptor>| x.is_some_and(|x| type_match(x, national));
    if !type_match(d.general(), national) {
        return None;
    }
    let kind = if [d.premium_rate(), d.toll_free(), d.shared_cost()]
        .into_iter()
        .any(matches)
    {
        Kind::Costly
    } else if [d.voip(), d.personal_number()].into_iter().any(matches) {
        Kind::Receivable
    } else if [d.pager(), d.uan(), d.voicemail()].into_iter().any(matches) {
        Kind::Costly
    } else if [d.fixed_line(), d.mobile()].into_iter().any(matches) {
        Kind::Receivable
    } else {
        return None;
    };
    // Not libphonenumber's: a number that is also an emergency or short code is
    // refused, as before this module existed.
    if [d.emergency(), d.short_code()].into_iter().any(matches) {
        return Some(Kind::Costly);
    }
    Some(kind)
}

/// `isNumberMatchingDesc`: one of the type's lengths (when it lists any) and a whole
/// match of its pattern.
fn type_match(desc: &Descriptor, national: &str) -> bool {
    let lengths = desc.possible_length();
    let length_ok = u16::try_from(national.len()).is_ok_and(|l| lengths.contains(&l));
    (lengths.is_empty() || length_ok) && full_match(desc, national)
}

/// `matchNationalNumber(…, false)`: the pattern matches the whole number, as Java's
/// `Matcher.matches()` does. The metadata's own compiled pattern only finds the
/// leftmost-first match, which for `(?:[12]|5\d{3})\d{7}|[13-6]\d{9}` and
/// `1020000000` (a Korean mobile) is the first eight digits; so the pattern is compiled
/// once more, anchored at both ends, and kept.
fn full_match(desc: &Descriptor, number: &str) -> bool {
    static ANCHORED: LazyLock<Mutex<HashMap<String, Option<Regex>>>> =
        LazyLock::new(Mutex::default);
    let source = desc.national_number().as_str();
    let mut cache = ANCHORED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(anchored) = cache.get(source) {
        // A pattern that does not compile matches nothing, so its number is refused.
        return anchored.as_ref().is_some_and(|re| re.is_match(number));
    }
    // The metadata's patterns are written over several lines, and the `phonenumber`
    // crate compiles them ignoring whitespace; so does this.
    let anchored = RegexBuilder::new(&format!(r"\A(?:{source})\z"))
        .ignore_whitespace(true)
        .build()
        .ok();
    let matched = anchored.as_ref().is_some_and(|re| re.is_match(number));
    cache.insert(source.to_owned(), anchored);
    matched
}
