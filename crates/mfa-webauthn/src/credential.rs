//! What both ceremonies share: the stored credential record, the `required` /
//! `preferred` / `discouraged` preference, and small helpers (challenges, timeouts,
//! attachments, AAGUIDs).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use mfa_core::{Attachment, SecureRandom};
use serde::{Deserialize, Serialize};

use crate::attestation::AttestationType;
use crate::cose::PublicKey;
use crate::crypto::{Backend, Prepared, verify_prepared, verify_with_policy};
use crate::error::{IResult, Result};
use crate::json::{Base64UrlBytes, CredentialDescriptor};

/// What the relying party stores for one credential (§4 "credential record"), and
/// what an authentication updates.
#[non_exhaustive]
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct CredentialRecord {
    /// The credential id.
    pub id: Base64UrlBytes,
    /// The credential public key, a COSE_Key exactly as the authenticator sent it.
    pub public_key: Base64UrlBytes,
    /// The COSE algorithm of the key.
    pub alg: i64,
    /// The last signature counter seen.
    pub sign_count: u32,
    /// Transports the client reported at registration.
    #[serde(default)]
    pub transports: Vec<String>,
    /// How the authenticator was attached, when the client reported it: the client's
    /// unsigned `authenticatorAttachment`, so never proof of a security key on its own
    /// (see [`WebAuthnFactor`](crate::WebAuthnFactor)'s `kind`).
    #[serde(default)]
    pub attachment: Option<Attachment>,
    /// The authenticator model's AAGUID, as a UUID string.
    pub aaguid: String,
    /// Whether the user was verified at the last ceremony.
    pub user_verified: bool,
    /// uvInitialized (§4 credential record): whether any ceremony with this credential
    /// has verified the user. Set from UV at registration, and raised (never lowered)
    /// by the first assertion with UV set (§7.2 step 25).
    #[serde(default)]
    pub uv_initialized: bool,
    /// BE: whether the credential may be synced (a multi-device passkey); `None` when
    /// not tracked, which disables the §7.2 "BE must not change" check.
    #[serde(default)]
    pub backup_eligible: Option<bool>,
    /// BS: whether it was backed up at the last ceremony.
    #[serde(default)]
    pub backup_state: bool,
    /// The attestation statement format (`none`, `packed`, `tpm`, `android-key`,
    /// `android-safetynet`, `fido-u2f`, `apple`).
    pub attestation_format: String,
    /// The attestation type.
    pub attestation_type: AttestationType,
    /// Whether the attestation chain was validated to a configured trust anchor (§7.1
    /// steps 23–24), which makes the BE flag a fact ([`RelyingParty::is_hardware_bound`]).
    /// Registration sets it when [`Registration::trust`](crate::Registration::trust) is
    /// [`AttestationTrust::Trusted`](crate::AttestationTrust::Trusted).
    ///
    /// [`RelyingParty::is_hardware_bound`]: crate::RelyingParty::is_hardware_bound
    #[serde(default)]
    pub attestation_trusted: bool,
    /// The user handle the credential was created for.
    #[serde(default)]
    pub user_handle: Option<Base64UrlBytes>,
    /// The client's credProps `rk` output (§10.1.3), when it reported one: whether it
    /// *says* the credential is discoverable. Unsigned client output, so a hint (for
    /// example, whether to offer usernameless sign-in), never a fact: only a
    /// usernameless assertion that verifies proves a credential discoverable.
    #[serde(default, alias = "discoverable")]
    pub cred_props_rk: Option<bool>,
    /// `public_key` decoded (and, for the aws-lc backend, parsed by aws-lc), so that a
    /// login does not decode the COSE key again. Not
    /// serialised (the stored form is unchanged; a deserialised record decodes on its
    /// first use and keeps the result), ignored by `==`, shared by clones (the record an
    /// authentication returns keeps it), and used only while `public_key` still holds
    /// the bytes it was decoded from.
    #[serde(skip)]
    pub(crate) key_cache: KeyCache,
}

/// The decoded credential key and the COSE bytes it came from.
#[derive(Clone, Default)]
pub(crate) struct KeyCache(OnceLock<Arc<CachedKey>>);

struct CachedKey {
    cose: Vec<u8>,
    key: PublicKey,
    /// The backend's parsed form, made on first use.
    prepared: Prepared,
}

impl KeyCache {
    fn filled(cose: &[u8], key: PublicKey) -> Self {
        Self(OnceLock::from(Arc::new(CachedKey {
            cose: cose.to_vec(),
            key,
            prepared: Prepared::default(),
        })))
    }
}

impl PartialEq for KeyCache {
    /// A cache is not part of a record's value.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for KeyCache {}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "KeyCache(decoded)"
        } else {
            "KeyCache(empty)"
        })
    }
}

impl CredentialRecord {
    /// A record for a credential known only by id, COSE key and counter (for example
    /// one migrated from another library). Unknown facts are left empty; set
    /// [`user_handle`](Self::user_handle) too, or every assertion that carries a user
    /// handle (and every usernameless one) is refused as `user_handle_mismatch`.
    pub fn from_parts(id: Vec<u8>, public_key_cose: Vec<u8>, alg: i64, sign_count: u32) -> Self {
        Self {
            id: Base64UrlBytes(id),
            public_key: Base64UrlBytes(public_key_cose),
            alg,
            sign_count,
            transports: Vec::new(),
            attachment: None,
            aaguid: format_aaguid(&[0; 16]),
            user_verified: false,
            uv_initialized: false,
            backup_eligible: None,
            backup_state: false,
            attestation_format: "none".to_owned(),
            attestation_type: AttestationType::None,
            attestation_trusted: false,
            user_handle: None,
            cred_props_rk: None,
            key_cache: KeyCache::default(),
        }
    }

    /// The credential public key, decoded from [`public_key`](Self::public_key) on first
    /// use and kept with the record (clones share it), so repeated logins against the
    /// same record object do not decode the COSE key again. When `public_key` has been
    /// changed since, the new bytes are decoded (and not kept).
    ///
    /// # Errors
    ///
    /// What [`PublicKey::from_cose`] returns for the stored bytes.
    pub fn decoded_public_key(&self) -> Result<Cow<'_, PublicKey>> {
        Ok(match self.cached()? {
            Ok(c) => Cow::Borrowed(&c.key),
            Err(key) => Cow::Owned(key),
        })
    }

    /// The cached key when it is (now) the key of `public_key`, else the freshly
    /// decoded key of the changed bytes.
    fn cached(&self) -> IResult<std::result::Result<&CachedKey, PublicKey>> {
        let bytes = self.public_key.as_slice();
        let c = match self.key_cache.0.get() {
            Some(c) => c,
            None => {
                let key = PublicKey::from_cose_inner(bytes)?;
                self.key_cache.0.get_or_init(|| {
                    Arc::new(CachedKey {
                        cose: bytes.to_vec(),
                        key,
                        prepared: Prepared::default(),
                    })
                })
            }
        };
        if c.cose == bytes {
            Ok(Ok(c))
        } else {
            PublicKey::from_cose_inner(bytes).map(Err)
        }
    }

    /// Verifies `signature` over `message` with the record's key, as an assertion is
    /// (the key decoded once, and with aws-lc parsed once), and as
    /// [`hazmat::verify_signature`](crate::hazmat::verify_signature) would answer: the
    /// signature seam of a login, alone.
    ///
    /// # Errors
    ///
    /// What [`decoded_public_key`](Self::decoded_public_key) and
    /// [`hazmat::verify_signature`](crate::hazmat::verify_signature) return.
    pub fn verify_signature(
        &self,
        backend: Backend,
        message: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        self.verify_with(backend, false, message, signature)
            .map_err(Into::into)
    }

    /// [`verify_signature`](Self::verify_signature) with the RS1 opt-in.
    pub(crate) fn verify_with(
        &self,
        backend: Backend,
        allow_rs1: bool,
        message: &[u8],
        signature: &[u8],
    ) -> IResult<()> {
        match self.cached()? {
            Ok(c) => verify_prepared(backend, allow_rs1, &c.key, &c.prepared, message, signature),
            Err(key) => verify_with_policy(backend, allow_rs1, &key, message, signature),
        }
    }

    /// Keeps `key`, the decoded form of `public_key`, with the record (registration has
    /// decoded it already).
    pub(crate) fn with_decoded_key(mut self, key: PublicKey) -> Self {
        self.key_cache = KeyCache::filled(self.public_key.as_slice(), key);
        self
    }

    /// The descriptor to list this credential in `excludeCredentials` /
    /// `allowCredentials`.
    pub fn descriptor(&self) -> CredentialDescriptor {
        CredentialDescriptor {
            id: self.id.clone(),
            type_: "public-key".to_owned(),
            transports: self.transports.clone(),
        }
    }
}

/// `required`, `preferred` or `discouraged` (§5.8.6).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preference {
    /// Must happen; the ceremony fails otherwise.
    Required,
    /// Wanted, not required.
    #[default]
    Preferred,
    /// Not wanted.
    Discouraged,
}

impl Preference {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Preferred => "preferred",
            Self::Discouraged => "discouraged",
        }
    }
}

pub(crate) fn new_challenge(rng: &mut dyn SecureRandom) -> IResult<Base64UrlBytes> {
    let mut c = vec![0u8; 32];
    rng.fill(&mut c)?;
    Ok(Base64UrlBytes(c))
}

pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn attachment_str(a: Attachment) -> String {
    match a {
        Attachment::Platform => "platform",
        _ => "cross-platform",
    }
    .to_owned()
}

pub(crate) fn parse_attachment(s: &str) -> Option<Attachment> {
    match s {
        "platform" => Some(Attachment::Platform),
        "cross-platform" => Some(Attachment::CrossPlatform),
        _ => None,
    }
}

/// An AAGUID as a lowercase UUID string.
pub(crate) fn format_aaguid(a: &[u8; 16]) -> String {
    let hex: String = a.iter().map(|b| format!("{b:02x}")).collect();
    let part = |r: std::ops::Range<usize>| hex.get(r).unwrap_or_default().to_owned();
    format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}
