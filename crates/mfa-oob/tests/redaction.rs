//! `Debug` never shows a code, a push token, a nonce, a code's hash or a device's
//! signature (issue 19): each type that holds one is formatted with `{:?}` and `{:#?}`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_core::{Factor, OsRandom, StartOptions};
use mfa_oob::testkit::SoftwareDevice;
use mfa_oob::{EnrollmentChallenge, PushConfig, PushFactor};

use crate::common::{T0, at, codes, sms_record};

const PUSH_TOKEN: &str = "push-token-do-not-log-4711";

/// Asserts that neither Debug form of `value` contains any of `secrets`, and that both
/// name the type and show the redaction marker.
#[track_caller]
fn assert_redacted(value: &impl std::fmt::Debug, name: &str, secrets: &[&str]) {
    for dbg in [format!("{value:?}"), format!("{value:#?}")] {
        for secret in secrets {
            assert!(!secret.is_empty());
            assert!(!dbg.contains(secret), "{secret:?} in {dbg}");
        }
        assert!(dbg.starts_with(name), "{dbg}");
        assert!(dbg.contains("[redacted]"), "{dbg}");
    }
}

/// A JSON member of a serialised value, as a string.
fn member(value: &impl serde::Serialize, name: &str) -> String {
    serde_json::to_value(value).unwrap()[name]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn oob_challenge_and_state_hide_the_code_its_hash_and_nonce() {
    let codes = codes();
    let record = sms_record(&codes, "+12015550123");
    let (ch, state) = codes
        .start(Some(&record), &StartOptions::new(), T0, &mut OsRandom)
        .unwrap();
    let message = ch.message().unwrap();
    let code = message.expose_code().to_owned();
    let nonce = member(&state, "nonce");
    let tag = member(&state, "tag");
    assert_redacted(&state, "OobState", &[&code, &nonce, &tag]);
    assert_redacted(&ch, "OobChallenge", &[&code, message.expose_body()]);
    assert_redacted(message, "OutgoingMessage", &[&code, message.expose_body()]);
    // Still useful: where it went and how many attempts are left.
    let dbg = format!("{state:?}");
    assert!(
        dbg.contains("+12015550123") && dbg.contains("max_attempts"),
        "{dbg}"
    );
}

#[test]
fn push_types_hide_the_token_nonce_and_signatures() {
    let push = PushFactor::new(PushConfig::default());
    let device = SoftwareDevice::new("Pixel", PUSH_TOKEN, &mut OsRandom).unwrap();
    let enrollment = EnrollmentChallenge::generate(&mut OsRandom).unwrap();
    let request = device.enrollment_request(&enrollment);
    assert_redacted(
        &request,
        "EnrollmentRequest",
        &[PUSH_TOKEN, &request.signature],
    );

    let record = push.enroll(&enrollment, &request, T0).unwrap();
    assert_redacted(&record, "PushRecord", &[PUSH_TOKEN]);
    assert!(format!("{record:?}").contains("Pixel"));

    let (mut ch, state) = push
        .start(Some(&record), &StartOptions::new(), T0, &mut OsRandom)
        .unwrap();
    let nonce = member(&state, "nonce");
    assert_redacted(&state, "PushState", &[&nonce]);
    assert_redacted(&ch, "PushChallenge", &[PUSH_TOKEN, &nonce]);

    let notification = ch.take_notification().unwrap();
    assert_eq!(notification.nonce, nonce);
    assert_redacted(&notification, "PushNotification", &[PUSH_TOKEN, &nonce]);
    let dbg = format!("{notification:?}");
    assert!(dbg.contains(&notification.transaction.encode()), "{dbg}");

    let response = device.approve(&notification, ch.number(), at(5)).unwrap();
    let bytes = response.to_bytes();
    let signature = &bytes[bytes.len() - 64..];
    let nonce_bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
    // The first bytes as a derived `Debug` of the array would start them.
    let array_start = format!("{:?}", &nonce_bytes[..4]);
    let array_start = array_start.trim_end_matches(']');
    let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
    assert_redacted(
        &response,
        "PushResponse",
        &[
            &nonce,
            &format!("{nonce_bytes:?}"),
            array_start,
            &hex,
            &hex.to_uppercase(),
            &URL_SAFE_NO_PAD.encode(signature),
        ],
    );
}
