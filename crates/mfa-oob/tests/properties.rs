//! Property tests: decoding never panics and round-trips; normalisation is idempotent.

use mfa_core::{OsRandom, Timestamp};
use mfa_oob::testkit::SoftwareDevice;
use mfa_oob::{Answer, EmailAddress, PhoneNumber, PushResponse, TransactionId};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_decode_to_an_error_or_to_themselves(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(r) = PushResponse::decode(&bytes) {
            prop_assert_eq!(r.to_bytes(), bytes);
        }
    }

    #[test]
    fn signed_answers_round_trip(
        tx in any::<[u8; 32]>(),
        nonce in any::<[u8; 32]>(),
        approve in any::<bool>(),
        number in "[0-9]{1,8}",
        time in any::<u64>(),
    ) {
        let device = SoftwareDevice::new("d", "t", &mut OsRandom).unwrap();
        let tx = TransactionId::parse(&base64_url(&tx)).unwrap();
        let (answer, number) = if approve { (Answer::Approve, number) } else { (Answer::Deny, String::new()) };
        let r = device.answer(tx, nonce, answer, &number, Timestamp::from_unix_secs(time));
        let bytes = r.to_bytes();
        prop_assert_eq!(bytes.len(), 98 + number.len() + 64);
        let back = PushResponse::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(PushResponse::from_base64url(&r.to_base64url()).unwrap(), r);
    }

    #[test]
    fn email_normalisation_is_idempotent(s in "[A-Za-z0-9._+-]{1,20}@[A-Za-z0-9-]{1,10}\\.[A-Za-z]{2,6}") {
        if let Ok(a) = EmailAddress::parse(&s) {
            prop_assert_eq!(EmailAddress::parse(a.as_str()).unwrap(), a.clone());
            prop_assert!(a.masked().ends_with(a.domain()));
        }
    }

    #[test]
    fn phone_parsing_never_panics_and_e164_is_a_fixed_point(s in "[+]?[0-9 ().-]{0,30}", region in prop::sample::select(vec!["US", "GB", "DE", "IN", "BR", "JP"])) {
        if let Ok(n) = PhoneNumber::parse(&s, Some(region)) {
            prop_assert_eq!(PhoneNumber::parse(n.e164(), None).unwrap(), n.clone());
            let prefix = format!("+{} ", n.country_code());
            prop_assert!(n.masked().starts_with(&prefix));
        }
    }
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
