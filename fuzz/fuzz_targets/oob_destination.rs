//! Phone numbers and email addresses as users type them. Properties, beyond "no panic":
//! - an accepted phone number's E.164 form parses to itself, without a region and with
//!   every region (so what is enrolled is what the service reads back), as do its
//!   international-dialling forms from the UK (`00…`) and the US (`011…`); its serde
//!   form round-trips; its masked form starts with its country code and shows at most
//!   its last four digits;
//! - an accepted email address is normalised (parsing it again gives it back), within
//!   the length limit, and round-trips through serde;
//! - a destination parsed for a channel accepts that channel.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_core::Channel;
use mfa_oob::{Destination, EmailAddress, MASK, PhoneNumber};

const REGIONS: [Option<&str>; 8] = [
    None,
    Some("US"),
    Some("GB"),
    Some("DE"),
    Some("IT"),
    Some("IN"),
    Some("BR"),
    Some("zz"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    let region = REGIONS[usize::from(pick) % REGIONS.len()];
    if let Ok(n) = PhoneNumber::parse(s, region) {
        assert!(n.e164().starts_with('+') && n.e164().len() <= 16);
        // Accepted -> E.164 -> parsed again -> the same number, whatever the region.
        for again in REGIONS.into_iter().filter(|r| *r != Some("zz")) {
            assert_eq!(
                PhoneNumber::parse(n.e164(), again).as_ref(),
                Ok(&n),
                "{s:?} ({region:?}) accepted as {n:?}, read back with {again:?}"
            );
        }
        let digits = &n.e164()[1..];
        for (idd, again) in [("00", "GB"), ("011", "US")] {
            assert_eq!(
                PhoneNumber::parse(&format!("{idd} {digits}"), Some(again)).as_ref(),
                Ok(&n),
                "{s:?} ({region:?}) accepted as {n:?}, dialled from {again}"
            );
        }
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(serde_json::from_str::<PhoneNumber>(&json).unwrap(), n);
        let masked = n.masked();
        assert!(masked.starts_with(&format!("+{} ", n.country_code())));
        let shown = masked.chars().filter(char::is_ascii_digit).count()
            - n.country_code().to_string().len();
        assert!(shown <= 4, "{masked}");
        assert!(masked.contains(MASK));
    }
    if let Ok(a) = EmailAddress::parse(s) {
        assert!(a.as_str().len() <= 254);
        assert_eq!(EmailAddress::parse(a.as_str()).unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<EmailAddress>(&json).unwrap(), a);
        assert!(a.masked().ends_with(&format!("@{}", a.domain())));
    }
    for channel in [Channel::Sms, Channel::Voice, Channel::Email] {
        if let Ok(d) = Destination::parse(channel, s, region) {
            assert!(d.check_channel(channel).is_ok());
        }
    }
});
