//! The client's side of the loop: read the RFC 9470 challenge, build the authorization
//! request that steps up.

use std::time::Duration;

use mfa_core::InvalidInput;

/// What an RFC 9470 §3 challenge asks for, parsed from a `WWW-Authenticate` value.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Challenge {
    /// The `error` parameter (`insufficient_user_authentication`, `invalid_token`).
    pub error: Option<String>,
    /// The space-separated `acr_values`, split.
    pub acr_values: Vec<String>,
    /// `max_age`, in seconds.
    pub max_age: Option<Duration>,
}

impl Challenge {
    /// Parses the parameters of a `Bearer` challenge (RFC 7235 §2.1 auth-params, values
    /// as tokens or quoted strings). `None` when it is not a `Bearer` challenge.
    pub fn parse(header: &str) -> Option<Self> {
        let rest = header.trim_start();
        let (scheme, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut out = Self::default();
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            if rest.is_empty() {
                break;
            }
            let (name, after) = rest.split_once('=')?;
            let after = after.trim_start();
            let (value, next) = if let Some(q) = after.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = q.char_indices();
                let mut end = None;
                while let Some((i, ch)) = chars.next() {
                    match ch {
                        '\\' => value.push(chars.next()?.1),
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        _ => value.push(ch),
                    }
                }
                (value, q.get(end? + 1..)?)
            } else {
                let end = after.find([',', ' ']).unwrap_or(after.len());
                (after.get(..end)?.to_owned(), after.get(end..)?)
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "error" => out.error = Some(value),
                "acr_values" => {
                    out.acr_values = value.split_ascii_whitespace().map(str::to_owned).collect();
                }
                "max_age" => out.max_age = value.parse().ok().map(Duration::from_secs),
                _ => {}
            }
            rest = next;
        }
        Some(out)
    }
}

/// The authorization request (OpenID Connect Core §3.1.2.1) a front end sends the user to
/// after a step-up challenge.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct StepUpRequest {
    /// The client's id.
    pub client_id: String,
    /// Where the provider sends the code.
    pub redirect_uri: String,
    /// The scope (`openid` is added when missing).
    pub scope: String,
    /// The `acr` values the challenge asked for.
    pub acr_values: Vec<String>,
    /// The challenge's `max_age`.
    pub max_age: Option<Duration>,
    /// Add `prompt=login` (force a fresh authentication even with a fresh session at the
    /// provider; `max_age` already forces one when the provider session is older).
    pub prompt_login: bool,
    /// The CSRF `state`.
    pub state: Option<String>,
    /// The replay `nonce` (for an ID token).
    pub nonce: Option<String>,
    /// The PKCE `code_challenge` (S256).
    pub code_challenge: Option<String>,
}

impl StepUpRequest {
    /// A request carrying what `challenge` asked for.
    pub fn from_challenge(
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
        challenge: &Challenge,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scope: "openid".to_owned(),
            acr_values: challenge.acr_values.clone(),
            max_age: challenge.max_age,
            ..Self::default()
        }
    }
}

/// The authorization request URL: `endpoint` with `response_type=code`, `client_id`,
/// `redirect_uri`, `scope`, `acr_values`, `max_age`, `prompt`, `state`, `nonce` and the
/// PKCE challenge.
///
/// ```
/// use std::time::Duration;
/// use mfa_axum::oidc::{Challenge, StepUpRequest, authorization_request};
///
/// let c = Challenge::parse(r#"Bearer error="insufficient_user_authentication", acr_values="phr", max_age="300""#).unwrap();
/// let req = StepUpRequest::from_challenge("app", "https://app.example/cb", &c);
/// let url = authorization_request("https://id.example/authorize", &req)?;
/// assert_eq!(url, "https://id.example/authorize?response_type=code&client_id=app&\
///     redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid&acr_values=phr&max_age=300");
/// # Ok::<(), mfa_core::InvalidInput>(())
/// ```
///
/// # Errors
///
/// [`InvalidInput`] when `endpoint` is not an absolute `https` URL (`http` only for
/// `localhost`/loopback) or already has a fragment.
pub fn authorization_request(endpoint: &str, req: &StepUpRequest) -> Result<String, InvalidInput> {
    let mut url = url::Url::parse(endpoint)
        .map_err(|e| InvalidInput::new("authorization endpoint", e.to_string()))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if !(url.scheme() == "https" || (url.scheme() == "http" && loopback))
        || url.fragment().is_some()
    {
        return Err(InvalidInput::new(
            "authorization endpoint",
            "must be an https URL without a fragment",
        ));
    }
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code");
        q.append_pair("client_id", &req.client_id);
        q.append_pair("redirect_uri", &req.redirect_uri);
        let scope = if req.scope.split_ascii_whitespace().any(|s| s == "openid") {
            req.scope.clone()
        } else {
            format!("openid {}", req.scope).trim().to_owned()
        };
        q.append_pair("scope", &scope);
        if !req.acr_values.is_empty() {
            q.append_pair("acr_values", &req.acr_values.join(" "));
        }
        if let Some(age) = req.max_age {
            q.append_pair("max_age", &age.as_secs().to_string());
        }
        if req.prompt_login {
            q.append_pair("prompt", "login");
        }
        if let Some(s) = &req.state {
            q.append_pair("state", s);
        }
        if let Some(n) = &req.nonce {
            q.append_pair("nonce", n);
        }
        if let Some(c) = &req.code_challenge {
            q.append_pair("code_challenge", c);
            q.append_pair("code_challenge_method", "S256");
        }
    }
    Ok(url.into())
}
