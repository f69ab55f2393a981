//! Typed errors. Configuration, random-source and malformed-input errors are typed; every
//! verification outcome is one opaque [`Error::Rejected`] carrying a [`FailureCode`] for
//! logs, so a direct caller gets no oracle to branch on (WebAuthn L3 §13.5.1 on
//! not revealing why a ceremony failed; the shape of ed25519-dalek's `SignatureError`).

use std::fmt;

use mfa_core::{InvalidInput, RandomError, RejectReason, Rejected};

/// A crate-local result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The crate's internal result: the precise reason, converted into [`Error`] where a
/// public function returns.
pub(crate) type IResult<T> = std::result::Result<T, InternalError>;

/// What can go wrong in a ceremony, as a caller may act on it.
///
/// Only [`Error::Config`], [`Error::Malformed`] and [`Error::Random`] say what was wrong:
/// they describe the caller's own configuration, input that is not WebAuthn at all, or
/// the machine. Every check that a well-formed response fails (signature, challenge,
/// origin, counter, attestation, …) is the one [`Error::Rejected`]; its
/// [`VerificationFailure::code`] is for logs and audit, never for the end user.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The relying-party configuration or a request is invalid.
    #[error(transparent)]
    Config(#[from] InvalidInput),
    /// The response (JSON, clientDataJSON, CBOR, COSE key, authenticator data) cannot be
    /// parsed.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// The random source failed while starting a ceremony.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The response was well formed and a verification check refused it.
    #[error(transparent)]
    Rejected(#[from] VerificationFailure),
}

impl Error {
    /// The conformance reason code of this failure, or `None` for errors no response can
    /// cause (an invalid configuration, a failed random source).
    pub fn failure_code(&self) -> Option<FailureCode> {
        match self {
            Self::Malformed(m) => Some(m.code()),
            Self::Rejected(r) => Some(r.code()),
            Self::Config(_) | Self::Random(_) => None,
        }
    }
}

/// Input that is not a well-formed WebAuthn structure: what could not be parsed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Malformed {
    what: &'static str,
    authenticator_data: bool,
}

impl Malformed {
    /// The structure (and, where useful, the rule) that did not parse.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// [`FailureCode::MalformedAuthenticatorData`] or [`FailureCode::Malformed`].
    pub fn code(&self) -> FailureCode {
        if self.authenticator_data {
            FailureCode::MalformedAuthenticatorData
        } else {
            FailureCode::Malformed
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.authenticator_data {
            write!(f, "malformed authenticator data: {}", self.what)
        } else {
            write!(f, "malformed {}", self.what)
        }
    }
}

impl std::error::Error for Malformed {}

/// A verification check refused the response. Deliberately opaque: nothing to match on.
/// [`code`](Self::code) (and the `source()` chain) say why, for logs only.
#[derive(thiserror::Error)]
#[error("webauthn verification failed")]
pub struct VerificationFailure {
    #[source]
    detail: InternalError,
}

impl VerificationFailure {
    /// The conformance reason code; for logs and audit only, never for the end user.
    pub fn code(&self) -> FailureCode {
        self.detail.failure_code().unwrap_or(FailureCode::Malformed)
    }

    /// The facade's coarse reason (an expired state is [`RejectReason::Expired`], a
    /// refused authenticator model [`RejectReason::RequirementNotMet`]).
    pub fn reject_reason(&self) -> RejectReason {
        match &self.detail {
            InternalError::Expired => RejectReason::Expired,
            InternalError::AuthenticatorRefused(_) => RejectReason::RequirementNotMet,
            _ => self.code().reject_reason(),
        }
    }

    /// Why the relying party's authenticator policy refused the model, when that is the
    /// reason (for the operator's log: allow list, deny list, metadata status).
    pub fn authenticator_refusal(&self) -> Option<&crate::trust::AuthenticatorRefusal> {
        match &self.detail {
            InternalError::AuthenticatorRefused(r) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Debug for VerificationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationFailure")
            .field("code", &self.code())
            .field("detail", &format_args!("{}", self.detail))
            .finish()
    }
}

impl From<InternalError> for Error {
    fn from(e: InternalError) -> Self {
        match e {
            InternalError::Config(i) => Self::Config(i),
            InternalError::Random(r) => Self::Random(r),
            InternalError::Malformed(what) => Self::Malformed(Malformed {
                what,
                authenticator_data: false,
            }),
            InternalError::MalformedAuthenticatorData(what) => Self::Malformed(Malformed {
                what,
                authenticator_data: true,
            }),
            detail => Self::Rejected(VerificationFailure { detail }),
        }
    }
}

impl From<Error> for InternalError {
    fn from(e: Error) -> Self {
        match e {
            Error::Config(i) => Self::Config(i),
            Error::Random(r) => Self::Random(r),
            Error::Malformed(m) if m.authenticator_data => Self::MalformedAuthenticatorData(m.what),
            Error::Malformed(m) => Self::Malformed(m.what),
            Error::Rejected(r) => r.detail,
        }
    }
}

/// Every precise reason a ceremony can fail, private to the crate (as ed25519-dalek's
/// `InternalError` behind `SignatureError`). Callers see [`Error`]: configuration,
/// random-source and malformed-input errors stay typed there, and every verification
/// outcome collapses into [`Error::Rejected`], whose [`VerificationFailure::code`] and
/// `source()` carry this detail for logs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InternalError {
    /// The credential's algorithm is not one the relying party allows.
    #[error("credential algorithm {0} is not allowed")]
    AlgorithmNotAllowed(i64),
    /// The configured [`Backend`](crate::Backend) does not verify this COSE algorithm
    /// (Ed448 with aws-lc); see [`Backend::supports`](crate::Backend::supports).
    #[error("algorithm {0} is not supported by this backend")]
    AlgorithmNotSupported(i64),
    /// The authenticator's backup-eligibility flag differs from the stored one.
    #[error("backup eligibility changed")]
    BackupEligibilityChanged,
    /// The assertion signature does not verify with the stored public key.
    #[error("bad signature")]
    BadSignature,
    /// `clientDataJSON.challenge` differs from the expected challenge.
    #[error("challenge mismatch")]
    ChallengeMismatch,
    /// `clientDataJSON.type` is not the one this ceremony requires.
    #[error("client data type mismatch")]
    ClientDataTypeMismatch,
    /// The relying-party configuration is invalid.
    #[error(transparent)]
    Config(#[from] InvalidInput),
    /// The credential id is not the stored / allowed one, or rawId differs from the
    /// attested credential id.
    #[error("credential id mismatch")]
    CredentialIdMismatch,
    /// `crossOrigin` is true or `topOrigin` present, and the policy does not allow it.
    #[error("cross-origin use not allowed")]
    CrossOriginNotAllowed,
    /// The ceremony state expired before the response arrived.
    #[error("ceremony state expired")]
    Expired,
    /// A certificate breaks its attestation format's requirements.
    #[error("invalid attestation certificate: {0}")]
    InvalidAttestationCertificate(&'static str),
    /// The attestation statement does not verify.
    #[error("invalid attestation statement: {0}")]
    InvalidAttestationStatement(&'static str),
    /// An RS1 (SHA-1, COSE -65535) credential key without the relying party's
    /// [`danger_allow_rs1`](crate::RelyingPartyBuilder::danger_allow_rs1) opt-in, or an
    /// RS1 signature given to [`verify_signature`](crate::hazmat::verify_signature).
    /// (RS1 attestation statements without
    /// [`danger_allow_rs1_attestation`](crate::RelyingPartyBuilder::danger_allow_rs1_attestation)
    /// are `InvalidAttestationStatement`.)
    #[error("insecure algorithm {0} refused")]
    InsecureAlgorithm(i64),
    /// The credential JSON, clientDataJSON, CBOR or COSE key cannot be parsed.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// authenticatorData is truncated, has trailing bytes, or its flags disagree with it.
    #[error("malformed authenticator data: {0}")]
    MalformedAuthenticatorData(&'static str),
    /// `clientDataJSON.origin` is not an allowed origin.
    #[error("origin not allowed")]
    OriginMismatch,
    /// The random source failed while starting a ceremony.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The rpIdHash is not SHA-256 of the rp id (or of the AppID where that applies).
    #[error("rp id hash mismatch")]
    RpIdMismatch,
    /// Both sign counts are non-zero and the new one is not greater than the stored one.
    #[error("sign count did not increase")]
    SignCountRegression,
    /// The response carries the output of an extension that was not requested and that
    /// this crate would otherwise act on (§7.1 step 18, §7.2 step 20).
    #[error("unrequested {0} extension output")]
    UnrequestedExtension(&'static str),
    /// The attestation format is not one this crate verifies.
    #[error("unsupported attestation format")]
    UnsupportedAttestationFormat,
    /// Trust anchors apply to the statement and its chain does not validate to one at
    /// the verification instant (signature, validity, constraints), or trusted
    /// attestation is required and the statement is not trusted.
    #[error("untrusted attestation: {0}")]
    UntrustedAttestation(&'static str),
    /// The relying party's [`AuthenticatorPolicy`](crate::trust::AuthenticatorPolicy)
    /// refuses this authenticator (AAGUID lists, metadata status, certification level).
    /// Code `untrusted_attestation`; the facade's reason is `requirement_not_met`.
    #[error("authenticator refused: {0}")]
    AuthenticatorRefused(crate::trust::AuthenticatorRefusal),
    /// android-safetynet: `ctsProfileMatch` is false while the policy requires it.
    #[error("safetynet cts profile mismatch")]
    CtsProfileMismatch,
    /// The userHandle differs from the stored credential's user handle.
    #[error("user handle mismatch")]
    UserHandleMismatch,
    /// The UP flag is clear while user presence is required.
    #[error("user not present")]
    UserNotPresent,
    /// The UV flag is clear while user verification is required.
    #[error("user verification required")]
    UserVerificationRequired,
}

impl InternalError {
    /// The conformance reason code of this failure, or `None` for errors no response can
    /// cause (an invalid configuration, a failed random source).
    pub(crate) fn failure_code(&self) -> Option<FailureCode> {
        Some(match self {
            Self::AlgorithmNotAllowed(_)
            | Self::AlgorithmNotSupported(_)
            | Self::InsecureAlgorithm(_) => FailureCode::AlgorithmNotAllowed,
            Self::BackupEligibilityChanged => FailureCode::BackupEligibilityChanged,
            Self::BadSignature => FailureCode::BadSignature,
            // An expired state no longer vouches for its challenge.
            Self::ChallengeMismatch | Self::Expired => FailureCode::ChallengeMismatch,
            Self::ClientDataTypeMismatch => FailureCode::ClientDataTypeMismatch,
            Self::CredentialIdMismatch => FailureCode::CredentialIdMismatch,
            Self::CrossOriginNotAllowed => FailureCode::CrossOriginNotAllowed,
            Self::InvalidAttestationCertificate(_) => FailureCode::InvalidAttestationCertificate,
            Self::InvalidAttestationStatement(_) => FailureCode::InvalidAttestationStatement,
            Self::Malformed(_) => FailureCode::Malformed,
            Self::MalformedAuthenticatorData(_) => FailureCode::MalformedAuthenticatorData,
            Self::OriginMismatch => FailureCode::OriginMismatch,
            Self::RpIdMismatch => FailureCode::RpIdMismatch,
            Self::SignCountRegression => FailureCode::SignCountRegression,
            Self::UnrequestedExtension(_) => FailureCode::Malformed,
            Self::UnsupportedAttestationFormat => FailureCode::UnsupportedAttestationFormat,
            Self::UntrustedAttestation(_) | Self::AuthenticatorRefused(_) => {
                FailureCode::UntrustedAttestation
            }
            Self::CtsProfileMismatch => FailureCode::CtsProfileMismatch,
            Self::UserHandleMismatch => FailureCode::UserHandleMismatch,
            Self::UserNotPresent => FailureCode::UserNotPresent,
            Self::UserVerificationRequired => FailureCode::UserVerificationRequired,
            Self::Config(_) | Self::Random(_) => return None,
        })
    }
}

impl From<Error> for mfa_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Config(i) => Self::Invalid(i),
            Error::Random(r) => Self::Random(r),
            Error::Malformed(m) => Self::Rejected(Rejected::with_detail(
                RejectReason::Malformed,
                m.code().as_str(),
            )),
            Error::Rejected(r) => {
                Self::Rejected(Rejected::with_detail(r.reject_reason(), r.code().as_str()))
            }
        }
    }
}

/// The reason codes of the `mfa-webauthn-case/1` conformance format (its SCHEMA.md).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// The credential's algorithm is not among the allowed ones.
    AlgorithmNotAllowed,
    /// The BE flag differs from the stored one.
    BackupEligibilityChanged,
    /// The assertion signature does not verify.
    BadSignature,
    /// `clientDataJSON.challenge` differs from the expected challenge.
    ChallengeMismatch,
    /// `clientDataJSON.type` is wrong for the ceremony.
    ClientDataTypeMismatch,
    /// The credential id is not the stored / allowed / attested one.
    CredentialIdMismatch,
    /// Cross-origin use that the policy does not allow.
    CrossOriginNotAllowed,
    /// Android SafetyNet ctsProfileMatch false while required.
    CtsProfileMismatch,
    /// A certificate breaks its format's requirements.
    InvalidAttestationCertificate,
    /// The attestation statement does not verify.
    InvalidAttestationStatement,
    /// Something cannot be parsed.
    Malformed,
    /// authenticatorData is truncated, has trailing bytes, or flags disagree with contents.
    MalformedAuthenticatorData,
    /// The origin is not allowed.
    OriginMismatch,
    /// rpIdHash mismatch.
    RpIdMismatch,
    /// The sign count did not increase.
    SignCountRegression,
    /// An unknown attestation format.
    UnsupportedAttestationFormat,
    /// The chain does not validate to a trust anchor.
    UntrustedAttestation,
    /// The userHandle differs from the stored one.
    UserHandleMismatch,
    /// UP flag clear while required.
    UserNotPresent,
    /// UV flag clear while required.
    UserVerificationRequired,
}

impl FailureCode {
    /// The snake_case code as SCHEMA.md spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::BackupEligibilityChanged => "backup_eligibility_changed",
            Self::BadSignature => "bad_signature",
            Self::ChallengeMismatch => "challenge_mismatch",
            Self::ClientDataTypeMismatch => "client_data_type_mismatch",
            Self::CredentialIdMismatch => "credential_id_mismatch",
            Self::CrossOriginNotAllowed => "cross_origin_not_allowed",
            Self::CtsProfileMismatch => "cts_profile_mismatch",
            Self::InvalidAttestationCertificate => "invalid_attestation_certificate",
            Self::InvalidAttestationStatement => "invalid_attestation_statement",
            Self::Malformed => "malformed",
            Self::MalformedAuthenticatorData => "malformed_authenticator_data",
            Self::OriginMismatch => "origin_mismatch",
            Self::RpIdMismatch => "rp_id_mismatch",
            Self::SignCountRegression => "sign_count_regression",
            Self::UnsupportedAttestationFormat => "unsupported_attestation_format",
            Self::UntrustedAttestation => "untrusted_attestation",
            Self::UserHandleMismatch => "user_handle_mismatch",
            Self::UserNotPresent => "user_not_present",
            Self::UserVerificationRequired => "user_verification_required",
        }
    }

    /// The facade's coarse reason for this code.
    pub fn reject_reason(self) -> RejectReason {
        match self {
            Self::BadSignature
            | Self::InvalidAttestationCertificate
            | Self::InvalidAttestationStatement
            | Self::UntrustedAttestation => RejectReason::BadSignature,
            Self::ChallengeMismatch
            | Self::ClientDataTypeMismatch
            | Self::CrossOriginNotAllowed
            | Self::OriginMismatch
            | Self::RpIdMismatch => RejectReason::BindingMismatch,
            Self::CredentialIdMismatch | Self::UserHandleMismatch => RejectReason::UnknownFactor,
            Self::Malformed
            | Self::MalformedAuthenticatorData
            | Self::UnsupportedAttestationFormat => RejectReason::Malformed,
            Self::SignCountRegression => RejectReason::CounterRegression,
            Self::AlgorithmNotAllowed
            | Self::BackupEligibilityChanged
            | Self::CtsProfileMismatch
            | Self::UserNotPresent
            | Self::UserVerificationRequired => RejectReason::RequirementNotMet,
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
