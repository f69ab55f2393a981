//! The canonical encoding of a device's answer, which the device signs.
//!
//! ```text
//! offset  size  field
//! 0       24    domain: the ASCII bytes "mfa-oob push response v1" (no terminator)
//! 24      32    transaction id
//! 56      32    nonce (from the notification)
//! 88      1     decision: 0x01 approve, 0x02 deny
//! 89      1     n: number of digits entered (1..=8 to approve, 0 to deny)
//! 90      n     the entered number, ASCII digits
//! 90+n    8     the device's time, Unix seconds, unsigned big-endian
//! ```
//!
//! The device signs exactly these bytes with ES256 (ECDSA over P-256 with SHA-256), and
//! sends them followed by the 64-byte signature `r || s` (each 32 bytes big-endian):
//! `98 + n + 64` bytes, usually as base64url without padding. Every field has one
//! encoding, so a response decodes to exactly one value and re-encodes to the same
//! bytes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Answer, PushResponse, TransactionId};
use crate::bytes::Bytes;

/// Why a device's answer did not decode. The device's doing; counted as a failed
/// attempt ([`Error::is_rejection`](crate::Error::is_rejection)).
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum EncodingError {
    /// A deny carried a number, or an approve none.
    #[error("an approval needs the entered number and a denial must not carry one")]
    AnswerNumberMismatch,
    /// The text form is not base64url without padding.
    #[error("push response is not base64url without padding")]
    Base64,
    /// The decision byte is neither approve (1) nor deny (2).
    #[error("unknown decision {0:#04x}")]
    Decision(u8),
    /// The domain prefix is not this format's.
    #[error("not an mfa-oob push response v1")]
    Domain,
    /// The length does not match what the header announces.
    #[error("push response has {found} bytes, expected {expected}")]
    Length {
        /// The length the header announces.
        expected: usize,
        /// The length received.
        found: usize,
    },
    /// The entered number is longer than 8 digits or has a non-digit.
    #[error("the entered number must be 0 to 8 ASCII digits")]
    Number,
    /// The signature is not two scalars in range.
    #[error("signature is not a valid P-256 r || s")]
    Signature,
    /// The response is shorter than its fixed fields.
    #[error("push response is truncated")]
    Truncated,
}

/// The domain prefix of the signed bytes.
pub const RESPONSE_DOMAIN: &[u8; 24] = b"mfa-oob push response v1";
/// The most digits an entered number may have.
pub const MAX_NUMBER_DIGITS: usize = 8;
const FIXED: usize = 24 + 32 + 32 + 1 + 1;
const TIME_LEN: usize = 8;
const SIG_LEN: usize = 64;

/// The bytes the device signs for `(transaction, nonce, answer, number, time)`.
pub(crate) fn signed_bytes(
    transaction: &TransactionId,
    nonce: &[u8; 32],
    answer: Answer,
    number: &str,
    time: u64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(FIXED + number.len() + TIME_LEN);
    out.extend_from_slice(RESPONSE_DOMAIN);
    out.extend_from_slice(&transaction.0.0);
    out.extend_from_slice(nonce);
    out.push(match answer {
        Answer::Approve => 1,
        Answer::Deny => 2,
    });
    // Callers pass at most MAX_NUMBER_DIGITS digits; the cast cannot truncate then.
    out.push(u8::try_from(number.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(number.as_bytes());
    out.extend_from_slice(&time.to_be_bytes());
    out
}

pub(crate) fn decode(bytes: &[u8]) -> Result<PushResponse, EncodingError> {
    let (domain, rest) = bytes.split_at_checked(24).ok_or(EncodingError::Truncated)?;
    if domain != RESPONSE_DOMAIN {
        return Err(EncodingError::Domain);
    }
    let (tx, rest) = rest
        .split_first_chunk::<32>()
        .ok_or(EncodingError::Truncated)?;
    let (nonce, rest) = rest
        .split_first_chunk::<32>()
        .ok_or(EncodingError::Truncated)?;
    let (&[decision, n], rest) = rest
        .split_first_chunk::<2>()
        .ok_or(EncodingError::Truncated)?;
    let answer = match decision {
        1 => Answer::Approve,
        2 => Answer::Deny,
        other => return Err(EncodingError::Decision(other)),
    };
    let n = usize::from(n);
    if n > MAX_NUMBER_DIGITS {
        return Err(EncodingError::Number);
    }
    let expected = FIXED + n + TIME_LEN + SIG_LEN;
    if bytes.len() != expected {
        return Err(EncodingError::Length {
            expected,
            found: bytes.len(),
        });
    }
    let (number, rest) = rest.split_at_checked(n).ok_or(EncodingError::Truncated)?;
    if !number.iter().all(u8::is_ascii_digit) {
        return Err(EncodingError::Number);
    }
    match (answer, n) {
        (Answer::Approve, 0) => return Err(EncodingError::AnswerNumberMismatch),
        (Answer::Deny, 1..) => return Err(EncodingError::AnswerNumberMismatch),
        _ => {}
    }
    let (time, sig) = rest
        .split_first_chunk::<TIME_LEN>()
        .ok_or(EncodingError::Truncated)?;
    let sig = <[u8; SIG_LEN]>::try_from(sig).map_err(|_| EncodingError::Truncated)?;
    let signature =
        p256::ecdsa::Signature::from_slice(&sig).map_err(|_| EncodingError::Signature)?;
    Ok(PushResponse {
        transaction: TransactionId(Bytes(*tx)),
        nonce: *nonce,
        answer,
        number: String::from_utf8_lossy(number).into_owned(),
        time: u64::from_be_bytes(*time),
        signature,
    })
}

pub(crate) fn decode_text(text: &str) -> Result<PushResponse, EncodingError> {
    // The longest response is FIXED + 8 + 8 + 64 bytes: refuse long text before decoding.
    if text.len() > 4 * (FIXED + MAX_NUMBER_DIGITS + TIME_LEN + SIG_LEN).div_ceil(3) {
        return Err(EncodingError::Length {
            expected: FIXED + MAX_NUMBER_DIGITS + TIME_LEN + SIG_LEN,
            found: text.len() * 3 / 4,
        });
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text.as_bytes())
        .map_err(|_| EncodingError::Base64)?;
    decode(&bytes)
}
