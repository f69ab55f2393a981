//! Attestation trust (§7.1 steps 23–24): which roots a relying party accepts, and what
//! the evaluation concluded.
//!
//! A [`TrustAnchorSource`] answers "which roots may this attestation chain to?" for a
//! statement's format and AAGUID. [`TrustAnchors`] is the in-memory source (roots for
//! every authenticator, for one format, or for one AAGUID); the metadata-backed source
//! is [`MetadataTrustStore`](crate::metadata::MetadataTrustStore) (FIDO MDS3), which
//! also answers [`TrustAnchorSource::metadata_for`] with status reports. Either plugs
//! into [`RelyingPartyBuilder::trust_anchors`](crate::RelyingPartyBuilder::trust_anchors).
//!
//! The rule, for each registration:
//! - the source has roots for the statement: its chain must validate to one of them at
//!   the verification instant, else the registration fails with
//!   [`Error::Rejected`](crate::Error::Rejected) (`untrusted_attestation`) (code `untrusted_attestation`);
//! - it has none (or the statement has no chain: `none`, self attestation): the
//!   attestation is [`AttestationTrust::NotEvaluated`], which is refused only when the
//!   relying party requires trusted attestation
//!   ([`RelyingPartyBuilder::require_trusted_attestation`](crate::RelyingPartyBuilder::require_trusted_attestation)).
//!
//! Then the [`AuthenticatorPolicy`] applies ([`AuthenticatorRefusal`] on failure): the
//! AAGUID deny list (on the claimed AAGUID, whatever the trust), refused metadata
//! statuses (revoked, compromised, user-verification bypass by default), the AAGUID
//! allow list and a minimum certification level (both only satisfied by a trusted
//! attestation: the AAGUID of `none` or self attestation is never trusted).

use std::fmt;
use std::sync::Arc;

use mfa_core::InvalidInput;
use x509_parser::prelude::*;

use crate::error::InternalError;
use crate::metadata::{AuthenticatorMetadata, AuthenticatorStatus, CertificationLevel};

/// What the trust evaluation concluded for a verified attestation statement.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttestationTrust {
    /// The chain validated to a configured root at the verification instant.
    Trusted,
    /// No root was configured for this statement, or it has no chain (`none`, self).
    NotEvaluated,
}

impl AttestationTrust {
    /// The conformance spelling: `trusted` or `not-evaluated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trusted => "trusted",
            Self::NotEvaluated => "not-evaluated",
        }
    }
}

/// A root certificate an attestation chain may end at. Parsed when created, so a
/// configured anchor is always a certificate.
#[derive(Clone, Eq, PartialEq)]
pub struct TrustAnchor {
    der: Arc<[u8]>,
}

impl fmt::Debug for TrustAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = X509Certificate::from_der(&self.der)
            .map(|(_, c)| c.subject().to_string())
            .unwrap_or_default();
        f.debug_struct("TrustAnchor")
            .field("subject", &subject)
            .finish()
    }
}

impl TrustAnchor {
    /// An anchor from a DER certificate.
    ///
    /// # Errors
    ///
    /// When the bytes are not exactly one X.509 certificate.
    pub fn from_der(der: impl Into<Vec<u8>>) -> Result<Self, InvalidInput> {
        let der = der.into();
        match X509Certificate::from_der(&der) {
            Ok(([], _)) => Ok(Self { der: der.into() }),
            _ => Err(InvalidInput::new(
                "trust anchor",
                "not one DER X.509 certificate",
            )),
        }
    }

    /// An anchor from one PEM `CERTIFICATE` block.
    ///
    /// # Errors
    ///
    /// When the text is not a PEM certificate.
    pub fn from_pem(pem: &str) -> Result<Self, InvalidInput> {
        let bad = || InvalidInput::new("trust anchor", "not a PEM certificate");
        let body = pem
            .split("-----BEGIN CERTIFICATE-----")
            .nth(1)
            .and_then(|r| r.split("-----END CERTIFICATE-----").next())
            .ok_or_else(bad)?;
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad())?;
        Self::from_der(der)
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// What a [`TrustAnchorSource`] is asked about: the statement's format and the
/// authenticator's identifiers, as FIDO metadata (MDS3) indexes them.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct TrustQuery<'a> {
    /// The attestation statement format (`packed`, `tpm`, `fido-u2f`, ...).
    pub fmt: &'a str,
    /// The AAGUID of the attested credential data (all zero for U2F authenticators).
    pub aaguid: [u8; 16],
    /// The leaf certificate's key identifier as MDS3 defines
    /// `attestationCertificateKeyIdentifiers`: SHA-1 of its subjectPublicKey bits (how
    /// metadata identifies U2F authenticators, which have no AAGUID). `None` when the
    /// leaf cannot be parsed.
    pub certificate_key_id: Option<[u8; 20]>,
}

/// Where the roots for an attestation come from. Implement it to back trust with
/// metadata (for example a FIDO MDS3 blob, by AAGUID or certificate key id);
/// [`TrustAnchors`] is the in-memory implementation.
pub trait TrustAnchorSource: fmt::Debug + Send + Sync {
    /// The roots the statement described by `query` may chain to. Empty: this source
    /// has no opinion, and the attestation is not evaluated.
    fn anchors_for(&self, query: &TrustQuery<'_>) -> Vec<TrustAnchor>;

    /// What metadata says about the authenticator `query` describes (status reports,
    /// certification level), for the [`AuthenticatorPolicy`]. `None` (the default): no
    /// metadata. Asked for every registration, also for `none` and self attestation
    /// (then without a certificate key id): a status can refuse a claimed AAGUID, but
    /// only a trusted chain satisfies an allow list or a certification level.
    fn metadata_for(&self, _query: &TrustQuery<'_>) -> Option<AuthenticatorMetadata> {
        None
    }
}

/// A shared source (for example one metadata source refreshed in the background and
/// used by several relying parties).
impl<T: TrustAnchorSource + ?Sized> TrustAnchorSource for Arc<T> {
    fn anchors_for(&self, query: &TrustQuery<'_>) -> Vec<TrustAnchor> {
        (**self).anchors_for(query)
    }

    fn metadata_for(&self, query: &TrustQuery<'_>) -> Option<AuthenticatorMetadata> {
        (**self).metadata_for(query)
    }
}

#[derive(Clone, Debug, Eq, PartialEq)]
enum Scope {
    Any,
    Format(String),
    Aaguid([u8; 16]),
}

/// An in-memory set of roots, each for every attestation, one format, or one AAGUID.
#[derive(Clone, Debug, Default)]
pub struct TrustAnchors {
    anchors: Vec<(Scope, TrustAnchor)>,
}

impl TrustAnchors {
    /// No roots.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts chains to `anchor` from any authenticator and format.
    #[must_use]
    pub fn with(mut self, anchor: TrustAnchor) -> Self {
        self.anchors.push((Scope::Any, anchor));
        self
    }

    /// Accepts chains to `anchor` for statements of format `fmt` only (e.g. the
    /// Microsoft TPM root for `tpm`, Apple's for `apple`).
    #[must_use]
    pub fn with_for_format(mut self, fmt: impl Into<String>, anchor: TrustAnchor) -> Self {
        self.anchors.push((Scope::Format(fmt.into()), anchor));
        self
    }

    /// Accepts chains to `anchor` for the authenticator model `aaguid` only.
    #[must_use]
    pub fn with_for_aaguid(mut self, aaguid: [u8; 16], anchor: TrustAnchor) -> Self {
        self.anchors.push((Scope::Aaguid(aaguid), anchor));
        self
    }

    /// Whether no root is configured.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

impl TrustAnchorSource for TrustAnchors {
    fn anchors_for(&self, query: &TrustQuery<'_>) -> Vec<TrustAnchor> {
        self.anchors
            .iter()
            .filter(|(scope, _)| match scope {
                Scope::Any => true,
                Scope::Format(f) => f == query.fmt,
                Scope::Aaguid(a) => *a == query.aaguid,
            })
            .map(|(_, a)| a.clone())
            .collect()
    }
}

/// Validates a certificate path (§7.1 step 24) as registration does: `chain` is the
/// leaf, then the certificates the statement supplied in any order (the root itself
/// may be among them); it must reach one of `anchors` at `now`. Returns the index of
/// the anchor reached. For callers that evaluate a [`Registration::x5c`](crate::Registration::x5c)
/// themselves; the crate README lists what is checked.
///
/// # Errors
///
/// [`Error::Rejected`](crate::Error::Rejected) (`untrusted_attestation`) naming the first failure when no path validates.
pub fn validate_certificate_path(
    chain: &[Vec<u8>],
    anchors: &[TrustAnchor],
    now: mfa_core::Timestamp,
) -> crate::error::Result<usize> {
    let ders: Vec<&[u8]> = anchors.iter().map(TrustAnchor::der).collect();
    let now = i64::try_from(now.unix_secs()).unwrap_or(i64::MAX);
    crate::attestation::chain::validate(chain, &ders, now)
        .map(|v| v.anchor)
        .map_err(Into::into)
}

/// SHA-1 of a certificate's subjectPublicKey bits (MDS3's
/// `attestationCertificateKeyIdentifiers`).
fn certificate_key_id(der: &[u8]) -> Option<[u8; 20]> {
    use sha1::Digest as _;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(sha1::Sha1::digest(&*cert.public_key().subject_public_key.data).into())
}

/// The attestation policy of a registration: trust anchors and the format options
/// that are policy choices. The pure core
/// [`hazmat::verify_registration_with`](crate::hazmat::verify_registration_with) takes
/// it; a [`RelyingParty`](crate::RelyingParty) builds it from its configuration
/// ([`RelyingParty::attestation_policy`](crate::RelyingParty::attestation_policy)).
/// Start from [`AttestationPolicy::default`] and set the fields.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct AttestationPolicy {
    /// Where roots come from (none by default: nothing is evaluated).
    pub anchors: Option<Arc<dyn TrustAnchorSource>>,
    /// Refuse attestations that are not [`AttestationTrust::Trusted`] (`none`, self,
    /// and chains the source has no roots for). Off by default.
    pub require_trusted: bool,
    /// Accept RS1 (RSASSA-PKCS1-v1_5 with SHA-1, COSE -65535) **attestation statement**
    /// signatures: Windows Hello TPMs sign `certInfo` with it. SHA-1 is broken for
    /// collision resistance; off by default. Credential keys are not affected.
    pub danger_allow_rs1_attestation: bool,
    /// android-safetynet: require `ctsProfileMatch` (on by default).
    pub require_cts_profile_match: bool,
    /// Which authenticators are accepted (AAGUID lists, metadata statuses,
    /// certification level), applied after the chain.
    pub authenticators: AuthenticatorPolicy,
}

impl Default for AttestationPolicy {
    fn default() -> Self {
        Self {
            anchors: None,
            require_trusted: false,
            danger_allow_rs1_attestation: false,
            require_cts_profile_match: true,
            authenticators: AuthenticatorPolicy::default(),
        }
    }
}

/// Which authenticator models a relying party accepts at registration. The default
/// refuses the statuses of [`AuthenticatorStatus::refused_by_default`] and nothing else.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuthenticatorPolicy {
    /// When not empty, only these AAGUIDs, and only with a trusted attestation.
    pub allowed_aaguids: Vec<[u8; 16]>,
    /// Never these AAGUIDs (checked on the claimed AAGUID, before anything else).
    pub denied_aaguids: Vec<[u8; 16]>,
    /// Refuse an authenticator whose metadata has any report with one of these
    /// statuses (any report, not only the latest: a later `UPDATE_AVAILABLE` does not
    /// fix the devices already out there).
    pub refused_statuses: Vec<AuthenticatorStatus>,
    /// Require a trusted attestation whose metadata states at least this level.
    pub minimum_certification_level: Option<CertificationLevel>,
}

impl Default for AuthenticatorPolicy {
    fn default() -> Self {
        Self {
            allowed_aaguids: Vec::new(),
            denied_aaguids: Vec::new(),
            refused_statuses: AuthenticatorStatus::refused_by_default(),
            minimum_certification_level: None,
        }
    }
}

/// Why the [`AuthenticatorPolicy`] refused an authenticator
/// ([`Error::Rejected`](crate::Error::Rejected) (`untrusted_attestation`)).
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum AuthenticatorRefusal {
    /// The AAGUID is on the deny list.
    Denied,
    /// An allow list is configured and the AAGUID is not on it, or the attestation is
    /// not trusted (so its AAGUID is only a claim).
    NotAllowed,
    /// The metadata reports a refused status.
    Status(AuthenticatorStatus),
    /// A minimum certification level is configured and the attestation is not trusted,
    /// or its metadata states a lower level (or none).
    CertificationLevel {
        /// The configured minimum.
        required: CertificationLevel,
        /// What the metadata of a trusted attestation states.
        found: Option<CertificationLevel>,
    },
}

impl fmt::Display for AuthenticatorRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied => f.write_str("aaguid denied"),
            Self::NotAllowed => f.write_str("aaguid not allowed or not attested"),
            Self::Status(s) => write!(f, "metadata status {s}"),
            Self::CertificationLevel { required, found } => {
                write!(f, "certification level {found:?} below {required:?}")
            }
        }
    }
}

impl AttestationPolicy {
    /// The default policy with `source` as its trust anchors.
    #[must_use]
    pub fn with_anchors(mut self, source: impl TrustAnchorSource + 'static) -> Self {
        self.anchors = Some(Arc::new(source));
        self
    }

    /// §7.1 step 24 for a statement of `fmt` with `chain` (leaf first; empty for
    /// `none` and self attestation) at `now` (Unix seconds; `None` when the caller gave no instant).
    pub(crate) fn evaluate(
        &self,
        fmt: &str,
        aaguid: &[u8; 16],
        chain: &[Vec<u8>],
        now: Option<u64>,
    ) -> crate::error::IResult<AttestationTrust> {
        let policy = &self.authenticators;
        let refuse = |r| Err(InternalError::AuthenticatorRefused(r));
        // The all-zero AAGUID (U2F, anonymised `none`) can be denied like any other.
        if policy.denied_aaguids.contains(aaguid) {
            return refuse(AuthenticatorRefusal::Denied);
        }
        let query = TrustQuery {
            fmt,
            aaguid: *aaguid,
            certificate_key_id: chain.first().and_then(|leaf| certificate_key_id(leaf)),
        };
        let metadata = self.anchors.as_ref().and_then(|s| s.metadata_for(&query));
        if let Some(status) = metadata.as_ref().and_then(|m| {
            m.statuses
                .iter()
                .find(|s| policy.refused_statuses.contains(s))
        }) {
            return refuse(AuthenticatorRefusal::Status(status.clone()));
        }
        let trust = self.chain_trust(&query, chain, now)?;
        let trusted = trust == AttestationTrust::Trusted;
        let listed = policy.allowed_aaguids.is_empty()
            || (trusted && policy.allowed_aaguids.contains(aaguid));
        if !listed {
            return refuse(AuthenticatorRefusal::NotAllowed);
        }
        if let Some(required) = policy.minimum_certification_level {
            let found = metadata.and_then(|m| m.certification_level);
            if !trusted || found.is_none_or(|f| f < required) {
                return refuse(AuthenticatorRefusal::CertificationLevel {
                    required,
                    found: found.filter(|_| trusted),
                });
            }
        }
        Ok(trust)
    }

    /// §7.1 step 24 proper: the chain against the source's roots for `query`.
    fn chain_trust(
        &self,
        query: &TrustQuery<'_>,
        chain: &[Vec<u8>],
        now: Option<u64>,
    ) -> crate::error::IResult<AttestationTrust> {
        let roots = match (chain.first(), &self.anchors) {
            (Some(_), Some(source)) => source.anchors_for(query),
            _ => Vec::new(),
        };
        if roots.is_empty() {
            if self.require_trusted {
                return Err(InternalError::UntrustedAttestation(
                    "no trust anchor for statement",
                ));
            }
            return Ok(AttestationTrust::NotEvaluated);
        }
        // Without a verification instant no validity period can be checked.
        let now = now.ok_or(InternalError::UntrustedAttestation("no verification time"))?;
        validate_certificate_path(chain, &roots, mfa_core::Timestamp::from_unix_secs(now))?;
        Ok(AttestationTrust::Trusted)
    }
}
