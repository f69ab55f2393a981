//! A credential's life after registration (issue 22 items 7 and 9): the name shown for
//! its authenticator, and a newly loaded MDS3 BLOB re-checked against it.

use mfa_webauthn::hazmat::verify_registration_with;
use mfa_webauthn::metadata::{AuthenticatorStatus, COMPROMISED_STATUSES};
use mfa_webauthn::{AaguidEvidence, CredentialRecord, NameSource};
use serde_json::json;

use crate::metadata::{NANO, NONE_ICLOUD, PACKED_NANO, REG_TIME, case, entry, rp, store_with};

fn registered(rel: &str, store: mfa_webauthn::MetadataTrustStore) -> CredentialRecord {
    let c = case(rel);
    let rp = rp(store).build().unwrap();
    verify_registration_with(
        &c.exp,
        &c.response,
        &rp.attestation_policy(),
        REG_TIME,
        Default::default(),
    )
    .unwrap()
    .record
}

#[test]
fn an_attested_security_key_is_named_by_metadata() {
    let c = case(PACKED_NANO);
    let yubico = c.root.clone().unwrap();
    let store = || store_with(json!([entry(NANO, &[&yubico], &["FIDO_CERTIFIED_L1"])]));
    let record = registered(PACKED_NANO, store());
    let model = rp(store()).build().unwrap().authenticator_model(&record);
    assert_eq!(model.aaguid, NANO);
    assert_eq!(model.evidence, AaguidEvidence::Attested);
    assert_eq!(
        model.name.as_deref(),
        Some(format!("authenticator {NANO}").as_str())
    );
    assert_eq!(model.name_source, Some(NameSource::Metadata));
}

#[test]
fn a_synced_passkeys_aaguid_is_a_claim_named_by_the_provider_list() {
    // A real iCloud Keychain registration: `none` attestation with Apple's AAGUID,
    // named from the bundled list, and only a claim.
    let none = registered(NONE_ICLOUD, store_with(json!([])));
    let rp = rp(store_with(json!([]))).build().unwrap();
    let model = rp.authenticator_model(&none);
    assert_eq!(model.evidence, AaguidEvidence::Claimed);
    assert_eq!(model.name.as_deref(), Some("Apple Passwords"));
    assert_eq!(model.name_source, Some(NameSource::ProviderList));
    // An all-zero AAGUID names nothing.
    let mut zero = none.clone();
    zero.aaguid = "00000000-0000-0000-0000-000000000000".to_owned();
    let model = rp.authenticator_model(&zero);
    assert_eq!((model.name, model.name_source), (None, None));
    // A provider that sends its AAGUID with `none` attestation (Google Password
    // Manager): named from the bundled list, and still only a claim.
    let mut gpm = none.clone();
    gpm.aaguid = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4".to_owned();
    let model = rp.authenticator_model(&gpm);
    assert_eq!(model.name.as_deref(), Some("Google Password Manager"));
    assert_eq!(model.name_source, Some(NameSource::ProviderList));
    assert_eq!(model.evidence, AaguidEvidence::Claimed);
    let json = serde_json::to_value(&model).unwrap();
    assert_eq!(json["evidence"], "claimed");
    assert_eq!(json["name_source"], "provider_list");
}

#[test]
fn a_new_blob_flags_registered_credentials_of_a_compromised_model() {
    let c = case(PACKED_NANO);
    let yubico = c.root.clone().unwrap();
    let record = registered(
        PACKED_NANO,
        store_with(json!([entry(NANO, &[&yubico], &["FIDO_CERTIFIED_L1"])])),
    );
    // The BLOB of registration time says nothing bad.
    let fine = store_with(json!([entry(
        NANO,
        &[&yubico],
        &["FIDO_CERTIFIED_L1", "UPDATE_AVAILABLE"]
    )]));
    assert_eq!(fine.recheck(&record), None);
    // Each of the four compromising statuses flags it, with the evidence.
    for (name, status) in [
        ("REVOKED", AuthenticatorStatus::Revoked),
        (
            "USER_KEY_REMOTE_COMPROMISE",
            AuthenticatorStatus::UserKeyRemoteCompromise,
        ),
        (
            "USER_KEY_PHYSICAL_COMPROMISE",
            AuthenticatorStatus::UserKeyPhysicalCompromise,
        ),
        (
            "ATTESTATION_KEY_COMPROMISE",
            AuthenticatorStatus::AttestationKeyCompromise,
        ),
    ] {
        assert!(COMPROMISED_STATUSES.contains(&status));
        let later = store_with(json!([entry(
            NANO,
            &[&yubico],
            &["FIDO_CERTIFIED_L1", name]
        )]));
        let finding = later.recheck(&record).unwrap();
        assert_eq!(finding.status, status, "{name}");
        assert_eq!(finding.evidence, AaguidEvidence::Attested);
        assert_eq!(finding.effective_date.as_deref(), Some("2024-01-01"));
    }
    // Another model's revocation does not touch it; a record without AAGUID has none.
    let other = store_with(json!([entry(
        "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
        &[&yubico],
        &["REVOKED"]
    )]));
    assert_eq!(other.recheck(&record), None);
    let mut zero = record.clone();
    zero.aaguid = "00000000-0000-0000-0000-000000000000".to_owned();
    let revoked = store_with(json!([entry(NANO, &[&yubico], &["REVOKED"])]));
    assert!(revoked.recheck(&record).is_some());
    assert_eq!(revoked.recheck(&zero), None);
}
