//! Lookup keys: values the store indexes for one factor (a WebAuthn credential id, a
//! phone number), unique in their scope.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::{Error, InvalidInput};

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
