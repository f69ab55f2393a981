//! The JSON API the pages call: sign-up and sign-in, factors (TOTP, passkeys, recovery
//! codes), second-factor verification, remembered devices, the payment step-up.

use super::*;

pub(super) fn with_cookie(mut res: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

pub(super) async fn me(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (sid, set) = app.ensure_session(&headers)?;
    let (user, stage) = app.with(&sid, |s| (s.user.clone(), s.stage))?;
    let admin = match &user {
        Some(u) => app.is_admin(u).await?,
        None => false,
    };
    let grace = match (&user, stage) {
        (Some(u), Stage::Enroll) => app.svc.enrollment_grace(u).await?,
        _ => None,
    };
    let now = app.now();
    let body = json!({
        "csrf": csrf_of(&sid),
        "user": user.as_ref().map(|u| App::username_of(u).to_owned()),
        "stage": stage.as_str(),
        "admin": admin,
        "grace": grace.map(|g| json!({
            "days_left": g.days_left(now),
            "sign_ins_left": g.sign_ins_left,
        })),
    });
    Ok(with_cookie(
        Json(body).into_response(),
        &set.into_iter().collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize)]
pub(super) struct Credentials {
    pub(super) username: String,
    pub(super) password: String,
}

pub(super) fn valid_username(name: &str) -> bool {
    (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub(super) async fn signup(
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
/// (Signing up with any name, `admin` too, makes no administrator: that is
/// `web_demo grant-admin` on the command line.)
pub(super) async fn start_signed_in(
    app: &App,
    sid: &str,
    user: UserId,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let now = app.now();
    let session = Session::primary(AuthMethod::Pwd, now);
    let stage = app.gate(&user, &session, headers).await?;
    let (new, c) = app
        .elevate(sid, |s| {
            s.user = Some(user);
            s.stage = stage;
            s.session = session;
        })
        .await?;
    Ok(staged(stage, &new, c))
}

/// The answer to a request that raised the session: its stage, the new session
/// cookie and the new CSRF token (it is derived from the session id).
pub(super) fn staged(stage: Stage, sid: &str, cookie: String) -> Response {
    with_cookie(
        Json(json!({ "stage": stage.as_str(), "csrf": csrf_of(sid) })).into_response(),
        &[cookie],
    )
}

pub(super) async fn signin(
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

pub(super) async fn signout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    app.end_session(&sid).await?;
    Ok(with_cookie(
        Json(json!({"ok": true})).into_response(),
        &[set_cookie(SESSION_COOKIE, "", Some(Duration::ZERO))],
    ))
}

pub(super) async fn factors(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
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
                // A passkey's provider by AAGUID, and whether only the authenticator
                // says so (`none` attestation).
                "provider": f.authenticator.as_ref().and_then(|m| m.name.clone()),
                "provider_claimed": f.authenticator.as_ref()
                    .map(|m| m.evidence == mfa::webauthn::AaguidEvidence::Claimed),
            })
        })
        .collect();
    Ok(Json(json!({ "factors": items })).into_response())
}

pub(super) async fn totp_begin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, session) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn])?;
    let e = app
        .svc
        .start_totp_enrollment(&user, "Authenticator app", &session)
        .await?;
    let secret = e.secret_base32.to_string();
    app.with(&sid, |s| {
        s.pending_totp = Some((e.factor_id.clone(), e.qr_svg.clone()))
    })?;
    Ok(Json(json!({ "secret": secret, "qr": "/api/totp/qr.svg" })).into_response())
}

pub(super) async fn totp_qr(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = cookie(&headers, SESSION_COOKIE)
        .ok_or(ApiError(StatusCode::NOT_FOUND, "No enrollment."))?
        .to_owned();
    let svg = app.with(&sid, |s| s.pending_totp.as_ref().map(|p| p.1.to_string()))?;
    let svg = svg.ok_or(ApiError(StatusCode::NOT_FOUND, "No enrollment."))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

#[derive(Deserialize)]
pub(super) struct Code {
    pub(super) code: String,
}

pub(super) async fn totp_confirm(
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
    let session = app.with(&sid, |s| s.session.clone())?;
    // The first code proved possession of the new factor: the session `finish_enrollment`
    // returns counts it.
    let v = app
        .svc
        .finish_enrollment(&user, &factor, c.code.trim(), &session)
        .await?;
    app.with(&sid, |s| {
        s.pending_totp = None;
        s.session = v.session;
    })?;
    restage(&app, &sid, &user, &headers).await
}

/// Re-evaluates the sign-in gate after a verification (a second factor, a step-up,
/// a factor's first code) and moves the session to a new id: its level rose, so the
/// old id must stop working.
/// "Set up later": an enrolling session skips enrolment while the policy's grace lasts
/// (the service counts the skip atomically) and is signed in.
pub(super) async fn skip_enrollment(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, _) = app.user_at(&sid, &[Stage::Enroll])?;
    app.svc.skip_enrollment(&user).await?;
    let (new, c) = app.elevate(&sid, |s| s.stage = Stage::SignedIn).await?;
    Ok(staged(Stage::SignedIn, &new, c))
}

pub(super) async fn restage(
    app: &App,
    sid: &str,
    user: &UserId,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let session = app.with(sid, |s| s.session.clone())?;
    let stage = app.gate(user, &session, headers).await?;
    let (new, c) = app.elevate(sid, |s| s.stage = stage).await?;
    Ok(staged(stage, &new, c))
}

pub(super) async fn passkey_register_begin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sid = app.post_session(&headers)?;
    let (user, session) = app.user_at(&sid, &[Stage::Enroll, Stage::SignedIn])?;
    let (challenge, options) = app
        .svc
        .start_webauthn_registration(&user, "Passkey", None, &session)
        .await?;
    app.with(&sid, |s| s.pending_registration = Some(challenge))?;
    Ok(Json(json!({ "options": options })).into_response())
}

pub(super) async fn passkey_register_finish(
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
pub(super) async fn passkey_begin(
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

pub(super) async fn passkey_finish(
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
    let v = match app
        .svc
        // The demo listens on loopback only, so every client is 127.0.0.1.
        .finish_passkey_signin(
            &challenge,
            &response,
            &session,
            Some(std::net::IpAddr::from([127, 0, 0, 1])),
        )
        .await
    {
        Ok(v) => v,
        Err(e) => return Ok(passkeys::refused_assertion(&app, e, &response).await),
    };
    if let Some(u) = &current
        && *u != v.user
    {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "That passkey belongs to another account.",
        ));
    }
    let signals = passkeys::sign_in_signals(&app, &v.user, v.signal.clone()).await;
    // A second factor or step-up raises this user's session; a passkey alone signs in
    // the user the credential names. Either way the session gets a new id.
    let stage = app.gate(&v.user, &v.session, &headers).await?;
    let (new, c) = app
        .elevate(&sid, |s| {
            s.user = Some(v.user);
            s.session = v.session;
            s.stage = stage;
        })
        .await?;
    Ok(with_cookie(
        Json(json!({ "stage": stage.as_str(), "csrf": csrf_of(&new), "signals": signals }))
            .into_response(),
        &[c],
    ))
}

#[derive(Deserialize)]
pub(super) struct SecondFactor {
    pub(super) kind: String,
    pub(super) code: String,
    /// For a push: the nonce `/api/push/start` gave the page that asked.
    #[serde(default)]
    pub(super) nonce: String,
    #[serde(default)]
    pub(super) remember: bool,
}

pub(super) async fn verify_code(
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
                nonce: &body.nonce,
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

pub(super) async fn recovery_list(
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

pub(super) async fn recovery_generate(
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
        let set = app.svc.start_recovery_enrollment(&user, &session).await?;
        // The page shows the codes with "save them now": the set is active at once.
        app.svc
            .finish_recovery_enrollment(&user, &set.factor_id)
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

pub(super) async fn devices(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
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
pub(super) struct DeviceRef {
    pub(super) id: String,
}

pub(super) async fn forget_device(
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
pub(super) struct Payment {
    pub(super) to: String,
    pub(super) amount: String,
}

/// Behind `mfa-axum`'s layer: only a session with a fresh phishing-resistant factor
/// gets here.
pub(super) async fn pay(
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
