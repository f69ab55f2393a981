//! The web demo: a small bank site on axum that uses the mfa service for everything MFA.
//!
//! `cargo run --example web_demo [-- --port 8080]`, then open <http://localhost:8080/>
//! (WebAuthn needs a host name: `localhost`, never `127.0.0.1`). It listens on
//! 127.0.0.1 only. Everything it serves is in this binary (`include_str!`): plain
//! HTML, one script and one style sheet, no CDN, no build step.
//!
//! What it shows: sign up and sign in with a password (Argon2id); TOTP enrollment by QR
//! code (SVG) or typed secret; SMS and email codes; push approval with number matching; passkeys and security keys (`parse*OptionsFromJSON` /
//! `toJSON`), and sign-in with a passkey alone (usernameless, conditional mediation when
//! the browser offers it); recovery codes (shown once, then listed with the used ones
//! marked; regenerate); a payment that needs a phishing-resistant factor from the last
//! five minutes, enforced by `mfa-axum` (a browser is redirected to the step-up page, an
//! API call gets `401` with RFC 9470's `WWW-Authenticate`); "remember this device for 30
//! days" with the list of remembered devices; an admin page (user `admin`) to reset a
//! user's MFA, unlock a user and read the audit log.
//!
//! Security: a per-session CSRF token on every state-changing request (and the `Origin`
//! checked when sent), `__Host-` cookies with `Secure; HttpOnly; SameSite=Strict`, a session id rotated at
//! sign-in, a Content-Security-Policy without inline scripts or styles, the service's
//! lockout on every factor plus a per-account limit on password guesses, and no secret
//! in any log line (the demo logs nothing per request).
//!
//! Persistence: `--data-dir DIR` (default `$XDG_DATA_HOME/mfa-web-demo`, else
//! `~/.local/share/mfa-web-demo`) holds the key file `keys.json` (0600: the data key
//! that seals every factor record, the recovery pepper, the remembered-device key,
//! generated on first start) and, unless `--database-url postgres://…` names a
//! PostgreSQL database, the SQLite file `web_demo.sqlite3`. The database holds
//! mfa-store's tables (factors, challenges, failure counters, devices) and the demo's
//! own (`demo_users` with the Argon2id hashes, recovery-code hints, the audit log): a
//! restart keeps every account and factor. Sessions and the password-guess counter
//! stay in memory, so a restart signs everyone out.
//!
//! SMS, email and push (the `oob` module): codes sent through mfa-oob's directory
//! sender land in an on-page outbox (the demo's fake phone and inbox, each user seeing
//! only what was sent for their own requests), and a `/phone` page in a second tab plays
//! the push device with a P-256 key kept in WebCrypto, showing the sign-in context and
//! asking for the number the sign-in page shows.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use argon2::Argon2;
use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use mfa::audit::{AuditEvent, AuditSink};
use mfa::core::store::ChallengeId;
use mfa::core::{
    AuthMethod, Clock, FactorId, FactorKind, OsRandom, SecureRandom, StartOptions, SystemClock,
    UserId, UserVerification,
};
use mfa::policy::Decision;
use mfa::policy::Policy;
use mfa::policy::input::{
    CompletedMethod, EnrolledFactor, Request as PolicyRequest, Session, Subject,
};
use mfa::recovery::{RecoveryCode, RecoveryConfig};
use mfa::webauthn::RelyingParty;
use mfa::webauthn::json::{AuthenticationResponseJson, RegistrationResponseJson};
use mfa::{Challenge, Response as MfaResponse, Service, ServiceError};
use mfa_axum::{LoadError, MfaSession, RequireMfaLayer, SessionLoader, phishing_resistant};
use mfa_store::AnyStore;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

#[path = "web_demo/db.rs"]
mod db;
#[path = "web_demo/keys.rs"]
mod keys;
#[path = "web_demo/oob.rs"]
mod oob;

use db::{CodeHint, Db, DbError, PasswordRecord};

/// MFA on every sign-in; payments need a phishing-resistant factor within five minutes.
const POLICY: &str = r#"
version = 1
mode = "always"

[[rules]]
name = "payments"
actions = ["payment.*"]
require = "phishing-resistant"
max_age = "5m"
"#;

const SESSION_COOKIE: &str = "__Host-demo_sid";
const DEVICE_ID_COOKIE: &str = "__Host-demo_device";
const DEVICE_TOKEN_COOKIE: &str = "__Host-demo_device_token";
/// Password guesses per account before a five-minute pause.
const PASSWORD_LIMIT: u32 = 5;
const PASSWORD_PAUSE: Duration = Duration::from_secs(300);
/// Sessions kept in memory before anonymous ones are dropped.
const MAX_SESSIONS: usize = 10_000;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

type Svc = Service<AnyStore>;

/// The SQLite file under the data directory.
pub(crate) const SQLITE_FILE: &str = "web_demo.sqlite3";

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Stage {
    /// Not signed in.
    Anonymous,
    /// Password accepted, a second factor is due.
    SecondFactor,
    /// Password accepted, no factor yet: enrollment only.
    Enroll,
    /// Signed in.
    SignedIn,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::SecondFactor => "mfa",
            Self::Enroll => "enroll",
            Self::SignedIn => "ok",
        }
    }
}

struct DemoSession {
    csrf: String,
    user: Option<UserId>,
    stage: Stage,
    session: Session,
    pending_totp: Option<(FactorId, Zeroizing<String>)>,
    pending_registration: Option<ChallengeId>,
    pending_assertion: Option<ChallengeId>,
    /// An SMS or email enrollment waiting for its code.
    pending_oob: Option<FactorId>,
    /// The SMS or email sign-in code sent last.
    oob_challenge: Option<(FactorId, ChallengeId)>,
    /// The push sent last.
    push_challenge: Option<(FactorId, ChallengeId)>,
}

impl DemoSession {
    fn new() -> Result<Self, ApiError> {
        Ok(Self {
            csrf: random_token()?,
            user: None,
            stage: Stage::Anonymous,
            session: Session::default(),
            pending_totp: None,
            pending_registration: None,
            pending_assertion: None,
            pending_oob: None,
            oob_challenge: None,
            push_challenge: None,
        })
    }
}

pub(crate) struct App {
    svc: Svc,
    /// Accounts, recovery-code hints and the audit log.
    db: Db,
    audit: Arc<DbAudit>,
    /// The demo's fake phone and inbox (mfa-oob's directory sender).
    outbox: oob::Outbox,
    /// The demo's push provider, read by the phone page.
    phone: Arc<oob::PhoneInbox>,
    clock: SystemClock,
    sessions: Mutex<HashMap<String, DemoSession>>,
    password_failures: Mutex<HashMap<String, (u32, u64)>>,
    origin: String,
    admin: String,
}

/// An error for the page: a status and a sentence that reveals nothing.
#[derive(Debug)]
struct ApiError(StatusCode, &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Locked { .. } => ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts: this account is locked. An administrator can unlock it.",
            ),
            ServiceError::Backoff { .. } => ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts: wait a moment and try again.",
            ),
            ServiceError::StepUpRequired { .. } => {
                ApiError(StatusCode::FORBIDDEN, "Verify a second factor first.")
            }
            ServiceError::Enroll(_) => ApiError(
                StatusCode::CONFLICT,
                "The policy does not allow this factor now (a passkey on this device needs another factor first).",
            ),
            ServiceError::CredentialAlreadyRegistered => ApiError(
                StatusCode::CONFLICT,
                "This authenticator is already registered.",
            ),
            e if e.is_rejection() => ApiError(
                StatusCode::BAD_REQUEST,
                "That did not work. Check it and try again.",
            ),
            _ => ApiError(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong."),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(_: DbError) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.")
    }
}

impl From<mfa::core::Error> for ApiError {
    fn from(e: mfa::core::Error) -> Self {
        ServiceError::from(e).into()
    }
}

fn random_token() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    OsRandom
        .fill(&mut b)
        .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong."))?;
    Ok(B64.encode(b))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(name: &str, value: &str, max_age: Option<Duration>) -> String {
    let age = max_age.map_or(String::new(), |d| format!("; Max-Age={}", d.as_secs()));
    format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict{age}")
}

/// Argon2id, version 0x13, at the crate's default cost (19 MiB, 2 passes, 1 lane:
/// OWASP's minimum). The parameters are stored with each hash.
fn new_password_record(password: &str, salt: [u8; 16]) -> Result<PasswordRecord, ApiError> {
    let p = argon2::Params::default();
    let mut rec = PasswordRecord {
        salt,
        hash: [0; 32],
        m_cost: p.m_cost(),
        t_cost: p.t_cost(),
        p_cost: p.p_cost(),
    };
    rec.hash = hash_password(password, &rec)?;
    Ok(rec)
}

/// What an unknown user name is checked against: the default parameters, so it costs
/// what a real check costs; no password hashes to it, and it signs no one in anyway.
fn unknown_user_record() -> PasswordRecord {
    let p = argon2::Params::default();
    PasswordRecord {
        salt: [0; 16],
        hash: [0; 32],
        m_cost: p.m_cost(),
        t_cost: p.t_cost(),
        p_cost: p.p_cost(),
    }
}

/// The Argon2id hash of `password` with `rec`'s salt and parameters.
fn hash_password(password: &str, rec: &PasswordRecord) -> Result<[u8; 32], ApiError> {
    let mut out = [0u8; 32];
    let params = argon2::Params::new(rec.m_cost, rec.t_cost, rec.p_cost, Some(out.len()))
        .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong."))?;
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(password.as_bytes(), &rec.salt, &mut out)
        .map_err(|_| ApiError(StatusCode::BAD_REQUEST, "Choose another password."))?;
    Ok(out)
}

fn digest_code(code: &RecoveryCode) -> [u8; 32] {
    Sha256::digest(code.expose_secret().as_bytes()).into()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl App {
    fn now(&self) -> mfa::core::Timestamp {
        self.clock.now()
    }

    /// The caller's session id, creating an anonymous session (and its cookie) if it
    /// has none.
    fn ensure_session(&self, headers: &HeaderMap) -> Result<(String, Option<String>), ApiError> {
        if let Some(sid) = cookie(headers, SESSION_COOKIE)
            && lock(&self.sessions).contains_key(sid)
        {
            return Ok((sid.to_owned(), None));
        }
        let sid = random_token()?;
        let mut sessions = lock(&self.sessions);
        // Anonymous sessions cost a page load each: past the cap they are dropped
        // (their pages ask for a reload), never the signed-in ones.
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.user.is_some());
        }
        sessions.insert(sid.clone(), DemoSession::new()?);
        drop(sessions);
        let c = set_cookie(SESSION_COOKIE, &sid, None);
        Ok((sid, Some(c)))
    }

    /// The session of a state-changing request, after the CSRF checks: the `Origin`
    /// (when the browser sends one) is ours and `X-CSRF-Token` is the session's token.
    fn post_session(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        const CSRF: ApiError = ApiError(StatusCode::FORBIDDEN, "Reload the page and try again.");
        if let Some(origin) = headers.get(header::ORIGIN)
            && origin.as_bytes() != self.origin.as_bytes()
        {
            return Err(CSRF);
        }
        let sid = cookie(headers, SESSION_COOKIE).ok_or(CSRF)?;
        let sent = headers
            .get("x-csrf-token")
            .map(HeaderValue::as_bytes)
            .ok_or(CSRF)?;
        let sessions = lock(&self.sessions);
        let s = sessions.get(sid).ok_or(CSRF)?;
        if !bool::from(s.csrf.as_bytes().ct_eq(sent)) {
            return Err(CSRF);
        }
        Ok(sid.to_owned())
    }

    fn with<R>(&self, sid: &str, f: impl FnOnce(&mut DemoSession) -> R) -> Result<R, ApiError> {
        let mut sessions = lock(&self.sessions);
        let s = sessions
            .get_mut(sid)
            .ok_or(ApiError(StatusCode::UNAUTHORIZED, "Sign in first."))?;
        Ok(f(s))
    }

    /// The user of a session at one of `stages`.
    fn user_at(&self, sid: &str, stages: &[Stage]) -> Result<(UserId, Session), ApiError> {
        self.with(sid, |s| match &s.user {
            Some(u) if stages.contains(&s.stage) => Ok((u.clone(), s.session.clone())),
            _ => Err(ApiError(StatusCode::UNAUTHORIZED, "Sign in first.")),
        })?
    }

    fn username_of(user: &UserId) -> &str {
        user.as_str()
    }

    /// A new session id for a session whose privilege changes (no session fixation).
    fn rotate(&self, sid: &str) -> Result<(String, String), ApiError> {
        let mut sessions = lock(&self.sessions);
        let old = sessions.remove(sid).ok_or(ApiError(
            StatusCode::UNAUTHORIZED,
            "Reload the page and try again.",
        ))?;
        let new = random_token()?;
        sessions.insert(new.clone(), old);
        let c = set_cookie(SESSION_COOKIE, &new, None);
        Ok((new, c))
    }

    async fn enrolled(&self, user: &UserId) -> Result<Vec<EnrolledFactor>, ServiceError> {
        Ok(self
            .svc
            .list_factors(user)
            .await?
            .into_iter()
            .map(|f| {
                let mut e = EnrolledFactor::new(f.id, f.kind);
                e.confirmed = f.confirmed;
                e
            })
            .collect())
    }

    /// Where a signed-in session stands for the sign-in gate, from the policy.
    async fn gate(
        &self,
        user: &UserId,
        session: &Session,
        headers: &HeaderMap,
    ) -> Result<Stage, ApiError> {
        let device = match (
            cookie(headers, DEVICE_TOKEN_COOKIE),
            cookie(headers, DEVICE_ID_COOKIE),
        ) {
            (Some(t), Some(d)) => Some((t, d)),
            _ => None,
        };
        let request = PolicyRequest {
            action: Some("signin".into()),
            ..PolicyRequest::default()
        };
        let decision = self
            .svc
            .evaluate(user, &self.subject(user), session, &request, device)
            .await?;
        Ok(match decision {
            Decision::Allow { .. } => Stage::SignedIn,
            Decision::Enroll { .. } => Stage::Enroll,
            Decision::StepUp { .. } => Stage::SecondFactor,
            _ => {
                return Err(ApiError(
                    StatusCode::FORBIDDEN,
                    "Sign-in refused by policy.",
                ));
            }
        })
    }

    fn subject(&self, user: &UserId) -> Subject {
        let mut s = Subject::default();
        if user.as_str() == self.admin {
            s.roles.push("admin".into());
        }
        s
    }
}

// ------------------------------------------------------------------- pages

fn security_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

async fn headers_mw(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    security_headers(&mut res);
    res
}

fn page(app: &App, headers: &HeaderMap, html: &'static str) -> Response {
    match app.ensure_session(headers) {
        Ok((_, set)) => {
            let mut res =
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
            if let Some(c) = set
                && let Ok(v) = HeaderValue::from_str(&c)
            {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => e.into_response(),
    }
}

macro_rules! page_route {
    ($file:literal) => {
        get(
            |State(app): State<Arc<App>>, headers: HeaderMap| async move {
                page(&app, &headers, include_str!(concat!("web_demo/", $file)))
            },
        )
    };
}

// ------------------------------------------------------------------- API

fn with_cookie(mut res: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

async fn me(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (sid, set) = app.ensure_session(&headers)?;
    let (csrf, user, stage) = app.with(&sid, |s| (s.csrf.clone(), s.user.clone(), s.stage))?;
    let body = json!({
        "csrf": csrf,
        "user": user.as_ref().map(|u| App::username_of(u).to_owned()),
        "stage": stage.as_str(),
        "admin": user.as_ref().is_some_and(|u| u.as_str() == app.admin),
    });
    Ok(with_cookie(
        Json(body).into_response(),
        &set.into_iter().collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

fn valid_username(name: &str) -> bool {
    (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

async fn signup(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(c): Json<Credentials>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    if !valid_username(&c.username) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "A user name is 3 to 32 lowercase letters, digits, '-' or '_'.",
        ));
    }
    if c.password.chars().count() < 8 || c.password.len() > 256 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "A password has 8 to 256 characters.",
        ));
    }
    let id = UserId::new(c.username.as_str())?;
    let mut salt = [0u8; 16];
    OsRandom
        .fill(&mut salt)
        .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong."))?;
    let rec = new_password_record(&c.password, salt)?;
    if !app
        .db
        .insert_user(&c.username, &rec, app.now().unix_secs())
        .await?
    {
        return Err(ApiError(StatusCode::CONFLICT, "That user name is taken."));
    }
    start_signed_in(&app, &sid, id, &headers).await
}

/// Password accepted: a fresh session id with the password method, staged by policy.
async fn start_signed_in(
    app: &App,
    sid: &str,
    user: UserId,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let now = app.now();
    let session = Session {
        methods: vec![CompletedMethod {
            method: AuthMethod::Pwd,
            factor: None,
            at: now,
        }],
        last_activity: Some(now),
    };
    let stage = app.gate(&user, &session, headers).await?;
    let (new, c) = app.rotate(sid)?;
    app.with(&new, |s| {
        s.user = Some(user);
        s.stage = stage;
        s.session = session;
    })?;
    Ok(with_cookie(
        Json(json!({ "stage": stage.as_str() })).into_response(),
        &[c],
    ))
}

async fn signin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(c): Json<Credentials>,
) -> Result<Response, ApiError> {
    const WRONG: ApiError = ApiError(StatusCode::UNAUTHORIZED, "Wrong user name or password.");
    let sid = app.post_session(&headers)?;
    let now = app.now().unix_secs();
    if let Some((n, since)) = lock(&app.password_failures).get(&c.username)
        && *n >= PASSWORD_LIMIT
        && now < since + PASSWORD_PAUSE.as_secs()
    {
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong passwords: wait five minutes.",
        ));
    }
    let found = if valid_username(&c.username) {
        app.db.user(&c.username).await?
    } else {
        None
    };
    // An unknown user costs one Argon2 run too, so timing does not tell who exists.
    let (id, rec) = match found {
        Some(rec) => (Some(UserId::new(c.username.as_str())?), rec),
        None => (None, unknown_user_record()),
    };
    let computed = hash_password(&c.password, &rec)?;
    let ok = bool::from(computed.ct_eq(&rec.hash));
    match (id, ok) {
        (Some(id), true) => {
            lock(&app.password_failures).remove(&c.username);
            start_signed_in(&app, &sid, id, &headers).await
        }
        _ => {
            let mut f = lock(&app.password_failures);
            let e = f.entry(c.username.clone()).or_insert((0, now));
            if now >= e.1 + PASSWORD_PAUSE.as_secs() {
                *e = (0, now);
            }
            e.0 += 1;
            Err(WRONG)
        }
    }
}

async fn signout(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    lock(&app.sessions).remove(&sid);
    Ok(with_cookie(
        Json(json!({"ok": true})).into_response(),
        &[set_cookie(SESSION_COOKIE, "", Some(Duration::ZERO))],
    ))
}

async fn factors(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (sid, _) = app.ensure_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn, Stage::SecondFactor])?;
    let list = app.svc.list_factors(&user).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|f| {
            json!({
                "id": f.id.as_str(), "kind": f.kind.as_str(), "label": f.label,
                "confirmed": f.confirmed, "remaining_codes": f.remaining_codes,
                "destination": f.destination,
            })
        })
        .collect();
    Ok(Json(json!({ "factors": items })).into_response())
}

async fn totp_begin(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, session) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn])?;
    let e = app
        .svc
        .enroll_totp(&user, "Authenticator app", &session)
        .await?;
    let secret = e.secret_base32.to_string();
    app.with(&sid, |s| {
        s.pending_totp = Some((e.factor_id.clone(), e.qr_svg.clone()))
    })?;
    Ok(Json(json!({ "secret": secret, "qr": "/api/totp/qr.svg" })).into_response())
}

async fn totp_qr(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let sid = cookie(&headers, SESSION_COOKIE)
        .ok_or(ApiError(StatusCode::NOT_FOUND, "No enrollment."))?
        .to_owned();
    let svg = app.with(&sid, |s| s.pending_totp.as_ref().map(|p| p.1.to_string()))?;
    let svg = svg.ok_or(ApiError(StatusCode::NOT_FOUND, "No enrollment."))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

async fn totp_confirm(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(c): Json<Code>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn])?;
    let pending = app.with(&sid, |s| s.pending_totp.as_ref().map(|p| p.0.clone()))?;
    let factor = pending.ok_or(ApiError(
        StatusCode::BAD_REQUEST,
        "Start the enrollment first.",
    ))?;
    let info = app.svc.confirm(&user, &factor, c.code.trim()).await?;
    // The first code proved possession of the new factor: it counts for this session.
    let now = app.now();
    app.with(&sid, |s| {
        s.pending_totp = None;
        s.session.methods.push(CompletedMethod {
            method: AuthMethod::Otp,
            factor: Some(info.id.clone()),
            at: now,
        });
        s.session.last_activity = Some(now);
    })?;
    restage(&app, &sid, &user, &headers).await
}

/// Re-evaluates the sign-in gate after a verification.
async fn restage(
    app: &App,
    sid: &str,
    user: &UserId,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let session = app.with(sid, |s| s.session.clone())?;
    let stage = app.gate(user, &session, headers).await?;
    app.with(sid, |s| s.stage = stage)?;
    Ok(Json(json!({ "stage": stage.as_str() })).into_response())
}

async fn passkey_register_begin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, session) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn])?;
    let (challenge, options) = app
        .svc
        .begin_webauthn_registration(&user, "Passkey", None, &session)
        .await?;
    app.with(&sid, |s| s.pending_registration = Some(challenge))?;
    Ok(Json(json!({ "options": options })).into_response())
}

async fn passkey_register_finish(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(response): Json<RegistrationResponseJson>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn])?;
    let pending = app.with(&sid, |s| s.pending_registration.take())?;
    let challenge = pending.ok_or(ApiError(
        StatusCode::BAD_REQUEST,
        "Start the enrollment first.",
    ))?;
    let info = app
        .svc
        .finish_webauthn_registration(&user, &challenge, &response)
        .await?;
    Ok(Json(json!({ "kind": info.kind.as_str() })).into_response())
}

/// Starts a passkey assertion: a usernameless sign-in when anonymous, the second factor
/// or a step-up when signed in (the credential must then be this user's).
async fn passkey_begin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let challenge = app
        .svc
        .start_passkey_signin(&StartOptions::default())
        .await?;
    let Challenge::WebAuthn {
        challenge_id,
        options,
        ..
    } = challenge
    else {
        return Err(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong.",
        ));
    };
    app.with(&sid, |s| s.pending_assertion = Some(challenge_id))?;
    Ok(Json(json!({ "options": options })).into_response())
}

async fn passkey_finish(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(response): Json<AuthenticationResponseJson>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (pending, current, session) = app.with(&sid, |s| {
        (
            s.pending_assertion.take(),
            s.user.clone(),
            s.session.clone(),
        )
    })?;
    let challenge = pending.ok_or(ApiError(StatusCode::BAD_REQUEST, "Start again."))?;
    let session = if current.is_some() {
        session
    } else {
        Session::default()
    };
    let v = app
        .svc
        .finish_passkey_signin(&challenge, &response, &session)
        .await?;
    match current {
        Some(u) if u != v.user => Err(ApiError(
            StatusCode::BAD_REQUEST,
            "That passkey belongs to another account.",
        )),
        Some(u) => {
            app.with(&sid, |s| s.session = v.session)?;
            restage(&app, &sid, &u, &headers).await
        }
        None => {
            // A passkey alone: a new session id for the user the credential names.
            let stage = app.gate(&v.user, &v.session, &headers).await?;
            let (new, c) = app.rotate(&sid)?;
            app.with(&new, |s| {
                s.user = Some(v.user);
                s.session = v.session;
                s.stage = stage;
            })?;
            Ok(with_cookie(
                Json(json!({ "stage": stage.as_str() })).into_response(),
                &[c],
            ))
        }
    }
}

#[derive(Deserialize)]
struct SecondFactor {
    kind: String,
    code: String,
    #[serde(default)]
    remember: bool,
}

async fn verify_code(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(body): Json<SecondFactor>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, session) = app.user_at(&sid, &[Stage::SecondFactor, Stage::SignedIn])?;
    const AGAIN: ApiError = ApiError(
        StatusCode::BAD_REQUEST,
        "That did not work. Check it and try again.",
    );
    let (oob, push) = app.with(&sid, |s| {
        (s.oob_challenge.clone(), s.push_challenge.clone())
    })?;
    let (wanted, v) = match body.kind.as_str() {
        "oob" => {
            let (factor, challenge) = oob.ok_or(AGAIN)?;
            let response = MfaResponse::OobCode {
                challenge_id: &challenge,
                code: body.code.trim(),
            };
            let v = app
                .outbox
                .sending(&user, app.svc.verify(&user, &factor, response, &session))
                .await?;
            (FactorKind::Sms, v)
        }
        "push" => {
            let (factor, challenge) = push.ok_or(AGAIN)?;
            let response = MfaResponse::Push {
                challenge_id: &challenge,
            };
            let v = app.svc.verify(&user, &factor, response, &session).await?;
            app.with(&sid, |s| s.push_challenge = None)?;
            (FactorKind::Push, v)
        }
        kind => {
            let wanted = match kind {
                "totp" => FactorKind::Totp,
                "recovery" => FactorKind::RecoveryCode,
                _ => return Err(ApiError(StatusCode::BAD_REQUEST, "Unknown factor.")),
            };
            let factor = app
                .svc
                .list_factors(&user)
                .await?
                .into_iter()
                .find(|f| f.kind == wanted && f.confirmed)
                .ok_or(AGAIN)?;
            let v = app
                .outbox
                .sending(
                    &user,
                    app.svc
                        .verify(&user, &factor.id, MfaResponse::Code(&body.code), &session),
                )
                .await?;
            (wanted, v)
        }
    };
    if wanted == FactorKind::RecoveryCode
        && let Ok(code) = RecoveryCode::parse(&body.code)
    {
        app.db
            .mark_code_used(user.as_str(), digest_code(&code))
            .await?;
    }
    app.with(&sid, |s| s.session = v.session.clone())?;
    let mut cookies = Vec::new();
    if body.remember {
        let device_id = random_token()?;
        let label = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map_or("A browser", |ua| {
                if ua.contains("Chrome") {
                    "Chromium"
                } else {
                    "A browser"
                }
            });
        let token = app
            .svc
            .remember_device(&user, &v.session, &device_id, label)
            .await?;
        let month = Duration::from_secs(30 * 86_400);
        cookies.push(set_cookie(DEVICE_ID_COOKIE, &device_id, Some(month)));
        cookies.push(set_cookie(DEVICE_TOKEN_COOKIE, &token, Some(month)));
    }
    let res = restage(&app, &sid, &user, &headers).await?;
    Ok(with_cookie(res, &cookies))
}

async fn recovery_list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (sid, _) = app.ensure_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::SignedIn])?;
    let codes: Vec<Value> = app
        .db
        .codes(user.as_str())
        .await?
        .iter()
        .map(|h| json!({"hint": h.hint, "used": h.used}))
        .collect();
    Ok(Json(json!({ "codes": codes })).into_response())
}

async fn recovery_generate(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, session) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn])?;
    let has = app
        .svc
        .list_factors(&user)
        .await?
        .iter()
        .any(|f| f.kind == FactorKind::RecoveryCode);
    let set = if has {
        app.svc.regenerate_recovery_codes(&user, &session).await?
    } else {
        let set = app.svc.enroll_recovery_codes(&user, &session).await?;
        // The page shows the codes with "save them now": the set is active at once.
        app.svc
            .confirm_recovery_codes(&user, &set.factor_id)
            .await?;
        set
    };
    let shown: Vec<String> = set
        .codes
        .iter()
        .map(|c| c.expose_grouped().to_string())
        .collect();
    let hints: Vec<CodeHint> = set
        .codes
        .iter()
        .map(|c| CodeHint {
            hint: format!("{}…", c.expose_secret().chars().take(4).collect::<String>()),
            digest: digest_code(c),
            used: false,
        })
        .collect();
    app.db.replace_codes(user.as_str(), &hints).await?;
    Ok(Json(json!({ "codes": shown })).into_response())
}

async fn devices(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (sid, _) = app.ensure_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::SignedIn])?;
    let this = cookie(&headers, DEVICE_ID_COOKIE);
    let list: Vec<Value> = app
        .svc
        .list_devices(&user)
        .await?
        .iter()
        .map(|d| {
            json!({
                "id": d.device_id, "label": d.label, "expires_at": d.expires_at.unix_secs(),
                "this": Some(d.device_id.as_str()) == this,
            })
        })
        .collect();
    Ok(Json(json!({ "devices": list })).into_response())
}

#[derive(Deserialize)]
struct DeviceRef {
    id: String,
}

async fn forget_device(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(d): Json<DeviceRef>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::SignedIn])?;
    let removed = app.svc.forget_device(&user, &d.id).await?;
    Ok(Json(json!({ "removed": removed })).into_response())
}

#[derive(Deserialize)]
struct Payment {
    to: String,
    amount: String,
}

/// Behind `mfa-axum`'s layer: only a session with a fresh phishing-resistant factor
/// gets here.
async fn pay(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Extension(mfa): axum::Extension<MfaSession>,
    Json(p): Json<Payment>,
) -> Result<Response, ApiError> {
    app.post_session(&headers)?;
    if p.to.is_empty() || p.to.len() > 64 || p.amount.parse::<u32>().is_err() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "Enter a payee and a whole amount.",
        ));
    }
    Ok(Json(json!({
        "sent": format!("Sent {} EUR to {}", p.amount, p.to),
        "user": mfa.user.as_str(),
    }))
    .into_response())
}

// ------------------------------------------------------------------- admin

fn require_admin(app: &App, mfa: &MfaSession) -> Result<(), ApiError> {
    if mfa.user.as_str() == app.admin {
        Ok(())
    } else {
        Err(ApiError(StatusCode::FORBIDDEN, "Administrators only."))
    }
}

async fn admin_users(
    State(app): State<Arc<App>>,
    axum::Extension(mfa): axum::Extension<MfaSession>,
) -> Result<Response, ApiError> {
    require_admin(&app, &mfa)?;
    let mut out = Vec::new();
    for name in app.db.usernames().await? {
        let id = UserId::new(name)?;
        let n = app.svc.list_factors(&id).await?.len();
        out.push(json!({"user": id.as_str(), "factors": n}));
    }
    out.sort_by(|a, b| a["user"].as_str().cmp(&b["user"].as_str()));
    Ok(Json(json!({ "users": out })).into_response())
}

async fn admin_audit(
    State(app): State<Arc<App>>,
    axum::Extension(mfa): axum::Extension<MfaSession>,
) -> Result<Response, ApiError> {
    require_admin(&app, &mfa)?;
    let events = app.audit_events(200).await?;
    Ok(Json(json!({ "events": events })).into_response())
}

#[derive(Deserialize)]
struct UserRef {
    user: String,
}

async fn admin_action(
    app: &App,
    headers: &HeaderMap,
    mfa: &MfaSession,
    user: &str,
) -> Result<UserId, ApiError> {
    app.post_session(headers)?;
    require_admin(app, mfa)?;
    const NONE: ApiError = ApiError(StatusCode::NOT_FOUND, "No such user.");
    if !valid_username(user) || app.db.user(user).await?.is_none() {
        return Err(NONE);
    }
    UserId::new(user).map_err(|_| NONE)
}

async fn admin_reset(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Extension(mfa): axum::Extension<MfaSession>,
    Json(u): Json<UserRef>,
) -> Result<Response, ApiError> {
    let id = admin_action(&app, &headers, &mfa, &u.user).await?;
    let summary = app.svc.reset_user(&id).await?;
    app.db.replace_codes(id.as_str(), &[]).await?;
    // The user's sessions end: the next sign-in enrolls from scratch.
    lock(&app.sessions).retain(|_, s| s.user.as_ref() != Some(&id));
    Ok(Json(json!({ "reset": id.as_str(), "factors_removed": summary.factors })).into_response())
}

async fn admin_unlock(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Extension(mfa): axum::Extension<MfaSession>,
    Json(u): Json<UserRef>,
) -> Result<Response, ApiError> {
    let id = admin_action(&app, &headers, &mfa, &u.user).await?;
    app.svc.unlock(&id, None).await?;
    lock(&app.password_failures).remove(id.as_str());
    Ok(Json(json!({ "unlocked": id.as_str() })).into_response())
}

// ------------------------------------------------------------------- mfa-axum glue

/// The demo's session store behind `mfa-axum`: a signed-in session's methods and the
/// user's enrolled factors.
#[derive(Clone)]
struct Loader(Arc<App>);

impl SessionLoader for Loader {
    async fn load(&self, parts: &Parts) -> Result<Option<MfaSession>, LoadError> {
        let Some(sid) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let found = lock(&self.0.sessions)
            .get(sid)
            .and_then(|s| match (&s.user, s.stage) {
                (Some(u), Stage::SignedIn) => Some((u.clone(), s.session.clone())),
                _ => None,
            });
        let Some((user, session)) = found else {
            return Ok(None);
        };
        let enrolled = self.0.enrolled(&user).await.map_err(LoadError::new)?;
        Ok(Some(MfaSession {
            user,
            session,
            enrolled,
        }))
    }
}

pub(crate) fn router(app: Arc<App>) -> Result<Router, Box<dyn std::error::Error>> {
    let policy = Arc::new(Policy::from_toml(POLICY)?);
    let payment = RequireMfaLayer::builder(
        Arc::clone(&policy),
        Loader(Arc::clone(&app)),
        phishing_resistant(Duration::from_secs(300)),
    )
    .step_up_path("/step-up")
    .sign_in_path("/")
    .build()?;
    let admin = RequireMfaLayer::builder(
        policy,
        Loader(Arc::clone(&app)),
        mfa::policy::assurance::Requirement::MFA,
    )
    .step_up_path("/mfa")
    .sign_in_path("/")
    .build()?;
    let static_file = |body: &'static str, ty: &'static str| {
        get(move || async move { ([(header::CONTENT_TYPE, ty)], body) })
    };
    Ok(Router::new()
        .route("/", page_route!("index.html"))
        .route("/mfa", page_route!("mfa.html"))
        .route("/account", page_route!("account.html"))
        .route("/step-up", page_route!("stepup.html"))
        .route("/pay", page_route!("pay.html").layer(payment.clone()))
        .route("/admin", page_route!("admin.html").layer(admin.clone()))
        .route("/outbox", page_route!("outbox.html"))
        .route("/phone", page_route!("phone.html"))
        .route(
            "/static/app.js",
            static_file(
                include_str!("web_demo/app.js"),
                "text/javascript; charset=utf-8",
            ),
        )
        .route(
            "/static/style.css",
            static_file(
                include_str!("web_demo/style.css"),
                "text/css; charset=utf-8",
            ),
        )
        .route("/api/me", get(me))
        .route("/api/signup", post(signup))
        .route("/api/signin", post(signin))
        .route("/api/signout", post(signout))
        .route("/api/factors", get(factors))
        .route("/api/totp/begin", post(totp_begin))
        .route("/api/totp/qr.svg", get(totp_qr))
        .route("/api/totp/confirm", post(totp_confirm))
        .route("/api/passkey/register/begin", post(passkey_register_begin))
        .route(
            "/api/passkey/register/finish",
            post(passkey_register_finish),
        )
        .route("/api/passkey/begin", post(passkey_begin))
        .route("/api/passkey/finish", post(passkey_finish))
        .route("/api/verify", post(verify_code))
        .route("/api/oob/enroll", post(oob::oob_enroll))
        .route("/api/oob/confirm", post(oob::oob_confirm))
        .route("/api/oob/start", post(oob::oob_start))
        .route("/api/outbox", get(oob::outbox))
        .route("/api/push/enroll", post(oob::push_enroll_begin))
        .route("/api/push/start", post(oob::push_start))
        .route("/api/push/status", get(oob::push_status))
        .route("/api/stage", post(oob::stage))
        .route("/api/phone/enroll", post(oob::phone_enroll))
        .route("/api/phone/inbox", post(oob::phone_inbox))
        .route("/api/phone/respond", post(oob::phone_respond))
        .route("/api/recovery", get(recovery_list))
        .route("/api/recovery/generate", post(recovery_generate))
        .route("/api/devices", get(devices))
        .route("/api/devices/forget", post(forget_device))
        .route("/api/pay", post(pay).layer(payment))
        .route("/api/admin/users", get(admin_users).layer(admin.clone()))
        .route("/api/admin/audit", get(admin_audit).layer(admin.clone()))
        .route("/api/admin/reset", post(admin_reset).layer(admin.clone()))
        .route("/api/admin/unlock", post(admin_unlock).layer(admin))
        .method_not_allowed_fallback(|| async { StatusCode::METHOD_NOT_ALLOWED })
        .fallback(|m: Method| async move {
            let _ = m;
            (StatusCode::NOT_FOUND, "not found")
        })
        .layer(axum::middleware::from_fn(headers_mw))
        .with_state(app))
}

/// Events waiting in memory for the database before new ones are dropped (and said so
/// on stderr).
const AUDIT_QUEUE: usize = 10_000;

enum AuditMsg {
    Event(u64, String),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The service's audit sink: it is called synchronously, so events go in order through
/// a bounded queue to one task that appends them to `demo_audit`.
pub(crate) struct DbAudit {
    tx: tokio::sync::mpsc::Sender<AuditMsg>,
}

impl DbAudit {
    /// Starts the writer task on the current runtime.
    fn start(db: Db) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel(AUDIT_QUEUE);
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                match m {
                    AuditMsg::Event(at, json) => {
                        if let Err(e) = db.append_audit(at, json).await {
                            eprintln!("web_demo: an audit event was not stored: {e}");
                        }
                    }
                    AuditMsg::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Self { tx }
    }

    /// Returns once every event recorded before the call is in the database.
    pub(crate) async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.tx.send(AuditMsg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

impl AuditSink for DbAudit {
    fn record(&self, event: &AuditEvent) {
        let Ok(json) = serde_json::to_string(event) else {
            return;
        };
        if self
            .tx
            .try_send(AuditMsg::Event(event.at.unix_secs(), json))
            .is_err()
        {
            eprintln!("web_demo: the audit queue is full; an event was dropped");
        }
    }
}

/// Where the demo keeps its state and how it is reached.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// The port of `http://localhost:PORT`, the origin WebAuthn checks.
    pub(crate) port: u16,
    /// The user name of the administrator.
    pub(crate) admin: String,
    /// The key file, and the SQLite file unless `database_url` is set.
    pub(crate) data_dir: PathBuf,
    /// A `postgres://` URL: the database instead of the SQLite file.
    pub(crate) database_url: Option<String>,
}

impl Config {
    /// The defaults of `cargo run --example web_demo`, on `data_dir`.
    pub(crate) fn new(port: u16, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            port,
            admin: "admin".into(),
            data_dir: data_dir.into(),
            database_url: None,
        }
    }
}

/// `$XDG_DATA_HOME/mfa-web-demo`, else `$HOME/.local/share/mfa-web-demo`, else
/// `./mfa-web-demo-data`.
fn default_data_dir() -> PathBuf {
    let nonempty = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    nonempty("XDG_DATA_HOME")
        .map(|d| d.join("mfa-web-demo"))
        .or_else(|| nonempty("HOME").map(|h| h.join(".local/share/mfa-web-demo")))
        .unwrap_or_else(|| PathBuf::from("mfa-web-demo-data"))
}

fn usage() -> String {
    format!(
        "usage: web_demo [--port PORT] [--admin USERNAME] [--data-dir DIR] [--database-url URL]

  --port PORT          listen on 127.0.0.1:PORT, open http://localhost:PORT/ (default 8080)
  --admin USERNAME     the user who sees /admin (default admin)
  --data-dir DIR       the key file keys.json (0600) and, without --database-url, the
                       SQLite database {SQLITE_FILE}; created on first start
                       (default {})
  --database-url URL   postgres://user@host:port/db: keep the data in PostgreSQL instead
                       of SQLite (mfa-store's tables and the demo's demo_* tables; put
                       them in a schema with ?options=-c%20search_path%3DNAME). The key
                       file stays in --data-dir.

Accounts, factors, remembered devices and the audit log survive a restart; sessions
are in memory, so a restart signs everyone out.",
        default_data_dir().display()
    )
}

pub(crate) enum Parsed {
    Run(Config),
    Help,
}

pub(crate) fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut config = Config::new(8080, default_data_dir());
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                config.port = it
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a number")?;
            }
            "--admin" => config.admin = it.next().ok_or("--admin needs a user name")?,
            "--data-dir" => {
                config.data_dir = it.next().ok_or("--data-dir needs a directory")?.into();
            }
            "--database-url" => {
                let url = it.next().ok_or("--database-url needs a postgres:// URL")?;
                let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
                if !matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
                    return Err(
                        "--database-url takes a postgres:// URL (SQLite is the default, under --data-dir)"
                            .into(),
                    );
                }
                config.database_url = Some(url);
            }
            "--help" | "-h" => return Ok(Parsed::Help),
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(Parsed::Run(config))
}

/// Opens the stores the configuration names (creating the data directory, key file and
/// tables on first start) and builds the app.
pub(crate) async fn build_app(config: &Config) -> Result<Arc<App>, Box<dyn std::error::Error>> {
    let origin = format!("http://localhost:{}", config.port);
    keys::ensure_dir(&config.data_dir)?;
    let keys = keys::load_or_create(&config.data_dir)?;
    let (store, db) = match &config.database_url {
        Some(url) => (AnyStore::open(url).await?, Db::open_postgres(url).await?),
        None => {
            let file = config.data_dir.join(SQLITE_FILE);
            let url = format!("sqlite://{}", file.display());
            (AnyStore::open(&url).await?, Db::open_sqlite(&file).await?)
        }
    };
    if db.key_check(&keys.check).await? != keys.check {
        return Err(format!(
            "the key file {} is not the one this database was created with: its sealed \
             factors would not open. Use the data directory it belongs to, or a new database.",
            config.data_dir.join(keys::KEY_FILE).display()
        )
        .into());
    }
    let audit = Arc::new(DbAudit::start(db.clone()));
    let outbox = oob::Outbox::open(&config.data_dir.join("outbox"))?;
    let phone = Arc::new(oob::PhoneInbox::default());
    // mfa-oob's templates bind SMS codes to a host name with a dot (WebOTP's
    // `@host #code` line); `localhost` has none, so the demo's texts name
    // `demo.localhost`.
    let templates = mfa::oob::Templates::new("mfa-rs demo bank", "demo.localhost")?;
    // The resend cooldown is 5 s instead of mfa-oob's 30 s, so a walk through the demo
    // (enroll by SMS, then sign in with SMS) does not wait; the hourly caps are mfa-oob's.
    let limits = mfa::oob::SendLimits::new()
        .with_allowed_country_codes([1, 33, 44, 49])?
        .with_cooldown(Duration::from_secs(5));
    let codes = mfa::oob::OobCodes::new(
        keys.oob,
        mfa::oob::OobConfig::new(templates).with_limits(limits),
    )?;
    let policy = Policy::from_toml(POLICY)?.with_device_key(keys.device);
    let rp = RelyingParty::builder("localhost", "mfa-rs web demo")
        .origin(origin.as_str())
        .build()?;
    let svc = Service::builder(store)
        .policy(policy)
        .keys(keys.data)
        .issuer("mfa-rs demo")
        .relying_party(rp, UserVerification::Preferred)
        .recovery(keys.pepper, RecoveryConfig::default())
        .audit(audit.clone())
        .sender(Arc::clone(&outbox.sender))
        .oob_codes(codes)
        .push(
            mfa::oob::PushFactor::new(mfa::oob::PushConfig::default()),
            Arc::clone(&phone),
        )
        .build()?;
    Ok(Arc::new(App {
        svc,
        db,
        audit,
        outbox,
        phone,
        clock: SystemClock,
        sessions: Mutex::new(HashMap::new()),
        password_failures: Mutex::new(HashMap::new()),
        origin,
        admin: config.admin.clone(),
    }))
}

impl App {
    /// Waits until every audit event so far is in the database (before a shutdown).
    pub(crate) async fn flush_audit(&self) {
        self.audit.flush().await;
    }

    /// The newest `limit` audit events, newest first, after every event so far is
    /// stored.
    pub(crate) async fn audit_events(&self, limit: u32) -> Result<Vec<Value>, DbError> {
        self.audit.flush().await;
        Ok(self
            .db
            .audit(limit)
            .await?
            .iter()
            .filter_map(|e| serde_json::from_str(e).ok())
            .collect())
    }
}

/// Serves the demo on `listener` (its port names the origin WebAuthn checks; the
/// configuration's port is ignored) until `shutdown` resolves, then stores the audit
/// events still queued. The browser test runs this in-process.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error>> {
    let port = listener.local_addr()?.port();
    let config = Config {
        port,
        ..config.clone()
    };
    let app = build_app(&config).await?;
    let router = router(Arc::clone(&app))?;
    match &config.database_url {
        Some(_) => println!(
            "web_demo: data in PostgreSQL, keys in {}",
            config.data_dir.display()
        ),
        None => println!("web_demo: data in {}", config.data_dir.display()),
    }
    // The line the browser test's standalone mode waits for.
    println!("web_demo listening on http://localhost:{port}/ (127.0.0.1 only)");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    app.flush_audit().await;
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish the requests in flight, store the queued
/// audit events, exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(c)) => c,
        Ok(Parsed::Help) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("web_demo: {e}");
            return ExitCode::from(2);
        }
    };
    let run = async {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
        serve(listener, &config, shutdown_signal()).await
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("web_demo: {e}");
            ExitCode::FAILURE
        }
    }
}
