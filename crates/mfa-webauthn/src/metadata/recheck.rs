//! Metadata after registration: a newly loaded BLOB re-checked against the credentials
//! already registered. MDS3 statuses change after a model ships (a revoked
//! certification, extractable keys); a relying party that checks only at registration
//! keeps trusting such keys forever.

use super::parse_aaguid;
use super::{AuthenticatorStatus, MetadataTrustStore};
use crate::credential::CredentialRecord;
use crate::providers::AaguidEvidence;

/// The statuses that make a registered credential's authenticator untrustworthy after
/// the fact (FIDO MDS3 §3.1.4 `AuthenticatorStatus`): its certification was revoked, or
/// its user or attestation keys can be extracted.
pub const COMPROMISED_STATUSES: [AuthenticatorStatus; 4] = [
    AuthenticatorStatus::Revoked,
    AuthenticatorStatus::UserKeyRemoteCompromise,
    AuthenticatorStatus::UserKeyPhysicalCompromise,
    AuthenticatorStatus::AttestationKeyCompromise,
];

/// Why a registered credential's authenticator is no longer trusted.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MetadataFinding {
    /// The compromising status the BLOB reports for the model.
    pub status: AuthenticatorStatus,
    /// Its `effectiveDate`, when given.
    pub effective_date: Option<String>,
    /// Whether the credential's AAGUID was attested or only claimed (a claimed AAGUID
    /// of a compromised model is flagged too: nothing shows the key is not that model).
    pub evidence: AaguidEvidence,
}

impl MetadataTrustStore {
    /// Re-checks a registered credential against this BLOB: the first status report of
    /// its model (by AAGUID) among [`COMPROMISED_STATUSES`], or `None`. Credentials
    /// without an AAGUID (U2F, all zero) have no model to look up.
    pub fn recheck(&self, record: &CredentialRecord) -> Option<MetadataFinding> {
        let aaguid = parse_aaguid(&record.aaguid).filter(|a| *a != [0; 16])?;
        let entry = self.by_aaguid(&aaguid)?;
        let report = entry
            .status_reports()
            .iter()
            .find(|r| COMPROMISED_STATUSES.contains(&r.status))?;
        Some(MetadataFinding {
            status: report.status.clone(),
            effective_date: report.effective_date.clone(),
            evidence: if record.attestation_trusted {
                AaguidEvidence::Attested
            } else {
                AaguidEvidence::Claimed
            },
        })
    }
}
