//! The lockout against a patient attacker (issue 19): the account's consecutive failures
//! over all factors are counted without any window, so waiting out every per-factor
//! lockout for weeks gains nothing; a lockout longer than the counting window lasts as
//! long as it says; a usernameless sign-in that fails moves only the credential's count;
//! the purge of lapsed counters. Every time limit is tested with a clock moved over days.

use std::net::IpAddr;
use std::time::Duration;

use crate::common::{ORIGIN, harness, harness_oob, keys, oob_config, password};
use mfa::audit::EventKind;
use mfa::otp::{Secret, TotpParams, TotpRecord};
use mfa::policy::input::Session;
use mfa::webauthn::cose::Algorithm;
use mfa::webauthn::testkit::{Fault, SoftAuthenticator};
use mfa::{Challenge, Error, OtpEnrollment, Response};
use mfa_core::store::{FailureKey, FailureStore, NEVER_LAPSES};
use mfa_core::{Clock, FactorId, OsRandom, StartOptions, UserId};
use mfa_store::MemoryStore;

const DAY: Duration = Duration::from_secs(86_400);

fn code(e: &OtpEnrollment, at: u64) -> String {
    let secret = Secret::from_base32(&e.secret_base32).unwrap();
    TotpRecord::new(secret, TotpParams::default())
        .totp()
        .code_at(at)
        .unwrap()
        .as_str()
        .to_owned()
}

async fn totp<S: mfa_core::store::Store>(
    h: &crate::common::Harness<S>,
    user: &UserId,
) -> OtpEnrollment {
    let now = h.clock.now();
    let e = h
        .service
        .start_totp_enrollment(user, "phone", &password(now))
        .await
        .unwrap();
    h.service
        .finish_enrollment(
            user,
            &e.factor_id,
            &code(&e, now.unix_secs()),
            &Session::default(),
        )
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(30));
    e
}

async fn wrong<S: mfa_core::store::Store>(
    h: &crate::common::Harness<S>,
    user: &UserId,
    factor: &FactorId,
) -> Error {
    h.service
        .verify(
            user,
            factor,
            Response::Code("000000"),
            &password(h.clock.now()),
        )
        .await
        .unwrap_err()
}

async fn right<S: mfa_core::store::Store>(
    h: &crate::common::Harness<S>,
    user: &UserId,
    e: &OtpEnrollment,
) -> Result<mfa::Verification, Error> {
    let now = h.clock.now();
    h.service
        .verify(
            user,
            &e.factor_id,
            Response::Code(&code(e, now.unix_secs())),
            &password(now),
        )
        .await
}

/// The attacker holds the password and waits out every factor lockout; on today's
/// default policy (5 failures lock a factor for 15 minutes) the old windowed counts let
/// 480 guesses a day through forever. Now at most the account limit (15) are ever
/// checked, and even weeks later the right code is refused until an operator unlocks.
#[tokio::test]
async fn a_patient_attacker_gets_no_more_than_the_account_limit_of_guesses() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let e = totp(&h, &alice).await;
    let limit = h
        .service
        .admin()
        .lockout_status(&alice)
        .await
        .unwrap()
        .user_limit;
    assert_eq!(limit, 15, "three times the policy's max_consecutive");
    let mut checked = 0;
    let mut account_locked = false;
    for _round in 0..100 {
        for _ in 0..5 {
            match wrong(&h, &alice, &e.factor_id).await {
                Error::Core(err) if err.is_rejection() => checked += 1,
                Error::Locked { .. } | Error::Backoff { .. } => {}
                Error::AccountLocked => account_locked = true,
                other => panic!("{other:?}"),
            }
        }
        // Wait out the factor's lockout and its counting window, and then some.
        h.clock.advance(Duration::from_secs(3_600));
    }
    assert!(account_locked);
    assert_eq!(checked, limit, "every checked guess counts on the account");
    // Thirty days on, the right code is still refused, unverified.
    h.clock.advance(30 * DAY);
    let err = right(&h, &alice, &e).await.unwrap_err();
    assert!(matches!(err, Error::AccountLocked), "{err:?}");
    let status = h.service.admin().lockout_status(&alice).await.unwrap();
    assert!(status.account_locked);
    assert_eq!(status.user_failures, limit);
    // Reaching the limit was audited once, and the user was told.
    let events = h.audit.events();
    let locked: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.event, EventKind::AccountLocked { .. }))
        .collect();
    assert_eq!(locked.len(), 1, "{events:?}");
    // The way back: the operator's unlock; then the right code works and a success
    // clears the count.
    h.service.admin().unlock(&alice, None).await.unwrap();
    let status = h.service.admin().lockout_status(&alice).await.unwrap();
    assert!(!status.account_locked);
    right(&h, &alice, &e).await.unwrap();
    assert_eq!(
        h.service
            .admin()
            .lockout_status(&alice)
            .await
            .unwrap()
            .user_failures,
        0
    );
}

/// Only a success or the operator clears the account's count: failures spread over
/// two factors and over months add up, and a success on either factor clears them.
#[tokio::test]
async fn the_account_count_spans_factors_and_months_and_a_success_clears_it() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let phone = totp(&h, &alice).await;
    let aal2 = right(&h, &alice, &phone).await.unwrap().session;
    let now = h.clock.now();
    let token = h
        .service
        .start_totp_enrollment(&alice, "tablet", &aal2)
        .await
        .unwrap();
    h.service
        .finish_enrollment(
            &alice,
            &token.factor_id,
            &code(&token, now.unix_secs()),
            &Session::default(),
        )
        .await
        .unwrap();
    for factor in [&phone.factor_id, &token.factor_id] {
        for _ in 0..4 {
            assert!(wrong(&h, &alice, factor).await.is_rejection());
            h.clock.advance(10 * DAY);
        }
    }
    let status = h.service.admin().lockout_status(&alice).await.unwrap();
    assert_eq!(status.user_failures, 8, "80 days and two factors later");
    h.clock.advance(Duration::from_secs(30));
    right(&h, &alice, &token).await.unwrap();
    assert_eq!(
        h.service
            .admin()
            .lockout_status(&alice)
            .await
            .unwrap()
            .user_failures,
        0
    );
}

/// A `failures.lockout` longer than `failures.window` is honoured: the count is kept
/// over the lockout, so waiting out the window does not end it.
#[tokio::test]
async fn a_lockout_longer_than_the_window_lasts_as_long_as_it_says() {
    let policy = r#"
version = 1
mode = "always"

[failures]
max_consecutive = 5
backoff_after = 0
window = "15m"
lockout = "2h"
"#;
    let h = harness_oob(MemoryStore::new(), keys("k1"), oob_config(), policy);
    let alice = UserId::new("alice").unwrap();
    let e = totp(&h, &alice).await;
    for _ in 0..5 {
        assert!(wrong(&h, &alice, &e.factor_id).await.is_rejection());
    }
    // Past the 15-minute window, inside the 2-hour lockout.
    h.clock.advance(Duration::from_secs(20 * 60));
    let err = right(&h, &alice, &e).await.unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    // That refused attempt extended the lockout from itself; two hours after it, open.
    h.clock.advance(Duration::from_secs(2 * 3_600 + 1));
    right(&h, &alice, &e).await.unwrap();
}

/// Alice with a TOTP factor and a passkey registered under her AAL2 session.
async fn with_passkey<S: mfa_core::store::Store>(
    h: &crate::common::Harness<S>,
    alice: &UserId,
) -> (OtpEnrollment, SoftAuthenticator) {
    let e = totp(h, alice).await;
    let v = right(h, alice, &e).await.unwrap();
    let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let (cid, options) = h
        .service
        .start_webauthn_registration(alice, "passkey", None, &v.session)
        .await
        .unwrap();
    let reg = key.register(&options, ORIGIN, Fault::None).unwrap();
    h.service
        .finish_webauthn_registration(alice, &cid, &reg)
        .await
        .unwrap();
    (e, key)
}

/// A usernameless sign-in answered by `key` (with `fault`) from `ip`.
async fn passkey_signin<S: mfa_core::store::Store>(
    h: &crate::common::Harness<S>,
    key: &mut SoftAuthenticator,
    fault: Fault,
    ip: Option<IpAddr>,
) -> Result<mfa::Verification, Error> {
    let Challenge::WebAuthn {
        challenge_id,
        options,
        ..
    } = h
        .service
        .start_passkey_signin(&StartOptions::new())
        .await
        .unwrap()
    else {
        panic!("a WebAuthn challenge");
    };
    let assertion = key
        .authenticate(&options.public_key, ORIGIN, fault)
        .unwrap();
    h.service
        .finish_passkey_signin(&challenge_id, &assertion, &Session::default(), ip)
        .await
}

/// An attacker who knows only a credential id (an `allowCredentials` list publishes
/// it) sends forged usernameless assertions: the owner's account and factors stay
/// open, the forger's client is paced, and the owner's passkey still signs in from
/// elsewhere.
#[tokio::test]
async fn forged_usernameless_assertions_do_not_lock_the_owner_out() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (e, mut key) = with_passkey(&h, &alice).await;
    let attacker: IpAddr = "203.0.113.9".parse().unwrap();
    let owner: IpAddr = "198.51.100.4".parse().unwrap();
    let paced = |r: &Result<mfa::Verification, Error>| match r {
        Err(Error::Locked { .. } | Error::Backoff { .. }) => true,
        Err(err) if err.is_rejection() => false,
        other => panic!("{other:?}"),
    };
    let mut forged = 0;
    for _ in 0..30 {
        let r = passkey_signin(&h, &mut key, Fault::BadSignature, Some(attacker)).await;
        forged += usize::from(paced(&r));
    }
    assert!(
        forged >= 25,
        "the forger is paced after a few tries: {forged}"
    );
    let status = h.service.admin().lockout_status(&alice).await.unwrap();
    assert_eq!(status.user_failures, 0, "the account's count never moved");
    assert!(status.factors.iter().all(|f| f.failures == 0), "{status:?}");
    // The owner signs in with the passkey from their own network, and with TOTP.
    let v = passkey_signin(&h, &mut key, Fault::None, Some(owner))
        .await
        .unwrap();
    assert_eq!(v.user, alice);
    h.clock.advance(Duration::from_secs(30));
    right(&h, &alice, &e).await.unwrap();
    // Unknown credential ids are paced per id and client too: five rejections, then
    // refusals.
    let mut stranger = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let (_, options) = h
        .service
        .start_webauthn_registration(&alice, "never finished", None, &v.session)
        .await
        .unwrap();
    stranger.register(&options, ORIGIN, Fault::None).unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..8 {
        let r = passkey_signin(&h, &mut stranger, Fault::None, Some(attacker)).await;
        outcomes.push(paced(&r));
    }
    assert_eq!(outcomes.iter().filter(|p| **p).count(), 3, "{outcomes:?}");
}

/// A locked account refuses the usernameless passkey too (read, not counted).
#[tokio::test]
async fn a_locked_account_refuses_usernameless_sign_in_too() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (e, mut key) = with_passkey(&h, &alice).await;
    while !matches!(wrong(&h, &alice, &e.factor_id).await, Error::AccountLocked) {
        h.clock.advance(Duration::from_secs(3_600));
    }
    let err = passkey_signin(&h, &mut key, Fault::None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AccountLocked), "{err:?}");
}

/// Counters for factor ids a caller invents are purged once they lapse; the account's
/// consecutive-failure count never is.
#[tokio::test]
async fn purging_removes_invented_ids_but_never_the_account_count() {
    let h = harness(MemoryStore::new());
    let store = h.service.store();
    let alice = UserId::new("alice").unwrap();
    let e = totp(&h, &alice).await;
    for i in 0..3 {
        let invented = FactorId::new(format!("nope-{i}")).unwrap();
        assert!(wrong(&h, &alice, &invented).await.is_rejection());
    }
    assert!(wrong(&h, &alice, &e.factor_id).await.is_rejection());
    let now = h.clock.now();
    let window = h.service.policy().failure_limits().counting_window();
    assert_eq!(
        h.service.admin().purge_failures().await.unwrap(),
        0,
        "nothing lapsed yet"
    );
    h.clock.advance(window + Duration::from_secs(1));
    assert_eq!(
        h.service.admin().purge_failures().await.unwrap(),
        4,
        "the three invented factors' counters and the real one's"
    );
    for i in 0..3 {
        let key = FailureKey::factor(&alice, &FactorId::new(format!("nope-{i}")).unwrap());
        assert_eq!(store.failures(&key, now, NEVER_LAPSES).await.unwrap(), None);
    }
    let account = store
        .failures(&FailureKey::user(&alice), now, NEVER_LAPSES)
        .await
        .unwrap();
    assert_eq!(account.map(|f| f.count), Some(4));
}
