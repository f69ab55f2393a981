//! HOTP: RFC 4226 counter-based one-time passwords.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::code::{Code, parse_presented, reduce, scan};
use crate::error::{Error, RejectReason};
use crate::hazmat::Keyed;
use crate::params::{Algorithm, Digits};
use crate::secret::Secret;

/// The parameters of an HOTP enrollment besides its secret and counter.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq, Deserialize, Serialize)]
pub struct HotpParams {
    /// The HMAC hash (default SHA-1).
    pub algorithm: Algorithm,
    /// The number of digits (default 6).
    pub digits: Digits,
}

/// An HOTP generator and verifier, keyed once (RFC 4226).
///
/// The HMAC key schedule runs once in [`Hotp::new`]; each counter then costs one HMAC
/// over 8 bytes. Verification compares against every counter of the look-ahead window,
/// always all of them, in constant time.
///
/// ```
/// use mfa_otp::{Hotp, HotpParams, Secret};
///
/// let secret = Secret::from_bytes(b"12345678901234567890".to_vec())?;
/// let hotp = Hotp::new(&secret, HotpParams::default());
/// assert_eq!(hotp.code(0).as_str(), "755224"); // RFC 4226 Appendix D
///
/// // The server expects counter 0; the user's token is at 5 (button pressed 5 times
/// // without logging in). A look-ahead of 10 finds it; the next expected counter is 6.
/// let next = hotp.verify("254676", 0, 10)?;
/// assert_eq!(next, 6);
/// // The same code never works again: counters before 6 are no longer checked.
/// assert!(hotp.verify("254676", next, 10).unwrap_err().is_rejection());
/// # Ok::<(), mfa_otp::Error>(())
/// ```
#[derive(Clone)]
pub struct Hotp {
    keyed: Keyed,
    digits: Digits,
}

impl Hotp {
    /// The largest look-ahead [`Hotp::verify`] and [`Hotp::resync`] accept.
    pub const MAX_LOOK_AHEAD: u32 = 1_000;

    /// Keys an HOTP generator with `secret`.
    pub fn new(secret: &Secret, params: HotpParams) -> Self {
        Self {
            keyed: Keyed::new(params.algorithm, secret.expose_secret()),
            digits: params.digits,
        }
    }

    /// The code for `counter` (RFC 4226 §5.3).
    pub fn code(&self, counter: u64) -> Code {
        Code::format(self.keyed.truncated(counter), self.digits)
    }

    /// Verifies `code` against the counters `counter ..= counter + look_ahead` (RFC 4226
    /// §7.2 and §7.4) and returns the counter to store: the one after the match.
    ///
    /// `counter` is the next counter the server expects (0 after enrollment). Codes for
    /// earlier counters are never accepted, so storing the returned value (with a
    /// compare-and-swap) makes each code single-use. ASCII spaces in `code` are ignored.
    /// Should the code match two counters of the window, the later one counts.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] when the code is malformed or matches no counter in the
    /// window; [`Error::Window`] when `look_ahead` exceeds [`Hotp::MAX_LOOK_AHEAD`];
    /// [`Error::CounterExhausted`] when `counter` is `u64::MAX` (no counter would follow
    /// a match). The window stops at `u64::MAX - 1` rather than wrapping.
    pub fn verify(&self, code: &str, counter: u64, look_ahead: u32) -> Result<u64, Error> {
        check_look_ahead(look_ahead)?;
        let last = window_end(counter, look_ahead)?;
        let presented = parse_presented(code, self.digits).ok_or(RejectReason::Malformed)?;
        let found = scan(&self.keyed, self.digits, presented, counter, last, counter);
        let matched = found.matched.ok_or(RejectReason::WrongCode)?;
        matched.checked_add(1).ok_or(Error::CounterExhausted)
    }

    /// Resynchronises a counter that has drifted beyond the normal look-ahead (RFC 4226
    /// §7.4): finds the counter `c` in `counter ..= counter + window` whose code is
    /// `first` and whose successor's code is `second`, and returns `c + 2`, the counter
    /// to store. Two consecutive codes make a guess 10⁶ times harder than one, which is
    /// why a wide window is safe here and not in [`Hotp::verify`].
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] when either code is malformed or no pair matches;
    /// [`Error::Window`] when `window` exceeds [`Hotp::MAX_LOOK_AHEAD`];
    /// [`Error::CounterExhausted`] near `u64::MAX`.
    pub fn resync(
        &self,
        first: &str,
        second: &str,
        counter: u64,
        window: u32,
    ) -> Result<u64, Error> {
        use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq as _};

        check_look_ahead(window)?;
        // The pair (c, c + 1) must leave room for c + 2.
        let last = window_end(counter, window)?.min(u64::MAX - 2);
        if counter > last {
            return Err(Error::CounterExhausted);
        }
        let parse = |code| parse_presented(code, self.digits).ok_or(RejectReason::Malformed);
        let (first, second) = (parse(first)?, parse(second)?);
        let value = |c: u64| reduce(self.keyed.truncated(c), self.digits);
        let mut found = Choice::from(0);
        let mut matched = 0u64;
        let mut previous = value(counter);
        let mut c = counter;
        loop {
            let next = value(c + 1);
            let take = previous.ct_eq(&first) & next.ct_eq(&second) & !found;
            matched = u64::conditional_select(&matched, &c, take);
            found |= take;
            previous = next;
            if c >= last {
                break;
            }
            c += 1;
        }
        if !bool::from(found) {
            return Err(RejectReason::WrongCode.into());
        }
        matched.checked_add(2).ok_or(Error::CounterExhausted)
    }
}

impl fmt::Debug for Hotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hotp")
            .field("digits", &self.digits)
            .finish_non_exhaustive()
    }
}

fn check_look_ahead(look_ahead: u32) -> Result<(), Error> {
    if look_ahead > Hotp::MAX_LOOK_AHEAD {
        return Err(Error::Window {
            max: Hotp::MAX_LOOK_AHEAD,
            got: look_ahead,
        });
    }
    Ok(())
}

/// The last counter to check: `counter + look_ahead`, clamped so that a successor
/// exists (at most `u64::MAX - 1`).
fn window_end(counter: u64, look_ahead: u32) -> Result<u64, Error> {
    if counter == u64::MAX {
        return Err(Error::CounterExhausted);
    }
    Ok(counter
        .saturating_add(u64::from(look_ahead))
        .min(u64::MAX - 1))
}

/// What a service stores for one HOTP enrollment: the secret, the parameters and the
/// next counter it expects.
///
/// YOU MUST STORE THE RECORD THAT VERIFICATION RETURNS, with a compare-and-swap on the
/// version you loaded: the counter is what makes each code single-use.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct HotpRecord {
    /// The shared secret.
    pub secret: Secret,
    /// Algorithm and digits.
    pub params: HotpParams,
    /// The next counter the server expects.
    pub counter: u64,
}

impl HotpRecord {
    /// A record for a new enrollment: counter 0.
    pub fn new(secret: Secret, params: HotpParams) -> Self {
        Self {
            secret,
            params,
            counter: 0,
        }
    }

    /// The keyed generator and verifier for this record.
    pub fn hotp(&self) -> Hotp {
        Hotp::new(&self.secret, self.params)
    }
}
