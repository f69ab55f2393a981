//! Failure counters: what one counts ([`FailureKey`]) and its state ([`Failures`]).

use alloc::string::{String, ToString};
use core::net::{IpAddr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::LookupKey;
use crate::clock::Timestamp;
use crate::error::{Error, InvalidInput};
use crate::id::{FactorId, UserId};

/// Where an out-of-band code was sent (a phone number or email address) as a counter
/// key, for counting failures and sends per destination: SMS pumping spreads over many
/// users but few numbers. (The parsed, validated address itself is
/// `mfa_oob::Destination`; this is only its normalised string.)
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct DestinationKey(String);

impl DestinationKey {
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

impl TryFrom<String> for DestinationKey {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl From<DestinationKey> for String {
    fn from(d: DestinationKey) -> Self {
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
    Destination(DestinationKey),
    /// Failures from one client address (build it with [`FailureKey::client_ip`]).
    ClientIp(IpAddr),
    /// One of the service's own per-user caps (codes sent, pushes waiting, pushes since
    /// the last success).
    Limit(UserId, UserLimit),
    /// Codes sent to one confirmed factor: its owner's sign-in codes, counted apart from
    /// what anyone else sends to the same destination.
    FactorSends(UserId, FactorId),
    /// Codes sent to one destination for enrollment, whichever account asks.
    DestinationSends(DestinationKey),
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
    /// Times a user without a factor skipped enrolment in the policy's grace period.
    EnrollmentSkips,
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
            Self::EnrollmentSkips => "enrollment-skips",
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
    /// [`Error::Invalid`] when it is not a valid [`DestinationKey`].
    pub fn destination(destination: &str) -> Result<Self, Error> {
        DestinationKey::new(destination).map(Self::Destination)
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
