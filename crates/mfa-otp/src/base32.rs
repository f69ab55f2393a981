//! RFC 4648 §6 base32, decoded the tolerant way authenticator apps do and encoded
//! canonically.

use alloc::string::String;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::error::SecretError;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Decodes base32 text the way authenticator apps accept it: any case, with spaces,
/// tabs, newlines and hyphens anywhere, and with missing, correct or extra `=` padding at
/// the end. Bits left over after the last whole byte are ignored.
pub(crate) fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let mut values = Zeroizing::new(Vec::with_capacity(text.len()));
    let mut padding_seen = false;
    for (position, character) in text.chars().enumerate() {
        match character {
            ' ' | '\t' | '\r' | '\n' | '-' => {}
            '=' => padding_seen = true,
            _ if padding_seen => return Err(SecretError::MisplacedPadding),
            _ => {
                let upper = character.to_ascii_uppercase();
                let value = match upper {
                    'A'..='Z' => u32::from(upper) - u32::from('A'),
                    '2'..='7' => u32::from(upper) - u32::from('2') + 26,
                    _ => {
                        return Err(SecretError::InvalidCharacter {
                            character,
                            position,
                        });
                    }
                };
                values.push(value);
            }
        }
    }
    if values.is_empty() {
        return Err(SecretError::Empty);
    }
    if matches!(values.len() % 8, 1 | 3 | 6) {
        return Err(SecretError::InvalidLength(values.len()));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(values.len() * 5 / 8));
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &value in values.iter() {
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).unwrap_or_default());
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Encodes bytes as canonical base32: upper case, no padding.
pub(crate) fn encode(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(5) * 8));
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(symbol(buffer >> bits));
            buffer &= (1 << bits) - 1;
        }
    }
    if bits > 0 {
        out.push(symbol(buffer << (5 - bits)));
    }
    out
}

fn symbol(index: u32) -> char {
    // `index` is masked to 5 bits, so `get` always finds a symbol.
    ALPHABET
        .get((index & 0x1f) as usize)
        .map_or('A', |&b| char::from(b))
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
        assert_eq!(
            decode("MZé").unwrap_err(),
            SecretError::InvalidCharacter {
                character: 'é',
                position: 2
            }
        );
    }
}
