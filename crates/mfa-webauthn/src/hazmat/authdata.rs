//! Authenticator data (WebAuthn L3 §6.1) and attested credential data (§6.5.1).

use crate::error::{IResult, InternalError, Result};

/// User present (§6.1, bit 0).
const UP: u8 = 0x01;
/// User verified (bit 2).
const UV: u8 = 0x04;
/// Backup eligible (bit 3).
const BE: u8 = 0x08;
/// Backup state (bit 4).
const BS: u8 = 0x10;
/// Attested credential data included (bit 6).
const AT: u8 = 0x40;
/// Extension data included (bit 7).
const ED: u8 = 0x80;

/// The flags byte of authenticator data.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct Flags(pub u8);

impl Flags {
    /// UP: the user was present.
    pub fn user_present(self) -> bool {
        self.0 & UP != 0
    }
    /// UV: the user was verified (PIN, biometric).
    pub fn user_verified(self) -> bool {
        self.0 & UV != 0
    }
    /// BE: the credential may be backed up (a multi-device passkey).
    pub fn backup_eligible(self) -> bool {
        self.0 & BE != 0
    }
    /// BS: the credential is backed up now.
    pub fn backup_state(self) -> bool {
        self.0 & BS != 0
    }
    /// AT: attested credential data follows.
    pub fn attested_credential_data(self) -> bool {
        self.0 & AT != 0
    }
    /// ED: extension data follows.
    pub fn extension_data(self) -> bool {
        self.0 & ED != 0
    }
}

/// Parsed authenticator data, borrowing from the bytes it was parsed from.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuthenticatorData<'a> {
    /// SHA-256 of the rp id the authenticator scoped the credential to.
    pub rp_id_hash: &'a [u8; 32],
    /// The flags.
    pub flags: Flags,
    /// The signature counter.
    pub sign_count: u32,
    /// Present when `AT` is set.
    pub attested: Option<AttestedCredentialData<'a>>,
    /// The CBOR extension outputs, when `ED` is set.
    pub extensions: Option<&'a [u8]>,
}

/// Attested credential data (§6.5.1).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AttestedCredentialData<'a> {
    /// The authenticator model's AAGUID.
    pub aaguid: [u8; 16],
    /// The credential id.
    pub credential_id: &'a [u8],
    /// The credential public key as a COSE_Key, exactly as the authenticator encoded it.
    pub public_key_cose: &'a [u8],
}

impl<'a> AuthenticatorData<'a> {
    /// Parses authenticator data, rejecting truncation, trailing bytes and flags that
    /// disagree with the contents.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`](crate::Error::Malformed) on any structural problem.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let (parsed, trailing) = Self::parse_with_trailing(bytes)?;
        if trailing != 0 {
            return Err(InternalError::MalformedAuthenticatorData("trailing bytes").into());
        }
        Ok(parsed)
    }

    /// Encodes the authenticator data: the inverse of [`AuthenticatorData::parse`], so
    /// `parse(b)?.to_vec() == b` for every `b` that parses.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(37);
        out.extend_from_slice(self.rp_id_hash);
        out.push(self.flags.0);
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        if let Some(a) = &self.attested {
            out.extend_from_slice(&a.aaguid);
            // A parsed credential id is at most u16::MAX bytes long.
            let len = u16::try_from(a.credential_id.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(a.credential_id);
            out.extend_from_slice(a.public_key_cose);
        }
        if let Some(ext) = self.extensions {
            out.extend_from_slice(ext);
        }
        out
    }

    /// Like [`AuthenticatorData::parse`], but returns the number of trailing bytes
    /// instead of failing on them, so a ceremony can decide when to report them.
    pub(crate) fn parse_with_trailing(bytes: &'a [u8]) -> IResult<(Self, usize)> {
        let (rp_id_hash, rest) =
            bytes
                .split_first_chunk::<32>()
                .ok_or(InternalError::MalformedAuthenticatorData(
                    "shorter than 37 bytes",
                ))?;
        let (&[flags], rest) =
            rest.split_first_chunk::<1>()
                .ok_or(InternalError::MalformedAuthenticatorData(
                    "shorter than 37 bytes",
                ))?;
        let (count, mut rest) =
            rest.split_first_chunk::<4>()
                .ok_or(InternalError::MalformedAuthenticatorData(
                    "shorter than 37 bytes",
                ))?;
        let flags = Flags(flags);
        let attested =
            if flags.attested_credential_data() {
                let (aaguid, r) = rest.split_first_chunk::<16>().ok_or(
                    InternalError::MalformedAuthenticatorData("truncated aaguid"),
                )?;
                let (len, r) =
                    r.split_first_chunk::<2>()
                        .ok_or(InternalError::MalformedAuthenticatorData(
                            "truncated credential id",
                        ))?;
                let len = usize::from(u16::from_be_bytes(*len));
                let (credential_id, r) =
                    r.split_at_checked(len)
                        .ok_or(InternalError::MalformedAuthenticatorData(
                            "truncated credential id",
                        ))?;
                let key_len = cbor_item_len(r).ok_or(InternalError::MalformedAuthenticatorData(
                    "bad credential public key",
                ))?;
                let (public_key_cose, r) = r.split_at_checked(key_len).ok_or(
                    InternalError::MalformedAuthenticatorData("bad credential public key"),
                )?;
                rest = r;
                Some(AttestedCredentialData {
                    aaguid: *aaguid,
                    credential_id,
                    public_key_cose,
                })
            } else {
                None
            };
        let extensions = if flags.extension_data() {
            let len = cbor_item_len(rest).ok_or(InternalError::MalformedAuthenticatorData(
                "bad extension data",
            ))?;
            let (ext, r) =
                rest.split_at_checked(len)
                    .ok_or(InternalError::MalformedAuthenticatorData(
                        "bad extension data",
                    ))?;
            rest = r;
            Some(ext)
        } else {
            None
        };
        let parsed = Self {
            rp_id_hash,
            flags,
            sign_count: u32::from_be_bytes(*count),
            attested,
            extensions,
        };
        Ok((parsed, rest.len()))
    }
}

/// The length of the one CBOR data item at the start of `bytes`, or `None` if there is
/// no well-formed item there.
pub(crate) fn cbor_item_len(bytes: &[u8]) -> Option<usize> {
    let mut cursor = bytes;
    let _: ciborium::Value = ciborium::de::from_reader(&mut cursor).ok()?;
    bytes.len().checked_sub(cursor.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_truncation_and_trailing_bytes() {
        assert!(AuthenticatorData::parse(&[0u8; 36]).is_err());
        let ok = AuthenticatorData::parse(&[0u8; 37]).unwrap();
        assert_eq!(ok.sign_count, 0);
        assert!(ok.attested.is_none());
        assert!(matches!(
            AuthenticatorData::parse(&[0u8; 38]),
            Err(crate::Error::Malformed(m)) if m.to_string() == "malformed authenticator data: trailing bytes"
        ));
        // AT set but nothing follows.
        let mut at = [0u8; 37];
        at[32] = AT;
        assert!(AuthenticatorData::parse(&at).is_err());
        // ED set with an extension map.
        let mut ed = vec![0u8; 37];
        ed[32] = ED | UP;
        ed[36] = 7;
        ed.push(0xa0);
        let p = AuthenticatorData::parse(&ed).unwrap();
        assert_eq!(p.extensions, Some(&[0xa0u8][..]));
        assert_eq!(p.sign_count, 7);
        assert!(p.flags.user_present());
    }
}
