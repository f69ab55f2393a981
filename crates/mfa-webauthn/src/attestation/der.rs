//! A minimal DER reader for the attestation extensions this crate parses itself (the
//! Android KeyDescription, the Apple nonce): tag, length, contents, with multi-byte
//! tags and long lengths, refusing indefinite lengths and truncation.

/// One TLV: its class-and-constructed bits with the tag number, and its contents.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Tlv<'a> {
    /// The first identifier octet's class and constructed bits (`0xc0 | 0x20`).
    pub(crate) class: u8,
    /// The tag number.
    pub(crate) number: u32,
    /// The contents.
    pub(crate) value: &'a [u8],
}

impl Tlv<'_> {
    /// Whether this is the universal tag `byte` (e.g. 0x30 SEQUENCE, 0x04 OCTET STRING).
    pub(crate) fn is(&self, byte: u8) -> bool {
        self.class == byte & 0xe0 && self.number == u32::from(byte & 0x1f)
    }

    /// Whether this is the context-specific tag `[n]` (constructed or not).
    pub(crate) fn is_context(&self, n: u32) -> bool {
        self.class & 0xc0 == 0x80 && self.number == n
    }
}

/// Reads one TLV from the front of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&first, mut rest) = input.split_first()?;
    let class = first & 0xe0;
    let mut number = u32::from(first & 0x1f);
    if number == 0x1f {
        number = 0;
        loop {
            let (&b, r) = rest.split_first()?;
            rest = r;
            if number > (u32::MAX >> 7) {
                return None;
            }
            number = (number << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let (&len_byte, r) = rest.split_first()?;
    rest = r;
    let len = if len_byte & 0x80 == 0 {
        usize::from(len_byte)
    } else {
        let n = usize::from(len_byte & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, r) = rest.split_at_checked(n)?;
        rest = r;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    let (value, rest) = rest.split_at_checked(len)?;
    Some((
        Tlv {
            class,
            number,
            value,
        },
        rest,
    ))
}

/// Reads every TLV of `input` (the contents of a SEQUENCE or SET).
pub(crate) fn read_all(mut input: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = read(input)?;
        out.push(tlv);
        input = rest;
    }
    Some(out)
}

/// A non-negative INTEGER's contents as `u64`.
pub(crate) fn uint(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let v = value.iter().skip_while(|&&b| b == 0).collect::<Vec<_>>();
    if v.len() > 8 {
        return None;
    }
    Some(v.iter().fold(0u64, |acc, &&b| (acc << 8) | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_long_tags_and_lengths() {
        // [600] EXPLICIT NULL: bf 84 58 02 05 00.
        let (t, rest) = read(&[0xbf, 0x84, 0x58, 0x02, 0x05, 0x00, 0xff]).unwrap();
        assert!(t.is_context(600));
        assert_eq!(t.value, [0x05, 0x00]);
        assert_eq!(rest, [0xff]);
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 128]);
        let (t, rest) = read(&long).unwrap();
        assert!(t.is(0x04) && t.value.len() == 128 && rest.is_empty());
        assert_eq!(read(&[0x04, 0x05, 1, 2]), None, "truncated");
        assert_eq!(read(&[0x04, 0x80]), None, "indefinite");
        assert_eq!(uint(&[0x00, 0x02]), Some(2));
        assert_eq!(uint(&[0x80]), None);
    }
}
