//! The quickstart: one user's MFA life cycle through the `mfa` service, on a store chosen
//! at run time and a clock that moves only when told.
//!
//! Run with `cargo run --example quickstart [-- --store URL]`. It prints each step and
//! exits non-zero if any step does not behave as documented. The store is chosen at run
//! time from a URL through `mfa_store::AnyStore` (`memory://`, the default; also
//! `sqlite://PATH`; an unknown scheme is a typed error).
//!
//! The story: Alice signs in and is told to enroll; she adds an authenticator app (TOTP),
//! then a platform passkey (allowed only because another factor exists), then recovery
//! codes. She signs in with a TOTP code (a replayed code is refused), steps up with her
//! passkey for a payment, loses her phone and signs in with a recovery code, asks the
//! browser to remember the device, and finally an admin resets her MFA in one atomic
//! step, which also revokes the remembered device.
//!
//! The service owns the loop the caller used to write: sealing records, two-phase
//! enrollment, the lockout gate and failure counters, load / verify / compare-and-swap
//! (a lost race is a replay), challenge storage, device tokens.
//!
//! Shortcuts acceptable only because this is an example: the clock is fixed; the data
//! key, recovery pepper and device-token key are generated at start-up instead of coming
//! from a secret store; the passkey is the WebAuthn crate's software authenticator
//! instead of a browser; and the code Alice "types" is computed from the enrollment's
//! secret in place of her phone.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mfa::core::store::{FailureKey, FailureStore};
use mfa::core::{
    Attachment, AuthMethod, Clock, FixedClock, OsRandom, SecretBytes, StartOptions, Timestamp,
    UserId, UserVerification,
};
use mfa::otp::{Secret, TotpParams, TotpRecord};
use mfa::policy::device::DeviceTokenKey;
use mfa::policy::input::{Request, Session, Subject};
use mfa::policy::{Decision, Policy};
use mfa::recovery::{KeyId, Keyring, RecoveryConfig};
use mfa::webauthn::RelyingParty;
use mfa::webauthn::cose::Algorithm;
use mfa::webauthn::testkit::{Fault, SoftAuthenticator};
use mfa::{Challenge, Error, KeySet, Response, Service};
use mfa_store::AnyStore;

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
    match run(store).await {
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

/// What the caller's login already proved: the password, just now.
fn password_session(now: Timestamp) -> Session {
    Session::primary(AuthMethod::Pwd, now)
}

#[allow(clippy::too_many_lines, reason = "one linear story, step by step")]
async fn run(store: AnyStore) -> Step {
    // Build the service once at start-up; it owns the clock it reads.
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let device_key = DeviceTokenKey::new(SecretBytes::generate(32, &mut OsRandom)?)?;
    let rp = RelyingParty::builder("bank.example", "Bank Example")
        .origin(ORIGIN)
        .build()?;
    let pepper = Keyring::new(
        KeyId::new("pepper-2026")?,
        SecretBytes::generate(32, &mut OsRandom)?,
    )?;
    let service = Service::builder(
        store,
        Policy::from_toml(POLICY)?.with_device_key(device_key),
        KeySet::generate("data-2026", &mut OsRandom)?,
    )
    .recovery(pepper, RecoveryConfig::default())
    .relying_party(rp, UserVerification::Preferred)
    .issuer("Bank Example")
    .shared_clock(clock.clone())
    .build()?;
    let user = UserId::new("alice@example.com")?;
    let subject = Subject::default();
    let signin = Request {
        action: Some("signin".into()),
        ..Request::default()
    };

    println!("1. Alice signs in with her password; she has no second factor yet");
    let mut session = password_session(clock.now());
    let d = service
        .evaluate(&user, &subject, &session, &signin, None)
        .await?;
    println!("   policy: {}", describe(&d));
    check(
        matches!(d, Decision::Enroll { .. }),
        "policy mode \"always\" asks her to enroll",
    )?;

    println!("2. She enrolls an authenticator app (TOTP)");
    let totp = service
        .start_totp_enrollment(&user, "Authenticator app", &session)
        .await?;
    println!("   QR code content: {}…", totp.uri.get(..40).unwrap_or(""));
    // Her phone, from the scanned secret.
    let phone = TotpRecord::new(
        Secret::from_base32(&totp.secret_base32)?,
        TotpParams::default(),
    );
    let first = phone.totp().code_at(clock.now().unix_secs())?;
    let confirmed = service
        .finish_enrollment(&user, &totp.factor_id, first.as_str(), &session)
        .await?;
    check(
        confirmed.factor.confirmed,
        "first code confirmed; only now can the factor sign in",
    )?;
    // The first code proved the app too: the session `finish_enrollment` returns holds it (AAL2,
    // needed to add more factors), as a verification's does.
    session = confirmed.session;

    println!(
        "3. She adds Touch ID (a platform passkey): allowed only because another factor exists"
    );
    let bob = UserId::new("bob@example.com")?;
    let first_factor = service
        .start_webauthn_registration(
            &bob,
            "Touch ID",
            Some(Attachment::Platform),
            &password_session(clock.now()),
        )
        .await;
    check(
        matches!(first_factor, Err(Error::Enroll(_))),
        "refused as the first factor",
    )?;
    let mut touch_id = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom)?;
    let (reg_id, options) = service
        .start_webauthn_registration(&user, "Touch ID", Some(Attachment::Platform), &session)
        .await?;
    let response = touch_id.register(&options, ORIGIN, Fault::None)?;
    let passkey = service
        .finish_webauthn_registration(&user, &reg_id, &response)
        .await?;
    check(
        passkey.kind.is_webauthn(),
        "registration verified (packed self attestation, ES256)",
    )?;
    let again = service
        .finish_webauthn_registration(&user, &reg_id, &response)
        .await;
    check(
        again.as_ref().is_err_and(Error::is_rejection),
        "the registration challenge cannot be used twice",
    )?;

    let Challenge::WebAuthn {
        challenge_id,
        options,
        ..
    } = service
        .start_passkey_signin(&StartOptions::default())
        .await?
    else {
        return Err("a passkey sign-in is a WebAuthn challenge".into());
    };
    let assertion = touch_id.authenticate(&options.public_key, ORIGIN, Fault::None)?;
    let found = service
        .finish_passkey_signin(&challenge_id, &assertion, &Session::default(), None)
        .await?;
    check(
        found.user == user && found.factor.id == passkey.id,
        "a usernameless sign-in finds Alice's passkey by its credential id",
    )?;

    println!("4. She saves recovery codes: shown once, stored only as keyed hashes");
    let recovery = service.start_recovery_enrollment(&user, &session).await?;
    let [first_code, _, third_code, ..] = recovery.codes.as_slice() else {
        return Err("fewer than three recovery codes".into());
    };
    println!(
        "   {} codes, e.g. {}",
        recovery.codes.len(),
        *first_code.expose_grouped()
    );
    let saved = service
        .finish_recovery_enrollment(&user, &recovery.factor_id)
        .await?;
    check(
        saved.confirmed && saved.remaining_codes == Some(10),
        "she confirms she saved them; 10 codes active",
    )?;
    let factors = service.list_factors(&user).await?;
    check(
        factors.len() == 3 && factors.iter().all(|f| f.confirmed),
        "three factors listed, never a secret",
    )?;

    println!("5. Next day she signs in: password, then a TOTP code");
    clock.advance(Duration::from_secs(86_400));
    let session = password_session(clock.now());
    let d = service
        .evaluate(&user, &subject, &session, &signin, None)
        .await?;
    println!("   policy: {}", describe(&d));
    check(
        matches!(d, Decision::StepUp { .. }),
        "a second factor is required",
    )?;
    let code = phone.totp().code_at(clock.now().unix_secs())?;
    let ok = service
        .verify(
            &user,
            &totp.factor_id,
            Response::Code(code.as_str()),
            &session,
        )
        .await?;
    check(ok.methods == [AuthMethod::Otp], "code accepted, amr otp")?;
    check(
        ok.factor.last_used_at == Some(clock.now()),
        "the stored factor records its last use",
    )?;
    let session = ok.session;
    // An attacker replays the same code: later, and in two requests at once.
    let replay = service
        .verify(
            &user,
            &totp.factor_id,
            Response::Code(code.as_str()),
            &session,
        )
        .await;
    check(
        replay.as_ref().is_err_and(Error::is_rejection),
        "the same code again is a replay",
    )?;
    clock.advance(Duration::from_secs(30));
    let next = phone.totp().code_at(clock.now().unix_secs())?;
    let answer = Response::Code(next.as_str());
    let (a, b) = tokio::join!(
        service.verify(&user, &totp.factor_id, answer, &session),
        service.verify(&user, &totp.factor_id, answer, &session),
    );
    check(
        a.is_ok() != b.is_ok(),
        "two requests with one code at once: one accepted, the other rejected",
    )?;
    let d = service
        .evaluate(&user, &subject, &session, &signin, None)
        .await?;
    check(matches!(d, Decision::Allow { .. }), "signed in")?;
    println!("   amr for the ID token: {:?}", ok.amr.to_strings());

    println!("6. A payment needs a phishing-resistant factor: step up with the passkey");
    let payment = Request {
        action: Some("payment.create".into()),
        ..Request::default()
    };
    let d = service
        .evaluate(&user, &subject, &session, &payment, None)
        .await?;
    println!("   policy: {}", describe(&d));
    check(
        matches!(d, Decision::StepUp { .. }),
        "TOTP is not enough for a payment",
    )?;
    let preferred = service.preferred_factor(&user, &d).await?;
    check(
        preferred.as_ref().is_some_and(|f| f.id == passkey.id),
        "the service picks her passkey to challenge",
    )?;
    // The challenge state is sealed in the store, redeemable only with her, once.
    let Challenge::WebAuthn {
        challenge_id,
        options,
        ..
    } = service
        .start_challenge(&user, &passkey.id, &StartOptions::default())
        .await?
    else {
        return Err("a passkey challenge is a WebAuthn challenge".into());
    };
    let assertion = touch_id.authenticate(&options.public_key, ORIGIN, Fault::None)?;
    let answer = Response::WebAuthn {
        challenge_id: &challenge_id,
        response: &assertion,
    };
    let mallory = UserId::new("mallory@example.com")?;
    let stolen = service
        .verify(
            &mallory,
            &passkey.id,
            answer,
            &password_session(clock.now()),
        )
        .await;
    check(
        stolen.as_ref().is_err_and(Error::is_rejection),
        "another user's session cannot redeem Alice's challenge",
    )?;
    let ok = service.verify(&user, &passkey.id, answer, &session).await?;
    let session = ok.session;
    let twice = service.verify(&user, &passkey.id, answer, &session).await;
    check(
        twice.as_ref().is_err_and(Error::is_rejection),
        "the challenge cannot be used twice",
    )?;
    let d = service
        .evaluate(&user, &subject, &session, &payment, None)
        .await?;
    check(
        matches!(d, Decision::Allow { .. }),
        "payment allowed after the passkey",
    )?;
    println!("   amr now: {:?}", ok.amr.to_strings());

    println!("7. She loses her phone and signs in with a recovery code (typed sloppily)");
    clock.advance(Duration::from_secs(3 * 86_400));
    let session = password_session(clock.now());
    let sloppy = third_code.expose_grouped().to_lowercase().replace('0', "o");
    let ok = service
        .verify(
            &user,
            &recovery.factor_id,
            Response::Code(sloppy.as_str()),
            &session,
        )
        .await?;
    check(
        ok.recovery.as_ref().is_some_and(|r| r.remaining == 9),
        "accepted; 9 codes remain",
    )?;
    let recovered = ok.session;
    let again = service
        .verify(
            &user,
            &recovery.factor_id,
            Response::Code(sloppy.as_str()),
            &recovered,
        )
        .await;
    check(
        again.as_ref().is_err_and(Error::is_rejection),
        "a used code never works again",
    )?;
    // Lower-level on purpose: the service counts every failure (per factor and per
    // user) but has no call that reads a counter back, so the example asks the store.
    let limits = service.policy().failure_limits();
    let counted = service
        .store()
        .failures(
            &FailureKey::factor(&user, &recovery.factor_id),
            clock.now(),
            limits.window,
        )
        .await?;
    check(
        counted.is_some_and(|f| f.count == 1),
        &format!(
            "the failed attempt is counted (lockout after {})",
            limits.max_consecutive
        ),
    )?;

    println!("8. \"Remember this device for 30 days\"");
    // The token records what this sign-in (password + recovery code) proved.
    let laptop = service
        .remember_device(&user, &recovered, "laptop-1", "Firefox on Linux")
        .await?;
    let desktop = service
        .remember_device(&user, &recovered, "desktop-1", "Chrome at the office")
        .await?;
    clock.advance(Duration::from_secs(10 * 86_400));
    let password_only = password_session(clock.now());
    let d = service
        .evaluate(
            &user,
            &subject,
            &password_only,
            &signin,
            Some(mfa::DeviceCookie::new(&laptop, "laptop-1")),
        )
        .await?;
    println!("   policy with the token, 10 days later: {}", describe(&d));
    check(
        matches!(d, Decision::Allow { .. }),
        "no second factor asked on the remembered device",
    )?;
    check(
        service.forget_device(&user, "desktop-1").await?,
        "she forgets the office desktop from her device list",
    )?;
    let d = service
        .evaluate(
            &user,
            &subject,
            &password_only,
            &signin,
            Some(mfa::DeviceCookie::new(&desktop, "desktop-1")),
        )
        .await?;
    check(
        matches!(d, Decision::StepUp { .. })
            && service
                .check_device(&user, "desktop-1", &desktop)
                .await?
                .is_none(),
        "the forgotten device's token is refused, though its signature is valid",
    )?;
    check(
        service.list_devices(&user).await?.len() == 1,
        "one remembered device left",
    )?;

    println!("9. An admin resets Alice's MFA: one atomic step");
    let reset = service.admin().reset_user(&user).await?;
    check(
        reset.factors == 3 && reset.devices == 1,
        "3 factors and 1 device removed together",
    )?;
    check(
        service.list_factors(&user).await?.is_empty(),
        "her factor list is empty",
    )?;
    let d = service
        .evaluate(
            &user,
            &subject,
            &password_only,
            &signin,
            Some(mfa::DeviceCookie::new(&laptop, "laptop-1")),
        )
        .await?;
    println!("   policy: {}", describe(&d));
    check(
        matches!(d, Decision::Enroll { .. }),
        "she must enroll again",
    )?;
    // The reset bumped her generation, which revokes every device token she holds.
    check(
        service
            .check_device(&user, "laptop-1", &laptop)
            .await?
            .is_none(),
        "the old remembered-device token is revoked",
    )?;
    let late = service
        .remember_device(&user, &recovered, "laptop-1", "Firefox on Linux")
        .await;
    check(
        matches!(late, Err(Error::DeviceToken(_))),
        "her pre-reset session proves no factor she still has: it cannot remember a device",
    )?;
    Ok(())
}
