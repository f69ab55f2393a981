//! 64 requests at once through the service: one TOTP code, one recovery code, one
//! WebAuthn assertion, one SMS code and one approved push each succeed exactly once; 64
//! wrong codes count 64 failures and lock the factor.
//!
//! Written against any `Store` and two service instances: here both instances are one
//! service over the memory store; `postgres.rs` runs the same scenarios with two
//! instances over two connection pools on one PostgreSQL schema.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{
    self, Harness, POLICY, RACE_POLICY, code, enroll_push, enroll_recovery, harness_oob, keys,
    oob_config, password, register_key, start_oob, start_push, webauthn_assertion,
};
use mfa::oob::PushStatus;
use mfa::oob::testkit::SoftwareDevice;
use mfa::policy::input::Session;
use mfa::{Challenge, Error, OtpEnrollment, Response, Service};
use mfa_core::store::{FailureKey, Store};
use mfa_core::{Clock, FactorId, OsRandom, StartOptions, UserId};
use mfa_store::MemoryStore;
use tokio::sync::Barrier;

const N: usize = 64;

/// The instances a scenario's racers alternate between.
pub(crate) type Instances<S> = (Harness<S>, Arc<Service<S>>);

/// Releases `N` verifications at once, alternating between the two instances;
/// `verify` makes the call for one racer.
async fn race<S, F, Fut>(services: [&Arc<Service<S>>; 2], verify: F) -> Vec<Result<(), Error>>
where
    S: Store + 'static,
    F: Fn(Arc<Service<S>>) -> Fut,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(N));
    let mut tasks = Vec::new();
    for i in 0..N {
        let call = verify(services[i % 2].clone());
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            call.await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// TOTP enrolled and used once, 30 s ago: the next code is fresh.
async fn with_totp<S: Store + 'static>(h: &Harness<S>, user: &UserId) -> (OtpEnrollment, Session) {
    let out = common::with_totp(h, user).await;
    h.clock.advance(Duration::from_secs(30));
    out
}

/// `N` verifications of one code at once.
async fn race_code<S: Store + 'static>(
    services: [&Arc<Service<S>>; 2],
    user: &UserId,
    factor: &FactorId,
    code: &str,
) -> Vec<Result<(), Error>> {
    race(services, |service| {
        let (user, factor, code) = (user.clone(), factor.clone(), code.to_owned());
        async move {
            service
                .verify(&user, &factor, Response::Code(&code), &Session::default())
                .await
                .map(|_| ())
        }
    })
    .await
}

fn exactly_one_success(outcomes: &[Result<(), Error>]) {
    let ok = outcomes.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{outcomes:?}");
    for r in outcomes.iter().filter_map(|r| r.as_ref().err()) {
        assert!(r.is_rejection(), "every loser is a rejection: {r:?}");
    }
}

/// The generic scenarios, for any store.
pub(crate) async fn one_totp_code_once<S: Store + 'static>((h, second): Instances<S>) {
    let alice = UserId::new("alice").unwrap();
    let (e, _) = with_totp(&h, &alice).await;
    let c = code(&e, h.clock.now().unix_secs());
    exactly_one_success(&race_code([&h.service, &second], &alice, &e.factor_id, &c).await);
}

pub(crate) async fn one_recovery_code_once<S: Store + 'static>((h, second): Instances<S>) {
    let alice = UserId::new("alice").unwrap();
    let (_, aal2) = with_totp(&h, &alice).await;
    let set = enroll_recovery(&h, &alice, &aal2).await;
    let c = set.codes[3].expose_secret().to_owned();
    exactly_one_success(&race_code([&h.service, &second], &alice, &set.factor_id, &c).await);
    let listed = h.service.list_factors(&alice).await.unwrap();
    let rec = listed.iter().find(|f| f.id == set.factor_id).unwrap();
    assert_eq!(rec.remaining_codes, Some(9));
}

pub(crate) async fn one_assertion_once<S: Store + 'static>((h, second): Instances<S>) {
    let alice = UserId::new("alice").unwrap();
    let (_, aal2) = with_totp(&h, &alice).await;
    let (mut key, _, info) = register_key(&h, &alice, "key", &aal2).await;
    let (challenge_id, assertion) = webauthn_assertion(&h, &alice, &info.id, &mut key).await;
    let out = race([&h.service, &second], |service| {
        let (user, factor, cid, a) = (
            alice.clone(),
            info.id.clone(),
            challenge_id.clone(),
            assertion.clone(),
        );
        async move {
            let r = Response::WebAuthn {
                challenge_id: &cid,
                response: &a,
            };
            service
                .verify(&user, &factor, r, &Session::default())
                .await
                .map(|_| ())
        }
    })
    .await;
    exactly_one_success(&out);
}

pub(crate) async fn wrong_codes_count_and_lock<S: Store + 'static>((h, second): Instances<S>) {
    let alice = UserId::new("alice").unwrap();
    let (e, _) = with_totp(&h, &alice).await;
    let right = code(&e, h.clock.now().unix_secs());
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let outcomes = race_code([&h.service, &second], &alice, &e.factor_id, wrong).await;
    assert!(
        outcomes
            .iter()
            .all(|r| r.as_ref().is_err_and(Error::is_rejection))
    );
    let window = h.service.policy().failure_limits().window;
    let now = h.clock.now();
    let fails = h
        .service
        .store()
        .failures(&FailureKey::factor(&alice, &e.factor_id), now, window)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fails.count, 64);
    // Locked: even the right code is refused, unverified.
    let err = h
        .service
        .verify(
            &alice,
            &e.factor_id,
            Response::Code(&right),
            &Session::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    // At most max_consecutive of the 64 were verified; the rest were refused as locked.
    let locked = outcomes
        .iter()
        .filter(|r| matches!(r, Err(Error::Locked { .. })))
        .count();
    let max = h.service.policy().failure_limits().max_consecutive as usize;
    assert!(locked >= N - max, "{locked} refused unverified");
}

pub(crate) async fn one_sms_code_once<S: Store + 'static>((h, second): Instances<S>) {
    let alice = UserId::new("alice").unwrap();
    let e = start_oob(
        &h,
        &alice,
        mfa::OobAddress::sms("+12015550123", None),
        "phone",
        &password(h.clock.now()),
    )
    .await;
    second
        .finish_enrollment(
            &alice,
            &e.factor_id,
            &h.last_code_to("+12015550123"),
            &Session::default(),
        )
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(31));
    let Challenge::OobCode { challenge_id, .. } = h
        .service
        .start_challenge(&alice, &e.factor_id, &StartOptions::new())
        .await
        .unwrap()
    else {
        panic!("not a code challenge")
    };
    let code = h.last_code_to("+12015550123");
    let out = race([&h.service, &second], |service| {
        let (user, factor, id, code) = (
            alice.clone(),
            e.factor_id.clone(),
            challenge_id.clone(),
            code.clone(),
        );
        async move {
            let r = Response::OobCode {
                challenge_id: &id,
                code: &code,
            };
            service
                .verify(&user, &factor, r, &Session::default())
                .await
                .map(|_| ())
        }
    })
    .await;
    exactly_one_success(&out);
}

pub(crate) async fn one_push_once<S: Store + 'static>((h, second): Instances<S>) {
    let alice = UserId::new("alice").unwrap();
    let device = SoftwareDevice::new("phone", "fcm-token", &mut OsRandom).unwrap();
    let session = password(h.clock.now());
    let instances = [&*h.service, &*second];
    let info = enroll_push(instances, &alice, "phone", &session, &device).await;
    let (challenge_id, number, nonce) = start_push(&h, &alice, &info.id).await.unwrap();
    let notification = h.transport.sent().last().unwrap().clone();
    let answer = device
        .approve(&notification, &number, h.clock.now())
        .unwrap();
    assert_eq!(
        second.respond_push(&alice, &answer).await.unwrap(),
        PushStatus::Approved
    );
    assert_eq!(
        h.service.push_status(&alice, &challenge_id).await.unwrap(),
        PushStatus::Approved
    );
    let out = race([&h.service, &second], |service| {
        let (user, factor, id) = (alice.clone(), info.id.clone(), challenge_id.clone());
        let nonce = nonce.clone();
        async move {
            service
                .verify(
                    &user,
                    &factor,
                    Response::Push {
                        challenge_id: &id,
                        nonce: nonce.expose(),
                    },
                    &Session::default(),
                )
                .await
                .map(|_| ())
        }
    })
    .await;
    exactly_one_success(&out);
}

/// One memory store; both "instances" are the same service (the memory store cannot be
/// shared between two). Single-use races get a failure limit above `N`, so every racer
/// reaches the store and the single use is the store's alone.
fn memory(policy: &str) -> Instances<MemoryStore> {
    let h = harness_oob(MemoryStore::new(), keys("k1"), oob_config(), policy);
    let second = h.service.clone();
    (h, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_one_totp_code_once() {
    one_totp_code_once(memory(RACE_POLICY)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_one_recovery_code_once() {
    one_recovery_code_once(memory(RACE_POLICY)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_one_assertion_once() {
    one_assertion_once(memory(RACE_POLICY)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_wrong_codes_count_and_lock() {
    wrong_codes_count_and_lock(memory(POLICY)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_one_sms_code_once() {
    one_sms_code_once(memory(RACE_POLICY)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_one_push_once() {
    one_push_once(memory(RACE_POLICY)).await;
}
