#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mfa_core::{Attachment, Clock, FactorKind, InvalidInput, SystemClock, UserId};
use mfa_policy::Policy;
use mfa_policy::assurance::{Level, Requirement};
use mfa_policy::document::KindSet;
use mfa_policy::input::{EnrolledFactor, Session};
use mfa_policy::oidc::{
    IDMANAGEMENT_AAL, PAPE_MULTI_FACTOR, PAPE_PHISHING_RESISTANT, www_authenticate,
};

/// What the application's session store knows about the caller.
#[derive(Clone, Debug)]
pub struct MfaSession {
    /// The signed-in user.
    pub user: UserId,
    /// The methods this session completed (password, factors), with when.
    pub session: Session,
    /// The user's enrolled factors (from `mfa::Service::list_factors` or the store).
    pub enrolled: Vec<EnrolledFactor>,
}

/// A session that could not be loaded: the request is refused, never let through.
///
/// A store failure ([`new`](Self::new)) is answered `500`; credentials that are not
/// acceptable ([`invalid_token`](Self::invalid_token): a bad signature, an expired or
/// foreign token) `401` with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750
/// §3.1) for an API client, so it knows to get a new token, and a redirect to the
/// sign-in page for a browser.
#[derive(Debug)]
pub struct LoadError {
    source: Box<dyn std::error::Error + Send + Sync>,
    invalid_token: bool,
}

impl LoadError {
    /// Wraps the store's error.
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            source: e.into(),
            invalid_token: false,
        }
    }

    /// The request's credentials (a bearer token) are not acceptable.
    pub fn invalid_token(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            source: e.into(),
            invalid_token: true,
        }
    }

    /// Whether the credentials were refused (rather than the store failing).
    pub fn is_invalid_token(&self) -> bool {
        self.invalid_token
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.invalid_token {
            write!(f, "invalid credentials: {}", self.source)
        } else {
            write!(f, "session store: {}", self.source)
        }
    }
}

impl std::error::Error for LoadError {}

/// Loads the caller's session from the request (a cookie, a bearer token): the
/// application's session storage, behind one method.
pub trait SessionLoader: Send + Sync + 'static {
    /// The caller's session, or `None` when the request carries none (not signed in).
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the store fails; the layer then answers `500`.
    fn load(
        &self,
        parts: &Parts,
    ) -> impl Future<Output = Result<Option<MfaSession>, LoadError>> + Send;
}

/// Every WebAuthn kind (platform, roaming, either).
fn webauthn_kinds() -> KindSet {
    KindSet::EMPTY
        .with(FactorKind::WebAuthn { attachment: None })
        .with(FactorKind::WebAuthn {
            attachment: Some(Attachment::CrossPlatform),
        })
        .with(FactorKind::WebAuthn {
            attachment: Some(Attachment::Platform),
        })
}

/// A phishing-resistant second factor (a passkey or security key) verified within
/// `max_age`; a remembered device does not count.
pub fn phishing_resistant(max_age: Duration) -> Requirement {
    Requirement {
        level: Level::PhishingResistant,
        kinds: webauthn_kinds(),
        max_age: Some(max_age),
        fresh: true,
    }
}

/// The `acr` value a requirement's level is asked for by default: the OpenID PAPE
/// policies and the US federal AAL values that mfa-policy maps back to the same levels.
fn default_acr(level: Level) -> Option<&'static str> {
    match level {
        Level::None => None,
        Level::Aal1 => Some(IDMANAGEMENT_AAL[0]),
        Level::Mfa => Some(PAPE_MULTI_FACTOR),
        Level::PhishingResistant => Some(PAPE_PHISHING_RESISTANT),
        Level::Aal2 => Some(IDMANAGEMENT_AAL[1]),
        Level::Aal3 => Some(IDMANAGEMENT_AAL[2]),
    }
}

struct Config<L> {
    policy: Arc<Policy>,
    loader: L,
    requirement: Requirement,
    acr_values: Vec<String>,
    step_up_path: String,
    sign_in_path: String,
    /// The RFC 9470 challenge, built (and validated) once.
    challenge: HeaderValue,
    /// The RFC 6750 challenge for a request without a session.
    no_session: HeaderValue,
    /// The RFC 6750 §3.1 challenge for credentials that are not acceptable.
    invalid_token: HeaderValue,
    clock: Arc<dyn Clock>,
}

/// Builds a [`RequireMfaLayer`].
pub struct RequireMfaBuilder<L> {
    policy: Arc<Policy>,
    loader: L,
    requirement: Requirement,
    acr_values: Option<Vec<String>>,
    realm: Option<String>,
    step_up_path: String,
    sign_in_path: Option<String>,
    clock: Arc<dyn Clock>,
}

impl<L> fmt::Debug for RequireMfaBuilder<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireMfaBuilder")
            .field("requirement", &self.requirement)
            .field("step_up_path", &self.step_up_path)
            .finish_non_exhaustive()
    }
}

fn check_path(what: &'static str, path: &str) -> Result<(), InvalidInput> {
    // A local absolute path: not `//host` (a scheme-relative URL), no scheme, nothing a
    // header cannot carry.
    if !path.starts_with('/')
        || path.starts_with("//")
        || path.contains('\\')
        || path.chars().any(|c| c.is_control() || c == ' ' || c == '?')
    {
        return Err(InvalidInput::new(
            what,
            "must be a local path starting with one '/', without a query",
        ));
    }
    Ok(())
}

impl<L: SessionLoader> RequireMfaBuilder<L> {
    /// The step-up page browsers are redirected to (default `/step-up`).
    #[must_use]
    pub fn step_up_path(mut self, path: impl Into<String>) -> Self {
        self.step_up_path = path.into();
        self
    }

    /// The sign-in page browsers without a session are redirected to (default: the
    /// step-up page).
    #[must_use]
    pub fn sign_in_path(mut self, path: impl Into<String>) -> Self {
        self.sign_in_path = Some(path.into());
        self
    }

    /// The `realm` of the API challenge (none by default).
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The `acr_values` named in the challenge and the redirect (default: the one the
    /// requirement's level maps to, such as the PAPE `phishing-resistant` policy).
    #[must_use]
    pub fn acr_values<I: IntoIterator<Item = S>, S: Into<String>>(mut self, values: I) -> Self {
        self.acr_values = Some(values.into_iter().map(Into::into).collect());
        self
    }

    /// The clock (default the system's).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the layer.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] for a requirement of level `none` (it would protect nothing), a
    /// path that is not a local absolute path, or a realm or `acr` value a header cannot
    /// carry (see [`www_authenticate`]).
    pub fn build(self) -> Result<RequireMfaLayer<L>, InvalidInput> {
        if self.requirement.is_none() {
            return Err(InvalidInput::new(
                "requirement",
                "level `none` protects nothing",
            ));
        }
        check_path("step-up path", &self.step_up_path)?;
        let sign_in_path = self
            .sign_in_path
            .unwrap_or_else(|| self.step_up_path.clone());
        check_path("sign-in path", &sign_in_path)?;
        let acr_values = self.acr_values.unwrap_or_else(|| {
            default_acr(self.requirement.level)
                .map(str::to_owned)
                .into_iter()
                .collect()
        });
        let acr: Vec<&str> = acr_values.iter().map(String::as_str).collect();
        let challenge = www_authenticate(self.realm.as_deref(), &acr, self.requirement.max_age)?;
        let challenge = HeaderValue::from_str(&challenge)
            .map_err(|_| InvalidInput::new("challenge", "not a valid header value"))?;
        let no_session = match &self.realm {
            Some(r) => format!("Bearer realm=\"{r}\""),
            None => "Bearer".to_owned(),
        };
        let invalid_token = format!(
            "{no_session}{}error=\"invalid_token\"",
            if self.realm.is_some() { ", " } else { " " }
        );
        let no_session = HeaderValue::from_str(&no_session)
            .map_err(|_| InvalidInput::new("realm", "not a valid header value"))?;
        let invalid_token = HeaderValue::from_str(&invalid_token)
            .map_err(|_| InvalidInput::new("realm", "not a valid header value"))?;
        Ok(RequireMfaLayer {
            config: Arc::new(Config {
                policy: self.policy,
                loader: self.loader,
                requirement: self.requirement,
                acr_values,
                step_up_path: self.step_up_path,
                sign_in_path,
                challenge,
                no_session,
                invalid_token,
                clock: self.clock,
            }),
        })
    }
}

/// Why a request was refused, with the response to send.
#[derive(Debug)]
pub struct Refusal {
    /// What happened (for the application's logs).
    pub kind: RefusalKind,
    /// The redirect or `401` / `500` response.
    pub response: Response,
}

/// What a [`Refusal`] is about.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RefusalKind {
    /// Credentials that are not acceptable (a bad or expired bearer token).
    InvalidToken,
    /// No session: not signed in.
    NoSession,
    /// A session that does not meet the requirement: step up.
    StepUp,
    /// The session store failed.
    StoreFailed,
}

/// A tower layer (and the check behind it) requiring an MFA session meeting a
/// [`Requirement`]; see the [crate docs](crate).
pub struct RequireMfaLayer<L> {
    config: Arc<Config<L>>,
}

impl<L> Clone for RequireMfaLayer<L> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
        }
    }
}

impl<L> fmt::Debug for RequireMfaLayer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireMfaLayer")
            .field("requirement", &self.config.requirement)
            .field("step_up_path", &self.config.step_up_path)
            .finish_non_exhaustive()
    }
}

/// Whether the caller is a browser navigating (redirect it) rather than an API client
/// (challenge it). A request with `Authorization` is always an API client.
fn is_browser(parts: &Parts) -> bool {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return false;
    }
    parts
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().starts_with("text/html")))
}

fn redirect(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The redirect to the sign-in page, coming back to the request's own path and query.
fn sign_in_redirect<L>(c: &Config<L>, parts: &Parts) -> Response {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next_of(parts))
        .finish();
    redirect(&format!("{}?{q}", c.sign_in_path))
}

fn next_of(parts: &Parts) -> &str {
    parts
        .uri
        .path_and_query()
        .map_or("/", axum::http::uri::PathAndQuery::as_str)
}

fn unauthorized(challenge: &HeaderValue) -> Response {
    let mut res = (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        "{\"error\":\"insufficient_user_authentication\"}",
    )
        .into_response();
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge.clone());
    res
}

impl<L: SessionLoader> RequireMfaLayer<L> {
    /// A builder: the policy that judges sessions, the application's loader, and what
    /// the protected routes need.
    pub fn builder(
        policy: Arc<Policy>,
        loader: L,
        requirement: Requirement,
    ) -> RequireMfaBuilder<L> {
        RequireMfaBuilder {
            policy,
            loader,
            requirement,
            acr_values: None,
            realm: None,
            step_up_path: "/step-up".to_owned(),
            sign_in_path: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The requirement this layer enforces.
    pub fn requirement(&self) -> &Requirement {
        &self.config.requirement
    }

    /// The check the layer runs, for a handler that wants it inline (an extractor of
    /// its own): the caller's session when it meets the requirement, else the
    /// response to send.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] with the redirect, the `401` challenge or a `500`.
    pub async fn check(&self, parts: &Parts) -> Result<MfaSession, Refusal> {
        let c = &self.config;
        let browser = is_browser(parts);
        let loaded = match c.loader.load(parts).await {
            Ok(s) => s,
            Err(e) if e.is_invalid_token() => {
                // A browser is sent to sign in again; an API client is told its token
                // is the problem (RFC 6750 §3.1), so it gets a new one.
                let response = if browser {
                    sign_in_redirect(c, parts)
                } else {
                    let mut res = (
                        StatusCode::UNAUTHORIZED,
                        [(header::CONTENT_TYPE, "application/json")],
                        "{\"error\":\"invalid_token\"}",
                    )
                        .into_response();
                    res.headers_mut()
                        .insert(header::WWW_AUTHENTICATE, c.invalid_token.clone());
                    res
                };
                return Err(Refusal {
                    kind: RefusalKind::InvalidToken,
                    response,
                });
            }
            Err(e) => {
                tracing::warn!(target: "mfa::axum", error = %e, "session store failed; request refused");
                return Err(Refusal {
                    kind: RefusalKind::StoreFailed,
                    response: StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                });
            }
        };
        let next = next_of(parts);
        let Some(session) = loaded else {
            let response = if browser {
                sign_in_redirect(c, parts)
            } else {
                let mut res = StatusCode::UNAUTHORIZED.into_response();
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, c.no_session.clone());
                res
            };
            return Err(Refusal {
                kind: RefusalKind::NoSession,
                response,
            });
        };
        let now = c.clock.now();
        if c.policy
            .meets(&c.requirement, &session.session, &session.enrolled, now)
        {
            return Ok(session);
        }
        let response = if browser {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("next", next);
            if !c.acr_values.is_empty() {
                q.append_pair("acr_values", &c.acr_values.join(" "));
            }
            if let Some(age) = c.requirement.max_age {
                q.append_pair("max_age", &age.as_secs().to_string());
            }
            redirect(&format!("{}?{}", c.step_up_path, q.finish()))
        } else {
            unauthorized(&c.challenge)
        };
        Err(Refusal {
            kind: RefusalKind::StepUp,
            response,
        })
    }
}

impl<S, L> tower_layer::Layer<S> for RequireMfaLayer<L> {
    type Service = RequireMfa<S, L>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireMfa {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`RequireMfaLayer`] wraps a route in.
pub struct RequireMfa<S, L> {
    inner: S,
    layer: RequireMfaLayer<L>,
}

impl<S: Clone, L> Clone for RequireMfa<S, L> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S, L> fmt::Debug for RequireMfa<S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireMfa")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

impl<S, L> tower_service::Service<Request<Body>> for RequireMfa<S, L>
where
    S: tower_service::Service<Request<Body>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
    L: SessionLoader,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The clone that was made ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            match layer.check(&parts).await {
                Ok(session) => {
                    parts.extensions.insert(session);
                    let res = inner.call(Request::from_parts(parts, body)).await?;
                    Ok(res.into_response())
                }
                Err(refusal) => Ok(refusal.response),
            }
        })
    }
}

#[cfg(feature = "oidc")]
pub mod oidc;
mod well_known;

pub use well_known::{WELL_KNOWN_WEBAUTHN, related_origins_router};

#[cfg(test)]
mod tests;
