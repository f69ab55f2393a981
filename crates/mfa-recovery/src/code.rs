//! Codes people read and type: the Crockford base32 alphabet, generation, normalisation.

use std::fmt;

use mfa_core::SecureRandom;
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::error::Error;

/// The longest input [`RecoveryCode::parse`] looks at, in bytes. Anything longer is
/// refused before any work is done, so a verifier's cost is bounded whatever is sent.
pub const MAX_INPUT_LEN: usize = 256;

/// A recovery code in canonical form: Crockford base32 symbols (`0-9`, `A-Z` without `I`,
/// `L`, `O`, `U`), upper case, without separators.
///
/// - Generated codes come from [`RecoveryFactor`](crate::RecoveryFactor); a typed code
///   comes from [`RecoveryCode::parse`], which normalises it.
/// - The buffer is zeroized on drop; `Debug` prints `RecoveryCode([redacted])`, and
///   there is no `Display`: showing a code is a deliberate call to
///   [`expose_grouped`](Self::expose_grouped).
/// - Equality is constant-time in the contents.
///
/// ```
/// use mfa_recovery::RecoveryCode;
///
/// // Case, spaces, hyphens and the look-alikes O (zero), I and L (one) do not matter.
/// let typed = RecoveryCode::parse("abcd efgh-jkmn-pqrs-tvwx-yzoi")?;
/// assert_eq!(typed.expose_secret(), "ABCDEFGHJKMNPQRSTVWXYZ01");
/// assert_eq!(*typed.expose_grouped(), "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01");
/// assert_eq!(format!("{typed:?}"), "RecoveryCode([redacted])");
/// # Ok::<(), mfa_recovery::CodeError>(())
/// ```
#[derive(Clone)]
pub struct RecoveryCode {
    symbols: Zeroizing<String>,
    group: usize,
}

impl RecoveryCode {
    /// Normalises what a person typed into a code: ASCII letters are upper-cased, the
    /// look-alikes `O` → `0` and `I`, `L` → `1` are mapped as Crockford base32 says,
    /// and whitespace and hyphens (including the Unicode dashes a word processor puts
    /// in) are dropped. The length is not checked here: it depends on the stored
    /// record, and [`RecoveryFactor::verify_code`](crate::RecoveryFactor::verify_code)
    /// checks it.
    ///
    /// # Errors
    ///
    /// [`CodeError::TooLong`] when the input is longer than [`MAX_INPUT_LEN`] bytes or
    /// has more symbols than any code (66: 64 random symbols and a 2-symbol index),
    /// [`CodeError::InvalidCharacter`] for a character outside the alphabet (`U`,
    /// punctuation, any other letter), and [`CodeError::Empty`] when nothing is left.
    /// No error message repeats the input, since it may be most of a real code.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(CodeError::TooLong);
        }
        let mut symbols = Zeroizing::new(String::with_capacity(input.len()));
        for (position, c) in input.chars().enumerate() {
            if c.is_whitespace() || is_dash(c) {
                continue;
            }
            if symbols.len() == MAX_SYMBOLS {
                return Err(CodeError::TooLong);
            }
            match canonical_symbol(c) {
                Some(s) => symbols.push(char::from(s)),
                None => return Err(CodeError::InvalidCharacter { position }),
            }
        }
        if symbols.is_empty() {
            return Err(CodeError::Empty);
        }
        Ok(Self {
            symbols,
            group: DEFAULT_GROUP,
        })
    }

    /// `len` symbols drawn uniformly from `rng` (each symbol is the low five bits of one
    /// random byte, so there is no modulo bias), shown in groups of `group`.
    pub(crate) fn generate(
        len: usize,
        group: usize,
        rng: &mut dyn SecureRandom,
    ) -> Result<Self, Error> {
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        rng.fill(&mut bytes)?;
        let symbols: String = bytes.iter().map(|&b| char::from(symbol(b))).collect();
        Ok(Self {
            symbols: Zeroizing::new(symbols),
            group,
        })
    }

    /// The canonical symbols, without separators: what is hashed. Keep the borrow short
    /// and never log it.
    pub fn expose_secret(&self) -> &str {
        &self.symbols
    }

    /// The code in groups separated by hyphens (`ABCD-EFGH-…`), to show to the user
    /// once. Zeroized when dropped.
    pub fn expose_grouped(&self) -> Zeroizing<String> {
        let group = self.group.max(1);
        let mut out = Zeroizing::new(String::with_capacity(
            self.symbols.len() + self.symbols.len() / group,
        ));
        for (i, c) in self.symbols.chars().enumerate() {
            if i > 0 && i % group == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    /// The number of symbols (without separators).
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Whether the code has no symbols (never true for a parsed or generated code).
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.symbols.as_bytes()
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

impl ConstantTimeEq for RecoveryCode {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.as_bytes().ct_eq(other.as_bytes())
    }
}

impl PartialEq for RecoveryCode {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for RecoveryCode {}

/// Why a typed recovery code could not be read. The service still counts it as a failed
/// attempt (see [`Error::is_rejection`]); the message is safe to show to the user, since
/// the code's format is public and no message repeats the input.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum CodeError {
    /// Nothing but separators (or nothing at all) was typed.
    #[error("recovery code is empty")]
    Empty,
    /// A character outside the code alphabet, at this 0-based character position.
    #[error(
        "recovery code has an invalid character at position {position}: only letters and digits are used, without U"
    )]
    InvalidCharacter {
        /// Position of the offending character, counted in characters from 0.
        position: usize,
    },
    /// The input is longer than [`MAX_INPUT_LEN`] bytes, or has more symbols than any
    /// code can have.
    #[error("recovery code is too long")]
    TooLong,
    /// The code has the wrong number of symbols for this record.
    #[error("recovery code must have {expected} letters and digits, not {found}")]
    WrongLength {
        /// The number of symbols the record's codes have.
        expected: usize,
        /// The number of symbols typed (separators not counted).
        found: usize,
    },
}

/// The 32 symbols of Crockford base32, in value order.
pub(crate) const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The most symbols a code can have: 64 random ones (320 bits) after a 2-symbol index.
/// Bounding it keeps a parsed code's grouped form within [`MAX_INPUT_LEN`], so parsing
/// what [`RecoveryCode::expose_grouped`] shows always succeeds (found by fuzzing).
const MAX_SYMBOLS: usize = 66;

/// Symbols per hyphen-separated group when none is configured.
pub(crate) const DEFAULT_GROUP: usize = 4;

/// The symbol for the low five bits of `b`.
pub(crate) fn symbol(b: u8) -> u8 {
    // `b & 0x1f` is below 32, the alphabet's length: the fallback is never taken.
    ALPHABET.get(usize::from(b & 0x1f)).copied().unwrap_or(b'0')
}

/// The canonical symbol for one typed character, or `None` when it is not in the
/// alphabet (after case folding and the look-alike mapping).
fn canonical_symbol(c: char) -> Option<u8> {
    let ascii = usize::from(u8::try_from(c).ok()?);
    DECODE.get(ascii).copied().filter(|&s| s != 0)
}

/// For each ASCII byte, its canonical symbol, or 0 when it is not one.
const DECODE: [u8; 128] = decode_table();

#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build"
)]
const fn decode_table() -> [u8; 128] {
    let mut table = [0u8; 128];
    let mut i = 0;
    while i < ALPHABET.len() {
        let s = ALPHABET[i];
        table[s as usize] = s;
        table[s.to_ascii_lowercase() as usize] = s;
        i += 1;
    }
    // Crockford's look-alikes.
    table[b'O' as usize] = b'0';
    table[b'o' as usize] = b'0';
    table[b'I' as usize] = b'1';
    table[b'i' as usize] = b'1';
    table[b'L' as usize] = b'1';
    table[b'l' as usize] = b'1';
    table
}

/// Hyphen-minus and the Unicode dashes (U+2010 to U+2015, U+2212 minus sign) that
/// text editors substitute for it.
fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_is_crockford() {
        // Ten digits and 22 letters: no I, L, O, U; strictly ascending, so no duplicate.
        assert!(ALPHABET.windows(2).all(|w| w[0] < w[1]));
        for c in *b"ILOU" {
            assert!(!ALPHABET.contains(&c));
        }
        for b in 0..=255u8 {
            assert_eq!(symbol(b), ALPHABET[usize::from(b % 32)]);
        }
    }

    #[test]
    fn decode_table_matches_the_rules() {
        for b in 0..128u8 {
            let expected = match b.to_ascii_uppercase() {
                b'O' => Some(b'0'),
                b'I' | b'L' => Some(b'1'),
                u if ALPHABET.contains(&u) => Some(u),
                _ => None,
            };
            assert_eq!(canonical_symbol(char::from(b)), expected, "{b:#x}");
        }
        assert_eq!(canonical_symbol('\u{0130}'), None); // dotted capital I
    }

    #[test]
    fn look_alikes_and_separators() {
        let c = RecoveryCode::parse(" o0-iIlL\u{2013}\tab\u{2212}c ").unwrap();
        assert_eq!(c.expose_secret(), "001111ABC");
    }

    #[test]
    fn refusals() {
        assert_eq!(RecoveryCode::parse(""), Err(CodeError::Empty));
        assert_eq!(RecoveryCode::parse(" - - "), Err(CodeError::Empty));
        assert_eq!(
            RecoveryCode::parse("AB-U"),
            Err(CodeError::InvalidCharacter { position: 3 })
        );
        assert_eq!(
            RecoveryCode::parse("ÄB"),
            Err(CodeError::InvalidCharacter { position: 0 })
        );
        assert_eq!(
            RecoveryCode::parse(&"A".repeat(MAX_INPUT_LEN + 1)),
            Err(CodeError::TooLong)
        );
        assert!(RecoveryCode::parse(&"A".repeat(MAX_SYMBOLS)).is_ok());
        assert_eq!(
            RecoveryCode::parse(&"A".repeat(MAX_SYMBOLS + 1)),
            Err(CodeError::TooLong)
        );
        // Separators do not count towards the symbol limit.
        let spaced = "A ".repeat(MAX_SYMBOLS);
        assert!(RecoveryCode::parse(&spaced).is_ok());
        // The message never repeats the input.
        let e = RecoveryCode::parse("SECRET*").unwrap_err().to_string();
        assert!(!e.contains("SECRET"), "{e}");
    }

    #[test]
    fn the_longest_code_fits_in_its_grouped_form() {
        // 64 random symbols (CodeFormat::MAX_ENTROPY_BITS / 5) after a 2-symbol index.
        assert_eq!(
            MAX_SYMBOLS,
            usize::from(crate::CodeFormat::MAX_ENTROPY_BITS / 5) + 2
        );
        let longest = RecoveryCode {
            group: 3,
            ..RecoveryCode::parse(&"Z".repeat(MAX_SYMBOLS)).unwrap()
        };
        let shown = longest.expose_grouped();
        assert!(shown.len() <= MAX_INPUT_LEN);
        assert_eq!(RecoveryCode::parse(&shown).unwrap(), longest);
    }

    #[test]
    fn grouping() {
        let c = RecoveryCode::parse("ABCDEFGHJK").unwrap();
        assert_eq!(*c.expose_grouped(), "ABCD-EFGH-JK");
        let c = RecoveryCode {
            group: 5,
            ..c.clone()
        };
        assert_eq!(*c.expose_grouped(), "ABCDE-FGHJK");
    }
}
