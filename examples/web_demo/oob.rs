//! SMS, email and push in the demo: enrollment and sign-in through the `mfa` service,
//! the demo's fake phone and inbox (an outbox page over mfa-oob's `OutboxSender`
//! directory), and the push "phone" page's server side (its inbox, enrollment and
//! signed answers).
//!
//! The outbox shows a user only the messages the service sent while serving that
//! user's own requests: every call that may send runs under one lock, and the files that
//! appeared during it are tagged with the user. So a user who types someone else's
//! number sees the codes sent for their own attempt, never another user's.
//!
//! The phone page is a second tab standing in for a phone app: its key is a WebCrypto
//! P-256 key that never leaves the browser (non-extractable, kept in IndexedDB). The
//! demo's push "provider" keeps notifications in memory by push token; the phone asks
//! for its own with that token (as an app receives pushes), shows the sign-in context
//! and signs its answer (mfa-oob's push response v1). The number to match is never in
//! the notification: the user reads it on the sign-in page.

use std::collections::HashSet;
use std::path::Path;

use mfa::core::{Channel, SignInContext};
use mfa::oob::{
    EnrollmentRequest, LimitError, OutboxSender, PushNotification, PushResponse, PushStatus,
    PushTransport, SendError,
};

use super::*;

/// Notifications the fake provider keeps (oldest dropped first).
const MAX_NOTIFICATIONS: usize = 256;
/// Messages one outbox page shows.
const OUTBOX_PAGE: usize = 50;

/// The demo's push provider: notifications in memory, fetched by push token.
#[derive(Default)]
pub(crate) struct PhoneInbox(Mutex<Vec<PushNotification>>);

impl PushTransport for PhoneInbox {
    async fn push(&self, notification: &PushNotification) -> Result<(), SendError> {
        let mut list = lock(&self.0);
        if list.len() >= MAX_NOTIFICATIONS {
            list.remove(0);
        }
        list.push(notification.clone());
        Ok(())
    }
}

/// The outbox directory and which of its files belong to whom.
pub(crate) struct Outbox {
    pub(crate) sender: Arc<OutboxSender>,
    /// File name → the user whose request sent it.
    tags: Mutex<HashMap<String, UserId>>,
    /// Held across every service call that may send, so new files are attributable.
    send_lock: tokio::sync::Mutex<()>,
}

fn file_names(dir: &Path) -> HashSet<String> {
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".txt"))
                .collect()
        })
        .unwrap_or_default()
}

impl Outbox {
    /// An outbox in `dir`, emptied: messages of an earlier run are stale (codes live
    /// minutes), and `OutboxSender` numbers its files from 1 again.
    pub(crate) fn open(dir: &Path) -> Result<Self, String> {
        if dir.is_dir() {
            for name in file_names(dir) {
                std::fs::remove_file(dir.join(name))
                    .map_err(|e| format!("outbox {}: {e}", dir.display()))?;
            }
        }
        let sender =
            OutboxSender::new(dir).map_err(|e| format!("outbox {}: {e}", dir.display()))?;
        Ok(Self {
            sender: Arc::new(sender),
            tags: Mutex::new(HashMap::new()),
            send_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Runs `call` (which may send) and tags the files it wrote with `user`.
    pub(crate) async fn sending<T>(&self, user: &UserId, call: impl Future<Output = T>) -> T {
        let _guard = self.send_lock.lock().await;
        let before = file_names(self.sender.dir());
        let out = call.await;
        let after = file_names(self.sender.dir());
        let mut tags = lock(&self.tags);
        for name in after.difference(&before) {
            tags.insert(name.clone(), user.clone());
        }
        out
    }

    /// `user`'s messages, newest first.
    fn messages(&self, user: &UserId) -> Vec<Value> {
        let mut names: Vec<String> = lock(&self.tags)
            .iter()
            .filter(|(_, u)| *u == user)
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names
            .iter()
            .rev()
            .take(OUTBOX_PAGE)
            .filter_map(|n| {
                let text = Zeroizing::new(std::fs::read_to_string(self.sender.dir().join(n)).ok()?);
                let (head, body) = text.split_once("\n\n")?;
                let field = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(str::to_owned)
                };
                Some(json!({
                    "to": field("To: "),
                    "channel": field("Channel: "),
                    "subject": field("Subject: "),
                    "body": body.trim_end(),
                }))
            })
            .collect()
    }
}

fn channel_of(name: &str) -> Result<Channel, ApiError> {
    match name {
        "sms" => Ok(Channel::Sms),
        "email" => Ok(Channel::Email),
        _ => Err(ApiError(StatusCode::BAD_REQUEST, "Choose SMS or email.")),
    }
}

/// The context a push shows on the phone. The demo listens on 127.0.0.1 only, so
/// every client is this computer.
fn sign_in_context() -> SignInContext {
    SignInContext::new()
        .with_application("mfa-rs demo bank")
        .with_client_ip(std::net::IpAddr::from([127, 0, 0, 1]))
        .with_location("this computer (the demo listens on 127.0.0.1 only)")
}

impl App {
    /// A request of the phone page, parsed after the checks. It carries no cookie authority (the page sends
    /// none, `credentials: 'omit'`): the pairing secret, the push token and the
    /// device's signatures authenticate it, so a forged cross-site request has nothing
    /// to ride on. It must still come from our origin, with a JSON body (which no
    /// cross-site form can send without a CORS preflight this server never grants).
    fn phone_request<T: serde::de::DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<T, ApiError> {
        let ours = headers
            .get(header::ORIGIN)
            .is_some_and(|o| o.as_bytes() == self.origin.as_bytes());
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next() == Some("application/json"));
        if !ours || !json {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "Reload the page and try again.",
            ));
        }
        serde_json::from_slice(body)
            .map_err(|_| ApiError(StatusCode::BAD_REQUEST, "The request was not understood."))
    }
}

// ------------------------------------------------------------------- SMS / email

#[derive(Deserialize)]
pub(crate) struct OobEnroll {
    channel: String,
    destination: String,
    #[serde(default)]
    region: Option<String>,
}

pub(crate) async fn oob_enroll(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(b): Json<OobEnroll>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, session) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn])?;
    let channel = channel_of(&b.channel)?;
    if b.destination.len() > 254 || b.region.as_ref().is_some_and(|r| r.len() > 2) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "Check the number or address.",
        ));
    }
    let label = if channel == Channel::Email {
        "Email"
    } else {
        "Text message"
    };
    let e = app
        .outbox
        .sending(
            &user,
            app.svc.start_oob_enrollment(
                &user,
                mfa::OobAddress::new(channel, b.destination.trim(), b.region.as_deref()),
                label,
                &session,
            ),
        )
        .await
        .map_err(oob_error)?;
    app.with(&sid, |s| s.pending_oob = Some(e.factor_id.clone()))?;
    Ok(Json(json!({
        "destination": e.destination,
        "expires_at": e.expires_at.unix_secs(),
    }))
    .into_response())
}

/// The service's refusals of a destination, said plainly.
fn oob_error(e: Error) -> ApiError {
    match e {
        Error::DestinationAlreadyEnrolled => ApiError(
            StatusCode::CONFLICT,
            "That number or address is already one of your factors.",
        ),
        Error::Limited(l) => limited(&l),
        Error::Core(mfa::core::Error::Invalid(_)) => ApiError(
            StatusCode::BAD_REQUEST,
            "Check the number or address (a number in international form, +1 201 555 0123).",
        ),
        e => e.into(),
    }
}

/// A send or push limit, said plainly (each names a limit, never a secret).
pub(crate) fn limited(l: &LimitError) -> ApiError {
    let m = match l {
        LimitError::Cooldown { .. } => {
            "A code was sent a moment ago: wait a few seconds before asking for another."
        }
        LimitError::Country(_) => {
            "The demo sends texts only to +1, +33, +44 and +49 (mfa-oob sends nowhere unless allowed)."
        }
        LimitError::PendingPushes { .. } => {
            "Two sign-in requests are already waiting on your phone: answer them first."
        }
        LimitError::PushesSinceSuccess { .. } => {
            "Too many pushes without an approval: use another factor."
        }
        _ => "Too many codes were sent: try again later.",
    };
    ApiError(StatusCode::TOO_MANY_REQUESTS, m)
}

pub(crate) async fn oob_confirm(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(c): Json<Code>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn])?;
    let pending = app.with(&sid, |s| s.pending_oob.clone())?;
    let factor = pending.ok_or(ApiError(
        StatusCode::BAD_REQUEST,
        "Start the enrollment first.",
    ))?;
    let session = app.with(&sid, |s| s.session.clone())?;
    let v = app
        .outbox
        .sending(
            &user,
            app.svc
                .finish_enrollment(&user, &factor, c.code.trim(), &session),
        )
        .await?;
    app.with(&sid, |s| {
        s.pending_oob = None;
        s.session = v.session;
    })?;
    restage(&app, &sid, &user, &headers).await
}

#[derive(Deserialize)]
pub(crate) struct FactorRef {
    id: String,
}

/// Sends a sign-in code to one of the user's SMS or email factors.
pub(crate) async fn oob_start(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(f): Json<FactorRef>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::SecondFactor, Stage::SignedIn])?;
    let factor = app
        .svc
        .list_factors(&user)
        .await?
        .into_iter()
        .find(|x| {
            x.id.as_str() == f.id
                && x.confirmed
                && matches!(
                    x.kind,
                    FactorKind::Sms | FactorKind::Email | FactorKind::Voice
                )
        })
        .ok_or(ApiError(StatusCode::BAD_REQUEST, "Unknown factor."))?;
    let challenge = app
        .outbox
        .sending(
            &user,
            app.svc
                .start_challenge(&user, &factor.id, &StartOptions::default()),
        )
        .await
        .map_err(oob_error)?;
    let Challenge::OobCode {
        challenge_id,
        destination,
        expires_at,
        ..
    } = challenge
    else {
        return Err(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong.",
        ));
    };
    app.with(&sid, |s| {
        s.oob_challenge = Some((factor.id.clone(), challenge_id))
    })?;
    Ok(
        Json(json!({ "destination": destination, "expires_at": expires_at.unix_secs() }))
            .into_response(),
    )
}

/// The demo's fake phone and inbox: the messages sent for the session's user.
pub(crate) async fn outbox(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (sid, _) = app.ensure_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::Enroll, Stage::SecondFactor, Stage::SignedIn])?;
    Ok(Json(json!({ "messages": app.outbox.messages(&user) })).into_response())
}

// ------------------------------------------------------------------- push

/// Starts pairing a phone: what the phone page needs to enroll, for the pairing link.
pub(crate) async fn push_enroll_begin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, session) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn])?;
    let e = app
        .svc
        .start_push_enrollment(&user, "Demo phone", &session)
        .await?;
    Ok(Json(json!({
        "account": user.as_str(),
        "challenge_id": e.challenge_id.as_str(),
        "challenge": e.challenge,
        "expires_at": e.expires_at.unix_secs(),
    }))
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct PhoneEnroll {
    account: String,
    challenge_id: String,
    request: EnrollmentRequest,
}

/// The phone's signed enrollment. The pairing secret (the challenge, known only to the
/// account page and the phone) and the signature authenticate it, not a session.
pub(crate) async fn phone_enroll(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: PhoneEnroll = app.phone_request(&headers, &body)?;
    let bad = ApiError(
        StatusCode::BAD_REQUEST,
        "This pairing link is not valid any more.",
    );
    let user = UserId::new(b.account.as_str()).map_err(|_| bad)?;
    let challenge = ChallengeId::parse(&b.challenge_id).map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "This pairing link is not valid any more.",
        )
    })?;
    let info = app
        .outbox
        .sending(
            &user,
            app.svc
                .finish_push_enrollment(&user, &challenge, &b.request),
        )
        .await?;
    Ok(Json(json!({ "account": user.as_str(), "device": info.label })).into_response())
}

#[derive(Deserialize)]
pub(crate) struct PhoneToken {
    push_token: String,
}

/// What the push provider holds for this phone: its pending sign-in requests.
pub(crate) async fn phone_inbox(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let t: PhoneToken = app.phone_request(&headers, &body)?;
    let now = app.now();
    let mut list = lock(&app.phone.0);
    list.retain(|n| n.expires_at > now);
    // As the provider delivers them: what the phone shows and signs (never the number).
    let mine: Vec<Value> = list
        .iter()
        .filter(|n| bool::from(n.push_token.as_bytes().ct_eq(t.push_token.as_bytes())))
        .filter_map(|n| serde_json::to_value(n).ok())
        .collect();
    Ok(Json(json!({ "notifications": mine })).into_response())
}

#[derive(Deserialize)]
pub(crate) struct PhoneAnswer {
    account: String,
    response: String,
}

/// The phone's signed answer (approve with the number typed, or deny).
pub(crate) async fn phone_respond(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let a: PhoneAnswer = app.phone_request(&headers, &body)?;
    let bad = || ApiError(StatusCode::BAD_REQUEST, "The answer was not accepted.");
    let user = UserId::new(a.account.as_str()).map_err(|_| bad())?;
    let response = PushResponse::from_base64url(&a.response).map_err(|_| bad())?;
    let status = app
        .outbox
        .sending(&user, app.svc.respond_push(&user, &response))
        .await?;
    // Answered: the notification is done.
    let tx = response.transaction();
    lock(&app.phone.0).retain(|n| n.transaction != tx);
    Ok(Json(json!({ "status": status })).into_response())
}

/// Sends a push to the user's phone; the page shows the number to enter there.
pub(crate) async fn push_start(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::SecondFactor, Stage::SignedIn])?;
    let factor = app
        .svc
        .list_factors(&user)
        .await?
        .into_iter()
        .find(|f| f.kind == FactorKind::Push && f.confirmed)
        .ok_or(ApiError(StatusCode::BAD_REQUEST, "No phone is paired."))?;
    let mut options = StartOptions::default();
    options.context = sign_in_context();
    let challenge = app
        .svc
        .start_challenge(&user, &factor.id, &options)
        .await
        .map_err(oob_error)?;
    let Challenge::Push {
        challenge_id,
        number,
        expires_at,
        nonce,
        ..
    } = challenge
    else {
        return Err(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong.",
        ));
    };
    app.with(&sid, |s| {
        s.push_challenge = Some((factor.id.clone(), challenge_id))
    })?;
    // The nonce binds the push to this page: it goes back with the completion, and
    // never to the phone.
    Ok(Json(json!({
        "number": number,
        "expires_at": expires_at.unix_secs(),
        "nonce": nonce.expose(),
    }))
    .into_response())
}

/// The sign-in page's poll.
pub(crate) async fn push_status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (sid, _) = app.ensure_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::SecondFactor, Stage::SignedIn])?;
    let pending = app.with(&sid, |s| s.push_challenge.clone())?;
    let (_, challenge) = pending.ok_or(ApiError(StatusCode::BAD_REQUEST, "Send a push first."))?;
    let status = app.svc.push_status(&user, &challenge).await?;
    let status = match status {
        PushStatus::Approved => "approved",
        PushStatus::Denied => "denied",
        PushStatus::Pending => "pending",
        PushStatus::WrongNumber => "wrong_number",
        _ => "expired",
    };
    Ok(Json(json!({ "status": status })).into_response())
}

/// Re-evaluates the sign-in gate of an enrolling session: after a phone is paired
/// (which proves nothing in this browser), the user moves on to verify with it.
pub(crate) async fn stage(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::Enroll])?;
    restage(&app, &sid, &user, &headers).await
}
