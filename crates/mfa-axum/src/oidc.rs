//! Step-up for services behind any OpenID provider (feature `oidc`): bearer JWTs whose
//! `amr`, `acr` and `auth_time` become the policy's session.
//!
//! [`OidcSessions`] is a [`SessionLoader`]: put it in a [`RequireMfaLayer`] and the same
//! [`Requirement`]s (`aal2`, phishing-resistant within five minutes, …) guard routes for
//! tokens an identity provider (Auth0, Keycloak, Okta, Entra, Zitadel, any certified
//! OpenID provider) issued as they do for the application's own sessions. It
//!
//! 1. takes the `Authorization: Bearer` JWT (an access token in JWT form, RFC 9068, or
//!    an ID token) and checks its signature with the provider's key, found by `kid` in the
//!    JWKS named by the provider's discovery document. Keys are cached; an unknown `kid`
//!    refetches them, at most once per [`min_refresh_interval`](OidcBuilder::min_refresh_interval);
//! 2. accepts only the configured algorithms (default `RS256`, `ES256`, `EdDSA`, `PS256`;
//!    `none` and HMAC never: a public JWKS holds no shared secret), checks `iss`
//!    (exactly), `aud`, `exp`, `nbf` and `iat` with a [leeway](OidcBuilder::leeway);
//! 3. maps `amr`/`acr` through a provider [`Dialect`] and dates them at `auth_time`
//!    (without `auth_time` they count as never verified unless
//!    [`iat_as_auth_time`](OidcBuilder::iat_as_auth_time) is set), then lets the layer
//!    judge the session.
//!
//! The layer answers a bad token `401` with `WWW-Authenticate: Bearer
//! error="invalid_token"` (RFC 6750 §3.1), a valid but insufficient one `401` with RFC
//! 9470's `insufficient_user_authentication`, `acr_values` and `max_age`; the front end
//! goes back to the provider with [`authorization_request`].
//!
//! ```
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! use mfa_axum::oidc::{Dialect, OidcSessions, StaticFetcher};
//! use mfa_axum::{RequireMfaLayer, phishing_resistant};
//! use mfa_policy::Policy;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In production: `HttpFetcher::new()?` (feature `oidc-http`).
//! let fetcher = StaticFetcher::new()
//!     .with("https://id.example.com/.well-known/openid-configuration",
//!           r#"{"issuer":"https://id.example.com","jwks_uri":"https://id.example.com/jwks"}"#)
//!     .with("https://id.example.com/jwks", r#"{"keys":[]}"#);
//! let sessions = OidcSessions::builder("https://id.example.com", ["payments-api"])
//!     .dialect(Dialect::auth0())
//!     .build(fetcher)?;
//! let policy = Arc::new(Policy::from_toml("version = 1\nmode = \"always\"")?);
//! let layer = RequireMfaLayer::builder(policy, sessions, phishing_resistant(Duration::from_secs(300)))
//!     .build()?;
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! ## Dependencies
//!
//! JOSE: `jsonwebtoken` 12 with its `aws_lc_rs` backend. Its `rust_crypto` backend is of
//! our RustCrypto generation (p256/p384 0.14, rsa 0.10, ed25519-dalek 3), but needs rsa
//! 0.10.0 final, which cannot share the lock with the rsa pre-release the WebAuthn
//! benches' peer pins; aws-lc-rs is already in the lock (mfa-webauthn's `aws-lc`), so
//! this adds no second crypto generation. HTTP (`oidc-http`): reqwest 0.13 with rustls on
//! the same aws-lc-rs; hyper-util alone has no TLS, and discovery must be HTTPS.

mod dialect;
#[cfg(feature = "oidc-http")]
mod http;
mod jwks;
mod step_up;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::http::request::Parts;
use jsonwebtoken::Validation;
use mfa_core::{Clock, InvalidInput, SystemClock, Timestamp, UserId};
use serde::Deserialize;
use tokio::sync::Mutex;

/// The JWS algorithms (re-exported from jsonwebtoken, so the allow-list needs no other
/// dependency).
pub use jsonwebtoken::Algorithm;

pub use self::dialect::Dialect;
#[cfg(feature = "oidc-http")]
pub use self::http::HttpFetcher;
pub use self::jwks::{Discovery, FetchError, Fetcher, Keys, StaticFetcher};
pub use self::step_up::{Challenge, StepUpRequest, authorization_request};
#[cfg(doc)]
use crate::RequireMfaLayer;
use crate::{LoadError, MfaSession, SessionLoader};
#[cfg(doc)]
use mfa_policy::assurance::Requirement;

/// Why a token was refused. Its `Display` is always `invalid token`; the reason is for
/// logs ([`reason`](Self::reason)), never for the client.
#[derive(Debug, thiserror::Error)]
#[error("invalid token")]
pub struct InvalidToken {
    reason: TokenRejection,
}

impl InvalidToken {
    /// Why, for logs.
    pub fn reason(&self) -> TokenRejection {
        self.reason
    }
}

impl From<TokenRejection> for InvalidToken {
    fn from(reason: TokenRejection) -> Self {
        Self { reason }
    }
}

/// The precise reason behind an [`InvalidToken`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TokenRejection {
    /// `alg` is not in the allow-list (or is `none`, or an unknown name).
    Algorithm,
    /// `aud` does not name this resource.
    Audience,
    /// `exp` is past (beyond the leeway).
    Expired,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `iss` is not the provider.
    Issuer,
    /// Not a compact JWS with a JSON header and claims of the expected types.
    Malformed,
    /// A required claim (`iss`, `aud`, `exp`, `sub`) is missing.
    MissingClaim,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// The signature does not verify with the key.
    Signature,
    /// `sub` is not a usable user id.
    Subject,
    /// No key with the token's `kid` (after a refresh, if one was allowed).
    UnknownKey,
}

/// The error of [`OidcSessions::validate`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The token is not acceptable: `401 invalid_token`.
    #[error(transparent)]
    InvalidToken(#[from] InvalidToken),
    /// The provider's keys could not be read: the request cannot be judged (`500`).
    #[error("provider keys unavailable: {0}")]
    Provider(String),
}

/// A validated token: who, and what its authentication proves.
#[derive(Clone, Debug)]
pub struct ValidatedToken {
    /// The session the layer judges (the user is `sub`).
    pub session: MfaSession,
    /// The `acr` claim, as sent.
    pub acr: Option<String>,
    /// The `amr` claim, as sent.
    pub amr: Vec<String>,
    /// `auth_time`, if sent.
    pub auth_time: Option<Timestamp>,
}

/// Builds [`OidcSessions`].
pub struct OidcBuilder {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    dialect: Dialect,
    min_refresh_interval: Duration,
    max_key_age: Duration,
    iat_as_auth_time: bool,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for OidcBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcBuilder")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl OidcBuilder {
    /// The signature algorithms accepted (default `RS256`, `PS256`, `ES256`, `EdDSA`).
    /// HMAC algorithms are refused at [`build`](Self::build).
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 60 s).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// What the provider's `acr`/`amr` values mean (default [`Dialect::standard`]).
    #[must_use]
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// The shortest time between two key fetches caused by unknown `kid`s (default 60 s):
    /// tokens with made-up key ids cannot make this service hammer the provider.
    #[must_use]
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// How long fetched keys are used before they are fetched again (default 1 h).
    #[must_use]
    pub fn max_key_age(mut self, age: Duration) -> Self {
        self.max_key_age = age;
        self
    }

    /// Take `iat` as the authentication time of a token without `auth_time` (default:
    /// such a token's methods count as never verified, so any requirement asks for a
    /// step-up, and the provider then sends `auth_time` because `max_age` was asked).
    /// `iat` is never earlier than the authentication, so this overstates freshness:
    /// set it only for a provider that issues tokens only at sign-in.
    #[must_use]
    pub fn iat_as_auth_time(mut self, yes: bool) -> Self {
        self.iat_as_auth_time = yes;
        self
    }

    /// The clock (default the system's).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the session source; nothing is fetched until the first token.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] for an empty issuer or audience list, no algorithm, or an HMAC
    /// algorithm.
    pub fn build<F: Fetcher>(self, fetcher: F) -> Result<OidcSessions<F>, InvalidInput> {
        if self.issuer.is_empty() {
            return Err(InvalidInput::new("issuer", "must not be empty"));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(InvalidInput::new("audience", "at least one, none empty"));
        }
        if self.algorithms.is_empty() {
            return Err(InvalidInput::new("algorithms", "at least one"));
        }
        if self
            .algorithms
            .iter()
            .any(|a| a.family() == jsonwebtoken::AlgorithmFamily::Hmac)
        {
            return Err(InvalidInput::new(
                "algorithms",
                "HMAC needs a shared secret, which a provider's JWKS does not hold",
            ));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms.clone_from(&self.algorithms);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Time is checked below, with the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        Ok(OidcSessions {
            inner: Arc::new(Inner {
                fetcher,
                discovery_url,
                validation,
                config: self,
                cache: Mutex::new(jwks::Cache::default()),
            }),
        })
    }
}

struct Inner<F> {
    fetcher: F,
    discovery_url: String,
    validation: Validation,
    config: OidcBuilder,
    cache: Mutex<jwks::Cache>,
}

/// Sessions from bearer JWTs of one OpenID provider; a [`SessionLoader`].
pub struct OidcSessions<F> {
    inner: Arc<Inner<F>>,
}

impl<F> Clone for OidcSessions<F> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<F> fmt::Debug for OidcSessions<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSessions")
            .field("issuer", &self.inner.config.issuer)
            .finish_non_exhaustive()
    }
}

impl OidcSessions<()> {
    /// A builder for tokens of `issuer` (exactly as in its tokens' `iss`) meant for one of
    /// `audiences` (this resource server's identifier, or the client id for ID tokens).
    pub fn builder<I, S>(issuer: impl Into<String>, audiences: I) -> OidcBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        OidcBuilder {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::PS256,
                Algorithm::ES256,
                Algorithm::EdDSA,
            ],
            leeway: Duration::from_secs(60),
            dialect: Dialect::standard(),
            min_refresh_interval: Duration::from_secs(60),
            max_key_age: Duration::from_secs(3_600),
            iat_as_auth_time: false,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The protected header of a compact JWS, as far as key selection needs it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TokenHeader {
    /// `alg`, when it names an algorithm jsonwebtoken implements (`none` never does).
    pub alg: Option<Algorithm>,
    /// `kid`.
    pub kid: Option<String>,
}

impl TokenHeader {
    /// Parses the header of a compact JWS (three base64url parts; RFC 7515 §7.1).
    ///
    /// # Errors
    ///
    /// [`InvalidToken`] ([`TokenRejection::Malformed`]) when the token is not three
    /// parts or the header is not a JSON object with a string `alg`; a `crit` header
    /// (extensions this crate cannot understand, RFC 7515 §4.1.11) is refused too.
    pub fn parse(token: &str) -> Result<Self, InvalidToken> {
        use base64::Engine as _;
        #[derive(Deserialize)]
        struct Raw {
            alg: String,
            #[serde(default)]
            kid: Option<String>,
            #[serde(default)]
            crit: Option<serde_json::Value>,
        }
        let malformed = || InvalidToken::from(TokenRejection::Malformed);
        let mut parts = token.split('.');
        let (Some(h), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h)
            .map_err(|_| malformed())?;
        // JSON is UTF-8 throughout, members skipped here included (RFC 8259 §8.1).
        let json = std::str::from_utf8(&json).map_err(|_| malformed())?;
        let raw: Raw = serde_json::from_str(json).map_err(|_| malformed())?;
        if raw.crit.is_some() {
            return Err(malformed());
        }
        Ok(Self {
            alg: raw.alg.parse().ok(),
            kid: raw.kid,
        })
    }
}

/// The claims this crate reads (others are ignored).
#[derive(Deserialize)]
struct Claims {
    // Required, but optional here so that a missing one is `MissingClaim`, not `Malformed`.
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<NumericDate>,
    #[serde(default)]
    nbf: Option<NumericDate>,
    #[serde(default)]
    iat: Option<NumericDate>,
    #[serde(default)]
    auth_time: Option<NumericDate>,
    #[serde(default)]
    acr: Option<String>,
    #[serde(default)]
    amr: Option<OneOrMany>,
}

/// A JSON number of seconds (RFC 7519 §2 allows fractions; they are dropped).
#[derive(Clone, Copy)]
struct NumericDate(u64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        if let Some(u) = n.as_u64() {
            return Ok(Self(u));
        }
        match n.as_f64() {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "range-checked just before"
            )]
            Some(f) if (0.0..1.8e19).contains(&f) => Ok(Self(f as u64)),
            _ => Err(serde::de::Error::custom("not a non-negative NumericDate")),
        }
    }
}

/// `amr` as an array of strings (or, leniently, one string).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<F: Fetcher> OidcSessions<F> {
    /// Validates a compact JWT and maps it to the policy's session.
    ///
    /// # Errors
    ///
    /// [`ValidateError::InvalidToken`] for a token that is not acceptable, with the
    /// reason for logs; [`ValidateError::Provider`] when the keys cannot be fetched.
    pub async fn validate(&self, token: &str) -> Result<ValidatedToken, ValidateError> {
        let i = &self.inner;
        let c = &i.config;
        let now = c.clock.now();
        let header = TokenHeader::parse(token)?;
        let Some(alg) = header.alg.filter(|a| c.algorithms.contains(a)) else {
            return Err(InvalidToken::from(TokenRejection::Algorithm).into());
        };
        let key = self.key(header.kid.as_deref(), alg, now).await?;
        // jsonwebtoken wants every listed algorithm of the key's family: list the one
        // already checked against the allow-list.
        let mut validation = i.validation.clone();
        validation.algorithms = vec![alg];
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| reject(&e))?;
        let claims = data.claims;
        let (Some(sub), Some(exp)) = (claims.sub, claims.exp) else {
            return Err(InvalidToken::from(TokenRejection::MissingClaim).into());
        };
        let leeway = c.leeway.as_secs();
        if exp.0.saturating_add(leeway) < now.unix_secs() {
            return Err(InvalidToken::from(TokenRejection::Expired).into());
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf.0 > now.unix_secs().saturating_add(leeway))
        {
            return Err(InvalidToken::from(TokenRejection::NotYetValid).into());
        }
        let late = |t: Option<NumericDate>| {
            t.is_some_and(|t| t.0 > now.unix_secs().saturating_add(leeway))
        };
        if late(claims.iat) || late(claims.auth_time) {
            return Err(InvalidToken::from(TokenRejection::IssuedInFuture).into());
        }
        let user = UserId::new(sub).map_err(|_| InvalidToken::from(TokenRejection::Subject))?;
        let amr = match claims.amr {
            None => Vec::new(),
            Some(OneOrMany::One(s)) => vec![s],
            Some(OneOrMany::Many(v)) => v,
        };
        let auth_time = claims.auth_time.map(|t| Timestamp::from_unix_secs(t.0));
        let at = auth_time
            .or_else(|| {
                c.iat_as_auth_time
                    .then(|| claims.iat.map(|t| Timestamp::from_unix_secs(t.0)))
                    .flatten()
            })
            .unwrap_or(Timestamp::EPOCH);
        let (session, enrolled) = c.dialect.session(claims.acr.as_deref(), &amr, at, now);
        Ok(ValidatedToken {
            session: MfaSession {
                user,
                session,
                enrolled,
            },
            acr: claims.acr,
            amr,
            auth_time,
        })
    }

    /// The provider's authorization endpoint, from its discovery document (fetched if
    /// not yet cached): where [`authorization_request`] sends the user.
    ///
    /// # Errors
    ///
    /// [`ValidateError::Provider`] when discovery fails or names no endpoint.
    pub async fn authorization_endpoint(&self) -> Result<String, ValidateError> {
        let now = self.inner.config.clock.now();
        let mut cache = self.inner.cache.lock().await;
        if cache.stale(now, self.inner.config.max_key_age) {
            self.refresh(&mut cache, now).await?;
        }
        cache
            .authorization_endpoint
            .clone()
            .ok_or_else(|| ValidateError::Provider("no authorization_endpoint".to_owned()))
    }

    /// The key for `kid`/`alg`: from the cache, else after one (rate-limited) refresh.
    async fn key(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        now: Timestamp,
    ) -> Result<jsonwebtoken::DecodingKey, ValidateError> {
        let c = &self.inner.config;
        let mut cache = self.inner.cache.lock().await;
        let due = cache.stale(now, c.max_key_age)
            || (!cache.keys.has_kid(kid) && cache.may_refresh(now, c.min_refresh_interval));
        if due {
            // A failed refresh of keys we already hold keeps them.
            if let Err(e) = self.refresh(&mut cache, now).await {
                if cache.fetched_at.is_none() {
                    return Err(e);
                }
                tracing::warn!(target: "mfa::axum", error = %e, "provider keys refresh failed; using cached keys");
            }
        }
        match cache.keys.find(kid, alg) {
            Some(k) => Ok(k.clone()),
            None => Err(InvalidToken::from(TokenRejection::UnknownKey).into()),
        }
    }

    async fn refresh(&self, cache: &mut jwks::Cache, now: Timestamp) -> Result<(), ValidateError> {
        let i = &self.inner;
        let provider = |e: &dyn fmt::Display| ValidateError::Provider(e.to_string());
        let doc = i
            .fetcher
            .get(&i.discovery_url)
            .await
            .map_err(|e| provider(&e))?;
        let discovery = Discovery::parse(&doc).map_err(|e| provider(&e))?;
        // OpenID Connect Discovery 1.0 §4.3: the issuer must be exactly the one asked.
        if discovery.issuer != i.config.issuer {
            return Err(ValidateError::Provider(format!(
                "discovery names issuer {:?}, not {:?}",
                discovery.issuer, i.config.issuer
            )));
        }
        let jwks = i
            .fetcher
            .get(&discovery.jwks_uri)
            .await
            .map_err(|e| provider(&e))?;
        let keys = Keys::parse(&jwks).map_err(|e| provider(&e))?;
        cache.keys = keys;
        cache.authorization_endpoint = discovery.authorization_endpoint;
        cache.fetched_at = Some(now);
        Ok(())
    }
}

fn reject(e: &jsonwebtoken::errors::Error) -> ValidateError {
    use jsonwebtoken::errors::ErrorKind as K;
    let reason = match e.kind() {
        K::InvalidSignature => TokenRejection::Signature,
        K::InvalidAlgorithm
        | K::InvalidAlgorithmName
        | K::UnsupportedAlgorithm
        | K::MissingAlgorithm => TokenRejection::Algorithm,
        K::InvalidIssuer => TokenRejection::Issuer,
        K::InvalidAudience => TokenRejection::Audience,
        K::ExpiredSignature => TokenRejection::Expired,
        K::ImmatureSignature => TokenRejection::NotYetValid,
        K::InvalidSubject => TokenRejection::Subject,
        K::MissingRequiredClaim(_) => TokenRejection::MissingClaim,
        _ => TokenRejection::Malformed,
    };
    InvalidToken::from(reason).into()
}

/// The bearer token of a request, if it sends one (RFC 6750 §2.1; the scheme is
/// case-insensitive).
fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl<F: Fetcher> SessionLoader for OidcSessions<F> {
    async fn load(&self, parts: &Parts) -> Result<Option<MfaSession>, LoadError> {
        let Some(token) = bearer(parts) else {
            return Ok(None);
        };
        match self.validate(token).await {
            Ok(t) => Ok(Some(t.session)),
            Err(ValidateError::InvalidToken(e)) => {
                tracing::info!(target: "mfa::axum", reason = ?e.reason(), "bearer token refused");
                Err(LoadError::invalid_token(e))
            }
            Err(e) => Err(LoadError::new(e)),
        }
    }
}

#[cfg(test)]
mod tests;
