//! TOTP: RFC 6238 time-based one-time passwords.

use core::fmt;

use mfa_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::code::{Code, parse_presented, scan};
use crate::error::{Error, RejectReason};
use crate::hazmat::Keyed;
use crate::params::{Algorithm, Digits, Period};
use crate::secret::Secret;

/// The parameters of a TOTP enrollment besides its secret.
///
/// The default is what every authenticator app supports: SHA-1, 6 digits, 30 seconds,
/// `T0 = 0`.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq, Deserialize, Serialize)]
pub struct TotpParams {
    /// The HMAC hash (default SHA-1).
    pub algorithm: Algorithm,
    /// The number of digits (default 6).
    pub digits: Digits,
    /// The time step `X` (default 30 s).
    pub period: Period,
    /// The Unix time `T0` at which step 0 starts (default 0). The Key URI Format cannot
    /// express any other value.
    #[serde(default)]
    pub t0: u64,
}

/// How many steps around the current one a TOTP code may come from, to allow for clock
/// drift and typing time (RFC 6238 §5.2 recommends at most one step back).
///
/// ```
/// use mfa_otp::Window;
///
/// let w = Window::new(2, 0)?; // two steps into the past, none into the future
/// assert_eq!((w.past(), w.future()), (2, 0));
/// assert_eq!(Window::default(), Window::new(1, 1)?);
/// assert!(Window::new(Window::MAX_STEPS + 1, 0).is_err());
/// # Ok::<(), mfa_otp::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "RawWindow")]
pub struct Window {
    past: u32,
    future: u32,
}

impl Window {
    /// The largest number of steps on either side: 100 (50 minutes at 30 s).
    pub const MAX_STEPS: u32 = 100;
    /// Only the current step.
    pub const EXACT: Self = Self { past: 0, future: 0 };

    /// `past` steps before the current one and `future` steps after it.
    ///
    /// # Errors
    ///
    /// [`Error::Window`] when either side exceeds [`Window::MAX_STEPS`].
    pub const fn new(past: u32, future: u32) -> Result<Self, Error> {
        if past > Self::MAX_STEPS {
            return Err(Error::Window {
                max: Self::MAX_STEPS,
                got: past,
            });
        }
        if future > Self::MAX_STEPS {
            return Err(Error::Window {
                max: Self::MAX_STEPS,
                got: future,
            });
        }
        Ok(Self { past, future })
    }

    /// Steps accepted before the current one.
    pub const fn past(self) -> u32 {
        self.past
    }

    /// Steps accepted after the current one.
    pub const fn future(self) -> u32 {
        self.future
    }
}

impl Default for Window {
    /// One step back and one ahead: ±30 s at the default period.
    fn default() -> Self {
        Self { past: 1, future: 1 }
    }
}

#[derive(Deserialize)]
struct RawWindow {
    past: u32,
    future: u32,
}

impl TryFrom<RawWindow> for Window {
    type Error = Error;

    fn try_from(w: RawWindow) -> Result<Self, Error> {
        Self::new(w.past, w.future)
    }
}

/// A TOTP generator and verifier, keyed once (RFC 6238).
///
/// ```
/// use mfa_core::Timestamp;
/// use mfa_otp::{Algorithm, Digits, Secret, Totp, TotpParams, Window};
///
/// let secret = Secret::from_bytes(b"12345678901234567890".to_vec())?;
/// let params = TotpParams { digits: Digits::EIGHT, ..TotpParams::default() };
/// let totp = Totp::new(&secret, params);
/// assert_eq!(totp.code_at(Timestamp::from_unix_secs(59))?.as_str(), "94287082"); // RFC 6238 Appendix B
///
/// // Verification returns the matched step; store it, and pass it back next time.
/// let step = totp.verify("94287082", Timestamp::from_unix_secs(59), Window::default(), None)?;
/// assert_eq!(step, 1);
/// // Replaying the code (or any code of a step at or before it) is refused.
/// assert!(totp.verify("94287082", Timestamp::from_unix_secs(60), Window::default(), Some(step)).is_err());
/// # Ok::<(), mfa_otp::Error>(())
/// ```
#[derive(Clone)]
pub struct Totp {
    keyed: Keyed,
    params: TotpParams,
}

impl Totp {
    /// Keys a TOTP generator with `secret`.
    pub fn new(secret: &Secret, params: TotpParams) -> Self {
        Self {
            keyed: Keyed::new(params.algorithm, secret.expose_secret()),
            params,
        }
    }

    /// The parameters.
    pub fn params(&self) -> TotpParams {
        self.params
    }

    /// The time step `T = floor((now - T0) / X)` at `now` (RFC 6238 §4.2).
    ///
    /// # Errors
    ///
    /// [`Error::TimeBeforeT0`] when `now < T0`.
    pub fn step_at(&self, now: Timestamp) -> Result<u64, Error> {
        let now = now.unix_secs();
        let t0 = self.params.t0;
        let since = now.checked_sub(t0).ok_or(Error::TimeBeforeT0 { now, t0 })?;
        Ok(since / self.params.period.non_zero())
    }

    /// The code at `now`.
    ///
    /// # Errors
    ///
    /// [`Error::TimeBeforeT0`] when `now < T0`.
    pub fn code_at(&self, now: Timestamp) -> Result<Code, Error> {
        Ok(self.code_for_step(self.step_at(now)?))
    }

    /// The code of time step `step`.
    pub fn code_for_step(&self, step: u64) -> Code {
        Code::format(self.keyed.truncated(step), self.params.digits)
    }

    /// Verifies `code` at `now` and returns the **matched step**.
    ///
    /// Steps from `window.past()` before the current one to `window.future()` after it
    /// are checked, always all of them, in constant time; the window is clamped at step
    /// 0 and at `u64::MAX` instead of wrapping. When `last_step` is the step accepted
    /// last time, every step at or before it is refused (RFC 6238 §5.2: a code is
    /// accepted once), including older steps still inside the window. Store the
    /// returned step and pass it as `last_step` next time. ASCII spaces in `code` are
    /// ignored. Should the code match two steps of the window (a 10⁻ᵈⁱᵍⁱᵗˢ coincidence),
    /// the later one is returned, which moves the replay horizon furthest.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] when the code is malformed, matches no step, or matches only
    /// steps at or before `last_step` (reason [`RejectReason::Replay`]);
    /// [`Error::TimeBeforeT0`] when `now < T0`.
    pub fn verify(
        &self,
        code: &str,
        now: Timestamp,
        window: Window,
        last_step: Option<u64>,
    ) -> Result<u64, Error> {
        let step = self.step_at(now)?;
        let presented = parse_presented(code, self.params.digits).ok_or(RejectReason::Malformed)?;
        let first = step.saturating_sub(u64::from(window.past));
        let last = step.saturating_add(u64::from(window.future));
        let accept_from = match last_step {
            None => 0,
            // u64::MAX was accepted: no later step exists; everything is a replay.
            Some(u64::MAX) => return Err(RejectReason::Replay.into()),
            Some(s) => s + 1,
        };
        let found = scan(
            &self.keyed,
            self.params.digits,
            presented,
            first,
            last,
            accept_from,
        );
        match (found.matched, found.replay) {
            (Some(step), _) => Ok(step),
            (None, true) => Err(RejectReason::Replay.into()),
            (None, false) => Err(RejectReason::WrongCode.into()),
        }
    }
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// What a service stores for one TOTP enrollment: the secret, the parameters and the
/// last accepted step.
///
/// YOU MUST STORE THE RECORD THAT VERIFICATION RETURNS, with a compare-and-swap on the
/// version you loaded: the last accepted step is what makes each code single-use.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct TotpRecord {
    /// The shared secret.
    pub secret: Secret,
    /// Algorithm, digits, period and `T0`.
    pub params: TotpParams,
    /// The step accepted last; `None` until the first successful verification.
    pub last_step: Option<u64>,
}

impl TotpRecord {
    /// A record for a new enrollment: no step accepted yet.
    pub fn new(secret: Secret, params: TotpParams) -> Self {
        Self {
            secret,
            params,
            last_step: None,
        }
    }

    /// A new enrollment with a fresh 20-byte secret from `rng`.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    pub fn generate(
        params: TotpParams,
        rng: &mut dyn mfa_core::SecureRandom,
    ) -> Result<Self, Error> {
        Ok(Self::new(Secret::generate(rng)?, params))
    }

    /// The keyed generator and verifier for this record.
    pub fn totp(&self) -> Totp {
        Totp::new(&self.secret, self.params)
    }

    /// The otpauth:// URI to show (as a QR code) so the user's app can enroll.
    ///
    /// # Errors
    ///
    /// [`Error::Uri`] when the issuer or account is not allowed in a label (empty
    /// account, a `:`, leading or trailing spaces) or when `T0` is not 0.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Result<crate::OtpAuthUri, Error> {
        crate::OtpAuthUri::totp(self.secret.clone(), self.params, Some(issuer), account)
            .map_err(Error::from)
    }
}
