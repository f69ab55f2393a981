//! The records the store traits keep. Every one is `#[non_exhaustive]` and built with a
//! constructor, so a new column is a new optional field, not a break of every backend.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::LookupKey;
use crate::clock::Timestamp;
use crate::error::{Error, InvalidInput};
use crate::id::{FactorId, FactorKind, UserId};
use crate::random::SecureRandom;
use crate::secret::SecretBytes;

/// The version of a stored record, for compare-and-swap.
///
/// Versions are **opaque and strictly increasing per record key, over the key's whole
/// history**: a successful update returns a version greater than the one it replaced,
/// and a factor id that is removed (or reset) and enrolled again gets a version greater
/// than every version it had before, so a stale compare-and-swap can never land on the
/// new enrollment. Backends draw versions from one store-wide sequence (PostgreSQL
/// `nextval`, a counter row in SQLite, `INCR` in Redis), which needs no per-key memory
/// of removed records. Nothing but ordering and equality may be read into a version.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Version(u64);

impl Version {
    /// The first version a fresh backend's sequence hands out.
    pub const INITIAL: Self = Self(1);

    /// Wraps a raw version number (for backends reading it from a column).
    pub const fn new(v: u64) -> Self {
        Self(v)
    }

    /// The raw version number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The next version, or `None` at `u64::MAX` (a backend must then refuse the write).
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

/// A value read from a store with the version it had.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version when read; pass it to the compare-and-swap.
    pub version: Version,
}

impl<T> Versioned<T> {
    /// A value with its version (for backends).
    pub fn new(value: T, version: Version) -> Self {
        Self { value, version }
    }
}

/// Bytes the service stores for a factor or a challenge, with the header of its
/// encryption envelope. Opaque to backends: they store the three parts (two columns and
/// a blob) and give them back unchanged; only the service's
/// [`RecordCodec`](crate::RecordCodec) interprets them.
///
/// The bytes are a secret (an OTP key, a hashed code), so they are zeroized on drop,
/// never printed, and compared in constant time.
#[derive(Clone, Eq, PartialEq, Deserialize, Serialize)]
pub struct RecordData {
    format: u16,
    key_id: Option<String>,
    bytes: SecretBytes,
}

impl RecordData {
    /// The format of [`RecordData::plain`]: the record serialised, not encrypted.
    pub const PLAIN: u16 = 0;

    /// Unencrypted bytes (format [`RecordData::PLAIN`], no key).
    pub fn plain(bytes: Vec<u8>) -> Self {
        Self {
            format: Self::PLAIN,
            key_id: None,
            bytes: SecretBytes::new(bytes),
        }
    }

    /// Bytes sealed by the service's envelope: its own format number and the id of the
    /// key that sealed them. Also what a backend uses to rebuild what it stored.
    pub fn sealed(format: u16, key_id: Option<String>, bytes: Vec<u8>) -> Self {
        Self {
            format,
            key_id,
            bytes: SecretBytes::new(bytes),
        }
    }

    /// The envelope's format number; [`RecordData::PLAIN`] when not encrypted.
    pub fn format(&self) -> u16 {
        self.format
    }

    /// The id of the key that sealed the bytes, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The stored bytes. Keep the borrow short and never log it.
    pub fn expose_bytes(&self) -> &[u8] {
        self.bytes.expose_secret()
    }

    /// The number of stored bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Debug for RecordData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordData")
            .field("format", &self.format)
            .field("key_id", &self.key_id)
            .field("bytes", &format_args!("[{} bytes]", self.bytes.len()))
            .finish()
    }
}

/// One enrolled factor of one user, as the store keeps it.
///
/// The factor's own record (secret, counters, public key) is [`data`](Self::data):
/// bytes the service serialises and, when configured, encrypts, so backends never
/// interpret it. Build one with [`FactorRecord::new`] and the `with_*` methods.
///
/// ```
/// use mfa_core::store::{FactorRecord, LookupKey, RecordData};
/// use mfa_core::{FactorId, FactorKind, Timestamp, UserId};
///
/// let rec = FactorRecord::new(
///     UserId::new("alice")?,
///     FactorId::new("key-1")?,
///     FactorKind::WebAuthn { attachment: None },
///     RecordData::plain(b"{...}".to_vec()),
///     Timestamp::from_unix_secs(1_700_000_000),
/// )
/// .with_label("YubiKey")
/// .with_lookup_key(LookupKey::webauthn_credential(&[1, 2, 3])?)
/// .with_confirmed(true);
/// assert!(rec.confirmed && rec.last_used_at.is_none());
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct FactorRecord {
    /// The factor's identifier, unique per user.
    pub id: FactorId,
    /// The owner.
    pub user: UserId,
    /// What kind of factor it is.
    pub kind: FactorKind,
    /// A name the user chose ("YubiKey on keyring"); empty when none.
    pub label: String,
    /// Whether enrollment was confirmed (a first code verified); unconfirmed factors do
    /// not satisfy policy and do not sign in.
    pub confirmed: bool,
    /// When it was enrolled.
    pub created_at: Timestamp,
    /// When it last verified successfully.
    pub last_used_at: Option<Timestamp>,
    /// The value the store indexes for it, unique in its scope.
    pub lookup_key: Option<LookupKey>,
    /// The factor's record, opaque to the store.
    pub data: RecordData,
}

impl FactorRecord {
    /// An unconfirmed factor without label, lookup key or last use.
    pub fn new(
        user: UserId,
        id: FactorId,
        kind: FactorKind,
        data: RecordData,
        created_at: Timestamp,
    ) -> Self {
        Self {
            id,
            user,
            kind,
            label: String::new(),
            confirmed: false,
            created_at,
            last_used_at: None,
            lookup_key: None,
            data,
        }
    }

    /// With a label.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// With a lookup key.
    #[must_use]
    pub fn with_lookup_key(mut self, key: LookupKey) -> Self {
        self.lookup_key = Some(key);
        self
    }

    /// Confirmed or not.
    #[must_use]
    pub fn with_confirmed(mut self, confirmed: bool) -> Self {
        self.confirmed = confirmed;
        self
    }
}

/// The identifier of a pending challenge: 32 random bytes, base64url. Unguessable, so it
/// can travel to the client as a handle; it is still redeemed only together with its
/// [`ChallengeOwner`].
#[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(transparent)]
pub struct ChallengeId(String);

impl ChallengeId {
    /// A new random identifier.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    pub fn generate(rng: &mut dyn SecureRandom) -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Parses an identifier received from a client.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] unless it is 43 base64url characters.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok = s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(String::from(s)))
        } else {
            Err(InvalidInput::new("challenge id", "must be 43 base64url characters").into())
        }
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChallengeId({:?})", self.0)
    }
}

impl fmt::Display for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whom a pending challenge belongs to. Every read, update and take names it, and it
/// must match **exactly**: a challenge for Alice is not redeemed by Bob's session, and a
/// usernameless challenge is not redeemed by naming a user (nor the other way round).
///
/// A SQL backend stores [`Usernameless`](Self::Usernameless) as a NULL owner and matches
/// with `IS NOT DISTINCT FROM` (PostgreSQL) or `IS` (SQLite).
#[non_exhaustive]
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChallengeOwner {
    /// The user being challenged.
    User(UserId),
    /// No user yet: a usernameless (discoverable-credential) passkey sign-in, which
    /// learns the user from the response. The service finds the factor with
    /// [`FactorStore::factor_by_lookup_key`](super::FactorStore::factor_by_lookup_key)
    /// after taking the challenge.
    Usernameless,
}

impl ChallengeOwner {
    /// The user, when there is one.
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Self::User(u) => Some(u),
            Self::Usernameless => None,
        }
    }
}

impl From<UserId> for ChallengeOwner {
    fn from(user: UserId) -> Self {
        Self::User(user)
    }
}

/// A challenge waiting for its response, possibly through several steps (a push approval
/// the phone records while the browser polls; an SMS code with attempts left).
///
/// ```
/// use mfa_core::store::{ChallengeId, ChallengeOwner, PendingChallenge, RecordData};
/// use mfa_core::{FactorId, OsRandom, Timestamp, UserId};
///
/// let c = PendingChallenge::new(
///     ChallengeId::generate(&mut OsRandom)?,
///     ChallengeOwner::User(UserId::new("alice")?),
///     RecordData::plain(b"{\"attempts_left\":3}".to_vec()),
///     Timestamp::from_unix_secs(1_700_000_300),
/// )
/// .with_factor(FactorId::new("sms-1")?);
/// assert_eq!(c.owner.user().map(|u| u.as_str()), Some("alice"));
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct PendingChallenge {
    /// Its identifier.
    pub id: ChallengeId,
    /// Whom it belongs to.
    pub owner: ChallengeOwner,
    /// The factor challenged, when one was chosen (a discoverable-credential WebAuthn
    /// challenge has none).
    pub factor: Option<FactorId>,
    /// The factor's challenge state, serialised by the service; opaque to the store.
    pub data: RecordData,
    /// After this instant it can no longer be read, updated or taken.
    pub expires_at: Timestamp,
}

impl PendingChallenge {
    /// A challenge without a chosen factor.
    pub fn new(
        id: ChallengeId,
        owner: ChallengeOwner,
        data: RecordData,
        expires_at: Timestamp,
    ) -> Self {
        Self {
            id,
            owner,
            factor: None,
            data,
            expires_at,
        }
    }

    /// For one factor.
    #[must_use]
    pub fn with_factor(mut self, factor: FactorId) -> Self {
        self.factor = Some(factor);
        self
    }
}

/// A user's revocation generation: bumped by an MFA reset, a password change or "sign
/// out everywhere", it revokes every remembered-device token issued before (the token
/// carries the generation it was issued at). A user the store has never seen is at
/// [`Generation::INITIAL`].
#[derive(
    Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize,
)]
#[serde(transparent)]
pub struct Generation(u64);

impl Generation {
    /// The generation of a user the store has never seen.
    pub const INITIAL: Self = Self(0);

    /// Wraps a raw generation (for backends reading it from a column).
    pub const fn new(g: u64) -> Self {
        Self(g)
    }

    /// The raw number, as remembered-device tokens carry it.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The next generation, or `None` at `u64::MAX` (a backend must then refuse).
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

/// What the store keeps about a user beyond factors.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct UserState {
    /// The user.
    pub user: UserId,
    /// The current revocation generation.
    pub generation: Generation,
}

impl UserState {
    /// A user's state (for backends).
    pub fn new(user: UserId, generation: Generation) -> Self {
        Self { user, generation }
    }
}

/// What an MFA reset removed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct ResetSummary {
    /// Factors removed.
    pub factors: usize,
    /// Pending challenges owned by the user removed.
    pub challenges: usize,
    /// Remembered devices forgotten.
    pub devices: usize,
    /// The user's failure counters (`User` and `Factor` keys) removed.
    pub failure_counters: usize,
    /// The user's generation after the reset.
    pub generation: Generation,
}

impl ResetSummary {
    /// A summary (for backends).
    pub fn new(
        factors: usize,
        challenges: usize,
        devices: usize,
        failure_counters: usize,
        generation: Generation,
    ) -> Self {
        Self {
            factors,
            challenges,
            devices,
            failure_counters,
            generation,
        }
    }
}

/// A device the user asked to remember: MFA is skipped on it until `expires_at`, unless
/// policy demands fresh MFA, the device is forgotten, or the user's generation moves on.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct RememberedDevice {
    /// The user.
    pub user: UserId,
    /// The device's identifier, as carried in its signed token.
    pub device_id: String,
    /// A description for the user's device list ("Firefox on Linux"); empty when none.
    pub label: String,
    /// The user's generation when it was remembered (the token's generation).
    pub generation: Generation,
    /// When it was remembered.
    pub created_at: Timestamp,
    /// When remembering lapses.
    pub expires_at: Timestamp,
}

impl RememberedDevice {
    /// A device remembered at `generation`, without a label. The id is 1 to 255 bytes
    /// without control characters (what a remembered-device token can carry).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a device id outside those bounds.
    pub fn new(
        user: UserId,
        device_id: impl Into<String>,
        generation: Generation,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Self, Error> {
        let device_id = device_id.into();
        if device_id.is_empty() || device_id.len() > 255 || device_id.chars().any(char::is_control)
        {
            return Err(InvalidInput::new(
                "device id",
                "must be 1 to 255 bytes without control characters",
            )
            .into());
        }
        Ok(Self {
            user,
            device_id,
            label: String::new(),
            generation,
            created_at,
            expires_at,
        })
    }

    /// With a label.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
}
