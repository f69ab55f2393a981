//! Provider dialects: which `acr` and `amr` values a provider emits, and what each proves.
//!
//! A token's claims become a policy [`Session`] so the same route [`Requirement`]s
//! judge it as they judge the application's own sessions:
//!
//! - every RFC 8176 `amr` value becomes a [`CompletedMethod`] at `auth_time`: `pwd`,
//!   `kba`, `pin`/biometrics without a key are the primary credential; `otp`, `sms`,
//!   `tel` each come from a factor of their kind; a key proof (`hwk`, `swk`, `pop`,
//!   `sc`) comes from a WebAuthn factor, and a `pin`/`fpt`/`face`/`mfa` reported with it
//!   makes that factor a multi-factor authenticator, exactly as mfa-policy reads a
//!   WebAuthn assertion;
//! - an `acr` value (or a provider-specific `amr` value such as Auth0's or Entra's
//!   `mfa`) the dialect knows stands for a [`Level`]; the session then also holds the
//!   weakest methods that reach that level (see [`Dialect::acr`]);
//! - an unknown value counts for nothing: it never makes a token stronger.
//!
//! [`Requirement`]: mfa_policy::assurance::Requirement

use mfa_core::{Attachment, AuthMethod, FactorId, FactorKind, Timestamp};
use mfa_policy::assurance::Level;
use mfa_policy::input::{CompletedMethod, EnrolledFactor, Session};
use mfa_policy::oidc::{
    IDMANAGEMENT_AAL, PAPE_MULTI_FACTOR, PAPE_MULTI_FACTOR_PHYSICAL, PAPE_PHISHING_RESISTANT,
};

/// What a provider's `acr` and non-RFC-8176 `amr` values stand for.
///
/// | constructor | `acr` values understood (besides [`standard`](Self::standard)'s) | `amr` values understood (besides RFC 8176) |
/// |---|---|---|
/// | [`standard`](Self::standard) | PAPE `multi-factor`, `multi-factor-physical`, `phishing-resistant`; `phr`, `phrh`; `http://idmanagement.gov/ns/assurance/aal/1..3` | none (`mfa` alone proves nothing) |
/// | [`auth0`](Self::auth0) | (Auth0 emits the PAPE `multi-factor` URI) | `mfa` = MFA |
/// | [`keycloak`](Self::keycloak) | `"0"` nothing, `"1"` one factor, `"2"` MFA (Keycloak's default LoA levels) | none |
/// | [`okta`](Self::okta) | `urn:okta:loa:1fa:any`, `urn:okta:loa:1fa:pwd` one factor; `urn:okta:loa:2fa:any`, `urn:okta:loa:2fa:any:ifpossible` MFA | `mfa` = MFA |
/// | [`entra`](Self::entra) | none (Entra issues `acrs` auth contexts instead) | `mfa`, `ngcmfa` = MFA; `fido` = phishing-resistant |
/// | [`zitadel`](Self::zitadel) | none | `mfa` = MFA |
///
/// Keycloak's LoA numbers are realm configuration: map yours with [`acr`](Self::acr).
/// `phrh` counts as AAL3 (hardware-bound phishing-resistant key), `phr` as phishing-resistant.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Dialect {
    acr: Vec<(String, Level)>,
    amr: Vec<(String, Level)>,
}

impl Dialect {
    /// No `acr` or extra `amr` value understood: only RFC 8176 `amr` values count.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The standard values: OpenID PAPE policies, `phr`/`phrh`, the US federal AAL URIs.
    pub fn standard() -> Self {
        let [aal1, aal2, aal3] = IDMANAGEMENT_AAL;
        Self::empty()
            .acr(PAPE_MULTI_FACTOR, Level::Mfa)
            .acr(PAPE_MULTI_FACTOR_PHYSICAL, Level::Mfa)
            .acr(PAPE_PHISHING_RESISTANT, Level::PhishingResistant)
            .acr("phr", Level::PhishingResistant)
            .acr("phrh", Level::Aal3)
            .acr(aal1, Level::Aal1)
            .acr(aal2, Level::Aal2)
            .acr(aal3, Level::Aal3)
    }

    /// Auth0: the PAPE `multi-factor` `acr` and `amr: ["mfa"]` after MFA.
    pub fn auth0() -> Self {
        Self::standard().amr("mfa", Level::Mfa)
    }

    /// Keycloak with its default step-up levels (`acr` `"1"` password, `"2"` a second
    /// factor); `"0"` (an SSO cookie) proves nothing.
    pub fn keycloak() -> Self {
        Self::standard()
            .acr("0", Level::None)
            .acr("1", Level::Aal1)
            .acr("2", Level::Mfa)
    }

    /// Okta's `urn:okta:loa:*` values, `phr`/`phrh`, and `amr: ["mfa"]`.
    pub fn okta() -> Self {
        Self::standard()
            .acr("urn:okta:loa:1fa:any", Level::Aal1)
            .acr("urn:okta:loa:1fa:pwd", Level::Aal1)
            .acr("urn:okta:loa:2fa:any", Level::Mfa)
            .acr("urn:okta:loa:2fa:any:ifpossible", Level::Mfa)
            .amr("mfa", Level::Mfa)
    }

    /// Microsoft Entra ID: `amr` `mfa` and `ngcmfa` (Windows Hello) for MFA, `fido` for a
    /// FIDO2 security key.
    pub fn entra() -> Self {
        Self::standard()
            .amr("mfa", Level::Mfa)
            .amr("ngcmfa", Level::Mfa)
            .amr("fido", Level::PhishingResistant)
    }

    /// Zitadel: RFC 8176 `amr` values with `mfa` after a second factor.
    pub fn zitadel() -> Self {
        Self::standard().amr("mfa", Level::Mfa)
    }

    /// Adds (or replaces) what an `acr` value stands for. Use [`Level::None`] to state
    /// that a value proves nothing.
    #[must_use]
    pub fn acr(mut self, value: impl Into<String>, level: Level) -> Self {
        let value = value.into();
        self.acr.retain(|(v, _)| *v != value);
        self.acr.push((value, level));
        self
    }

    /// Adds (or replaces) what an `amr` value outside RFC 8176 (or RFC 8176's `mfa`,
    /// which alone proves nothing to mfa-policy) stands for.
    #[must_use]
    pub fn amr(mut self, value: impl Into<String>, level: Level) -> Self {
        let value = value.into();
        self.amr.retain(|(v, _)| *v != value);
        self.amr.push((value, level));
        self
    }

    /// The level an `acr` value stands for; `None` for an unknown value.
    pub fn acr_level(&self, value: &str) -> Option<Level> {
        self.acr.iter().find(|(v, _)| v == value).map(|(_, l)| *l)
    }

    /// The policy session (and its synthetic enrolled factors) for a token's `acr`,
    /// `amr` and authentication time.
    pub fn session(
        &self,
        acr: Option<&str>,
        amr: &[String],
        auth_time: Timestamp,
        now: Timestamp,
    ) -> (Session, Vec<EnrolledFactor>) {
        let mut b = Builder::new(auth_time);
        let mut claimed = acr.and_then(|a| self.acr_level(a)).unwrap_or(Level::None);
        let methods: Vec<AuthMethod> = amr
            .iter()
            .filter_map(|v| {
                if let Some((_, level)) = self.amr.iter().find(|(k, _)| k == v) {
                    claimed = claimed.max(*level);
                }
                v.parse::<AuthMethod>().ok()
            })
            .collect();
        let key = methods.iter().copied().find(|m| m.is_phishing_resistant());
        for m in &methods {
            b.method(*m, key);
        }
        b.level(claimed);
        b.finish(now)
    }
}

const OTP: &str = "oidc-otp";
const SMS: &str = "oidc-sms";
const TEL: &str = "oidc-tel";
const KEY: &str = "oidc-key";
const ACR_KEY: &str = "oidc-acr-key";
const ACR_OTP: &str = "oidc-acr-otp";

struct Builder {
    at: Timestamp,
    methods: Vec<CompletedMethod>,
    enrolled: Vec<EnrolledFactor>,
}

impl Builder {
    fn new(at: Timestamp) -> Self {
        Self {
            at,
            methods: Vec::new(),
            enrolled: Vec::new(),
        }
    }

    fn push(&mut self, method: AuthMethod, factor: Option<(&'static str, FactorKind)>) {
        let factor = factor.and_then(|(id, kind)| {
            let id = FactorId::new(id).ok()?;
            if !self.enrolled.iter().any(|f| f.id == id) {
                self.enrolled.push(EnrolledFactor::new(id.clone(), kind));
            }
            Some(id)
        });
        self.methods.push(CompletedMethod {
            method,
            factor,
            at: self.at,
        });
    }

    /// One RFC 8176 method; `key` is the token's key proof, if any.
    fn method(&mut self, m: AuthMethod, key: Option<AuthMethod>) {
        let key_kind = FactorKind::WebAuthn {
            attachment: Some(match key {
                Some(AuthMethod::Hwk | AuthMethod::Sc) => Attachment::CrossPlatform,
                _ => Attachment::Platform,
            }),
        };
        match m {
            AuthMethod::Otp => self.push(m, Some((OTP, FactorKind::Totp))),
            AuthMethod::Sms => self.push(m, Some((SMS, FactorKind::Sms))),
            AuthMethod::Tel => self.push(m, Some((TEL, FactorKind::Voice))),
            _ if m.is_phishing_resistant() => self.push(m, Some((KEY, key_kind))),
            // With a key proof, user verification (and `mfa`, `user`) came from the key.
            _ if key.is_some()
                && (m.is_user_verifying() || matches!(m, AuthMethod::Mfa | AuthMethod::User)) =>
            {
                self.push(m, Some((KEY, key_kind)));
            }
            // `mfa` alone is a claim, not a method: the dialect decides what it means.
            AuthMethod::Mfa => {}
            _ => self.push(m, None),
        }
    }

    /// The weakest methods that reach `level`, beside what `amr` said.
    fn level(&mut self, level: Level) {
        let platform = FactorKind::WebAuthn {
            attachment: Some(Attachment::Platform),
        };
        let roaming = FactorKind::WebAuthn {
            attachment: Some(Attachment::CrossPlatform),
        };
        match level {
            Level::None => {}
            Level::Aal1 => self.push(AuthMethod::Pwd, None),
            Level::Mfa | Level::Aal2 => {
                self.push(AuthMethod::Pwd, None);
                self.push(AuthMethod::Otp, Some((ACR_OTP, FactorKind::Totp)));
            }
            Level::PhishingResistant => {
                self.push(AuthMethod::Pwd, None);
                self.push(AuthMethod::Swk, Some((ACR_KEY, platform)));
            }
            Level::Aal3 => {
                self.push(AuthMethod::Pwd, None);
                self.push(AuthMethod::Hwk, Some((ACR_KEY, roaming)));
            }
        }
    }

    fn finish(self, now: Timestamp) -> (Session, Vec<EnrolledFactor>) {
        (
            Session {
                methods: self.methods,
                // A bearer token presented now is activity now.
                last_activity: Some(now),
            },
            self.enrolled,
        )
    }
}
