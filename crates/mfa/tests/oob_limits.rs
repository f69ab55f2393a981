//! Issue 19: what one caller can do to another's sends and pushes. Internal counters
//! that a factor id cannot reach, nothing sent to a locked factor or account, push
//! fatigue that means "at most N", a push completed only by the session that asked,
//! and an SMS budget another account cannot spend. On the memory store.

use std::time::Duration;

use mfa::oob::{LimitError, PushConfig, PushStatus, SendLimits};
use mfa::{Challenge, Error, Response};
use mfa_core::store::{ChallengeId, Store};
use mfa_core::{Clock, FactorId, OsRandom, StartOptions, UserId};
use mfa_store::MemoryStore;

use crate::common::{
    Harness, POLICY, harness, harness_oob, keys, oob_config, password, start_push,
};
use crate::oob::{PHONE, alice_with_sms, start_code, start_sms, with_push, with_sms};

/// Failed verifications through the lockout gate naming `factor`.
async fn fail_with<S: Store>(h: &Harness<S>, user: &UserId, factor: &str, times: usize) {
    let factor = FactorId::new(factor).unwrap();
    for _ in 0..times {
        let err = h.verify_code(user, &factor, "123456").await.unwrap_err();
        assert!(err.is_rejection(), "{err:?}");
    }
}

// ---------------------------------------------------------------- item 3

/// The per-user send cap was counted under the factor id `(oob-sends)`, so ten failed
/// verifications naming that "factor" filled it and the user got no more codes.
#[tokio::test]
async fn failures_naming_oob_sends_do_not_fill_the_send_cap() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    // Ten: the default per-user cap (and below the account's limit of fifteen).
    fail_with(&h, &alice, "(oob-sends)", 10).await;
    start_sms(&h, &alice, "phone").await.unwrap();
    assert_eq!(h.sender.sent().len(), 1);
}

/// An unlock naming the factor `(oob-sends)` cleared the per-user send cap.
#[tokio::test]
async fn unlocking_oob_sends_does_not_reset_the_send_cap() {
    let limits = SendLimits::new()
        .with_allowed_country_codes([1])
        .unwrap()
        .with_hourly_caps(5, 2, 20)
        .unwrap();
    let config = oob_config().with_limits(limits);
    let h = harness_oob(MemoryStore::new(), keys("k1"), config, POLICY);
    let alice = UserId::new("alice").unwrap();
    // The enrollment and one sign-in: the two codes of the per-user cap.
    let (sms, _) = with_sms(&h, &alice, PHONE, PHONE, &password(h.clock.now())).await;
    let options = StartOptions::new();
    let start = || h.service.start_challenge(&alice, &sms, &options);
    let err = start().await.unwrap_err();
    assert!(
        matches!(err, Error::Limited(LimitError::UserCap { max: 2 })),
        "{err:?}"
    );
    h.service
        .admin()
        .unlock(&alice, Some(&FactorId::new("(oob-sends)").unwrap()))
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(31));
    let before = h.sender.sent().len();
    let err = start().await.unwrap_err();
    assert!(
        matches!(err, Error::Limited(LimitError::UserCap { max: 2 })),
        "{err:?}"
    );
    assert_eq!(h.sender.sent().len(), before);
}

/// The push-fatigue counters were the factors `(push-since-success)` and
/// `(push-pending)`: failures naming them refused the user's own pushes.
#[tokio::test]
async fn failures_naming_the_push_counters_do_not_fill_them() {
    let h = harness(MemoryStore::new());
    for (user, counter, failures) in [
        ("bob", "(push-since-success)", 6),
        ("carol", "(push-pending)", 2),
    ] {
        let user = UserId::new(user).unwrap();
        let (factor, _) = with_push(&h, &user, &password(h.clock.now())).await;
        fail_with(&h, &user, counter, failures).await;
        let before = h.transport.sent().len();
        start_push(&h, &user, &factor).await.unwrap();
        assert_eq!(h.transport.sent().len(), before + 1, "{counter}");
    }
}

// ---------------------------------------------------------------- item 5

/// A factor locked by wrong codes got new codes (start and resend) all the same.
#[tokio::test]
async fn nothing_is_sent_to_a_locked_sms_factor() {
    // Ten attempts per code, so the challenge outlives the factor's five failures.
    let (h, alice, sms, session) = alice_with_sms(10).await;
    let challenge_id = start_code(&h, &alice, &sms).await;
    let code = h.last_code_to(PHONE);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let response = Response::OobCode {
            challenge_id: &challenge_id,
            code: wrong,
        };
        assert!(
            h.service
                .verify(&alice, &sms, response, &session)
                .await
                .is_err()
        );
    }
    let status = h.service.admin().lockout_status(&alice).await.unwrap();
    assert_eq!(status.factors[0].failures, 5, "{status:?}");
    // Past the cooldown, so only the lockout can refuse.
    h.clock.advance(Duration::from_secs(31));
    let before = h.sender.sent().len();
    let err = h
        .service
        .start_challenge(&alice, &sms, &StartOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    let err = h
        .service
        .resend_code(&alice, &sms, &challenge_id, None, &StartOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    assert_eq!(h.sender.sent().len(), before, "nothing sent while locked");
    // Asking counted no attempt.
    let status = h.service.admin().lockout_status(&alice).await.unwrap();
    assert_eq!(status.factors[0].failures, 5, "{status:?}");
    // Unlocked, the codes flow again.
    h.service.admin().unlock(&alice, None).await.unwrap();
    h.service
        .start_challenge(&alice, &sms, &StartOptions::new())
        .await
        .unwrap();
    assert_eq!(h.sender.sent().len(), before + 1);
}

/// A push factor locked by failed completions still pushed to the phone.
#[tokio::test]
async fn nothing_is_pushed_to_a_locked_push_factor() {
    let h = harness(MemoryStore::new());
    let bob = UserId::new("bob").unwrap();
    let (factor, _) = with_push(&h, &bob, &password(h.clock.now())).await;
    let bogus = ChallengeId::generate(&mut OsRandom).unwrap();
    for _ in 0..5 {
        let response = Response::Push {
            challenge_id: &bogus,
            nonce: "",
        };
        let err = h
            .service
            .verify(&bob, &factor, response, &password(h.clock.now()))
            .await
            .unwrap_err();
        assert!(err.is_rejection(), "{err:?}");
    }
    let err = start_push(&h, &bob, &factor).await.unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    assert!(h.transport.sent().is_empty(), "nothing pushed while locked");
}

/// An account locked by failures over all its factors still got codes.
#[tokio::test]
async fn nothing_is_sent_to_a_locked_account() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (sms, _) = with_sms(&h, &alice, PHONE, PHONE, &password(h.clock.now())).await;
    // Fifteen failures (the default per-user limit: three times `max_consecutive`) on
    // factors other than the SMS one.
    for name in ["a", "b", "c"] {
        fail_with(&h, &alice, name, 5).await;
    }
    let before = h.sender.sent().len();
    let err = h
        .service
        .start_challenge(&alice, &sms, &StartOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AccountLocked), "{err:?}");
    assert_eq!(h.sender.sent().len(), before, "nothing sent while locked");
}

// ---------------------------------------------------------------- item 6

/// With a limit of five pushes since the last approval, the sixth went out.
#[tokio::test]
async fn push_fatigue_limit_of_five_lets_exactly_five_out() {
    let h = harness(MemoryStore::new());
    let bob = UserId::new("bob").unwrap();
    let (factor, _) = with_push(&h, &bob, &password(h.clock.now())).await;
    let ttl = PushConfig::default().ttl();
    for _ in 0..5 {
        start_push(&h, &bob, &factor).await.unwrap();
        // Unanswered past its lifetime: no longer pending, still not approved.
        h.clock.advance(ttl + Duration::from_secs(1));
    }
    assert_eq!(h.transport.sent().len(), 5);
    let err = start_push(&h, &bob, &factor).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limited(LimitError::PushesSinceSuccess { max: 5 })
        ),
        "{err:?}"
    );
    assert_eq!(h.transport.sent().len(), 5, "the sixth push was refused");
}

// ---------------------------------------------------------------- item 7

/// Any session of the user holding the transaction id (which travels through the push
/// provider) completed an approved push.
#[tokio::test]
async fn an_approved_push_completes_only_with_the_requesting_sessions_nonce() {
    let h = harness(MemoryStore::new());
    let bob = UserId::new("bob").unwrap();
    let (factor, device) = with_push(&h, &bob, &password(h.clock.now())).await;
    let challenge = h
        .service
        .start_challenge(&bob, &factor, &StartOptions::new())
        .await
        .unwrap();
    let page = serde_json::to_string(&challenge).unwrap();
    let Challenge::Push {
        challenge_id,
        number,
        nonce,
        ..
    } = challenge
    else {
        panic!("not a push")
    };
    // The page gets the nonce; the device, its logs and `Debug` do not.
    assert!(nonce.expose().len() >= 22, "at least 128 bits");
    assert!(page.contains(nonce.expose()));
    let notification = h.transport.sent().last().unwrap().clone();
    assert!(
        !serde_json::to_string(&notification)
            .unwrap()
            .contains(nonce.expose())
    );
    assert!(!format!("{nonce:?}").contains(nonce.expose()));
    let answer = device
        .approve(&notification, &number, h.clock.now())
        .unwrap();
    assert_eq!(
        h.service.respond_push(&bob, &answer).await.unwrap(),
        PushStatus::Approved
    );
    let complete = |nonce: String| {
        let (h, bob, factor, challenge_id) = (&h, &bob, &factor, &challenge_id);
        async move {
            let response = Response::Push {
                challenge_id,
                nonce: &nonce,
            };
            h.service
                .verify(bob, factor, response, &password(h.clock.now()))
                .await
        }
    };
    // Another session: the transaction id, no nonce or a wrong one.
    let mut wrong = nonce.expose().to_owned();
    let last = if wrong.ends_with('A') { "B" } else { "A" };
    wrong.replace_range(wrong.len() - 1.., last);
    for other in [String::new(), wrong, "not even base64url!".to_owned()] {
        let err = complete(other.clone()).await.unwrap_err();
        assert!(err.is_rejection(), "{other:?}: {err:?}");
    }
    // The approval is still there for the session that asked, and completes once.
    assert_eq!(
        h.service.push_status(&bob, &challenge_id).await.unwrap(),
        PushStatus::Approved
    );
    complete(nonce.expose().to_owned()).await.unwrap();
    let err = complete(nonce.expose().to_owned()).await.unwrap_err();
    assert!(err.is_rejection(), "completed once: {err:?}");
}

// ---------------------------------------------------------------- item 8

/// An attacker who enrolled the victim's number five times in an hour used up the
/// destination's cap, and the victim's own SMS sign-in was refused.
#[tokio::test]
async fn another_account_cannot_spend_the_owners_sms_budget() {
    let h = harness(MemoryStore::new());
    let victim = UserId::new("victim").unwrap();
    let (sms, session) = with_sms(&h, &victim, PHONE, PHONE, &password(h.clock.now())).await;
    let mallory = UserId::new("mallory").unwrap();
    let mut refused = None;
    for _ in 0..6 {
        h.clock.advance(Duration::from_secs(31));
        match start_sms(&h, &mallory, "not mine").await {
            Ok(_) => {}
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    // Enrollment codes to one number keep their ceiling, whoever asks.
    let err = refused.expect("the destination's enrollment cap held");
    assert!(
        matches!(err, Error::Limited(LimitError::DestinationCap { max: 5 })),
        "{err:?}"
    );
    // The owner's confirmed factor still gets its sign-in codes.
    h.clock.advance(Duration::from_secs(31));
    let before = h.sender.sent().len();
    let challenge_id = start_code(&h, &victim, &sms).await;
    assert_eq!(h.sender.sent().len(), before + 1);
    let code = h.last_code_to(PHONE);
    let response = Response::OobCode {
        challenge_id: &challenge_id,
        code: &code,
    };
    h.service
        .verify(&victim, &sms, response, &session)
        .await
        .unwrap();
}

/// Accounts that enrolled the victim's number and typed wrong confirmation codes
/// locked the number for everyone, and the victim's own sign-in codes stopped.
#[tokio::test]
async fn wrong_enrollment_codes_do_not_lock_the_owners_factor() {
    let h = harness(MemoryStore::new());
    let victim = UserId::new("victim").unwrap();
    let (sms, _) = with_sms(&h, &victim, PHONE, PHONE, &password(h.clock.now())).await;
    // Fifteen wrong codes to the number (the per-user limit, counted per destination),
    // five from each of three accounts.
    for attacker in ["mallory", "trudy", "oscar"] {
        let attacker = UserId::new(attacker).unwrap();
        h.clock.advance(Duration::from_secs(31));
        let e = start_sms(&h, &attacker, "not mine").await.unwrap();
        let code = h.last_code_to(PHONE);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            let err = h
                .service
                .finish_enrollment(&attacker, &e.factor_id, wrong, &mfa::Session::default())
                .await
                .unwrap_err();
            assert!(err.is_rejection(), "{err:?}");
        }
    }
    // Enrollment codes to the number stop: its failures lock it for enrollment.
    h.clock.advance(Duration::from_secs(31));
    let eve = UserId::new("eve").unwrap();
    let err = start_sms(&h, &eve, "not mine").await.unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    // The owner's confirmed factor still gets its sign-in codes.
    let before = h.sender.sent().len();
    h.service
        .start_challenge(&victim, &sms, &StartOptions::new())
        .await
        .unwrap();
    assert_eq!(h.sender.sent().len(), before + 1);
}
