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
//! use mfa_policy::input::{CompletedMethod, EnrolledFactor, Request, Session, Subject};
//! use mfa_policy::{Decision, Input, Policy, ReasonCode};
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
//! The crate root holds what every caller names: [`Policy`], [`Input`], [`Decision`],
//! [`Reason`], [`ReasonCode`] and [`Error`]. Everything else is grouped by topic:
//!
//! | module | what | main API |
//! | --- | --- | --- |
//! | [`input`] | what a decision looks at | [`input::Subject`], [`input::EnrolledFactor`], [`input::Session`], [`input::CompletedMethod`], [`input::Request`], [`input::RiskSignals`] |
//! | [`document`] | policy as data, validated with the field named | [`Policy::from_toml`], [`Policy::from_json`], [`document::PolicyDocument`], [`document::Mode`], [`document::Confidence`], [`document::KindSet`], [`document::Cidr`] |
//! | [`assurance`] | assurance from methods actually used; `amr` | [`Policy::assurance`], [`Policy::meets`], [`Policy::amr`], [`assurance::Aal`], [`assurance::Level`], [`assurance::Requirement`], [`assurance::ReauthLimits`], [`assurance::AmrSet`] |
//! | [`oidc`] | OIDC step-up | [`oidc::AcrRequest`], [`Decision::Allow`]'s `acr`, [`Policy::step_up_challenge`], [`oidc::www_authenticate`] |
//! | [`device`] | remember this device | [`Policy::remember_device`], [`device::DeviceTokenKey`], [`device::DeviceClaims`], [`device::DeviceProof`] |
//! | [`enroll`] | enrollment rules and lockout-risk advice | [`Policy::check_enroll`], [`Policy::check_remove`], [`Policy::enrollment_status`] |
//! | [`lockout`] | failure limits | [`Policy::failure_state`], [`lockout::FailureLimits`] (with the store's counting `window`) |
//!
//! Tenant mode, first-match rules and adaptive risk: [`Policy::evaluate`] (its steps are
//! the decision procedure) and [`Policy::confidence`].
//!
//! ## Inputs a client controls
//!
//! `Request::application` (the OAuth `client_id`, which anyone can put in an
//! authorization request), `Request::acr` (`acr_values` / `claims`), `Request::action`
//! when it comes from a request parameter, and `Request::ip` when taken from a header
//! such as `X-Forwarded-For` are chosen by whoever sends the request. They select rules,
//! so a rule matching them can make a request *stricter*, but it can never lower the
//! floor: with `mode = "always"` every sign-in needs a second factor, and an
//! administrator always needs one, whatever rule matches (a `deny` rule, being
//! stricter, still denies). In `adaptive` and `never` mode a matching rule replaces the
//! risk-based default for other users, so write `require = "none"` rules only on inputs
//! the service controls. A missing IP never helps: a `deny` rule with `networks`
//! matches it, a `require` rule with `networks` adds its requirement, and it counts as
//! outside every trusted and inside any denied network.
//!
//! ## Numbers from NIST SP 800-63B
//!
//! - Reauthentication ([`assurance::ReauthLimits::NIST_REV4`], the default): AAL1 30 days
//!   (SP 800-63B-4 §2.1.3); AAL2 24 hours overall and 1 hour of inactivity (§2.2.3); AAL3
//!   12 hours and 15 minutes of inactivity (§2.3.3). The 2017 values (rev3 §4.2.3: AAL2
//!   12 hours / 30 minutes; §4.3.3: AAL3 12 hours / 15 minutes) are
//!   [`assurance::ReauthLimits::NIST_REV3`]. All are configurable in the document.
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

pub mod assurance;
mod cidr;
mod decision;
pub mod device;
pub mod document;
pub mod enroll;
mod error;
mod evaluate;
pub mod grace;
pub mod input;
mod kinds;
pub mod lockout;
pub mod oidc;
mod policy;
mod requirement;

pub use decision::{Decision, Reason, ReasonCode};
pub use error::Error;
pub use input::Input;
pub use policy::Policy;
