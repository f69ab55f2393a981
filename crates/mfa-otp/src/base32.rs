//! RFC 4648 §6 base32 through the `base32` crate, after a tolerant normalisation of our
//! own: authenticator apps accept spellings (lower case, spaces, hyphens, missing or
//! extra `=`) that a strict RFC 4648 decoder refuses, and a refused secret must say which
//! character or length was wrong.
//!
//! Secrets pass through here, so no copy may be left behind in freed memory: the
//! normalised text is zeroized, and the crate is called only in ways that fill a buffer
//! allocated once at its final size (see [`decode`] and [`encode`]).

use alloc::string::String;
use alloc::vec::Vec;

use ::base32::Alphabet;
use zeroize::{Zeroize as _, Zeroizing};

use crate::error::SecretError;

/// Canonical base32: upper case, no padding.
const CANONICAL: Alphabet = Alphabet::Rfc4648 { padding: false };

/// Decodes base32 text the way authenticator apps accept it: any case, with spaces,
/// tabs, newlines and hyphens anywhere, and with missing, correct or extra `=` padding at
/// the end. Bits left over after the last whole byte are ignored.
pub(crate) fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let canonical = normalise(text)?;
    // `base32::decode` allocates `5 * ceil(n * 5 / 8 / 5)` bytes and pushes 5 per group
    // of 8 characters (`5 * ceil(n / 8)`): equal for every length `normalise` lets
    // through (n mod 8 in {0, 2, 4, 5, 7}), so the buffer never grows and never leaves a
    // copy of the key behind. Its only failure, a character outside the alphabet,
    // cannot happen after `normalise`; should it ever, the secret is refused.
    ::base32::decode(CANONICAL, &canonical)
        .map(Zeroizing::new)
        .ok_or(SecretError::InvalidLength(canonical.len()))
}

/// Checks and normalises tolerant base32 text to canonical form (upper case, no
/// separators, no padding), with errors that name the first problem.
fn normalise(text: &str) -> Result<Zeroizing<String>, SecretError> {
    let mut canonical = Zeroizing::new(String::with_capacity(text.len()));
    let mut padding_seen = false;
    for (position, character) in text.chars().enumerate() {
        match character {
            ' ' | '\t' | '\r' | '\n' | '-' => {}
            '=' => padding_seen = true,
            _ if padding_seen => return Err(SecretError::MisplacedPadding),
            'A'..='Z' | '2'..='7' => canonical.push(character),
            'a'..='z' => canonical.push(character.to_ascii_uppercase()),
            _ => {
                return Err(SecretError::InvalidCharacter {
                    character,
                    position,
                });
            }
        }
    }
    if canonical.is_empty() {
        return Err(SecretError::Empty);
    }
    if matches!(canonical.len() % 8, 1 | 3 | 6) {
        return Err(SecretError::InvalidLength(canonical.len()));
    }
    Ok(canonical)
}

/// Encodes bytes as canonical base32: upper case, no padding.
pub(crate) fn encode(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(encoded_len(bytes.len())));
    // `base32::encode` reserves `5 * ceil(len / 4)` bytes for `8 * ceil(len / 5)`
    // characters, so on a whole key its buffer grows and the freed first allocation
    // keeps part of the encoded key. Fed one zero-padded group of 5 bytes at a time it
    // reserves 10 for 8 and never grows; each group's text is zeroized after copying.
    let mut group = Zeroizing::new([0u8; 5]);
    for chunk in bytes.chunks(5) {
        group.fill(0);
        for (slot, &byte) in group.iter_mut().zip(chunk) {
            *slot = byte;
        }
        let mut text = ::base32::encode(CANONICAL, group.as_slice());
        // A zero-padded group encodes as the shorter group would, plus characters that
        // hold only padding bits: keep the ones the real bytes need.
        out.push_str(text.get(..encoded_len(chunk.len())).unwrap_or_default());
        text.zeroize();
    }
    out
}

/// The number of unpadded base32 characters for `len` bytes.
fn encoded_len(len: usize) -> usize {
    len.saturating_mul(8).div_ceil(5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

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

    /// Encoding group by group gives exactly what one call of the crate gives, and
    /// decoding agrees with the crate's strict decoder on canonical text, at every length
    /// (every remainder mod 5 and 8).
    #[test]
    fn grouped_calls_match_whole_calls_of_the_crate() {
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
