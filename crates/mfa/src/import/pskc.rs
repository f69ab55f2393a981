//! PSKC, the Portable Symmetric Key Container (RFC 6030): how token vendors and other
//! OTP servers hand over seeds.
//!
//! Read: `KeyContainer Version="1.0"` with `KeyPackage`s, each `Key` with
//! - `Algorithm` `urn:ietf:params:xml:ns:keyprov:pskc:hotp` or `…:totp` (`#hotp` /
//!   `#totp` too, as older drafts and some vendors write);
//! - `AlgorithmParameters/ResponseFormat` `Length` (digits, default 6) with `Encoding`
//!   `DECIMAL` (the only encoding OTP apps show); `AlgorithmParameters/Suite` `HMAC-SHA1`
//!   (default), `HMAC-SHA256`, `HMAC-SHA512`;
//! - `Data/Secret`, `Data/Counter` (required for HOTP), `Data/TimeInterval` (the TOTP
//!   period, default 30), each a `PlainValue` or an `EncryptedValue` (§6): AES-128-CBC
//!   (or 192/256) with the IV first, under a pre-shared key (§6.1, `EncryptionKey/KeyName`)
//!   or a PBKDF2 key from a password (§6.2, `EncryptionKey/DerivedKey`, PRF HMAC-SHA1
//!   unless named). `Time` and `TimeDrift` are not used;
//! - the user: `Key/UserId`, else `DeviceInfo/UserId`, else the `fallback_user` given.
//!
//! **Encrypted values must carry a `ValueMAC`** (§6.1.1: HMAC-SHA1 or HMAC-SHA256 over IV
//! and ciphertext, under the `MACMethod/MACKey` the same key encrypts): CBC without a MAC
//! is malleable, so an encrypted value without one is refused, and a MAC that does not
//! match (a wrong key or password, a changed file) rejects the record. Asymmetric
//! encryption (§6.3, figures 8–9) and key wrap are not supported: a typed error says so.

mod crypto;
mod write;
mod xml;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mfa_core::UserId;
use mfa_otp::{Algorithm, Digits, HotpParams, HotpRecord, Period, Secret, TotpParams, TotpRecord};
use zeroize::Zeroizing;

use self::crypto::{ContainerKeys, decrypt_value};
use self::xml::Element;
use super::otpauth::truncate_label;
use super::{
    Format, FormatError, ImportRecord, ImportedFactor, Parsed, Problem, RecordError, user_id,
};

#[cfg(test)]
use self::crypto::pbkdf2_sha1;
pub use self::write::{ExportError, PskcExportKey, write_pskc};

/// What opens an encrypted PSKC file.
#[non_exhaustive]
pub enum PskcKey<'a> {
    /// Nothing: only plain values can be read.
    None,
    /// The pre-shared AES key (16, 24 or 32 bytes; §6.1).
    PreShared(&'a [u8]),
    /// The password a PBKDF2 key is derived from (§6.2).
    Password(&'a [u8]),
}

impl fmt::Debug for PskcKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "PskcKey::None",
            Self::PreShared(_) => "PskcKey::PreShared([redacted])",
            Self::Password(_) => "PskcKey::Password([redacted])",
        })
    }
}

/// Parses a PSKC document. Each `Key` is one record, its index the 1-based position of
/// the `Key` in the document.
///
/// # Errors
///
/// [`FormatError::Xml`] when it is not well-formed XML (a DTD is refused);
/// [`FormatError::Pskc`] when it is not a version 1.0 `KeyContainer`, when values are
/// encrypted and `key` cannot open them (none given, the wrong kind, a MAC key that does
/// not decrypt), or the encryption is of a kind not supported.
pub fn parse_pskc(
    input: &str,
    key: &PskcKey<'_>,
    fallback_user: Option<&UserId>,
) -> Result<Parsed, FormatError> {
    let root = xml::parse(input).map_err(FormatError::Xml)?;
    if root.name != "KeyContainer" {
        return Err(FormatError::Pskc(
            "the root element is not KeyContainer".to_owned(),
        ));
    }
    if root.attribute("Version") != Some("1.0") {
        return Err(FormatError::Pskc(
            "KeyContainer Version is not 1.0".to_owned(),
        ));
    }
    let keys = ContainerKeys::open(&root, key)?;
    let mut records = Vec::new();
    let mut index = 0usize;
    for package in root.children("KeyPackage") {
        for k in package.children("Key") {
            index = index.saturating_add(1);
            let user = k
                .child("UserId")
                .or_else(|| package.path(&["DeviceInfo", "UserId"]))
                .map(|u| u.text().to_owned());
            let record = read_key(index, package, k, &keys, user.as_deref(), fallback_user);
            records.push(record.map_err(|p| RecordError::new(index, p).for_user(user.as_deref())));
        }
    }
    Ok(Parsed {
        format: Format::Pskc,
        records,
    })
}

fn read_key(
    index: usize,
    package: &Element,
    key: &Element,
    keys: &ContainerKeys,
    user: Option<&str>,
    fallback_user: Option<&UserId>,
) -> Result<ImportRecord, Problem> {
    let user = match (user, fallback_user) {
        (Some(u), _) => user_id(index, u).map_err(|e| e.problem)?,
        (None, Some(u)) => u.clone(),
        (None, None) => return Err(Problem::Missing("UserId (or give the user)")),
    };
    let algorithm = key
        .attribute("Algorithm")
        .ok_or(Problem::Missing("Key Algorithm"))?;
    let hotp = match algorithm.rsplit([':', '#']).next() {
        Some(a) if a.eq_ignore_ascii_case("hotp") => true,
        Some(a) if a.eq_ignore_ascii_case("totp") => false,
        _ => return Err(Problem::Type(algorithm.to_owned())),
    };
    let params = key.child("AlgorithmParameters");
    let hash = match params.and_then(|p| p.child("Suite")).map(Element::text) {
        None | Some("") => Algorithm::Sha1,
        Some(s) => s
            .strip_prefix("HMAC-")
            .unwrap_or(s)
            .parse()
            .map_err(|_| Problem::Algorithm(s.to_owned()))?,
    };
    let format = params.and_then(|p| p.child("ResponseFormat"));
    if format
        .and_then(|f| f.attribute("Encoding"))
        .is_some_and(|e| e != "DECIMAL")
    {
        return Err(Problem::Field {
            field: "ResponseFormat Encoding",
            why: "is not DECIMAL",
        });
    }
    let digits = match format.and_then(|f| f.attribute("Length")) {
        None => Digits::SIX,
        Some(d) => d
            .parse::<u8>()
            .ok()
            .and_then(|n| Digits::new(n).ok())
            .ok_or_else(|| Problem::Digits(d.to_owned()))?,
    };
    let data = key.child("Data").ok_or(Problem::Missing("Data"))?;
    let secret = value(data, "Secret", keys)?.ok_or(Problem::Missing("Secret"))?;
    let secret = Secret::danger_from_short_bytes(secret.to_vec()).map_err(Problem::Secret)?;
    let factor = if hotp {
        let counter = integer(data, "Counter", keys)?.ok_or(Problem::MissingCounter)?;
        ImportedFactor::Hotp(HotpRecord {
            secret,
            params: HotpParams {
                algorithm: hash,
                digits,
            },
            counter,
        })
    } else {
        let period = match integer(data, "TimeInterval", keys)? {
            None => Period::default(),
            Some(p) => Period::new(p).map_err(|_| Problem::Period(p.to_string()))?,
        };
        ImportedFactor::Totp(TotpRecord::new(
            secret,
            TotpParams {
                algorithm: hash,
                digits,
                period,
                t0: 0,
            },
        ))
    };
    let issuer = key
        .child("Issuer")
        .map(Element::text)
        .filter(|s| !s.is_empty());
    let serial = package
        .path(&["DeviceInfo", "SerialNo"])
        .map(Element::text)
        .filter(|s| !s.is_empty());
    let label = match (issuer, serial) {
        (Some(i), Some(s)) => format!("{i} #{s}"),
        (Some(i), None) => i.to_owned(),
        (None, Some(s)) => format!("Token #{s}"),
        (None, None) => "Imported token".to_owned(),
    };
    Ok(ImportRecord {
        index,
        user,
        label: truncate_label(&label),
        factor,
    })
}

/// A `Data` child's bytes: its `PlainValue` (base64) or decrypted `EncryptedValue`.
fn value(
    data: &Element,
    name: &'static str,
    keys: &ContainerKeys,
) -> Result<Option<Zeroizing<Vec<u8>>>, Problem> {
    let Some(e) = data.child(name) else {
        return Ok(None);
    };
    if let Some(plain) = e.child("PlainValue") {
        let text: Zeroizing<String> =
            Zeroizing::new(plain.text().split_ascii_whitespace().collect());
        return STANDARD
            .decode(text.as_bytes())
            .map(|b| Some(Zeroizing::new(b)))
            .map_err(|_| Problem::Field {
                field: name,
                why: "PlainValue is not base64",
            });
    }
    if let Some(encrypted) = e.child("EncryptedValue") {
        return decrypt_value(encrypted, e.child("ValueMAC"), keys)
            .map(Some)
            .map_err(|why| Problem::Field { field: name, why });
    }
    Err(Problem::Field {
        field: name,
        why: "has neither PlainValue nor EncryptedValue",
    })
}

/// An integer `Data` child: a decimal `PlainValue`, or an encrypted big-endian integer.
fn integer(
    data: &Element,
    name: &'static str,
    keys: &ContainerKeys,
) -> Result<Option<u64>, Problem> {
    let Some(e) = data.child(name) else {
        return Ok(None);
    };
    if let Some(plain) = e.child("PlainValue") {
        return plain
            .text()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Problem::Field {
                field: name,
                why: "is not a number from 0 to 2^64-1",
            });
    }
    let bytes = value(data, name, keys)?.ok_or(Problem::Missing(name))?;
    if bytes.len() > 8 {
        return Err(Problem::Field {
            field: name,
            why: "is longer than 64 bits",
        });
    }
    Ok(Some(
        bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIGURE2: &str = include_str!("../../tests/data/pskc/rfc6030_figure2.xml");
    const FIGURE3: &str = include_str!("../../tests/data/pskc/rfc6030_figure3.xml");
    const FIGURE5: &str = include_str!("../../tests/data/pskc/rfc6030_figure5.xml");
    const FIGURE6: &str = include_str!("../../tests/data/pskc/rfc6030_figure6.xml");
    const FIGURE7: &str = include_str!("../../tests/data/pskc/rfc6030_figure7.xml");
    const PSK6: [u8; 16] = [
        0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90,
        0x12,
    ];

    fn hotp(r: &Result<ImportRecord, RecordError>) -> &HotpRecord {
        match &r.as_ref().unwrap().factor {
            ImportedFactor::Hotp(h) => h,
            _ => panic!("hotp"),
        }
    }

    #[test]
    fn rfc6030_figure2_has_a_short_secret_and_no_counter() {
        let parsed = parse_pskc(FIGURE2, &PskcKey::None, None).unwrap();
        assert_eq!(
            parsed.records[0].as_ref().unwrap_err().problem,
            Problem::Missing("UserId (or give the user)")
        );
        let zoe = UserId::new("zoe").unwrap();
        let parsed = parse_pskc(FIGURE2, &PskcKey::None, Some(&zoe)).unwrap();
        assert_eq!(
            parsed.records[0].as_ref().unwrap_err().problem,
            Problem::MissingCounter
        );
    }

    #[test]
    fn rfc6030_figure3_and_5_plain_values() {
        let parsed = parse_pskc(FIGURE3, &PskcKey::None, None).unwrap();
        let r = parsed.records[0].as_ref().unwrap();
        assert_eq!(r.user.as_str(), "UID=jsmith,DC=example-bank,DC=net");
        assert_eq!(r.label, "Issuer #987654321");
        let h = hotp(&parsed.records[0]);
        assert_eq!(
            (h.secret.expose_secret(), h.counter, h.params.digits.get()),
            (&b"12345678901234567890"[..], 0, 8)
        );

        // Figure 5: the HOTP key (user from the fallback) and a PIN key, not an OTP.
        let u = UserId::new("jsmith").unwrap();
        let parsed = parse_pskc(FIGURE5, &PskcKey::None, Some(&u)).unwrap();
        assert_eq!(hotp(&parsed.records[0]).counter, 0);
        assert!(
            matches!(&parsed.records[1].as_ref().unwrap_err().problem, Problem::Type(t) if t.ends_with(":pin"))
        );
    }

    #[test]
    fn rfc6030_figure6_pre_shared_key() {
        let u = UserId::new("jsmith").unwrap();
        let parsed = parse_pskc(FIGURE6, &PskcKey::PreShared(&PSK6), Some(&u)).unwrap();
        let h = hotp(&parsed.records[0]);
        assert_eq!(h.secret.expose_secret(), b"12345678901234567890");
        assert_eq!((h.counter, h.params.digits.get()), (0, 8));

        let e = parse_pskc(FIGURE6, &PskcKey::None, Some(&u)).unwrap_err();
        assert!(e.to_string().contains("encrypted"), "{e}");
        let mut wrong = PSK6;
        wrong[15] ^= 1;
        match parse_pskc(FIGURE6, &PskcKey::PreShared(&wrong), Some(&u)) {
            // The MAC key almost always fails its padding; if not, the MAC refuses.
            Err(e) => assert!(e.to_string().contains("MAC key"), "{e}"),
            Ok(p) => assert!(p.records[0].is_err()),
        }
        // A changed ciphertext: the MAC refuses the record.
        let tampered = FIGURE6.replace("AAECAwQFBgcICQoLDA0OD+cI", "AAECAwQFBgcICQoLDA0OD+cJ");
        let parsed = parse_pskc(&tampered, &PskcKey::PreShared(&PSK6), Some(&u)).unwrap();
        assert!(
            parsed.records[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("ValueMAC does not match")
        );
        // An encrypted value without its MAC is refused.
        let start = FIGURE6.find("<ValueMAC>").unwrap();
        let end = FIGURE6.find("</ValueMAC>").unwrap() + "</ValueMAC>".len();
        let unmaced = format!("{}{}", &FIGURE6[..start], &FIGURE6[end..]);
        let parsed = parse_pskc(&unmaced, &PskcKey::PreShared(&PSK6), Some(&u)).unwrap();
        assert!(
            parsed.records[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("no ValueMAC")
        );
    }

    #[test]
    fn rfc6030_figure7_pbkdf2_password() {
        // The derived key of the RFC's prose.
        let key = pbkdf2_sha1(
            b"qwerty",
            &STANDARD.decode("Ej7/PEpyEpw=").unwrap(),
            1000,
            16,
        );
        assert_eq!(
            key.as_slice(),
            [
                0x65, 0x1e, 0x63, 0xcd, 0x57, 0x00, 0x84, 0x76, 0xaf, 0x1f, 0xf6, 0x42, 0x2c, 0xd0,
                0x2e, 0x41
            ]
        );
        let u = UserId::new("jsmith").unwrap();
        let parsed = parse_pskc(FIGURE7, &PskcKey::Password(b"qwerty"), Some(&u)).unwrap();
        // The secret decrypts and its MAC matches (read before the counter), but the
        // figure's HOTP key has no Counter.
        assert_eq!(
            parsed.records[0].as_ref().unwrap_err().problem,
            Problem::MissingCounter
        );
        let with_counter = FIGURE7.replace(
            "</pskc:Secret>",
            "</pskc:Secret><pskc:Counter><pskc:PlainValue>7</pskc:PlainValue></pskc:Counter>",
        );
        let parsed = parse_pskc(&with_counter, &PskcKey::Password(b"qwerty"), Some(&u)).unwrap();
        let h = hotp(&parsed.records[0]);
        assert_eq!(
            (h.secret.expose_secret(), h.counter),
            (&b"12345678901234567890"[..], 7)
        );
        assert!(parse_pskc(FIGURE7, &PskcKey::Password(b"qwertz"), Some(&u)).is_err());
        assert!(parse_pskc(FIGURE6, &PskcKey::Password(b"qwerty"), Some(&u)).is_err());
    }

    #[test]
    fn malformed_documents_are_typed_errors() {
        for (doc, want) in [
            ("", "no root"),
            ("<a>", "ends inside"),
            (
                "<!DOCTYPE x [<!ENTITY e 'x'>]><KeyContainer Version='1.0'/>",
                "DTD",
            ),
            ("<Other Version='1.0'/>", "not KeyContainer"),
            ("<KeyContainer/>", "Version"),
            (
                "<KeyContainer Version='1.0'>&bogus;</KeyContainer>",
                "entity",
            ),
        ] {
            let e = parse_pskc(doc, &PskcKey::None, None)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{doc:?}: {e}");
        }
        assert!(format!("{:?}", PskcKey::Password(b"qwerty")).contains("redacted"));
    }
}
