#![no_main]
//! Attestation objects: parsing never panics and is deterministic (compared member by
//! member: a NaN in attStmt is never equal to itself); authData that parses re-encodes
//! to the same bytes.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::hazmat::authdata::AuthenticatorData;

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = mfa_webauthn::hazmat::parse_attestation_object(data) {
        let again = mfa_webauthn::hazmat::parse_attestation_object(data).unwrap();
        assert_eq!(obj.fmt, again.fmt);
        assert_eq!(obj.auth_data, again.auth_data);
        assert_eq!(obj.statement_len(), again.statement_len());
        if let Ok(ad) = AuthenticatorData::parse(&obj.auth_data) {
            assert_eq!(ad.to_vec(), obj.auth_data);
        }
    }
});
