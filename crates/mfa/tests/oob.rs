//! SMS, voice and email codes and push approval through the service, on the memory
//! store. Codes are read from what the sender actually delivered.

use std::time::Duration;

use mfa::audit::EventKind;
use mfa::oob::testkit::SoftwareDevice;
use mfa::oob::{LimitError, PushStatus};
use mfa::policy::enroll::EnrollRefusal;
use mfa::policy::input::{Session, Subject};
use mfa::{Challenge, Error, OobEnrollment, PushNonce, Response};
use mfa_core::store::{ChallengeId, Store, StoreError, Success, VerificationStore, Version};
use mfa_core::testkit::{Faulty, Hook};
use mfa_core::{AuthMethod, Channel, Clock, FactorId, FactorKind, OsRandom, StartOptions, UserId};
use mfa_store::MemoryStore;

use crate::common::{
    Harness, POLICY, confirm_oob, enroll_push, harness, harness_oob, keys, oob_config, password,
    start_oob, start_push,
};

pub(crate) const PHONE: &str = "+12015550123";

/// A service whose codes allow `max_attempts` attempts, and alice signed in with an SMS
/// factor to [`PHONE`]: the harness, alice, the factor and her session.
pub(crate) async fn alice_with_sms(
    max_attempts: u32,
) -> (Harness<MemoryStore>, UserId, FactorId, Session) {
    let config = oob_config().with_max_attempts(max_attempts).unwrap();
    let h = harness_oob(MemoryStore::new(), keys("k1"), config, POLICY);
    let alice = UserId::new("alice").unwrap();
    let session = password(h.clock.now());
    let (sms, session) = with_sms(&h, &alice, PHONE, PHONE, &session).await;
    (h, alice, sms, session)
}

/// Starts a code challenge for `user`'s out-of-band `factor`; its id.
pub(crate) async fn start_code<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    factor: &FactorId,
) -> ChallengeId {
    let options = StartOptions::new();
    let started = h.service.start_challenge(user, factor, &options).await;
    let Challenge::OobCode { challenge_id, .. } = started.unwrap() else {
        panic!("not a code challenge")
    };
    challenge_id
}

/// Starts an SMS enrollment to [`PHONE`] for `user` as `label`, with the password just
/// proven.
pub(crate) async fn start_sms<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    label: &str,
) -> Result<OobEnrollment, Error> {
    let (address, session) = (mfa::OobAddress::sms(PHONE, None), password(h.clock.now()));
    h.service
        .start_oob_enrollment(user, address, label, &session)
        .await
}

const MASKED_PHONE: &str = "+1 \u{2022}\u{2022}\u{2022} \u{2022}\u{2022}\u{2022} 0123";

fn reason_of<S>(h: &Harness<S>) -> &'static str {
    match h.audit.events().iter().rev().find_map(|e| match e.event {
        EventKind::Failed { reason } => Some(reason),
        _ => None,
    }) {
        Some(r) => r,
        None => "none",
    }
}

/// Enrolls and confirms `phone` by SMS; returns the factor and an AAL2 session.
pub(crate) async fn with_sms<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    phone: &str,
    normalised: &str,
    session: &Session,
) -> (FactorId, Session) {
    let e = start_oob(
        h,
        user,
        mfa::OobAddress::sms(phone, Some("US")),
        "phone",
        session,
    )
    .await;
    let e = confirm_oob(h, user, e, normalised).await;
    h.clock.advance(Duration::from_secs(31));
    let challenge_id = start_code(h, user, &e.factor_id).await;
    let code = h.last_code_to(normalised);
    let v = h
        .service
        .verify(
            user,
            &e.factor_id,
            Response::OobCode {
                challenge_id: &challenge_id,
                code: &code,
            },
            session,
        )
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(31));
    (e.factor_id, v.session)
}

#[tokio::test]
async fn sms_is_sent_confirmed_verified_once_and_listed_masked() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let now = h.clock.now();
    let e = start_oob(
        &h,
        &alice,
        mfa::OobAddress::sms("(201) 555-0123", Some("US")),
        "my phone",
        &password(now),
    )
    .await;
    assert_eq!(e.kind, FactorKind::Sms);
    assert_eq!(e.destination, MASKED_PHONE);
    let sent = h.sender.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to().as_str(), PHONE);
    // Unconfirmed: listed, masked, but no sign-in with it.
    let listed = h.service.list_factors(&alice).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].confirmed);
    assert_eq!(listed[0].destination.as_deref(), Some(MASKED_PHONE));
    assert!(
        h.service
            .start_challenge(&alice, &e.factor_id, &StartOptions::new())
            .await
            .is_err()
    );
    let code = h.last_code_to(PHONE);
    let info = h.confirm(&alice, &e.factor_id, &code).await;
    assert!(info.factor.confirmed);
    assert_eq!(info.factor.destination.as_deref(), Some(MASKED_PHONE));
    // The confirmation code is single use.
    assert!(
        h.service
            .finish_enrollment(&alice, &e.factor_id, &code, &Session::default())
            .await
            .is_err()
    );

    // Sign-in: a new code, after the cooldown.
    h.clock.advance(Duration::from_secs(31));
    let challenge = h
        .service
        .start_challenge(&alice, &e.factor_id, &StartOptions::new())
        .await
        .unwrap();
    let Challenge::OobCode {
        challenge_id,
        destination,
        channel,
        attempts_left,
        ..
    } = challenge
    else {
        panic!("not a code challenge")
    };
    assert_eq!(
        (destination.as_str(), channel, attempts_left),
        (MASKED_PHONE, Channel::Sms, 5)
    );
    let code = h.last_code_to(PHONE);
    let session = password(h.clock.now());
    let v = h
        .service
        .verify(
            &alice,
            &e.factor_id,
            Response::OobCode {
                challenge_id: &challenge_id,
                code: &code,
            },
            &session,
        )
        .await
        .unwrap();
    assert_eq!(v.methods, [AuthMethod::Sms]);
    assert_eq!(v.factor.destination.as_deref(), Some(MASKED_PHONE));
    assert_eq!(v.factor.last_used_at, Some(h.clock.now()));
    // Replay: the challenge was taken.
    let err = h
        .service
        .verify(
            &alice,
            &e.factor_id,
            Response::OobCode {
                challenge_id: &challenge_id,
                code: &code,
            },
            &session,
        )
        .await
        .unwrap_err();
    assert!(err.is_rejection(), "{err:?}");
    // No audit event carries a code.
    let logged = serde_json::to_string(&h.audit.events()).unwrap();
    assert!(!logged.contains(&code));
}

#[tokio::test]
async fn email_and_voice_work_through_the_latest_challenge() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let now = h.clock.now();
    let e = start_oob(
        &h,
        &alice,
        mfa::OobAddress::email("Alice@Example.com"),
        "mail",
        &password(now),
    )
    .await;
    assert_eq!(e.kind, FactorKind::Email);
    let to = h.sender.sent()[0].to().as_str().to_owned();
    let code = h.last_code_to(&to);
    h.confirm(&alice, &e.factor_id, &code).await;
    h.clock.advance(Duration::from_secs(31));
    h.service
        .start_challenge(&alice, &e.factor_id, &StartOptions::new())
        .await
        .unwrap();
    let code = h.last_code_to(&to);
    // A plain code answers the factor's latest challenge.
    let v = h.verify_code(&alice, &e.factor_id, &code).await.unwrap();
    assert_eq!(v.methods, [AuthMethod::Otp]);
    let session = v.session;

    // Voice, to a UK number.
    let voice = start_oob(
        &h,
        &alice,
        mfa::OobAddress::voice("+44 7400 123456", None),
        "voice",
        &session,
    )
    .await;
    assert_eq!(voice.kind, FactorKind::Voice);
    let sent = h.sender.sent();
    let call = sent.last().unwrap();
    assert_eq!(call.channel(), Channel::Voice);
    let code = h.last_code_to("+447400123456");
    h.confirm(&alice, &voice.factor_id, &code).await;
    h.clock.advance(Duration::from_secs(31));
    h.service
        .start_challenge(&alice, &voice.factor_id, &StartOptions::new())
        .await
        .unwrap();
    let code = h.last_code_to("+447400123456");
    let v = h
        .service
        .verify(&alice, &voice.factor_id, Response::Code(&code), &session)
        .await
        .unwrap();
    assert_eq!(v.methods, [AuthMethod::Tel]);
}

#[tokio::test]
async fn wrong_expired_and_exhausted_codes_are_refused() {
    let (h, alice, sms, session) = alice_with_sms(3).await;
    let start = || start_code(&h, &alice, &sms);
    let answer = |id: ChallengeId, code: String| {
        let h = &h;
        let alice = &alice;
        let sms = &sms;
        let session = &session;
        async move {
            h.service
                .verify(
                    alice,
                    sms,
                    Response::OobCode {
                        challenge_id: &id,
                        code: &code,
                    },
                    session,
                )
                .await
        }
    };
    // Wrong, then right: the right one still works.
    let id = start().await;
    let code = h.last_code_to(PHONE);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert!(
        answer(id.clone(), wrong.into())
            .await
            .unwrap_err()
            .is_rejection()
    );
    assert_eq!(reason_of(&h), "wrong_code");
    answer(id, code).await.unwrap();

    // Exhausted: three wrong codes use the three attempts; the right one is refused.
    h.clock.advance(Duration::from_secs(31));
    let id = start().await;
    let code = h.last_code_to(PHONE);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        assert!(answer(id.clone(), wrong.into()).await.is_err());
    }
    h.service.admin().unlock(&alice, None).await.unwrap();
    assert!(answer(id, code).await.unwrap_err().is_rejection());
    assert_eq!(reason_of(&h), "exhausted");

    // Expired: ten minutes later the code is gone.
    h.clock.advance(Duration::from_secs(31));
    let id = start().await;
    let code = h.last_code_to(PHONE);
    h.clock.advance(Duration::from_secs(601));
    assert!(answer(id, code).await.unwrap_err().is_rejection());
    assert_eq!(reason_of(&h), "expired");
}

/// Holds the first commit of a verification, once armed, until released: the right
/// code has paid its attempt and been checked, and has not yet taken its challenge.
#[derive(Default)]
struct HoldCommit {
    armed: std::sync::atomic::AtomicBool,
    reached: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

impl Hook<MemoryStore> for HoldCommit {
    async fn commit_verification(
        &self,
        inner: &MemoryStore,
        success: Success<'_>,
    ) -> Result<Option<Version>, StoreError> {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.reached.notify_one();
            self.release.notified().await;
        }
        inner.commit_verification(success).await
    }
}

impl mfa_core::store::JournalStore for HoldCommit {}

#[tokio::test]
async fn a_paid_attempt_still_wins_after_later_ones_exhaust_the_challenge() {
    // The right code pays the first of three attempts and is checked; before it takes
    // the challenge, wrong codes use the other two and one more finds it exhausted. The
    // exhausted challenge must stay for the right code to take: exactly one success.
    let config = oob_config().with_max_attempts(3).unwrap();
    let store = Faulty::new(MemoryStore::new(), HoldCommit::default());
    let h = harness_oob(store, keys("k1"), config, POLICY);
    let alice = UserId::new("alice").unwrap();
    let session = password(h.clock.now());
    let (sms, session) = with_sms(&h, &alice, PHONE, PHONE, &session).await;
    h.clock.advance(Duration::from_secs(31));
    let id = start_code(&h, &alice, &sms).await;
    let right = h.last_code_to(PHONE);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let answer = |code: String| {
        let (service, alice, sms, id, session) = (
            h.service.clone(),
            alice.clone(),
            sms.clone(),
            id.clone(),
            session.clone(),
        );
        async move {
            let r = Response::OobCode {
                challenge_id: &id,
                code: &code,
            };
            service.verify(&alice, &sms, r, &session).await
        }
    };
    let hook = h.service.store().hook();
    hook.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let winner = tokio::spawn(answer(right.clone()));
    hook.reached.notified().await;
    for _ in 0..2 {
        assert!(answer(wrong.into()).await.unwrap_err().is_rejection());
        h.service.admin().unlock(&alice, None).await.unwrap();
    }
    assert!(answer(right.clone()).await.unwrap_err().is_rejection());
    assert_eq!(reason_of(&h), "exhausted");
    hook.release.notify_one();
    winner.await.unwrap().unwrap();
    // Taken: the code is refused from now on.
    assert!(answer(right).await.unwrap_err().is_rejection());
}

#[tokio::test]
async fn one_number_once_per_user_and_at_most_two_sms_numbers() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    // An abandoned enrollment gives way to a new one of the same number.
    start_sms(&h, &alice, "a").await.unwrap();
    h.clock.advance(Duration::from_secs(31));
    let (_, session) = with_sms(&h, &alice, "201-555-0123", PHONE, &password(h.clock.now())).await;
    assert_eq!(h.service.list_factors(&alice).await.unwrap().len(), 1);
    // The same number again, in another format: refused.
    let err = h
        .service
        .start_oob_enrollment(
            &alice,
            mfa::OobAddress::sms("(201) 555 0123", Some("US")),
            "again",
            &session,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DestinationAlreadyEnrolled), "{err:?}");
    // Another user may have it (a family phone).
    let bob = UserId::new("bob").unwrap();
    start_sms(&h, &bob, "family").await.unwrap();
    // A second number is fine, a third is refused by the default rule (two SMS numbers).
    let (_, session) = with_sms(&h, &alice, "+12015550124", "+12015550124", &session).await;
    let err = h
        .service
        .start_oob_enrollment(
            &alice,
            mfa::OobAddress::sms("+12015550125", None),
            "third",
            &session,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Enroll(EnrollRefusal::TooManySms { max: 2 })),
        "{err:?}"
    );
    // A number of a country not allowed, and no number at all.
    let err = h
        .service
        .start_oob_enrollment(
            &alice,
            mfa::OobAddress::email("not an address"),
            "x",
            &session,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Core(_)), "{err:?}");
    let bob_session = password(h.clock.now());
    let err = h
        .service
        .start_oob_enrollment(
            &UserId::new("carol").unwrap(),
            mfa::OobAddress::sms("+49 151 23456789", None),
            "de",
            &bob_session,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Limited(LimitError::Country(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn sends_obey_the_cooldown_and_the_hourly_cap() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    // The enrollment code spent the destination's budget; the sign-in codes of the
    // confirmed factor spend the factor's own: one of its five so far.
    let (sms, _) = with_sms(&h, &alice, PHONE, PHONE, &password(h.clock.now())).await;
    let options = StartOptions::new();
    let start = || h.service.start_challenge(&alice, &sms, &options);
    start().await.unwrap(); // 2nd
    // At once again: the cooldown.
    let err = start().await.unwrap_err();
    assert!(
        matches!(err, Error::Limited(LimitError::Cooldown { .. })),
        "{err:?}"
    );
    h.clock.advance(Duration::from_secs(31));
    let Challenge::OobCode { challenge_id, .. } = start().await.unwrap() else {
        panic!()
    }; // 3rd
    // A resend keeps the challenge and waits for the cooldown too.
    let err = h
        .service
        .resend_code(&alice, &sms, &challenge_id, None, &StartOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Limited(LimitError::Cooldown { .. })),
        "{err:?}"
    );
    h.clock.advance(Duration::from_secs(31));
    let resent = h
        .service
        .resend_code(
            &alice,
            &sms,
            &challenge_id,
            Some(Channel::Voice),
            &StartOptions::new(),
        )
        .await
        .unwrap(); // 4th
    assert!(matches!(
        resent,
        Challenge::OobCode {
            channel: Channel::Voice,
            ..
        }
    ));
    assert_eq!(h.sender.sent().last().unwrap().channel(), Channel::Voice);
    h.clock.advance(Duration::from_secs(31));
    start().await.unwrap(); // 5th
    h.clock.advance(Duration::from_secs(31));
    let before = h.sender.sent().len();
    let err = start().await.unwrap_err(); // 6th in the hour: refused
    assert!(
        matches!(err, Error::Limited(LimitError::DestinationCap { max: 5 })),
        "{err:?}"
    );
    assert_eq!(h.sender.sent().len(), before, "nothing sent over the cap");
    // An hour later the window restarts.
    h.clock.advance(Duration::from_secs(3601));
    start().await.unwrap();
}

pub(crate) async fn with_push<S: Store>(
    h: &Harness<S>,
    user: &UserId,
    session: &Session,
) -> (FactorId, SoftwareDevice) {
    let device = SoftwareDevice::new("Alice's phone", "fcm-token", &mut OsRandom).unwrap();
    let service = &*h.service;
    let info = enroll_push([service, service], user, "phone app", session, &device).await;
    assert!(info.confirmed);
    assert_eq!(info.destination.as_deref(), Some("Alice's phone"));
    (info.id, device)
}

#[tokio::test]
async fn push_approve_deny_wrong_number_and_expiry() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (_, session) = with_sms(&h, &alice, PHONE, PHONE, &password(h.clock.now())).await;
    // An email contact for the notices.
    add_email(&h, &alice, &session).await;
    let (push, device) = with_push(&h, &alice, &session).await;
    let start = || async {
        let (challenge_id, number, nonce) = start_push(&h, &alice, &push).await.unwrap();
        let notification = h.transport.sent().last().unwrap().clone();
        assert_eq!(notification.account.as_deref(), Some("alice"));
        (challenge_id, number, notification, nonce)
    };
    let complete = |id: ChallengeId, nonce: PushNonce| {
        let h = &h;
        let alice = &alice;
        let push = &push;
        async move {
            h.service
                .verify(
                    alice,
                    push,
                    Response::Push {
                        challenge_id: &id,
                        nonce: nonce.expose(),
                    },
                    &password(h.clock.now()),
                )
                .await
        }
    };

    // Approve with the number shown: poll, then complete once.
    let (id, number, n, nonce) = start().await;
    assert_eq!(
        h.service.push_status(&alice, &id).await.unwrap(),
        PushStatus::Pending
    );
    let answer = device.approve(&n, &number, h.clock.now()).unwrap();
    assert_eq!(
        h.service.respond_push(&alice, &answer).await.unwrap(),
        PushStatus::Approved
    );
    // The same answer again is not recorded twice.
    assert!(h.service.respond_push(&alice, &answer).await.is_err());
    assert_eq!(
        h.service.push_status(&alice, &id).await.unwrap(),
        PushStatus::Approved
    );
    let v = complete(id.clone(), nonce.clone()).await.unwrap();
    assert_eq!(v.methods, FactorKind::Push.typical_methods());
    assert!(
        complete(id, nonce).await.unwrap_err().is_rejection(),
        "completed once"
    );

    // A wrong number is final.
    let (id, number, n, nonce) = start().await;
    let wrong = if number.starts_with('9') {
        "1".repeat(number.len())
    } else {
        "9".repeat(number.len())
    };
    let answer = device.approve(&n, &wrong, h.clock.now()).unwrap();
    assert_eq!(
        h.service.respond_push(&alice, &answer).await.unwrap(),
        PushStatus::WrongNumber
    );
    assert!(complete(id, nonce).await.unwrap_err().is_rejection());

    // Denied: final, audited as possible fraud, and the user is told by email.
    let notices_before = h.sender.sent().len();
    let (id, _, n, nonce) = start().await;
    let answer = device.deny(&n, h.clock.now()).unwrap();
    assert_eq!(
        h.service.respond_push(&alice, &answer).await.unwrap(),
        PushStatus::Denied
    );
    assert!(
        h.audit
            .events()
            .iter()
            .any(|e| e.event == EventKind::PushDenied && e.factor.as_ref() == Some(&push))
    );
    let sent = h.sender.sent();
    assert_eq!(sent.len(), notices_before + 1);
    let notice = sent.last().unwrap();
    assert_eq!(notice.to().as_str(), "alice@example.com");
    assert!(
        notice.expose_body().contains("denied"),
        "{}",
        notice.expose_body()
    );
    assert!(complete(id, nonce).await.unwrap_err().is_rejection());

    // Unanswered past its lifetime: expired, and an answer then is refused.
    let (id, number, n, nonce) = start().await;
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        h.service.push_status(&alice, &id).await.unwrap(),
        PushStatus::Expired
    );
    let answer = device.approve(&n, &number, h.clock.now()).unwrap();
    assert!(h.service.respond_push(&alice, &answer).await.is_err());
    assert!(complete(id, nonce).await.unwrap_err().is_rejection());
}

#[tokio::test]
async fn notices_reach_the_contact_and_reset_removes_oob_factors() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (sms, session) = with_sms(&h, &alice, PHONE, PHONE, &password(h.clock.now())).await;
    // Confirming the SMS factor told its number.
    let notices = |h: &Harness<MemoryStore>| -> Vec<(String, String)> {
        h.sender
            .sent()
            .iter()
            .filter(|m| !m.expose_body().contains("verification code"))
            .map(|m| (m.to().as_str().to_owned(), m.expose_body().to_owned()))
            .collect()
    };
    let n = notices(&h);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].0, PHONE);
    assert!(n[0].1.contains("was added"));
    // With an email factor confirmed, notices go to the address first.
    add_email(&h, &alice, &session).await;
    let totp = h.begin_totp(&alice, "app", &session).await;
    h.service
        .remove_factor(&alice, &Subject::default(), &session, &totp.factor_id)
        .await
        .unwrap();
    let n = notices(&h);
    assert_eq!(n.len(), 3, "{n:?}");
    assert!(n[1..].iter().all(|(to, _)| to == "alice@example.com"));
    assert!(n[2].1.contains("was removed"));
    let listed = h.service.list_factors(&alice).await.unwrap();
    let masked: Vec<_> = listed.iter().map(|f| f.destination.clone()).collect();
    assert_eq!(
        masked,
        [
            Some(MASKED_PHONE.to_owned()),
            Some("a\u{2022}\u{2022}\u{2022}@example.com".to_owned())
        ]
    );

    // Reset: every OOB factor gone, the notice sent to the old address.
    let summary = h.service.admin().reset_user(&alice).await.unwrap();
    assert_eq!(summary.factors, 2);
    assert!(h.service.list_factors(&alice).await.unwrap().is_empty());
    let n = notices(&h);
    assert_eq!(n.len(), 4);
    assert_eq!(n[3].0, "alice@example.com");
    assert!(n[3].1.contains("reset") || n[3].1.contains("removed by an administrator"));
    assert!(
        h.service
            .start_challenge(&alice, &sms, &StartOptions::new())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn kinds_without_their_factor_are_not_configured() {
    let build = |with_codes: bool| {
        let b = mfa::Service::builder(
            MemoryStore::new(),
            mfa::policy::Policy::from_toml(POLICY).unwrap(),
            keys("k1"),
        );
        if with_codes {
            b.oob_codes(mfa::oob::OobFactor::new(keys("codes-1"), oob_config()))
                .build()
        } else {
            b.build()
        }
    };
    // Codes without a sender: refused at build time.
    assert!(matches!(build(true).unwrap_err(), Error::NotConfigured(_)));
    let service = build(false).unwrap();
    let alice = UserId::new("alice").unwrap();
    let session = password(mfa_core::SystemClock.now());
    let err = service
        .start_oob_enrollment(&alice, mfa::OobAddress::sms(PHONE, None), "p", &session)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotConfigured(_)), "{err:?}");
    let err = service
        .start_push_enrollment(&alice, "p", &session)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotConfigured(_)), "{err:?}");
    assert!(service.list_factors(&alice).await.unwrap().is_empty());
}

/// alice@example.com enrolled for `user` as "mail" under `session`, and confirmed.
async fn add_email<S: Store>(h: &Harness<S>, user: &UserId, session: &Session) {
    let address = mfa::OobAddress::email("alice@example.com");
    let e = start_oob(h, user, address, "mail", session).await;
    confirm_oob(h, user, e, "alice@example.com").await;
}
