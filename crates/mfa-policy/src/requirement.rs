//! What a request needs: levels, requirements, risk confidence, tenant modes.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::kinds::KindSet;

/// A NIST SP 800-63B authenticator assurance level.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    /// One factor (§2.1 of SP 800-63B-4).
    Aal1,
    /// Two distinct factors (§2.2).
    Aal2,
    /// Two distinct factors, one a phishing-resistant hardware authenticator (§2.3).
    Aal3,
}

impl Aal {
    /// `"aal1"`, `"aal2"` or `"aal3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aal1 => "aal1",
            Self::Aal2 => "aal2",
            Self::Aal3 => "aal3",
        }
    }
}

impl fmt::Display for Aal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().to_ascii_uppercase())
    }
}

/// How confident risk evaluation is that the request comes from the account's owner.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Strong signals of takeover (impossible travel, a denied network, many failures).
    Low,
    /// Something is unusual (a new device or country, an untrusted network).
    Medium,
    /// Nothing unusual.
    High,
}

impl Confidence {
    /// `"low"`, `"medium"` or `"high"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Low => "low",
            Self::Medium => "medium",
        }
    }
}

/// When a tenant asks for MFA when no rule matches.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Risk-based: MFA when risk confidence is below the configured level.
    Adaptive,
    /// On every sign-in.
    Always,
    /// Only when a rule or the relying party (`acr_values`) asks for it: step-up.
    Never,
}

/// How strong the authentication must be.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Nothing beyond what the session already has.
    None,
    /// Any one authentication factor (AAL1, with its reauthentication limit).
    Aal1,
    /// Any second factor: two distinct factor categories from distinct factors.
    Mfa,
    /// As `Mfa`, with the second factor phishing-resistant (WebAuthn).
    PhishingResistant,
    /// AAL2, with NIST's reauthentication limits for AAL2.
    Aal2,
    /// AAL3: as `Aal2` with a phishing-resistant, hardware-bound factor and AAL3 limits.
    Aal3,
}

impl Level {
    /// The policy-document name (`"phishing-resistant"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aal1 => "aal1",
            Self::Aal2 => "aal2",
            Self::Aal3 => "aal3",
            Self::Mfa => "mfa",
            Self::None => "none",
            Self::PhishingResistant => "phishing-resistant",
        }
    }

    /// Whether meeting this level needs a second factor.
    pub fn needs_second_factor(self) -> bool {
        self >= Self::Mfa
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Aal1 => "one authentication factor",
            Self::Aal2 => "two distinct factors (AAL2)",
            Self::Aal3 => "a hardware security key plus a second distinct factor (AAL3)",
            Self::Mfa => "a second factor",
            Self::None => "no additional factor",
            Self::PhishingResistant => {
                "a phishing-resistant second factor (security key or passkey)"
            }
        }
    }
}

/// What a request needs: a level, which factor kinds may provide it, and how recent the
/// second factor must be.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Requirement {
    /// How strong.
    pub level: Level,
    /// Which enrolled factor kinds may serve as the second factor ([`KindSet::ALL`] when
    /// any may).
    pub kinds: KindSet,
    /// The longest time since the second factor was verified, if limited.
    pub max_age: Option<Duration>,
    /// Whether a remembered device is *not* enough (fresh MFA needed). Implied by
    /// `max_age`, and by every requirement that comes from `acr_values`.
    pub fresh: bool,
}

impl Requirement {
    /// Nothing required.
    pub const NONE: Self = Self {
        level: Level::None,
        kinds: KindSet::ALL,
        max_age: None,
        fresh: false,
    };

    /// Any second factor, a remembered device honoured.
    pub const MFA: Self = Self {
        level: Level::Mfa,
        kinds: KindSet::ALL,
        max_age: None,
        fresh: false,
    };

    /// Whether anything is required.
    pub fn is_none(&self) -> bool {
        self.level == Level::None
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.level.describe())?;
        if self.kinds != KindSet::ALL && self.level.needs_second_factor() {
            f.write_str(" of kind ")?;
            for (i, k) in self.kinds.iter().enumerate() {
                if i > 0 {
                    f.write_str(" or ")?;
                }
                f.write_str(k.as_str())?;
            }
        }
        if let Some(age) = self.max_age {
            write!(f, " verified within the last {}", HumanDuration(age))?;
        }
        Ok(())
    }
}

/// Formats a duration the way the policy document writes it (`90s`, `5m`, `12h`, `30d`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        match s {
            0 => f.write_str("0s"),
            _ if s.is_multiple_of(86_400) => write!(f, "{}d", s / 86_400),
            _ if s.is_multiple_of(3_600) => write!(f, "{}h", s / 3_600),
            _ if s.is_multiple_of(60) => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

/// Parses `"90s"`, `"5m"`, `"12h"`, `"30d"` (or a bare number of seconds).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like \"90s\", \"5m\", \"12h\" or \"30d\""))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?} in {s:?} (use s, m, h or d)")),
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for (text, secs) in [
            ("90s", 90),
            ("5m", 300),
            ("12h", 43_200),
            ("30d", 2_592_000),
            ("7", 7),
        ] {
            let d = parse_duration(text).unwrap();
            assert_eq!(d.as_secs(), secs, "{text}");
        }
        assert_eq!(HumanDuration(Duration::from_secs(300)).to_string(), "5m");
        assert_eq!(HumanDuration(Duration::from_secs(86_400)).to_string(), "1d");
        assert_eq!(HumanDuration(Duration::from_secs(61)).to_string(), "61s");
        assert!(parse_duration("5w").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert!(
            parse_duration("18446744073709551615d")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn levels_are_ordered_by_strength() {
        assert!(Level::None < Level::Aal1);
        assert!(Level::Mfa < Level::PhishingResistant);
        assert!(Level::Aal2 < Level::Aal3);
        assert!(Confidence::Low < Confidence::High);
        assert_eq!(Aal::Aal2.to_string(), "AAL2");
    }
}
