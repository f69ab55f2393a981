//! What a session has proven: assurance level, `amr` values, and whether it meets a
//! requirement.
//!
//! Multi-factor means two *distinct categories* (NIST SP 800-63B-4 §2.2: something you
//! know / have / are) proven by two *distinct factors*: a TOTP code and an SMS code are
//! two "have" proofs; an email code and a password-reset link from the same inbox are one.
//! The one exception is a multi-factor cryptographic authenticator (a WebAuthn
//! credential with user verification), which proves a key and a PIN or biometric by
//! itself: it reports a key proof (`hwk`/`swk`) together with `pin`, `fpt`, `face`, … or
//! with `mfa`, and either form counts, so a user-verified passkey alone reaches AAL2
//! (AAL3 when its key is hardware-bound, `hwk`).
//!
//! This module also holds the words of requirements and levels ([`Requirement`],
//! [`Level`], [`Aal`]), the reauthentication limits ([`ReauthLimits`]) and the `amr`
//! set ([`AmrSet`]).

use std::fmt;
use std::time::Duration;

use mfa_core::{AuthMethod, FactorCategory, FactorId, FactorKind, Timestamp};
use serde::{Serialize, Serializer};

use crate::input::{CompletedMethod, EnrolledFactor, Session};
use crate::kinds::KindSet;
use crate::policy::Policy;
pub use crate::policy::ReauthLimits;
pub use crate::requirement::{Aal, Level, Requirement};

/// A set of RFC 8176 `amr` values (a bit set), serialised as a JSON array of strings in
/// registry order: what goes into the `amr` claim.
#[derive(Clone, Copy, Default, Eq, Hash, PartialEq)]
pub struct AmrSet(u32);

impl AmrSet {
    /// Whether `m` is in the set.
    pub fn contains(self, m: AuthMethod) -> bool {
        bit(m).is_some_and(|b| self.0 & b != 0)
    }

    /// The set with `m` added.
    #[must_use]
    pub fn with(self, m: AuthMethod) -> Self {
        Self(self.0 | bit(m).unwrap_or(0))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The values, in registry (alphabetical) order.
    pub fn iter(self) -> impl Iterator<Item = AuthMethod> {
        AuthMethod::ALL
            .into_iter()
            .filter(move |m| self.contains(*m))
    }

    /// The values as strings, for the `amr` claim.
    pub fn to_strings(self) -> Vec<&'static str> {
        self.iter().map(AuthMethod::as_str).collect()
    }
}

impl fmt::Debug for AmrSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(AuthMethod::as_str))
            .finish()
    }
}

impl Serialize for AmrSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl Policy {
    /// The highest assurance level the session holds at `now`, under this policy's
    /// reauthentication limits; `None` when it holds nothing.
    pub fn assurance(
        &self,
        session: &Session,
        enrolled: &[EnrolledFactor],
        now: Timestamp,
    ) -> Option<Aal> {
        let view = View::new(self, session, enrolled, now);
        [
            (Level::Aal3, Aal::Aal3),
            (Level::Aal2, Aal::Aal2),
            (Level::Aal1, Aal::Aal1),
        ]
        .into_iter()
        .find(|(level, _)| {
            view.check(
                &Requirement {
                    level: *level,
                    kinds: KindSet::ALL,
                    max_age: None,
                    fresh: true,
                },
                true,
            )
        })
        .map(|(_, aal)| aal)
    }

    /// The RFC 8176 `amr` values for a token issued now: every method the session proved
    /// within the AAL1 limit (`pwd`, `otp`, `sms`, `tel`, `hwk`, `swk`, `pin`, `fpt`,
    /// `face`, `user`, … exactly as the factors reported them), plus `mfa` when the
    /// session is multi-factor: two distinct categories from two distinct factors, or one
    /// multi-factor authenticator (a WebAuthn credential reporting a key proof with
    /// user verification, whether as `pin`/`fpt`/`face` or as `mfa`). A reported `mfa`
    /// is never echoed on its own: it appears exactly when this policy judges the
    /// session multi-factor, so a non-WebAuthn factor claiming `mfa` adds nothing.
    pub fn amr(&self, session: &Session, enrolled: &[EnrolledFactor], now: Timestamp) -> AmrSet {
        let view = View::new(self, session, enrolled, now);
        let mut set = AmrSet::default();
        // `mfa` is this policy's judgement, never echoed from what a factor reported.
        for m in view.valid(self.reauth.aal1_max) {
            if m.method != AuthMethod::Mfa {
                set = set.with(m.method);
            }
        }
        let mfa = Requirement {
            level: Level::Mfa,
            kinds: KindSet::ALL,
            max_age: None,
            fresh: true,
        };
        if view.check(&mfa, true) {
            set = set.with(AuthMethod::Mfa);
        }
        set
    }

    /// Whether the session meets `requirement` at `now` (a remembered device is not
    /// considered here).
    pub fn meets(
        &self,
        requirement: &Requirement,
        session: &Session,
        enrolled: &[EnrolledFactor],
        now: Timestamp,
    ) -> bool {
        View::new(self, session, enrolled, now).check(requirement, true)
    }
}

/// A session seen through a policy at one instant.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    policy: &'a Policy,
    methods: &'a [CompletedMethod],
    enrolled: &'a [EnrolledFactor],
    last_activity: Option<Timestamp>,
    now: Timestamp,
}

impl<'a> View<'a> {
    pub(crate) fn new(
        policy: &'a Policy,
        session: &'a Session,
        enrolled: &'a [EnrolledFactor],
        now: Timestamp,
    ) -> Self {
        Self {
            policy,
            methods: &session.methods,
            enrolled,
            last_activity: session.last_activity,
            now,
        }
    }

    /// Methods that count: not in the future, within `max` of now, and either a
    /// primary credential or from an enrolled, confirmed factor.
    fn valid(self, max: Duration) -> impl Iterator<Item = &'a CompletedMethod> {
        self.methods.iter().filter(move |m| {
            m.at <= self.now
                && self.now.saturating_since(m.at) <= max
                && match &m.factor {
                    None => true,
                    Some(id) => self.kind_of(id).is_some(),
                }
        })
    }

    fn kind_of(self, id: &FactorId) -> Option<FactorKind> {
        self.enrolled
            .iter()
            .find(|f| f.confirmed && f.id == *id)
            .map(|f| f.kind)
    }

    /// Whether the session meets `req`; with `strict` false, time limits are ignored
    /// (used to tell "never did it" from "did it too long ago").
    pub(crate) fn check(self, req: &Requirement, strict: bool) -> bool {
        let (max, idle) = match req.level {
            Level::None => return true,
            Level::Aal1 | Level::Mfa | Level::PhishingResistant => {
                (self.policy.reauth.aal1_max, None)
            }
            Level::Aal2 => self.policy.reauth.for_aal(Aal::Aal2),
            Level::Aal3 => self.policy.reauth.for_aal(Aal::Aal3),
        };
        if strict && !self.active_within(idle) {
            return false;
        }
        let max = if strict { max } else { Duration::MAX };
        let mut categories = 0u8;
        let mut first_identity: Option<Option<&FactorId>> = None;
        let mut two_identities = false;
        let mut multi_factor_authenticator = false;
        let mut qualifying = false;
        let mut recent = false;
        for m in self.valid(max) {
            let Some(category) = m.method.category() else {
                continue;
            };
            categories |= category_bit(category);
            if !strict
                || req
                    .max_age
                    .is_none_or(|age| self.now.saturating_since(m.at) <= age)
            {
                recent = true;
            }
            let identity = m.factor.as_ref();
            match first_identity {
                None => first_identity = Some(identity),
                Some(first) if first != identity => two_identities = true,
                Some(_) => {}
            }
            let Some(id) = identity else { continue };
            let Some(kind) = self.kind_of(id) else {
                continue;
            };
            if self.is_multi_factor_authenticator(m, id, kind, max) {
                multi_factor_authenticator = true;
            }
            if self.qualifies(m, kind, req, strict) {
                qualifying = true;
            }
        }
        match req.level {
            Level::None => true,
            // One factor, and with `max_age` one proven within it.
            Level::Aal1 => categories != 0 && recent,
            _ => {
                (multi_factor_authenticator || (categories.count_ones() >= 2 && two_identities))
                    && qualifying
            }
        }
    }

    /// Whether the session was active within `idle` (always, without an inactivity
    /// limit). An unknown last activity counts as expired: a caller that does not track
    /// activity never gets past an inactivity limit.
    pub(crate) fn active_within(self, idle: Option<Duration>) -> bool {
        match (idle, self.last_activity) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(idle), Some(last)) => self.now.saturating_since(last) <= idle,
        }
    }

    /// The kinds of the enrolled, confirmed, enabled factors that proved a factor
    /// category within `max` of now.
    pub(crate) fn proven_kinds(self, max: Duration) -> KindSet {
        self.valid(max)
            .filter(|m| m.method.category().is_some())
            .filter_map(|m| m.factor.as_ref().and_then(|id| self.kind_of(id)))
            .filter(|k| self.policy.enabled.contains(*k))
            .collect()
    }

    /// A multi-factor cryptographic authenticator (NIST SP 800-63B-4 §3.1.7): a WebAuthn
    /// factor that reported a key proof (`hwk`, `swk`, …) and, at the same instant, either
    /// a user-verifying method (`pin`, `fpt`, `face`, …) or `mfa` itself (RFC 8176: the
    /// authenticator performed multiple-factor authentication, as a user-verified passkey
    /// reports). A factor of another kind reporting `mfa` counts for nothing.
    fn is_multi_factor_authenticator(
        self,
        m: &CompletedMethod,
        id: &FactorId,
        kind: FactorKind,
        max: Duration,
    ) -> bool {
        kind.is_phishing_resistant()
            && m.method.is_phishing_resistant()
            && self.valid(max).any(|o| {
                o.factor.as_ref() == Some(id)
                    && o.at == m.at
                    && (o.method.is_user_verifying() || o.method == AuthMethod::Mfa)
            })
    }

    fn qualifies(
        self,
        m: &CompletedMethod,
        kind: FactorKind,
        req: &Requirement,
        strict: bool,
    ) -> bool {
        if !req.kinds.contains(kind) || !self.policy.enabled.contains(kind) {
            return false;
        }
        if strict
            && let Some(age) = req.max_age
            && self.now.saturating_since(m.at) > age
        {
            return false;
        }
        match req.level {
            Level::PhishingResistant => {
                m.method.is_phishing_resistant() && kind.is_phishing_resistant()
            }
            Level::Aal3 => m.method.is_hardware_bound() && kind.is_phishing_resistant(),
            _ => true,
        }
    }
}

fn category_bit(c: FactorCategory) -> u8 {
    match c {
        FactorCategory::Inherence => 1,
        FactorCategory::Knowledge => 2,
        FactorCategory::Possession => 4,
        _ => 8,
    }
}

fn bit(m: AuthMethod) -> Option<u32> {
    AuthMethod::ALL
        .iter()
        .position(|x| *x == m)
        .and_then(|i| 1u32.checked_shl(u32::try_from(i).ok()?))
}
