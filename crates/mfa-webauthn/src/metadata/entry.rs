//! What the store keeps per authenticator: its metadata entry, status reports and their
//! dates.

use super::*;

/// An authenticator status of an MDS3 status report (FIDO Metadata Service v3 §3.1.4
/// `AuthenticatorStatus`). Unknown values are kept as they are and match no rule.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub enum AuthenticatorStatus {
    /// `NOT_FIDO_CERTIFIED`.
    NotFidoCertified,
    /// `FIDO_CERTIFIED` (deprecated; equivalent to `FIDO_CERTIFIED_L1`).
    FidoCertified,
    /// `USER_VERIFICATION_BYPASS`: malware can bypass user verification.
    UserVerificationBypass,
    /// `ATTESTATION_KEY_COMPROMISE`: an attestation key is known to be compromised.
    AttestationKeyCompromise,
    /// `USER_KEY_REMOTE_COMPROMISE`: user keys can be extracted remotely.
    UserKeyRemoteCompromise,
    /// `USER_KEY_PHYSICAL_COMPROMISE`: user keys can be extracted with physical access.
    UserKeyPhysicalCompromise,
    /// `UPDATE_AVAILABLE`: a firmware update exists.
    UpdateAvailable,
    /// `REVOKED`: the FIDO Alliance revoked the certification.
    Revoked,
    /// `SELF_ASSERTION_SUBMITTED`.
    SelfAssertionSubmitted,
    /// `FIDO_CERTIFIED_L1`.
    FidoCertifiedL1,
    /// `FIDO_CERTIFIED_L1plus`.
    FidoCertifiedL1Plus,
    /// `FIDO_CERTIFIED_L2`.
    FidoCertifiedL2,
    /// `FIDO_CERTIFIED_L2plus`.
    FidoCertifiedL2Plus,
    /// `FIDO_CERTIFIED_L3`.
    FidoCertifiedL3,
    /// `FIDO_CERTIFIED_L3plus`.
    FidoCertifiedL3Plus,
    /// A value this crate does not know, as the BLOB spelled it.
    Unknown(String),
}

pub(super) const STATUS_NAMES: [(&str, AuthenticatorStatus); 15] = [
    ("NOT_FIDO_CERTIFIED", AuthenticatorStatus::NotFidoCertified),
    ("FIDO_CERTIFIED", AuthenticatorStatus::FidoCertified),
    (
        "USER_VERIFICATION_BYPASS",
        AuthenticatorStatus::UserVerificationBypass,
    ),
    (
        "ATTESTATION_KEY_COMPROMISE",
        AuthenticatorStatus::AttestationKeyCompromise,
    ),
    (
        "USER_KEY_REMOTE_COMPROMISE",
        AuthenticatorStatus::UserKeyRemoteCompromise,
    ),
    (
        "USER_KEY_PHYSICAL_COMPROMISE",
        AuthenticatorStatus::UserKeyPhysicalCompromise,
    ),
    ("UPDATE_AVAILABLE", AuthenticatorStatus::UpdateAvailable),
    ("REVOKED", AuthenticatorStatus::Revoked),
    (
        "SELF_ASSERTION_SUBMITTED",
        AuthenticatorStatus::SelfAssertionSubmitted,
    ),
    ("FIDO_CERTIFIED_L1", AuthenticatorStatus::FidoCertifiedL1),
    (
        "FIDO_CERTIFIED_L1plus",
        AuthenticatorStatus::FidoCertifiedL1Plus,
    ),
    ("FIDO_CERTIFIED_L2", AuthenticatorStatus::FidoCertifiedL2),
    (
        "FIDO_CERTIFIED_L2plus",
        AuthenticatorStatus::FidoCertifiedL2Plus,
    ),
    ("FIDO_CERTIFIED_L3", AuthenticatorStatus::FidoCertifiedL3),
    (
        "FIDO_CERTIFIED_L3plus",
        AuthenticatorStatus::FidoCertifiedL3Plus,
    ),
];

impl AuthenticatorStatus {
    /// The statuses a relying party refuses by default: `REVOKED`,
    /// `USER_VERIFICATION_BYPASS`, `ATTESTATION_KEY_COMPROMISE`,
    /// `USER_KEY_REMOTE_COMPROMISE`, `USER_KEY_PHYSICAL_COMPROMISE`.
    pub fn refused_by_default() -> Vec<Self> {
        vec![
            Self::Revoked,
            Self::UserVerificationBypass,
            Self::AttestationKeyCompromise,
            Self::UserKeyRemoteCompromise,
            Self::UserKeyPhysicalCompromise,
        ]
    }

    /// The status for an MDS3 spelling (exact, case-sensitive); anything else is
    /// [`AuthenticatorStatus::Unknown`].
    pub fn parse(s: &str) -> Self {
        STATUS_NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map_or_else(|| Self::Unknown(s.to_owned()), |(_, v)| v.clone())
    }

    /// The MDS3 spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Unknown(s) => s,
            known => STATUS_NAMES
                .iter()
                .find(|(_, v)| v == known)
                .map_or("", |(n, _)| n),
        }
    }

    /// The certification level this status states, if it is a certification.
    pub fn certification_level(&self) -> Option<CertificationLevel> {
        Some(match self {
            Self::FidoCertified | Self::FidoCertifiedL1 => CertificationLevel::L1,
            Self::FidoCertifiedL1Plus => CertificationLevel::L1Plus,
            Self::FidoCertifiedL2 => CertificationLevel::L2,
            Self::FidoCertifiedL2Plus => CertificationLevel::L2Plus,
            Self::FidoCertifiedL3 => CertificationLevel::L3,
            Self::FidoCertifiedL3Plus => CertificationLevel::L3Plus,
            _ => return None,
        })
    }
}

impl fmt::Display for AuthenticatorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuthenticatorStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuthenticatorStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// A FIDO certification level, ordered (L1 < L1+ < L2 < L2+ < L3 < L3+).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
pub enum CertificationLevel {
    /// Level 1 (also what the deprecated `FIDO_CERTIFIED` means).
    L1,
    /// Level 1+.
    L1Plus,
    /// Level 2.
    L2,
    /// Level 2+.
    L2Plus,
    /// Level 3.
    L3,
    /// Level 3+.
    L3Plus,
}

/// One status report of an entry.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct StatusReport {
    /// The status.
    pub status: AuthenticatorStatus,
    /// `effectiveDate` as the BLOB wrote it (ISO-8601 date), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_date: Option<String>,
}

/// An MDS3 `nextUpdate` (or any calendar date): a valid proleptic Gregorian date.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Date {
    pub(super) year: u16,
    pub(super) month: u8,
    pub(super) day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD` exactly.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u16> {
            let part = s.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let year = num(0..4)?;
        let month = u8::try_from(num(5..7)?).ok()?;
        let day = u8::try_from(num(8..10)?).ok()?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self { year, month, day })
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Midnight UTC at the start of this date, in Unix seconds (0 before 1970).
    pub fn unix_secs(self) -> u64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        u64::try_from(days.saturating_mul(86_400)).unwrap_or(0)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

pub(super) fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// What metadata says about one authenticator model, as a
/// [`TrustAnchorSource::metadata_for`] answer.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuthenticatorMetadata {
    /// The statement's `description`, if any.
    pub description: Option<String>,
    /// Every status of its reports, in BLOB order.
    pub statuses: Vec<AuthenticatorStatus>,
    /// The highest certification level its reports state.
    pub certification_level: Option<CertificationLevel>,
}

impl AuthenticatorMetadata {
    /// Metadata with these statuses (for custom [`TrustAnchorSource`]s); the level is
    /// derived from them.
    pub fn new(description: Option<String>, statuses: Vec<AuthenticatorStatus>) -> Self {
        let certification_level = statuses
            .iter()
            .filter_map(AuthenticatorStatus::certification_level)
            .max();
        Self {
            description,
            statuses,
            certification_level,
        }
    }
}

/// One compiled entry: an authenticator model with its identifiers, roots and status.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MetadataEntry {
    pub(super) aaguid: Option<[u8; 16]>,
    pub(super) key_ids: Vec<[u8; 20]>,
    pub(super) description: Option<String>,
    pub(super) roots: Vec<TrustAnchor>,
    pub(super) status_reports: Vec<StatusReport>,
    pub(super) time_of_last_status_change: Option<String>,
}

impl MetadataEntry {
    /// The AAGUID (FIDO2 authenticators).
    pub fn aaguid(&self) -> Option<[u8; 16]> {
        self.aaguid
    }

    /// `attestationCertificateKeyIdentifiers` (U2F authenticators).
    pub fn certificate_key_ids(&self) -> &[[u8; 20]] {
        &self.key_ids
    }

    /// The statement's `description`.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// `attestationRootCertificates`.
    pub fn roots(&self) -> &[TrustAnchor] {
        &self.roots
    }

    /// `statusReports`, in BLOB order.
    pub fn status_reports(&self) -> &[StatusReport] {
        &self.status_reports
    }

    /// `timeOfLastStatusChange` as the BLOB wrote it.
    pub fn time_of_last_status_change(&self) -> Option<&str> {
        self.time_of_last_status_change.as_deref()
    }

    /// The highest certification level the status reports state.
    pub fn certification_level(&self) -> Option<CertificationLevel> {
        self.status_reports
            .iter()
            .filter_map(|r| r.status.certification_level())
            .max()
    }

    /// This entry as a [`TrustAnchorSource::metadata_for`] answer.
    pub fn metadata(&self) -> AuthenticatorMetadata {
        AuthenticatorMetadata::new(
            self.description.clone(),
            self.status_reports
                .iter()
                .map(|r| r.status.clone())
                .collect(),
        )
    }
}
