//! Attestation trust: anchors, the RS1 opt-in, required trust and `hwk`.

use base64::Engine as _;
use mfa_core::Timestamp;
use mfa_webauthn::hazmat::verify_registration_with;
use mfa_webauthn::json::RegistrationResponseJson;
use mfa_webauthn::{
    AttestationPolicy, AttestationTrust, Error, Expectations, RelyingParty, TrustAnchor,
    TrustAnchors,
};

struct Case {
    exp: Expectations,
    response: RegistrationResponseJson,
    anchors: Vec<TrustAnchor>,
    now: Timestamp,
}

fn case(rel: &str) -> Case {
    let (c, exp, response) = crate::registration_vector(rel);
    let e = &c["expected"];
    let anchors = e["trust_anchors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let der = base64::engine::general_purpose::STANDARD
                .decode(a.as_str().unwrap())
                .unwrap();
            TrustAnchor::from_der(der).unwrap()
        })
        .collect();
    // 2024-01-01T00:00:00Z, the verification_time of the cases used here.
    assert_eq!(e["verification_time"], "2024-01-01T00:00:00Z");
    Case {
        exp,
        response,
        anchors,
        now: Timestamp::from_unix_secs(1_704_067_200),
    }
}

fn policy(anchors: &[TrustAnchor]) -> AttestationPolicy {
    let set = anchors
        .iter()
        .fold(TrustAnchors::new(), |s, a| s.with(a.clone()));
    AttestationPolicy::default().with_anchors(set)
}

const TPM_RS1: &str = "webauthn/registration/tpm/reg-tpm-es256-lenovo-thinkpad.json";
const U2F: &str = "webauthn/registration/fido-u2f/reg-fido-u2f-es256-yubikey-4.json";

#[test]
fn rs1_attestation_is_refused_by_default_and_accepted_with_the_opt_in() {
    let c = case(TPM_RS1);
    for backend in crate::backends() {
        let default = policy(&c.anchors);
        assert!(!default.danger_allow_rs1_attestation);
        let err =
            verify_registration_with(&c.exp, &c.response, &default, c.now, backend).unwrap_err();
        assert!(
            crate::refused(
                &err,
                mfa_webauthn::FailureCode::InvalidAttestationStatement,
                "rs1"
            ),
            "{err:?}"
        );
        let mut opted = default;
        opted.danger_allow_rs1_attestation = true;
        let reg = verify_registration_with(&c.exp, &c.response, &opted, c.now, backend).unwrap();
        assert_eq!(reg.trust, AttestationTrust::Trusted);
        assert_eq!(
            reg.record.attestation_type,
            mfa_webauthn::AttestationType::AttCa
        );
    }
    // The relying party's policy follows its builder.
    let rp =
        |b: mfa_webauthn::RelyingPartyBuilder| b.origin("https://example.com").build().unwrap();
    assert!(
        !rp(RelyingParty::builder("example.com", "Ex"))
            .attestation_policy()
            .danger_allow_rs1_attestation
    );
    assert!(
        rp(RelyingParty::builder("example.com", "Ex").danger_allow_rs1_attestation())
            .attestation_policy()
            .danger_allow_rs1_attestation
    );
}

#[test]
fn trusted_chain_sets_attestation_trusted_and_hwk_follows() {
    let c = case(U2F);
    // The relying party's configured anchors are what its registrations use (here a
    // source shared through an Arc, as several relying parties would share one).
    let shared = std::sync::Arc::new(TrustAnchors::new().with(c.anchors.first().unwrap().clone()));
    let rp = RelyingParty::builder("example.com", "Ex")
        .origin("https://example.com")
        .trust_anchors(shared.clone())
        .build()
        .unwrap();
    let reg = verify_registration_with(
        &c.exp,
        &c.response,
        &rp.attestation_policy(),
        c.now,
        rp.backend(),
    )
    .unwrap();
    assert_eq!(reg.trust, AttestationTrust::Trusted);
    assert!(reg.record.attestation_trusted);
    assert_eq!(reg.record.backup_eligible, Some(false));
    assert!(rp.is_hardware_bound(&reg.record));
    // Without anchors the same statement verifies but is not evaluated: no hwk.
    let reg = verify_registration_with(
        &c.exp,
        &c.response,
        &AttestationPolicy::default(),
        c.now,
        rp.backend(),
    )
    .unwrap();
    assert_eq!(reg.trust, AttestationTrust::NotEvaluated);
    assert!(!reg.record.attestation_trusted);
    assert!(!rp.is_hardware_bound(&reg.record));
}

#[test]
fn anchors_are_scoped_by_format_and_aaguid() {
    let c = case(U2F);
    let root = c.anchors.first().unwrap().clone();
    let backend = mfa_webauthn::Backend::default();
    let run = |set: TrustAnchors| {
        let p = AttestationPolicy::default().with_anchors(set);
        verify_registration_with(&c.exp, &c.response, &p, c.now, backend).map(|r| r.trust)
    };
    // The root only for tpm: no opinion on fido-u2f.
    assert_eq!(
        run(TrustAnchors::new().with_for_format("tpm", root.clone())).unwrap(),
        AttestationTrust::NotEvaluated
    );
    assert_eq!(
        run(TrustAnchors::new().with_for_format("fido-u2f", root.clone())).unwrap(),
        AttestationTrust::Trusted
    );
    // fido-u2f authenticators report the zero AAGUID.
    assert_eq!(
        run(TrustAnchors::new().with_for_aaguid([0; 16], root.clone())).unwrap(),
        AttestationTrust::Trusted
    );
    assert_eq!(
        run(TrustAnchors::new().with_for_aaguid([1; 16], root)).unwrap(),
        AttestationTrust::NotEvaluated
    );
    // A root for the statement that the chain does not reach: untrusted, not invalid.
    let apple = std::fs::read_to_string(crate::vectors(
        "webauthn/trust-anchors/apple-webauthn-root-ca-0915dd5c.pem",
    ))
    .unwrap();
    let apple = TrustAnchor::from_pem(&apple).unwrap();
    assert!(crate::refused_r(
        &run(TrustAnchors::new().with(apple)),
        mfa_webauthn::FailureCode::UntrustedAttestation,
        "untrusted attestation"
    ));
}

#[test]
fn required_trust_refuses_unevaluated_attestation() {
    let c = case(U2F);
    let mut required = policy(&c.anchors);
    required.require_trusted = true;
    let backend = mfa_webauthn::Backend::default();
    assert!(verify_registration_with(&c.exp, &c.response, &required, c.now, backend).is_ok());
    // Roots for another format only: nothing vouches for this statement.
    let mut other = AttestationPolicy::default().with_anchors(
        TrustAnchors::new().with_for_format("tpm", c.anchors.first().unwrap().clone()),
    );
    other.require_trusted = true;
    let err = verify_registration_with(&c.exp, &c.response, &other, c.now, backend).unwrap_err();
    assert!(
        crate::refused(
            &err,
            mfa_webauthn::FailureCode::UntrustedAttestation,
            "untrusted"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.failure_code(),
        Some(mfa_webauthn::FailureCode::UntrustedAttestation)
    );
    // A relying party requiring trust refuses to start a registration asking for no
    // attestation, and starts one asking for direct attestation.
    let rp = RelyingParty::builder("example.com", "Ex")
        .origin("https://example.com")
        .trust_anchors(TrustAnchors::new().with(c.anchors.first().unwrap().clone()))
        .require_trusted_attestation()
        .build()
        .unwrap();
    assert!(rp.attestation_policy().require_trusted);
    assert!(rp.attestation_policy().anchors.is_some());
    let mut req = mfa_webauthn::RegistrationRequest::new(b"u".to_vec(), "u", "U");
    let now = Timestamp::from_unix_secs(1_704_067_200);
    assert!(matches!(
        rp.start_registration(&req, now, &mut mfa_core::OsRandom),
        Err(Error::Config(_))
    ));
    req.attestation = mfa_webauthn::Conveyance::Direct;
    let (options, _) = rp
        .start_registration(&req, now, &mut mfa_core::OsRandom)
        .unwrap();
    assert_eq!(options.attestation, "direct");
    // Requiring trust without any anchor is a configuration error.
    assert!(
        RelyingParty::builder("example.com", "Ex")
            .origin("https://example.com")
            .require_trusted_attestation()
            .build()
            .is_err()
    );
    // Malformed anchors are refused when configured.
    assert!(TrustAnchor::from_der(vec![0x30, 0x00]).is_err());
    assert!(TrustAnchor::from_pem("not pem").is_err());
}

/// A source that records what it was asked and answers from a fixed root when the
/// leaf's key identifier is the one it knows, as an MDS3-backed source would for U2F.
#[derive(Debug)]
struct ByKeyId {
    key_id: [u8; 20],
    root: TrustAnchor,
    asked: std::sync::Mutex<Vec<(String, [u8; 16])>>,
}

impl mfa_webauthn::TrustAnchorSource for ByKeyId {
    fn anchors_for(&self, q: &mfa_webauthn::TrustQuery<'_>) -> Vec<TrustAnchor> {
        self.asked
            .lock()
            .unwrap()
            .push((q.fmt.to_owned(), q.aaguid));
        if q.certificate_key_id == Some(self.key_id) {
            vec![self.root.clone()]
        } else {
            Vec::new()
        }
    }
}

#[test]
fn a_custom_source_is_asked_by_format_aaguid_and_certificate_key_id() {
    use sha1::Digest as _;
    let c = case(U2F);
    let reg = verify_registration_with(
        &c.exp,
        &c.response,
        &AttestationPolicy::default(),
        c.now,
        Default::default(),
    )
    .unwrap();
    let leaf = reg.x5c.first().unwrap();
    let point = crate::p256_point(leaf);
    assert_eq!(point[0], 0x04);
    let key_id: [u8; 20] = sha1::Sha1::digest(point).into();
    let run = |key_id: [u8; 20]| {
        let source = std::sync::Arc::new(ByKeyId {
            key_id,
            root: c.anchors.first().unwrap().clone(),
            asked: Default::default(),
        });
        let mut p = AttestationPolicy::default();
        p.anchors = Some(source.clone());
        let trust = verify_registration_with(&c.exp, &c.response, &p, c.now, Default::default())
            .unwrap()
            .trust;
        let asked = source.asked.lock().unwrap().clone();
        (trust, asked)
    };
    let (trust, asked) = run(key_id);
    assert_eq!(trust, AttestationTrust::Trusted);
    assert_eq!(asked, [("fido-u2f".to_owned(), [0; 16])]);
    assert_eq!(run([0; 20]).0, AttestationTrust::NotEvaluated);
}

#[test]
fn certificate_paths_validate_through_the_public_seam() {
    use mfa_webauthn::hazmat::validate_certificate_path;
    let fixture = |name: &str| {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/x509")
                .join(format!("{name}.der")),
        )
        .unwrap()
    };
    let root = TrustAnchor::from_der(fixture("root-rsa4096")).unwrap();
    let other = TrustAnchor::from_der(fixture("other-root-p256")).unwrap();
    let chain = [fixture("leaf-p256"), fixture("int-p384")];
    let t2030 = Timestamp::from_unix_secs(1_893_456_000);
    assert_eq!(
        validate_certificate_path(&chain, &[other.clone(), root], t2030).unwrap(),
        1
    );
    assert!(crate::refused_r(
        &validate_certificate_path(&chain, &[other], t2030),
        mfa_webauthn::FailureCode::UntrustedAttestation,
        "untrusted attestation"
    ));
}
