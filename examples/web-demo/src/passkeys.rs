//! Passkeys past the ceremony (issue 22): the passkey upgrade offered right after a
//! password sign-in (conditional create), and the Signal API payloads the pages hand to
//! `PublicKeyCredential.signal*` so the user's passkey provider forgets what this site
//! no longer accepts.

use mfa::webauthn::signals::AllAcceptedCredentialsOptions;

use super::*;

/// Starts the passkey upgrade: only for a signed-in session whose password is at most
/// five minutes old (the service checks), with options the page passes to
/// `navigator.credentials.create({publicKey, mediation: "conditional"})`. Its challenge
/// is kept apart from `/api/passkey/register/begin`'s, so only a registration finished
/// at `/api/passkey/upgrade/finish` may come without user presence.
pub(super) async fn upgrade_begin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, session) = app.user_at(&sid, &[Stage::SignedIn])?;
    let (challenge, options) = app
        .svc
        .start_passkey_upgrade(&user, "Passkey", &session)
        .await?;
    app.with(&sid, |s| s.pending_upgrade = Some(challenge))?;
    Ok(Json(json!({ "options": options })).into_response())
}

pub(super) async fn upgrade_finish(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(response): Json<RegistrationResponseJson>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::SignedIn])?;
    let pending = app.with(&sid, |s| s.pending_upgrade.take())?;
    let challenge = pending.ok_or(ApiError(StatusCode::BAD_REQUEST, "Start again."))?;
    let info = app
        .svc
        .finish_webauthn_registration(&user, &challenge, &response)
        .await?;
    Ok(Json(json!({ "kind": info.kind.as_str(), "label": info.label })).into_response())
}

/// The signals for the page after a WebAuthn sign-in: the credentials this site still
/// accepts for the user (`signalAllAcceptedCredentials`, from the verification) and
/// the account's current names (`signalCurrentUserDetails`; the demo has no rename, so
/// the names are sent on every passkey sign-in, which keeps a provider's copy right).
pub(super) async fn sign_in_signals(
    app: &App,
    user: &UserId,
    all_accepted: Option<AllAcceptedCredentialsOptions>,
) -> Value {
    let name = App::username_of(user);
    let details = app
        .svc
        .signal_current_user_details(user, name, name)
        .await
        .ok()
        .flatten();
    json!({ "allAcceptedCredentials": all_accepted, "currentUserDetails": details })
}

/// A refused assertion: when it named a credential this site does not have (removed,
/// or an administrator's reset), the `signalUnknownCredential` payload goes with the
/// refusal, so the page can tell the provider to drop it. It says nothing about any
/// account, so it is sent to anyone.
pub(super) async fn refused_assertion(
    app: &App,
    err: Error,
    response: &AuthenticationResponseJson,
) -> Response {
    let unknown = app
        .svc
        .signal_unknown_credential(response)
        .await
        .ok()
        .flatten();
    let ApiError(status, message) = ApiError::from(err);
    match unknown {
        Some(payload) => (
            status,
            Json(json!({ "error": message, "signals": { "unknownCredential": payload } })),
        )
            .into_response(),
        None => ApiError(status, message).into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct FactorRef {
    id: FactorId,
}

/// Removes a factor. When it was a passkey, the service answers with the
/// `signalAllAcceptedCredentials` payload for the user's remaining passkeys (an empty
/// list under the removed one's user handle when none remains, which hides every passkey
/// of the account), and the page hands it to the browser.
pub(super) async fn remove_factor(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(f): Json<FactorRef>,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, session) = app.user_at(&sid, &[Stage::SignedIn])?;
    let subject = app.subject(&user).await?;
    let signal = app
        .svc
        .remove_factor(&user, &subject, &session, &f.id)
        .await?;
    Ok(Json(json!({ "signals": { "allAcceptedCredentials": signal } })).into_response())
}
