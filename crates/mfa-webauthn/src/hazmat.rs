//! The low-level layer, for callers who hold their own state or build their own
//! relying party: **you take over the checks a [`RelyingParty`](crate::RelyingParty)
//! makes around these functions** (state expiry, single use, the rp id of the state,
//! storing the new record with a compare-and-swap, turning the result into `amr`).
//!
//! - [`verify_registration`] / [`verify_authentication`]: the pure §7.1 / §7.2 cores
//!   against explicit [`Expectations`](crate::Expectations), as the conformance runner
//!   and fuzzers call them; [`verify_registration_with`] adds an
//!   [`AttestationPolicy`](crate::AttestationPolicy) (trust anchors) and the instant;
//! - [`verify_signature`]: the one signature seam (assertions, attestation statements,
//!   the Wycheproof tests), on either [`Backend`](crate::Backend);
//! - [`authdata`]: the authenticator-data parser and its [`Flags`](authdata::Flags);
//! - [`parse_attestation_object`]: the CBOR attestation object, undecoded statement;
//! - [`formats`]: the TPM, Android and SafetyNet structures inside statements;
//! - [`validate_certificate_path`]: the attestation chain validation, alone.

pub mod authdata;

/// The attestation structures this crate decodes itself (fuzzed, and useful to inspect
/// a statement): TPM `TPMT_PUBLIC` / `TPMS_ATTEST`, the Android KeyDescription, the
/// SafetyNet JWS and the Apple nonce extension. Parsing checks structure only; the
/// §8 rules are applied by the registration ceremony.
pub mod formats {
    pub use crate::attestation::android::{KeyDescription, parse_key_description};
    pub use crate::attestation::apple::nonce_of_extension;
    pub use crate::attestation::safetynet::{Jws, parse_jws};
    pub use crate::attestation::tpm::{CertInfo, PubArea, TpmKey, parse_cert_info, parse_pub_area};
}

pub use crate::authentication::verify_authentication;
pub use crate::crypto::verify_signature;
pub use crate::registration::{
    AttestationObject, parse_attestation_object, verify_registration, verify_registration_with,
};
pub use crate::trust::validate_certificate_path;
