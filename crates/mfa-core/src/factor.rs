//! The one trait every factor implements.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::{Error, InvalidInput};
use crate::id::FactorKind;
use crate::method::AuthMethod;
use crate::random::SecureRandom;

/// A second factor: how to challenge a user for it and how to verify the answer.
///
/// Implementations are **pure**: no clock reads, no I/O, no global state. Each call gets
/// the stored record, `now` and a random source; [`verify`](Factor::verify) returns the
/// *updated record* rather than mutating anything, and the service stores it with a
/// compare-and-swap ([`FactorStore::update_factor_if_version`]). That is what makes
/// replay protection hold across processes, and what lets fuzzers and benches call the
/// verifier directly.
///
/// Enrollment is factor-specific (a TOTP secret and a WebAuthn registration ceremony have
/// nothing in common), so it lives in each factor crate's own API; this trait covers what
/// the service does the same way for every factor: challenge and verify.
///
/// Associated types keep everything static. The service holds an enum of the built-in
/// factors rather than trait objects.
///
/// [`FactorStore::update_factor_if_version`]: crate::store::FactorStore::update_factor_if_version
///
/// ```
/// use mfa_core::{
///     AuthMethod, Error, Factor, FactorKind, RejectReason, SecretBytes, SecureRandom,
///     StartOptions, Timestamp, Verified,
/// };
///
/// /// A toy factor: a fixed PIN that may be used once per minute.
/// struct MinutePin;
///
/// #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
/// struct PinRecord { pin: SecretBytes, last_minute: Option<u64> }
///
/// impl Factor for MinutePin {
///     type Record = PinRecord;
///     type Challenge = ();
///     type State = ();
///     type Response = str;
///     type Details = ();
///     type Error = Error;
///
///     fn kind(&self, _: &PinRecord) -> FactorKind { FactorKind::Totp }
///
///     fn start(&self, _: Option<&PinRecord>, _: &StartOptions, _: Timestamp,
///              _: &mut dyn SecureRandom) -> Result<((), ()), Error> { Ok(((), ())) }
///
///     fn verify(&self, record: &PinRecord, _: &(), response: &str, now: Timestamp,
///               _: &mut dyn SecureRandom) -> Result<Verified<PinRecord>, Error> {
///         let minute = now.unix_secs() / 60;
///         if record.last_minute.is_some_and(|m| m >= minute) {
///             return Err(Error::rejected(RejectReason::Replay));
///         }
///         if record.pin != SecretBytes::from(response.as_bytes()) {
///             return Err(Error::rejected(RejectReason::WrongCode));
///         }
///         let record = PinRecord { last_minute: Some(minute), ..record.clone() };
///         Ok(Verified::new(record, vec![AuthMethod::Pin]))
///     }
/// }
///
/// let rec = PinRecord { pin: SecretBytes::from(b"1234".as_slice()), last_minute: None };
/// let now = Timestamp::from_unix_secs(600);
/// // A factor that counts no attempts keeps the default: nothing to store first.
/// assert!(MinutePin.begin_attempt(&(), now)?.is_none());
/// let ok = MinutePin.verify(&rec, &(), "1234", now, &mut mfa_core::OsRandom)?;
/// assert_eq!(ok.methods, [AuthMethod::Pin]);
/// // The updated record refuses the same minute: a replay.
/// let again = MinutePin.verify(&ok.record, &(), "1234", now, &mut mfa_core::OsRandom);
/// assert!(again.unwrap_err().is_rejection());
/// # Ok::<(), Error>(())
/// ```
pub trait Factor: Send + Sync + 'static {
    /// What the store keeps for one enrollment (secret, counters, public key, hashes).
    type Record: Clone + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// What starting a challenge gives the client: WebAuthn request options, a masked
    /// phone number; `()` for factors the user answers unprompted (TOTP). Serialisable,
    /// so a service or an HTTP handler can send it as it is.
    type Challenge: Serialize + Send + 'static;
    /// What the server keeps between starting a challenge and verifying the response
    /// (a WebAuthn challenge, a hashed OOB code). The service stores it with a TTL, may
    /// update it while it lives (attempts left, a recorded decision), and takes it
    /// atomically at the end. `()` when there is none.
    type State: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The user's response: a code (`str`), a WebAuthn assertion.
    type Response: ?Sized + Sync;
    /// Factor-specific facts about a success beyond the record and methods (the matched
    /// TOTP step, a replacement recovery code to show once); `()` when there are none.
    type Details: Send + 'static;
    /// The factor crate's error; converts into the facade's [`Error`].
    type Error: core::error::Error + Into<Error> + Send + Sync + 'static;

    /// The kind of this enrollment. A record is needed because some kinds depend on it
    /// (a WebAuthn credential's attachment).
    fn kind(&self, record: &Self::Record) -> FactorKind;

    /// Starts a challenge at `now`: what to send the client, and what to keep
    /// server-side until the response arrives.
    ///
    /// `record` is the enrollment being challenged, or `None` when there is none yet:
    /// a usernameless passkey sign-in finds the credential only from the response. A
    /// factor that needs a record refuses `None` with [`Error::Invalid`]. `options`
    /// carry what the caller asks of this challenge; a factor refuses an option it
    /// cannot honour rather than ignoring it.
    ///
    /// # Errors
    ///
    /// When the record cannot be challenged (disabled, malformed, missing where it is
    /// needed), an option cannot be honoured, or randomness fails.
    fn start(
        &self,
        record: Option<&Self::Record>,
        options: &StartOptions,
        now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<(Self::Challenge, Self::State), Self::Error>;

    /// The state to store, with a compare-and-swap on the challenge's version, *before*
    /// a response is checked: `Some` for factors that count attempts (an out-of-band
    /// code's attempts left), `None` (the default) for factors that do not.
    ///
    /// The service calls this, writes the returned state with a compare-and-swap, and only
    /// after that write succeeds calls [`verify`](Factor::verify) with the state it wrote.
    /// Because the attempt is paid for before the check, a lost race costs an attempt
    /// instead of granting one: 64 concurrent guesses against a 5-attempt challenge get
    /// 5 checks, whatever the timing.
    ///
    /// # Errors
    ///
    /// A rejection when no attempt is left or the challenge has expired: the service
    /// then takes (deletes) the challenge and reports the failure.
    fn begin_attempt(
        &self,
        state: &Self::State,
        now: Timestamp,
    ) -> Result<Option<Self::State>, Self::Error> {
        let _ = (state, now);
        Ok(None)
    }

    /// Verifies `response` against `record` and the challenge `state` at `now`.
    ///
    /// On success returns the record to store in place of the old one (it must be
    /// written with a compare-and-swap on the version that was loaded) and the RFC 8176
    /// methods proven. A failure converts into [`Error::Rejected`] for anything the user
    /// could have caused, so no detail leaks to them.
    ///
    /// # Errors
    ///
    /// A rejection when the response does not verify (wrong, replayed, expired,
    /// malformed); [`Error::Random`] when the factor needs randomness (a rotating
    /// recovery code's successor) and the source fails.
    fn verify(
        &self,
        record: &Self::Record,
        state: &Self::State,
        response: &Self::Response,
        now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<Verified<Self::Record, Self::Details>, Self::Error>;
}

/// Whether a challenge asks the authenticator to verify the user (a PIN or biometric),
/// as WebAuthn's `userVerification` says it.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserVerification {
    /// Ask the authenticator not to verify the user.
    Discouraged,
    /// Verify the user where the authenticator can.
    #[default]
    Preferred,
    /// Fail unless the user is verified: a step-up that needs a multi-factor
    /// authenticator, a passwordless sign-in.
    Required,
}

/// The channel an out-of-band code is delivered over.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A text message to a phone number.
    Sms,
    /// A voice call reading the code to a phone number.
    Voice,
    /// An email message.
    Email,
}

/// The sign-in a challenge belongs to, as a push approval shows it on the user's device.
/// Every field is what the caller observed; none of it is verified here.
#[non_exhaustive]
#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
pub struct SignInContext {
    /// The application being signed in to ("Payroll").
    pub application: Option<String>,
    /// The client's IP address as the service saw it.
    pub client_ip: Option<core::net::IpAddr>,
    /// A coarse location derived from the IP ("Berlin, DE").
    pub location: Option<String>,
}

impl SignInContext {
    /// A context with nothing known.
    pub fn new() -> Self {
        Self::default()
    }

    /// With the application's name.
    #[must_use]
    pub fn with_application(mut self, application: impl Into<String>) -> Self {
        self.application = Some(application.into());
        self
    }

    /// With the client's IP address.
    #[must_use]
    pub fn with_client_ip(mut self, ip: core::net::IpAddr) -> Self {
        self.client_ip = Some(ip);
        self
    }

    /// With a coarse location.
    #[must_use]
    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
}

/// What the caller asks of one challenge ([`Factor::start`]). The default asks nothing
/// special: user verification preferred, the factor's own channel, modal mediation.
///
/// A factor refuses an option it cannot honour (voice delivery for an email factor)
/// with a typed error; it never accepts one and ignores it.
///
/// ```
/// use mfa_core::{Channel, StartOptions, UserVerification};
///
/// let step_up = StartOptions::new().with_user_verification(UserVerification::Required);
/// assert_eq!(step_up.user_verification, UserVerification::Required);
/// let call_me = StartOptions::new().with_channel(Channel::Voice);
/// assert_eq!(call_me.channel, Some(Channel::Voice));
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
pub struct StartOptions {
    /// Whether the authenticator must verify the user (WebAuthn).
    pub user_verification: UserVerification,
    /// Deliver over this channel instead of the factor's own (a voice call to an SMS
    /// number); `None` for the factor's own.
    pub channel: Option<Channel>,
    /// Conditional mediation: offer passkeys in the browser's autofill instead of a
    /// modal prompt (WebAuthn sign-in without a record).
    pub conditional_mediation: bool,
    /// The sign-in being approved, for factors that show it (push).
    pub context: SignInContext,
    /// WebAuthn hints for the browser's UI (L3 §5.8.7), most preferred first; empty to
    /// let the factor derive them (from the credential's attachment).
    #[serde(default)]
    pub hints: Vec<crate::WebAuthnHint>,
}

impl StartOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// With a user-verification requirement.
    #[must_use]
    pub fn with_user_verification(mut self, uv: UserVerification) -> Self {
        self.user_verification = uv;
        self
    }

    /// With a delivery channel.
    #[must_use]
    pub fn with_channel(mut self, channel: Channel) -> Self {
        self.channel = Some(channel);
        self
    }

    /// With conditional mediation on or off.
    #[must_use]
    pub fn with_conditional_mediation(mut self, on: bool) -> Self {
        self.conditional_mediation = on;
        self
    }

    /// With WebAuthn hints, most preferred first.
    #[must_use]
    pub fn with_hints(mut self, hints: impl IntoIterator<Item = crate::WebAuthnHint>) -> Self {
        self.hints = hints.into_iter().collect();
        self
    }

    /// With the sign-in context.
    #[must_use]
    pub fn with_context(mut self, context: SignInContext) -> Self {
        self.context = context;
        self
    }

    /// For factors the user answers unprompted (TOTP, HOTP, recovery codes): refuses
    /// every option such a factor cannot honour, so none is silently ignored. The
    /// context is information, not a setting, and is allowed.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] naming the option: required user verification, a delivery
    /// channel, WebAuthn hints, or conditional mediation.
    pub fn ensure_unprompted(&self, factor: &'static str) -> Result<(), InvalidInput> {
        if self.user_verification == UserVerification::Required {
            return Err(InvalidInput::new(
                "user verification",
                format!("{factor} cannot verify the user"),
            ));
        }
        if self.channel.is_some() {
            return Err(InvalidInput::new(
                "channel",
                format!("{factor} is not delivered over a channel"),
            ));
        }
        if !self.hints.is_empty() {
            return Err(InvalidInput::new(
                "hints",
                format!("{factor} has no authenticator to hint at"),
            ));
        }
        if self.conditional_mediation {
            return Err(InvalidInput::new(
                "conditional mediation",
                format!("{factor} has no browser mediation"),
            ));
        }
        Ok(())
    }
}

/// A successful verification: the record to store and the methods proven.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Verified<R, D = ()> {
    /// The updated record, to be written with a compare-and-swap.
    pub record: R,
    /// The RFC 8176 `amr` values this verification proved.
    pub methods: Vec<AuthMethod>,
    /// Factor-specific details of the success.
    pub details: D,
}

impl<R> Verified<R, ()> {
    /// A success without details.
    pub fn new(record: R, methods: Vec<AuthMethod>) -> Self {
        Self {
            record,
            methods,
            details: (),
        }
    }
}

impl<R, D> Verified<R, D> {
    /// A success with factor-specific details.
    pub fn with_details(record: R, methods: Vec<AuthMethod>, details: D) -> Self {
        Self {
            record,
            methods,
            details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprompted_factors_refuse_every_option_they_cannot_honour() {
        assert!(StartOptions::new().ensure_unprompted("TOTP").is_ok());
        let with_context =
            StartOptions::new().with_context(SignInContext::new().with_application("Payroll"));
        assert!(with_context.ensure_unprompted("TOTP").is_ok());
        let refused = [
            (
                StartOptions::new().with_user_verification(UserVerification::Required),
                "user verification",
            ),
            (StartOptions::new().with_channel(Channel::Sms), "channel"),
            (
                StartOptions::new().with_conditional_mediation(true),
                "conditional mediation",
            ),
        ];
        for (options, what) in refused {
            let err = options.ensure_unprompted("TOTP").unwrap_err();
            assert_eq!(err.what(), what);
        }
    }
}
