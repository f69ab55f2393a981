//! The compiled policy: validated, with networks parsed and names lowercased.

use std::sync::Arc;
use std::time::Duration;

use mfa_core::FactorKind;

use crate::cidr::Cidr;
use crate::device::DeviceTokenKey;
use crate::document::PolicyDocument;
use crate::error::Error;
use crate::input::{Request, Subject};
use crate::kinds::KindSet;
use crate::lockout::FailureLimits;
use crate::requirement::{Aal, Confidence, Mode, Requirement};

/// A validated, compiled MFA policy. Cheap to share (`Arc<Policy>`); evaluation borrows it.
///
/// Build one from a document with [`Policy::from_toml`] or [`Policy::from_json`]; add the
/// remembered-device key with [`Policy::with_device_key`].
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) mode: Mode,
    pub(crate) adaptive: Adaptive,
    pub(crate) rules: Vec<Rule>,
    pub(crate) enabled: KindSet,
    pub(crate) preference: Vec<FactorKind>,
    pub(crate) enrollment: EnrollmentRules,
    pub(crate) failures: FailureLimits,
    pub(crate) reauth: ReauthLimits,
    pub(crate) remember: RememberDevice,
    pub(crate) acr: Vec<AcrMapping>,
    pub(crate) acr_for_aal: [Option<Arc<str>>; 3],
    pub(crate) device_key: Option<DeviceTokenKey>,
}

impl PartialEq for Policy {
    /// Compares what the document said; the device key is not part of the document.
    fn eq(&self, other: &Self) -> bool {
        self.mode == other.mode
            && self.adaptive == other.adaptive
            && self.rules == other.rules
            && self.enabled == other.enabled
            && self.preference == other.preference
            && self.enrollment == other.enrollment
            && self.failures == other.failures
            && self.reauth == other.reauth
            && self.remember == other.remember
            && self.acr == other.acr
            && self.acr_for_aal == other.acr_for_aal
    }
}

/// The policy document behind [`Policy::default`].
const DEFAULT_DOCUMENT: &str = "version = 1\nmode = \"always\"\n";

impl Default for Policy {
    /// The policy for a new deployment: `mode = "always"` (a second factor at every
    /// sign-in) and every other setting at its documented default — every factor kind
    /// enabled, a platform authenticator only after another factor, two SMS numbers,
    /// 5 failures lock a factor for 15 minutes, the AAL2 reauthentication limits of NIST
    /// SP 800-63B-4. A team adding MFA wants it asked; `never` (step-up only) and
    /// `adaptive` (risk-based) are choices to make deliberately, in a document.
    fn default() -> Self {
        #[allow(
            clippy::expect_used,
            reason = "a constant document, compiled in the unit test `the_default_policy_compiles`"
        )]
        Self::from_toml(DEFAULT_DOCUMENT).expect("the default policy document is valid")
    }
}

impl Policy {
    /// Parses and validates a TOML policy document.
    ///
    /// # Errors
    ///
    /// [`Error::Syntax`] for TOML errors, unknown fields and wrong types;
    /// [`Error::Invalid`] naming the field whose value is not acceptable.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        PolicyDocument::from_toml(text)?.compile()
    }

    /// Parses and validates a JSON policy document (same fields as TOML).
    ///
    /// # Errors
    ///
    /// As [`Policy::from_toml`].
    pub fn from_json(text: &str) -> Result<Self, Error> {
        PolicyDocument::from_json(text)?.compile()
    }

    /// Adds the key that signs and verifies remembered-device tokens. Without one,
    /// presented tokens are ignored (MFA is asked as if none were sent).
    #[must_use]
    pub fn with_device_key(mut self, key: DeviceTokenKey) -> Self {
        self.device_key = Some(key);
        self
    }

    /// The tenant mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The enabled factor kinds.
    pub fn enabled_kinds(&self) -> KindSet {
        self.enabled
    }

    /// The failure limits.
    pub fn failure_limits(&self) -> &FailureLimits {
        &self.failures
    }

    /// The reauthentication limits.
    pub fn reauth_limits(&self) -> &ReauthLimits {
        &self.reauth
    }

    /// How long a remembered device stays remembered (30 days by default), or `None`
    /// when remembering devices is disabled.
    pub fn remember_device_for(&self) -> Option<Duration> {
        self.remember.enabled.then_some(self.remember.lifetime)
    }

    /// The remembered-device key, if one was added.
    pub fn device_key(&self) -> Option<&DeviceTokenKey> {
        self.device_key.as_ref()
    }

    /// The names of the rules, in evaluation order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &*r.name)
    }

    /// Whether the subject is an administrator under `enrollment.admin_groups` /
    /// `admin_roles` (who must have MFA).
    pub fn is_admin(&self, subject: &Subject) -> bool {
        any_name(&self.enrollment.admin_groups, &subject.groups)
            || any_name(&self.enrollment.admin_roles, &subject.roles)
    }

    /// Whether MFA is mandatory for this subject whatever the request: the tenant mode is
    /// `always`, or the subject is an administrator.
    pub fn mfa_mandatory(&self, subject: &Subject) -> bool {
        self.mode == Mode::Always || self.is_admin(subject)
    }

    /// The risk confidence of a request, from its signals and IP address
    /// (the lowest level any present signal maps to). A request without an IP address
    /// counts as outside every trusted network and inside a denied one (when
    /// `adaptive.denied_networks` is set).
    pub fn confidence(&self, request: &Request) -> Confidence {
        let a = &self.adaptive;
        let s = &request.signals;
        let mut c = Confidence::High;
        let mut lower = |to: Confidence| c = c.min(to);
        if s.new_device {
            lower(a.signals.new_device);
        }
        if s.new_country {
            lower(a.signals.new_country);
        }
        if s.impossible_travel {
            lower(a.signals.impossible_travel);
        }
        if s.recent_failures >= a.recent_failures_threshold {
            lower(a.signals.recent_failures);
        }
        // An unknown address is outside every trusted network and possibly inside a
        // denied one.
        let ip = request.ip;
        if !a.denied.is_empty() && ip.is_none_or(|ip| a.denied.iter().any(|n| n.contains(ip))) {
            lower(a.signals.denied_network);
        }
        if !a.trusted.is_empty() && ip.is_none_or(|ip| !a.trusted.iter().any(|n| n.contains(ip))) {
            lower(a.signals.untrusted_network);
        }
        c
    }

    /// The `acr` value to put in a token for an assurance level when the relying party
    /// asked for none (`acr_for_aal` in the document).
    pub fn acr_for(&self, aal: Aal) -> Option<&str> {
        let i = match aal {
            Aal::Aal1 => 0,
            Aal::Aal2 => 1,
            Aal::Aal3 => 2,
        };
        self.acr_for_aal.get(i).and_then(Option::as_deref)
    }

    pub(crate) fn acr_for_aal_arc(&self, aal: Aal) -> Option<Arc<str>> {
        let i = match aal {
            Aal::Aal1 => 0,
            Aal::Aal2 => 1,
            Aal::Aal3 => 2,
        };
        self.acr_for_aal.get(i).and_then(Option::clone)
    }

    /// The requirement an `acr` value maps to, if the policy knows it.
    pub fn acr_requirement(&self, value: &str) -> Option<Requirement> {
        self.acr_mapping(value).map(|m| m.requirement)
    }

    pub(crate) fn acr_mapping(&self, value: &str) -> Option<&AcrMapping> {
        self.acr.iter().find(|m| *m.value == *value)
    }

    /// The rules that decide a request: the first one that matches, and the combined
    /// requirement of the `require` rules before it that match unless the request's
    /// unknown IP address is outside their networks.
    ///
    /// An unknown client IP is treated as possibly inside every network: a `deny` rule
    /// with `networks` matches, and a `require` rule with `networks` (its other
    /// conditions holding) adds its requirement to whatever else applies, so it can make
    /// the request stricter but never more lenient.
    pub(crate) fn matching_rule(
        &self,
        subject: &Subject,
        request: &Request,
        confidence: Confidence,
    ) -> Matched<'_> {
        let mut maybe: Option<(Requirement, &Rule)> = None;
        for r in &self.rules {
            match (r.matches(subject, request, confidence), r.action) {
                (Match::No, _) => {}
                (Match::Yes, _) | (Match::IfIpInside, RuleAction::Deny) => {
                    return Matched {
                        rule: Some(r),
                        maybe,
                    };
                }
                (Match::IfIpInside, RuleAction::Require(req)) => {
                    maybe = Some(match maybe {
                        None => (req, r),
                        Some((acc, first)) => (combine(&acc, &req), first),
                    });
                }
            }
        }
        Matched { rule: None, maybe }
    }
}

/// The outcome of rule matching.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Matched<'a> {
    /// The first rule that matches (a `deny` rule also when the IP is unknown).
    pub(crate) rule: Option<&'a Rule>,
    /// Earlier `require` rules that match if the unknown IP is inside their networks:
    /// their combined requirement, and the first of them.
    pub(crate) maybe: Option<(Requirement, &'a Rule)>,
}

/// Whether a rule matches a request.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Match {
    No,
    Yes,
    /// Every condition holds but `networks`, which cannot be decided without an IP.
    IfIpInside,
}

/// Both requirements at once: the higher level, the kinds both accept, the shorter
/// `max_age`, fresh if either is.
pub(crate) fn combine(a: &Requirement, b: &Requirement) -> Requirement {
    Requirement {
        level: a.level.max(b.level),
        kinds: a.kinds.intersection(b.kinds),
        max_age: match (a.max_age, b.max_age) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        },
        fresh: a.fresh || b.fresh,
    }
}

/// Risk-based settings.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Adaptive {
    pub(crate) mfa_below: Confidence,
    pub(crate) trusted: Vec<Cidr>,
    pub(crate) denied: Vec<Cidr>,
    pub(crate) recent_failures_threshold: u32,
    pub(crate) signals: SignalLevels,
}

/// The confidence each risk signal lowers a request to.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct SignalLevels {
    pub(crate) new_device: Confidence,
    pub(crate) new_country: Confidence,
    pub(crate) impossible_travel: Confidence,
    pub(crate) untrusted_network: Confidence,
    pub(crate) denied_network: Confidence,
    pub(crate) recent_failures: Confidence,
}

impl Default for SignalLevels {
    fn default() -> Self {
        Self {
            new_device: Confidence::Medium,
            new_country: Confidence::Medium,
            impossible_travel: Confidence::Low,
            untrusted_network: Confidence::Medium,
            denied_network: Confidence::Low,
            recent_failures: Confidence::Low,
        }
    }
}

/// One first-match rule.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Rule {
    pub(crate) name: Arc<str>,
    pub(crate) actions: Vec<Pattern>,
    pub(crate) applications: Vec<Pattern>,
    pub(crate) groups: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) networks: Vec<Cidr>,
    /// Bit i set: matches confidence with discriminant i; zero: any confidence.
    pub(crate) risk: u8,
    pub(crate) acr_values: Vec<String>,
    pub(crate) action: RuleAction,
}

impl Rule {
    fn matches(&self, subject: &Subject, request: &Request, confidence: Confidence) -> Match {
        let pattern_ok = |pats: &[Pattern], value: Option<&str>| {
            pats.is_empty() || value.is_some_and(|v| pats.iter().any(|p| p.matches(v)))
        };
        let others = pattern_ok(&self.actions, request.action.as_deref())
            && pattern_ok(&self.applications, request.application.as_deref())
            && (self.groups.is_empty() || any_name(&self.groups, &subject.groups))
            && (self.roles.is_empty() || any_name(&self.roles, &subject.roles))
            && (self.risk == 0 || self.risk & (1 << (confidence as u8)) != 0)
            && (self.acr_values.is_empty()
                || request
                    .acr
                    .values
                    .iter()
                    .any(|v| self.acr_values.iter().any(|w| w == v)));
        if !others {
            return Match::No;
        }
        match request.ip {
            _ if self.networks.is_empty() => Match::Yes,
            None => Match::IfIpInside,
            Some(ip) if self.networks.iter().any(|n: &Cidr| n.contains(ip)) => Match::Yes,
            Some(_) => Match::No,
        }
    }
}

/// What a matching rule does.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum RuleAction {
    Deny,
    Require(Requirement),
}

/// A lowercased action or application pattern: exact, or a prefix (`payment.*`).
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(p) => value.eq_ignore_ascii_case(p),
            Self::Prefix(p) => value
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p)),
        }
    }
}

/// An `acr` value and the requirement it stands for.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct AcrMapping {
    pub(crate) value: Arc<str>,
    pub(crate) requirement: Requirement,
}

/// Enrollment settings.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct EnrollmentRules {
    pub(crate) admin_groups: Vec<String>,
    pub(crate) admin_roles: Vec<String>,
    pub(crate) min_factors: u32,
    pub(crate) max_sms: u32,
    pub(crate) platform_requires_other_factor: bool,
    pub(crate) grace: crate::grace::GraceRules,
}

/// Remembered-device settings.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct RememberDevice {
    pub(crate) enabled: bool,
    pub(crate) lifetime: Duration,
}

/// How long an authentication counts, per assurance level: an overall limit and an
/// inactivity limit.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ReauthLimits {
    /// AAL1: at least once per this long.
    pub aal1_max: Duration,
    /// AAL2: at least once per this long.
    pub aal2_max: Duration,
    /// AAL2: after this much inactivity.
    pub aal2_idle: Duration,
    /// AAL3: at least once per this long.
    pub aal3_max: Duration,
    /// AAL3: after this much inactivity.
    pub aal3_idle: Duration,
}

impl ReauthLimits {
    /// NIST SP 800-63B-4 (2025): AAL1 30 days (§2.1.3); AAL2 24 hours, 1 hour of
    /// inactivity (§2.2.3); AAL3 12 hours, 15 minutes of inactivity (§2.3.3). The default.
    pub const NIST_REV4: Self = Self {
        aal1_max: Duration::from_secs(30 * 86_400),
        aal2_max: Duration::from_secs(24 * 3_600),
        aal2_idle: Duration::from_secs(3_600),
        aal3_max: Duration::from_secs(12 * 3_600),
        aal3_idle: Duration::from_secs(15 * 60),
    };

    /// NIST SP 800-63B (2017, rev3): AAL1 30 days (§4.1.3); AAL2 12 hours, 30 minutes of
    /// inactivity (§4.2.3); AAL3 12 hours, 15 minutes of inactivity (§4.3.3).
    pub const NIST_REV3: Self = Self {
        aal1_max: Duration::from_secs(30 * 86_400),
        aal2_max: Duration::from_secs(12 * 3_600),
        aal2_idle: Duration::from_secs(30 * 60),
        aal3_max: Duration::from_secs(12 * 3_600),
        aal3_idle: Duration::from_secs(15 * 60),
    };

    /// `(overall, inactivity)` limits for a level; AAL1 has no inactivity limit.
    pub fn for_aal(&self, aal: Aal) -> (Duration, Option<Duration>) {
        match aal {
            Aal::Aal1 => (self.aal1_max, None),
            Aal::Aal2 => (self.aal2_max, Some(self.aal2_idle)),
            Aal::Aal3 => (self.aal3_max, Some(self.aal3_idle)),
        }
    }
}

impl Default for ReauthLimits {
    fn default() -> Self {
        Self::NIST_REV4
    }
}

/// Whether any of `wanted` (lowercased) equals any of `have`, ignoring ASCII case.
fn any_name(wanted: &[String], have: &[String]) -> bool {
    have.iter()
        .any(|h| wanted.iter().any(|w| h.trim().eq_ignore_ascii_case(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_compiles_and_asks_for_mfa_always() {
        let p = Policy::default();
        assert_eq!(p.mode, Mode::Always);
        assert_eq!(
            p,
            Policy::from_toml("version = 1\nmode = \"always\"").unwrap()
        );
        assert_eq!(p.failures, FailureLimits::default());
    }
}
