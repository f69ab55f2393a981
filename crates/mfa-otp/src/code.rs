//! Codes: formatting a generated one, parsing a presented one, and scanning a window in
//! constant time.

use alloc::string::String;
use core::fmt;
use core::fmt::Write as _;

use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::hazmat::Keyed;
use crate::params::Digits;

/// A generated one-time code: a string of exactly `digits` ASCII digits, leading zeros
/// kept (`003784`). Zeroized on drop; `Debug` prints `Code([redacted])`.
///
/// `==` is constant-time in the digits ([`ConstantTimeEq`]): comparing a generated code
/// with one a user typed leaks no prefix through timing. Only the lengths, which are the
/// public digit counts, are compared with a branch.
///
/// ```
/// use mfa_otp::{Hotp, HotpParams, Secret};
///
/// let secret = Secret::from_bytes(b"12345678901234567890".to_vec())?;
/// let key = Hotp::new(&secret, HotpParams::default());
/// assert_eq!(key.code(0), key.code(0));
/// assert_ne!(key.code(0), key.code(1));
/// # Ok::<(), mfa_otp::SecretError>(())
/// ```
#[derive(Clone)]
pub struct Code(Zeroizing<String>);

impl Code {
    /// The code's digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn format(value: u32, digits: Digits) -> Self {
        let reduced = reduce(value, digits);
        let mut s = Zeroizing::new(String::with_capacity(usize::from(digits.get())));
        // Writing into a String cannot fail.
        let _ = write!(s, "{reduced:0width$}", width = usize::from(digits.get()));
        Self(s)
    }
}

impl ConstantTimeEq for Code {
    fn ct_eq(&self, other: &Self) -> Choice {
        // `[u8]::ct_eq` returns false for different lengths without reading the bytes,
        // and otherwise compares every byte without branching on them.
        self.0.as_bytes().ct_eq(other.0.as_bytes())
    }
}

impl PartialEq for Code {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Code {}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code([redacted])")
    }
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Parses a presented code: ASCII spaces are ignored (users type `123 456`), and what is
/// left must be exactly `digits` ASCII digits. Returns the value, or `None` when
/// malformed. The length and format are not secret, so this may branch on them.
pub(crate) fn parse_presented(code: &str, digits: Digits) -> Option<u64> {
    let mut value: u64 = 0;
    let mut count: u8 = 0;
    for b in code.bytes() {
        match b {
            b' ' => {}
            b'0'..=b'9' => {
                count = count.checked_add(1)?;
                if count > digits.get() {
                    return None;
                }
                value = value * 10 + u64::from(b - b'0');
            }
            _ => return None,
        }
    }
    (count == digits.get()).then_some(value)
}

/// `value mod 10^digits` (RFC 4226 §5.3 step 3). The branch is on the public digit
/// count; each arm divides by a constant, which compiles to a multiplication.
#[inline(always)]
pub(crate) fn reduce(value: u32, digits: Digits) -> u64 {
    u64::from(match digits.get() {
        6 => value % 1_000_000,
        7 => value % 10_000_000,
        8 => value % 100_000_000,
        9 => value % 1_000_000_000,
        // 10 digits: the 31-bit value is below 10^10 already.
        _ => value,
    })
}

/// The outcome of scanning a window.
pub(crate) struct Scan {
    /// The largest counter at or after `accept_from` whose code matched (two counters
    /// of one window share a code with probability about `window / 10^digits`; taking
    /// the later one moves the replay horizon furthest).
    pub(crate) matched: Option<u64>,
    /// Whether a counter before `accept_from` matched (a replay, for logs).
    pub(crate) replay: bool,
}

/// Compares `presented` with the code of every counter in `first..=last`, always all of
/// them, in constant time with respect to the key and the presented code. Counters
/// below `accept_from` can match only as a replay.
pub(crate) fn scan(
    keyed: &Keyed,
    digits: Digits,
    presented: u64,
    first: u64,
    last: u64,
    accept_from: u64,
) -> Scan {
    // Flags are kept as bytes and set with `conditional_assign`, which is branch-free
    // and, unlike `Choice`'s operators, involves no optimisation barrier per step.
    let (mut found, mut replay, mut matched) = (0u8, 0u8, 0u64);
    keyed.for_each(first, last, |counter, truncated| {
        let equal = reduce(truncated, digits).ct_eq(&presented);
        // Where acceptance starts is public (the last accepted step), so branching on it
        // leaks nothing.
        if counter >= accept_from {
            matched.conditional_assign(&counter, equal);
            found.conditional_assign(&1, equal);
        } else {
            replay.conditional_assign(&1, equal);
        }
    });
    let found = bool::from(Choice::from(found));
    let replay = bool::from(Choice::from(replay));
    Scan {
        matched: found.then_some(matched),
        replay,
    }
}
