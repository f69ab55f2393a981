//! The web demo: a small bank site on axum that uses the mfa service for everything MFA.
//!
//! `cargo run -p mfa-web-demo [-- --port 8080]`, then open <http://localhost:8080/>
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
//! days" with the list of remembered devices; an admin page to reset a user's MFA, unlock
//! a user and read the audit log, for the accounts the operator makes administrators on
//! the command line (`web_demo grant-admin USER`, an existing account; `revoke-admin`),
//! never by signing up under some name.
//!
//! Security: a per-session CSRF token on every state-changing request (and the `Origin`
//! checked when sent), `__Host-` cookies with `Secure; HttpOnly; SameSite=Strict`, a
//! session id rotated whenever the session's level rises (a password, a passkey alone,
//! every second factor, a step-up; the CSRF token is derived from the id and rotates with
//! it), sessions ended after `--session-idle` without a request (30 minutes) and
//! `--session-lifetime` after the sign-in (12 hours), a step-up's `next` followed only on
//! the demo's own origin, a Content-Security-Policy without inline scripts or styles, the service's
//! lockout on every factor plus a per-account limit on password guesses, and no secret
//! in any log line (the demo logs nothing per request).
//!
//! Persistence: `--data-dir DIR` (default `$XDG_DATA_HOME/mfa-web-demo`, else
//! `~/.local/share/mfa-web-demo`) holds the key file `keys.json` (0600: the data key
//! that seals every factor record, the recovery pepper, the remembered-device key,
//! generated on first start) and, unless `--database-url postgres://…` names a
//! PostgreSQL database, the SQLite file `web_demo.sqlite3`. The database holds
//! mfa-store's tables (factors, challenges, failure counters, devices) and the demo's
//! own (`demo_users` with the Argon2id hashes, recovery-code hints, the audit log, the
//! administrators, and `demo_sessions`: the signed-in sessions by the SHA-256 of their
//! id, never the cookie's value): a restart keeps every account, factor and signed-in
//! session (the `sessions` module). Anonymous sessions, ceremonies in flight and the
//! password-guess counter stay in memory.
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
use mfa::policy::input::{EnrolledFactor, Request as PolicyRequest, Session, Subject};
use mfa::recovery::{RecoveryCode, RecoveryConfig};
use mfa::webauthn::RelyingParty;
use mfa::webauthn::json::{AuthenticationResponseJson, RegistrationResponseJson};
use mfa::{Challenge, Error, Response as MfaResponse, Service};
use mfa_axum::{LoadError, MfaSession, RequireMfaLayer, SessionLoader, phishing_resistant};
use mfa_store::AnyStore;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

mod admin;
mod api;
mod config;
mod db;
mod keys;
mod metrics;
mod oob;
mod pages;
mod passkeys;
mod sessions;

pub(crate) use admin::*;
use api::*;
pub(crate) use config::*;
use pages::{headers_mw, layout, page};

use db::{CodeHint, Db, DbError, PasswordRecord};
pub(crate) use sessions::{SessionLimits, csrf_of, sid_hash};

/// MFA on every sign-in; payments need a phishing-resistant factor within five minutes;
/// a new account may put enrolment off for three sign-ins.
const POLICY: &str = r#"
version = 1
mode = "always"

[enrollment]
grace_sign_ins = 3

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
/// Sessions kept in memory before anonymous ones are dropped (signed-in ones are in
/// the database too).
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

    /// The stage `as_str` names.
    fn parse(s: &str) -> Option<Self> {
        [
            Self::Anonymous,
            Self::SecondFactor,
            Self::Enroll,
            Self::SignedIn,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

#[derive(Clone)]
pub(crate) struct DemoSession {
    user: Option<UserId>,
    stage: Stage,
    session: Session,
    pending_totp: Option<(FactorId, Zeroizing<String>)>,
    pending_registration: Option<ChallengeId>,
    pending_assertion: Option<ChallengeId>,
    /// The passkey upgrade (conditional create) started after a password sign-in.
    pending_upgrade: Option<ChallengeId>,
    /// An SMS or email enrollment waiting for its code.
    pending_oob: Option<FactorId>,
    /// The SMS or email sign-in code sent last.
    oob_challenge: Option<(FactorId, ChallengeId)>,
    /// The push sent last.
    push_challenge: Option<(FactorId, ChallengeId)>,
    /// When the user signed in (when the session began, while anonymous), on the
    /// sessions' clock: the absolute timeout counts from here.
    created_at: u64,
    /// The last request: the idle timeout counts from here.
    last_seen: u64,
}

impl DemoSession {
    fn new() -> Self {
        Self {
            user: None,
            stage: Stage::Anonymous,
            session: Session::default(),
            pending_totp: None,
            pending_registration: None,
            pending_assertion: None,
            pending_upgrade: None,
            pending_oob: None,
            oob_challenge: None,
            push_challenge: None,
            created_at: 0,
            last_seen: 0,
        }
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
    /// The sessions' clock (a test moves it past a timeout).
    session_clock: Arc<dyn Clock>,
    session_limits: SessionLimits,
    /// By the SHA-256 of the session id; signed-in ones are in `demo_sessions` too.
    sessions: Mutex<HashMap<[u8; 32], DemoSession>>,
    password_failures: Mutex<HashMap<String, (u32, u64)>>,
    origin: String,
}

/// An error for the page: a status and a sentence that reveals nothing.
#[derive(Debug)]
struct ApiError(StatusCode, &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Locked { .. } => ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts: this method is locked for a while, or until an administrator unlocks it.",
            ),
            Error::AccountLocked => ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts: this account is locked. An administrator can unlock it.",
            ),
            Error::Backoff { .. } => ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts: wait a moment and try again.",
            ),
            Error::StepUpRequired { .. } => {
                ApiError(StatusCode::FORBIDDEN, "Verify a second factor first.")
            }
            Error::Enroll(_) => ApiError(
                StatusCode::CONFLICT,
                "The policy does not allow this factor now (a passkey on this device needs another factor first).",
            ),
            Error::NoGrace => ApiError(
                StatusCode::FORBIDDEN,
                "Set up a second factor now: it can no longer be put off.",
            ),
            Error::CredentialAlreadyRegistered => ApiError(
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
        Error::from(e).into()
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
            && lock(&self.sessions).contains_key(&sid_hash(sid))
        {
            return Ok((sid.to_owned(), None));
        }
        let sid = random_token()?;
        let now = self.session_now();
        let mut fresh = DemoSession::new();
        fresh.created_at = now;
        fresh.last_seen = now;
        let mut sessions = lock(&self.sessions);
        // Anonymous sessions cost a page load each: past the cap they are dropped
        // (their pages ask for a reload), never the signed-in ones.
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.user.is_some());
        }
        sessions.insert(sid_hash(&sid), fresh);
        drop(sessions);
        let c = set_cookie(SESSION_COOKIE, &sid, None);
        Ok((sid, Some(c)))
    }

    /// The session of a state-changing request, after the CSRF checks: the `Origin`
    /// (when the browser sends one) is ours and `X-CSRF-Token` is the session's token
    /// (derived from its id, [`csrf_of`]).
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
        if !lock(&self.sessions).contains_key(&sid_hash(sid)) {
            return Err(CSRF);
        }
        if !bool::from(csrf_of(sid).as_bytes().ct_eq(sent)) {
            return Err(CSRF);
        }
        Ok(sid.to_owned())
    }

    fn with<R>(&self, sid: &str, f: impl FnOnce(&mut DemoSession) -> R) -> Result<R, ApiError> {
        let mut sessions = lock(&self.sessions);
        let s = sessions
            .get_mut(&sid_hash(sid))
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

    async fn enrolled(&self, user: &UserId) -> Result<Vec<EnrolledFactor>, Error> {
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
            (Some(t), Some(d)) => Some(mfa::DeviceCookie::new(t, d)),
            _ => None,
        };
        let request = PolicyRequest {
            action: Some("signin".into()),
            ..PolicyRequest::default()
        };
        let subject = self.subject(user).await?;
        let decision = self
            .svc
            .evaluate(user, &subject, session, &request, device)
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

    async fn subject(&self, user: &UserId) -> Result<Subject, ApiError> {
        let mut s = Subject::default();
        if self.is_admin(user).await? {
            s.roles.push("admin".into());
        }
        Ok(s)
    }
}

macro_rules! page_route {
    ($name:literal) => {{
        let html: Arc<str> =
            layout($name, include_str!(concat!("../static/", $name, ".html"))).into();
        get(move |State(app): State<Arc<App>>, headers: HeaderMap| {
            std::future::ready(page(&app, &headers, html.to_string()))
        })
    }};
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
        let found =
            lock(&self.0.sessions)
                .get(&sid_hash(sid))
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
    metrics::install();
    Ok(Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/", page_route!("index"))
        .route("/mfa", page_route!("mfa"))
        .route("/account", page_route!("account"))
        .route("/step-up", page_route!("stepup"))
        .route("/pay", page_route!("pay").layer(payment.clone()))
        .route("/admin", page_route!("admin").layer(admin.clone()))
        .route("/outbox", page_route!("outbox"))
        .route("/phone", page_route!("phone"))
        .route(
            "/static/app.js",
            static_file(
                include_str!("../static/app.js"),
                "text/javascript; charset=utf-8",
            ),
        )
        .route(
            "/static/style.css",
            static_file(
                include_str!("../static/style.css"),
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
        .route("/api/passkey/upgrade/begin", post(passkeys::upgrade_begin))
        .route(
            "/api/passkey/upgrade/finish",
            post(passkeys::upgrade_finish),
        )
        .route("/api/factors/remove", post(passkeys::remove_factor))
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
        .route("/api/enroll/skip", post(skip_enrollment))
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
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            sessions::session_layer,
        ))
        .layer(axum::middleware::from_fn(headers_mw))
        .with_state(app))
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
        Ok(Parsed::Admin {
            config,
            user,
            grant,
        }) => {
            return match set_admin(&config, &user, grant).await {
                Ok(said) => {
                    println!("web_demo: {said}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("web_demo: {e}");
                    ExitCode::FAILURE
                }
            };
        }
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
