//! otpauth:// URIs: a table of accepted and refused inputs, and parse ∘ build = identity
//! as a property.

use mfa_otp::{
    Algorithm, Digits, HotpParams, OtpAuthUri, OtpKind, Period, Secret, SecretError, TotpParams,
    UriError,
};
use proptest::prelude::*;

const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// Accepted spellings: (uri, issuer, account, algorithm, digits, kind).
#[test]
fn accepted_uris() {
    let cases: &[(&str, Option<&str>, &str, Algorithm, u8, OtpKind)] = &[
        (
            "otpauth://totp/ACME:jane?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            Some("ACME"),
            "jane",
            Algorithm::Sha1,
            6,
            OtpKind::Totp {
                period: Period::default(),
            },
        ),
        (
            "OTPAUTH://TOTP/ACME%3A%20jane?secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq&issuer=ACME",
            Some("ACME"),
            "jane",
            Algorithm::Sha1,
            6,
            OtpKind::Totp {
                period: Period::default(),
            },
        ),
        (
            "otpauth://totp/jane@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Big+Co&algorithm=sha256&digits=8&period=60",
            Some("Big Co"),
            "jane@example.com",
            Algorithm::Sha256,
            8,
            OtpKind::Totp {
                period: Period::new(60).unwrap(),
            },
        ),
        (
            "otpauth://hotp/Example:alice?secret=GEZD-GNBV GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ====&counter=18446744073709551615&algorithm=Sha512&digits=10&codeDisplay=x",
            Some("Example"),
            "alice",
            Algorithm::Sha512,
            10,
            OtpKind::Hotp { counter: u64::MAX },
        ),
        (
            "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&image=https%3A%2F%2Fexample.com%2Flogo.png#frag",
            None,
            "alice",
            Algorithm::Sha1,
            6,
            OtpKind::Totp {
                period: Period::default(),
            },
        ),
    ];
    for (i, &(text, issuer, account, algorithm, digits, kind)) in cases.iter().enumerate() {
        let uri = OtpAuthUri::parse(text).unwrap_or_else(|e| panic!("#{i} {text}: {e}"));
        assert_eq!(uri.issuer(), issuer, "#{i}");
        assert_eq!(uri.account(), account, "#{i}");
        assert_eq!(uri.algorithm(), algorithm, "#{i}");
        assert_eq!(uri.digits().get(), digits, "#{i}");
        assert_eq!(uri.kind(), kind, "#{i}");
        assert_eq!(uri.secret(), &Secret::from_base32(SECRET).unwrap(), "#{i}");
        assert_eq!(
            OtpAuthUri::parse(&uri.to_uri_string()).unwrap(),
            uri,
            "#{i}"
        );
    }
    let with_image = OtpAuthUri::parse(cases[4].0).unwrap();
    assert_eq!(with_image.image(), Some("https://example.com/logo.png"));
}

#[test]
fn refused_uris_name_the_problem() {
    let s = SECRET;
    let cases: Vec<(String, UriError)> = vec![
        (format!("http://totp/a?secret={s}"), UriError::Scheme),
        (
            format!("otpauth://motp/a?secret={s}"),
            UriError::Type("motp".into()),
        ),
        (format!("otpauth://totp?secret={s}"), UriError::MissingLabel),
        (
            format!("otpauth://totp/?secret={s}"),
            UriError::Account("is empty"),
        ),
        (
            format!("otpauth://totp/A:?secret={s}"),
            UriError::Account("is empty"),
        ),
        ("otpauth://totp/a?issuer=A".into(), UriError::MissingSecret),
        (
            "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP".into(),
            UriError::Secret(SecretError::TooShort { bits: 80 }),
        ),
        (
            "otpauth://totp/a?secret=GEZ1".into(),
            UriError::Secret(SecretError::InvalidCharacter {
                character: '1',
                position: 3,
            }),
        ),
        (
            format!("otpauth://totp/a?secret={s}&algorithm=MD5"),
            UriError::Algorithm("MD5".into()),
        ),
        (
            format!("otpauth://totp/a?secret={s}&digits=5"),
            UriError::Digits("5".into()),
        ),
        (
            format!("otpauth://totp/a?secret={s}&digits=11"),
            UriError::Digits("11".into()),
        ),
        (
            format!("otpauth://totp/a?secret={s}&digits=six"),
            UriError::Digits("six".into()),
        ),
        (
            format!("otpauth://totp/a?secret={s}&period=0"),
            UriError::Period("0".into()),
        ),
        (
            format!("otpauth://totp/a?secret={s}&period=-30"),
            UriError::Period("-30".into()),
        ),
        (
            format!("otpauth://hotp/a?secret={s}"),
            UriError::MissingCounter,
        ),
        (
            format!("otpauth://hotp/a?secret={s}&counter=18446744073709551616"),
            UriError::Counter("18446744073709551616".into()),
        ),
        (
            format!("otpauth://totp/A:a?secret={s}&issuer=B"),
            UriError::IssuerMismatch {
                label: "A".into(),
                parameter: "B".into(),
            },
        ),
        (
            format!("otpauth://totp/a?secret={s}&secret={s}"),
            UriError::DuplicateParameter("secret"),
        ),
        (
            format!("otpauth://totp/a?secret={s}&digits"),
            UriError::Parameter("digits".into()),
        ),
        (
            format!("otpauth://totp/a%zz?secret={s}"),
            UriError::PercentEncoding("label"),
        ),
        (
            format!("otpauth://totp/a%ff?secret={s}"),
            UriError::PercentEncoding("label"),
        ),
        (
            format!("otpauth://totp/a?secret={s}&issuer=%"),
            UriError::PercentEncoding("query"),
        ),
        (
            format!("otpauth://totp/A:b:c?secret={s}"),
            UriError::Account("contains ':', the label separator"),
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let err = OtpAuthUri::parse(text).unwrap_err();
        assert_eq!(&err, expected, "#{i} {text}");
        assert!(
            err.to_string().starts_with("invalid otpauth uri: "),
            "{err}"
        );
    }
    // Legacy short keys through the named door only.
    let legacy =
        OtpAuthUri::danger_parse_allow_short_secret("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP")
            .unwrap();
    assert_eq!(legacy.secret().len(), 10);
}

#[test]
fn building_refuses_labels_that_would_not_parse_back() {
    let secret = || Secret::from_base32(SECRET).unwrap();
    let p = TotpParams::default();
    assert!(OtpAuthUri::totp(secret(), p, Some("A:B"), "a").is_err());
    assert!(OtpAuthUri::totp(secret(), p, None, "a:b").is_err());
    assert!(OtpAuthUri::totp(secret(), p, None, " a").is_err());
    assert!(OtpAuthUri::totp(secret(), p, Some(""), "a").is_err());
    assert_eq!(
        OtpAuthUri::totp(secret(), TotpParams { t0: 1, ..p }, None, "a").unwrap_err(),
        UriError::T0
    );
    let uri = OtpAuthUri::hotp(secret(), HotpParams::default(), 5, Some("Ex"), "a").unwrap();
    assert_eq!(uri.to_hotp_record().unwrap().counter, 5);
    assert!(uri.to_totp_record().is_err());
}

fn label_part() -> impl Strategy<Value = String> {
    // Any characters but ':', without surrounding white space, non-empty.
    "[^:]{1,24}".prop_filter("trimmed and non-empty", |s| !s.is_empty() && s.trim() == s)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_of_build_is_identity(
        key in proptest::collection::vec(any::<u8>(), 16..64),
        issuer in proptest::option::of(label_part()),
        account in label_part(),
        algorithm in prop::sample::select(Algorithm::ALL.to_vec()),
        digits in 6u8..=10,
        period in 1u64..=u64::MAX,
        counter in proptest::option::of(any::<u64>()),
        image in proptest::option::of(".{0,40}"),
    ) {
        let secret = Secret::from_bytes(key).unwrap();
        let digits = Digits::new(digits).unwrap();
        let mut uri = match counter {
            Some(counter) => OtpAuthUri::hotp(secret, HotpParams { algorithm, digits }, counter, issuer.as_deref(), &account),
            None => OtpAuthUri::totp(secret, TotpParams { algorithm, digits, period: Period::new(period).unwrap(), t0: 0 }, issuer.as_deref(), &account),
        }.unwrap();
        if let Some(image) = &image {
            uri = uri.with_image(image);
        }
        let text = uri.to_uri_string();
        let parsed = OtpAuthUri::parse(&text).unwrap();
        prop_assert_eq!(&parsed, &uri);
        prop_assert_eq!(parsed.to_uri_string(), text);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics_and_is_stable(text in "otpauth://(totp|hotp)/[ -~]{0,60}") {
        if let Ok(uri) = OtpAuthUri::danger_parse_allow_short_secret(&text) {
            let again = OtpAuthUri::danger_parse_allow_short_secret(&uri.to_uri_string()).unwrap();
            prop_assert_eq!(again, uri);
        }
    }
}
