#![no_main]
//! Authenticator data: a successful parse accounts for every byte, agrees with the
//! flags, and re-encodes to exactly the input; an attested credential key that parses
//! round-trips through COSE.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::cose::PublicKey;
use mfa_webauthn::hazmat::authdata::AuthenticatorData;

fuzz_target!(|data: &[u8]| {
    let Ok(ad) = AuthenticatorData::parse(data) else {
        return;
    };
    assert_eq!(ad.attested.is_some(), ad.flags.attested_credential_data());
    assert_eq!(ad.extensions.is_some(), ad.flags.extension_data());
    assert_eq!(ad.to_vec(), data);
    assert_eq!(AuthenticatorData::parse(&ad.to_vec()).unwrap(), ad);
    if let Some(a) = &ad.attested
        && let Ok(key) = PublicKey::from_cose(a.public_key_cose)
    {
        assert_eq!(PublicKey::from_cose(&key.to_cose()).unwrap(), key);
    }
});
