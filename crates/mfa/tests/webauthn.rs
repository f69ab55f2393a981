//! WebAuthn through the service: registration once, sign-in by name and usernameless,
//! and a credential no second user can register.

use crate::common::{ORIGIN, harness, passkey_signin, register_key, webauthn_assertion, with_totp};
use mfa::policy::input::Session;
use mfa::webauthn::cose::Algorithm;
use mfa::webauthn::testkit::{Fault, SoftAuthenticator};
use mfa::{Challenge, Error, Response};
use mfa_core::{Attachment, AuthMethod, OsRandom, StartOptions, UserId};
use mfa_store::MemoryStore;

#[tokio::test]
async fn webauthn_registers_once_signs_in_by_name_and_usernameless() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (_, aal2) = with_totp(&h, &alice).await;
    let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let (cid, options) = h
        .service
        .start_webauthn_registration(&alice, "Touch ID", Some(Attachment::Platform), &aal2)
        .await
        .unwrap();
    let reg = key.register(&options, ORIGIN, Fault::None).unwrap();
    let handle = options.user.id.encode();
    let info = h
        .service
        .finish_webauthn_registration(&alice, &cid, &reg)
        .await
        .unwrap();
    assert!(info.confirmed && info.kind.is_webauthn());
    // The same challenge is used up.
    assert!(
        h.service
            .finish_webauthn_registration(&alice, &cid, &reg)
            .await
            .is_err()
    );

    // Sign in with the passkey, by name.
    let (challenge_id, assertion) = webauthn_assertion(&h, &alice, &info.id, &mut key).await;
    let v = h
        .service
        .verify(
            &alice,
            &info.id,
            Response::WebAuthn {
                challenge_id: &challenge_id,
                response: &assertion,
            },
            &Session::default(),
        )
        .await
        .unwrap();
    assert!(v.methods.contains(&AuthMethod::Swk), "{:?}", v.methods);
    // Issue 22 item 10: a WebAuthn assertion is proof of possession of an origin-bound
    // key, `phr`; nothing attests this software key, so not `phrh`.
    assert!(v.methods.contains(&AuthMethod::Pop), "{:?}", v.methods);
    assert_eq!(v.acr, Some("phr"));
    // Issue 22 item 6: the sign-in hands back signalAllAcceptedCredentials' options,
    // exactly the browser's JSON, listing this credential under its user handle.
    let signal = serde_json::to_value(v.signal.as_ref().unwrap()).unwrap();
    assert_eq!(signal["rpId"], "bank.example");
    assert_eq!(
        signal["allAcceptedCredentialIds"],
        serde_json::json!([reg.id])
    );
    assert_eq!(signal["userId"], handle);
    // An assertion of a credential the service does not have: signalUnknownCredential.
    assert!(
        h.service
            .signal_unknown_credential(&assertion)
            .await
            .unwrap()
            .is_none()
    );
    let mut stranger = assertion.clone();
    stranger.raw_id = mfa::webauthn::json::Base64UrlBytes(vec![7; 16]);
    stranger.id = stranger.raw_id.encode();
    let unknown = h
        .service
        .signal_unknown_credential(&stranger)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::to_value(&unknown).unwrap(),
        serde_json::json!({"rpId": "bank.example", "credentialId": stranger.id})
    );
    // After a rename of the account: signalCurrentUserDetails under the same handle.
    let details = h
        .service
        .signal_current_user_details(&alice, "alice@bank.example", "Alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::to_value(&details).unwrap()["userId"],
        signal["userId"]
    );
    assert_eq!(details.display_name, "Alice");

    // Usernameless: the user is learned from the credential.
    let v = passkey_signin(&h, &mut key, Fault::None, None)
        .await
        .unwrap();
    assert_eq!(v.user, alice);
    assert_eq!(v.factor.id, info.id);
    // Once.
    assert!(
        h.service
            .finish_passkey_signin(&challenge_id, &assertion, &Session::default(), None)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_same_credential_cannot_be_registered_by_another_user() {
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let mallory = UserId::new("mallory").unwrap();
    let (_, a) = with_totp(&h, &alice).await;
    let (_, m) = with_totp(&h, &mallory).await;
    let (mut key, reg, _) = register_key(&h, &alice, "key", &a).await;
    // The same authenticator key answers Mallory's ceremony with the same credential id.
    let (mcid, moptions) = h
        .service
        .start_webauthn_registration(&mallory, "key", None, &m)
        .await
        .unwrap();
    let copy = key.register(&moptions, ORIGIN, Fault::None).unwrap();
    assert_eq!(
        copy.raw_id, reg.raw_id,
        "the soft authenticator has one credential"
    );
    let err = h
        .service
        .finish_webauthn_registration(&mallory, &mcid, &copy)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CredentialAlreadyRegistered), "{err:?}");
    let rows = h.service.list_factors(&mallory).await.unwrap();
    assert!(rows.iter().all(|f| !f.kind.is_webauthn()), "{rows:?}");
}

/// Issue 22 item 8: BS changes are audited over time; a BE change is refused by default
/// (audited, and the user told why), never a silent lock-out.
#[tokio::test]
async fn passkey_backup_state_changes_are_audited_and_a_be_change_is_never_silent() {
    use mfa::EventKind;
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (_, aal2) = with_totp(&h, &alice).await;
    // A contact for security notices.
    crate::oob::with_sms(&h, &alice, "+1 415 555 0100", "+14155550100", &aal2).await;
    let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    key.set_backup_eligible(true);
    let (cid, options) = h
        .service
        .start_webauthn_registration(&alice, "Phone passkey", None, &aal2)
        .await
        .unwrap();
    let reg = key.register(&options, ORIGIN, Fault::None).unwrap();
    let info = h
        .service
        .finish_webauthn_registration(&alice, &cid, &reg)
        .await
        .unwrap();
    let sign_in = |key: &mut SoftAuthenticator| {
        let h = &h;
        let alice = &alice;
        let id = info.id.clone();
        let mut key = std::mem::replace(
            key,
            SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap(),
        );
        async move {
            let Challenge::WebAuthn {
                challenge_id,
                options,
                ..
            } = h
                .service
                .start_challenge(alice, &id, &StartOptions::new())
                .await
                .unwrap()
            else {
                panic!("a WebAuthn challenge");
            };
            let assertion = key
                .authenticate(&options.public_key, ORIGIN, Fault::None)
                .unwrap();
            let r = h
                .service
                .verify(
                    alice,
                    &id,
                    Response::WebAuthn {
                        challenge_id: &challenge_id,
                        response: &assertion,
                    },
                    &Session::default(),
                )
                .await;
            (r, key)
        }
    };
    let named = |name: &str| {
        h.audit
            .events()
            .into_iter()
            .filter(|e| e.event.as_str() == name)
            .map(|e| e.event)
            .collect::<Vec<_>>()
    };
    // BS 0 -> 1: accepted and audited once.
    key.set_backup_state(true);
    let (r, mut key) = sign_in(&mut key).await;
    r.unwrap();
    assert_eq!(
        named("passkey_backup_state_changed"),
        [EventKind::PasskeyBackupStateChanged { backed_up: true }]
    );
    let (r, mut key) = sign_in(&mut key).await;
    r.unwrap();
    assert_eq!(named("passkey_backup_state_changed").len(), 1);
    // BE 1 -> 0: refused, audited, and the user is told.
    let notices_before = h.sender.sent().len();
    key.set_backup_eligible(false);
    key.set_backup_state(false);
    let (r, _) = sign_in(&mut key).await;
    let err = r.unwrap_err();
    assert!(err.is_rejection(), "{err}");
    assert_eq!(
        named("passkey_backup_eligibility_changed"),
        [EventKind::PasskeyBackupEligibilityChanged {
            eligible: false,
            accepted: false
        }]
    );
    let sent = h.sender.sent();
    assert_eq!(sent.len(), notices_before + 1);
    let text = sent.last().unwrap().expose_body().to_owned();
    assert!(
        text.contains("Phone passkey") && text.contains("register it again"),
        "{text}"
    );
}

/// Issue 22 items 7 and 9: the factor list names the authenticator (a claim, with `none`
/// attestation), and a new MDS3 BLOB reporting its model compromised disables the
/// factor with an audit event and a notice.
#[tokio::test]
async fn passkeys_are_named_and_a_compromised_model_is_disabled_by_a_recheck() {
    use mfa::webauthn::{AaguidEvidence, MetadataTrustStore, NameSource};
    use mfa::{EventKind, MetadataAction};
    let h = harness(MemoryStore::new());
    let alice = UserId::new("alice").unwrap();
    let (_, aal2) = with_totp(&h, &alice).await;
    crate::oob::with_sms(&h, &alice, "+1 415 555 0100", "+14155550100", &aal2).await;
    let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    // Google Password Manager's AAGUID, as that provider sends it with `none`.
    let gpm = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4";
    key.set_aaguid(mfa::webauthn::metadata::parse_aaguid(gpm).unwrap());
    let (cid, options) = h
        .service
        .start_webauthn_registration(&alice, "Android phone", None, &aal2)
        .await
        .unwrap();
    let reg = key.register(&options, ORIGIN, Fault::None).unwrap();
    let info = h
        .service
        .finish_webauthn_registration(&alice, &cid, &reg)
        .await
        .unwrap();
    let listed = h.service.list_factors(&alice).await.unwrap();
    let model = listed
        .iter()
        .find(|f| f.id == info.id)
        .and_then(|f| f.authenticator.clone())
        .unwrap();
    assert_eq!(model.name.as_deref(), Some("Google Password Manager"));
    assert_eq!(model.name_source, Some(NameSource::ProviderList));
    assert_eq!(model.evidence, AaguidEvidence::Claimed);
    assert!(
        listed
            .iter()
            .filter(|f| f.id != info.id)
            .all(|f| f.authenticator.is_none())
    );

    // A BLOB (the compiled store, as an operator caches it) that says nothing bad.
    let store = |statuses: &[&str]| -> MetadataTrustStore {
        serde_json::from_value(serde_json::json!({
            "no": 7,
            "next_update": "2030-01-01",
            "entries": [{
                "aaguid": gpm,
                "description": "Google Password Manager",
                "roots": [],
                "status_reports": statuses.iter().map(|s| serde_json::json!({"status": s})).collect::<Vec<_>>(),
            }],
        }))
        .unwrap()
    };
    let admin = h.service.admin();
    let fine = store(&["FIDO_CERTIFIED_L1"]);
    assert!(
        admin
            .recheck_metadata(&alice, &fine, MetadataAction::Disable)
            .await
            .unwrap()
            .is_empty()
    );
    // Flag only: audited and told, still signs in.
    let revoked = store(&["FIDO_CERTIFIED_L1", "REVOKED"]);
    let sent_before = h.sender.sent().len();
    let found = admin
        .recheck_metadata(&alice, &revoked, MetadataAction::Flag)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].status.as_str(), found[0].disabled),
        ("REVOKED", false)
    );
    assert_eq!(h.sender.sent().len(), sent_before + 1);
    assert!(
        h.service
            .list_factors(&alice)
            .await
            .unwrap()
            .iter()
            .any(|f| f.id == info.id && f.confirmed)
    );
    // Disable: the factor stops signing in.
    let found = admin
        .recheck_metadata(&alice, &revoked, MetadataAction::Disable)
        .await
        .unwrap();
    assert!(found[0].disabled);
    let events: Vec<_> = h
        .audit
        .events()
        .into_iter()
        .filter(|e| e.event.as_str() == "authenticator_compromised")
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events,
        [
            EventKind::AuthenticatorCompromised {
                status: "REVOKED".into(),
                disabled: false
            },
            EventKind::AuthenticatorCompromised {
                status: "REVOKED".into(),
                disabled: true
            },
        ]
    );
    let text = h.sender.sent().last().unwrap().expose_body().to_owned();
    assert!(
        text.contains("Android phone") && text.contains("turned off"),
        "{text}"
    );
    // It no longer signs in.
    if let Ok(Challenge::WebAuthn {
        challenge_id,
        options,
        ..
    }) = h
        .service
        .start_challenge(&alice, &info.id, &StartOptions::new())
        .await
    {
        let assertion = key
            .authenticate(&options.public_key, ORIGIN, Fault::None)
            .unwrap();
        let r = h
            .service
            .verify(
                &alice,
                &info.id,
                Response::WebAuthn {
                    challenge_id: &challenge_id,
                    response: &assertion,
                },
                &Session::default(),
            )
            .await;
        assert!(r.is_err());
    }
    let listed = h.service.list_factors(&alice).await.unwrap();
    assert!(listed.iter().any(|f| f.id == info.id && !f.confirmed));
    // A disabled factor is not re-checked again.
    assert!(
        admin
            .recheck_metadata(&alice, &revoked, MetadataAction::Disable)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Issue 22 item 5: the passkey upgrade right after a password sign-in (conditional
/// create) is accepted without user presence, and only in that flow.
#[tokio::test]
async fn the_passkey_upgrade_after_a_password_accepts_no_user_presence_only_there() {
    let h = harness(MemoryStore::new());
    let bob = UserId::new("bob").unwrap();
    // The default test policy wants another factor before a platform passkey.
    let (_, fresh) = with_totp(&h, &bob).await;
    assert!(fresh.methods.iter().any(|m| m.method == AuthMethod::Pwd));
    let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    // The ordinary registration needs presence.
    let (cid, options) = h
        .service
        .start_webauthn_registration(&bob, "laptop", None, &fresh)
        .await
        .unwrap();
    let reg = key
        .register(&options, ORIGIN, Fault::NoUserPresence)
        .unwrap();
    assert!(
        h.service
            .finish_webauthn_registration(&bob, &cid, &reg)
            .await
            .is_err()
    );
    // The upgrade does not.
    let (cid, options) = h
        .service
        .start_passkey_upgrade(&bob, "laptop", &fresh)
        .await
        .unwrap();
    let reg = key
        .register(&options, ORIGIN, Fault::NoUserPresence)
        .unwrap();
    let info = h
        .service
        .finish_webauthn_registration(&bob, &cid, &reg)
        .await
        .unwrap();
    assert!(info.confirmed && info.kind.is_webauthn());
    // Only right after the password: ten minutes later it is refused.
    h.clock.advance(std::time::Duration::from_secs(600));
    let err = h
        .service
        .start_passkey_upgrade(&bob, "phone", &fresh)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StepUpRequired { .. }), "{err}");
}

/// Issue 22 item 6: removing a passkey answers with the accepted list for the ones left,
/// and with an empty list under the same user handle when it was the last.
#[tokio::test]
async fn removing_a_passkey_signals_the_ones_left() {
    let h = harness(MemoryStore::new());
    let carol = UserId::new("carol").unwrap();
    let (totp, aal2) = with_totp(&h, &carol).await;
    let subject = mfa::policy::input::Subject::default();
    let mut ids = Vec::new();
    let mut handle = None;
    for label in ["laptop", "phone"] {
        let mut key = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
        let (cid, options) = h
            .service
            .start_webauthn_registration(&carol, label, None, &aal2)
            .await
            .unwrap();
        handle = Some(options.user.id.encode());
        let reg = key.register(&options, ORIGIN, Fault::None).unwrap();
        let info = h
            .service
            .finish_webauthn_registration(&carol, &cid, &reg)
            .await
            .unwrap();
        ids.push((info.id, reg.raw_id.encode()));
    }
    let handle = handle.unwrap();
    let signal = h
        .service
        .remove_factor(&carol, &subject, &aal2, &ids[0].0)
        .await
        .unwrap();
    let signal = serde_json::to_value(signal.unwrap()).unwrap();
    assert_eq!(signal["userId"], handle);
    assert_eq!(
        signal["allAcceptedCredentialIds"],
        serde_json::json!([ids[1].1])
    );
    let signal = h
        .service
        .remove_factor(&carol, &subject, &aal2, &ids[1].0)
        .await
        .unwrap();
    let signal = serde_json::to_value(signal.unwrap()).unwrap();
    assert_eq!(
        signal["userId"], handle,
        "the last one: the handle read before"
    );
    assert_eq!(signal["allAcceptedCredentialIds"], serde_json::json!([]));
    // Not a passkey: nothing to signal (a second TOTP keeps the account's MFA).
    crate::common::add_totp(&h, &carol, "tablet", &aal2).await;
    let none = h
        .service
        .remove_factor(&carol, &subject, &aal2, &totp.factor_id)
        .await
        .unwrap();
    assert!(none.is_none());
}
