#![doc = include_str!("../README.md")]
//!
//! ## The public API in brief
//!
//! | call | what it does |
//! | --- | --- |
//! | [`Service::builder`] → [`ServiceBuilder::build`] | store, policy, keys; optional clock, random source, relying party, recovery keyring, issuer, audit sink, [`sender`](ServiceBuilder::sender), [`oob_codes`](ServiceBuilder::oob_codes), [`push`](ServiceBuilder::push) |
//! | [`Service::start_totp_enrollment`] / [`start_hotp_enrollment`](Service::start_hotp_enrollment) → [`Service::finish_enrollment`] | secret, `otpauth://` URI (and QR); active after the first correct code |
//! | [`Service::start_oob_enrollment`] → [`Service::finish_enrollment`] | SMS, voice, email: normalised destination, per-user lookup key, code sent; active after the code |
//! | [`Service::start_push_enrollment`] → [`finish_push_enrollment`](Service::finish_push_enrollment) | the device signs the challenge with the key it registers |
//! | [`Service::start_webauthn_registration`] → [`finish_webauthn_registration`](Service::finish_webauthn_registration) | platform or roaming; credential ids unique through the lookup key |
//! | [`Service::start_recovery_enrollment`] → [`finish_recovery_enrollment`](Service::finish_recovery_enrollment); [`regenerate_recovery_codes`](Service::regenerate_recovery_codes) | shown once; regenerating replaces the whole set |
//! | [`Service::list_factors`], [`rename_factor`](Service::rename_factor), [`remove_factor`](Service::remove_factor) | never a secret; removal guarded by the policy |
//! | [`Service::admin`]: [`reset_user`](Admin::reset_user), [`unlock`](Admin::unlock), [`lockout_status`](Admin::lockout_status), [`rekey_user`](Admin::rekey_user), [`purge_failures`](Admin::purge_failures) | the operator's calls, apart from the everyday ones: reset, unlock, read the failure counters and lockout states, re-seal, purge lapsed counters |
//! | [`Service::evaluate`], [`preferred_factor`](Service::preferred_factor) | the policy's `Allow` / `StepUp` / `Enroll` / `Deny` |
//! | [`Service::start_challenge`] / [`start_passkey_signin`](Service::start_passkey_signin) → [`verify`](Service::verify) / [`finish_passkey_signin`](Service::finish_passkey_signin) | lockout first; the outcome carries `amr`, the AAL, the factor, recovery codes left; SMS/voice/email codes are sent (after the send caps) and checked by the attempt loop, once |
//! | [`Service::resend_code`] | a new code for the same challenge (attempts kept), or a voice call instead |
//! | [`Service::respond_push`], [`push_status`](Service::push_status) | the device's signed answer (a denial is audited as [`EventKind::PushDenied`]); the browser's poll, not consuming |
//! | [`Service::remember_device`], [`check_device`](Service::check_device), [`list_devices`](Service::list_devices), [`forget_device`](Service::forget_device) | signed token **and** the store entry |
//!
//! ## Fail-closed behaviour
//!
//! | the store fails while… | the service |
//! | --- | --- |
//! | reading or counting failures before a verification | refuses the attempt **unverified** ([`Error::Core`] with a store error) |
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
//! recovery codes, out-of-band codes (SMS, voice, email: mfa-oob's `OobFactor`) and push
//! (mfa-oob's `PushFactor`). A kind whose factor is not configured fails with
//! [`Error::NotConfigured`]. [`FactorInfo::destination`] is the masked phone
//! number or address (the device name for push). Phone numbers go only to the country
//! calling codes the `SendLimits` allow, and that list starts **empty**: configure it,
//! or every phone enrollment is refused ([`Error::Limited`]).
//!
//! ## Security notices
//!
//! A [`SecurityNotice`] (factor added or removed, recovery code used, recovery codes
//! regenerated, MFA reset, push denied) goes through the same `mfa_oob::Sender` as the
//! codes, to the user's first confirmed email factor, else their first confirmed SMS or
//! voice number; a user with neither gets none.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audit;
pub mod envelope;
mod error;
pub mod import;
pub mod ops;
mod random;
mod service;

pub use audit::{AuditEvent, AuditSink, EventKind, SecurityNotice};
pub use error::{Error, Result};
pub use service::{
    Admin, BuiltinFactor, Challenge, DeviceCookie, FactorInfo, FactorLockout, LockoutStatus,
    MetadataAction, MetadataRecheck, OobAddress, OobEnrollment, OtpEnrollment, PushEnrollment,
    PushNonce, RecoveryEnrollment, RecoveryUse, Response, Service, ServiceBuilder, Verification,
};

// What every service uses, at the top level.
pub use mfa_core::{
    AuthMethod, Clock, FactorId, FactorKind, KeyId, Keyring, OsRandom, SecretBytes, StartOptions,
    SystemClock, Timestamp, UserId,
};
pub use mfa_policy::Policy;
pub use mfa_policy::assurance::Aal;
pub use mfa_policy::input::Session;

/// The store backends: [`MemoryStore`](store::MemoryStore) always; `SqliteStore`,
/// `PostgresStore` and `RedisStore` (with `Split`) behind the features `sqlite`,
/// `postgres` and `redis`; `AnyStore` picks one by URL at run time.
pub use mfa_store as store;

/// Everything the everyday calls take and give: `use mfa::prelude::*;`.
pub mod prelude {
    pub use crate::store::MemoryStore;
    pub use crate::{
        Aal, AuthMethod, Challenge, Error, FactorId, KeyId, Keyring, Policy, Response, Service,
        Session, StartOptions, UserId, Verification,
    };
}

// The crates whose types appear in this API.
pub use mfa_core as core;
pub use mfa_oob as oob;
pub use mfa_otp as otp;
pub use mfa_policy as policy;
pub use mfa_recovery as recovery;
pub use mfa_webauthn as webauthn;
