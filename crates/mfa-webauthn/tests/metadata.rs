//! FIDO MDS3: BLOBs built and signed here (ES256, with the `tests/data/mds/gen.sh`
//! chain root -> intermediate -> signer), their verification and parsing, and the
//! compiled store as a relying party's trust source on real registrations.

use base64::Engine as _;
use mfa_core::Timestamp;
use mfa_webauthn::hazmat::verify_registration_with;
use mfa_webauthn::json::RegistrationResponseJson;
use mfa_webauthn::metadata::testkit::{header, sign_es256};
use mfa_webauthn::metadata::{
    AuthenticatorStatus, CertificationLevel, JwsAlgorithm, MetadataError, parse_aaguid,
};
use mfa_webauthn::{
    AttestationPolicy, AttestationTrust, AuthenticatorRefusal, Error, Expectations, MetadataLoader,
    MetadataTrustStore, RelyingParty, TrustAnchor, TrustAnchorSource,
};
use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/mds")
            .join(name),
    )
    .unwrap()
}

/// 2027-01-01T00:00:00Z: the fixtures (made 2026-12-01, valid 19 years) are valid then.
pub(crate) const NOW: Timestamp = Timestamp::from_unix_secs(1_798_761_600);
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub(crate) const NANO: &str = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
pub(crate) const PACKED_NANO: &str =
    "webauthn/registration/packed/reg-packed-es256-yubikey-5-nano.json";
const U2F: &str = "webauthn/registration/fido-u2f/reg-fido-u2f-es256-yubikey-4.json";
pub(crate) const NONE_ICLOUD: &str =
    "webauthn/registration/none/reg-none-es256-icloud-keychain-passkey.json";

fn chain() -> Vec<Vec<u8>> {
    vec![fixture("mds-signer.der"), fixture("mds-int.der")]
}

pub(crate) fn loader() -> MetadataLoader {
    MetadataLoader::new().with_roots_only([TrustAnchor::from_der(fixture("mds-root.der")).unwrap()])
}

fn sign(header_json: &[u8], payload: &Value) -> Vec<u8> {
    sign_es256(
        header_json,
        payload.to_string().as_bytes(),
        &fixture("mds-signer.scalar"),
    )
    .unwrap()
}

pub(crate) fn blob(payload: &Value) -> Vec<u8> {
    sign(&header("ES256", &chain()), payload)
}

pub(crate) fn payload(no: u64, entries: Value) -> Value {
    json!({
        "legalHeader": "test BLOB, not for production",
        "no": no,
        "nextUpdate": "2027-02-01",
        "entries": entries,
    })
}

pub(crate) fn entry(aaguid: &str, roots: &[&[u8]], statuses: &[&str]) -> Value {
    json!({
        "aaguid": aaguid,
        "metadataStatement": {
            "description": format!("authenticator {aaguid}"),
            "aaguid": aaguid,
            "attestationRootCertificates": roots.iter().map(|r| B64.encode(r)).collect::<Vec<_>>(),
        },
        "statusReports": statuses.iter().map(|s| json!({"status": s, "effectiveDate": "2024-01-01"})).collect::<Vec<_>>(),
        "timeOfLastStatusChange": "2024-01-01",
    })
}

#[test]
fn the_signing_scalar_belongs_to_the_signer_certificate() {
    // The fixtures are consistent: a BLOB signed with the scalar verifies with the
    // certificate (checked through load), and the scalar is a valid P-256 key.
    let store = loader().load(&blob(&payload(1, json!([]))), NOW).unwrap();
    assert_eq!(store.no(), 1);
}

#[test]
fn a_good_blob_loads_and_answers_by_aaguid_and_key_id() {
    let root = fixture("other-root.der");
    let key_id = "923881fe2f214ee465484371aeb72e97f5a58e0a";
    let mut p = payload(
        7,
        json!([
            entry(NANO, &[&root], &["FIDO_CERTIFIED_L1", "FIDO_CERTIFIED_L2"]),
            {
                "attestationCertificateKeyIdentifiers": [key_id],
                "metadataStatement": {"attestationRootCertificates": [B64.encode(&root)]},
                "statusReports": [{"status": "FIDO_CERTIFIED"}],
            },
            // UAF (aaid only): dropped.
            {"aaid": "4e4e#4005", "statusReports": [{"status": "FIDO_CERTIFIED"}]},
        ]),
    );
    // Unknown members anywhere are ignored; an informational member of another type
    // (legalHeader as a number) is ignored too.
    p["futureMember"] = json!({"x": [1, 2]});
    p["legalHeader"] = json!(42);
    p["entries"][0]["newThing"] = json!(true);
    p["entries"][0]["metadataStatement"]["authenticatorGetInfo"] =
        json!({"versions": ["FIDO_2_1"]});
    p["entries"][0]["statusReports"][0]["certificationDescriptor"] = json!("x");
    let text = blob(&p);
    // Surrounding whitespace (a trailing newline from a download) is fine.
    let mut padded = text.clone();
    padded.extend_from_slice(b"\r\n");
    let store = loader().load(&padded, NOW).unwrap();
    assert_eq!(store.no(), 7);
    assert_eq!(store.next_update().to_string(), "2027-02-01");
    assert_eq!(store.legal_header(), None);
    assert!(!store.is_stale(NOW));
    assert!(store.is_stale(Timestamp::from_unix_secs(1_801_440_000))); // 2027-02-01
    assert_eq!(store.entries().len(), 2);
    let nano = store.by_aaguid(&parse_aaguid(NANO).unwrap()).unwrap();
    assert_eq!(nano.roots().len(), 1);
    assert_eq!(nano.roots()[0].der(), root.as_slice());
    assert_eq!(nano.certification_level(), Some(CertificationLevel::L2));
    assert_eq!(
        nano.description(),
        Some(format!("authenticator {NANO}").as_str())
    );
    let mut kid = [0u8; 20];
    for (i, b) in kid.iter_mut().enumerate() {
        *b = u8::from_str_radix(&key_id[2 * i..2 * i + 2], 16).unwrap();
    }
    let u2f = store.by_certificate_key_id(&kid).unwrap();
    assert_eq!(u2f.certification_level(), Some(CertificationLevel::L1));
    assert!(store.by_aaguid(&[1; 16]).is_none());
    // The store is a trust source that can be shared between threads.
    fn shareable<T: TrustAnchorSource + Send + Sync + 'static>(_: &T) {}
    shareable(&store);
}

#[test]
fn the_compiled_store_round_trips_through_serde_and_is_rechecked() {
    let root = fixture("other-root.der");
    let store = loader()
        .load(
            &blob(&payload(
                3,
                json!([entry(NANO, &[&root], &["REVOKED", "SOMETHING_NEW"])]),
            )),
            NOW,
        )
        .unwrap();
    let text = serde_json::to_string(&store).unwrap();
    let back: MetadataTrustStore = serde_json::from_str(&text).unwrap();
    assert_eq!(back, store);
    // A cached store edited to carry a malformed AAGUID or root is refused.
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["entries"][0]["aaguid"] = json!("not-an-aaguid");
    assert!(serde_json::from_value::<MetadataTrustStore>(v).is_err());
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["entries"][0]["roots"] = json!(["AAAA"]);
    assert!(serde_json::from_value::<MetadataTrustStore>(v).is_err());
}

#[test]
fn a_tampered_payload_or_signature_is_refused() {
    let good = String::from_utf8(blob(&payload(1, json!([])))).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let other = B64URL.encode(payload(2, json!([])).to_string());
    let tampered = format!("{}.{}.{}", parts[0], other, parts[2]);
    assert_eq!(
        loader().load(tampered.as_bytes(), NOW).unwrap_err(),
        MetadataError::BadSignature
    );
    let mut sig = B64URL.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], B64URL.encode(sig));
    assert_eq!(
        loader().load(bad_sig.as_bytes(), NOW).unwrap_err(),
        MetadataError::BadSignature
    );
    for shape in [
        "",
        "a.b",
        "a.b.c.d",
        &format!("{}.{}.", parts[0], parts[1]),
        &format!("{}==.{}.{}", parts[0], parts[1], parts[2]),
    ] {
        assert!(loader().load(shape.as_bytes(), NOW).is_err(), "{shape:?}");
    }
    assert!(matches!(
        loader().max_len(10).load(good.as_bytes(), NOW),
        Err(MetadataError::TooLarge)
    ));
}

#[test]
fn only_allow_listed_algorithms_are_accepted() {
    let p = payload(1, json!([]));
    for alg in ["none", "HS256", "PS256", "es256", ""] {
        let jws = sign(&header(alg, &chain()), &p);
        assert_eq!(
            loader().load(&jws, NOW).unwrap_err(),
            MetadataError::AlgorithmNotAllowed(alg.to_owned()),
            "{alg}"
        );
    }
    // `alg: none` with an empty signature, as an attacker would send it.
    let unsigned = format!(
        "{}.{}.",
        B64URL.encode(header("none", &chain())),
        B64URL.encode(p.to_string())
    );
    assert!(matches!(
        loader().load(unsigned.as_bytes(), NOW),
        Err(MetadataError::AlgorithmNotAllowed(_))
    ));
    // A supported algorithm the loader does not allow.
    assert!(matches!(
        loader().algorithms([JwsAlgorithm::Rs256]).load(&blob(&p), NOW),
        Err(MetadataError::AlgorithmNotAllowed(a)) if a == "ES256"
    ));
    // A header claiming another algorithm than the key's: the signature fails.
    for alg in ["RS256", "ES384"] {
        assert_eq!(
            loader()
                .load(&sign(&header(alg, &chain()), &p), NOW)
                .unwrap_err(),
            MetadataError::BadSignature,
            "{alg}"
        );
    }
}

#[test]
fn the_signer_must_chain_to_a_configured_root_at_the_instant() {
    let b = blob(&payload(1, json!([])));
    let other = TrustAnchor::from_der(fixture("other-root.der")).unwrap();
    assert!(matches!(
        MetadataLoader::new().with_roots_only([other]).load(&b, NOW),
        Err(MetadataError::UntrustedSigner(_))
    ));
    // The default roots (GlobalSign R3) do not include the test root.
    assert!(matches!(
        MetadataLoader::new().load(&b, NOW),
        Err(MetadataError::UntrustedSigner(_))
    ));
    // ... and extending them does.
    let extended =
        MetadataLoader::new().with_root(TrustAnchor::from_der(fixture("mds-root.der")).unwrap());
    assert_eq!(extended.roots().len(), 2);
    assert!(extended.load(&b, NOW).is_ok());
    // 2026-01-01: before the signer's notBefore.
    assert!(matches!(
        loader().load(&b, Timestamp::from_unix_secs(1_767_225_600)),
        Err(MetadataError::UntrustedSigner(_))
    ));
    // Without the intermediate there is no path.
    let leaf_only = sign(&header("ES256", &chain()[..1]), &payload(1, json!([])));
    assert!(matches!(
        loader().load(&leaf_only, NOW),
        Err(MetadataError::UntrustedSigner(_))
    ));
    // No x5c at all.
    let no_x5c = sign(br#"{"alg":"ES256"}"#, &payload(1, json!([])));
    assert!(matches!(
        loader().load(&no_x5c, NOW),
        Err(MetadataError::MalformedJws(_))
    ));
}

#[test]
fn a_blob_must_be_newer_than_the_loaded_one() {
    let current = loader().load(&blob(&payload(10, json!([]))), NOW).unwrap();
    for no in [9, 10] {
        assert_eq!(
            loader()
                .load_update(&blob(&payload(no, json!([]))), NOW, &current)
                .unwrap_err(),
            MetadataError::NotNewer {
                found: no,
                loaded: 10
            }
        );
    }
    let next = loader()
        .load_update(&blob(&payload(11, json!([]))), NOW, &current)
        .unwrap();
    assert_eq!(next.no(), 11);
}

#[test]
fn strict_members_refuse_the_blob() {
    let root = fixture("other-root.der");
    let bad_entry = |index, reason| MetadataError::InvalidEntry { index, reason };
    let load = |entries: Value| loader().load(&blob(&payload(1, entries)), NOW);
    for aaguid in [
        "cb69481e8ff7403993ec0a2729a154a8",
        "cb69481e-8ff7-4039-93ec-0a2729a154ag",
        "{cb69481e-8ff7-4039-93ec-0a2729a154a8}",
    ] {
        assert_eq!(
            load(json!([
                entry(NANO, &[&root], &[]),
                entry(aaguid, &[&root], &[])
            ]))
            .unwrap_err(),
            bad_entry(1, "malformed aaguid"),
            "{aaguid}"
        );
    }
    assert_eq!(
        load(json!([entry(
            "00000000-0000-0000-0000-000000000000",
            &[&root],
            &[]
        )]))
        .unwrap_err(),
        bad_entry(0, "all-zero aaguid")
    );
    assert_eq!(
        load(json!([
            entry(NANO, &[&root], &[]),
            entry(NANO, &[&root], &[])
        ]))
        .unwrap_err(),
        bad_entry(1, "duplicate aaguid")
    );
    assert_eq!(
        load(json!([entry(NANO, &[b"not a certificate"], &[])])).unwrap_err(),
        bad_entry(0, "malformed attestation root certificate")
    );
    assert_eq!(
        load(json!([{"attestationCertificateKeyIdentifiers": ["xyz"], "statusReports": []}]))
            .unwrap_err(),
        bad_entry(0, "malformed attestation certificate key identifier")
    );
    // A status that is not a string, or a report without one.
    for report in [json!({"status": 5}), json!({"effectiveDate": "2024-01-01"})] {
        let mut e = entry(NANO, &[&root], &[]);
        e["statusReports"] = json!([report]);
        assert!(matches!(
            load(json!([e])),
            Err(MetadataError::MalformedPayload(_))
        ));
    }
    // no and nextUpdate are required and typed.
    for (k, v) in [
        ("nextUpdate", json!("2027-2-1")),
        ("nextUpdate", json!(null)),
        ("no", json!(-1)),
        ("no", json!("7")),
        ("entries", json!({})),
    ] {
        let mut p = payload(1, json!([]));
        p[k] = v;
        assert!(
            matches!(
                loader().load(&blob(&p), NOW),
                Err(MetadataError::MalformedPayload(_))
            ),
            "{k}"
        );
    }
}

// --- the store as a relying party's trust source, on real registrations ---

pub(crate) struct Case {
    pub(crate) exp: Expectations,
    pub(crate) response: RegistrationResponseJson,
    pub(crate) root: Option<Vec<u8>>,
}

pub(crate) fn case(rel: &str) -> Case {
    let (c, mut exp, response) = crate::registration_vector(rel);
    let e = &c["expected"];
    exp.allow_cross_origin = e["allow_cross_origin"].as_bool().unwrap_or(false);
    let root = e["trust_anchors"]
        .as_array()
        .and_then(|a| a.first())
        .map(|a| B64.decode(a.as_str().unwrap()).unwrap());
    Case {
        exp,
        response,
        root,
    }
}

/// 2024-01-01T00:00:00Z, the verification time of the cases used here.
pub(crate) const REG_TIME: Timestamp = Timestamp::from_unix_secs(1_704_067_200);

pub(crate) fn store_with(entries: Value) -> MetadataTrustStore {
    loader().load(&blob(&payload(1, entries)), NOW).unwrap()
}

fn register(c: &Case, policy: &AttestationPolicy) -> Result<AttestationTrust, Error> {
    verify_registration_with(&c.exp, &c.response, policy, REG_TIME, Default::default())
        .map(|r| r.trust)
}

pub(crate) fn rp(store: MetadataTrustStore) -> mfa_webauthn::RelyingPartyBuilder {
    RelyingParty::builder("example.com", "Ex")
        .origin("https://example.com")
        .trust_anchors(std::sync::Arc::new(store))
}

fn refusal(r: Result<AttestationTrust, Error>) -> AuthenticatorRefusal {
    match r {
        Err(Error::Rejected(r)) if r.authenticator_refusal().is_some() => {
            assert_eq!(r.code(), mfa_webauthn::FailureCode::UntrustedAttestation);
            r.authenticator_refusal().cloned().unwrap()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_blob_entry_makes_its_authenticator_trusted_end_to_end() {
    let c = case(PACKED_NANO);
    let yubico = c.root.clone().unwrap();
    // Written to a file and read back, as an operator would load a download.
    let path = std::env::temp_dir().join(format!("mfa-mds-{}.jwt", std::process::id()));
    std::fs::write(
        &path,
        blob(&payload(
            1,
            json!([entry(NANO, &[&yubico], &["FIDO_CERTIFIED_L1"])]),
        )),
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let store = loader().load(&bytes, NOW).unwrap();
    let rp = rp(store).build().unwrap();
    assert_eq!(
        register(&c, &rp.attestation_policy()).unwrap(),
        AttestationTrust::Trusted
    );
    let reg = verify_registration_with(
        &c.exp,
        &c.response,
        &rp.attestation_policy(),
        REG_TIME,
        Default::default(),
    )
    .unwrap();
    // Trust is what makes hwk possible (BE = 0 on this security key).
    assert!(rp.is_hardware_bound(&reg.record));
    // An entry for the AAGUID with another root: the chain is refused.
    let other = fixture("other-root.der");
    let store = store_with(json!([entry(NANO, &[&other], &["FIDO_CERTIFIED_L1"])]));
    assert!(crate::refused_r(
        &register(&c, &rp_policy(store)),
        mfa_webauthn::FailureCode::UntrustedAttestation,
        "untrusted attestation"
    ));
    // The Yubico root under another AAGUID does not vouch for this one.
    let store = store_with(json!([entry(
        "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
        &[&yubico],
        &[]
    )]));
    assert_eq!(
        register(&c, &rp_policy(store)).unwrap(),
        AttestationTrust::NotEvaluated
    );
}

fn rp_policy(store: MetadataTrustStore) -> AttestationPolicy {
    rp(store).build().unwrap().attestation_policy()
}

#[test]
fn u2f_authenticators_are_found_by_certificate_key_id() {
    use sha1::Digest as _;
    let c = case(U2F);
    let root = c.root.clone().unwrap();
    let reg = verify_registration_with(
        &c.exp,
        &c.response,
        &AttestationPolicy::default(),
        REG_TIME,
        Default::default(),
    )
    .unwrap();
    let leaf = reg.x5c.first().unwrap();
    let key_id: [u8; 20] = sha1::Sha1::digest(crate::p256_point(leaf)).into();
    let hex: String = key_id.iter().map(|b| format!("{b:02x}")).collect();
    let u2f_entry = |statuses: &[&str]| {
        json!([{
            "attestationCertificateKeyIdentifiers": [hex],
            "metadataStatement": {"attestationRootCertificates": [B64.encode(&root)]},
            "statusReports": statuses.iter().map(|s| json!({"status": s})).collect::<Vec<_>>(),
        }])
    };
    let store = store_with(u2f_entry(&["FIDO_CERTIFIED"]));
    assert_eq!(
        register(&c, &rp_policy(store)).unwrap(),
        AttestationTrust::Trusted
    );
    let store = store_with(u2f_entry(&["FIDO_CERTIFIED", "ATTESTATION_KEY_COMPROMISE"]));
    assert_eq!(
        refusal(register(&c, &rp_policy(store))),
        AuthenticatorRefusal::Status(AuthenticatorStatus::AttestationKeyCompromise)
    );
    // An AAGUID allow list cannot be met by U2F (all-zero AAGUID).
    let store = store_with(u2f_entry(&["FIDO_CERTIFIED"]));
    let policy = rp(store)
        .allow_aaguids([parse_aaguid(NANO).unwrap()])
        .build()
        .unwrap()
        .attestation_policy();
    assert_eq!(
        refusal(register(&c, &policy)),
        AuthenticatorRefusal::NotAllowed
    );
}

#[test]
fn refused_statuses_unknown_statuses_and_their_configuration() {
    let c = case(PACKED_NANO);
    let yubico = c.root.clone().unwrap();
    for (status, refused) in [
        ("REVOKED", AuthenticatorStatus::Revoked),
        (
            "USER_VERIFICATION_BYPASS",
            AuthenticatorStatus::UserVerificationBypass,
        ),
        (
            "USER_KEY_REMOTE_COMPROMISE",
            AuthenticatorStatus::UserKeyRemoteCompromise,
        ),
        (
            "USER_KEY_PHYSICAL_COMPROMISE",
            AuthenticatorStatus::UserKeyPhysicalCompromise,
        ),
    ] {
        // Refused even when a later report certifies it again.
        let store = store_with(json!([entry(
            NANO,
            &[&yubico],
            &["FIDO_CERTIFIED_L1", status, "UPDATE_AVAILABLE"]
        )]));
        let r = register(&c, &rp_policy(store.clone()));
        assert_eq!(
            refusal(r),
            AuthenticatorRefusal::Status(refused),
            "{status}"
        );
        // As a facade error it is a requirement not met, code untrusted_attestation.
        let e = register(&c, &rp_policy(store.clone())).unwrap_err();
        assert_eq!(
            e.failure_code(),
            Some(mfa_webauthn::FailureCode::UntrustedAttestation)
        );
        // The relying party may choose its own list.
        let lenient = rp(store)
            .refused_statuses([AuthenticatorStatus::AttestationKeyCompromise])
            .build()
            .unwrap()
            .attestation_policy();
        assert_eq!(register(&c, &lenient).unwrap(), AttestationTrust::Trusted);
    }
    // An unknown status is kept raw and matches no rule.
    let store = store_with(json!([entry(
        NANO,
        &[&yubico],
        &["FIDO_CERTIFIED_L9", "NEW_STATUS"]
    )]));
    let e = store.by_aaguid(&parse_aaguid(NANO).unwrap()).unwrap();
    assert_eq!(
        e.status_reports()[1].status,
        AuthenticatorStatus::Unknown("NEW_STATUS".into())
    );
    assert_eq!(e.certification_level(), None);
    assert_eq!(
        register(&c, &rp_policy(store)).unwrap(),
        AttestationTrust::Trusted
    );
}

#[test]
fn aaguid_lists_and_certification_levels_apply_at_registration() {
    let c = case(PACKED_NANO);
    let yubico = c.root.clone().unwrap();
    let nano = parse_aaguid(NANO).unwrap();
    let store = store_with(json!([entry(
        NANO,
        &[&yubico],
        &["FIDO_CERTIFIED_L1", "FIDO_CERTIFIED_L2"]
    )]));
    let with = |b: mfa_webauthn::RelyingPartyBuilder| b.build().unwrap().attestation_policy();
    assert_eq!(
        register(&c, &with(rp(store.clone()).allow_aaguids([nano]))).unwrap(),
        AttestationTrust::Trusted
    );
    assert_eq!(
        refusal(register(
            &c,
            &with(rp(store.clone()).allow_aaguids([[9; 16]]))
        )),
        AuthenticatorRefusal::NotAllowed
    );
    assert_eq!(
        refusal(register(&c, &with(rp(store.clone()).deny_aaguids([nano])))),
        AuthenticatorRefusal::Denied
    );
    assert_eq!(
        register(
            &c,
            &with(rp(store.clone()).minimum_certification_level(CertificationLevel::L2))
        )
        .unwrap(),
        AttestationTrust::Trusted
    );
    assert_eq!(
        refusal(register(
            &c,
            &with(rp(store.clone()).minimum_certification_level(CertificationLevel::L2Plus))
        )),
        AuthenticatorRefusal::CertificationLevel {
            required: CertificationLevel::L2Plus,
            found: Some(CertificationLevel::L2)
        }
    );
    // Lists and levels need a trust source, and imply required trusted attestation
    // (so a registration asking for `none` conveyance is refused at the start).
    for b in [
        RelyingParty::builder("example.com", "Ex")
            .origin("https://example.com")
            .allow_aaguids([nano]),
        RelyingParty::builder("example.com", "Ex")
            .origin("https://example.com")
            .minimum_certification_level(CertificationLevel::L1),
    ] {
        assert!(b.build().is_err());
    }
    let strict = rp(store).allow_aaguids([nano]).build().unwrap();
    assert!(strict.attestation_policy().require_trusted);
    let req = mfa_webauthn::RegistrationRequest::new(b"u".to_vec(), "a", "A");
    assert!(matches!(
        strict.start_registration(&req, REG_TIME, &mut mfa_core::OsRandom),
        Err(Error::Config(_))
    ));
}

#[test]
fn the_aaguid_of_none_attestation_is_never_trusted_but_can_be_refused() {
    let c = case(NONE_ICLOUD);
    let icloud = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd";
    let other = fixture("other-root.der");
    // Metadata lists the AAGUID as certified: `none` still is not evaluated, and so
    // cannot meet an allow list or a certification level.
    let store = store_with(json!([entry(icloud, &[&other], &["FIDO_CERTIFIED_L3"])]));
    assert_eq!(
        register(&c, &rp_policy(store.clone())).unwrap(),
        AttestationTrust::NotEvaluated
    );
    let aaguid = parse_aaguid(icloud).unwrap();
    let policy = |b: mfa_webauthn::RelyingPartyBuilder| b.build().unwrap().attestation_policy();
    // Without required trust (the builder implies it), the lists still refuse.
    let mut p = policy(rp(store.clone()).allow_aaguids([aaguid]));
    p.require_trusted = false;
    assert_eq!(refusal(register(&c, &p)), AuthenticatorRefusal::NotAllowed);
    let mut p = policy(rp(store.clone()).minimum_certification_level(CertificationLevel::L1));
    p.require_trusted = false;
    assert_eq!(
        refusal(register(&c, &p)),
        AuthenticatorRefusal::CertificationLevel {
            required: CertificationLevel::L1,
            found: None
        }
    );
    // A refusal on the claimed AAGUID needs no proof.
    assert_eq!(
        refusal(register(&c, &policy(rp(store).deny_aaguids([aaguid])))),
        AuthenticatorRefusal::Denied
    );
    let revoked = store_with(json!([entry(icloud, &[&other], &["REVOKED"])]));
    assert_eq!(
        refusal(register(&c, &rp_policy(revoked))),
        AuthenticatorRefusal::Status(AuthenticatorStatus::Revoked)
    );
}

#[test]
fn payloads_parse_through_the_hazmat_seam() {
    use mfa_webauthn::hazmat::parse_metadata_payload;
    let root = fixture("other-root.der");
    let p = payload(5, json!([entry(NANO, &[&root], &[])]));
    let s = parse_metadata_payload(p.to_string().as_bytes()).unwrap();
    assert_eq!((s.no, s.entries), (5, 1));
    assert_eq!(s.next_update.to_string(), "2027-02-01");
    assert!(parse_metadata_payload(b"{}").is_err());
    assert!(parse_metadata_payload(b"\xff").is_err());
}

#[test]
fn denying_the_zero_aaguid_refuses_u2f_and_anonymised_authenticators() {
    // A deny list is never ignored: the all-zero AAGUID of U2F counts too.
    let c = case(U2F);
    let store = store_with(json!([]));
    let policy = rp(store)
        .deny_aaguids([[0; 16]])
        .build()
        .unwrap()
        .attestation_policy();
    assert_eq!(refusal(register(&c, &policy)), AuthenticatorRefusal::Denied);
}

#[test]
fn mutated_payloads_never_panic_and_verified_loads_agree_with_the_parse() {
    // What the `mds_blob` fuzz target checks, on deterministic mutations of one seed:
    // every byte replaced or deleted; every 37th mutation is also signed and loaded,
    // and must succeed or fail exactly as the unverified parse does.
    use mfa_webauthn::hazmat::parse_metadata_payload;
    let root = fixture("other-root.der");
    let mut e = entry(NANO, &[&root], &["FIDO_CERTIFIED_L2", "NEW"]);
    e["attestationCertificateKeyIdentifiers"] = json!(["923881fe2f214ee465484371aeb72e97f5a58e0a"]);
    let seed = payload(4, json!([e])).to_string().into_bytes();
    let mut n = 0usize;
    for i in 0..seed.len() {
        for m in [None, Some(b'"'), Some(b'0'), Some(b'}'), Some(b'-')] {
            let mut p = seed.clone();
            match m {
                None => {
                    p.remove(i);
                }
                Some(b) => p[i] = b,
            }
            let parsed = parse_metadata_payload(&p);
            n += 1;
            if n.is_multiple_of(37) {
                let jws = sign_es256(
                    &header("ES256", &chain()),
                    &p,
                    &fixture("mds-signer.scalar"),
                )
                .unwrap();
                match (loader().load(&jws, NOW), &parsed) {
                    (Ok(store), Ok(s)) => {
                        assert_eq!((store.no(), store.entries().len()), (s.no, s.entries))
                    }
                    (Err(a), Err(b)) => assert_eq!(&a, b),
                    (a, b) => panic!("{a:?} / {b:?}"),
                }
            }
        }
    }
    assert!(n > 5_000);
}
