//! Push approval: enrollment, number matching, denial, replay, tampering, encodings.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_core::{
    AuthMethod, Channel, Factor, OsRandom, RejectReason, SignInContext, StartOptions, Timestamp,
    UserVerification,
};
use mfa_oob::testkit::{RecordingTransport, SoftwareDevice};
use mfa_oob::{
    Answer, EncodingError, EnrollmentChallenge, Error, PushChallenge, PushConfig, PushFactor,
    PushNotification, PushRecord, PushResponse, PushState, PushStatus, PushTransport,
    TransactionId,
};

use crate::common::{T0, at, reason};

struct Setup {
    push: PushFactor,
    device: SoftwareDevice,
    record: PushRecord,
}

fn setup() -> Setup {
    let push = PushFactor::new(PushConfig::default());
    let device = SoftwareDevice::new("Pixel", "token-1", &mut OsRandom).unwrap();
    let challenge = EnrollmentChallenge::generate(&mut OsRandom).unwrap();
    let record = push
        .enroll(&challenge, &device.enrollment_request(&challenge), T0)
        .unwrap();
    Setup {
        push,
        device,
        record,
    }
}

fn begin(s: &Setup) -> (PushChallenge, PushState, PushNotification) {
    let ctx = SignInContext::new()
        .with_application("Payroll")
        .with_client_ip("192.0.2.7".parse().unwrap())
        .with_location("Berlin, DE");
    let (mut ch, state) = s
        .push
        .start(
            Some(&s.record),
            &StartOptions::new().with_context(ctx),
            T0,
            &mut OsRandom,
        )
        .unwrap();
    let n = ch.take_notification().unwrap();
    (ch, state, n)
}

fn other_number(n: &str) -> String {
    if n == "00" { "01".into() } else { "00".into() }
}

#[test]
fn approve_with_the_right_number_then_complete_once() {
    let s = setup();
    let (ch, state, n) = begin(&s);
    assert_eq!(ch.number().len(), 2);
    assert_eq!(ch.expires_at(), at(120));
    assert_eq!(n.push_token, "token-1");
    assert_eq!(n.context.application.as_deref(), Some("Payroll"));
    assert_eq!(n.digits, 2);
    // The device is not told the number.
    let pushed = serde_json::to_string(&n).unwrap();
    assert!(
        !pushed.contains(&format!("\"{}\"", ch.number())),
        "{pushed}"
    );
    let page = serde_json::to_value(&ch).unwrap();
    assert_eq!(page["number"], ch.number());
    assert!(page.get("notification").is_none());
    assert_eq!(
        ch.transaction().challenge_id().unwrap().as_str(),
        ch.transaction().encode()
    );

    assert_eq!(s.push.status(&state, at(1)), PushStatus::Pending);
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<PushState>(&json).unwrap(), state);
    let pending = s
        .push
        .verify(&s.record, &state, &ch.transaction(), at(1), &mut OsRandom);
    let err = pending.unwrap_err();
    assert!(matches!(err, Error::Pending) && !err.is_rejection());

    let resp = s.device.approve(&n, ch.number(), at(10)).unwrap();
    let state2 = s
        .push
        .record_response(&s.record, &state, &resp, at(10))
        .unwrap();
    assert_eq!(s.push.status(&state2, at(11)), PushStatus::Approved);
    // The state round-trips through the store.
    let stored: PushState = serde_json::from_str(&serde_json::to_string(&state2).unwrap()).unwrap();
    assert_eq!(stored, state2);
    let ok = s
        .push
        .verify(&s.record, &stored, &ch.transaction(), at(12), &mut OsRandom)
        .unwrap();
    assert_eq!(ok.methods, [AuthMethod::Swk]);
    assert_eq!(ok.details.approved_at, at(10));
    assert_eq!(ok.details.device_name, "Pixel");
    // The completion window runs from the approval: 60 s.
    assert_eq!(s.push.status(&state2, at(71)), PushStatus::Expired);
    assert_eq!(
        reason(
            s.push
                .verify(&s.record, &state2, &ch.transaction(), at(71), &mut OsRandom)
        ),
        RejectReason::Expired
    );
}

#[test]
fn a_replayed_approval_is_refused() {
    let s = setup();
    let (ch, state, n) = begin(&s);
    let resp = s.device.approve(&n, ch.number(), at(10)).unwrap();
    let decided = s
        .push
        .record_response(&s.record, &state, &resp, at(10))
        .unwrap();
    // The same answer again, on the stored (decided) state.
    assert_eq!(
        reason(s.push.record_response(&s.record, &decided, &resp, at(11))),
        RejectReason::Replay
    );
    // The same answer for a new transaction: another id and nonce.
    let (_, state_b, _) = begin(&s);
    assert_eq!(
        reason(s.push.record_response(&s.record, &state_b, &resp, at(11))),
        RejectReason::BindingMismatch
    );
    // Right transaction id, wrong nonce (signed by the real device).
    let mut other_nonce = [0u8; 32];
    other_nonce[0] = 1;
    let forged = s.device.answer(
        state_b.transaction(),
        other_nonce,
        Answer::Approve,
        "12",
        at(11),
    );
    assert_eq!(
        reason(s.push.record_response(&s.record, &state_b, &forged, at(11))),
        RejectReason::BindingMismatch
    );
    // Completing another transaction with this state.
    let tx = TransactionId::generate(&mut OsRandom).unwrap();
    assert_eq!(
        reason(
            s.push
                .verify(&s.record, &decided, &tx, at(12), &mut OsRandom)
        ),
        RejectReason::BindingMismatch
    );
}

#[test]
fn a_wrong_number_is_final() {
    let s = setup();
    let (ch, state, n) = begin(&s);
    let wrong = other_number(ch.number());
    let resp = s.device.approve(&n, &wrong, at(5)).unwrap();
    let state = s
        .push
        .record_response(&s.record, &state, &resp, at(5))
        .unwrap();
    assert_eq!(s.push.status(&state, at(6)), PushStatus::WrongNumber);
    assert_eq!(
        reason(
            s.push
                .verify(&s.record, &state, &ch.transaction(), at(6), &mut OsRandom)
        ),
        RejectReason::WrongCode
    );
    // A second try with the right number does not land.
    let right = s.device.approve(&n, ch.number(), at(7)).unwrap();
    assert_eq!(
        reason(s.push.record_response(&s.record, &state, &right, at(7))),
        RejectReason::Replay
    );
    // A number of the wrong length is a wrong number too.
    let (ch, state, n) = begin(&s);
    let long = format!("{}0", ch.number());
    let resp = s.device.approve(&n, &long, at(5)).unwrap();
    let state = s
        .push
        .record_response(&s.record, &state, &resp, at(5))
        .unwrap();
    assert_eq!(s.push.status(&state, at(6)), PushStatus::WrongNumber);
}

#[test]
fn a_denial_is_reported_as_such_and_is_final() {
    let s = setup();
    let (ch, state, n) = begin(&s);
    let resp = s.device.deny(&n, at(3)).unwrap();
    assert_eq!(resp.answer(), Answer::Deny);
    assert_eq!(resp.number(), "");
    let state = s
        .push
        .record_response(&s.record, &state, &resp, at(3))
        .unwrap();
    assert_eq!(s.push.status(&state, at(4)), PushStatus::Denied);
    // Still denied after the expiry: the audit-worthy outcome does not decay.
    assert_eq!(s.push.status(&state, at(500)), PushStatus::Denied);
    let err = s
        .push
        .verify(&s.record, &state, &ch.transaction(), at(4), &mut OsRandom)
        .unwrap_err();
    assert_eq!(err.reject_reason(), Some(RejectReason::Denied));
    assert_eq!(reason(Err::<(), _>(err)), RejectReason::Denied);
    let approve = s.device.approve(&n, ch.number(), at(5)).unwrap();
    assert_eq!(
        reason(s.push.record_response(&s.record, &state, &approve, at(5))),
        RejectReason::Replay
    );
}

#[test]
fn tampered_signatures_and_other_devices_are_refused() {
    let s = setup();
    let (ch, state, n) = begin(&s);
    let resp = s.device.approve(&n, ch.number(), at(5)).unwrap();
    let bytes = resp.to_bytes();
    // Flip one bit in each signed field and in the signature.
    for i in [
        30,
        60,
        90,
        bytes.len() - 70,
        bytes.len() - 1,
        bytes.len() - 40,
    ] {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        match PushResponse::decode(&t) {
            Ok(r) => {
                let got = s.push.record_response(&s.record, &state, &r, at(5));
                let why = reason(got);
                assert!(
                    matches!(
                        why,
                        RejectReason::BadSignature | RejectReason::BindingMismatch
                    ),
                    "byte {i}: {why:?}"
                );
            }
            Err(e) => assert!(Error::from(e).is_rejection(), "byte {i}"),
        }
    }
    // A number changed after signing (the digit byte at offset 90).
    let mut t = bytes.clone();
    t[90] = if t[90] == b'9' { b'8' } else { t[90] + 1 };
    let r = PushResponse::decode(&t).unwrap();
    assert_eq!(
        reason(s.push.record_response(&s.record, &state, &r, at(5))),
        RejectReason::BadSignature
    );
    // Another enrolled device answering this device's transaction.
    let thief = SoftwareDevice::new("Other", "token-2", &mut OsRandom).unwrap();
    let forged = thief.approve(&n, ch.number(), at(5)).unwrap();
    assert_eq!(
        reason(s.push.record_response(&s.record, &state, &forged, at(5))),
        RejectReason::BadSignature
    );
    let c = EnrollmentChallenge::generate(&mut OsRandom).unwrap();
    let thief_record = s
        .push
        .enroll(&c, &thief.enrollment_request(&c), T0)
        .unwrap();
    assert_eq!(
        reason(
            s.push
                .record_response(&thief_record, &state, &forged, at(5))
        ),
        RejectReason::BindingMismatch
    );
}

#[test]
fn expiry_and_device_time_are_checked() {
    let s = setup();
    let (ch, state, n) = begin(&s);
    let late = s.device.approve(&n, ch.number(), at(121)).unwrap();
    assert_eq!(
        reason(s.push.record_response(&s.record, &state, &late, at(121))),
        RejectReason::Expired
    );
    assert_eq!(s.push.status(&state, at(121)), PushStatus::Expired);
    assert_eq!(
        reason(
            s.push
                .verify(&s.record, &state, &ch.transaction(), at(121), &mut OsRandom)
        ),
        RejectReason::Expired
    );
    // Device clocks 5 minutes off are tolerated; more is not.
    let skewed = s.device.approve(&n, ch.number(), at(10 + 300)).unwrap();
    assert!(
        s.push
            .record_response(&s.record, &state, &skewed, at(10))
            .is_ok()
    );
    let far = s.device.approve(&n, ch.number(), at(10 + 301)).unwrap();
    assert_eq!(
        reason(s.push.record_response(&s.record, &state, &far, at(10))),
        RejectReason::Expired
    );
    let old = s
        .device
        .approve(
            &n,
            ch.number(),
            Timestamp::from_unix_secs(T0.unix_secs() - 301),
        )
        .unwrap();
    assert_eq!(
        reason(s.push.record_response(&s.record, &state, &old, at(10))),
        RejectReason::Expired
    );
}

#[test]
fn enrollment_needs_a_signature_by_the_registered_key() {
    let push = PushFactor::default();
    let device = SoftwareDevice::new("Pixel", "token-1", &mut OsRandom).unwrap();
    let c = EnrollmentChallenge::generate(&mut OsRandom).unwrap();
    let good = device.enrollment_request(&c);
    let rec = push.enroll(&c, &good, T0).unwrap();
    assert_eq!(rec.device_name(), "Pixel");
    assert_eq!(rec.push_token(), "token-1");
    assert_eq!(rec.public_key(), &device.public_key());
    let json = serde_json::to_string(&rec).unwrap();
    assert_eq!(serde_json::from_str::<PushRecord>(&json).unwrap(), rec);
    // Another challenge (a replayed enrollment).
    let other = EnrollmentChallenge::generate(&mut OsRandom).unwrap();
    assert_eq!(
        reason(push.enroll(&other, &good, T0)),
        RejectReason::BadSignature
    );
    // Someone else's key with this device's signature.
    let mut swapped = good.clone();
    swapped.public_key = SoftwareDevice::new("x", "y", &mut OsRandom)
        .unwrap()
        .public_key();
    assert_eq!(
        reason(push.enroll(&c, &swapped, T0)),
        RejectReason::BadSignature
    );
    let mut garbled = good.clone();
    garbled.signature = "not base64!".into();
    assert_eq!(
        reason(push.enroll(&c, &garbled, T0)),
        RejectReason::Malformed
    );
    let mut unnamed = good.clone();
    unnamed.device_name = "  ".into();
    assert!(matches!(
        push.enroll(&c, &unnamed, T0),
        Err(Error::Invalid(_))
    ));
    let mut tokenless = good;
    tokenless.push_token = String::new();
    assert!(matches!(
        push.enroll(&c, &tokenless, T0),
        Err(Error::Invalid(_))
    ));
    // The JSON form refuses unknown fields and bad keys.
    let bad = r#"{"public_key":"AAAA","device_name":"x","push_token":"t","signature":"x"}"#;
    assert!(serde_json::from_str::<mfa_oob::EnrollmentRequest>(bad).is_err());
}

#[test]
fn start_refuses_what_a_push_cannot_honour() {
    let s = setup();
    for opts in [
        StartOptions::new().with_channel(Channel::Sms),
        StartOptions::new().with_user_verification(UserVerification::Required),
        StartOptions::new().with_conditional_mediation(true),
    ] {
        let err = s
            .push
            .start(Some(&s.record), &opts, T0, &mut OsRandom)
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    }
    assert!(
        s.push
            .start(None, &StartOptions::new(), T0, &mut OsRandom)
            .is_err()
    );
    assert!(PushConfig::new().with_digits(1).is_err());
    assert!(PushConfig::new().with_digits(9).is_err());
    assert!(PushConfig::new().with_ttl(Duration::from_secs(29)).is_err());
    assert!(
        PushConfig::new()
            .with_completion_window(Duration::from_secs(5))
            .is_err()
    );
    assert!(
        PushConfig::new()
            .with_clock_skew(Duration::from_secs(3601))
            .is_err()
    );
    let six = PushFactor::new(PushConfig::new().with_digits(6).unwrap());
    let (ch, _) = six
        .start(Some(&s.record), &StartOptions::new(), T0, &mut OsRandom)
        .unwrap();
    assert_eq!(ch.number().len(), 6);
}

#[test]
fn bad_encodings_are_typed_errors() {
    let s = setup();
    let (ch, _, n) = begin(&s);
    let good = s.device.approve(&n, ch.number(), at(1)).unwrap().to_bytes();
    assert_eq!(good.len(), 98 + 2 + 64);
    assert_eq!(PushResponse::decode(&good).unwrap().to_bytes(), good);
    let deny = s.device.deny(&n, at(1)).unwrap().to_bytes();
    assert_eq!(deny.len(), 98 + 64);

    let with = |i: usize, b: u8| {
        let mut v = good.clone();
        v[i] = b;
        v
    };
    let mut approve_no_number = deny.clone();
    approve_no_number[88] = 1;
    let mut deny_with_number = good.clone();
    deny_with_number[88] = 2;
    let mut zero_sig = good.clone();
    let l = zero_sig.len();
    zero_sig[l - 64..].fill(0);
    let cases: Vec<(&str, Vec<u8>, EncodingError)> = vec![
        ("empty", vec![], EncodingError::Truncated),
        ("domain only", good[..24].to_vec(), EncodingError::Truncated),
        ("other domain", with(0, b'x'), EncodingError::Domain),
        ("decision 0", with(88, 0), EncodingError::Decision(0)),
        ("decision 3", with(88, 3), EncodingError::Decision(3)),
        ("9 digits", with(89, 9), EncodingError::Number),
        ("non-digit", with(90, b'a'), EncodingError::Number),
        (
            "approve without number",
            approve_no_number,
            EncodingError::AnswerNumberMismatch,
        ),
        (
            "deny with number",
            deny_with_number,
            EncodingError::AnswerNumberMismatch,
        ),
        (
            "one byte short",
            good[..good.len() - 1].to_vec(),
            EncodingError::Length {
                expected: good.len(),
                found: good.len() - 1,
            },
        ),
        (
            "one byte long",
            [good.as_slice(), &[0]].concat(),
            EncodingError::Length {
                expected: good.len(),
                found: good.len() + 1,
            },
        ),
        ("zero signature", zero_sig, EncodingError::Signature),
    ];
    for (name, bytes, want) in cases {
        let got = PushResponse::decode(&bytes).unwrap_err();
        assert_eq!(got, want, "{name}");
        let e = Error::from(got);
        assert!(e.is_rejection(), "{name}");
        assert_eq!(e.reject_reason(), Some(RejectReason::Malformed));
    }
    let text = URL_SAFE_NO_PAD.encode(&good);
    assert_eq!(
        PushResponse::from_base64url(&text).unwrap().to_base64url(),
        text
    );
    for bad in [
        format!("{text}="),
        format!(" {text}"),
        format!("+{}", &text[1..]),
        "!".into(),
    ] {
        assert!(PushResponse::from_base64url(&bad).is_err(), "{bad:?}");
    }
    assert!(matches!(
        PushResponse::from_base64url(&"A".repeat(10_000)),
        Err(EncodingError::Length { .. })
    ));
}

#[tokio::test]
async fn the_transport_carries_the_notification_to_the_device() {
    let s = setup();
    let transport = RecordingTransport::new();
    let (ch, state, mut n) = begin(&s);
    assert_eq!(n.account, None);
    n.account = Some("alice@example.com".into()); // the service knows the user
    transport.push(&n).await.unwrap();
    let delivered = transport.sent().pop().unwrap();
    // As the device would receive it, over JSON.
    let json = serde_json::to_string(&delivered).unwrap();
    let on_device: PushNotification = serde_json::from_str(&json).unwrap();
    assert_eq!(on_device.account.as_deref(), Some("alice@example.com"));
    let resp = s.device.approve(&on_device, ch.number(), at(2)).unwrap();
    let state = s
        .push
        .record_response(&s.record, &state, &resp, at(2))
        .unwrap();
    assert_eq!(s.push.status(&state, at(2)), PushStatus::Approved);
}
