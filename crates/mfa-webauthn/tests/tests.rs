//! Integration tests of mfa-webauthn (one binary; modules per area).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod algorithms;
mod browser;
mod ceremonies;
mod conformance;
mod factor;
mod formats;
mod lifecycle;
mod metadata;
mod passkeys;
mod security;
mod trust;
mod wycheproof;

/// The shared vectors directory, a sibling of the repository. A checkout without it gets
/// one message naming the missing directory rather than a bare "No such file".
pub(crate) fn vectors(rel: &str) -> std::path::PathBuf {
    let root = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/"
    ));
    assert!(
        root.is_dir(),
        "the shared test vectors are missing: expected {} (a `shared/` directory beside \
         the checkout, see the README)",
        root.display()
    );
    root.join(rel)
}

/// A registration vector under the shared vectors: the vector, the expectations it
/// states (all but cross-origin, and with `credProps` asked for) and the response.
pub(crate) fn registration_vector(
    rel: &str,
) -> (
    serde_json::Value,
    mfa_webauthn::Expectations,
    mfa_webauthn::json::RegistrationResponseJson,
) {
    let text = std::fs::read_to_string(vectors(rel)).unwrap();
    let c: serde_json::Value = serde_json::from_str(&text).unwrap();
    let e = &c["expected"];
    let mut exp: mfa_webauthn::Expectations = serde_json::from_value(serde_json::json!({
        "rp_id": e["rp_id"],
        "origins": e["origins"],
        "challenge": e["challenge"],
        "user_presence_required": true,
        "user_verification_required": false,
        "allowed_algorithms": e["allowed_algorithms"],
    }))
    .unwrap();
    exp.cred_props_requested = true;
    let response = serde_json::from_value(c["credential"].clone()).unwrap();
    (c, exp, response)
}

/// The public point of a certificate's P-256 key: after the SPKI's BIT STRING header
/// (03 42 00), the 65-byte uncompressed point.
pub(crate) fn p256_point(cert: &[u8]) -> &[u8] {
    let header = cert.windows(3).rposition(|w| w == [0x03, 0x42, 0x00]);
    let at = header.unwrap() + 3;
    &cert[at..at + 65]
}

/// Whether `e` is a verification refusal with `code` whose log-only detail (the
/// `source()` text) contains `detail`.
pub(crate) fn refused(
    e: &mfa_webauthn::Error,
    code: mfa_webauthn::FailureCode,
    detail: &str,
) -> bool {
    use std::error::Error as _;
    matches!(e, mfa_webauthn::Error::Rejected(r) if r.code() == code)
        && e.source().is_some_and(|s| s.to_string().contains(detail))
}

/// [`refused`] for a result.
pub(crate) fn refused_r<T>(
    r: &Result<T, mfa_webauthn::Error>,
    code: mfa_webauthn::FailureCode,
    detail: &str,
) -> bool {
    r.as_ref().err().is_some_and(|e| refused(e, code, detail))
}

/// The backends this build has.
pub(crate) fn backends() -> Vec<mfa_webauthn::Backend> {
    #[allow(unused_mut)]
    let mut b = vec![mfa_webauthn::Backend::RustCrypto];
    #[cfg(feature = "aws-lc")]
    b.push(mfa_webauthn::Backend::AwsLc);
    b
}
