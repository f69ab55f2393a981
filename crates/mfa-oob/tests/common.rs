//! Shared setup.

use mfa_core::{Channel, KeyId, Keyring, RejectReason, SecretBytes, Timestamp};
use mfa_oob::{Destination, Error, OobConfig, OobFactor, OobRecord, SendLimits, Templates};

pub(crate) const T0: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

pub(crate) fn at(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(T0.unix_secs() + secs)
}

pub(crate) fn config() -> OobConfig {
    let limits = SendLimits::new()
        .with_allowed_country_codes([1, 44, 49])
        .unwrap();
    OobConfig::new(Templates::new("Example", "example.com").unwrap()).with_limits(limits)
}

pub(crate) fn codes_with(config: OobConfig) -> OobFactor {
    let key = SecretBytes::from(vec![7u8; 32]);
    OobFactor::new(
        Keyring::new(KeyId::new("k1").unwrap(), key).unwrap(),
        config,
    )
}

pub(crate) fn codes() -> OobFactor {
    codes_with(config())
}

pub(crate) fn sms_record(codes: &OobFactor, number: &str) -> OobRecord {
    let d = Destination::parse(Channel::Sms, number, None).unwrap();
    codes.enroll(Channel::Sms, d).unwrap()
}

pub(crate) fn email_record(codes: &OobFactor, address: &str) -> OobRecord {
    let d = Destination::parse(Channel::Email, address, None).unwrap();
    codes.enroll(Channel::Email, d).unwrap()
}

/// The log-only reason of a rejection; panics on anything else.
#[track_caller]
pub(crate) fn reason<T: std::fmt::Debug>(r: Result<T, Error>) -> RejectReason {
    match r {
        Err(e) => {
            assert!(e.is_rejection(), "not a rejection: {e:?}");
            let core: mfa_core::Error = e.into();
            assert_eq!(core.to_string(), "verification failed");
            match core {
                mfa_core::Error::Rejected(r) => r.reason(),
                other => panic!("not a rejection: {other:?}"),
            }
        }
        Ok(v) => panic!("accepted: {v:?}"),
    }
}
