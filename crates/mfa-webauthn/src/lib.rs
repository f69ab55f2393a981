//! # mfa-webauthn: a WebAuthn Level 3 relying party
//!
//! Registration (§7.1) and authentication (§7.2) ceremonies for passkeys and security
//! keys, verifying what real browsers and authenticators send.
//!
//! See the crate README for a walk-through, the spec coverage and the features;
//! the `testkit` module has a complete doctested flow.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attestation;
pub mod authdata;
mod authentication;
mod client_data;
mod config;
pub mod cose;
pub mod crypto;
mod error;
pub mod json;
mod registration;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

pub use attestation::AttestationType;
pub use authentication::{
    Authentication, AuthenticationRequest, AuthenticationState, verify_authentication,
};
pub use client_data::CollectedClientData;
pub use config::{Expectations, RelyingParty, RelyingPartyBuilder, SignCountPolicy};
pub use error::{Error, ReasonCode, Result};
pub use registration::{
    AttestationObject, Conveyance, CredentialRecord, Preference, Registration, RegistrationRequest,
    RegistrationState, parse_attestation_object, verify_registration,
};
