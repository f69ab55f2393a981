//! The one trait every factor implements.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clock::Timestamp;
use crate::error::Error;
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
///     Timestamp, Verified,
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
///     fn start(&self, _: &PinRecord, _: Timestamp, _: &mut dyn SecureRandom)
///         -> Result<((), ()), Error> { Ok(((), ())) }
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
/// let ok = MinutePin.verify(&rec, &(), "1234", now, &mut mfa_core::OsRandom)?;
/// assert_eq!(ok.methods, [AuthMethod::Pin]);
/// // The updated record refuses the same minute: a replay.
/// let again = MinutePin.verify(&ok.record, &(), "1234", now, &mut mfa_core::OsRandom);
/// assert!(again.unwrap_err().is_rejection());
/// # Ok::<(), Error>(())
/// ```
pub trait Factor {
    /// What the store keeps for one enrollment (secret, counters, public key, hashes).
    type Record: Clone + Serialize + DeserializeOwned;
    /// What starting a challenge gives the client: WebAuthn request options, a masked
    /// phone number; `()` for factors the user answers unprompted (TOTP).
    type Challenge;
    /// What the server keeps between starting a challenge and verifying the response
    /// (a WebAuthn challenge, a hashed OOB code). Single use: the service stores it with
    /// a TTL and takes it atomically. `()` when there is none.
    type State: Serialize + DeserializeOwned;
    /// The user's response: a code (`str`), a WebAuthn assertion.
    type Response: ?Sized;
    /// Factor-specific facts about a success beyond the record and methods (the matched
    /// TOTP step, a replacement recovery code to show once); `()` when there are none.
    type Details;
    /// The factor crate's error; converts into the facade's [`Error`].
    type Error: std::error::Error + Into<Error>;

    /// The kind of this enrollment. A record is needed because some kinds depend on it
    /// (a WebAuthn credential's attachment).
    fn kind(&self, record: &Self::Record) -> FactorKind;

    /// Starts a challenge for `record` at `now`: what to send the client, and what to
    /// keep server-side until the response arrives.
    ///
    /// # Errors
    ///
    /// When the record cannot be challenged (disabled, malformed) or randomness fails.
    fn start(
        &self,
        record: &Self::Record,
        now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<(Self::Challenge, Self::State), Self::Error>;

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
