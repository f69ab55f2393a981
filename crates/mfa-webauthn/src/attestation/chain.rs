//! Certificate path validation for attestation chains (§7.1 step 24): build the path from
//! the leaf through the statement's certificates to a caller-supplied root, and check
//! every certificate at the verification instant.
//!
//! This is a deliberately small RFC 5280 subset, enough for attestation: signatures
//! (RSA PKCS#1 v1.5 with SHA-256/384/512 and 2048–4096-bit keys, ECDSA P-256/P-384 with
//! SHA-256/384), validity periods, basic constraints (every issuer is a CA), path
//! length, key usage (`keyCertSign` on issuers), and no unknown critical extension.
//! Names are chained by exact DER equality. Certificate policies are treated as under
//! anyPolicy (every policy acceptable); name constraints and policy constraints are not
//! processed, so a certificate marking them critical is refused. The signature
//! verification here is independent of [`crate::hazmat::verify_signature`]: a
//! certificate's algorithm comes from the certificate, not from a COSE key.
//!
//! Root certificates are anchors: their own signature is not checked (a root is
//! trusted by configuration), but their validity period and, when present, basic
//! constraints and key usage are.

use x509_parser::der_parser::oid::Oid;
use x509_parser::prelude::*;

use crate::error::{IResult, InternalError};

/// At most this many certificates between the leaf and the anchor.
const MAX_INTERMEDIATES: usize = 8;

/// Extensions this validator understands (or that are harmless when critical).
const KNOWN_CRITICAL: &[&[u64]] = &[
    &[2, 5, 29, 15], // key usage
    &[2, 5, 29, 19], // basic constraints
    &[2, 5, 29, 37], // extended key usage
    &[2, 5, 29, 17], // subject alternative name
    // Certificate policies: validation runs with the initial policy set anyPolicy and no
    // explicit policy required (RFC 5280 6.1.1), where any policy is acceptable; the
    // Microsoft TPM AIK certificates mark it critical.
    &[2, 5, 29, 32],
];

/// The parsed path from leaf to anchor, on success: the index of the anchor used.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Validated {
    /// Which of the supplied anchors the chain ended at.
    pub(crate) anchor: usize,
}

/// Validates `chain` (leaf first, then the certificates the statement supplied, in
/// any order, possibly ending with the root itself) to one of `anchors` (DER) at
/// `now` (Unix seconds).
///
/// # Errors
///
/// [`Error::Rejected`](crate::Error::Rejected) (`untrusted_attestation`) naming the first failure when no path validates.
pub(crate) fn validate(chain: &[Vec<u8>], anchors: &[&[u8]], now: i64) -> IResult<Validated> {
    // Bound the work an attacker-supplied chain can cause (each step may try every
    // certificate's signature).
    if chain.len() > MAX_INTERMEDIATES + 2 {
        return Err(InternalError::UntrustedAttestation("chain too long"));
    }
    let certs: Vec<X509Certificate<'_>> = chain
        .iter()
        .map(|d| parse(d))
        .collect::<Option<_>>()
        .ok_or(InternalError::UntrustedAttestation(
            "unparsable certificate",
        ))?;
    let roots: Vec<X509Certificate<'_>> = anchors.iter().filter_map(|d| parse(d)).collect();
    let Some(leaf) = certs.first() else {
        return Err(InternalError::UntrustedAttestation("no certificate"));
    };
    let time = ASN1Time::from_timestamp(now)
        .map_err(|_| InternalError::UntrustedAttestation("verification time"))?;
    check_common(leaf, time)?;
    // Walk up: at each step the current certificate is either an anchor (done), issued
    // by an anchor (done), or issued by one of the remaining statement certificates.
    let mut current = leaf;
    let mut used = vec![false; certs.len()];
    if let Some(u) = used.first_mut() {
        *u = true;
    }
    // Number of non-self-issued intermediates below the issuer being checked.
    let mut below = 0usize;
    let mut last_error = InternalError::UntrustedAttestation("no path to a trust anchor");
    for _ in 0..=MAX_INTERMEDIATES {
        // The current certificate is itself an anchor (a chain that includes its root).
        if let Some(i) = anchors.iter().position(|a| *a == current.as_raw()) {
            return Ok(Validated { anchor: i });
        }
        for (i, root) in roots.iter().enumerate() {
            if root.subject().as_raw() != current.issuer().as_raw() {
                continue;
            }
            match check_issuer(root, current, time, below) {
                Ok(()) => {
                    let anchor = anchors
                        .iter()
                        .position(|a| *a == root.as_raw())
                        .unwrap_or(i);
                    return Ok(Validated { anchor });
                }
                Err(e) => last_error = e,
            }
        }
        // Next: a statement certificate naming the current issuer whose key verifies it.
        let mut next = None;
        for (i, cand) in certs.iter().enumerate() {
            if used.get(i).copied().unwrap_or(true)
                || cand.subject().as_raw() != current.issuer().as_raw()
            {
                continue;
            }
            match check_issuer(cand, current, time, below) {
                Ok(()) => {
                    next = Some(i);
                    break;
                }
                Err(e) => last_error = e,
            }
        }
        let Some(i) = next else {
            return Err(last_error);
        };
        if let Some(u) = used.get_mut(i) {
            *u = true;
        }
        let Some(issuer) = certs.get(i) else {
            return Err(last_error);
        };
        if issuer.subject().as_raw() != issuer.issuer().as_raw() {
            below = below.saturating_add(1);
        }
        current = issuer;
    }
    Err(InternalError::UntrustedAttestation("chain too long"))
}

/// Checks that `issuer` may issue `child` and signed it: validity, CA, path length, key
/// usage, and the signature.
fn check_issuer(
    issuer: &X509Certificate<'_>,
    child: &X509Certificate<'_>,
    time: ASN1Time,
    below: usize,
) -> IResult<()> {
    check_common(issuer, time)?;
    match issuer.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {
            if let Some(len) = bc.value.path_len_constraint
                && usize::try_from(len).is_ok_and(|len| below > len)
            {
                return Err(InternalError::UntrustedAttestation("path length exceeded"));
            }
        }
        // A v1 root (no extensions at all) is accepted as an anchor by RFC 5280; an
        // intermediate without CA = true is not.
        Ok(None) if issuer.version() == X509Version::V1 => {}
        _ => return Err(InternalError::UntrustedAttestation("issuer is not a ca")),
    }
    match issuer.key_usage() {
        Ok(Some(ku)) if !ku.value.key_cert_sign() => {
            return Err(InternalError::UntrustedAttestation("issuer key usage"));
        }
        Ok(_) => {}
        Err(_) => return Err(InternalError::UntrustedAttestation("issuer key usage")),
    }
    if !verify_certificate_signature(child, issuer.public_key()) {
        return Err(InternalError::UntrustedAttestation("certificate signature"));
    }
    Ok(())
}

/// Validity at `time` and no unknown critical extension.
fn check_common(cert: &X509Certificate<'_>, time: ASN1Time) -> IResult<()> {
    if !cert.validity().is_valid_at(time) {
        return Err(InternalError::UntrustedAttestation(
            "certificate not valid at verification time",
        ));
    }
    for ext in cert.extensions() {
        if ext.critical && !KNOWN_CRITICAL.iter().any(|o| oid_is(&ext.oid, o)) {
            return Err(InternalError::UntrustedAttestation(
                "unknown critical extension",
            ));
        }
    }
    Ok(())
}

fn parse(der: &[u8]) -> Option<X509Certificate<'_>> {
    X509Certificate::from_der(der)
        .ok()
        .filter(|(rest, _)| rest.is_empty())
        .map(|(_, c)| c)
}

fn oid_is(oid: &Oid<'_>, arcs: &[u64]) -> bool {
    oid.iter().is_some_and(|it| it.eq(arcs.iter().copied()))
}

/// Whether `cert`'s signature verifies with `issuer`'s public key, for the signature
/// algorithms attestation roots and intermediates use.
pub(crate) fn verify_certificate_signature(
    cert: &X509Certificate<'_>,
    issuer: &SubjectPublicKeyInfo<'_>,
) -> bool {
    let tbs = cert.tbs_certificate.as_ref();
    let sig: &[u8] = &cert.signature_value.data;
    let alg = &cert.signature_algorithm.algorithm;
    // The algorithm inside the signed part must be the outer one (RFC 5280 4.1.1.2).
    if cert.tbs_certificate.signature.algorithm != *alg {
        return false;
    }
    let ecdsa = |hash: Hash| verify_ecdsa(issuer, hash, tbs, sig);
    let rsa = |hash: Hash| verify_rsa(issuer, hash, tbs, sig);
    if *alg == oid_registry::OID_SIG_ECDSA_WITH_SHA256 {
        ecdsa(Hash::Sha256)
    } else if *alg == oid_registry::OID_SIG_ECDSA_WITH_SHA384 {
        ecdsa(Hash::Sha384)
    } else if *alg == oid_registry::OID_PKCS1_SHA256WITHRSA {
        rsa(Hash::Sha256)
    } else if *alg == oid_registry::OID_PKCS1_SHA384WITHRSA {
        rsa(Hash::Sha384)
    } else if *alg == oid_registry::OID_PKCS1_SHA512WITHRSA {
        rsa(Hash::Sha512)
    } else {
        false
    }
}

#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

fn verify_ecdsa(spki: &SubjectPublicKeyInfo<'_>, hash: Hash, msg: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
    use sha2::Digest as _;
    if spki.algorithm.algorithm != oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY {
        return false;
    }
    let Some(curve) = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
    else {
        return false;
    };
    let digest = match hash {
        Hash::Sha256 => sha2::Sha256::digest(msg).to_vec(),
        Hash::Sha384 => sha2::Sha384::digest(msg).to_vec(),
        Hash::Sha512 => return false,
    };
    let point: &[u8] = &spki.subject_public_key.data;
    if curve == oid_registry::OID_EC_P256 {
        let (Ok(vk), Ok(s)) = (
            p256::ecdsa::VerifyingKey::from_sec1_bytes(point),
            p256::ecdsa::Signature::from_der(sig),
        ) else {
            return false;
        };
        vk.verify_prehash(&digest, &s).is_ok()
    } else if curve == oid_registry::OID_NIST_EC_P384 {
        let (Ok(vk), Ok(s)) = (
            p384::ecdsa::VerifyingKey::from_sec1_bytes(point),
            p384::ecdsa::Signature::from_der(sig),
        ) else {
            return false;
        };
        vk.verify_prehash(&digest, &s).is_ok()
    } else {
        false
    }
}

fn verify_rsa(spki: &SubjectPublicKeyInfo<'_>, hash: Hash, msg: &[u8], sig: &[u8]) -> bool {
    use sha2::Digest as _;
    let Some(pk) = rsa_public_key(spki, 4096) else {
        return false;
    };
    match hash {
        Hash::Sha256 => pk.verify(
            rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            &sha2::Sha256::digest(msg),
            sig,
        ),
        Hash::Sha384 => pk.verify(
            rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
            &sha2::Sha384::digest(msg),
            sig,
        ),
        Hash::Sha512 => pk.verify(
            rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
            &sha2::Sha512::digest(msg),
            sig,
        ),
    }
    .is_ok()
}

/// An RSA subject public key of 2048 to `max_bits` bits.
pub(crate) fn rsa_public_key(
    spki: &SubjectPublicKeyInfo<'_>,
    max_bits: usize,
) -> Option<rsa::RsaPublicKey> {
    let Ok(public_key::PublicKey::RSA(k)) = spki.parsed() else {
        return None;
    };
    rsa_from_parts(k.modulus, k.exponent, max_bits)
}

/// An RSA public key from big-endian parts, 2048 to `max_bits` bits.
pub(crate) fn rsa_from_parts(n: &[u8], e: &[u8], max_bits: usize) -> Option<rsa::RsaPublicKey> {
    use rsa::BoxedUint;
    let strip = |b: &'_ [u8]| -> Vec<u8> {
        let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        b.get(start..).unwrap_or_default().to_vec()
    };
    let (n, e) = (strip(n), strip(e));
    let bits = n.len().saturating_mul(8);
    if !(2048..=max_bits).contains(&bits) || e.is_empty() || e.len() > 8 {
        return None;
    }
    let width = |b: &[u8]| u32::try_from(b.len().saturating_mul(8)).unwrap_or(u32::MAX);
    let n = BoxedUint::from_be_slice(&n, width(&n)).ok()?;
    let e = BoxedUint::from_be_slice(&e, width(&e)).ok()?;
    rsa::RsaPublicKey::new(n, e).ok()
}

#[cfg(test)]
mod tests {
    //! Fixtures from `tests/data/x509/gen.sh` (OpenSSL): a 4096-bit RSA root, a P-384
    //! intermediate with pathlen 0 signed with SHA-384, P-256 leaves, and intermediates
    //! that break one rule each.
    use super::*;

    macro_rules! der {
        ($name:literal) => {
            include_bytes!(concat!("../../tests/data/x509/", $name, ".der")).to_vec()
        };
    }

    /// 2030-01-01T00:00:00Z: every fixture but `leaf-expired` is valid then.
    const T2030: i64 = 1_893_456_000;

    fn check(chain: &[Vec<u8>], root: &[u8], now: i64) -> IResult<Validated> {
        validate(chain, &[root], now)
    }

    fn reason(r: IResult<Validated>) -> &'static str {
        match r {
            Err(InternalError::UntrustedAttestation(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rsa4096_sha384_and_p384_sha384_chain_validates_in_any_order() {
        let root = der!("root-rsa4096");
        let (leaf, int) = (der!("leaf-p256"), der!("int-p384"));
        assert!(check(&[leaf.clone(), int.clone()], &root, T2030).is_ok());
        // The root itself at the end of the statement's chain.
        assert!(check(&[leaf.clone(), int.clone(), root.clone()], &root, T2030).is_ok());
        // Intermediates need not be in order, and unrelated extras are skipped.
        let other = der!("other-root-p256");
        assert!(check(&[leaf.clone(), other.clone(), int.clone()], &root, T2030).is_ok());
        // The anchor index is reported among several.
        assert_eq!(
            validate(&[leaf, int], &[&other, &root], T2030).unwrap(),
            Validated { anchor: 1 }
        );
    }

    #[test]
    fn wrong_root_missing_intermediate_and_bad_signature_are_untrusted() {
        let root = der!("root-rsa4096");
        let (leaf, int) = (der!("leaf-p256"), der!("int-p384"));
        assert!(
            check(
                &[leaf.clone(), int.clone()],
                &der!("other-root-p256"),
                T2030
            )
            .is_err()
        );
        assert!(check(std::slice::from_ref(&leaf), &root, T2030).is_err());
        // Flip a bit of the leaf's signature (its last byte).
        let mut bad = leaf.clone();
        if let Some(b) = bad.last_mut() {
            *b ^= 1;
        }
        assert_eq!(
            reason(check(&[bad, int.clone()], &root, T2030)),
            "certificate signature"
        );
        // Flip a bit of the intermediate's signature: the root's RSA check fails.
        let mut bad = int;
        if let Some(b) = bad.last_mut() {
            *b ^= 1;
        }
        assert_eq!(
            reason(check(&[leaf, bad], &root, T2030)),
            "certificate signature"
        );
    }

    #[test]
    fn validity_is_checked_at_the_given_instant() {
        let root = der!("root-rsa4096");
        let int = der!("int-p384");
        assert_eq!(
            reason(check(&[der!("leaf-expired"), int.clone()], &root, T2030)),
            "certificate not valid at verification time"
        );
        // 2024-06-01, before the leaf's notBefore (2025-01-01).
        assert_eq!(
            reason(check(
                &[der!("leaf-p256"), int.clone()],
                &root,
                1_717_200_000
            )),
            "certificate not valid at verification time"
        );
        // After the root expired (2046-11-26) the intermediate and leaf still are, but
        // the anchor is not.
        assert!(check(&[der!("leaf-p256"), int], &root, 2_500_000_000).is_err());
    }

    #[test]
    fn constraints_are_enforced() {
        let root = der!("root-rsa4096");
        // int-p384 has pathlen 0, so it may not issue the intermediate int2-p256.
        assert_eq!(
            reason(check(
                &[der!("leaf-under-int2"), der!("int2-p256"), der!("int-p384")],
                &root,
                T2030
            )),
            "path length exceeded"
        );
        assert_eq!(
            reason(check(
                &[der!("leaf-under-not-ca"), der!("int-not-ca")],
                &root,
                T2030
            )),
            "issuer is not a ca"
        );
        assert_eq!(
            reason(check(
                &[der!("leaf-under-no-certsign"), der!("int-no-certsign")],
                &root,
                T2030
            )),
            "issuer key usage"
        );
        assert_eq!(
            reason(check(
                &[
                    der!("leaf-under-unknown-critical"),
                    der!("int-unknown-critical")
                ],
                &root,
                T2030
            )),
            "unknown critical extension"
        );
    }

    #[test]
    fn long_or_garbage_chains_are_refused_without_panicking() {
        let root = der!("root-rsa4096");
        let leaf = der!("leaf-p256");
        let many = vec![leaf.clone(); MAX_INTERMEDIATES + 3];
        assert_eq!(reason(check(&many, &root, T2030)), "chain too long");
        assert_eq!(reason(check(&[], &root, T2030)), "no certificate");
        assert_eq!(
            reason(check(&[vec![0x30, 0x00]], &root, T2030)),
            "unparsable certificate"
        );
        // A certificate with trailing bytes is not one certificate.
        let mut trailing = leaf;
        trailing.push(0);
        assert_eq!(
            reason(check(&[trailing], &root, T2030)),
            "unparsable certificate"
        );
    }
}
