//! Device answers to a push: arbitrary bytes, arbitrary text, and bit flips of a real
//! signed approval are decoded and recorded against a pending transaction. Properties,
//! beyond "no panic":
//! - a response that decodes re-encodes to exactly the same bytes (and text);
//! - recording one either fails with a rejection (never another error) or succeeds,
//!   and success needs the device's signature over exactly the signed bytes of a real
//!   answer: any change to the signed part is refused.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mfa_core::{Factor, OsRandom, StartOptions, Timestamp};
use mfa_oob::testkit::SoftwareDevice;
use mfa_oob::{EnrollmentChallenge, PushFactor, PushRecord, PushResponse, PushState};

struct Fixture {
    push: PushFactor,
    record: PushRecord,
    state: PushState,
    approve: PushResponse,
    deny: PushResponse,
}

const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let push = PushFactor::default();
        let device = SoftwareDevice::new("fuzz", "token", &mut OsRandom).unwrap();
        let c = EnrollmentChallenge::generate(&mut OsRandom).unwrap();
        let record = push
            .enroll(&c, &device.enrollment_request(&c), NOW)
            .unwrap();
        let (mut ch, state) = push
            .start(Some(&record), &StartOptions::new(), NOW, &mut OsRandom)
            .unwrap();
        let n = ch.take_notification().unwrap();
        let approve = device.approve(&n, ch.number(), NOW).unwrap();
        let deny = device.deny(&n, NOW).unwrap();
        Fixture {
            push,
            record,
            state,
            approve,
            deny,
        }
    })
}

fn check(fx: &Fixture, bytes: &[u8]) {
    let Ok(r) = PushResponse::decode(bytes) else {
        return;
    };
    assert_eq!(r.to_bytes(), bytes, "decoding is not canonical");
    match fx.push.record_response(&fx.record, &fx.state, &r, NOW) {
        Ok(_) => {
            let signed = r.signed_bytes();
            assert!(
                signed == fx.approve.signed_bytes() || signed == fx.deny.signed_bytes(),
                "an answer the device never signed was recorded"
            );
        }
        Err(e) => assert!(e.is_rejection(), "not a rejection: {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    check(fx, data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(r) = PushResponse::from_base64url(text)
    {
        assert_eq!(r.to_base64url(), text);
        check(fx, &r.to_bytes());
    }
    // Bit flips of a real approval: the first byte picks approve or deny, the rest is
    // XORed in.
    if let Some((&pick, mask)) = data.split_first() {
        let real = if pick & 1 == 0 { &fx.approve } else { &fx.deny };
        let mut bytes = real.to_bytes();
        for (b, m) in bytes.iter_mut().zip(mask) {
            *b ^= m;
        }
        check(fx, &bytes);
    }
});
