//! PSKC encryption (RFC 6030 §6): AES-CBC values with the IV first, a MAC over IV and
//! ciphertext, and PBKDF2 keys from passwords.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use zeroize::Zeroizing;

use super::PskcKey;
use super::xml::Element;
use crate::import::FormatError;

/// The most PBKDF2 iterations a file may ask for (a file is input: a huge count is a
/// denial of service). OWASP's 2023 advice for PBKDF2-HMAC-SHA1 is 1,300,000.
pub(crate) const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

const AES_CBC: [(&str, usize); 3] = [
    ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", 16),
    ("http://www.w3.org/2001/04/xmlenc#aes192-cbc", 24),
    ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", 32),
];
pub(crate) const HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
const HMAC_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";
pub(crate) const PBKDF2: &str = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2";

/// The MAC algorithms of `MACMethod`.
#[derive(Clone, Copy)]
enum MacAlgorithm {
    Sha1,
    Sha256,
}

/// The keys of one container, opened.
pub(super) struct ContainerKeys {
    encryption: Option<Zeroizing<Vec<u8>>>,
    mac: Option<(MacAlgorithm, Zeroizing<Vec<u8>>)>,
}

impl ContainerKeys {
    pub(super) fn open(root: &Element, key: &PskcKey<'_>) -> Result<Self, FormatError> {
        let bad = |s: &str| FormatError::Pskc(s.to_owned());
        let encryption = match key {
            PskcKey::None => {
                if contains(root, "EncryptedValue") {
                    return Err(bad(
                        "values are encrypted: give the pre-shared key or the password",
                    ));
                }
                None
            }
            PskcKey::PreShared(k) => {
                if ![16, 24, 32].contains(&k.len()) {
                    return Err(bad("a pre-shared AES key is 16, 24 or 32 bytes"));
                }
                Some(Zeroizing::new(k.to_vec()))
            }
            PskcKey::Password(p) => Some(derive(root, p)?),
        };
        let mac = match (root.child("MACMethod"), &encryption) {
            (Some(method), Some(enc)) => {
                let algorithm = match method.attribute("Algorithm") {
                    Some(HMAC_SHA1) => MacAlgorithm::Sha1,
                    Some(HMAC_SHA256) => MacAlgorithm::Sha256,
                    _ => return Err(bad("MACMethod is not hmac-sha1 or hmac-sha256")),
                };
                let mac_key = method
                    .child("MACKey")
                    .ok_or_else(|| bad("MACMethod has no MACKey"))?;
                let mac_key = decrypt(mac_key, enc).map_err(|_| {
                    bad("the MAC key does not decrypt: wrong pre-shared key or password")
                })?;
                Some((algorithm, mac_key))
            }
            _ => None,
        };
        Ok(Self { encryption, mac })
    }
}

/// The PBKDF2 key of `EncryptionKey/DerivedKey` (§6.2).
fn derive(root: &Element, password: &[u8]) -> Result<Zeroizing<Vec<u8>>, FormatError> {
    let bad = |s: &str| FormatError::Pskc(s.to_owned());
    let method = root
        .path(&["EncryptionKey", "DerivedKey", "KeyDerivationMethod"])
        .ok_or_else(|| bad("a password was given but there is no EncryptionKey/DerivedKey"))?;
    if method.attribute("Algorithm") != Some(PBKDF2) {
        return Err(bad("the key derivation is not PBKDF2"));
    }
    let params = method
        .child("PBKDF2-params")
        .ok_or_else(|| bad("no PBKDF2-params"))?;
    let salt = params
        .path(&["Salt", "Specified"])
        .and_then(|s| STANDARD.decode(s.text()).ok())
        .ok_or_else(|| bad("PBKDF2 Salt/Specified is missing or not base64"))?;
    let iterations = params
        .child("IterationCount")
        .and_then(|i| i.text().parse::<u32>().ok())
        .filter(|i| (1..=MAX_PBKDF2_ITERATIONS).contains(i))
        .ok_or_else(|| bad("PBKDF2 IterationCount is missing or not from 1 to 10,000,000"))?;
    let length = match params.child("KeyLength") {
        None => 16,
        Some(l) => l
            .text()
            .parse::<usize>()
            .ok()
            .filter(|l| [16, 24, 32].contains(l))
            .ok_or_else(|| bad("PBKDF2 KeyLength is not 16, 24 or 32"))?,
    };
    let mut out = Zeroizing::new(vec![0u8; length]);
    match params.child("PRF").and_then(|p| p.attribute("Algorithm")) {
        None | Some(HMAC_SHA1) => {
            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, &salt, iterations, &mut out)
        }
        Some(HMAC_SHA256) => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, iterations, &mut out)
        }
        Some(_) => return Err(bad("the PBKDF2 PRF is not hmac-sha1 or hmac-sha256")),
    }
    Ok(out)
}

/// PBKDF2-HMAC-SHA1 (the RFC's PRF), for export.
pub(crate) fn pbkdf2_sha1(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    length: usize,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; length]);
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, iterations, &mut out);
    out
}

/// Decrypts an `EncryptedValue` after checking its `ValueMAC`.
pub(super) fn decrypt_value(
    encrypted: &Element,
    value_mac: Option<&Element>,
    keys: &ContainerKeys,
) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let key = keys
        .encryption
        .as_ref()
        .ok_or("is encrypted and no key was given")?;
    let value_mac = value_mac.ok_or("EncryptedValue has no ValueMAC")?;
    let (algorithm, mac_key) = keys
        .mac
        .as_ref()
        .ok_or("ValueMAC without MACMethod/MACKey")?;
    let cipher_value = cipher_value(encrypted).ok_or("CipherValue is missing or not base64")?;
    let mac = STANDARD
        .decode(
            value_mac
                .text()
                .split_ascii_whitespace()
                .collect::<String>(),
        )
        .map_err(|_| "ValueMAC is not base64")?;
    let ok = match algorithm {
        MacAlgorithm::Sha1 => Hmac::<sha1::Sha1>::new_from_slice(mac_key)
            .map_err(|_| "bad MAC key")?
            .chain_update(&cipher_value)
            .verify_slice(&mac)
            .is_ok(),
        MacAlgorithm::Sha256 => Hmac::<sha2::Sha256>::new_from_slice(mac_key)
            .map_err(|_| "bad MAC key")?
            .chain_update(&cipher_value)
            .verify_slice(&mac)
            .is_ok(),
    };
    if !ok {
        return Err("ValueMAC does not match (a wrong key or password, or a changed file)");
    }
    decrypt(encrypted, key)
}

/// Decrypts an element holding `EncryptionMethod` and `CipherData/CipherValue`.
fn decrypt(encrypted: &Element, key: &[u8]) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let algorithm = encrypted
        .child("EncryptionMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .ok_or("no EncryptionMethod")?;
    let (_, length) = AES_CBC
        .iter()
        .find(|(uri, _)| *uri == algorithm)
        .ok_or("EncryptionMethod is not AES-CBC (key wrap and RSA are not supported)")?;
    if *length != key.len() {
        return Err("EncryptionMethod does not match the key's length");
    }
    let mut data = cipher_value(encrypted).ok_or("CipherValue is missing or not base64")?;
    if data.len() < 32 || data.len() % 16 != 0 {
        return Err("CipherValue is not an IV and whole AES blocks");
    }
    let (iv, body) = data.split_at_mut(16);
    let plain = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| "bad key")?
            .decrypt_padded::<Pkcs7>(body)
            .map(|p| p.to_vec()),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(|_| "bad key")?
            .decrypt_padded::<Pkcs7>(body)
            .map(|p| p.to_vec()),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(|_| "bad key")?
            .decrypt_padded::<Pkcs7>(body)
            .map(|p| p.to_vec()),
    };
    plain
        .map(Zeroizing::new)
        .map_err(|_| "does not decrypt (a wrong key or password)")
}

fn cipher_value(encrypted: &Element) -> Option<Zeroizing<Vec<u8>>> {
    let text: String = encrypted
        .path(&["CipherData", "CipherValue"])?
        .text()
        .split_ascii_whitespace()
        .collect();
    STANDARD.decode(text).ok().map(Zeroizing::new)
}

/// AES-128-CBC of `plain` under `key` with `iv` (the caller's random 16 bytes), and
/// its HMAC-SHA1 under `mac_key`: the `CipherValue` bytes (IV first) and `ValueMAC`.
pub(crate) fn encrypt_value(
    key: &[u8],
    mac_key: &[u8],
    iv: &[u8; 16],
    plain: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
    let body = cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
        .map_err(|_| "the export key is not 16 bytes")?
        .encrypt_padded_vec::<Pkcs7>(plain);
    let mut out = iv.to_vec();
    out.extend_from_slice(&body);
    let mac = Hmac::<sha1::Sha1>::new_from_slice(mac_key)
        .map_err(|_| "bad MAC key")?
        .chain_update(&out)
        .finalize()
        .into_bytes()
        .to_vec();
    Ok((out, mac))
}

fn contains(e: &Element, name: &str) -> bool {
    e.name == name || e.children.iter().any(|c| contains(c, name))
}
