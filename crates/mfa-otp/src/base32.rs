//! RFC 4648 §6 base32, with a tolerant normalisation: authenticator apps accept
//! spellings (lower case, spaces, hyphens, missing or extra `=`) that a strict RFC 4648
//! decoder refuses, and a refused secret must say which character or length was wrong.
//!
//! Written here rather than through the `base32` crate (still the tests' independent
//! cross-check): every stored TOTP or HOTP record is base32 inside its sealed JSON, so
//! every verification decodes and re-encodes its key, and one pass into a buffer of its
//! final size costs a fraction of the crate's normalise-then-decode (a tenth of the
//! instructions, and no intermediate copy).
//!
//! Secrets pass through here, so no copy may be left behind in freed memory: each
//! buffer is allocated once at its final size (or larger) and never grows.

use alloc::string::String;
use alloc::vec::Vec;

use zeroize::{Zeroize as _, Zeroizing};

use crate::error::SecretError;

/// The RFC 4648 §6 alphabet.
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Decodes base32 text the way authenticator apps accept it: any case, with spaces,
/// tabs, newlines and hyphens anywhere, and with missing, correct or extra `=` padding at
/// the end. Bits left over after the last whole byte are ignored.
pub(crate) fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    if let Some(bytes) = decode_canonical(text) {
        return Ok(bytes);
    }
    decode_tolerant(text)
}

/// The common case, canonical text (what [`encode`] writes and every stored record
/// holds), eight characters at a time; `None` for anything else (separators, padding,
/// lower case, a refused character or length), which [`decode_tolerant`] then reads or
/// refuses with its precise error.
fn decode_canonical(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let text = text.as_bytes();
    if text.is_empty() || matches!(text.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(text.len().saturating_mul(5) / 8));
    let mut group = Zeroizing::new([0u8; 8]);
    for chunk in text.chunks(8) {
        let mut held: u64 = 0;
        for slot in 0..8 {
            let value = match chunk.get(slot) {
                Some(&byte @ b'A'..=b'Z') => byte - b'A',
                Some(&byte @ b'2'..=b'7') => byte - b'2' + 26,
                Some(_) => return None,
                None => 0,
            };
            held = (held << 5) | u64::from(value);
        }
        group.copy_from_slice(&held.to_be_bytes());
        // The 40 bits sit in the low five bytes; a short last chunk keeps only its
        // whole bytes.
        let whole = chunk.len() * 5 / 8;
        out.extend_from_slice(group.get(3..3 + whole).unwrap_or_default());
        held.zeroize();
    }
    Some(out)
}

/// [`decode`] of any text, one character at a time.
fn decode_tolerant(text: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    // Every character holds at most 5 bits, and a multi-byte one (refused) more than
    // one byte of text: the output never outgrows this.
    let mut out = Zeroizing::new(Vec::with_capacity(text.len().saturating_mul(5) / 8));
    let mut bits: u32 = 0;
    let mut held: u32 = 0;
    let mut count: usize = 0;
    let mut padding_seen = false;
    // Byte by byte: the alphabet, the separators and `=` are ASCII, and the first byte
    // of any other character is refused, so every byte before it was one character.
    for (position, &byte) in text.as_bytes().iter().enumerate() {
        let value = match byte {
            b' ' | b'\t' | b'\r' | b'\n' | b'-' => continue,
            b'=' => {
                padding_seen = true;
                continue;
            }
            _ if padding_seen => return Err(SecretError::MisplacedPadding),
            b'A'..=b'Z' => u32::from(byte - b'A'),
            b'a'..=b'z' => u32::from(byte - b'a'),
            b'2'..=b'7' => u32::from(byte - b'2') + 26,
            _ => {
                let character = text
                    .get(position..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                return Err(SecretError::InvalidCharacter {
                    character,
                    position,
                });
            }
        };
        count += 1;
        held = (held << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((held >> bits) & 0xff).unwrap_or_default());
            held &= (1 << bits) - 1;
        }
    }
    // The last bits of the key, if any, do not stay on the stack.
    held.zeroize();
    if count == 0 {
        return Err(SecretError::Empty);
    }
    if matches!(count % 8, 1 | 3 | 6) {
        return Err(SecretError::InvalidLength(count));
    }
    Ok(out)
}

/// Encodes bytes as canonical base32: upper case, no padding. Five bytes make eight
/// characters; a short last group keeps the characters its bytes reach.
pub(crate) fn encode(bytes: &[u8]) -> Zeroizing<String> {
    let mut text = Zeroizing::new(Vec::with_capacity(bytes.len().div_ceil(5) * 8));
    let mut group = Zeroizing::new([0u8; 8]);
    let mut symbols = Zeroizing::new([0u8; 8]);
    for chunk in bytes.chunks(5) {
        group.fill(0);
        for (slot, &byte) in group.iter_mut().skip(3).zip(chunk) {
            *slot = byte;
        }
        let mut held = u64::from_be_bytes(*group);
        for (i, symbol) in symbols.iter_mut().enumerate() {
            let shift = 35 - 5 * i;
            let at = usize::try_from((held >> shift) & 31).unwrap_or_default();
            *symbol = ALPHABET.get(at).copied().unwrap_or(b'A');
        }
        held.zeroize();
        text.extend_from_slice(symbols.get(..encoded_len(chunk.len())).unwrap_or_default());
    }
    // Every byte is from the alphabet, so this never fails; the text is handed over
    // whole (no copy), and on a failure it would be zeroized with the vector.
    match String::from_utf8(core::mem::take(&mut *text)) {
        Ok(s) => Zeroizing::new(s),
        Err(e) => {
            let mut bytes = e.into_bytes();
            bytes.zeroize();
            Zeroizing::new(String::new())
        }
    }
}

/// The number of unpadded base32 characters for `len` bytes.
fn encoded_len(len: usize) -> usize {
    len.saturating_mul(8).div_ceil(5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    /// The `base32` crate's canonical form, the independent cross-check.
    const CANONICAL: ::base32::Alphabet = ::base32::Alphabet::Rfc4648 { padding: false };

    /// RFC 4648 §10 test vectors.
    const RFC4648: &[(&str, &str)] = &[
        ("", ""),
        ("f", "MY"),
        ("fo", "MZXQ"),
        ("foo", "MZXW6"),
        ("foob", "MZXW6YQ"),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ];

    #[test]
    fn rfc4648_vectors_round_trip() {
        for (i, &(plain, encoded)) in RFC4648.iter().enumerate() {
            assert_eq!(encode(plain.as_bytes()).as_str(), encoded, "#{i}");
            if !plain.is_empty() {
                assert_eq!(
                    decode(encoded).unwrap().as_slice(),
                    plain.as_bytes(),
                    "#{i}"
                );
                let padded = format!("{encoded:=<width$}", width = encoded.len().div_ceil(8) * 8);
                assert_eq!(
                    decode(&padded).unwrap().as_slice(),
                    plain.as_bytes(),
                    "#{i}"
                );
            }
        }
    }

    /// The canonical fast path and the tolerant path read canonical text alike, at
    /// every length.
    #[test]
    fn canonical_and_tolerant_paths_agree() {
        let bytes: Vec<u8> = (0u8..=80).map(|i| i.wrapping_mul(53) ^ 0x3c).collect();
        for len in 1..=bytes.len() {
            let text = encode(&bytes[..len]);
            let fast = decode_canonical(&text).expect("canonical");
            let slow = decode_tolerant(&text).unwrap();
            assert_eq!(fast.as_slice(), &bytes[..len], "len {len}");
            assert_eq!(slow.as_slice(), &bytes[..len], "len {len}");
        }
        assert!(decode_canonical("MZXW6YTB====").is_none());
        assert!(decode_canonical("mzxw6ytb").is_none());
        assert!(decode_canonical("MZX").is_none());
    }

    #[test]
    fn tolerant_spellings_and_typed_errors() {
        assert_eq!(decode("mz-xw 6y\ttb===").unwrap().as_slice(), b"fooba");
        assert_eq!(decode("MZXW6YTB=====").unwrap().as_slice(), b"fooba");
        assert_eq!(decode(" = ").unwrap_err(), SecretError::Empty);
        assert_eq!(decode("MZ=XW").unwrap_err(), SecretError::MisplacedPadding);
        assert_eq!(
            decode("MZ1").unwrap_err(),
            SecretError::InvalidCharacter {
                character: '1',
                position: 2
            }
        );
        assert_eq!(decode("MZX").unwrap_err(), SecretError::InvalidLength(3));
        // Bits after the last whole byte are ignored: `Y` and `Z` differ only there.
        assert_eq!(decode("MZ").unwrap().as_slice(), b"f");
        assert_eq!(
            decode("MZé").unwrap_err(),
            SecretError::InvalidCharacter {
                character: 'é',
                position: 2
            }
        );
    }

    /// Encoding gives exactly what the `base32` crate gives, and decoding agrees with
    /// the crate's strict decoder on canonical text, at every length (every remainder
    /// mod 5 and 8).
    #[test]
    fn agrees_with_the_base32_crate() {
        let bytes: Vec<u8> = (0u8..=80).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        for len in 0..=bytes.len() {
            let data = &bytes[..len];
            let whole = ::base32::encode(CANONICAL, data);
            assert_eq!(encode(data).as_str(), whole, "len {len}");
            if len > 0 {
                assert_eq!(decode(&whole).unwrap().as_slice(), data, "len {len}");
                assert_eq!(
                    decode(&whole.to_lowercase()).unwrap().as_slice(),
                    ::base32::decode(CANONICAL, &whole).unwrap().as_slice(),
                    "len {len}"
                );
            }
        }
    }
}
