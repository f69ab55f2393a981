//! The pure limit decisions, as tables.

use std::time::Duration;

use mfa_core::Channel;
use mfa_oob::{
    CountryCodes, Destination, LimitError, PushCounts, PushLimits, SendCounts, SendLimits,
};

use crate::common::{T0, at};

#[test]
fn hourly_caps_allow_the_nth_send_and_refuse_the_next() {
    let limits = SendLimits::new().with_hourly_caps(5, 10, 20).unwrap();
    // (destination, user, ip, expected)
    let table: &[(u32, u32, Option<u32>, Option<LimitError>)] = &[
        (1, 1, Some(1), None),
        (5, 10, Some(20), None),
        (5, 10, None, None),
        (6, 1, Some(1), Some(LimitError::DestinationCap { max: 5 })),
        (1, 11, Some(1), Some(LimitError::UserCap { max: 10 })),
        (1, 1, Some(21), Some(LimitError::ClientIpCap { max: 20 })),
        // The first cap exceeded is reported: destination before user before IP.
        (6, 11, Some(21), Some(LimitError::DestinationCap { max: 5 })),
        (1, 11, Some(21), Some(LimitError::UserCap { max: 10 })),
    ];
    for (i, (d, u, ip, want)) in table.iter().enumerate() {
        let got = limits.check_send(&SendCounts::new(*d, *u, *ip)).err();
        assert_eq!(&got, want, "row {i}");
    }
    assert!(SendLimits::new().with_hourly_caps(0, 1, 1).is_err());
    assert_eq!(SendLimits::WINDOW, Duration::from_secs(3600));
}

#[test]
fn cooldown_counts_from_the_last_send() {
    let limits = SendLimits::new().with_cooldown(Duration::from_secs(30));
    assert!(limits.check_cooldown(None, T0).is_ok());
    assert_eq!(
        limits.check_cooldown(Some(T0), at(10)),
        Err(LimitError::Cooldown {
            retry_after: Duration::from_secs(20)
        })
    );
    assert!(limits.check_cooldown(Some(T0), at(30)).is_ok());
    // A last send "in the future" (clock skew between instances) waits the full time.
    assert_eq!(
        limits.check_cooldown(Some(at(100)), at(50)),
        Err(LimitError::Cooldown {
            retry_after: Duration::from_secs(30)
        })
    );
}

#[test]
fn country_allow_list() {
    let limits = SendLimits::new()
        .with_allowed_country_codes([1, 44])
        .unwrap();
    assert_eq!(
        limits.countries(),
        &CountryCodes::Only([1, 44].into_iter().collect())
    );
    let ok = Destination::parse(Channel::Sms, "+44 7400 123456", None).unwrap();
    let de = Destination::parse(Channel::Sms, "+49 1512 3456789", None).unwrap();
    let mail = Destination::parse(Channel::Email, "a@example.de", None).unwrap();
    assert!(limits.check_destination(&ok).is_ok());
    assert!(limits.check_destination(&mail).is_ok());
    let err = limits.check_destination(&de).unwrap_err();
    assert_eq!(
        err.to_string(),
        "phone numbers with country calling code +49 are not accepted"
    );
    assert!(SendLimits::new().check_destination(&ok).is_err());
    assert!(
        SendLimits::new()
            .danger_allow_all_countries()
            .check_destination(&de)
            .is_ok()
    );
    assert!(SendLimits::new().with_allowed_country_codes([0]).is_err());
    assert!(
        SendLimits::new()
            .with_allowed_country_codes([1000])
            .is_err()
    );
    assert!(SendLimits::new().with_max_sends_per_challenge(0).is_err());
}

#[test]
fn push_fatigue_limits() {
    let limits = PushLimits::new(2, 5).unwrap();
    // Both counts include the push being decided: a limit of n lets n out.
    let table: &[(u32, u32, Option<LimitError>)] = &[
        (1, 1, None),
        (2, 5, None),
        (3, 1, Some(LimitError::PendingPushes { max: 2 })),
        (1, 6, Some(LimitError::PushesSinceSuccess { max: 5 })),
        (3, 6, Some(LimitError::PendingPushes { max: 2 })),
    ];
    for (i, (pending, since, want)) in table.iter().enumerate() {
        let got = limits.check(&PushCounts::new(*pending, *since)).err();
        assert_eq!(&got, want, "row {i}");
    }
    assert_eq!(PushLimits::default(), limits);
    assert!(PushLimits::new(0, 1).is_err());
    assert!(PushLimits::new(1, 0).is_err());
}
