//! The policy document as operators write it (TOML or JSON), and its validation into a
//! compiled [`Policy`], with the words the document uses: the tenant [`Mode`], risk
//! [`Confidence`], sets of factor kinds ([`KindSet`]) and networks ([`Cidr`]).

use std::sync::Arc;
use std::time::Duration;

use mfa_core::FactorKind;
use serde::{Deserialize, Serialize};

pub use crate::cidr::Cidr;
use crate::error::Error;
pub use crate::kinds::KindSet;
use crate::kinds::{parse_kind_name, webauthn_all};
use crate::lockout::FailureLimits;
use crate::oidc::{
    IDMANAGEMENT_AAL, PAPE_MULTI_FACTOR, PAPE_MULTI_FACTOR_PHYSICAL, PAPE_PHISHING_RESISTANT, PHR,
    PHRH,
};
use crate::policy::{
    AcrMapping, Adaptive, EnrollmentRules, Pattern, Policy, ReauthLimits, RememberDevice, Rule,
    RuleAction, SignalLevels,
};
pub use crate::requirement::{Confidence, Mode};
use crate::requirement::{Level, Requirement, parse_duration};

/// The only document version this crate reads.
const VERSION: u32 = 1;
/// NIST SP 800-63B-4 §3.2.2 (rev3 §5.2.2): no more than 100 consecutive failed attempts.
mod fields;

use fields::*;

pub(crate) const NIST_MAX_FAILURES: u32 = 100;

/// A policy document as written, before validation. Parse one with
/// [`PolicyDocument::from_toml`] or [`PolicyDocument::from_json`], then
/// [`compile`](PolicyDocument::compile) it; [`Policy::from_toml`] does both.
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    version: u32,
    mode: Mode,
    #[serde(default)]
    adaptive: RawAdaptive,
    #[serde(default)]
    factors: RawFactors,
    #[serde(default)]
    enrollment: RawEnrollment,
    #[serde(default)]
    failures: RawFailures,
    #[serde(default)]
    reauthentication: RawReauth,
    #[serde(default)]
    remember_device: RawRemember,
    #[serde(default)]
    acr: Vec<RawAcr>,
    #[serde(default)]
    acr_for_aal: RawAcrOut,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAdaptive {
    mfa_below: Option<Confidence>,
    #[serde(default)]
    trusted_networks: Vec<String>,
    #[serde(default)]
    denied_networks: Vec<String>,
    recent_failures_threshold: Option<u32>,
    #[serde(default)]
    signals: RawSignals,
}

#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawSignals {
    new_device: Option<Confidence>,
    new_country: Option<Confidence>,
    impossible_travel: Option<Confidence>,
    untrusted_network: Option<Confidence>,
    denied_network: Option<Confidence>,
    recent_failures: Option<Confidence>,
}

#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawFactors {
    enabled: Option<Vec<String>>,
    preference: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawEnrollment {
    #[serde(default)]
    admin_groups: Vec<String>,
    #[serde(default)]
    admin_roles: Vec<String>,
    min_factors: Option<u32>,
    max_sms: Option<u32>,
    platform_requires_other_factor: Option<bool>,
    /// Unix time until which enrolment may be skipped ([`crate::grace`]).
    grace_until: Option<u64>,
    /// How many times each user may skip enrolment ([`crate::grace`]).
    grace_sign_ins: Option<u32>,
}

#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawFailures {
    max_consecutive: Option<u32>,
    backoff_after: Option<u32>,
    backoff_base: Option<RawDuration>,
    backoff_max: Option<RawDuration>,
    lockout: Option<RawDuration>,
    window: Option<RawDuration>,
}

#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawReauth {
    aal1_max: Option<RawDuration>,
    aal2_max: Option<RawDuration>,
    aal2_idle: Option<RawDuration>,
    aal3_max: Option<RawDuration>,
    aal3_idle: Option<RawDuration>,
}

#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawRemember {
    enabled: Option<bool>,
    days: Option<u32>,
}

#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAcr {
    value: String,
    require: String,
    #[serde(default)]
    kinds: Vec<String>,
    max_age: Option<RawDuration>,
}

#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAcrOut {
    aal1: Option<String>,
    aal2: Option<String>,
    aal3: Option<String>,
}

#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    applications: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    networks: Vec<String>,
    #[serde(default)]
    risk: Vec<Confidence>,
    #[serde(default)]
    acr_values: Vec<String>,
    require: String,
    #[serde(default)]
    kinds: Vec<String>,
    max_age: Option<RawDuration>,
    #[serde(default)]
    fresh: bool,
}

/// A duration as written: seconds, or text like `"5m"`.
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
enum RawDuration {
    Secs(u64),
    Text(String),
}

impl PolicyDocument {
    /// Parses a TOML document (not yet validated).
    ///
    /// # Errors
    ///
    /// [`Error::Syntax`] with the line and column of the problem, including unknown
    /// fields and wrong types.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        toml::from_str(text).map_err(|e| Error::Syntax {
            format: "toml",
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// Parses a JSON document (not yet validated).
    ///
    /// # Errors
    ///
    /// [`Error::Syntax`] with the line and column of the problem.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error::Syntax {
            format: "json",
            message: e.to_string(),
        })
    }

    /// The document as JSON (every field it was written with; defaults stay implicit).
    pub fn to_json(&self) -> String {
        // Serialising these plain structs to a String cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Validates the document and compiles it for fast evaluation: networks parsed, names
    /// lowercased, kinds turned into bit sets, defaults filled in.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the first invalid field and the problem.
    pub fn compile(&self) -> Result<Policy, Error> {
        if self.version != VERSION {
            return Err(Error::invalid(
                "version",
                format!(
                    "unsupported version {} (this library reads version 1)",
                    self.version
                ),
            ));
        }
        let enabled = match &self.factors.enabled {
            Some(names) => {
                let set = kind_list("factors.enabled", names)?;
                if set.is_empty() {
                    return Err(Error::invalid(
                        "factors.enabled",
                        "must enable at least one factor kind",
                    ));
                }
                set
            }
            None => KindSet::ALL,
        };
        let preference = preference(self.factors.preference.as_deref())?;
        let adaptive = self.adaptive.compile()?;
        let enrollment = self.enrollment.compile()?;
        let failures = self.failures.compile()?;
        let reauth = self.reauthentication.compile()?;
        let remember = self.remember_device.compile()?;
        let acr = compile_acr(&self.acr, enabled)?;
        let acr_for_aal = [
            out_acr("acr_for_aal.aal1", self.acr_for_aal.aal1.as_deref(), None)?,
            out_acr(
                "acr_for_aal.aal2",
                self.acr_for_aal.aal2.as_deref(),
                Some(PAPE_MULTI_FACTOR),
            )?,
            out_acr(
                "acr_for_aal.aal3",
                self.acr_for_aal.aal3.as_deref(),
                Some(PAPE_MULTI_FACTOR_PHYSICAL),
            )?,
        ];
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, raw) in self.rules.iter().enumerate() {
            let rule = raw.compile(i, enabled)?;
            if rules.iter().any(|r: &Rule| *r.name == *rule.name) {
                return Err(Error::invalid(
                    format_args!("rules[{i}].name"),
                    format!("duplicate rule name {:?}", raw.name),
                ));
            }
            rules.push(rule);
        }
        Ok(Policy {
            mode: self.mode,
            adaptive,
            rules,
            enabled,
            preference,
            enrollment,
            failures,
            reauth,
            remember,
            acr,
            acr_for_aal,
            device_key: None,
        })
    }
}

impl RawAdaptive {
    fn compile(&self) -> Result<Adaptive, Error> {
        let d = SignalLevels::default();
        let s = &self.signals;
        let threshold = self.recent_failures_threshold.unwrap_or(5);
        if threshold == 0 {
            return Err(Error::invalid(
                "adaptive.recent_failures_threshold",
                "must be at least 1",
            ));
        }
        Ok(Adaptive {
            mfa_below: self.mfa_below.unwrap_or(Confidence::High),
            trusted: networks("adaptive.trusted_networks", &self.trusted_networks)?,
            denied: networks("adaptive.denied_networks", &self.denied_networks)?,
            recent_failures_threshold: threshold,
            signals: SignalLevels {
                new_device: s.new_device.unwrap_or(d.new_device),
                new_country: s.new_country.unwrap_or(d.new_country),
                impossible_travel: s.impossible_travel.unwrap_or(d.impossible_travel),
                untrusted_network: s.untrusted_network.unwrap_or(d.untrusted_network),
                denied_network: s.denied_network.unwrap_or(d.denied_network),
                recent_failures: s.recent_failures.unwrap_or(d.recent_failures),
            },
        })
    }
}

impl RawEnrollment {
    fn compile(&self) -> Result<EnrollmentRules, Error> {
        let min_factors = self.min_factors.unwrap_or(1);
        if min_factors > 10 {
            return Err(Error::invalid(
                "enrollment.min_factors",
                "must be at most 10",
            ));
        }
        if self
            .grace_sign_ins
            .is_some_and(|n| !(1..=1000).contains(&n))
        {
            return Err(Error::invalid(
                "enrollment.grace_sign_ins",
                "must be from 1 to 1000",
            ));
        }
        Ok(EnrollmentRules {
            grace: crate::grace::GraceRules {
                until: self.grace_until.map(mfa_core::Timestamp::from_unix_secs),
                sign_ins: self.grace_sign_ins,
            },
            admin_groups: names("enrollment.admin_groups", &self.admin_groups)?,
            admin_roles: names("enrollment.admin_roles", &self.admin_roles)?,
            min_factors,
            max_sms: self.max_sms.unwrap_or(2),
            platform_requires_other_factor: self.platform_requires_other_factor.unwrap_or(true),
        })
    }
}

impl RawFailures {
    fn compile(&self) -> Result<FailureLimits, Error> {
        let d = FailureLimits::default();
        let max_consecutive = self.max_consecutive.unwrap_or(d.max_consecutive);
        if !(1..=NIST_MAX_FAILURES).contains(&max_consecutive) {
            return Err(Error::invalid(
                "failures.max_consecutive",
                format!(
                    "{max_consecutive} is outside 1..=100 (NIST SP 800-63B-4 §3.2.2 allows at most 100 consecutive failures)"
                ),
            ));
        }
        let backoff_after = self
            .backoff_after
            .unwrap_or(d.backoff_after.min(max_consecutive));
        if backoff_after > max_consecutive {
            return Err(Error::invalid(
                "failures.backoff_after",
                "must not exceed failures.max_consecutive",
            ));
        }
        let backoff_base = duration(
            "failures.backoff_base",
            self.backoff_base.as_ref(),
            d.backoff_base,
        )?;
        let backoff_max = duration(
            "failures.backoff_max",
            self.backoff_max.as_ref(),
            d.backoff_max,
        )?;
        if backoff_base > backoff_max {
            return Err(Error::invalid(
                "failures.backoff_base",
                "must not exceed failures.backoff_max",
            ));
        }
        let lockout = duration("failures.lockout", self.lockout.as_ref(), d.lockout)?;
        if lockout.is_zero() {
            return Err(Error::invalid("failures.lockout", "must not be zero"));
        }
        let window = duration("failures.window", self.window.as_ref(), d.window)?;
        if window.is_zero() {
            return Err(Error::invalid("failures.window", "must not be zero"));
        }
        if window < backoff_max {
            return Err(Error::invalid(
                "failures.window",
                "must be at least failures.backoff_max (waiting out a backoff must not reset the count)",
            ));
        }
        Ok(FailureLimits {
            max_consecutive,
            backoff_after,
            backoff_base,
            backoff_max,
            lockout,
            window,
        })
    }
}

impl RawReauth {
    fn compile(&self) -> Result<ReauthLimits, Error> {
        let d = ReauthLimits::NIST_REV4;
        let limits = ReauthLimits {
            aal1_max: duration(
                "reauthentication.aal1_max",
                self.aal1_max.as_ref(),
                d.aal1_max,
            )?,
            aal2_max: duration(
                "reauthentication.aal2_max",
                self.aal2_max.as_ref(),
                d.aal2_max,
            )?,
            aal2_idle: duration(
                "reauthentication.aal2_idle",
                self.aal2_idle.as_ref(),
                d.aal2_idle,
            )?,
            aal3_max: duration(
                "reauthentication.aal3_max",
                self.aal3_max.as_ref(),
                d.aal3_max,
            )?,
            aal3_idle: duration(
                "reauthentication.aal3_idle",
                self.aal3_idle.as_ref(),
                d.aal3_idle,
            )?,
        };
        for (field, value) in [
            ("reauthentication.aal1_max", limits.aal1_max),
            ("reauthentication.aal2_max", limits.aal2_max),
            ("reauthentication.aal2_idle", limits.aal2_idle),
            ("reauthentication.aal3_max", limits.aal3_max),
            ("reauthentication.aal3_idle", limits.aal3_idle),
        ] {
            if value.is_zero() {
                return Err(Error::invalid(field, "must not be zero"));
            }
        }
        Ok(limits)
    }
}

impl RawRemember {
    fn compile(&self) -> Result<RememberDevice, Error> {
        let days = self.days.unwrap_or(30);
        if !(1..=365).contains(&days) {
            return Err(Error::invalid(
                "remember_device.days",
                format!("{days} is outside 1..=365"),
            ));
        }
        Ok(RememberDevice {
            enabled: self.enabled.unwrap_or(true),
            lifetime: Duration::from_secs(u64::from(days) * 86_400),
        })
    }
}

impl RawRule {
    fn compile(&self, i: usize, enabled: KindSet) -> Result<Rule, Error> {
        let at = |field: &str| format!("rules[{i}].{field}");
        if self.name.trim().is_empty() {
            return Err(Error::invalid(at("name"), "must not be empty"));
        }
        let action = match self.require.as_str() {
            "deny" => {
                if !self.kinds.is_empty() || self.max_age.is_some() || self.fresh {
                    return Err(Error::invalid(
                        at("require"),
                        "\"deny\" takes no kinds, max_age or fresh",
                    ));
                }
                RuleAction::Deny
            }
            "none" | "aal1" if self.fresh => {
                return Err(Error::invalid(
                    at("fresh"),
                    "has no effect below mfa (a remembered device only ever stands in for a second factor)",
                ));
            }
            other => RuleAction::Require(requirement(
                &at(""),
                other,
                &self.kinds,
                self.max_age.as_ref(),
                self.fresh,
                enabled,
            )?),
        };
        let mut risk = 0u8;
        for c in &self.risk {
            risk |= 1 << (*c as u8);
        }
        Ok(Rule {
            name: Arc::from(self.name.as_str()),
            actions: patterns(&at("actions"), &self.actions)?,
            applications: patterns(&at("applications"), &self.applications)?,
            groups: names(&at("groups"), &self.groups)?,
            roles: names(&at("roles"), &self.roles)?,
            networks: networks(&at("networks"), &self.networks)?,
            risk,
            acr_values: self.acr_values.clone(),
            action,
        })
    }
}

/// Builds a requirement; `prefix` ends with a dot (`"rules[0]."`) or is empty.
fn requirement(
    prefix: &str,
    require: &str,
    kinds: &[String],
    max_age: Option<&RawDuration>,
    fresh: bool,
    enabled: KindSet,
) -> Result<Requirement, Error> {
    let level = match require {
        "none" => Level::None,
        "aal1" => Level::Aal1,
        "mfa" => Level::Mfa,
        "phishing-resistant" => Level::PhishingResistant,
        "aal2" => Level::Aal2,
        "aal3" => Level::Aal3,
        other => {
            return Err(Error::invalid(
                format_args!("{prefix}require"),
                format!(
                    "unknown requirement {other:?} (expected none, aal1, mfa, phishing-resistant, aal2, aal3 or deny)"
                ),
            ));
        }
    };
    let kinds_field = format!("{prefix}kinds");
    let kind_set = if kinds.is_empty() {
        KindSet::ALL
    } else {
        if !level.needs_second_factor() {
            return Err(Error::invalid(
                kinds_field,
                format!("kinds only apply to mfa, phishing-resistant, aal2 or aal3, not {require}"),
            ));
        }
        let set = kind_list(&kinds_field, kinds)?;
        if set.intersection(enabled).is_empty() {
            return Err(Error::invalid(
                kinds_field,
                "none of these kinds is enabled in factors.enabled",
            ));
        }
        set
    };
    if level >= Level::PhishingResistant
        && level != Level::Aal2
        && !kind_set.iter().any(FactorKind::is_phishing_resistant)
    {
        return Err(Error::invalid(
            format_args!("{prefix}kinds"),
            format!("no listed kind can meet {require} (only WebAuthn can)"),
        ));
    }
    let max_age = match max_age {
        Some(raw) => {
            if level == Level::None {
                return Err(Error::invalid(
                    format_args!("{prefix}max_age"),
                    "has no meaning when nothing is required",
                ));
            }
            let d = duration_value(&format!("{prefix}max_age"), raw)?;
            if d.is_zero() {
                return Err(Error::invalid(
                    format_args!("{prefix}max_age"),
                    "must not be zero",
                ));
            }
            Some(d)
        }
        None => None,
    };
    Ok(Requirement {
        level,
        kinds: kind_set,
        max_age,
        fresh: fresh || max_age.is_some(),
    })
}

fn compile_acr(raw: &[RawAcr], enabled: KindSet) -> Result<Vec<AcrMapping>, Error> {
    let mut out: Vec<AcrMapping> = Vec::new();
    for (i, entry) in raw.iter().enumerate() {
        let field = format!("acr[{i}].value");
        check_acr_value(&field, &entry.value)?;
        if out.iter().any(|m| *m.value == *entry.value) {
            return Err(Error::invalid(field, "duplicate acr value"));
        }
        let req = requirement(
            &format!("acr[{i}]."),
            &entry.require,
            &entry.kinds,
            entry.max_age.as_ref(),
            true,
            enabled,
        )?;
        out.push(AcrMapping {
            value: Arc::from(entry.value.as_str()),
            requirement: req,
        });
    }
    let builtin = [
        (PAPE_MULTI_FACTOR, Level::Mfa, KindSet::ALL),
        (
            PAPE_PHISHING_RESISTANT,
            Level::PhishingResistant,
            webauthn_all(),
        ),
        (PAPE_MULTI_FACTOR_PHYSICAL, Level::Aal3, webauthn_all()),
        // OpenID EAP ACR Values: phishing-resistant, and with a hardware-protected key.
        (PHR, Level::PhishingResistant, webauthn_all()),
        (PHRH, Level::Aal3, webauthn_all()),
        (IDMANAGEMENT_AAL[0], Level::Aal1, KindSet::ALL),
        (IDMANAGEMENT_AAL[1], Level::Aal2, KindSet::ALL),
        (IDMANAGEMENT_AAL[2], Level::Aal3, webauthn_all()),
    ];
    for (value, level, kinds) in builtin {
        if !out.iter().any(|m| *m.value == *value) {
            out.push(AcrMapping {
                value: Arc::from(value),
                requirement: Requirement {
                    level,
                    kinds,
                    max_age: None,
                    fresh: true,
                },
            });
        }
    }
    Ok(out)
}

fn out_acr(
    field: &str,
    value: Option<&str>,
    default: Option<&str>,
) -> Result<Option<Arc<str>>, Error> {
    match value {
        Some("") => Ok(None),
        Some(v) => {
            check_acr_value(field, v)?;
            Ok(Some(Arc::from(v)))
        }
        None => Ok(default.map(Arc::from)),
    }
}

fn check_acr_value(field: &str, v: &str) -> Result<(), Error> {
    if v.is_empty()
        || v.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
    {
        return Err(Error::invalid(
            field,
            "must be non-empty without spaces, control characters, quotes or backslashes",
        ));
    }
    Ok(())
}
