//! The quickstart: one user's MFA life cycle, through every crate that has landed, on an
//! in-memory store and a clock that moves only when told.
//!
//! Run with `cargo run --example quickstart [-- --store URL]`. It prints each step and
//! exits non-zero if any step does not behave as documented. The store is chosen at run
//! time from a URL (`memory://`, the default; `sqlite://…` and `postgres://…` are typed
//! errors until those backends land).
//!
//! The story: Alice signs in and is told to enroll; she adds an authenticator app (TOTP),
//! then a platform passkey (allowed only because another factor exists), then recovery
//! codes. She signs in with a TOTP code (a replayed code is refused), steps up with her
//! passkey for a payment, loses her phone and signs in with a recovery code, asks the
//! browser to remember the device, and finally an admin resets her MFA in one atomic
//! step, which also revokes the remembered device.
//!
//! Every verification goes through `mfa_core::verify_factor`: load, decode, verify
//! purely, compare-and-swap, with a lost race rejected as a replay.
//!
//! Shortcuts acceptable only because this is an example: the memory store forgets
//! everything on exit; the clock is fixed; the recovery pepper and the device-token key
//! are generated at start-up instead of coming from a secret store; the passkey is the
//! WebAuthn crate's software authenticator instead of a browser; and the code Alice
//! "types" is computed from her TOTP record in place of her phone.

use std::process::ExitCode;
use std::time::Duration;

use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, DeviceStore, FactorRecord, FactorStore,
    FailureKey, FailureStore, LookupKey, PendingChallenge, RememberedDevice, StoreError, UserStore,
    Versioned,
};
use mfa_core::{
    Attempt, AuthMethod, Clock, DataOwner, Error, Factor, FactorId, FactorKind, FixedClock,
    JsonCodec, OsRandom, RecordCodec, RejectReason, SecretBytes, Timestamp, UserId, VerifiedFactor,
    verify_factor,
};
use mfa_otp::{TotpFactor, TotpParams, TotpRecord};
use mfa_policy::device::{DeviceProof, DeviceTokenKey};
use mfa_policy::input::{CompletedMethod, EnrolledFactor, Request, Session, Subject};
use mfa_policy::{Decision, Input, Policy};
use mfa_recovery::{KeyId, Keyring, RecoveryConfig, RecoveryFactor};
use mfa_store::AnyStore;
use mfa_webauthn::cose::Algorithm;
use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
use mfa_webauthn::{AuthenticationRequest, RegistrationRequest, RelyingParty, WebAuthnFactor};
use serde::Serialize;
use serde::de::DeserializeOwned;

type Step<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// The operator's policy: MFA always; payments need a phishing-resistant factor
/// within the last five minutes.
const POLICY: &str = r#"
version = 1
mode = "always"

[[rules]]
name = "payments"
actions = ["payment.*"]
require = "phishing-resistant"
max_age = "5m"
"#;

const ORIGIN: &str = "https://bank.example";

/// The records' serialisation: plain JSON here; a service seals them with its own
/// `RecordCodec` (an AES-256-GCM envelope with a key id).
const CODEC: JsonCodec = JsonCodec;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let url = match store_url(std::env::args().skip(1)) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("quickstart: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A store chosen at run time: an unknown or not-compiled-in backend is a typed error.
    let store = match AnyStore::open(&url).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("quickstart: cannot open {url}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("store: {url} ({} backend)\n", store.scheme());
    match run(&store).await {
        Ok(()) => {
            println!("\nquickstart: every step behaved as documented");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("quickstart FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(ok: bool, what: &str) -> Step {
    if ok {
        println!("   ok: {what}");
        Ok(())
    } else {
        Err(format!("not as documented: {what}").into())
    }
}

/// `--store URL`, or `memory://`.
fn store_url(mut args: impl Iterator<Item = String>) -> Result<String, String> {
    let mut url = "memory://".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--store" => url = args.next().ok_or("--store needs a URL")?,
            other => return Err(format!("unknown argument {other:?} (usage: --store URL)")),
        }
    }
    Ok(url)
}

/// The service's core loop, layers 1 and 2, in one call: `mfa_core::verify_factor`
/// loads the factor, decodes it, verifies purely, and compare-and-swaps the result; a
/// lost race is a replay.
async fn verify<F: Factor>(
    store: &AnyStore,
    factor: &F,
    user: &UserId,
    id: &FactorId,
    state: &F::State,
    response: &F::Response,
    now: Timestamp,
) -> Result<VerifiedFactor<F::Record, F::Details>, Error> {
    let attempt = Attempt::new(user, id, state, response, now);
    verify_factor(store, &CODEC, factor, attempt, &mut OsRandom).await
}

/// Enrolls a factor whose first response was already checked.
async fn enroll<R: Serialize>(
    store: &AnyStore,
    user: &UserId,
    kind: FactorKind,
    label: &str,
    record: &R,
    lookup_key: Option<LookupKey>,
    now: Timestamp,
) -> Step<FactorId> {
    let id = FactorId::generate(&mut OsRandom)?;
    let owner = DataOwner::Factor { user, id: &id };
    let mut rec = FactorRecord::new(
        user.clone(),
        id.clone(),
        kind,
        CODEC.encode(owner, record)?,
        now,
    )
    .with_label(label)
    .with_confirmed(true);
    if let Some(key) = lookup_key {
        rec = rec.with_lookup_key(key);
    }
    store.insert_factor(rec).await?;
    Ok(id)
}

async fn load(store: &AnyStore, user: &UserId, id: &FactorId) -> Step<Versioned<FactorRecord>> {
    Ok(store.factor(user, id).await?.ok_or("factor vanished")?)
}

fn decode<R: DeserializeOwned>(stored: &Versioned<FactorRecord>) -> Step<R> {
    let owner = DataOwner::Factor {
        user: &stored.value.user,
        id: &stored.value.id,
    };
    Ok(CODEC.decode(owner, &stored.value.data)?)
}

fn rejected_as(e: &Error, reason: RejectReason) -> bool {
    matches!(e, Error::Rejected(r) if r.reason() == reason)
}

async fn enrolled(store: &AnyStore, user: &UserId) -> Step<Vec<EnrolledFactor>> {
    Ok(store
        .list_factors(user)
        .await?
        .into_iter()
        .map(|f| EnrolledFactor::new(f.value.id, f.value.kind))
        .collect())
}

fn describe(d: &Decision) -> String {
    match d {
        Decision::Allow { .. } => "Allow".into(),
        Decision::StepUp { acceptable, reason } => {
            let kinds: Vec<_> = acceptable.iter().map(|k| k.as_str()).collect();
            format!("StepUp {kinds:?}: {reason}")
        }
        Decision::Enroll { reason, .. } => format!("Enroll: {reason}"),
        Decision::Deny { reason } => format!("Deny: {reason}"),
        other => format!("{other:?}"),
    }
}

#[allow(clippy::too_many_lines, reason = "one linear story, step by step")]
async fn run(store: &AnyStore) -> Step {
    let clock = FixedClock::new(Timestamp::from_unix_secs(1_700_000_000));
    let device_key = DeviceTokenKey::new(SecretBytes::generate(32, &mut OsRandom)?)?;
    let policy = Policy::from_toml(POLICY)?.with_device_key(device_key.clone());
    let user = UserId::new("alice@example.com")?;
    let subject = Subject::default();
    let password = |at| CompletedMethod {
        method: AuthMethod::Pwd,
        factor: None,
        at,
    };
    let decide =
        |enrolled: &[EnrolledFactor], session: &Session, request: &Request, device, now| {
            policy.evaluate(&Input {
                user: &user,
                subject: &subject,
                enrolled,
                session,
                request,
                device,
                now,
            })
        };
    let signin = Request {
        action: Some("signin".into()),
        ..Request::default()
    };

    println!("1. Alice signs in with her password; she has no second factor yet");
    let session = Session {
        methods: vec![password(clock.now())],
        last_activity: Some(clock.now()),
    };
    let d = decide(&[], &session, &signin, None, clock.now());
    println!("   policy: {}", describe(&d));
    check(
        matches!(d, Decision::Enroll { .. }),
        "policy mode \"always\" asks her to enroll",
    )?;

    println!("2. She enrolls an authenticator app (TOTP)");
    let totp_record = TotpRecord::generate(TotpParams::default(), &mut OsRandom)?;
    let uri = totp_record.otpauth_uri("Bank Example", user.as_str())?;
    println!("   QR code content: {}…", &uri.to_uri_string()[..40]);
    let kind = FactorKind::Totp;
    policy
        .check_enroll(&enrolled(store, &user).await?, kind)
        .map_err(|r| format!("{r:?}"))?;
    // Confirm with a first code before storing, so a mistyped secret never locks her out.
    let first = totp_record.totp().code_at(clock.now().unix_secs())?;
    let confirmed = TotpFactor::default().verify(
        &totp_record,
        &(),
        first.as_str(),
        clock.now(),
        &mut OsRandom,
    )?;
    let totp_id = enroll(
        store,
        &user,
        kind,
        "Authenticator app",
        &confirmed.record,
        None,
        clock.now(),
    )
    .await?;
    check(
        true,
        "first code confirmed; the record stores the matched step against replay",
    )?;

    println!(
        "3. She adds Touch ID (a platform passkey): allowed only because another factor exists"
    );
    let platform = FactorKind::WebAuthn {
        attachment: Some(mfa_core::Attachment::Platform),
    };
    check(
        policy.check_enroll(&[], platform).is_err(),
        "refused as the first factor",
    )?;
    policy
        .check_enroll(&enrolled(store, &user).await?, platform)
        .map_err(|r| format!("{r:?}"))?;
    let rp = RelyingParty::builder("bank.example", "Bank Example")
        .origin(ORIGIN)
        .build()?;
    let mut touch_id = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom)?;
    let req = RegistrationRequest::new(b"alice-handle".to_vec(), user.as_str(), "Alice");
    let (options, reg_state) = rp.start_registration(&req, clock.now(), &mut OsRandom)?;
    let response = touch_id.register(&options, ORIGIN, Fault::None)?;
    let credential = rp
        .finish_registration(&reg_state, &response, clock.now())?
        .record;
    // The credential id is the factor's lookup key: unique across users (WebAuthn §7.1
    // step 26), and what finds the passkey in a usernameless sign-in.
    let cred_key = LookupKey::webauthn_credential(&credential.id.0)?;
    let passkey_id = enroll(
        store,
        &user,
        platform,
        "Touch ID",
        &credential,
        Some(cred_key.clone()),
        clock.now(),
    )
    .await?;
    check(
        true,
        "registration verified (packed self attestation, ES256)",
    )?;
    let mallory = UserId::new("mallory@example.com")?;
    let again = enroll(
        store,
        &mallory,
        platform,
        "copied key",
        &credential,
        Some(cred_key.clone()),
        clock.now(),
    )
    .await;
    let taken = again
        .err()
        .and_then(|e| e.downcast::<StoreError>().ok())
        .is_some_and(|e| matches!(*e, StoreError::LookupKeyTaken));
    check(
        taken,
        "the same credential id cannot be registered again, by anyone",
    )?;
    let found = store.factor_by_lookup_key(&cred_key, None).await?;
    check(
        found.is_some_and(|f| f.value.user == user && f.value.id == passkey_id),
        "a usernameless sign-in finds Alice's passkey by its credential id",
    )?;

    println!("4. She saves recovery codes: shown once, stored only as keyed hashes");
    let keys = Keyring::new(
        KeyId::new("pepper-2026")?,
        SecretBytes::generate(32, &mut OsRandom)?,
    )?;
    let recovery = RecoveryFactor::new(keys, RecoveryConfig::default())?;
    let (codes, recovery_record) = recovery.generate(&mut OsRandom)?.into_parts();
    let [first_code, _, third_code, ..] = codes.as_slice() else {
        return Err("fewer than three recovery codes".into());
    };
    println!(
        "   {} codes, e.g. {}",
        codes.len(),
        *first_code.expose_grouped()
    );
    let recovery_id = enroll(
        store,
        &user,
        FactorKind::RecoveryCode,
        "Recovery codes",
        &recovery_record,
        None,
        clock.now(),
    )
    .await?;
    let stored = serde_json::to_string(&recovery_record)?;
    check(
        !stored.contains(first_code.expose_secret()),
        "the stored record holds no code",
    )?;

    println!("5. Next day she signs in: password, then a TOTP code");
    clock.advance(Duration::from_secs(86_400));
    let mut session = Session {
        methods: vec![password(clock.now())],
        last_activity: Some(clock.now()),
    };
    let factors = enrolled(store, &user).await?;
    let d = decide(&factors, &session, &signin, None, clock.now());
    println!("   policy: {}", describe(&d));
    check(
        matches!(d, Decision::StepUp { .. }),
        "a second factor is required",
    )?;
    // The code her phone shows (computed here from the stored record).
    let record: TotpRecord = decode(&load(store, &user, &totp_id).await?)?;
    let code = record.totp().code_at(clock.now().unix_secs())?;
    let totp = TotpFactor::default();
    let ok = verify(
        store,
        &totp,
        &user,
        &totp_id,
        &(),
        code.as_str(),
        clock.now(),
    )
    .await?;
    session.methods.push(CompletedMethod {
        method: AuthMethod::Otp,
        factor: Some(totp_id.clone()),
        at: clock.now(),
    });
    check(ok.methods == [AuthMethod::Otp], "code accepted, amr otp")?;
    check(
        ok.factor.value.last_used_at == Some(clock.now()),
        "the stored factor records its last use",
    )?;
    // An attacker replays the same code: later, and in two requests at once.
    let replay = verify(
        store,
        &totp,
        &user,
        &totp_id,
        &(),
        code.as_str(),
        clock.now(),
    )
    .await;
    check(
        replay.as_ref().is_err_and(Error::is_rejection),
        "the same code again is a replay",
    )?;
    clock.advance(Duration::from_secs(30));
    let next = record.totp().code_at(clock.now().unix_secs())?;
    let (a, b) = tokio::join!(
        verify(
            store,
            &totp,
            &user,
            &totp_id,
            &(),
            next.as_str(),
            clock.now()
        ),
        verify(
            store,
            &totp,
            &user,
            &totp_id,
            &(),
            next.as_str(),
            clock.now()
        ),
    );
    let one_each = match (&a, &b) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => rejected_as(e, RejectReason::Replay),
        _ => false,
    };
    check(
        one_each,
        "two requests with one code at once: one accepted, the other rejected as a replay",
    )?;
    let d = decide(&factors, &session, &signin, None, clock.now());
    check(matches!(d, Decision::Allow { .. }), "signed in")?;
    println!(
        "   amr for the ID token: {:?}",
        policy
            .amr(&session, &factors, clock.now())
            .iter()
            .map(AuthMethod::as_str)
            .collect::<Vec<_>>()
    );

    println!("6. A payment needs a phishing-resistant factor: step up with the passkey");
    let payment = Request {
        action: Some("payment.create".into()),
        ..Request::default()
    };
    let d = decide(&factors, &session, &payment, None, clock.now());
    println!("   policy: {}", describe(&d));
    check(
        matches!(d, Decision::StepUp { .. }),
        "TOTP is not enough for a payment",
    )?;
    let credential: mfa_webauthn::CredentialRecord =
        decode(&load(store, &user, &passkey_id).await?)?;
    let req = AuthenticationRequest {
        allow_credentials: vec![credential.descriptor()],
        ..Default::default()
    };
    // The challenge state is Alice's: kept in the store, redeemed only with her, once.
    let (options, auth_state) = rp.start_authentication(&req, clock.now(), &mut OsRandom)?;
    let handle = ChallengeId::generate(&mut OsRandom)?;
    let owner = ChallengeOwner::User(user.clone());
    let data = CODEC.encode(
        DataOwner::Challenge {
            owner: &owner,
            id: &handle,
        },
        &auth_state,
    )?;
    let expires_at = clock.now().saturating_add(Duration::from_secs(300));
    store
        .put_challenge(
            PendingChallenge::new(handle.clone(), owner.clone(), data, expires_at)
                .with_factor(passkey_id.clone()),
        )
        .await?;
    let assertion = touch_id.authenticate(&options.public_key, ORIGIN, Fault::None)?;
    let as_mallory = ChallengeOwner::User(mallory.clone());
    check(
        store
            .take_challenge(&handle, &as_mallory, clock.now())
            .await?
            .is_none(),
        "another user's session cannot redeem Alice's challenge handle",
    )?;
    let pending = store
        .take_challenge(&handle, &owner, clock.now())
        .await?
        .ok_or("challenge missing")?;
    let auth_state = CODEC.decode(
        DataOwner::Challenge {
            owner: &owner,
            id: &handle,
        },
        &pending.data,
    )?;
    let ok = verify(
        store,
        &WebAuthnFactor::new(rp.clone(), mfa_core::UserVerification::Preferred),
        &user,
        &passkey_id,
        &auth_state,
        &assertion,
        clock.now(),
    )
    .await?;
    for m in &ok.methods {
        session.methods.push(CompletedMethod {
            method: *m,
            factor: Some(passkey_id.clone()),
            at: clock.now(),
        });
    }
    check(
        store
            .take_challenge(&handle, &owner, clock.now())
            .await?
            .is_none(),
        "the challenge cannot be used twice",
    )?;
    let d = decide(&factors, &session, &payment, None, clock.now());
    check(
        matches!(d, Decision::Allow { .. }),
        "payment allowed after the passkey",
    )?;
    println!(
        "   amr now: {:?}",
        policy
            .amr(&session, &factors, clock.now())
            .iter()
            .map(AuthMethod::as_str)
            .collect::<Vec<_>>()
    );

    println!("7. She loses her phone and signs in with a recovery code (typed sloppily)");
    clock.advance(Duration::from_secs(3 * 86_400));
    let sloppy = third_code.expose_grouped().to_lowercase().replace('0', "o");
    let ok = verify(
        store,
        &recovery,
        &user,
        &recovery_id,
        &(),
        sloppy.as_str(),
        clock.now(),
    )
    .await?;
    check(ok.details.remaining == 9, "accepted; 9 codes remain")?;
    let again = verify(
        store,
        &recovery,
        &user,
        &recovery_id,
        &(),
        sloppy.as_str(),
        clock.now(),
    )
    .await;
    check(
        again.as_ref().is_err_and(Error::is_rejection),
        "a used code never works again",
    )?;
    // Every rejection counts: per factor and per user.
    let mut counts = Vec::new();
    for key in [
        FailureKey::factor(&user, &recovery_id),
        FailureKey::user(&user),
    ] {
        let f = store
            .record_failure(&key, clock.now(), policy.failure_limits().window)
            .await?;
        counts.push(f.count);
    }
    let limit = policy.failure_limits().max_consecutive;
    check(
        counts == [1, 1],
        &format!("the failed attempt is counted (lockout after {limit})"),
    )?;

    println!("8. \"Remember this device for 30 days\"");
    let generation = store.user_state(&user).await?.generation;
    // The token records what this sign-in (password + recovery code) proved.
    let mut recovered = Session {
        methods: vec![password(clock.now())],
        last_activity: Some(clock.now()),
    };
    recovered
        .methods
        .extend(ok.methods.iter().map(|m| CompletedMethod {
            method: *m,
            factor: Some(recovery_id.clone()),
            at: clock.now(),
        }));
    let at_mint = enrolled(store, &user).await?;
    let claims = policy
        .remember_device(
            &user,
            "laptop-1",
            generation.get(),
            &recovered,
            &at_mint,
            clock.now(),
        )?
        .ok_or("remembering disabled")?;
    let token = device_key.issue(&claims)?;
    store
        .remember_device(
            RememberedDevice::new(
                user.clone(),
                "laptop-1",
                generation,
                clock.now(),
                clock.now().saturating_add(Duration::from_secs(30 * 86_400)),
            )?
            .with_label("Firefox on Linux"),
        )
        .await?;
    clock.advance(Duration::from_secs(10 * 86_400));
    let password_only = Session {
        methods: vec![password(clock.now())],
        last_activity: Some(clock.now()),
    };
    let current = store.user_state(&user).await?.generation;
    // The device must still be remembered server-side for the token to count.
    let entry = store
        .remembered_device(&user, "laptop-1", clock.now())
        .await?;
    let proof = DeviceProof {
        token: &token,
        device_id: "laptop-1",
        generation: current.get(),
        stored: entry.as_ref(),
    };
    let factors = enrolled(store, &user).await?;
    let d = decide(&factors, &password_only, &signin, Some(proof), clock.now());
    println!("   policy with the token, 10 days later: {}", describe(&d));
    check(
        matches!(d, Decision::Allow { .. }),
        "no second factor asked on the remembered device",
    )?;

    println!("9. An admin resets Alice's MFA: one atomic step");
    let reset = store.reset_user(&user).await?;
    check(
        reset.factors == 3 && reset.devices == 1 && reset.failure_counters == 2,
        "3 factors, 1 device and 2 failure counters removed together",
    )?;
    let d = decide(&[], &password_only, &signin, None, clock.now());
    println!("   policy: {}", describe(&d));
    check(
        matches!(d, Decision::Enroll { .. }),
        "she must enroll again",
    )?;
    // The reset bumped her generation, which revokes every device token she holds.
    let now_gen = store.user_state(&user).await?.generation;
    let before = device_key.verify(&token, &user, "laptop-1", generation.get(), clock.now());
    let after = device_key.verify(&token, &user, "laptop-1", now_gen.get(), clock.now());
    check(
        now_gen == reset.generation && before.is_ok() && after.is_err(),
        "the old remembered-device token is revoked",
    )?;
    let late = store
        .remember_device(RememberedDevice::new(
            user.clone(),
            "laptop-1",
            generation,
            clock.now(),
            clock.now().saturating_add(Duration::from_secs(86_400)),
        )?)
        .await;
    check(
        matches!(late, Err(StoreError::Conflict)),
        "a sign-in that started before the reset cannot remember its device after it",
    )?;
    check(
        store.factor_by_lookup_key(&cred_key, None).await?.is_none(),
        "her passkey's credential id is free again",
    )?;
    Ok(())
}
