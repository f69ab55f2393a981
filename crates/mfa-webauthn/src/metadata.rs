//! FIDO Metadata Service v3 (MDS3): a BLOB the operator downloaded, verified and
//! compiled into a [`MetadataTrustStore`] that plugs into
//! [`RelyingPartyBuilder::trust_anchors`](crate::RelyingPartyBuilder::trust_anchors).
//!
//! The library never fetches anything: download `https://mds3.fidoalliance.org/` (a JWS
//! in compact serialization) on your own schedule, then load the bytes:
//!
//! - [`MetadataLoader::load`] checks the JWS: the header's `alg` must be on the
//!   loader's allow list (RS256, RS384, RS512, ES256, ES384 by default; `none` and the
//!   HMAC algorithms are never accepted), its `x5c` chain must validate at the caller's
//!   instant to one of the loader's roots (by default [`default_roots`]: GlobalSign Root
//!   CA - R3, which FIDO's signing chain ends at today; extend with
//!   [`MetadataLoader::with_root`]), and the signature must verify with the chain's leaf;
//! - [`MetadataLoader::load_update`] also refuses a BLOB whose `no` is not above the
//!   loaded one's (a replayed, older BLOB);
//! - [`MetadataTrustStore::next_update`] / [`MetadataTrustStore::is_stale`] tell the
//!   application when to warn about stale data (loading never refuses a stale BLOB).
//!
//! The payload is parsed tolerantly where FIDO may extend it (unknown members are
//! ignored, an unknown status is kept as [`AuthenticatorStatus::Unknown`] and matches
//! nothing) and strictly where trust depends on it: an entry's AAGUID, certificate key
//! identifiers, root certificates and status values must be well formed, `no` and
//! `nextUpdate` must be present and valid, and an AAGUID or key identifier may appear in
//! one entry only; any breach refuses the whole BLOB ([`MetadataError`]). Entries with
//! neither an AAGUID nor a key identifier (UAF, identified by `aaid`) are dropped.
//!
//! The store answers [`TrustQuery`]s: by AAGUID, or for an all-zero AAGUID (U2F) by the
//! leaf's certificate key identifier, with that entry's `attestationRootCertificates` as
//! anchors, and its status reports through
//! [`TrustAnchorSource::metadata_for`]. The relying party's
//! [`AuthenticatorPolicy`](crate::trust::AuthenticatorPolicy) refuses revoked,
//! compromised and user-verification-bypass authenticators by default. `none` and self
//! attestation have no chain, so their AAGUID is only a claim: it can get an
//! authenticator refused (deny list, status) but never trusted.

mod blob;
mod entry;
mod recheck;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

use std::collections::HashMap;
use std::fmt;

use mfa_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::trust::{TrustAnchor, TrustAnchorSource, TrustQuery};

pub(crate) use blob::parse_payload_summary;
pub use blob::{PayloadSummary, parse_aaguid};
pub use entry::{
    AuthenticatorMetadata, AuthenticatorStatus, CertificationLevel, Date, MetadataEntry,
    StatusReport,
};
pub use recheck::{COMPROMISED_STATUSES, MetadataFinding};

/// GlobalSign Root CA - R3, DER. Copied from Debian's `ca-certificates` 20230311+deb12u1
/// (`/usr/share/ca-certificates/mozilla/GlobalSign_Root_CA_-_R3.crt`, Mozilla's root
/// store), converted from PEM with `openssl x509 -outform DER`; valid 2009-03-18 to
/// 2029-03-18. SHA-256: [`GLOBALSIGN_ROOT_CA_R3_SHA256`].
const GLOBALSIGN_ROOT_CA_R3: &[u8] = include_bytes!("metadata/globalsign-root-ca-r3.der");

/// The SHA-256 fingerprint of the embedded GlobalSign Root CA - R3 certificate
/// (`CB:B5:22:D7:...:C5:3B`).
pub const GLOBALSIGN_ROOT_CA_R3_SHA256: [u8; 32] = [
    0xcb, 0xb5, 0x22, 0xd7, 0xb7, 0xf1, 0x27, 0xad, 0x6a, 0x01, 0x13, 0x86, 0x5b, 0xdf, 0x1c, 0xd4,
    0x10, 0x2e, 0x7d, 0x07, 0x59, 0xaf, 0x63, 0x5a, 0x7c, 0xf4, 0x72, 0x0d, 0xc9, 0x63, 0xc5, 0x3b,
];

/// The roots a [`MetadataLoader`] accepts by default: GlobalSign Root CA - R3 (the
/// root of the FIDO Alliance's MDS3 signing chain), embedded from Mozilla's root store.
/// When FIDO moves to another root, add it with [`MetadataLoader::with_root`].
pub fn default_roots() -> Vec<TrustAnchor> {
    TrustAnchor::from_der(GLOBALSIGN_ROOT_CA_R3)
        .ok()
        .into_iter()
        .collect()
}

/// Why a BLOB was refused. Nothing of a refused BLOB is used.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum MetadataError {
    /// Larger than [`MetadataLoader::max_len`].
    #[error("metadata BLOB too large")]
    TooLarge,
    /// Not a JWS in compact serialization, or its header cannot be read.
    #[error("malformed metadata BLOB: {0}")]
    MalformedJws(&'static str),
    /// The header's `alg` is not on the loader's allow list (`none`, `HS256`, ...).
    #[error("metadata BLOB algorithm {0:?} not allowed")]
    AlgorithmNotAllowed(String),
    /// The `x5c` chain does not validate to one of the loader's roots at the instant.
    #[error("metadata BLOB signer not trusted: {0}")]
    UntrustedSigner(&'static str),
    /// The JWS signature does not verify with the leaf of `x5c`.
    #[error("metadata BLOB signature does not verify")]
    BadSignature,
    /// The payload is not the MDS3 JSON (members `no`, `nextUpdate`, `entries`).
    #[error("malformed metadata payload: {0}")]
    MalformedPayload(&'static str),
    /// One entry breaks a strict rule (AAGUID, key identifier, root, status, duplicate).
    #[error("metadata entry {index}: {reason}")]
    InvalidEntry {
        /// The entry's index in `entries`.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// [`MetadataLoader::load_update`]: the BLOB's `no` is not above the loaded one.
    #[error("metadata BLOB number {found} is not above the loaded {loaded}")]
    NotNewer {
        /// The new BLOB's `no`.
        found: u64,
        /// The loaded store's `no`.
        loaded: u64,
    },
}

/// The JWS algorithms a BLOB may be signed with.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Deserialize, Serialize)]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (what FIDO uses today).
    #[serde(rename = "RS256")]
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    #[serde(rename = "RS384")]
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    #[serde(rename = "RS512")]
    Rs512,
    /// ECDSA P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// ECDSA P-384 with SHA-384.
    #[serde(rename = "ES384")]
    Es384,
}

impl JwsAlgorithm {
    /// Every algorithm this crate verifies (the default allow list).
    pub const ALL: [Self; 5] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Es256,
        Self::Es384,
    ];

    /// The JOSE name (`RS256`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// A verified MDS3 BLOB compiled for lookups: `Send + Sync`, cheap to share in an
/// `Arc`, and serialisable (serde) so a service can cache it; deserialising re-checks
/// every rule of loading but the signature (only store what you loaded yourself).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MetadataTrustStore {
    no: u64,
    next_update: Date,
    legal_header: Option<String>,
    entries: Vec<MetadataEntry>,
    by_aaguid: HashMap<[u8; 16], usize>,
    by_key_id: HashMap<[u8; 20], usize>,
}

impl MetadataTrustStore {
    /// The BLOB's serial number `no`.
    pub fn no(&self) -> u64 {
        self.no
    }

    /// `nextUpdate`: the date by which FIDO publishes a new BLOB.
    pub fn next_update(&self) -> Date {
        self.next_update
    }

    /// Whether `now` is on or after `nextUpdate` (midnight UTC): the data may be stale
    /// and a newer BLOB should be loaded. Informational; lookups keep working.
    pub fn is_stale(&self, now: Timestamp) -> bool {
        now.unix_secs() >= self.next_update.unix_secs()
    }

    /// `legalHeader`.
    pub fn legal_header(&self) -> Option<&str> {
        self.legal_header.as_deref()
    }

    /// The compiled entries (those with an AAGUID or certificate key identifiers).
    pub fn entries(&self) -> &[MetadataEntry] {
        &self.entries
    }

    /// The entry for an AAGUID.
    pub fn by_aaguid(&self, aaguid: &[u8; 16]) -> Option<&MetadataEntry> {
        self.by_aaguid
            .get(aaguid)
            .and_then(|&i| self.entries.get(i))
    }

    /// The entry listing a certificate key identifier (U2F).
    pub fn by_certificate_key_id(&self, key_id: &[u8; 20]) -> Option<&MetadataEntry> {
        self.by_key_id
            .get(key_id)
            .and_then(|&i| self.entries.get(i))
    }

    /// The entry a query is about: by AAGUID when it is not all zero, else by the
    /// leaf's certificate key identifier.
    pub fn entry_for(&self, query: &TrustQuery<'_>) -> Option<&MetadataEntry> {
        if query.aaguid != [0; 16] {
            self.by_aaguid(&query.aaguid)
        } else {
            query
                .certificate_key_id
                .as_ref()
                .and_then(|k| self.by_certificate_key_id(k))
        }
    }

    fn from_entries(
        no: u64,
        next_update: Date,
        legal_header: Option<String>,
        entries: Vec<MetadataEntry>,
    ) -> Result<Self, MetadataError> {
        let mut by_aaguid = HashMap::with_capacity(entries.len());
        let mut by_key_id = HashMap::new();
        for (index, e) in entries.iter().enumerate() {
            if let Some(a) = e.aaguid
                && by_aaguid.insert(a, index).is_some()
            {
                return Err(MetadataError::InvalidEntry {
                    index,
                    reason: "duplicate aaguid",
                });
            }
            for k in &e.key_ids {
                if by_key_id.insert(*k, index).is_some() {
                    return Err(MetadataError::InvalidEntry {
                        index,
                        reason: "duplicate certificate key identifier",
                    });
                }
            }
        }
        Ok(Self {
            no,
            next_update,
            legal_header,
            entries,
            by_aaguid,
            by_key_id,
        })
    }
}

impl TrustAnchorSource for MetadataTrustStore {
    fn anchors_for(&self, query: &TrustQuery<'_>) -> Vec<TrustAnchor> {
        self.entry_for(query)
            .map(|e| e.roots.clone())
            .unwrap_or_default()
    }

    fn metadata_for(&self, query: &TrustQuery<'_>) -> Option<AuthenticatorMetadata> {
        self.entry_for(query).map(MetadataEntry::metadata)
    }
}

/// Verifies MDS3 BLOBs and compiles them into [`MetadataTrustStore`]s.
#[derive(Clone, Debug)]
pub struct MetadataLoader {
    roots: Vec<TrustAnchor>,
    algorithms: Vec<JwsAlgorithm>,
    max_len: usize,
}

impl Default for MetadataLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl MetadataLoader {
    /// A loader with [`default_roots`], every [`JwsAlgorithm`], and a 64 MiB bound.
    pub fn new() -> Self {
        Self {
            roots: default_roots(),
            algorithms: JwsAlgorithm::ALL.to_vec(),
            max_len: 64 << 20,
        }
    }

    /// Also accepts signing chains to `root`.
    #[must_use]
    pub fn with_root(mut self, root: TrustAnchor) -> Self {
        self.roots.push(root);
        self
    }

    /// Accepts signing chains to `roots` only (drops the defaults).
    #[must_use]
    pub fn with_roots_only(mut self, roots: impl IntoIterator<Item = TrustAnchor>) -> Self {
        self.roots = roots.into_iter().collect();
        self
    }

    /// The `alg` values accepted (default [`JwsAlgorithm::ALL`]).
    #[must_use]
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = JwsAlgorithm>) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// The largest BLOB accepted, in bytes (default 64 MiB; FIDO's is about 10 MB).
    #[must_use]
    pub fn max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    /// The roots signing chains must reach.
    pub fn roots(&self) -> &[TrustAnchor] {
        &self.roots
    }

    /// Verifies `blob` (the JWS as downloaded; surrounding whitespace is ignored) at
    /// `now` and compiles it.
    ///
    /// # Errors
    ///
    /// A [`MetadataError`] for the first failed check (size, JWS shape, `alg`, signer
    /// chain, signature, payload, entries).
    pub fn load(&self, blob: &[u8], now: Timestamp) -> Result<MetadataTrustStore, MetadataError> {
        if blob.len() > self.max_len {
            return Err(MetadataError::TooLarge);
        }
        let payload = blob::verify_jws(blob, &self.roots, &self.algorithms, now)?;
        blob::compile(&payload)
    }

    /// [`load`](Self::load), and refuses a BLOB whose `no` is not above `current`'s
    /// (an older BLOB replayed, or the same one again).
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), and [`MetadataError::NotNewer`].
    pub fn load_update(
        &self,
        blob: &[u8],
        now: Timestamp,
        current: &MetadataTrustStore,
    ) -> Result<MetadataTrustStore, MetadataError> {
        let store = self.load(blob, now)?;
        if store.no <= current.no {
            return Err(MetadataError::NotNewer {
                found: store.no,
                loaded: current.no,
            });
        }
        Ok(store)
    }
}

// --- serde: the compiled store as plain data, re-checked on the way in ---

#[derive(Deserialize, Serialize)]
struct StoreRepr {
    no: u64,
    next_update: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    legal_header: Option<String>,
    entries: Vec<EntryRepr>,
}

#[derive(Deserialize, Serialize)]
struct EntryRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aaguid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    key_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Standard base64 DER, as in the BLOB.
    roots: Vec<String>,
    status_reports: Vec<StatusReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_of_last_status_change: Option<String>,
}

impl Serialize for MetadataTrustStore {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        StoreRepr {
            no: self.no,
            next_update: self.next_update.to_string(),
            legal_header: self.legal_header.clone(),
            entries: self
                .entries
                .iter()
                .map(|e| EntryRepr {
                    aaguid: e.aaguid.map(|a| blob::format_aaguid(&a)),
                    key_ids: e.key_ids.iter().map(|k| blob::hex(k)).collect(),
                    description: e.description.clone(),
                    roots: e.roots.iter().map(|r| b64.encode(r.der())).collect(),
                    status_reports: e.status_reports.clone(),
                    time_of_last_status_change: e.time_of_last_status_change.clone(),
                })
                .collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for MetadataTrustStore {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let repr = StoreRepr::deserialize(d)?;
        let next_update = Date::parse(&repr.next_update)
            .ok_or_else(|| D::Error::custom("next_update is not YYYY-MM-DD"))?;
        let entries = repr
            .entries
            .into_iter()
            .enumerate()
            .map(|(index, e)| {
                blob::entry(
                    index,
                    e.aaguid.as_deref(),
                    &e.key_ids,
                    e.description,
                    &e.roots,
                    e.status_reports,
                    e.time_of_last_status_change,
                )
            })
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>, _>>()
            .map_err(D::Error::custom)?;
        Self::from_entries(repr.no, next_update, repr.legal_header, entries)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::entry::STATUS_NAMES;
    use super::*;

    #[test]
    fn the_embedded_globalsign_root_is_the_published_one() {
        use sha2::Digest as _;
        let fp: [u8; 32] = sha2::Sha256::digest(GLOBALSIGN_ROOT_CA_R3).into();
        assert_eq!(fp, GLOBALSIGN_ROOT_CA_R3_SHA256);
        let roots = default_roots();
        assert_eq!(roots.len(), 1);
        let dbg = format!("{:?}", roots.first());
        assert!(dbg.contains("GlobalSign Root CA - R3"), "{dbg}");
    }

    #[test]
    fn dates_are_strict() {
        let d = Date::parse("2026-02-28").unwrap();
        assert_eq!((d.year(), d.month(), d.day()), (2026, 2, 28));
        assert_eq!(d.to_string(), "2026-02-28");
        assert_eq!(Date::parse("1970-01-01").unwrap().unix_secs(), 0);
        assert_eq!(
            Date::parse("2027-01-01").unwrap().unix_secs(),
            1_798_761_600
        );
        assert!(Date::parse("2024-02-29").is_some());
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "2026-01-01T00:00:00Z",
            "+026-01-01",
            "2026/01/01",
            "",
        ] {
            assert!(Date::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_stay_raw() {
        for (name, status) in &STATUS_NAMES {
            assert_eq!(AuthenticatorStatus::parse(name), *status);
            assert_eq!(status.as_str(), *name);
        }
        let odd = AuthenticatorStatus::parse("FIDO_CERTIFIED_L4");
        assert_eq!(
            odd,
            AuthenticatorStatus::Unknown("FIDO_CERTIFIED_L4".into())
        );
        assert_eq!(odd.as_str(), "FIDO_CERTIFIED_L4");
        assert_eq!(odd.certification_level(), None);
        // Case matters: a lowercase `revoked` is not REVOKED (and so not refused by
        // name); statuses are spelled exactly in MDS3.
        assert!(matches!(
            AuthenticatorStatus::parse("revoked"),
            AuthenticatorStatus::Unknown(_)
        ));
        assert_eq!(
            AuthenticatorStatus::FidoCertified.certification_level(),
            Some(CertificationLevel::L1)
        );
        assert!(CertificationLevel::L2 < CertificationLevel::L2Plus);
        assert!(CertificationLevel::L2Plus < CertificationLevel::L3);
    }
}
