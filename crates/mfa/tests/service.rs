//! The service's life cycle on the memory store: enroll, confirm, verify, list, rename,
//! remove, reset, lockout, devices, audit and notifications.

use std::time::Duration;

use crate::common::{add_totp, code, enroll_recovery, harness, password, right, with_totp};
use mfa::audit::EventKind;
use mfa::otp::Secret;
use mfa::policy::assurance::Aal;
use mfa::policy::enroll::EnrollRefusal;
use mfa::policy::input::{Request, Session, Subject};
use mfa::policy::lockout::FailureState;
use mfa::{Challenge, Error, Response, Service};
use mfa_core::{Attachment, AuthMethod, Clock, FactorKind, RejectReason, StartOptions, UserId};
use mfa_store::MemoryStore;

fn rejected(e: &Error, reason: RejectReason) -> bool {
    matches!(e, Error::Core(mfa_core::Error::Rejected(r)) if r.reason() == reason)
}

#[tokio::test]
async fn totp_is_active_only_after_its_first_code_and_never_accepts_a_code_twice() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let now = h.clock.now();
    let e = h.begin_totp(&alice, "phone", &password(now)).await;
    assert!(
        e.uri.starts_with("otpauth://totp/Bank%20Example:alice?"),
        "{}",
        &*e.uri
    );
    let first = code(&e, now.unix_secs());
    // Unconfirmed: it does not sign in.
    let err = h
        .verify_code(&alice, &e.factor_id, &first)
        .await
        .unwrap_err();
    assert!(rejected(&err, RejectReason::FactorDisabled), "{err:?}");
    assert!(!h.service.list_factors(&alice).await.unwrap()[0].confirmed);
    let info = h.confirm(&alice, &e.factor_id, &first).await;
    assert!(info.factor.confirmed);
    // The confirming code was used.
    let err = h
        .verify_code(&alice, &e.factor_id, &first)
        .await
        .unwrap_err();
    assert!(rejected(&err, RejectReason::Replay), "{err:?}");
    h.clock.advance(Duration::from_secs(30));
    let now = h.clock.now();
    let v = right(&h, &alice, &e).await.unwrap();
    assert_eq!(v.methods, [AuthMethod::Otp]);
    assert_eq!(v.aal, Some(Aal::Aal2));
    assert_eq!(v.amr.to_strings(), ["mfa", "otp", "pwd"]);
    assert_eq!(v.factor.last_used_at, Some(now));
    let events: Vec<_> = h
        .audit
        .events()
        .into_iter()
        .map(|e| e.event.as_str())
        .collect();
    assert_eq!(
        events,
        ["enrolled", "failed", "confirmed", "failed", "verified"]
    );
    // Alice has no email or phone factor: no contact, so no notice (tests/oob.rs
    // checks the delivery to a contact).
    assert!(h.sender.sent().is_empty());
}

#[tokio::test]
async fn enrollment_needs_the_accounts_assurance_and_obeys_the_policy() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    // No session at all: refused even for the first factor (AAL1 needed).
    let err = h
        .service
        .start_totp_enrollment(&alice, "phone", &Session::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::StepUpRequired {
                required: Aal::Aal1
            }
        ),
        "{err:?}"
    );
    // A platform authenticator is never the first factor.
    let err = h
        .service
        .start_webauthn_registration(
            &alice,
            "Touch ID",
            Some(Attachment::Platform),
            &password(h.clock.now()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Enroll(EnrollRefusal::PlatformNeedsAnotherFactor)
        ),
        "{err:?}"
    );
    let (_, aal2) = with_totp(&h, &alice).await;
    // With a confirmed factor, a password-only session is no longer enough.
    let err = h
        .service
        .start_recovery_enrollment(&alice, &password(h.clock.now()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::StepUpRequired {
                required: Aal::Aal2
            }
        ),
        "{err:?}"
    );
    assert!(
        h.service
            .start_recovery_enrollment(&alice, &aal2)
            .await
            .is_ok()
    );
    assert!(matches!(
        h.service
            .start_recovery_enrollment(&alice, &aal2)
            .await
            .unwrap_err(),
        Error::RecoveryCodesExist
    ));
}

#[tokio::test]
async fn recovery_codes_are_used_once_and_regenerating_replaces_the_set() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (_, aal2) = with_totp(&h, &alice).await;
    let set = h
        .service
        .start_recovery_enrollment(&alice, &aal2)
        .await
        .unwrap();
    assert_eq!(set.codes.len(), 10);
    let first = set.codes[0].expose_secret().to_owned();
    // Unconfirmed: not usable yet.
    assert!(
        h.service
            .verify(&alice, &set.factor_id, Response::Code(&first), &aal2)
            .await
            .is_err()
    );
    let info = h
        .service
        .finish_recovery_enrollment(&alice, &set.factor_id)
        .await
        .unwrap();
    assert_eq!(info.remaining_codes, Some(10));
    let v = h.verify_code(&alice, &set.factor_id, &first).await.unwrap();
    assert_eq!(v.recovery.as_ref().map(|r| r.remaining), Some(9));
    assert!(
        h.service
            .verify(&alice, &set.factor_id, Response::Code(&first), &aal2)
            .await
            .is_err()
    );
    let listed = h.service.list_factors(&alice).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .find(|f| f.id == set.factor_id)
            .unwrap()
            .remaining_codes,
        Some(9)
    );
    // No contact (no email or phone factor): nothing sent.
    assert!(h.sender.sent().is_empty());
    assert!(
        h.audit
            .events()
            .iter()
            .any(|e| e.event == EventKind::RecoveryCodeUsed { remaining: 9 })
    );
    // No event or notice carries a code.
    let logged = format!(
        "{}{:?}",
        serde_json::to_string(&h.audit.events()).unwrap(),
        h.sender.sent()
    );
    for c in &set.codes {
        assert!(!logged.contains(c.expose_secret()), "{logged}");
    }
    // Regenerate: every old code stops working.
    let second = set.codes[1].expose_secret().to_owned();
    let fresh = h
        .service
        .regenerate_recovery_codes(&alice, &aal2)
        .await
        .unwrap();
    assert_eq!(fresh.codes.len(), 10);
    assert!(
        h.service
            .verify(&alice, &set.factor_id, Response::Code(&second), &aal2)
            .await
            .is_err()
    );
    let new = fresh.codes[0].expose_secret().to_owned();
    assert!(
        h.service
            .verify(&alice, &fresh.factor_id, Response::Code(&new), &aal2)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn list_rename_and_remove_with_the_last_factor_guarded() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (e, aal2) = with_totp(&h, &alice).await;
    let listed = h.service.list_factors(&alice).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].label, "phone");
    let json = serde_json::to_string(&listed).unwrap();
    assert!(!json.contains(&*e.secret_base32), "{json}");
    let renamed = h
        .service
        .rename_factor(&alice, &e.factor_id, "work phone")
        .await
        .unwrap();
    assert_eq!(renamed.label, "work phone");
    assert!(
        h.service
            .rename_factor(&alice, &e.factor_id, "bad\nlabel")
            .await
            .is_err()
    );
    let subject = Subject::default();
    // Mode "always": the last factor stays.
    let err = h
        .service
        .remove_factor(&alice, &subject, &aal2, &e.factor_id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Enroll(EnrollRefusal::LastFactorWhileRequired)),
        "{err:?}"
    );
    enroll_recovery(&h, &alice, &aal2).await;
    add_totp(&h, &alice, "tablet", &aal2).await;
    h.service
        .remove_factor(&alice, &subject, &aal2, &e.factor_id)
        .await
        .unwrap();
    assert!(matches!(
        h.service
            .remove_factor(&alice, &subject, &aal2, &e.factor_id)
            .await
            .unwrap_err(),
        Error::UnknownFactor
    ));
    assert!(h.sender.sent().is_empty(), "no contact, no notice");
    assert!(
        h.audit
            .events()
            .iter()
            .any(|e| e.event == EventKind::FactorRemoved)
    );
}

#[tokio::test]
async fn reset_removes_everything_at_once_and_revokes_remembered_devices() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (e, aal2) = with_totp(&h, &alice).await;
    let token = h
        .service
        .remember_device(&alice, &aal2, "laptop-1", "Firefox")
        .await
        .unwrap();
    assert!(
        h.service
            .check_device(&alice, "laptop-1", &token)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(h.service.list_devices(&alice).await.unwrap().len(), 1);
    // A failure on the books.
    let _ = h
        .service
        .verify(&alice, &e.factor_id, Response::Code("000000"), &aal2)
        .await;
    let summary = h.service.admin().reset_user(&alice).await.unwrap();
    assert_eq!((summary.factors, summary.devices), (1, 1));
    assert!(summary.failure_counters >= 1);
    assert!(h.service.list_factors(&alice).await.unwrap().is_empty());
    assert!(
        h.service
            .check_device(&alice, "laptop-1", &token)
            .await
            .unwrap()
            .is_none()
    );
    let d = h
        .service
        .evaluate(
            &alice,
            &Subject::default(),
            &password(h.clock.now()),
            &Request::default(),
            Some(mfa::DeviceCookie::new(&token, "laptop-1")),
        )
        .await
        .unwrap();
    assert_eq!(d.as_str(), "enroll");
    assert!(h.sender.sent().is_empty(), "no contact, no notice");
    assert!(h.audit.events().iter().any(|e| matches!(
        e.event,
        EventKind::Reset {
            factors: 1,
            devices: 1
        }
    )));
}

#[tokio::test]
async fn remembered_devices_need_the_store_entry_as_well_as_the_signature() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (_, aal2) = with_totp(&h, &alice).await;
    // A password-only session has nothing to remember.
    assert!(
        h.service
            .remember_device(&alice, &password(h.clock.now()), "d", "")
            .await
            .is_err()
    );
    let token = h
        .service
        .remember_device(&alice, &aal2, "laptop-1", "Firefox")
        .await
        .unwrap();
    assert!(
        h.service
            .check_device(&alice, "laptop-1", &token)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        h.service
            .check_device(&alice, "laptop-2", &token)
            .await
            .unwrap()
            .is_none()
    );
    let d = h
        .service
        .evaluate(
            &alice,
            &Subject::default(),
            &password(h.clock.now()),
            &Request::default(),
            Some(mfa::DeviceCookie::new(&token, "laptop-1")),
        )
        .await
        .unwrap();
    assert!(d.is_allow(), "{d:?}");
    assert!(h.service.forget_device(&alice, "laptop-1").await.unwrap());
    assert!(
        h.service
            .check_device(&alice, "laptop-1", &token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.service.list_devices(&alice).await.unwrap().is_empty());
    assert!(h.audit.events().iter().any(
        |e| matches!(&e.event, EventKind::DeviceForgotten { device_id } if device_id == "laptop-1")
    ));
}

#[tokio::test]
async fn lockout_refuses_even_the_right_code_until_an_admin_unlocks() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (e, _) = with_totp(&h, &alice).await;
    h.clock.advance(Duration::from_secs(30));
    let now = h.clock.now();
    for _ in 0..5 {
        let err = h
            .verify_code(&alice, &e.factor_id, "000000")
            .await
            .unwrap_err();
        assert!(err.is_rejection());
    }
    let right = code(&e, now.unix_secs());
    let err = h
        .verify_code(&alice, &e.factor_id, &right)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    assert!(
        h.audit
            .events()
            .iter()
            .any(|e| matches!(e.event, EventKind::Locked { .. }))
    );
    // An administrator sees why: six attempts counted on the factor (the refused one
    // too), locked for the policy's lockout from the last one; five on the account (the
    // refused attempt guessed nothing), its limit not reached.
    let status = h.service.admin().lockout_status(&alice).await.unwrap();
    let lockout = h.service.policy().failure_limits().lockout;
    assert_eq!(status.factors.len(), 1);
    assert_eq!(status.factors[0].factor_id, e.factor_id);
    assert_eq!(status.factors[0].failures, 6);
    assert_eq!(
        status.factors[0].state,
        FailureState::LockedOut {
            until: now.saturating_add(lockout)
        }
    );
    assert_eq!(status.user_failures, 5);
    assert!(!status.account_locked);
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["factors"][0]["state"]["state"], "locked");
    h.service
        .admin()
        .unlock(&alice, Some(&e.factor_id))
        .await
        .unwrap();
    let status = h.service.admin().lockout_status(&alice).await.unwrap();
    assert_eq!((status.user_failures, status.factors[0].failures), (0, 0));
    assert!(status.factors[0].state.is_open());
    assert!(h.verify_code(&alice, &e.factor_id, &right).await.is_ok());
}

#[tokio::test]
async fn a_code_for_another_users_factor_is_an_unknown_factor() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let bob = UserId::new("bob").unwrap();
    let (e, _) = with_totp(&h, &alice).await;
    let now = h.clock.now();
    let err = h
        .verify_code(&bob, &e.factor_id, &code(&e, now.unix_secs()))
        .await
        .unwrap_err();
    assert!(rejected(&err, RejectReason::UnknownFactor), "{err:?}");
}

#[test]
fn the_service_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Service<MemoryStore>>();
}

#[tokio::test]
async fn hotp_confirms_with_the_first_counter_and_moves_forward_only() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let now = h.clock.now();
    let e = h
        .service
        .start_hotp_enrollment(&alice, "token", &password(now))
        .await
        .unwrap();
    assert!(e.uri.starts_with("otpauth://hotp/"), "{}", &*e.uri);
    let secret = Secret::from_base32(&e.secret_base32).unwrap();
    let hotp = mfa::otp::HotpRecord::new(secret, mfa::otp::HotpParams::default()).hotp();
    let at = |c: u64| hotp.code(c).as_str().to_owned();
    h.confirm(&alice, &e.factor_id, &at(0)).await;
    let s = password(now);
    assert!(
        h.service
            .verify(&alice, &e.factor_id, Response::Code(&at(0)), &s)
            .await
            .is_err()
    );
    h.service
        .verify(&alice, &e.factor_id, Response::Code(&at(1)), &s)
        .await
        .unwrap();
    assert!(
        h.service
            .verify(&alice, &e.factor_id, Response::Code(&at(1)), &s)
            .await
            .is_err()
    );
    // Within the look-ahead; the skipped counters are gone.
    h.service
        .verify(&alice, &e.factor_id, Response::Code(&at(5)), &s)
        .await
        .unwrap();
    assert!(
        h.service
            .verify(&alice, &e.factor_id, Response::Code(&at(3)), &s)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_policy_decides_and_names_the_factor_to_challenge() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let subject = Subject::default();
    let signin = Request {
        action: Some("signin".into()),
        ..Request::default()
    };
    let now = h.clock.now();
    let d = h
        .service
        .evaluate(&alice, &subject, &password(now), &signin, None)
        .await
        .unwrap();
    assert_eq!(d.as_str(), "enroll");
    let (e, aal2) = with_totp(&h, &alice).await;
    let now = h.clock.now();
    let d = h
        .service
        .evaluate(&alice, &subject, &password(now), &signin, None)
        .await
        .unwrap();
    assert_eq!(d.as_str(), "step_up");
    let pick = h
        .service
        .preferred_factor(&alice, &d)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pick.id, e.factor_id);
    let Challenge::Code { factor_id, kind } = h
        .service
        .start_challenge(&alice, &pick.id, &StartOptions::new())
        .await
        .unwrap()
    else {
        panic!("a code challenge");
    };
    assert_eq!((factor_id, kind), (e.factor_id.clone(), FactorKind::Totp));
    // An option a code cannot honour is refused, not ignored.
    let uv = StartOptions::new().with_user_verification(mfa_core::UserVerification::Required);
    assert!(
        h.service
            .start_challenge(&alice, &pick.id, &uv)
            .await
            .is_err()
    );
    let d = h
        .service
        .evaluate(&alice, &subject, &aal2, &signin, None)
        .await
        .unwrap();
    assert!(d.is_allow(), "{d:?}");
}
