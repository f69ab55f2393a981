#![no_main]
//! Authenticator data: a successful parse accounts for every byte and agrees with flags.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ad) = mfa_webauthn::authdata::AuthenticatorData::parse(data) {
        assert_eq!(ad.attested.is_some(), ad.flags.attested_credential_data());
        assert_eq!(ad.extensions.is_some(), ad.flags.extension_data());
        let mut len = 37 + ad.extensions.map_or(0, <[u8]>::len);
        if let Some(a) = &ad.attested {
            len += 18 + a.credential_id.len() + a.public_key_cose.len();
        }
        assert_eq!(len, data.len());
    }
});
