//! §8.8 Apple anonymous attestation.

use sha2::Digest as _;

use crate::attestation::{
    AttestationType, Input, der, extension, field, parse_leaf, same_key, x5c_chain,
};
use crate::cose;
use crate::error::{IResult, InternalError};

/// The nonce extension, 1.2.840.113635.100.8.2.
const OID_APPLE_NONCE: &[u64] = &[1, 2, 840, 113_635, 100, 8, 2];

/// The nonce of the extension value: `SEQUENCE { [1] EXPLICIT OCTET STRING }`.
pub fn nonce_of_extension(value: &[u8]) -> Option<&[u8]> {
    let (seq, rest) = der::read(value)?;
    if !rest.is_empty() || !seq.is(0x30) {
        return None;
    }
    let (tagged, rest) = der::read(seq.value)?;
    if !rest.is_empty() || !tagged.is_context(1) || tagged.class & 0x20 == 0 {
        return None;
    }
    let (octets, rest) = der::read(tagged.value)?;
    (rest.is_empty() && octets.is(0x04)).then_some(octets.value)
}

pub(super) fn verify(
    input: &Input<'_>,
    credential_key: &cose::PublicKey,
    signed: &[u8],
) -> IResult<(AttestationType, Vec<Vec<u8>>)> {
    let chain = x5c_chain(
        field(input.att_stmt, "x5c")
            .ok_or(InternalError::InvalidAttestationStatement("apple x5c"))?,
    )?;
    let leaf = parse_leaf(
        chain
            .first()
            .ok_or(InternalError::InvalidAttestationStatement("empty x5c"))?,
    )?;
    // nonce = SHA-256(authenticatorData || clientDataHash), equal to the extension's.
    let nonce = sha2::Sha256::digest(signed);
    let ext = extension(&leaf, OID_APPLE_NONCE).ok_or(
        InternalError::InvalidAttestationStatement("apple nonce extension missing"),
    )?;
    let got = nonce_of_extension(ext.value).ok_or(InternalError::InvalidAttestationStatement(
        "apple nonce extension",
    ))?;
    if got != nonce.as_slice() {
        return Err(InternalError::InvalidAttestationStatement(
            "apple nonce mismatch",
        ));
    }
    // The credential public key equals the leaf certificate's subject public key.
    if !same_key(&leaf, credential_key) {
        return Err(InternalError::InvalidAttestationStatement(
            "apple credential key is not the certificate's",
        ));
    }
    Ok((AttestationType::AnonCa, chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_extension_shape() {
        let mut good = vec![0x30, 0x24, 0xa1, 0x22, 0x04, 0x20];
        good.extend([5; 32]);
        assert_eq!(nonce_of_extension(&good), Some(&[5u8; 32][..]));
        // [1] must be constructed (EXPLICIT), the inner value an OCTET STRING, and
        // nothing may follow at any level.
        let mut primitive = good.clone();
        primitive[2] = 0x81;
        assert_eq!(nonce_of_extension(&primitive), None);
        let mut not_octets = good.clone();
        not_octets[4] = 0x0c;
        assert_eq!(nonce_of_extension(&not_octets), None);
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(nonce_of_extension(&trailing), None);
        let mut other_tag = good;
        other_tag[2] = 0xa2;
        assert_eq!(nonce_of_extension(&other_tag), None);
    }
}
