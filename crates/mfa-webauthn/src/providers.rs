//! Authenticator and passkey-provider names by AAGUID, for account settings ("iCloud
//! Keychain", "Google Password Manager", "YubiKey 5 Series") instead of a raw AAGUID.
//!
//! Two sources, in this order:
//!
//! 1. the relying party's metadata (a FIDO MDS3 BLOB loaded into a
//!    [`MetadataTrustStore`](crate::MetadataTrustStore), or any
//!    [`TrustAnchorSource`](crate::TrustAnchorSource) answering
//!    [`metadata_for`](crate::TrustAnchorSource::metadata_for)): the statement's
//!    `description`;
//! 2. a bundled copy of the community **passkey-authenticator-aaguids** list
//!    (`data/passkey-providers.json`: its source, commit, date and licence statement are
//!    in the file, see [`BUNDLED_LIST_COMMIT`]; names only, no icons, since the list
//!    states no licence and its icons are the providers' logos). Refresh it with
//!    `python3 crates/mfa-webauthn/data/refresh-providers.py <checkout of the list>`.
//!
//! **An AAGUID is a fact only when an attestation vouched for it.** With `none` or self
//! attestation (what every synced passkey sends) the AAGUID is whatever the
//! authenticator claims, so [`AuthenticatorModel::evidence`] says
//! [`AaguidEvidence::Claimed`]: fine for showing a name, never for a security decision
//! (use [`RelyingPartyBuilder::allow_aaguids`](crate::RelyingPartyBuilder::allow_aaguids),
//! which requires a trusted attestation, for those).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::config::RelyingParty;
use crate::credential::CredentialRecord;
use crate::metadata::parse_aaguid;
use crate::trust::TrustQuery;

/// The commit of the passkey-authenticator-aaguids list the bundled names come from.
pub const BUNDLED_LIST_COMMIT: &str = "47b6f84e4e3c9ab52f390e103fb4a1216e7952a5";

const BUNDLED: &str = include_str!("../data/passkey-providers.json");

/// How much an AAGUID is worth.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AaguidEvidence {
    /// The attestation chained to a trust anchor
    /// ([`CredentialRecord::attestation_trusted`]): the AAGUID is the model's.
    Attested,
    /// `none` or self attestation, or an untrusted chain: the authenticator's claim.
    /// Show the name; decide nothing on it.
    Claimed,
}

/// Where a name came from.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// The relying party's metadata (MDS3 `description`).
    Metadata,
    /// The bundled passkey-provider list.
    ProviderList,
}

/// The authenticator model behind a credential, as far as it is known.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct AuthenticatorModel {
    /// The AAGUID, as a lowercase UUID string (all zero when the authenticator sent
    /// none).
    pub aaguid: String,
    /// Whether an attestation vouched for the AAGUID.
    pub evidence: AaguidEvidence,
    /// A name to show, when a source knows the AAGUID.
    pub name: Option<String>,
    /// Where [`name`](Self::name) came from.
    pub name_source: Option<NameSource>,
}

/// The bundled list's name for an AAGUID (a lowercase or uppercase UUID string).
pub fn provider_name(aaguid: &str) -> Option<&'static str> {
    static LIST: OnceLock<HashMap<String, String>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        #[derive(Deserialize)]
        struct File {
            providers: HashMap<String, String>,
        }
        serde_json::from_str::<File>(BUNDLED)
            .map(|f| f.providers)
            .unwrap_or_default()
    });
    list.get(&aaguid.to_ascii_lowercase()).map(String::as_str)
}

impl RelyingParty {
    /// The model behind `record`: its AAGUID, whether an attestation vouched for it,
    /// and a name from this relying party's metadata or the bundled provider list.
    pub fn authenticator_model(&self, record: &CredentialRecord) -> AuthenticatorModel {
        let evidence = if record.attestation_trusted {
            AaguidEvidence::Attested
        } else {
            AaguidEvidence::Claimed
        };
        let bytes = parse_aaguid(&record.aaguid).filter(|a| *a != [0; 16]);
        let from_metadata = bytes.and_then(|aaguid| {
            let source = self.trust_anchors.as_ref()?;
            let query = TrustQuery {
                fmt: &record.attestation_format,
                aaguid,
                certificate_key_id: None,
            };
            source.metadata_for(&query)?.description
        });
        let (name, name_source) = match from_metadata {
            Some(d) => (Some(d), Some(NameSource::Metadata)),
            None => match bytes.and_then(|_| provider_name(&record.aaguid)) {
                Some(n) => (Some(n.to_owned()), Some(NameSource::ProviderList)),
                None => (None, None),
            },
        };
        AuthenticatorModel {
            aaguid: record.aaguid.clone(),
            evidence,
            name,
            name_source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_list_loads_and_names_providers() {
        assert_eq!(
            provider_name("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"),
            Some("Google Password Manager")
        );
        assert_eq!(
            provider_name("FBFC3007-154E-4ECC-8C0B-6E020557D7BD"),
            Some("Apple Passwords")
        );
        assert_eq!(provider_name("00000000-0000-0000-0000-000000000000"), None);
        let file: serde_json::Value = serde_json::from_str(BUNDLED).unwrap();
        assert_eq!(file["commit"], BUNDLED_LIST_COMMIT);
        assert!(file["licence"].as_str().is_some_and(|l| !l.is_empty()));
        assert!(file["providers"].as_object().unwrap().len() >= 40);
    }
}
