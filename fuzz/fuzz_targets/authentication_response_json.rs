#![no_main]
//! Whole authentication responses through the §7.2 verification, down to the signature
//! check: the stored credentials are real keys (the testkit's `SoftAuthenticator` with
//! `SeededRandom::new(1)` for ES256 and `new(2)` for EdDSA), and the seeds are valid
//! assertions they made for challenge 0^32 at https://example.com.
//!
//! Properties: the JSON round-trips; an accepted assertion keeps the stored
//! credential, carries UP, moves the counter forward, and is refused when replayed
//! against the record it produced. Each input is tried usernameless (empty allow list)
//! and with the credential allowed; the stored user handle is `user-1` (the testkit
//! seeds'), and an accepted usernameless assertion returns exactly that handle.
use libfuzzer_sys::fuzz_target;
use mfa_webauthn::json::{AuthenticationResponseJson, Base64UrlBytes};
use mfa_webauthn::{CredentialRecord, SignCountPolicy};

/// (credential id, COSE key, alg) of the two stored credentials.
const STORED: [(&str, &str, i64); 2] = [
    (
        "VHQ9xeJNKkE7FZWEwSJt9uzPxMqozXtjx8tW_2bNYLU",
        "pQECAyYgASFYIJmnVdMJgykcRNkYYDwP2XH4gnKGbMP32YOie8qLSXnFIlggH4ezppy51DiJE5eRWpA3uDQARNcn_nv0wpTnnDZeeB0",
        -7,
    ),
    (
        "sjK0Y1gSMzEl6LWuPY5-RZmg34J05Ij8WOBjIOMvKMs",
        "pAEBAycgBiFYIBkfw48TSq8bf9sfhjMLnQPpS9S6iE9JA4nelkRI6Js_",
        -8,
    ),
];

fuzz_target!(|data: &[u8]| {
    let Ok(resp) = serde_json::from_slice::<AuthenticationResponseJson>(data) else {
        return;
    };
    let text = serde_json::to_string(&resp).unwrap();
    assert_eq!(
        serde_json::from_str::<AuthenticationResponseJson>(&text).unwrap(),
        resp
    );
    let exp = mfa_webauthn::Expectations {
        rp_id: "example.com".into(),
        origins: vec!["https://example.com".into()],
        allow_subdomains: false,
        challenge: Base64UrlBytes(vec![0; 32]),
        user_presence_required: true,
        user_verification_required: false,
        allow_cross_origin: false,
        allowed_top_origins: vec![],
        allowed_algorithms: vec![],
        appid: None,
        cred_props_requested: false,
        danger_unbound_user_handle: false,
        danger_allow_rs1: false,
        backup_eligibility: mfa_webauthn::BackupEligibilityRule::Reject,
    };
    // The record stored for this credential id; for unknown ids, the ES256 key under
    // the presented id, so mutated ids still reach the signature check.
    let (_, key, alg) = STORED
        .iter()
        .find(|(id, _, _)| Base64UrlBytes::decode(id).unwrap() == resp.raw_id)
        .unwrap_or(&STORED[0]);
    let mut record = CredentialRecord::from_parts(
        resp.raw_id.0.clone(),
        Base64UrlBytes::decode(key).unwrap().0,
        *alg,
        0,
    );
    record.user_handle = Some(Base64UrlBytes(b"user-1".to_vec()));
    for allowed in [vec![], vec![record.id.clone()]] {
        let verify = |record: &CredentialRecord| {
            mfa_webauthn::hazmat::verify_authentication(
                &exp,
                &allowed,
                &resp,
                record,
                SignCountPolicy::Reject,
                Default::default(),
            )
        };
        if let Ok(auth) = verify(&record) {
            assert!(auth.flags.user_present());
            assert_eq!(auth.record.id, record.id);
            assert_eq!(auth.record.public_key, record.public_key);
            assert!(auth.record.sign_count >= record.sign_count);
            if allowed.is_empty() {
                assert_eq!(auth.user_handle, record.user_handle, "usernameless handle");
            }
            if auth.user_handle.is_some() {
                assert_eq!(auth.user_handle, resp.response.user_handle);
            }
            if auth.sign_count != 0 {
                assert!(verify(&auth.record).is_err(), "replay accepted");
            }
        } else if let Err(e) = verify(&record) {
            // A response can only be malformed or refused, never an oracle of which
            // check failed beyond the log-only code, and never a configuration error.
            assert!(
                matches!(
                    e,
                    mfa_webauthn::Error::Malformed(_) | mfa_webauthn::Error::Rejected(_)
                ) && e.failure_code().is_some(),
                "{e:?}"
            );
        }
    }
});
