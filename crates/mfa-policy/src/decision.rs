//! Decisions and their reasons.

use std::fmt;
use std::sync::Arc;

use mfa_core::FactorKind;
use serde::{Serialize, Serializer};

use crate::device::DeviceTokenError;
use crate::requirement::{Aal, Confidence, Requirement};

/// What to do with a request.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Go ahead.
    Allow {
        /// Why.
        reason: Reason,
        /// The `acr` value for the token issued now, if any.
        acr: Option<Arc<str>>,
        /// The assurance level the session holds.
        aal: Option<Aal>,
    },
    /// Refuse, whatever factor the user presents.
    Deny {
        /// Why.
        reason: Reason,
    },
    /// The user must enroll a factor before going on.
    Enroll {
        /// Which kinds would satisfy the requirement, in order of preference.
        kinds: Vec<FactorKind>,
        /// How many more factors are needed.
        missing: u32,
        /// Why.
        reason: Reason,
        /// The grace left to skip enrolment ([`crate::grace`]); `None`: it cannot be
        /// skipped. [`Policy::evaluate`](crate::Policy::evaluate) cannot know a user's
        /// skips and leaves it `None`; `mfa::Service::evaluate` fills it in.
        #[serde(skip_serializing_if = "Option::is_none")]
        grace: Option<crate::grace::Grace>,
    },
    /// Ask for (another) factor.
    StepUp {
        /// The kinds the user has enrolled that would satisfy the requirement, in the
        /// policy's order of preference. Empty only for an `aal1` requirement (with
        /// `max_age`), which the primary credential meets: ask for it again.
        acceptable: Vec<FactorKind>,
        /// Why.
        reason: Reason,
    },
}

impl Decision {
    /// The reason, whatever the decision.
    pub fn reason(&self) -> &Reason {
        match self {
            Self::Allow { reason, .. }
            | Self::Deny { reason }
            | Self::Enroll { reason, .. }
            | Self::StepUp { reason, .. } => reason,
        }
    }

    /// `"allow"`, `"deny"`, `"enroll"` or `"step_up"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Allow { .. } => "allow",
            Self::Deny { .. } => "deny",
            Self::Enroll { .. } => "enroll",
            Self::StepUp { .. } => "step_up",
        }
    }

    /// Whether the request may go ahead.
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

/// A machine-readable reason code. Stable snake_case strings for logs and metrics.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The `acr` value the relying party requested needs a stronger authentication.
    AcrRequiresMfa,
    /// The user is an administrator, who must use MFA.
    AdminRequiresMfa,
    /// The user has no enrolled factor that could satisfy the requirement.
    EnrollmentRequired,
    /// The user has fewer factors than `enrollment.min_factors`.
    FactorsBelowMinimum,
    /// Every acceptable factor is locked after too many failures.
    LockedOut,
    /// The session already meets the requirement.
    RequirementMet,
    /// Nothing requires MFA for this request.
    MfaNotRequired,
    /// The tenant mode is `always`.
    ModeRequiresMfa,
    /// The session proved this before, but too long ago (max age or NIST
    /// reauthentication limits).
    ReauthenticationDue,
    /// A valid remembered-device token stands in for the second factor.
    RememberedDevice,
    /// Risk signals put confidence below the configured level.
    RiskRequiresMfa,
    /// A rule denies the request.
    RuleDenies,
    /// A rule requires a stronger authentication.
    RuleRequiresMfa,
    /// The relying party demanded (essential) `acr` values this policy does not know.
    UnsupportedAcr,
}

impl ReasonCode {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AcrRequiresMfa => "acr_requires_mfa",
            Self::AdminRequiresMfa => "admin_requires_mfa",
            Self::EnrollmentRequired => "enrollment_required",
            Self::FactorsBelowMinimum => "factors_below_minimum",
            Self::LockedOut => "locked_out",
            Self::MfaNotRequired => "mfa_not_required",
            Self::ModeRequiresMfa => "mode_requires_mfa",
            Self::ReauthenticationDue => "reauthentication_due",
            Self::RememberedDevice => "remembered_device",
            Self::RequirementMet => "requirement_met",
            Self::RiskRequiresMfa => "risk_requires_mfa",
            Self::RuleDenies => "rule_denies",
            Self::RuleRequiresMfa => "rule_requires_mfa",
            Self::UnsupportedAcr => "unsupported_acr",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a decision was made: a code for machines, and details from which
/// [`Display`](fmt::Display) writes a sentence a support engineer can read, such as
/// `Step-up needed: rule "payments" requires a phishing-resistant second factor (security
/// key or passkey) verified within the last 5m.`
///
/// Serialised (JSON) as `{"code", "rule", "confidence", "acr", "requirement", "device",
/// "message"}`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Reason {
    /// The code.
    pub code: ReasonCode,
    /// The rule that decided, if one did.
    pub rule: Option<Arc<str>>,
    /// What was required.
    pub requirement: Option<Requirement>,
    /// The risk confidence of the request.
    pub confidence: Confidence,
    /// The `acr` value involved, for `acr` reasons.
    pub acr: Option<Arc<str>>,
    /// Why a presented remembered-device token was not honoured.
    pub device: Option<DeviceTokenError>,
}

impl Reason {
    pub(crate) fn new(code: ReasonCode, confidence: Confidence) -> Self {
        Self {
            code,
            rule: None,
            requirement: None,
            confidence,
            acr: None,
            device: None,
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Reason", 7)?;
        st.serialize_field("code", &self.code)?;
        st.serialize_field("rule", &self.rule.as_deref())?;
        st.serialize_field("confidence", &self.confidence)?;
        st.serialize_field("acr", &self.acr.as_deref())?;
        st.serialize_field("requirement", &self.requirement.map(|r| r.level.as_str()))?;
        st.serialize_field("device", &self.device.map(DeviceTokenError::as_str))?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = self.rule.as_deref().unwrap_or("(none)");
        let req = |f: &mut fmt::Formatter<'_>| match &self.requirement {
            Some(r) => write!(f, "{r}"),
            None => f.write_str("a second factor"),
        };
        match self.code {
            ReasonCode::MfaNotRequired => match &self.rule {
                Some(_) => write!(f, "Allowed: rule \"{rule}\" does not require MFA for this request."),
                None => write!(
                    f,
                    "Allowed: no rule matched and the tenant's mode does not require MFA (risk confidence {}).",
                    self.confidence.as_str()
                ),
            },
            ReasonCode::RequirementMet => {
                f.write_str("Allowed: the session already has ")?;
                req(f)?;
                f.write_str(".")
            }
            ReasonCode::RememberedDevice => {
                f.write_str("Allowed: this device was remembered after an earlier MFA, which stands in for ")?;
                req(f)?;
                f.write_str(".")
            }
            ReasonCode::ModeRequiresMfa => {
                f.write_str("Step-up needed: the tenant requires MFA on every sign-in; the session needs ")?;
                req(f)?;
                f.write_str(".")
            }
            ReasonCode::AdminRequiresMfa => {
                f.write_str("Step-up needed: administrators must use MFA; the session needs ")?;
                req(f)?;
                f.write_str(".")
            }
            ReasonCode::RiskRequiresMfa => {
                write!(
                    f,
                    "Step-up needed: risk signals lowered confidence to {}, so the session needs ",
                    self.confidence.as_str()
                )?;
                req(f)?;
                f.write_str(".")
            }
            ReasonCode::RuleRequiresMfa => {
                write!(f, "Step-up needed: rule \"{rule}\" requires ")?;
                req(f)?;
                f.write_str(".")
            }
            ReasonCode::AcrRequiresMfa => {
                write!(
                    f,
                    "Step-up needed: the application requested acr \"{}\", which requires ",
                    self.acr.as_deref().unwrap_or("")
                )?;
                req(f)?;
                f.write_str(".")
            }
            ReasonCode::ReauthenticationDue => {
                f.write_str("Step-up needed: the session proved ")?;
                req(f)?;
                f.write_str(" earlier, but too long ago or after too long idle; the user must authenticate again.")
            }
            ReasonCode::EnrollmentRequired => {
                f.write_str("Enrollment needed: the request requires ")?;
                req(f)?;
                f.write_str(", and the user has no enrolled factor that can provide it.")
            }
            ReasonCode::FactorsBelowMinimum => f.write_str(
                "Enrollment needed: the user has fewer factors than the tenant's minimum and must add one before going on.",
            ),
            ReasonCode::LockedOut => f.write_str(
                "Denied: every factor that could satisfy the request is locked after too many failed attempts.",
            ),
            ReasonCode::RuleDenies => write!(f, "Denied by rule \"{rule}\"."),
            ReasonCode::UnsupportedAcr => f.write_str(
                "Denied: the application demanded (as essential) acr values this tenant does not support.",
            ),
        }
    }
}
