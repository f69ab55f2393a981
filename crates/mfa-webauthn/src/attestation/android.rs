//! §8.4 Android key attestation.

use crate::attestation::{
    AttestationType, Input, der, extension, field, leaf_may_sign, parse_leaf, same_key, sig,
    x5c_chain,
};
use crate::cose;
use crate::error::{IResult, InternalError};

/// The key attestation extension (KeyDescription), 1.3.6.1.4.1.11129.2.1.17.
const OID_KEY_DESCRIPTION: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17];
/// AuthorizationList tags.
const TAG_PURPOSE: u32 = 1;
const TAG_ALL_APPLICATIONS: u32 = 600;
const TAG_ORIGIN: u32 = 702;
/// KM_ORIGIN_GENERATED and KM_PURPOSE_SIGN.
const KM_ORIGIN_GENERATED: u64 = 0;
const KM_PURPOSE_SIGN: u64 = 2;

/// What §8.4 checks in a KeyDescription.
#[non_exhaustive]
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct KeyDescription {
    /// attestationChallenge.
    pub challenge: Vec<u8>,
    /// `allApplications` in either list.
    pub all_applications: bool,
    /// The origins of both lists.
    pub origins: Vec<u64>,
    /// The purposes of both lists.
    pub purposes: Vec<u64>,
}

/// Parses the extension value (`KeyDescription ::= SEQUENCE { attestationVersion,
/// attestationSecurityLevel, keymasterVersion, keymasterSecurityLevel,
/// attestationChallenge OCTET STRING, uniqueId, softwareEnforced AuthorizationList,
/// teeEnforced AuthorizationList, ... }`).
pub fn parse_key_description(value: &[u8]) -> Option<KeyDescription> {
    let (seq, rest) = der::read(value)?;
    if !rest.is_empty() || !seq.is(0x30) {
        return None;
    }
    let items = der::read_all(seq.value)?;
    let challenge = items.get(4).filter(|t| t.is(0x04))?.value.to_vec();
    let mut out = KeyDescription {
        challenge,
        ..KeyDescription::default()
    };
    for list in [items.get(6)?, items.get(7)?] {
        if !list.is(0x30) {
            return None;
        }
        for entry in der::read_all(list.value)? {
            if entry.class & 0xc0 != 0x80 {
                return None;
            }
            let (inner, rest) = der::read(entry.value)?;
            if !rest.is_empty() {
                return None;
            }
            match entry.number {
                TAG_ALL_APPLICATIONS => out.all_applications = true,
                TAG_ORIGIN if inner.is(0x02) => out.origins.push(der::uint(inner.value)?),
                TAG_PURPOSE if inner.is(0x31) => {
                    for p in der::read_all(inner.value)? {
                        if !p.is(0x02) {
                            return None;
                        }
                        out.purposes.push(der::uint(p.value)?);
                    }
                }
                TAG_ORIGIN | TAG_PURPOSE => return None,
                _ => {}
            }
        }
    }
    Some(out)
}

/// The §8.4 rules on a KeyDescription.
fn check_key_description(desc: &KeyDescription, client_data_hash: &[u8; 32]) -> IResult<()> {
    // attestationChallenge = clientDataHash.
    if desc.challenge != client_data_hash.as_slice() {
        return Err(InternalError::InvalidAttestationCertificate(
            "android attestation challenge",
        ));
    }
    // No allApplications; origin is KM_ORIGIN_GENERATED and purpose is KM_PURPOSE_SIGN
    // (in the union of teeEnforced and softwareEnforced, §8.4: a key that may also
    // decrypt or be imported is refused).
    if desc.all_applications {
        return Err(InternalError::InvalidAttestationCertificate(
            "android key for all applications",
        ));
    }
    if desc.origins.is_empty() || desc.origins.iter().any(|&o| o != KM_ORIGIN_GENERATED) {
        return Err(InternalError::InvalidAttestationCertificate(
            "android key origin",
        ));
    }
    if desc.purposes.is_empty() || desc.purposes.iter().any(|&p| p != KM_PURPOSE_SIGN) {
        return Err(InternalError::InvalidAttestationCertificate(
            "android key purpose",
        ));
    }
    Ok(())
}

pub(super) fn verify(
    input: &Input<'_>,
    credential_key: &cose::PublicKey,
    signed: &[u8],
) -> IResult<(AttestationType, Vec<Vec<u8>>)> {
    let alg = field(input.att_stmt, "alg")
        .and_then(|v| v.as_integer())
        .and_then(|i| i64::try_from(i).ok())
        .ok_or(InternalError::InvalidAttestationStatement(
            "android-key alg",
        ))?;
    let signature = field(input.att_stmt, "sig")
        .and_then(ciborium::Value::as_bytes)
        .ok_or(InternalError::InvalidAttestationStatement(
            "android-key sig",
        ))?;
    let chain = x5c_chain(field(input.att_stmt, "x5c").ok_or(
        InternalError::InvalidAttestationStatement("android-key x5c"),
    )?)?;
    let leaf = parse_leaf(
        chain
            .first()
            .ok_or(InternalError::InvalidAttestationStatement("empty x5c"))?,
    )?;
    // sig over authenticatorData || clientDataHash with the leaf's key and alg.
    sig::verify_statement(
        alg,
        leaf.public_key(),
        signed,
        signature,
        input.policy,
        input.backend,
    )?;
    leaf_may_sign(&leaf)?;
    // The credential public key is the leaf's subject public key.
    if !same_key(&leaf, credential_key) {
        return Err(InternalError::InvalidAttestationStatement(
            "android-key credential key is not the certificate's",
        ));
    }
    let ext = extension(&leaf, OID_KEY_DESCRIPTION).ok_or(
        InternalError::InvalidAttestationCertificate("android key description missing"),
    )?;
    let desc = parse_key_description(ext.value).ok_or(
        InternalError::InvalidAttestationCertificate("android key description"),
    )?;
    check_key_description(&desc, input.client_data_hash)?;
    Ok((AttestationType::Basic, chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER TLV with a short or one-byte long length.
    fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
        let mut out = tag.to_vec();
        if value.len() < 128 {
            out.push(u8::try_from(value.len()).unwrap());
        } else {
            out.extend([0x81, u8::try_from(value.len()).unwrap()]);
        }
        out.extend_from_slice(value);
        out
    }

    fn description(software: &[u8], tee: &[u8]) -> Vec<u8> {
        let body = [
            tlv(&[0x02], &[3]),
            tlv(&[0x0a], &[1]),
            tlv(&[0x02], &[4]),
            tlv(&[0x0a], &[1]),
            tlv(&[0x04], &[7; 32]),
            tlv(&[0x04], &[]),
            tlv(&[0x30], software),
            tlv(&[0x30], tee),
        ]
        .concat();
        tlv(&[0x30], &body)
    }

    fn purpose(p: &[u8]) -> Vec<u8> {
        let set: Vec<u8> = p.iter().flat_map(|&x| tlv(&[0x02], &[x])).collect();
        tlv(&[0xa1], &tlv(&[0x31], &set))
    }

    /// [702] EXPLICIT INTEGER.
    fn origin(o: u8) -> Vec<u8> {
        tlv(&[0xbf, 0x85, 0x3e], &tlv(&[0x02], &[o]))
    }

    /// [600] EXPLICIT NULL.
    fn all_applications() -> Vec<u8> {
        tlv(&[0xbf, 0x84, 0x58], &[0x05, 0x00])
    }

    #[test]
    fn key_description_rules() {
        let good_tee = [purpose(&[2]), origin(0)].concat();
        let d = parse_key_description(&description(&[], &good_tee)).unwrap();
        assert_eq!(d.challenge, [7; 32]);
        assert_eq!((d.origins.clone(), d.purposes.clone()), (vec![0], vec![2]));
        assert!(check_key_description(&d, &[7; 32]).is_ok());
        let refused = |software: &[u8], tee: &[u8], cdh: [u8; 32]| {
            let d = parse_key_description(&description(software, tee)).unwrap();
            matches!(
                check_key_description(&d, &cdh),
                Err(InternalError::InvalidAttestationCertificate(_))
            )
        };
        // Another challenge.
        assert!(refused(&[], &good_tee, [8; 32]));
        // allApplications in either list.
        assert!(refused(&all_applications(), &good_tee, [7; 32]));
        assert!(refused(
            &[],
            &[good_tee.clone(), all_applications()].concat(),
            [7; 32]
        ));
        // An imported key (origin 2), or a key that may also decrypt (purpose 1).
        assert!(refused(&[], &[purpose(&[2]), origin(2)].concat(), [7; 32]));
        assert!(refused(
            &[],
            &[purpose(&[2, 1]), origin(0)].concat(),
            [7; 32]
        ));
        // The lists empty (the W3C generator's bug): no origin, no purpose.
        assert!(refused(&[], &[], [7; 32]));
        // The software list counts too (the union, §8.4).
        assert!(!refused(&good_tee, &[], [7; 32]));
        // Structure: trailing bytes, a purpose that is not a SET.
        let mut trailing = description(&[], &good_tee);
        trailing.push(0);
        assert_eq!(parse_key_description(&trailing), None);
        let bad_purpose = tlv(&[0xa1], &tlv(&[0x02], &[2]));
        assert_eq!(parse_key_description(&description(&[], &bad_purpose)), None);
    }
}
