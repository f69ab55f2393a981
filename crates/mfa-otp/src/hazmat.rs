//! Low-level primitives for interoperability and tests: raw HMAC-based one-time values
//! without any of the safety of [`Hotp`](crate::Hotp) and [`Totp`](crate::Totp)
//! (no key-length floor, no replay protection, no constant-time comparison).
//!
//! Use these to reproduce a vendor's variant (Steam Guard), to check published vectors,
//! or to build your own verifier; use the rest of the crate for anything else.

use alloc::string::String;

use hmac::digest::KeyInit as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use crate::params::Algorithm;

/// RFC 4226 §5.3 dynamic truncation: the low nibble of the **last** byte of `digest` is
/// an offset; the four bytes there, big-endian, with the top bit cleared, are the 31-bit
/// value `Snum`.
///
/// Returns `None` when `digest` is shorter than 20 bytes (no HMAC in RFC 4226 or 6238
/// is), since the offset could then point past its end.
///
/// ```
/// // RFC 4226 Appendix D, count 0.
/// let hmac = [
///     0xcc, 0x93, 0xcf, 0x18, 0x50, 0x8d, 0x94, 0x93, 0x4c, 0x64,
///     0xb6, 0x5d, 0x8b, 0xa7, 0x66, 0x7f, 0xb7, 0xcd, 0xe4, 0xb0,
/// ];
/// assert_eq!(mfa_otp::hazmat::dynamic_truncate(&hmac), Some(0x4c93_cf18));
/// ```
pub fn dynamic_truncate(digest: &[u8]) -> Option<u32> {
    if digest.len() < 20 {
        return None;
    }
    Some(truncate(digest))
}

/// The 31-bit truncated HMAC of `counter` (8 bytes, big-endian) under `key`: RFC 4226
/// §5.3 up to, but not including, the modulus.
pub fn truncated_value(algorithm: Algorithm, key: &[u8], counter: u64) -> u32 {
    Keyed::new(algorithm, key).truncated(counter)
}

/// The Steam Guard code for a truncated value: five characters, each `v mod 26` over
/// `23456789BCDFGHJKMNPQRTVWXY`, dividing `v` by 26 in between. Not an RFC; Steam uses
/// HMAC-SHA-1 and a 30-second period.
///
/// ```
/// use mfa_otp::{hazmat, Algorithm};
///
/// // Step 1 (t = 59) of the RFC 6238 SHA-1 key.
/// let v = hazmat::truncated_value(Algorithm::Sha1, b"12345678901234567890", 1);
/// assert_eq!(hazmat::steam_code(v), "PV9M4");
/// ```
pub fn steam_code(value: u32) -> String {
    const ALPHABET: &[u8; 26] = b"23456789BCDFGHJKMNPQRTVWXY";
    let mut v = value;
    let mut out = String::with_capacity(5);
    for _ in 0..5 {
        let index = (v % 26) as usize;
        out.push(ALPHABET.get(index).map_or('2', |&b| char::from(b)));
        v /= 26;
    }
    out
}

/// An HMAC keyed once; each counter clones the keyed state instead of re-keying, so a
/// window of `n` steps costs `n` HMAC computations over 8 bytes and no key schedule.
/// The hash states are zeroized on drop (the `zeroize` feature of `hmac`/`sha1`/`sha2`).
#[derive(Clone)]
pub(crate) enum Keyed {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl Keyed {
    pub(crate) fn new(algorithm: Algorithm, key: &[u8]) -> Self {
        // HMAC accepts keys of every length (RFC 2104 §2 hashes long keys and pads short
        // ones), so `new_from_slice` cannot fail for it; `KeyInit::new` on the padded
        // block is not available generically, hence the fallback to an empty key, which
        // is unreachable.
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(
                Hmac::<Sha1>::new_from_slice(key)
                    .unwrap_or_else(|_| Hmac::new(&Default::default())),
            ),
            Algorithm::Sha256 => Self::Sha256(
                Hmac::<Sha256>::new_from_slice(key)
                    .unwrap_or_else(|_| Hmac::new(&Default::default())),
            ),
            Algorithm::Sha512 => Self::Sha512(
                Hmac::<Sha512>::new_from_slice(key)
                    .unwrap_or_else(|_| Hmac::new(&Default::default())),
            ),
        }
    }

    /// `Snum` of RFC 4226 §5.3 for `counter`.
    #[inline]
    pub(crate) fn truncated(&self, counter: u64) -> u32 {
        match self {
            Self::Sha1(mac) => truncated_with(mac, counter),
            Self::Sha256(mac) => truncated_with(mac, counter),
            Self::Sha512(mac) => truncated_with(mac, counter),
        }
    }

    /// Calls `f(counter, Snum)` for every counter of `first..=last` (none when
    /// `first > last`), choosing the hash once rather than per counter.
    #[inline]
    pub(crate) fn for_each(&self, first: u64, last: u64, f: impl FnMut(u64, u32)) {
        match self {
            Self::Sha1(mac) => for_each_with(mac, first, last, f),
            Self::Sha256(mac) => for_each_with(mac, first, last, f),
            Self::Sha512(mac) => for_each_with(mac, first, last, f),
        }
    }
}

#[inline]
fn truncated_with<M: Mac + Clone>(keyed: &M, counter: u64) -> u32 {
    let mut mac = keyed.clone();
    mac.update(&counter.to_be_bytes());
    truncate(&mac.finalize().into_bytes())
}

#[inline]
fn for_each_with<M: Mac + Clone>(keyed: &M, first: u64, last: u64, mut f: impl FnMut(u64, u32)) {
    let mut counter = first;
    while counter <= last {
        f(counter, truncated_with(keyed, counter));
        match counter.checked_add(1) {
            Some(next) => counter = next,
            None => break,
        }
    }
}

/// Dynamic truncation without indexing: reads four bytes at the offset, which for the
/// 20-, 32- and 64-byte digests here are always present (offset ≤ 15); a shorter
/// digest would give 0, but none reaches here ([`dynamic_truncate`] checks).
#[inline]
fn truncate(digest: &[u8]) -> u32 {
    let offset = usize::from(digest.last().map_or(0, |b| b & 0x0f));
    digest
        .get(offset..)
        .and_then(<[u8]>::first_chunk::<4>)
        .map_or(0, |b| u32::from_be_bytes(*b) & 0x7fff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_states_are_zeroized_on_drop() {
        // `Hmac` holds two hash cores (the ipad and opad states) and a block buffer; it
        // carries no `ZeroizeOnDrop` marker itself, but with the `zeroize` features each
        // of its parts wipes itself when dropped.
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<sha1::block_api::Sha1Core>();
        zeroized_on_drop::<sha2::block_api::Sha256VarCore>();
        zeroized_on_drop::<sha2::block_api::Sha512VarCore>();
        zeroized_on_drop::<hmac::digest::block_api::Buffer<hmac::block_api::HmacCore<Sha1>>>();
    }

    #[test]
    fn short_digests_are_refused() {
        assert_eq!(dynamic_truncate(&[0xff; 19]), None);
        assert_eq!(dynamic_truncate(&[0xff; 20]), Some(0x7fff_ffff));
    }
}
