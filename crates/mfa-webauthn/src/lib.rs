#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attestation;
mod authentication;
mod client_data;
mod config;
pub mod cose;
mod credential;
mod crypto;
mod error;
mod factor;
pub mod hazmat;
pub mod json;
pub mod metadata;
pub mod origins;
pub mod providers;
mod registration;
pub mod signals;
pub mod trust;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

pub use attestation::AttestationType;
pub use authentication::{Authentication, AuthenticationRequest, AuthenticationState};
pub use client_data::CollectedClientData;
pub use config::{
    BackupEligibilityRule, Expectations, RelyingParty, RelyingPartyBuilder, SignCountPolicy,
};
pub use credential::{CredentialRecord, Preference};
pub use crypto::Backend;
pub use error::{Error, FailureCode, Malformed, Result, VerificationFailure};
pub use factor::WebAuthnFactor;
pub use metadata::{MetadataLoader, MetadataTrustStore};
pub use origins::{OriginScope, RelatedOrigins};
pub use providers::{AaguidEvidence, AuthenticatorModel, NameSource};
pub use registration::{Conveyance, Registration, RegistrationRequest, RegistrationState};
pub use trust::{
    AttestationPolicy, AttestationTrust, AuthenticatorPolicy, AuthenticatorRefusal, TrustAnchor,
    TrustAnchorSource, TrustAnchors, TrustQuery,
};
