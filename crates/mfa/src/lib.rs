//! # mfa: the mfa-rs service
//!
//! One async API over a [`Store`](mfa_core::store::Store) for the whole life cycle of a
//! user's second factors: enroll and confirm, list, rename, remove, reset, challenge and
//! verify (with lockout), remembered devices, audit events and security notifications,
//! with every stored record sealed by AES-256-GCM ([`envelope`]).
//!
//! See the README for a walk-through; the public API in brief:
//!
//! | call | what it does |
//! | --- | --- |
//! | [`Service::builder`] → [`ServiceBuilder::build`] | store, policy, keys; optional clock, random source, relying party, recovery keyring, issuer, audit sink, notifier |
//! | [`Service::enroll_totp`] / [`enroll_hotp`](Service::enroll_hotp) → [`Service::confirm`] | secret, `otpauth://` URI (and QR); active after the first correct code |
//! | [`Service::begin_webauthn_registration`] → [`finish_webauthn_registration`](Service::finish_webauthn_registration) | platform or roaming; credential ids unique through the lookup key |
//! | [`Service::enroll_recovery_codes`] → [`confirm_recovery_codes`](Service::confirm_recovery_codes); [`regenerate_recovery_codes`](Service::regenerate_recovery_codes) | shown once; regenerating replaces the whole set |
//! | [`Service::list_factors`], [`rename_factor`](Service::rename_factor), [`remove_factor`](Service::remove_factor) | never a secret; removal guarded by the policy |
//! | [`Service::reset_user`], [`unlock`](Service::unlock), [`rekey_user`](Service::rekey_user) | administration |
//! | [`Service::evaluate`], [`preferred_factor`](Service::preferred_factor) | the policy's `Allow` / `StepUp` / `Enroll` / `Deny` |
//! | [`Service::start_challenge`] / [`start_passkey_signin`](Service::start_passkey_signin) → [`verify`](Service::verify) / [`finish_passkey_signin`](Service::finish_passkey_signin) | lockout first; the outcome carries `amr`, the AAL, the factor, recovery codes left |
//! | [`Service::remember_device`], [`check_device`](Service::check_device), [`list_devices`](Service::list_devices), [`forget_device`](Service::forget_device) | signed token **and** the store entry |
//!
//! ## Fail-closed behaviour
//!
//! | the store fails while… | the service |
//! | --- | --- |
//! | reading or counting failures before a verification | refuses the attempt **unverified** ([`ServiceError::Core`] with a store error) |
//! | loading or compare-and-swapping the factor | refuses: no success without a stored update |
//! | clearing the counters after a success | keeps the success, logs a warning (the counter only stays too high) |
//! | evaluating policy, checking a device | returns the error: the caller must treat it as "MFA required" |
//! | sending a notification or auditing | keeps the operation, logs a warning |
//!
//! ## Lockout
//!
//! Every attempt past a backoff is counted *before* verifying (one atomic
//! increment-and-read per factor and per user), so 64 concurrent guesses count 64 and at
//! most `failures.max_consecutive` of them are verified; a success clears both counters.
//! Attempts while locked are counted too (they extend the lockout). The per-user limit
//! defaults to three times the per-factor one ([`ServiceBuilder::user_failure_limit`]).
//!
//! ## Factors
//!
//! [`BuiltinFactor`] lists what the service dispatches to: TOTP, HOTP, WebAuthn,
//! recovery codes. SMS, voice, email and push are refused with
//! [`ServiceError::Unsupported`] until mfa-oob lands; they slot in as new variants, a
//! two-phase enrollment (send, then confirm) through the same challenge store, and a
//! [`FactorInfo::destination`] mask. Security notifications go through the interim
//! [`Notifier`] trait, to be unified with mfa-oob's `Sender`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audit;
pub mod envelope;
mod error;
mod random;
mod service;

pub use audit::{AuditEvent, AuditSink, EventKind, SecurityNotice};
pub use envelope::KeySet;
pub use error::{Result, ServiceError};
pub use service::{
    BuiltinFactor, Challenge, DynPushTransport, DynSender, FactorInfo, OobEnrollment,
    OtpEnrollment, PushEnrollment, RecoveryEnrollment, RecoveryUse, Response, SendFuture, Service,
    ServiceBuilder, Verification,
};

// The crates whose types appear in this API.
pub use mfa_core as core;
pub use mfa_oob as oob;
pub use mfa_otp as otp;
pub use mfa_policy as policy;
pub use mfa_recovery as recovery;
pub use mfa_webauthn as webauthn;

/// The README's walk-through, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
