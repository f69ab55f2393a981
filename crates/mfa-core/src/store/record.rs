//! The records the store traits keep. Every one is `#[non_exhaustive]` and built with a
//! constructor, so a new column is a new optional field, not a break of every backend.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

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

/// Where a [`LookupKey`] must be unique.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LookupScope {
    /// Unique across all users: a WebAuthn credential id (§7.1 step 26), which also
    /// finds the user in a usernameless sign-in.
    Global,
    /// Unique within one user: a verified phone number or email address (two users may
    /// share a family phone; one user cannot enroll it twice).
    PerUser,
}

/// A value the store indexes for one factor, so it can refuse a duplicate and find the
/// factor by it ([`FactorStore::factor_by_lookup_key`](super::FactorStore::factor_by_lookup_key)).
///
/// A key is its scope, a namespace saying what the value is, and the value's bytes; two
/// keys are the same key when all three are equal. A SQL backend keeps them in three
/// columns plus an owner column (the empty string for [`LookupScope::Global`], the user
/// id for [`LookupScope::PerUser`]; user ids are never empty) and puts a unique index on
/// `(scope, namespace, value, owner)`.
///
/// ```
/// use mfa_core::store::{LookupKey, LookupScope};
///
/// let cred = LookupKey::webauthn_credential(&[0xca, 0xfe])?;
/// assert_eq!(cred.scope(), LookupScope::Global);
/// let phone = LookupKey::phone("+4915112345678")?;
/// assert_eq!((phone.scope(), phone.namespace()), (LookupScope::PerUser, "phone"));
/// assert!(LookupKey::phone("015112345678").is_err()); // not E.164
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "LookupKeyRepr", into = "LookupKeyRepr")]
pub struct LookupKey {
    scope: LookupScope,
    namespace: String,
    value: Vec<u8>,
}

/// The longest lookup value: WebAuthn credential ids are at most 1023 bytes.
const MAX_LOOKUP_VALUE: usize = 1023;
/// The longest namespace.
const MAX_NAMESPACE: usize = 64;

impl LookupKey {
    /// The namespace of WebAuthn credential ids ([`LookupScope::Global`]).
    pub const WEBAUTHN_CREDENTIAL: &'static str = "webauthn-credential";
    /// The namespace of verified phone numbers in E.164 ([`LookupScope::PerUser`]).
    pub const PHONE: &'static str = "phone";
    /// The namespace of verified email addresses ([`LookupScope::PerUser`]).
    pub const EMAIL: &'static str = "email";

    /// A key in any namespace: 1 to 64 bytes of `a-z`, `0-9`, `-`, `.`, `_`; the value
    /// 1 to 1023 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a namespace or value outside those bounds.
    pub fn new(
        scope: LookupScope,
        namespace: impl Into<String>,
        value: impl Into<Vec<u8>>,
    ) -> Result<Self, Error> {
        let namespace = namespace.into();
        let value = value.into();
        let ns_ok = !namespace.is_empty()
            && namespace.len() <= MAX_NAMESPACE
            && namespace
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
        if !ns_ok {
            return Err(InvalidInput::new(
                "lookup namespace",
                "must be 1 to 64 bytes of a-z, 0-9, '-', '.', '_'",
            )
            .into());
        }
        if value.is_empty() || value.len() > MAX_LOOKUP_VALUE {
            return Err(InvalidInput::new("lookup value", "must be 1 to 1023 bytes").into());
        }
        Ok(Self {
            scope,
            namespace,
            value,
        })
    }

    /// A WebAuthn credential id, unique across users.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the id is empty or longer than 1023 bytes.
    pub fn webauthn_credential(credential_id: &[u8]) -> Result<Self, Error> {
        Self::new(
            LookupScope::Global,
            Self::WEBAUTHN_CREDENTIAL,
            credential_id.to_vec(),
        )
    }

    /// A verified phone number in E.164 form (`+` and 2 to 15 digits), unique per user.
    /// Normalise before calling: this only checks the shape.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the number is not in E.164 form.
    pub fn phone(e164: &str) -> Result<Self, Error> {
        let digits = e164.strip_prefix('+').unwrap_or("");
        let ok = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !ok {
            return Err(
                InvalidInput::new("phone number", "must be E.164: '+' and 2 to 15 digits").into(),
            );
        }
        Self::new(LookupScope::PerUser, Self::PHONE, e164.as_bytes().to_vec())
    }

    /// A verified email address, unique per user. Normalise before calling (this crate
    /// does not decide whether local parts are case-sensitive): this only checks that
    /// there is one `@` between non-empty parts and no whitespace or control character.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the address does not have that shape.
    pub fn email(address: &str) -> Result<Self, Error> {
        let ok = address.split('@').count() == 2
            && !address.starts_with('@')
            && !address.ends_with('@')
            && !address.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(InvalidInput::new("email address", "must be local@domain").into());
        }
        Self::new(
            LookupScope::PerUser,
            Self::EMAIL,
            address.as_bytes().to_vec(),
        )
    }

    /// Where the key must be unique.
    pub fn scope(&self) -> LookupScope {
        self.scope
    }

    /// What the value is ("webauthn-credential", "phone", "email", or your own).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The value's bytes.
    pub fn value(&self) -> &[u8] {
        &self.value
    }
}

impl fmt::Debug for LookupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LookupKey({:?}, {:?}, {} bytes)",
            self.scope,
            self.namespace,
            self.value.len()
        )
    }
}

/// The serialised form of a [`LookupKey`], validated on the way in.
#[derive(Deserialize, Serialize)]
struct LookupKeyRepr {
    scope: LookupScope,
    namespace: String,
    /// base64url without padding.
    value: String,
}

impl TryFrom<LookupKeyRepr> for LookupKey {
    type Error = Error;
    fn try_from(r: LookupKeyRepr) -> Result<Self, Error> {
        let value = URL_SAFE_NO_PAD
            .decode(r.value.as_bytes())
            .map_err(|_| InvalidInput::new("lookup value", "not base64url without padding"))?;
        Self::new(r.scope, r.namespace, value)
    }
}

impl From<LookupKey> for LookupKeyRepr {
    fn from(k: LookupKey) -> Self {
        Self {
            scope: k.scope,
            namespace: k.namespace,
            value: URL_SAFE_NO_PAD.encode(&k.value),
        }
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

/// Where an out-of-band code was sent (a phone number or email address), for counting
/// failures per destination: SMS pumping spreads over many users but few numbers.
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Destination(String);

impl Destination {
    /// A destination of 1 to 320 bytes without whitespace or control characters;
    /// normalise it first (E.164 for phone numbers) so one number counts once.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] outside those bounds.
    pub fn new(s: impl Into<String>) -> Result<Self, Error> {
        let s = s.into();
        if s.is_empty() || s.len() > 320 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidInput::new(
                "destination",
                "must be 1 to 320 bytes without whitespace or control characters",
            )
            .into());
        }
        Ok(Self(s))
    }

    /// The destination as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Destination {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl From<Destination> for String {
    fn from(d: Destination) -> Self {
        d.0
    }
}

/// What a failure counter counts. One model for lockout (per account, per factor), abuse
/// limits (per destination, per client network, per credential) and the service's own
/// send and push caps.
///
/// Every kind of counter is its own variant, so no value a caller supplies (a factor id,
/// a destination) can name a counter of another kind: a factor id `(oob-sends)` is a
/// factor's counter, never the per-user send cap.
///
/// A backend keeps a key as the flat `(kind, owner, subject)` triple of
/// [`FailureKey::columns`], which is distinct for distinct keys;
/// [`UserStore::reset_user`](super::UserStore::reset_user) removes every counter with
/// that user as its [`owner`](FailureKey::owner), and none other.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKey {
    /// An account's consecutive failures over all its factors. The service records it
    /// with [`NEVER_LAPSES`](crate::store::NEVER_LAPSES): only a success or an operator
    /// clears it, never time.
    User(UserId),
    /// A user's failures on one factor (backoff and the time-boxed lockout).
    Factor(UserId, FactorId),
    /// Failures of codes sent to one phone number or address, whoever the user.
    Destination(Destination),
    /// Failures from one client address (build it with [`FailureKey::client_ip`]).
    ClientIp(IpAddr),
    /// One of the service's own per-user caps (codes sent, pushes waiting, pushes since
    /// the last success).
    Limit(UserId, UserLimit),
    /// Codes sent to one confirmed factor: its owner's sign-in codes, counted apart from
    /// what anyone else sends to the same destination.
    FactorSends(UserId, FactorId),
    /// Codes sent to one destination for enrollment, whichever account asks.
    DestinationSends(Destination),
    /// Usernameless sign-in attempts naming one WebAuthn credential, from one client
    /// network (`None`: the client's address is unknown). What an attacker who knows
    /// only a credential id can move; build it with [`FailureKey::credential`].
    Credential(LookupKey, Option<IpAddr>),
}

/// The per-user caps the service keeps besides failure counts (see
/// [`FailureKey::Limit`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserLimit {
    /// Out-of-band codes sent to the user (SMS, voice, email), per hour.
    CodesSent,
    /// Push approvals that may still be waiting for an answer.
    PushesPending,
    /// Push approvals sent since the user's last successful sign-in.
    PushesSinceSuccess,
}

impl UserLimit {
    /// A stable name, for a backend's subject column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CodesSent => "codes-sent",
            Self::PushesPending => "pushes-pending",
            Self::PushesSinceSuccess => "pushes-since-success",
        }
    }
}

/// An IPv4 address as it is, an IPv6 address as its /64 network, because one IPv6
/// client freely changes the lower 64 bits.
fn client_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let masked = v6.to_bits() & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from_bits(masked))
        }
    }
}

impl FailureKey {
    /// An account's consecutive failures.
    pub fn user(user: &UserId) -> Self {
        Self::User(user.clone())
    }

    /// A user's failures on one factor.
    pub fn factor(user: &UserId, factor: &FactorId) -> Self {
        Self::Factor(user.clone(), factor.clone())
    }

    /// Failures of codes sent to one destination.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when it is not a valid [`Destination`].
    pub fn destination(destination: &str) -> Result<Self, Error> {
        Destination::new(destination).map(Self::Destination)
    }

    /// Failures from a client: an IPv4 address as it is, an IPv6 address as its /64
    /// network, because one IPv6 client freely changes the lower 64 bits.
    pub fn client_ip(ip: IpAddr) -> Self {
        Self::ClientIp(client_network(ip))
    }

    /// One of a user's own caps.
    pub fn limit(user: &UserId, limit: UserLimit) -> Self {
        Self::Limit(user.clone(), limit)
    }

    /// Codes sent to one confirmed factor.
    pub fn factor_sends(user: &UserId, factor: &FactorId) -> Self {
        Self::FactorSends(user.clone(), factor.clone())
    }

    /// Usernameless attempts naming a WebAuthn credential from a client (its /64
    /// network for IPv6, as [`client_ip`](Self::client_ip)).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the id is empty or longer than 1023 bytes.
    pub fn credential(credential_id: &[u8], client: Option<IpAddr>) -> Result<Self, Error> {
        Ok(Self::Credential(
            LookupKey::webauthn_credential(credential_id)?,
            client.map(client_network),
        ))
    }

    /// The user whose counter this is: a reset of that user removes it.
    pub fn owner(&self) -> Option<&UserId> {
        match self {
            Self::User(u) | Self::Factor(u, _) | Self::Limit(u, _) | Self::FactorSends(u, _) => {
                Some(u)
            }
            Self::Destination(_)
            | Self::ClientIp(_)
            | Self::DestinationSends(_)
            | Self::Credential(..) => None,
        }
    }

    /// A stable name of the variant, for a backend's kind column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Factor(..) => "factor",
            Self::Destination(_) => "destination",
            Self::ClientIp(_) => "client-ip",
            Self::Limit(..) => "limit",
            Self::FactorSends(..) => "factor-sends",
            Self::DestinationSends(_) => "destination-sends",
            Self::Credential(..) => "credential",
        }
    }

    /// The key as `(kind, owner, subject)`, the form a backend stores: `owner` is the
    /// user of [`owner`](Self::owner) (empty for keys no user owns) and `subject` names
    /// the thing counted within the kind. Distinct keys give distinct triples.
    pub fn columns(&self) -> (&'static str, String, String) {
        let owner = self
            .owner()
            .map(|u| String::from(u.as_str()))
            .unwrap_or_default();
        let subject = match self {
            Self::User(_) => String::new(),
            Self::Factor(_, f) | Self::FactorSends(_, f) => String::from(f.as_str()),
            Self::Destination(d) | Self::DestinationSends(d) => String::from(d.as_str()),
            Self::ClientIp(ip) => ip.to_string(),
            Self::Limit(_, l) => String::from(l.as_str()),
            // base64url has no '|', and an address has none either.
            Self::Credential(k, ip) => {
                let mut s = URL_SAFE_NO_PAD.encode(k.value());
                s.push('|');
                if let Some(ip) = ip {
                    s.push_str(&ip.to_string());
                }
                s
            }
        };
        (self.kind(), owner, subject)
    }
}

/// The state of a failure counter.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct Failures {
    /// Consecutive failures inside the window.
    pub count: u32,
    /// When the first of them happened.
    pub first_at: Timestamp,
    /// When the last of them happened.
    pub last_at: Timestamp,
}

impl Failures {
    /// A counter state (for backends).
    pub fn new(count: u32, first_at: Timestamp, last_at: Timestamp) -> Self {
        Self {
            count,
            first_at,
            last_at,
        }
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
