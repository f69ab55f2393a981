//! The decision procedure.

use std::sync::Arc;

use mfa_core::{FactorKind, InvalidInput, Timestamp, UserId};

use crate::assurance::View;
use crate::decision::{Decision, Reason, ReasonCode};
use crate::device::{DeviceClaims, DeviceTokenError};
use crate::input::{EnrolledFactor, Input, Session, Subject};
use crate::kinds::KindSet;
use crate::lockout::FailureState;
use crate::oidc::www_authenticate;
use crate::policy::{AcrMapping, Policy, RuleAction, combine};
use crate::requirement::{Aal, Level, Mode, Requirement};

impl Policy {
    /// Decides one request.
    ///
    /// In order:
    /// 1. the first rule matching the request (action, application, groups, roles,
    ///    networks, risk confidence, requested `acr` values) gives the requirement, or
    ///    denies; without a match, the tenant mode does (`always`: MFA; `adaptive`: MFA
    ///    when confidence is below `adaptive.mfa_below`; `never`: nothing), and
    ///    administrators need MFA. With no client IP, a `deny` rule with `networks`
    ///    matches, and a `require` rule with `networks` adds its requirement;
    /// 2. the *floor*: when the mode is `always` or the subject is an administrator,
    ///    whatever rule matched is raised to at least MFA. No rule, and so no
    ///    client-controlled input (`application`, `acr_values`, …), can lower it; only a
    ///    `deny` rule, which is stricter, takes precedence;
    /// 3. requested `acr` values add a requirement (the first value the policy knows, in
    ///    the relying party's order); an essential request for unknown values is denied,
    ///    and a voluntary one no enrolled factor could meet is dropped;
    /// 4. if the session meets everything, `Allow` (or `Enroll` when an administrator has
    ///    fewer factors than `enrollment.min_factors`);
    /// 5. otherwise a remembered-device token may stand in for the *second* factor of the
    ///    base requirement, only within what its minting sign-in proved: the session
    ///    holds a first factor itself; the requirement is not `fresh` (rules with `fresh`
    ///    or `max_age`, and all `acr` requirements); it is `mfa`, or `aal2` within the
    ///    AAL2 limits counted from minting (and the session active within `aal2_idle`),
    ///    never `phishing-resistant` or `aal3`; one of the token's factor kinds is
    ///    acceptable and still enrolled; and the caller passed the device's server-side
    ///    entry ([`DeviceProof::stored`](crate::device::DeviceProof::stored));
    /// 6. otherwise `StepUp` with the user's acceptable kinds, `Enroll` when they have
    ///    none, or `Deny` when all acceptable factors are locked. An unmet `aal1`
    ///    requirement (one with `max_age`) is always `StepUp`, whose `acceptable` list may
    ///    be empty: the primary credential (password) is asked again.
    pub fn evaluate(&self, input: &Input<'_>) -> Decision {
        let confidence = self.confidence(input.request);
        let matched = self.matching_rule(input.subject, input.request, confidence);
        let reason = |code| Reason::new(code, confidence);
        let floor = if self.mode == Mode::Always {
            Some(ReasonCode::ModeRequiresMfa)
        } else if self.is_admin(input.subject) {
            Some(ReasonCode::AdminRequiresMfa)
        } else {
            None
        };

        let (mut base, mut base_code, mut rule_name) = match matched.rule {
            Some(r) => match r.action {
                RuleAction::Deny => {
                    return Decision::Deny {
                        reason: Reason {
                            rule: Some(Arc::clone(&r.name)),
                            ..reason(ReasonCode::RuleDenies)
                        },
                    };
                }
                RuleAction::Require(req) => (req, ReasonCode::RuleRequiresMfa, Some(&r.name)),
            },
            None => match floor {
                Some(code) => (Requirement::MFA, code, None),
                None if self.mode == Mode::Adaptive && confidence < self.adaptive.mfa_below => {
                    (Requirement::MFA, ReasonCode::RiskRequiresMfa, None)
                }
                None => (Requirement::NONE, ReasonCode::MfaNotRequired, None),
            },
        };
        // Rules that match if the unknown IP is inside their networks only add.
        if let Some((req, r)) = matched.maybe
            && !req.is_none()
        {
            if req.level > base.level || rule_name.is_none() {
                base_code = ReasonCode::RuleRequiresMfa;
                rule_name = Some(&r.name);
            }
            base = combine(&base, &req);
        }
        // The floor holds whatever rule matched.
        if let Some(code) = floor
            && base.level < Level::Mfa
        {
            base = combine(&base, &Requirement::MFA);
            base_code = code;
        }
        let base = base;
        let with_rule = |code| Reason {
            rule: rule_name.cloned(),
            requirement: (!base.is_none()).then_some(base),
            ..reason(code)
        };

        let acr_req = &input.request.acr;
        let acr = acr_req.values.iter().find_map(|v| self.acr_mapping(v));
        if acr.is_none() && acr_req.essential && !acr_req.is_empty() {
            return Decision::Deny {
                reason: reason(ReasonCode::UnsupportedAcr),
            };
        }
        let acr = acr.filter(|m| {
            acr_req.essential
                || m.requirement.level == Level::Aal1
                || self.usable(input, &m.requirement).next().is_some()
        });

        let view = View::new(self, input.session, input.enrolled, input.now);
        let mut base_met = view.check(&base, true);
        let acr_met = acr.is_none_or(|m| view.check(&m.requirement, true));
        let mut device_err = None;
        let mut remembered = false;
        if !base_met && !base.fresh && self.remember.enabled {
            match self.check_device(input, &base, view) {
                Ok(_) => {
                    base_met = true;
                    remembered = true;
                }
                Err(e) => device_err = e,
            }
        }

        if base_met && acr_met {
            if self.mfa_mandatory(input.subject) {
                let have = count_factors(self.enabled, input.enrolled);
                if have < self.enrollment.min_factors {
                    return Decision::Enroll {
                        kinds: self.enrollable(KindSet::ALL, Level::Mfa),
                        missing: self.enrollment.min_factors - have,
                        reason: with_rule(ReasonCode::FactorsBelowMinimum),
                        grace: None,
                    };
                }
            }
            let aal = self.assurance(input.session, input.enrolled, input.now);
            let (code, out_acr) = match acr {
                Some(m) => (ReasonCode::RequirementMet, Some(Arc::clone(&m.value))),
                None if remembered => (ReasonCode::RememberedDevice, None),
                None if base.is_none() => (ReasonCode::MfaNotRequired, None),
                None => (ReasonCode::RequirementMet, None),
            };
            let out_acr = out_acr.or_else(|| aal.and_then(|a| self.acr_for_aal_arc(a)));
            let mut reason = with_rule(code);
            if let Some(m) = acr {
                reason.acr = Some(Arc::clone(&m.value));
                if base.is_none() {
                    reason.requirement = Some(m.requirement);
                }
            }
            return Decision::Allow {
                reason,
                acr: out_acr,
                aal,
            };
        }

        // Something is unmet: the base requirement first, then the acr one.
        let (needed, mut code, acr_value) = match (base_met, acr) {
            (false, Some(m)) if !acr_met => (combine(&base, &m.requirement), base_code, Some(m)),
            (false, _) => (base, base_code, None),
            (true, Some(m)) => (m.requirement, ReasonCode::AcrRequiresMfa, Some(m)),
            (true, None) => (base, base_code, None),
        };
        if view.check(&needed, false) {
            code = ReasonCode::ReauthenticationDue;
        }
        let mut why = Reason {
            requirement: Some(needed),
            acr: acr_value.map(|m: &AcrMapping| Arc::clone(&m.value)),
            device: device_err,
            ..with_rule(code)
        };
        let acceptable: Vec<FactorKind> = self
            .preference
            .iter()
            .copied()
            .filter(|k| {
                self.usable(input, &needed)
                    .any(|f| f.kind == *k && self.open(f, input.now))
            })
            .collect();
        // One factor (`aal1`, e.g. with `max_age`) is met by the primary credential
        // again: step up even when no enrolled factor is acceptable, never `Enroll`.
        if !acceptable.is_empty() || needed.level <= Level::Aal1 {
            return Decision::StepUp {
                acceptable,
                reason: why,
            };
        }
        if self.usable(input, &needed).next().is_some() {
            why.code = ReasonCode::LockedOut;
            return Decision::Deny { reason: why };
        }
        why.code = ReasonCode::EnrollmentRequired;
        Decision::Enroll {
            kinds: self.enrollable(needed.kinds, needed.level),
            missing: 1,
            reason: why,
            grace: None,
        }
    }

    /// The RFC 9470 `WWW-Authenticate` challenge for a `StepUp` decision: the `acr`
    /// value that caused it (or the policy's value for the required level) and the
    /// required `max_age`. `None` for other decisions.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when `realm` cannot be carried in a quoted-string.
    pub fn step_up_challenge(
        &self,
        decision: &Decision,
        realm: Option<&str>,
    ) -> Result<Option<String>, InvalidInput> {
        let Decision::StepUp { reason, .. } = decision else {
            return Ok(None);
        };
        let req = reason.requirement.unwrap_or(Requirement::MFA);
        // The acr that caused it; else one the policy maps to exactly this level and
        // max_age (a custom value written for it); else any of this level.
        let acr = reason.acr.clone().or_else(|| {
            self.acr
                .iter()
                .find(|m| m.requirement.level == req.level && m.requirement.max_age == req.max_age)
                .or_else(|| self.acr.iter().find(|m| m.requirement.level == req.level))
                .map(|m| Arc::clone(&m.value))
        });
        let values: Vec<&str> = acr.as_deref().into_iter().collect();
        www_authenticate(realm, &values, req.max_age).map(Some)
    }

    /// Claims for a new remembered-device token issued `now`, lasting
    /// `remember_device.days`, recording what the session proved: its assurance level
    /// (`aal`) and the kinds of the factors it used (`kinds`). Call it right after the
    /// sign-in's second factor; sign the claims with
    /// [`DeviceTokenKey::issue`](crate::device::DeviceTokenKey::issue) and store a
    /// [`RememberedDevice`](mfa_core::store::RememberedDevice) entry for the device.
    /// `Ok(None)` when the policy disables remembering devices.
    ///
    /// # Errors
    ///
    /// [`DeviceTokenError::InvalidDeviceId`] when the device id is empty, longer than 255
    /// bytes or has a control character; [`DeviceTokenError::NotMultiFactor`] when the
    /// session does not hold AAL2 at `now` (nothing to remember).
    pub fn remember_device(
        &self,
        user: &UserId,
        device_id: &str,
        generation: u64,
        session: &Session,
        enrolled: &[EnrolledFactor],
        now: Timestamp,
    ) -> Result<Option<DeviceClaims>, DeviceTokenError> {
        if device_id.is_empty() || device_id.len() > 255 || device_id.chars().any(char::is_control)
        {
            return Err(DeviceTokenError::InvalidDeviceId);
        }
        if !self.remember.enabled {
            return Ok(None);
        }
        let aal = self.assurance(session, enrolled, now);
        let Some(aal @ (Aal::Aal2 | Aal::Aal3)) = aal else {
            return Err(DeviceTokenError::NotMultiFactor);
        };
        let kinds = View::new(self, session, enrolled, now).proven_kinds(self.reauth.aal2_max);
        if kinds.is_empty() {
            return Err(DeviceTokenError::NotMultiFactor);
        }
        Ok(Some(DeviceClaims {
            user: user.clone(),
            device_id: device_id.to_owned(),
            issued_at: now,
            expires_at: now.saturating_add(self.remember.lifetime),
            generation,
            aal,
            kinds,
        }))
    }

    /// `Ok` when the input carries a token that verifies, whose device is still
    /// remembered server-side, and whose minting sign-in covers `req` (see
    /// [`Policy::evaluate`], step 5); `Err(None)` when there is no token or no key,
    /// `Err(Some(e))` when it fails.
    fn check_device(
        &self,
        input: &Input<'_>,
        req: &Requirement,
        view: View<'_>,
    ) -> Result<(), Option<DeviceTokenError>> {
        let (Some(proof), Some(key)) = (input.device, self.device_key.as_ref()) else {
            return Err(None);
        };
        let claims = key
            .verify(
                proof.token,
                input.user,
                proof.device_id,
                proof.generation,
                input.now,
            )
            .map_err(Some)?;
        // A token can never outlive the policy's current lifetime, even if the policy
        // was shortened after it was issued.
        if input.now.saturating_since(claims.issued_at) >= self.remember.lifetime {
            return Err(Some(DeviceTokenError::Expired));
        }
        // The device must still be remembered server-side, at the token's generation.
        let remembered = proof.stored.is_some_and(|d| {
            d.user == *input.user
                && d.device_id == claims.device_id
                && d.generation.get() == claims.generation
                && input.now < d.expires_at
        });
        if !remembered {
            return Err(Some(DeviceTokenError::Forgotten));
        }
        let insufficient = Err(Some(DeviceTokenError::Insufficient));
        // Only ever a second factor, and only what the minting sign-in proved.
        let first_factor = Requirement {
            level: Level::Aal1,
            kinds: KindSet::ALL,
            max_age: None,
            fresh: false,
        };
        if claims.aal < Aal::Aal2 || !view.check(&first_factor, true) {
            return insufficient;
        }
        match req.level {
            Level::Mfa => {}
            Level::Aal2 => {
                let (max, idle) = self.reauth.for_aal(Aal::Aal2);
                if input.now.saturating_since(claims.issued_at) > max || !view.active_within(idle) {
                    return insufficient;
                }
            }
            Level::None | Level::Aal1 | Level::PhishingResistant | Level::Aal3 => {
                return insufficient;
            }
        }
        let kinds = claims
            .kinds
            .intersection(req.kinds)
            .intersection(self.enabled);
        if kinds.is_empty() {
            return insufficient;
        }
        if !input
            .enrolled
            .iter()
            .any(|f| f.confirmed && kinds.contains(f.kind))
        {
            return Err(Some(DeviceTokenError::FactorRemoved));
        }
        Ok(())
    }

    /// Enrolled factors that could meet `req` (locked or not).
    fn usable<'a>(
        &'a self,
        input: &Input<'a>,
        req: &'a Requirement,
    ) -> impl Iterator<Item = &'a EnrolledFactor> + 'a {
        let enrolled: &'a [EnrolledFactor] = input.enrolled;
        enrolled.iter().filter(move |f| {
            f.confirmed
                && self.enabled.contains(f.kind)
                && req.kinds.contains(f.kind)
                && capable(f.kind, req.level)
        })
    }

    fn open(&self, f: &EnrolledFactor, now: Timestamp) -> bool {
        !matches!(
            self.failure_state(f.consecutive_failures, f.last_failure_at, now),
            FailureState::LockedOut { .. }
        )
    }

    /// Enabled kinds in `kinds` able to meet `level`, in preference order, recovery
    /// codes last-resort only (never offered for enrollment as a requirement's answer).
    pub(crate) fn enrollable(&self, kinds: KindSet, level: Level) -> Vec<FactorKind> {
        self.preference
            .iter()
            .copied()
            .filter(|k| {
                *k != FactorKind::RecoveryCode
                    && self.enabled.contains(*k)
                    && kinds.contains(*k)
                    && capable(*k, level)
            })
            .collect()
    }

    /// Whether the subject's MFA requirement would block removing factors.
    pub(crate) fn removal_guarded(&self, subject: &Subject) -> bool {
        self.mfa_mandatory(subject)
    }
}

/// Whether a factor of `kind` can meet `level` at all.
fn capable(kind: FactorKind, level: Level) -> bool {
    match level {
        Level::PhishingResistant | Level::Aal3 => kind.is_phishing_resistant(),
        _ => true,
    }
}

/// Confirmed, enabled factors that are authenticators (recovery codes are a backup, not
/// a factor to sign in with day to day).
pub(crate) fn count_factors(enabled: KindSet, enrolled: &[EnrolledFactor]) -> u32 {
    let n = enrolled
        .iter()
        .filter(|f| f.confirmed && enabled.contains(f.kind) && f.kind != FactorKind::RecoveryCode)
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}
