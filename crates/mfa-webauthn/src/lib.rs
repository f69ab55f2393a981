//! # mfa-webauthn: a WebAuthn Level 3 relying party
//!
//! Registration (§7.1) and authentication (§7.2) ceremonies for passkeys and security
//! keys, verifying what real browsers and authenticators send.
//!
//! ## Quick start
//!
//! A registration and a login; the testkit's software authenticator stands in for the
//! browser (`navigator.credentials.create()` / `.get()` and `toJSON()`), so this runs
//! as is with the `testkit` feature.
//!
#![cfg_attr(feature = "testkit", doc = "```")]
#![cfg_attr(not(feature = "testkit"), doc = "```ignore")]
//! use mfa_core::{OsRandom, Timestamp};
//! use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
//! use mfa_webauthn::{AuthenticationRequest, RegistrationRequest, RelyingParty, cose::Algorithm};
//!
//! let rp = RelyingParty::builder("example.com", "Example")
//!     .origin("https://example.com")
//!     .build()?;
//! let now = Timestamp::from_unix_secs(1_700_000_000); // never read from a clock here
//! let mut browser = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom)?;
//!
//! // Registration (§7.1): options go to the page, `state` stays on the server.
//! let req = RegistrationRequest::new(b"user-1".to_vec(), "alice", "Alice");
//! let (options, state) = rp.start_registration(&req, now, &mut OsRandom)?;
//! let response = browser.register(&options, "https://example.com", Fault::None)?;
//! let record = rp.finish_registration(&state, &response, now)?.record; // store it
//!
//! // Authentication (§7.2): verify against the stored record, store the new one.
//! let req = AuthenticationRequest { allow_credentials: vec![record.descriptor()], ..Default::default() };
//! let (options, state) = rp.start_authentication(&req, now, &mut OsRandom)?;
//! let response = browser.authenticate(&options.public_key, "https://example.com", Fault::None)?;
//! let login = rp.finish_authentication(&state, &response, &record, now)?;
//! assert!(login.record.sign_count > record.sign_count);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Algorithms
//!
//! EdDSA, ES256 and RS256 are offered by default. ES384, ES512, PS256/384/512,
//! RS384/512, Ed448 and ML-DSA-44 are verified too, and offered when configured
//! ([`Backend::supports`] says which backend verifies which: aws-lc has no Ed448). RS1
//! (SHA-1) credential keys need [`RelyingPartyBuilder::danger_allow_rs1`], and RS1
//! attestation statements (signed by a certificate's key)
//! [`RelyingPartyBuilder::danger_allow_rs1_attestation`]: two risks, two opt-ins, both
//! off by default. Verification uses the key
//! the record keeps decoded ([`CredentialRecord::decoded_public_key`]).
//!
//! ```
//! use mfa_core::{OsRandom, Timestamp};
//! use mfa_webauthn::{RegistrationRequest, RelyingParty, cose::Algorithm};
//!
//! let rp = RelyingParty::builder("example.com", "Example")
//!     .origin("https://example.com")
//!     .algorithms([Algorithm::EdDsa, Algorithm::Es256, Algorithm::Es384, Algorithm::Rs256])
//!     .build()?;
//! let req = RegistrationRequest::new(b"user-1".to_vec(), "alice", "Alice");
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let (options, _state) = rp.start_registration(&req, now, &mut OsRandom)?;
//! let offered: Vec<i64> = serde_json::to_value(&options)?["pubKeyCredParams"]
//!     .as_array()
//!     .into_iter()
//!     .flatten()
//!     .filter_map(|p| p["alg"].as_i64())
//!     .collect();
//! assert_eq!(offered, [-8, -7, -35, -257]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## As an `mfa_core` factor
//!
//! [`WebAuthnFactor`] is a relying party plus the user-verification requirement its
//! challenges start from. Without a record it starts a usernameless passkey sign-in (an
//! empty allow list, conditional mediation allowed); the service finds the record by the
//! response's credential id and checks that [`Authentication::user_handle`] is that
//! account's.
//!
#![cfg_attr(feature = "testkit", doc = "```")]
#![cfg_attr(not(feature = "testkit"), doc = "```ignore")]
//! use mfa_core::{AuthMethod, Factor, OsRandom, StartOptions, Timestamp, UserVerification};
//! use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
//! use mfa_webauthn::{RegistrationRequest, RelyingParty, WebAuthnFactor, cose::Algorithm};
//!
//! let rp = RelyingParty::builder("example.com", "Example").origin("https://example.com").build()?;
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let mut browser = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom)?;
//! let req = RegistrationRequest::new(b"user-1".to_vec(), "alice", "Alice");
//! let (options, state) = rp.start_registration(&req, now, &mut OsRandom)?;
//! let response = browser.register(&options, "https://example.com", Fault::None)?;
//! let record = rp.finish_registration(&state, &response, now)?.record;
//!
//! // Passwordless: no record yet, user verification required.
//! let factor = WebAuthnFactor::new(rp, UserVerification::Required);
//! let (options, state) = factor.start(None, &StartOptions::new(), now, &mut OsRandom)?;
//! assert!(options.public_key.allow_credentials.is_empty());
//! let response = browser.authenticate(&options.public_key, "https://example.com", Fault::None)?;
//! // ... the service looks the record up by response.raw_id ...
//! let ok = factor.verify(&record, &state, &response, now, &mut OsRandom)?;
//! assert_eq!(ok.details.user_handle, record.user_handle);
//! // Nothing attests this software key: `swk`, not `hwk`; UV makes it multi-factor.
//! assert_eq!(ok.methods, [AuthMethod::Swk, AuthMethod::Pop, AuthMethod::User, AuthMethod::Mfa]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## `amr` values and what is trusted
//!
//! A verified assertion reports `hwk` or `swk`, then `pop`, then `user` (UP), then `mfa` when the UV
//! flag is set ([`WebAuthnFactor`] has the table). `hwk` needs proof that the key is
//! hardware-bound, and the BE = 0 flag alone is not proof: with `none` or self
//! attestation any software authenticator can claim it. So `hwk` is reported only when
//! the attestation chained to a configured trust anchor
//! ([`RelyingPartyBuilder::trust_anchors`], [`CredentialRecord::attestation_trusted`]) or
//! the relying party opted in with
//! [`RelyingPartyBuilder::danger_trust_device_bound_flag`]; see
//! [`RelyingParty::is_hardware_bound`]. The client's `authenticatorAttachment` is
//! unsigned too: a cross-platform claim reaches [`mfa_core::FactorKind`] only for a key
//! proven hardware-bound. credProps' `rk` is kept as a hint
//! ([`CredentialRecord::cred_props_rk`]), never as a fact.
//!
//! ## Metadata (FIDO MDS3)
//!
//! [`MetadataLoader`] verifies a BLOB the operator downloaded (JWS `alg` allow list,
//! `x5c` to GlobalSign Root CA - R3 or the caller's roots, a `no` above the loaded one)
//! and compiles it into a [`MetadataTrustStore`], a [`TrustAnchorSource`] for
//! [`RelyingPartyBuilder::trust_anchors`]; the builder's AAGUID allow / deny lists,
//! refused statuses and minimum certification level then apply at registration
//! ([`Error::Rejected`] with code `untrusted_attestation`; [`VerificationFailure::authenticator_refusal`] says why). See [`metadata`].
//!
//! Next: [`RelyingParty::builder`] for origins, algorithms and timeouts; [`hazmat`] for
//! the pure §7.1 / §7.2 cores, the signature seam and the authenticator-data parser. The
//! crate README has the spec coverage, the features and the benchmark table.
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

/// The README's examples, run as doctests (they use the `testkit` authenticator).
#[cfg(all(doctest, feature = "testkit"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

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
