//! The quickstart: one user's MFA life cycle, through every crate that has landed, on an
//! in-memory store and a clock that moves only when told.
//!
//! Run with `cargo run --example quickstart`. It prints each step and exits non-zero if
//! any step does not behave as documented.
//!
//! The story: Alice signs in and is told to enroll; she adds an authenticator app (TOTP),
//! then a platform passkey (allowed only because another factor exists), then recovery
//! codes. She signs in with a TOTP code (a replayed code is refused), steps up with her
//! passkey for a payment, loses her phone and signs in with a recovery code, asks the
//! browser to remember the device, and finally an admin resets her MFA.
//!
//! Shortcuts acceptable only because this is an example: the memory store forgets
//! everything on exit; the clock is fixed; the recovery pepper and the device-token key
//! are generated at start-up instead of coming from a secret store; the passkey is the
//! WebAuthn crate's software authenticator instead of a browser; and the code Alice
//! "types" is computed from her TOTP record in place of her phone.

use std::process::ExitCode;
use std::time::Duration;

use mfa_core::store::{
    ChallengeId, ChallengeStore, DeviceStore, FactorRecord, FactorStore, FailureKey, FailureStore,
    PendingChallenge, RememberedDevice, StoreError, Versioned,
};
use mfa_core::{
    AuthMethod, Clock, Factor, FactorId, FactorKind, FixedClock, OsRandom, SecretBytes, Timestamp,
    UserId, Verified,
};
use mfa_otp::{TotpFactor, TotpParams, TotpRecord};
use mfa_policy::device::{DeviceProof, DeviceTokenKey};
use mfa_policy::input::{CompletedMethod, EnrolledFactor, Request, Session, Subject};
use mfa_policy::{Decision, Input, Policy};
use mfa_recovery::{KeyId, Keyring, RecoveryCodes, RecoveryConfig};
use mfa_store::MemoryStore;
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
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

/// The service's core loop, layer 1 + layer 2: decode the stored record, verify purely,
/// then write the updated record with a compare-and-swap on the version that was read.
/// A lost race is a replay: rejected, never retried.
async fn verify_and_store<F: Factor>(
    store: &MemoryStore,
    factor: &F,
    stored: &Versioned<FactorRecord>,
    state: &F::State,
    response: &F::Response,
    now: Timestamp,
) -> Step<Verified<F::Record, F::Details>>
where
    F::Error: 'static,
{
    let record: F::Record = serde_json::from_slice(&stored.value.data)?;
    let verified = factor
        .verify(&record, state, response, now, &mut OsRandom)
        .map_err(|e| Box::new(e.into()) as Box<dyn std::error::Error>)?;
    let mut updated = stored.value.clone();
    updated.data = serde_json::to_vec(&verified.record)?;
    updated.last_used_at = Some(now);
    updated.confirmed = true;
    store
        .update_factor_if_version(updated, stored.version)
        .await?;
    Ok(verified)
}

async fn enroll<R: Serialize>(
    store: &MemoryStore,
    user: &UserId,
    kind: FactorKind,
    label: &str,
    record: &R,
    now: Timestamp,
) -> Step<FactorId> {
    let id = FactorId::generate(&mut OsRandom)?;
    store
        .insert_factor(FactorRecord {
            id: id.clone(),
            user: user.clone(),
            kind,
            label: label.into(),
            confirmed: true,
            created_at: now,
            last_used_at: None,
            data: serde_json::to_vec(record)?,
        })
        .await?;
    Ok(id)
}

async fn load(store: &MemoryStore, user: &UserId, id: &FactorId) -> Step<Versioned<FactorRecord>> {
    Ok(store.factor(user, id).await?.ok_or("factor vanished")?)
}

fn decode<R: DeserializeOwned>(stored: &Versioned<FactorRecord>) -> Step<R> {
    Ok(serde_json::from_slice(&stored.value.data)?)
}

async fn enrolled(store: &MemoryStore, user: &UserId) -> Step<Vec<EnrolledFactor>> {
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
async fn run() -> Step {
    let clock = FixedClock::new(Timestamp::from_unix_secs(1_700_000_000));
    let store = MemoryStore::new();
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
        .check_enroll(&enrolled(&store, &user).await?, kind)
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
        &store,
        &user,
        kind,
        "Authenticator app",
        &confirmed.record,
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
        .check_enroll(&enrolled(&store, &user).await?, platform)
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
    let kind = FactorKind::WebAuthn {
        attachment: Some(mfa_core::Attachment::Platform),
    };
    let passkey_id = enroll(&store, &user, kind, "Touch ID", &credential, clock.now()).await?;
    check(
        true,
        "registration verified (packed self attestation, ES256)",
    )?;

    println!("4. She saves recovery codes: shown once, stored only as keyed hashes");
    let keys = Keyring::new(
        KeyId::new("pepper-2026")?,
        SecretBytes::generate(32, &mut OsRandom)?,
    )?;
    let recovery = RecoveryCodes::new(keys, RecoveryConfig::default())?;
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
        &store,
        &user,
        FactorKind::RecoveryCode,
        "Recovery codes",
        &recovery_record,
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
    let factors = enrolled(&store, &user).await?;
    let d = decide(&factors, &session, &signin, None, clock.now());
    println!("   policy: {}", describe(&d));
    check(
        matches!(d, Decision::StepUp { .. }),
        "a second factor is required",
    )?;
    let stored_totp = load(&store, &user, &totp_id).await?;
    let record: TotpRecord = decode(&stored_totp)?;
    let code = record.totp().code_at(clock.now().unix_secs())?;
    let ok = verify_and_store(
        &store,
        &TotpFactor::default(),
        &stored_totp,
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
    // An attacker replays the same code: against the new record, and racing the old one.
    let replay = verify_and_store(
        &store,
        &TotpFactor::default(),
        &load(&store, &user, &totp_id).await?,
        &(),
        code.as_str(),
        clock.now(),
    )
    .await;
    check(replay.is_err(), "the same code again is a replay")?;
    let racing = verify_and_store(
        &store,
        &TotpFactor::default(),
        &stored_totp,
        &(),
        code.as_str(),
        clock.now(),
    )
    .await;
    let lost = racing
        .err()
        .and_then(|e| e.downcast::<StoreError>().ok())
        .is_some_and(|e| matches!(*e, StoreError::Conflict));
    check(
        lost,
        "a request racing with the old version loses the compare-and-swap",
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
    let stored_key = load(&store, &user, &passkey_id).await?;
    let credential: mfa_webauthn::CredentialRecord = decode(&stored_key)?;
    let req = AuthenticationRequest {
        allow_credentials: vec![credential.descriptor()],
        ..Default::default()
    };
    // The challenge state is single use: kept in the store, taken once.
    let (options, auth_state) = rp.start_authentication(&req, clock.now(), &mut OsRandom)?;
    let handle = ChallengeId::generate(&mut OsRandom)?;
    store
        .put_challenge(PendingChallenge {
            id: handle.clone(),
            user: user.clone(),
            factor: Some(passkey_id.clone()),
            data: serde_json::to_vec(&auth_state)?,
            expires_at: clock.now().saturating_add(Duration::from_secs(300)),
        })
        .await?;
    let assertion = touch_id.authenticate(&options.public_key, ORIGIN, Fault::None)?;
    let pending = store
        .take_challenge(&handle, clock.now())
        .await?
        .ok_or("challenge missing")?;
    let auth_state = serde_json::from_slice(&pending.data)?;
    let ok = verify_and_store(
        &store,
        &WebAuthnFactor::new(rp.clone(), mfa_core::UserVerification::Preferred),
        &stored_key,
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
        store.take_challenge(&handle, clock.now()).await?.is_none(),
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
    let stored_rec = load(&store, &user, &recovery_id).await?;
    let ok = verify_and_store(
        &store,
        &recovery,
        &stored_rec,
        &(),
        sloppy.as_str(),
        clock.now(),
    )
    .await?;
    check(ok.details.remaining == 9, "accepted; 9 codes remain")?;
    let again = verify_and_store(
        &store,
        &recovery,
        &load(&store, &user, &recovery_id).await?,
        &(),
        sloppy.as_str(),
        clock.now(),
    )
    .await;
    check(again.is_err(), "a used code never works again")?;
    let key = FailureKey {
        user: user.clone(),
        factor: Some(recovery_id.clone()),
    };
    let failures = store
        .record_failure(&key, clock.now(), policy.failure_limits().window)
        .await?;
    let limit = policy.failure_limits().max_consecutive;
    check(
        failures.count == 1,
        &format!("the failed attempt is counted (lockout after {limit})"),
    )?;

    println!("8. \"Remember this device for 30 days\"");
    let generation = 0;
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
    let at_mint = enrolled(&store, &user).await?;
    let claims = policy
        .remember_device(
            &user,
            "laptop-1",
            generation,
            &recovered,
            &at_mint,
            clock.now(),
        )?
        .ok_or("remembering disabled")?;
    let token = device_key.issue(&claims)?;
    store
        .remember_device(RememberedDevice {
            user: user.clone(),
            device_id: "laptop-1".into(),
            label: "Firefox on Linux".into(),
            created_at: clock.now(),
            expires_at: clock.now().saturating_add(Duration::from_secs(30 * 86_400)),
        })
        .await?;
    clock.advance(Duration::from_secs(10 * 86_400));
    let password_only = Session {
        methods: vec![password(clock.now())],
        last_activity: Some(clock.now()),
    };
    // The device must still be remembered server-side for the token to count.
    let entry = store
        .remembered_device(&user, "laptop-1", clock.now())
        .await?;
    let proof = DeviceProof {
        token: &token,
        device_id: "laptop-1",
        generation,
        stored: entry.as_ref(),
    };
    let factors = enrolled(&store, &user).await?;
    let d = decide(&factors, &password_only, &signin, Some(proof), clock.now());
    println!("   policy with the token, 10 days later: {}", describe(&d));
    check(
        matches!(d, Decision::Allow { .. }),
        "no second factor asked on the remembered device",
    )?;

    println!("9. An admin resets Alice's MFA");
    let removed = store.remove_all_factors(&user).await?;
    let forgotten = store.forget_all_devices(&user).await?;
    check(
        removed == 3 && forgotten == 1,
        "3 factors removed, 1 device forgotten",
    )?;
    let d = decide(&[], &password_only, &signin, None, clock.now());
    println!("   policy: {}", describe(&d));
    check(
        matches!(d, Decision::Enroll { .. }),
        "she must enroll again",
    )?;
    // Bumping her generation (stored by the service) revokes every device token she holds.
    let before = device_key.verify(&token, &user, "laptop-1", generation, clock.now());
    let after = device_key.verify(&token, &user, "laptop-1", generation + 1, clock.now());
    check(
        before.is_ok() && after.is_err(),
        "the old remembered-device token is revoked",
    )?;
    Ok(())
}
