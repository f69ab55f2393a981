//! Regression tests for the security review (issue 9, items 5–9): each fails on the
//! code before its fix.

use mfa_core::{Attachment, AuthMethod, Factor, FactorKind, OsRandom, StartOptions};
use mfa_webauthn::cose::Algorithm;
use mfa_webauthn::json::{Base64UrlBytes, CredentialPropertiesOutput};
use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
use mfa_webauthn::{
    AuthenticationRequest, CredentialRecord, FailureCode, RegistrationRequest, RelyingParty,
};

use crate::ceremonies::{ORIGIN, factor, now, register, rp};

/// Starts an authentication with `allow` (or a usernameless one) and answers it.
fn assert_auth(
    rp: &RelyingParty,
    a: &mut SoftAuthenticator,
    record: &CredentialRecord,
    usernameless: bool,
    fault: Fault,
) -> mfa_webauthn::Result<mfa_webauthn::Authentication> {
    let req = AuthenticationRequest {
        allow_credentials: if usernameless {
            vec![]
        } else {
            vec![record.descriptor()]
        },
        ..Default::default()
    };
    let (options, state) = rp.start_authentication(&req, now(), &mut OsRandom).unwrap();
    let resp = a.authenticate(&options.public_key, ORIGIN, fault).unwrap();
    rp.finish_authentication(&state, &resp, record, now())
}

#[test]
fn user_handle_mismatch_and_usernameless_branch() {
    let rp = rp();
    let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let record = register(&rp, &mut a);
    // Usernameless: the handle comes back verified, for the service to check against
    // the account it resolved.
    let ok = assert_auth(&rp, &mut a, &record, true, Fault::None).unwrap();
    assert_eq!(ok.user_handle, Some(Base64UrlBytes(b"user-1".to_vec())));
    let record = ok.record;
    // Another user's handle: refused, with or without an allow list.
    for usernameless in [true, false] {
        let err =
            assert_auth(&rp, &mut a, &record, usernameless, Fault::WrongUserHandle).unwrap_err();
        assert_eq!(err.failure_code(), Some(FailureCode::UserHandleMismatch));
    }
    // Usernameless without a handle: nothing identifies the user.
    let err = assert_auth(&rp, &mut a, &record, true, Fault::NoUserHandle).unwrap_err();
    assert_eq!(err.failure_code(), Some(FailureCode::UserHandleMismatch));
    // With an allow list the handle is optional, and then not reported.
    let ok = assert_auth(&rp, &mut a, &record, false, Fault::NoUserHandle).unwrap();
    assert_eq!(ok.user_handle, None);
}

#[test]
fn a_handle_that_cannot_be_compared_is_refused() {
    // Before the fix a record without a user handle (migrated with from_parts) let any
    // response handle pass, also in a usernameless sign-in.
    let rp = rp();
    let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let mut record = register(&rp, &mut a);
    record.user_handle = None;
    for usernameless in [true, false] {
        let err = assert_auth(&rp, &mut a, &record, usernameless, Fault::None).unwrap_err();
        assert_eq!(
            err.failure_code(),
            Some(FailureCode::UserHandleMismatch),
            "usernameless {usernameless}"
        );
    }
    // Without a handle in the response and with an allow list, it still verifies.
    let ok = assert_auth(&rp, &mut a, &record, false, Fault::NoUserHandle).unwrap();
    let record = ok.record;
    // The explicit opt-out for migrated records: only with an allow list, and the
    // unchecked handle is not reported as verified.
    let lax = RelyingParty::builder("example.com", "Example")
        .origin(ORIGIN)
        .danger_unbound_user_handle()
        .build()
        .unwrap();
    let ok = assert_auth(&lax, &mut a, &record, false, Fault::WrongUserHandle).unwrap();
    assert_eq!(ok.user_handle, None);
    let err = assert_auth(&lax, &mut a, &ok.record, true, Fault::None).unwrap_err();
    assert_eq!(err.failure_code(), Some(FailureCode::UserHandleMismatch));
}

#[test]
fn unattested_device_binding_is_swk_and_attachment_does_not_count() {
    // The software authenticator claims BE = 0 with packed self attestation: before the
    // fix that was `hwk` (and so AAL3) and a cross-platform claim was kept.
    let rp = rp();
    let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let req = RegistrationRequest::new(b"user-1".to_vec(), "alice", "Alice");
    let (options, state) = rp.start_registration(&req, now(), &mut OsRandom).unwrap();
    let mut resp = a.register(&options, ORIGIN, Fault::None).unwrap();
    resp.authenticator_attachment = Some("cross-platform".into());
    let record = rp.finish_registration(&state, &resp, now()).unwrap().record;
    assert_eq!(record.backup_eligible, Some(false));
    assert!(!rp.is_hardware_bound(&record));
    let f = factor(rp.clone());
    assert_eq!(f.kind(&record), FactorKind::WebAuthn { attachment: None });
    let methods = |f: &mfa_webauthn::WebAuthnFactor, a: &mut SoftAuthenticator, r| {
        let (c, s) = f
            .start(Some(r), &StartOptions::new(), now(), &mut OsRandom)
            .unwrap();
        let resp = a.authenticate(&c.public_key, ORIGIN, Fault::None).unwrap();
        f.verify(r, &s, &resp, now(), &mut OsRandom).unwrap()
    };
    let ok = methods(&f, &mut a, &record);
    assert_eq!(
        ok.methods,
        [
            AuthMethod::Swk,
            AuthMethod::Pop,
            AuthMethod::User,
            AuthMethod::Mfa
        ]
    );
    let record = ok.record;

    // Opted in: BE = 0 is trusted, hwk and the roaming attachment count.
    let trusting = RelyingParty::builder("example.com", "Example")
        .origin(ORIGIN)
        .danger_trust_device_bound_flag()
        .build()
        .unwrap();
    assert!(trusting.is_hardware_bound(&record));
    let f = factor(trusting.clone());
    assert_eq!(
        f.kind(&record),
        FactorKind::WebAuthn {
            attachment: Some(Attachment::CrossPlatform)
        }
    );
    let ok = methods(&f, &mut a, &record);
    assert_eq!(ok.methods[0], AuthMethod::Hwk);

    // A trusted attestation (set by the trust-anchor layer) proves it without opt-in.
    let mut attested = ok.record.clone();
    attested.attestation_trusted = true;
    assert!(rp.is_hardware_bound(&attested));
    // A synced passkey is never hwk, even opted in.
    let mut synced = ok.record;
    synced.backup_eligible = Some(true);
    assert!(!trusting.is_hardware_bound(&synced));
}

#[test]
fn amr_values_of_the_webauthn_factor() {
    // RFC 8176 values, in order: swk (nothing proves hardware binding), user (UP), and
    // mfa only when the authenticator verified the user.
    for (uv, want) in [
        (
            true,
            &[
                AuthMethod::Swk,
                AuthMethod::Pop,
                AuthMethod::User,
                AuthMethod::Mfa,
            ][..],
        ),
        (
            false,
            &[AuthMethod::Swk, AuthMethod::Pop, AuthMethod::User][..],
        ),
    ] {
        let rp = rp();
        let mut a = SoftAuthenticator::new(Algorithm::EdDsa, &mut OsRandom).unwrap();
        a.set_backup_eligible(true);
        let record = register(&rp, &mut a);
        a.set_user_verified(uv);
        let f = factor(rp);
        let (c, s) = f
            .start(Some(&record), &StartOptions::new(), now(), &mut OsRandom)
            .unwrap();
        let resp = a.authenticate(&c.public_key, ORIGIN, Fault::None).unwrap();
        let ok = f.verify(&record, &s, &resp, now(), &mut OsRandom).unwrap();
        assert_eq!(ok.methods, want, "uv {uv}");
        assert_eq!(ok.details.user_verified, uv);
    }
}

#[test]
fn keys_that_can_never_verify_are_refused_at_registration() {
    // Before the fix a `none` registration stored any point of the right length.
    for alg in [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
        Algorithm::Rs256,
    ] {
        for backend in crate::backends() {
            let rp = RelyingParty::builder("example.com", "Example")
                .origin(ORIGIN)
                .algorithms([alg])
                .backend(backend)
                .build()
                .unwrap();
            let mut a = SoftAuthenticator::new(alg, &mut OsRandom).unwrap();
            let req = RegistrationRequest::new(b"u".to_vec(), "u", "U");
            let (options, state) = rp.start_registration(&req, now(), &mut OsRandom).unwrap();
            let resp = a
                .register(&options, ORIGIN, Fault::InvalidPublicKey)
                .unwrap();
            let err = rp.finish_registration(&state, &resp, now()).unwrap_err();
            assert!(
                matches!(
                    &err,
                    mfa_webauthn::Error::Malformed(m) if m.what() == "public key cannot verify"
                ),
                "{alg:?} {backend:?}: {err}"
            );
        }
    }
}

#[test]
fn unrequested_extension_outputs_are_refused() {
    let rp = rp();
    let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
    let registration =
        |cred_props: bool, edit: &dyn Fn(&mut mfa_webauthn::json::ClientExtensionResults)| {
            let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
            let mut req = RegistrationRequest::new(b"u".to_vec(), "u", "U");
            req.cred_props = cred_props;
            let (options, state) = rp.start_registration(&req, now(), &mut OsRandom).unwrap();
            let mut resp = a.register(&options, ORIGIN, Fault::None).unwrap();
            edit(&mut resp.client_extension_results);
            rp.finish_registration(&state, &resp, now())
        };
    let rk = |e: &mut mfa_webauthn::json::ClientExtensionResults| {
        e.cred_props = Some(CredentialPropertiesOutput { rk: Some(true) });
    };
    // Requested: kept as the client's claim.
    let reg = registration(true, &rk).unwrap();
    assert_eq!(reg.record.cred_props_rk, Some(true));
    // Not requested, or appid at registration: refused.
    assert!(crate::refused_r(
        &registration(false, &rk),
        FailureCode::Malformed,
        "unrequested credProps extension output"
    ));
    let appid = |e: &mut mfa_webauthn::json::ClientExtensionResults| e.appid = Some(false);
    assert!(crate::refused_r(
        &registration(true, &appid),
        FailureCode::Malformed,
        "unrequested appid extension output"
    ));
    // Authentication: an appid output without an AppID configured, and credProps.
    let record = register(&rp, &mut a);
    let req = AuthenticationRequest {
        allow_credentials: vec![record.descriptor()],
        ..Default::default()
    };
    for (edit, name) in [(&appid as &dyn Fn(&mut _), "appid"), (&rk, "credProps")] {
        let (options, state) = rp.start_authentication(&req, now(), &mut OsRandom).unwrap();
        let mut resp = a
            .authenticate(&options.public_key, ORIGIN, Fault::None)
            .unwrap();
        edit(&mut resp.client_extension_results);
        let err = rp
            .finish_authentication(&state, &resp, &record, now())
            .unwrap_err();
        assert!(
            crate::refused(
                &err,
                FailureCode::Malformed,
                &format!("unrequested {name} extension output")
            ),
            "{err}"
        );
        assert_eq!(err.failure_code(), Some(FailureCode::Malformed));
    }
}

#[test]
fn cross_origin_without_top_origin_is_refused_when_top_origins_are_listed() {
    let embedded = |tops: Vec<String>| {
        RelyingParty::builder("example.com", "Example")
            .origin(ORIGIN)
            .allow_cross_origin(tops)
            .build()
            .unwrap()
    };
    // Fault::CrossOrigin sends crossOrigin: true and no topOrigin.
    for (tops, ok) in [
        (vec![], true),
        (vec!["https://top.example".to_owned()], false),
    ] {
        let rp = embedded(tops);
        let mut a = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom).unwrap();
        let req = RegistrationRequest::new(b"u".to_vec(), "u", "U");
        let (options, state) = rp.start_registration(&req, now(), &mut OsRandom).unwrap();
        let resp = a.register(&options, ORIGIN, Fault::CrossOrigin).unwrap();
        let reg = rp.finish_registration(&state, &resp, now());
        assert_eq!(reg.is_ok(), ok);
        let record = register(&rp, &mut a);
        let res = assert_auth(&rp, &mut a, &record, false, Fault::CrossOrigin);
        match res {
            Ok(_) => assert!(ok),
            Err(e) => {
                assert!(!ok);
                assert_eq!(e.failure_code(), Some(FailureCode::CrossOriginNotAllowed));
            }
        }
    }
}
