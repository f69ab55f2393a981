//! # mfa-policy: when to ask for MFA, which factors count, and why
//!
//! Pure, fast evaluation of an MFA policy that operators write as data (TOML or JSON).
//! Given the policy, the user's enrolled factors, the session's completed methods, the
//! request and its risk signals, an optional remembered-device token and `now`, it
//! answers [`Decision::Allow`], [`Decision::StepUp`] (with the acceptable factor kinds in
//! order of preference), [`Decision::Enroll`] or [`Decision::Deny`], each with a
//! machine-readable [`ReasonCode`] and a sentence a support engineer can read
//! (`reason.to_string()`).
//!
//! It never reads a clock or does I/O: `now` is an argument, and so is everything the
//! service loaded from its store.
//!
//! ```
//! use mfa_core::{AuthMethod, FactorId, FactorKind, Timestamp, UserId};
//! use mfa_policy::{CompletedMethod, Decision, EnrolledFactor, Input, Policy, ReasonCode,
//!                  Request, Session, Subject};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::from_toml(r#"
//!     version = 1
//!     mode = "adaptive"
//!
//!     [[rules]]
//!     name = "payments"
//!     actions = ["payment.*"]
//!     require = "phishing-resistant"
//!     max_age = "5m"
//! "#)?;
//!
//! let user = UserId::new("alice")?;
//! let totp = FactorId::new("f-totp")?;
//! let key = FactorId::new("f-key")?;
//! let enrolled = [
//!     EnrolledFactor::new(totp.clone(), FactorKind::Totp),
//!     EnrolledFactor::new(key.clone(), "webauthn-cross-platform".parse()?),
//! ];
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let session = Session {
//!     methods: vec![
//!         CompletedMethod { method: AuthMethod::Pwd, factor: None, at: now },
//!         CompletedMethod { method: AuthMethod::Otp, factor: Some(totp), at: now },
//!     ],
//!     last_activity: Some(now),
//! };
//! let request = Request { action: Some("payment.create".into()), ..Request::default() };
//! let input = Input {
//!     user: &user, subject: &Subject::default(), enrolled: &enrolled,
//!     session: &session, request: &request, device: None, now,
//! };
//!
//! let decision = policy.evaluate(&input);
//! let Decision::StepUp { acceptable, reason } = &decision else { panic!("{decision:?}") };
//! assert_eq!(acceptable, &["webauthn-cross-platform".parse::<FactorKind>()?]);
//! assert_eq!(reason.code, ReasonCode::RuleRequiresMfa);
//! println!("{reason}"); // Step-up needed: rule "payments" requires a phishing-resistant ...
//! # Ok(())
//! # }
//! ```
//!
//! ## What it covers
//!
//! | area | API |
//! | --- | --- |
//! | policy as data, validated with the field named | [`Policy::from_toml`], [`Policy::from_json`], [`PolicyError`] |
//! | tenant mode, first-match rules, adaptive risk | [`Policy::evaluate`], [`Policy::confidence`] |
//! | assurance from methods actually used | [`Policy::assurance`], [`Policy::meets`], [`ReauthLimits`] |
//! | OIDC step-up | [`AcrRequest`], [`Policy::amr`], [`Decision::Allow`]'s `acr`, [`Policy::step_up_challenge`], [`www_authenticate`] |
//! | remember this device | [`DeviceTokenKey`], [`Policy::remember_device`] |
//! | enrollment rules and lockout-risk advice | [`Policy::check_enroll`], [`Policy::check_remove`], [`Policy::enrollment_status`] |
//! | failure limits | [`Policy::failure_state`], [`FailureLimits`] |
//!
//! ## Numbers from NIST SP 800-63B
//!
//! - Reauthentication ([`ReauthLimits::NIST_REV4`], the default): AAL1 30 days
//!   (SP 800-63B-4 §2.1.3); AAL2 24 hours overall and 1 hour of inactivity (§2.2.3); AAL3
//!   12 hours and 15 minutes of inactivity (§2.3.3). The 2017 values (rev3 §4.2.3: AAL2
//!   12 hours / 30 minutes; §4.3.3: AAL3 12 hours / 15 minutes) are
//!   [`ReauthLimits::NIST_REV3`]. All are configurable in the document.
//! - Failed attempts: at most 100 consecutive failures per account (rev4 §3.2.2, rev3
//!   §5.2.2); `failures.max_consecutive` defaults to 5 and is refused above 100.
//! - AAL2 needs two distinct factor categories (§2.2); AAL3 additionally a
//!   phishing-resistant, hardware-bound authenticator (§2.3).
//!
//! ## Dependencies, and why
//!
//! `mfa-core` (the shared words), `serde` + `toml` + `serde_json` (policy documents in
//! both formats operators use), `hmac` + `sha2` (the remembered-device token's
//! HMAC-SHA-256), `subtle` (constant-time tag comparison), `base64` (the token's
//! encoding), `thiserror` (errors). All are the workspace's single generation.
#![forbid(unsafe_code)]

mod assurance;
mod cidr;
mod decision;
mod device;
mod document;
mod enroll;
mod error;
mod evaluate;
mod input;
mod kinds;
mod lockout;
mod oidc;
mod policy;
mod requirement;

pub use assurance::AmrSet;
pub use cidr::Cidr;
pub use decision::{Decision, Reason, ReasonCode};
pub use device::{DeviceClaims, DeviceTokenError, DeviceTokenKey, MIN_KEY_LEN};
pub use document::PolicyDocument;
pub use enroll::{EnrollRefusal, EnrollWarning, EnrollmentStatus};
pub use error::PolicyError;
pub use input::{
    CompletedMethod, DeviceProof, EnrolledFactor, Input, Request, RiskSignals, Session, Subject,
};
pub use kinds::KindSet;
pub use lockout::FailureState;
pub use oidc::{
    AcrRequest, IDMANAGEMENT_AAL, PAPE_MULTI_FACTOR, PAPE_MULTI_FACTOR_PHYSICAL,
    PAPE_PHISHING_RESISTANT, www_authenticate,
};
pub use policy::{FailureLimits, Policy, ReauthLimits};
pub use requirement::{Aal, Confidence, Level, Mode, Requirement};
