//! The provider's keys: the discovery document, the JWKS, the fetcher that reads them and
//! the cache that keeps them.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use mfa_core::{InvalidInput, Timestamp};
use serde::Deserialize;

/// A fetch of the discovery document or the JWKS failed (network, status, size).
#[derive(Debug, thiserror::Error)]
#[error("fetching {url}: {problem}")]
pub struct FetchError {
    url: String,
    problem: String,
}

impl FetchError {
    /// A failure to fetch `url`.
    pub fn new(url: impl Into<String>, problem: impl fmt::Display) -> Self {
        Self {
            url: url.into(),
            problem: problem.to_string(),
        }
    }
}

/// Reads a document of the provider by URL: the discovery document and the JWKS.
///
/// [`HttpFetcher`](super::HttpFetcher) (feature `oidc-http`) fetches over HTTPS; tests
/// and deployments that pin their provider's keys use [`StaticFetcher`].
pub trait Fetcher: Send + Sync + 'static {
    /// The body of a successful `GET url`.
    ///
    /// # Errors
    ///
    /// [`FetchError`] when the document cannot be read.
    fn get(&self, url: &str) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

/// Documents held in memory, by URL.
#[derive(Clone, Debug, Default)]
pub struct StaticFetcher {
    docs: BTreeMap<String, Vec<u8>>,
}

impl StaticFetcher {
    /// No document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the document at `url`.
    #[must_use]
    pub fn with(mut self, url: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        self.docs.insert(url.into(), body.into());
        self
    }
}

impl Fetcher for StaticFetcher {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.docs
            .get(url)
            .cloned()
            .ok_or_else(|| FetchError::new(url, "no such document"))
    }
}

/// The members of an OpenID Provider's discovery document (OpenID Connect Discovery 1.0
/// §3) this crate uses.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq)]
pub struct Discovery {
    /// The issuer; must equal the configured issuer exactly (§4.3).
    pub issuer: String,
    /// Where the provider's keys are.
    pub jwks_uri: String,
    /// Where a front end sends the user to step up.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// The `acr` values the provider says it supports.
    #[serde(default)]
    pub acr_values_supported: Vec<String>,
}

impl Discovery {
    /// Parses a discovery document.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when it is not JSON of that shape.
    pub fn parse(bytes: &[u8]) -> Result<Self, InvalidInput> {
        serde_json::from_str(json_text(bytes, "discovery document")?)
            .map_err(|e| InvalidInput::new("discovery document", e.to_string()))
    }
}

/// A JSON document's text: JSON is UTF-8 (RFC 8259 §8.1) throughout, members this crate
/// ignores included. `serde_json::from_slice` checks only the strings it keeps, so a
/// document with other bytes in a member it skips would otherwise parse.
fn json_text<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str, InvalidInput> {
    std::str::from_utf8(bytes).map_err(|_| InvalidInput::new(what, "not UTF-8"))
}

/// A provider's verification keys, by key id, parsed from a JWKS (RFC 7517 §5).
///
/// Keys marked for encryption (`use: enc`), symmetric keys (`kty: oct`: a provider's
/// public JWKS has no business publishing an HMAC secret) and keys jsonwebtoken cannot
/// use are left out; a key whose `alg` is set verifies only that algorithm.
#[derive(Clone, Default)]
pub struct Keys {
    keys: Vec<Key>,
}

#[derive(Clone)]
struct Key {
    kid: Option<String>,
    alg: Option<Algorithm>,
    key: DecodingKey,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (&k.kid, k.alg)))
            .finish()
    }
}

impl Keys {
    /// Parses a JWKS document.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when it is not a JWKS (individual unusable keys are skipped).
    pub fn parse(bytes: &[u8]) -> Result<Self, InvalidInput> {
        // Parse key by key, so one key of a type jsonwebtoken does not know does not
        // hide the others.
        #[derive(Deserialize)]
        struct Raw {
            keys: Vec<serde_json::Value>,
        }
        let raw: Raw = serde_json::from_str(json_text(bytes, "jwks")?)
            .map_err(|e| InvalidInput::new("jwks", e.to_string()))?;
        let keys = raw
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .filter_map(|jwk| Key::from_jwk(&jwk))
            .collect();
        Ok(Self { keys })
    }

    /// How many usable keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a token with this `kid` and `alg` has a key here (see [`parse`](Self::parse)
    /// for which keys are kept).
    pub fn contains(&self, kid: Option<&str>, alg: Algorithm) -> bool {
        self.find(kid, alg).is_some()
    }

    /// The key for a token's `kid` and `alg`: the key with that id (a token without
    /// `kid` is accepted only when the set holds exactly one key), whose own `alg`, if
    /// any, is the token's.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&DecodingKey> {
        let key = match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))?,
            None => match self.keys.as_slice() {
                [only] => only,
                _ => return None,
            },
        };
        if key.alg.is_some_and(|a| a != alg) || alg.family() != key.key.family() {
            return None;
        }
        Some(&key.key)
    }

    pub(crate) fn has_kid(&self, kid: Option<&str>) -> bool {
        match kid {
            Some(kid) => self.keys.iter().any(|k| k.kid.as_deref() == Some(kid)),
            None => self.keys.len() == 1,
        }
    }
}

impl Key {
    fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            return None;
        }
        if matches!(
            jwk.algorithm,
            jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
        ) {
            return None;
        }
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(a) => Some(signing_alg(a)?),
        };
        let key = DecodingKey::from_jwk(jwk).ok()?;
        Some(Self {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        })
    }
}

fn signing_alg(a: KeyAlgorithm) -> Option<Algorithm> {
    Some(match a {
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The cached keys and when they were fetched.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    pub(crate) keys: Keys,
    pub(crate) authorization_endpoint: Option<String>,
    pub(crate) fetched_at: Option<Timestamp>,
}

impl Cache {
    /// Whether a fetch is due: never fetched, or older than `max_age`.
    pub(crate) fn stale(&self, now: Timestamp, max_age: Duration) -> bool {
        self.fetched_at
            .is_none_or(|t| now.saturating_since(t) > max_age || t > now)
    }

    /// Whether a refresh for an unknown `kid` is allowed: the last fetch was at least
    /// `min_interval` ago.
    pub(crate) fn may_refresh(&self, now: Timestamp, min_interval: Duration) -> bool {
        self.fetched_at
            .is_none_or(|t| now.saturating_since(t) >= min_interval || t > now)
    }
}
