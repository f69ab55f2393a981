//! The admin API: users, the audit log, reset and unlock.

use super::*;

/// The session's user is an administrator: named by `web_demo grant-admin` in the
/// database, never by a user name chosen at sign-up.
pub(super) async fn require_admin(app: &App, mfa: &MfaSession) -> Result<(), ApiError> {
    if app.is_admin(&mfa.user).await? {
        Ok(())
    } else {
        Err(ApiError(StatusCode::FORBIDDEN, "Administrators only."))
    }
}

pub(super) async fn admin_users(
    State(app): State<Arc<App>>,
    axum::Extension(mfa): axum::Extension<MfaSession>,
) -> Result<Response, ApiError> {
    require_admin(&app, &mfa).await?;
    let mut out = Vec::new();
    for name in app.db.usernames().await? {
        let id = UserId::new(name)?;
        let n = app.svc.list_factors(&id).await?.len();
        out.push(json!({"user": id.as_str(), "factors": n}));
    }
    out.sort_by(|a, b| a["user"].as_str().cmp(&b["user"].as_str()));
    Ok(Json(json!({ "users": out })).into_response())
}

pub(super) async fn admin_audit(
    State(app): State<Arc<App>>,
    axum::Extension(mfa): axum::Extension<MfaSession>,
) -> Result<Response, ApiError> {
    require_admin(&app, &mfa).await?;
    let events = app.audit_events(200).await?;
    Ok(Json(json!({ "events": events })).into_response())
}

#[derive(Deserialize)]
pub(super) struct UserRef {
    user: String,
}

pub(super) async fn admin_action(
    app: &App,
    headers: &HeaderMap,
    mfa: &MfaSession,
    user: &str,
) -> Result<UserId, ApiError> {
    app.post_session(headers)?;
    require_admin(app, mfa).await?;
    const NONE: ApiError = ApiError(StatusCode::NOT_FOUND, "No such user.");
    if !valid_username(user) || app.db.user(user).await?.is_none() {
        return Err(NONE);
    }
    UserId::new(user).map_err(|_| NONE)
}

pub(super) async fn admin_reset(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Extension(mfa): axum::Extension<MfaSession>,
    Json(u): Json<UserRef>,
) -> Result<Response, ApiError> {
    let id = admin_action(&app, &headers, &mfa, &u.user).await?;
    let summary = app.svc.admin().reset_user(&id).await?;
    app.db.replace_codes(id.as_str(), &[]).await?;
    // The user's sessions end: the next sign-in enrolls from scratch.
    app.end_sessions_of(&id).await?;
    Ok(Json(json!({ "reset": id.as_str(), "factors_removed": summary.factors })).into_response())
}

pub(super) async fn admin_unlock(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Extension(mfa): axum::Extension<MfaSession>,
    Json(u): Json<UserRef>,
) -> Result<Response, ApiError> {
    let id = admin_action(&app, &headers, &mfa, &u.user).await?;
    app.svc.admin().unlock(&id, None).await?;
    lock(&app.password_failures).remove(id.as_str());
    Ok(Json(json!({ "unlocked": id.as_str() })).into_response())
}

/// Events waiting in memory for the database before new ones are dropped (and said so
/// on stderr).
pub(super) const AUDIT_QUEUE: usize = 10_000;

pub(super) enum AuditMsg {
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
    pub(super) fn start(db: Db) -> Self {
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
