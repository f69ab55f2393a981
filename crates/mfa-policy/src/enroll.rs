//! Enrollment rules: who must have MFA, how many factors, which may be added or removed,
//! and lockout-risk advice.

use std::fmt;

use mfa_core::{FactorId, FactorKind};
use serde::Serialize;

use crate::evaluate::count_factors;
use crate::input::{EnrolledFactor, Subject};
use crate::policy::Policy;

/// Why adding or removing a factor is refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum EnrollRefusal {
    /// The kind is not enabled for this tenant (`factors.enabled`).
    #[error("this factor kind is not enabled for the tenant")]
    KindDisabled,
    /// A WebAuthn platform authenticator is bound to one device; another factor must be
    /// enrolled first so losing the device does not lock the user out.
    #[error("a platform authenticator can only be added after another factor is enrolled")]
    PlatformNeedsAnotherFactor,
    /// At most `max` SMS numbers.
    #[error("at most {max} SMS numbers may be enrolled")]
    TooManySms {
        /// The limit.
        max: u32,
    },
    /// Removing this factor would leave fewer than the minimum while MFA is required.
    #[error("this is the user's last factor and MFA is required")]
    LastFactorWhileRequired,
    /// No enrolled factor has that id.
    #[error("no enrolled factor has this id")]
    UnknownFactor,
}

/// Advice about a user's factors that may lock them out; never blocking.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum EnrollWarning {
    /// Fewer than two factors: losing one device locks the user out.
    FewerThanTwoFactors {
        /// How many the user has.
        enrolled: u32,
    },
    /// No recovery codes to fall back on.
    NoRecoveryCode,
    /// Only restricted factors (SMS, voice: NIST SP 800-63B-4 §3.1.3.3) are enrolled.
    OnlyRestrictedFactors,
}

impl fmt::Display for EnrollWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FewerThanTwoFactors { enrolled } => write!(
                f,
                "the user has {enrolled} factor(s); with fewer than two, losing one device locks them out"
            ),
            Self::NoRecoveryCode => f.write_str("the user has no recovery codes to fall back on"),
            Self::OnlyRestrictedFactors => f.write_str(
                "the user only has SMS or voice factors, which are restricted and phishable",
            ),
        }
    }
}

/// A user's enrollment, as policy sees it.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct EnrollmentStatus {
    /// Whether MFA is mandatory for the user (tenant mode `always`, or an administrator).
    pub mfa_required: bool,
    /// How many more factors are required (zero when enough).
    pub missing: u32,
    /// Lockout-risk advice.
    pub warnings: Vec<EnrollWarning>,
}

impl Policy {
    /// Where the user stands: whether MFA is required, how many factors are missing,
    /// and lockout-risk warnings.
    pub fn enrollment_status(
        &self,
        subject: &Subject,
        enrolled: &[EnrolledFactor],
    ) -> EnrollmentStatus {
        let mfa_required = self.mfa_mandatory(subject);
        let have = count_factors(self.enabled, enrolled);
        let missing = if mfa_required {
            self.enrollment.min_factors.saturating_sub(have)
        } else {
            0
        };
        EnrollmentStatus {
            mfa_required,
            missing,
            warnings: self.warnings(enrolled),
        }
    }

    /// Checks whether the user may enroll a factor of `kind`; on success, the warnings
    /// that would remain after it is added.
    ///
    /// # Errors
    ///
    /// [`EnrollRefusal::KindDisabled`], [`PlatformNeedsAnotherFactor`](EnrollRefusal::PlatformNeedsAnotherFactor)
    /// or [`TooManySms`](EnrollRefusal::TooManySms).
    pub fn check_enroll(
        &self,
        enrolled: &[EnrolledFactor],
        kind: FactorKind,
    ) -> Result<Vec<EnrollWarning>, EnrollRefusal> {
        if !self.enabled.contains(kind) {
            return Err(EnrollRefusal::KindDisabled);
        }
        let confirmed = || enrolled.iter().filter(|f| f.confirmed);
        if kind.is_platform_authenticator() && self.enrollment.platform_requires_other_factor {
            let other = confirmed().any(|f| {
                !f.kind.is_platform_authenticator()
                    && f.kind != FactorKind::RecoveryCode
                    && self.enabled.contains(f.kind)
            });
            if !other {
                return Err(EnrollRefusal::PlatformNeedsAnotherFactor);
            }
        }
        if kind == FactorKind::Sms {
            let sms = confirmed().filter(|f| f.kind == FactorKind::Sms).count();
            let max = self.enrollment.max_sms;
            if u32::try_from(sms).unwrap_or(u32::MAX) >= max {
                return Err(EnrollRefusal::TooManySms { max });
            }
        }
        let mut after: Vec<EnrolledFactor> = enrolled.to_vec();
        if let Ok(id) = FactorId::new("(new)") {
            after.push(EnrolledFactor::new(id, kind));
        }
        Ok(self.warnings(&after))
    }

    /// Checks whether the user may remove factor `id`; on success, the warnings that
    /// would remain after it is removed.
    ///
    /// # Errors
    ///
    /// [`EnrollRefusal::UnknownFactor`], or
    /// [`LastFactorWhileRequired`](EnrollRefusal::LastFactorWhileRequired) when MFA is
    /// mandatory for the subject and removal would leave fewer than
    /// `enrollment.min_factors` (at least one).
    pub fn check_remove(
        &self,
        subject: &Subject,
        enrolled: &[EnrolledFactor],
        id: &FactorId,
    ) -> Result<Vec<EnrollWarning>, EnrollRefusal> {
        if !enrolled.iter().any(|f| f.id == *id) {
            return Err(EnrollRefusal::UnknownFactor);
        }
        let after: Vec<EnrolledFactor> = enrolled.iter().filter(|f| f.id != *id).cloned().collect();
        if self.removal_guarded(subject) {
            let before = count_factors(self.enabled, enrolled);
            let left = count_factors(self.enabled, &after);
            let floor = self.enrollment.min_factors.max(1);
            if left < before && left < floor {
                return Err(EnrollRefusal::LastFactorWhileRequired);
            }
        }
        Ok(self.warnings(&after))
    }

    fn warnings(&self, enrolled: &[EnrolledFactor]) -> Vec<EnrollWarning> {
        let mut out = Vec::new();
        let have = count_factors(self.enabled, enrolled);
        if have < 2 {
            out.push(EnrollWarning::FewerThanTwoFactors { enrolled: have });
        }
        let active = || {
            enrolled
                .iter()
                .filter(|f| f.confirmed && self.enabled.contains(f.kind))
        };
        if !active().any(|f| f.kind == FactorKind::RecoveryCode) {
            out.push(EnrollWarning::NoRecoveryCode);
        }
        if have > 0
            && active()
                .filter(|f| f.kind != FactorKind::RecoveryCode)
                .all(|f| matches!(f.kind, FactorKind::Sms | FactorKind::Voice))
        {
            out.push(EnrollWarning::OnlyRestrictedFactors);
        }
        out
    }
}
