//! One-time codes over SMS, voice and email.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use mfa_core::{
    AuthMethod, Channel, Factor, FactorKind, InvalidInput, KeyId, Keyring, RandomError, Redacted,
    RejectReason, SecretBytes, SecureRandom, StartOptions, Timestamp, UserVerification, Verified,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::bytes::Bytes;
use crate::destination::{Destination, DestinationError};
use crate::error::Error;
use crate::limits::{LimitError, SendLimits};
use crate::message::{OutgoingMessage, Templates};

/// How codes are made, how long they live and how often they may be tried.
///
/// | setting | default | range |
/// | --- | --- | --- |
/// | digits | 6 | 6 to 10 |
/// | lifetime | 10 minutes (NIST SP 800-63B rev4 §3.1.3.2) | 1 to 60 minutes |
/// | attempts per challenge | 5 | 1 to 10 |
/// | resend and abuse limits | [`SendLimits::default`] | |
/// | email counts towards AAL2 | no (rev4 §3.1.3.1) | |
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct OobConfig {
    digits: u8,
    ttl: Duration,
    max_attempts: u32,
    limits: SendLimits,
    templates: Templates,
    email_counts_for_aal2: bool,
}

impl OobConfig {
    /// The defaults, with these message texts.
    pub fn new(templates: Templates) -> Self {
        Self {
            digits: 6,
            ttl: Duration::from_secs(600),
            max_attempts: 5,
            limits: SendLimits::default(),
            templates,
            email_counts_for_aal2: false,
        }
    }

    /// With codes of `digits` digits.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] outside 6..=10.
    pub fn with_digits(mut self, digits: u8) -> Result<Self, InvalidInput> {
        if !(6..=10).contains(&digits) {
            return Err(InvalidInput::new("digits", "must be between 6 and 10"));
        }
        self.digits = digits;
        Ok(self)
    }

    /// With codes living `ttl` after each send.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] outside 1 to 60 minutes.
    pub fn with_ttl(mut self, ttl: Duration) -> Result<Self, InvalidInput> {
        if !(60..=3600).contains(&ttl.as_secs()) {
            return Err(InvalidInput::new(
                "code lifetime",
                "must be 1 to 60 minutes",
            ));
        }
        self.ttl = ttl;
        Ok(self)
    }

    /// With `max` attempts per challenge (shared by every code sent for it).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] outside 1..=10.
    pub fn with_max_attempts(mut self, max: u32) -> Result<Self, InvalidInput> {
        if !(1..=10).contains(&max) {
            return Err(InvalidInput::new("attempts", "must be between 1 and 10"));
        }
        self.max_attempts = max;
        Ok(self)
    }

    /// With resend and abuse limits.
    #[must_use]
    pub fn with_limits(mut self, limits: SendLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether an email code counts as an out-of-band authenticator towards AAL2. NIST
    /// SP 800-63B rev4 §3.1.3.1 says it does not (email is not a channel bound to a
    /// device the user controls), so the default is `false`; a service whose risk
    /// assessment differs may say so here, and [`OobFactor::properties`] reports it.
    #[must_use]
    pub fn with_email_counting_for_aal2(mut self, on: bool) -> Self {
        self.email_counts_for_aal2 = on;
        self
    }

    /// The number of digits.
    pub fn digits(&self) -> u8 {
        self.digits
    }

    /// The lifetime of a code.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Attempts per challenge.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The resend and abuse limits.
    pub fn limits(&self) -> &SendLimits {
        &self.limits
    }

    /// The message texts.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }
}

/// What policy needs to know about a channel.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
pub struct ChannelProperties {
    /// NIST SP 800-63B rev4 §3.2.9 (and `AuthMethod::is_restricted`): the public
    /// telephone network (SMS, voice) is a *restricted* authenticator; offer an
    /// alternative and tell users of the risk.
    pub restricted: bool,
    /// Whether rev4 §3.1.3.1 counts it as an out-of-band authenticator at all (email
    /// does not).
    pub out_of_band_authenticator: bool,
    /// Whether a success may count as the second factor of AAL2 under this
    /// configuration.
    pub counts_for_aal2: bool,
}

/// One enrolled destination: the channel codes normally go over and where to.
///
/// Each phone number or address is its own enrollment (a user with two numbers has two
/// records, as the product this follows allows up to two SMS numbers).
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct OobRecord {
    channel: Channel,
    destination: Destination,
}

impl OobRecord {
    /// The channel codes go over unless a challenge asks for another.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The destination.
    pub fn destination(&self) -> &Destination {
        &self.destination
    }
}

/// What the sign-in page gets when a code was sent, and the message to deliver.
///
/// Serialises (for the page) as the channel, the masked destination, the expiry, the
/// number of digits, the earliest resend time and the attempts left. The message with
/// the code is **not** serialised: take it with [`take_message`](Self::take_message)
/// and hand it to the [`Sender`](crate::Sender).
#[derive(Debug, Serialize)]
pub struct OobChallenge {
    channel: Channel,
    destination: String,
    expires_at: Timestamp,
    digits: u8,
    resend_after: Timestamp,
    attempts_left: u32,
    #[serde(skip)]
    message: Option<OutgoingMessage>,
}

impl OobChallenge {
    /// The channel the code went over.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The masked destination (`+1 ••• ••• 4567`).
    pub fn masked_destination(&self) -> &str {
        &self.destination
    }

    /// When the code expires.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// When a resend is first allowed.
    pub fn resend_after(&self) -> Timestamp {
        self.resend_after
    }

    /// Attempts left for the challenge.
    pub fn attempts_left(&self) -> u32 {
        self.attempts_left
    }

    /// The message to deliver, still here.
    pub fn message(&self) -> Option<&OutgoingMessage> {
        self.message.as_ref()
    }

    /// Takes the message to deliver, leaving `None`.
    pub fn take_message(&mut self) -> Option<OutgoingMessage> {
        self.message.take()
    }
}

/// What the server keeps between sending a code and checking it: the code's keyed hash
/// (never the code), its channel and destination, its expiry, the attempts used and
/// the sends made. Store it in the challenge store; update it with a compare-and-swap
/// (see the crate docs for the loop). `Debug` prints `[redacted]` for the nonce and the
/// code's hash.
#[derive(Clone, Eq, PartialEq, Deserialize, Serialize)]
pub struct OobState {
    v: u8,
    channel: Channel,
    destination: Destination,
    digits: u8,
    nonce: Bytes<NONCE_LEN>,
    tag: Bytes<TAG_LEN>,
    created_at: Timestamp,
    sent_at: Timestamp,
    expires_at: Timestamp,
    attempts_used: u32,
    max_attempts: u32,
    sends: u32,
    /// The code key the tag was made with (states made before key ids were recorded
    /// name none, and are checked with the current key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<KeyId>,
}

impl fmt::Debug for OobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field named, so a new one does not compile until it is placed here.
        let Self {
            v,
            channel,
            destination,
            digits,
            nonce: _,
            tag: _,
            created_at,
            sent_at,
            expires_at,
            attempts_used,
            max_attempts,
            sends,
            key,
        } = self;
        f.debug_struct("OobState")
            .field("v", v)
            .field("channel", channel)
            .field("destination", destination)
            .field("digits", digits)
            .field("nonce", &Redacted)
            .field("tag", &Redacted)
            .field("created_at", created_at)
            .field("sent_at", sent_at)
            .field("expires_at", expires_at)
            .field("attempts_used", attempts_used)
            .field("max_attempts", max_attempts)
            .field("sends", sends)
            .field("key", key)
            .finish()
    }
}

impl OobState {
    /// The channel of the latest code.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The destination the codes went to.
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// When the latest code was sent.
    pub fn sent_at(&self) -> Timestamp {
        self.sent_at
    }

    /// When the latest code expires: the challenge store's TTL.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Attempts begun so far.
    pub fn attempts_used(&self) -> u32 {
        self.attempts_used
    }

    /// Attempts left.
    pub fn attempts_left(&self) -> u32 {
        self.max_attempts.saturating_sub(self.attempts_used)
    }

    /// Codes sent for this challenge.
    pub fn sends(&self) -> u32 {
        self.sends
    }
}

/// What a successful verification tells the service.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OobDetails {
    /// The channel of the code that verified.
    pub channel: Channel,
    /// The attempts it took.
    pub attempts_used: u32,
}

/// SMS, voice and email codes as an [`mfa_core::Factor`]. Pure: no clock, no I/O.
///
/// Holds the keys codes are hashed under (a [`Keyring`] of server secrets, kept outside
/// the challenge store) and the [`OobConfig`]. A code is hashed under the ring's current
/// key, and its state names that key, so a code sent before a rotation still verifies
/// while its key is in the ring.
#[derive(Clone, Debug)]
pub struct OobFactor {
    keys: Keyring,
    config: OobConfig,
}

impl OobFactor {
    /// A factor hashing codes under `keys`' current key.
    pub fn new(keys: Keyring, config: OobConfig) -> Self {
        Self { keys, config }
    }

    /// The configuration.
    pub fn config(&self) -> &OobConfig {
        &self.config
    }

    /// The record for a destination, after checking that `channel` reaches it and that
    /// its country is allowed. Confirm it as the facade does (a first challenge
    /// verified) before it counts.
    ///
    /// # Errors
    ///
    /// [`Error::Destination`] for a channel that cannot reach it; [`Error::Limited`]
    /// for a country that is not allowed.
    pub fn enroll(&self, channel: Channel, destination: Destination) -> Result<OobRecord, Error> {
        destination.check_channel(channel)?;
        self.config.limits.check_destination(&destination)?;
        Ok(OobRecord {
            channel,
            destination,
        })
    }

    /// What policy needs to know about `channel` under this configuration.
    pub fn properties(&self, channel: Channel) -> ChannelProperties {
        let email = channel == Channel::Email;
        ChannelProperties {
            restricted: !email,
            out_of_band_authenticator: !email,
            counts_for_aal2: !email || self.config.email_counts_for_aal2,
        }
    }

    /// Sends a new code for an existing challenge ("send again", "call me instead").
    ///
    /// Keeps the attempts used: a new code never buys new guesses. The new code gets a
    /// fresh lifetime from `now`; the old one stops verifying. `channel` switches
    /// between SMS and voice for a phone number.
    ///
    /// # Errors
    ///
    /// - [`Error::Limited`]: the cooldown since the last send has not passed, the
    ///   challenge had its sends, or the country is no longer allowed;
    /// - [`Error::Rejected`] with `exhausted` when no attempt is left, or
    ///   `wrong_destination` when the record no longer has the destination;
    /// - [`Error::Destination`] for a channel that cannot reach it.
    pub fn resend(
        &self,
        record: &OobRecord,
        state: &OobState,
        channel: Option<Channel>,
        now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<(OobChallenge, OobState), Error> {
        check_version(state)?;
        if state.destination != record.destination {
            return Err(Error::rejected(RejectReason::WrongDestination));
        }
        if state.attempts_used >= state.max_attempts {
            return Err(Error::rejected(RejectReason::Exhausted));
        }
        let limits = &self.config.limits;
        if state.sends >= limits.max_sends_per_challenge() {
            return Err(LimitError::ChallengeSends {
                max: limits.max_sends_per_challenge(),
            }
            .into());
        }
        limits.check_cooldown(Some(state.sent_at), now)?;
        let channel = channel.unwrap_or(state.channel);
        self.issue(record, channel, state, now, rng)
    }

    /// Checks a code against the state [`begin_attempt`](Factor::begin_attempt)
    /// returned (and the service stored).
    ///
    /// Whitespace and hyphens in the input are ignored. The code is compared as a
    /// keyed hash, in constant time.
    ///
    /// # Errors
    ///
    /// - [`Error::Invalid`] when no attempt was begun on `state` (the service skipped
    ///   the attempt loop);
    /// - [`Error::Rejected`] with `expired`, `exhausted`, `wrong_destination`,
    ///   `malformed` (not a code of the right length) or `wrong_code`.
    pub fn verify_code(
        &self,
        record: &OobRecord,
        state: &OobState,
        input: &str,
        now: Timestamp,
    ) -> Result<Verified<OobRecord, OobDetails>, Error> {
        check_version(state)?;
        if state.attempts_used == 0 {
            return Err(InvalidInput::new(
                "challenge state",
                "no attempt was begun: store the state begin_attempt returns, then verify it",
            )
            .into());
        }
        if now > state.expires_at {
            return Err(Error::rejected(RejectReason::Expired));
        }
        if state.attempts_used > state.max_attempts {
            return Err(Error::rejected(RejectReason::Exhausted));
        }
        if state.destination != record.destination {
            return Err(Error::rejected(RejectReason::WrongDestination));
        }
        // The digits, on the stack: whitespace and hyphens dropped, anything else refused.
        let mut buf = Zeroizing::new([0u8; MAX_DIGITS]);
        let mut len = 0usize;
        for c in input.chars().filter(|c| !c.is_whitespace() && *c != '-') {
            let slot = buf.get_mut(len).filter(|_| c.is_ascii_digit());
            let Some(slot) = slot else {
                return Err(malformed());
            };
            // An ASCII digit is one byte.
            *slot = u8::try_from(c).map_err(|_| malformed())?;
            len += 1;
        }
        let code = buf.get(..len).ok_or_else(malformed)?;
        if len != usize::from(state.digits) {
            return Err(malformed());
        }
        let key = match &state.key {
            None => self.keys.current().1,
            // A code whose key was retired cannot be checked: it is as good as expired.
            Some(id) => self
                .keys
                .get(id)
                .ok_or_else(|| Error::rejected(RejectReason::Expired))?,
        };
        let tag = code_tag(key, &state.nonce, &state.destination, code)?;
        if !bool::from(tag.0.ct_eq(&state.tag.0)) {
            return Err(Error::rejected(RejectReason::WrongCode));
        }
        let details = OobDetails {
            channel: state.channel,
            attempts_used: state.attempts_used,
        };
        Ok(Verified::with_details(
            record.clone(),
            methods(state.channel),
            details,
        ))
    }

    /// The state to store before a code is checked: one more attempt used.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] with `expired` or `exhausted`.
    pub fn begin_code_attempt(&self, state: &OobState, now: Timestamp) -> Result<OobState, Error> {
        check_version(state)?;
        if now > state.expires_at {
            return Err(Error::rejected(RejectReason::Expired));
        }
        if state.attempts_used >= state.max_attempts {
            return Err(Error::rejected(RejectReason::Exhausted));
        }
        let mut next = state.clone();
        next.attempts_used = state.attempts_used.saturating_add(1);
        Ok(next)
    }

    fn issue(
        &self,
        record: &OobRecord,
        channel: Channel,
        previous: &OobState,
        now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<(OobChallenge, OobState), Error> {
        record.destination.check_channel(channel)?;
        self.config.limits.check_destination(&record.destination)?;
        let code = generate_code(self.config.digits, rng)?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)?;
        let nonce = Bytes(nonce);
        let (key_id, key) = self.keys.current();
        let tag = code_tag(key, &nonce, &record.destination, code.as_bytes())?;
        let ttl = self.config.ttl;
        let expires_at = now
            .checked_add(ttl)
            .ok_or_else(|| InvalidInput::new("time", "out of range"))?;
        let state = OobState {
            v: STATE_VERSION,
            channel,
            destination: record.destination.clone(),
            digits: self.config.digits,
            nonce,
            tag,
            created_at: previous.created_at,
            sent_at: now,
            expires_at,
            attempts_used: previous.attempts_used,
            max_attempts: previous.max_attempts,
            sends: previous.sends.saturating_add(1),
            key: Some(key_id.clone()),
        };
        let message = self
            .config
            .templates
            .render(channel, &record.destination, &code, ttl);
        let challenge = OobChallenge {
            channel,
            destination: record.destination.masked(),
            expires_at,
            digits: self.config.digits,
            resend_after: now.saturating_add(self.config.limits.cooldown()),
            attempts_left: state.attempts_left(),
            message: Some(message),
        };
        Ok((challenge, state))
    }
}

impl Factor for OobFactor {
    type Record = OobRecord;
    type Challenge = OobChallenge;
    type State = OobState;
    type Response = str;
    type Details = OobDetails;
    type Error = Error;

    fn kind(&self, record: &OobRecord) -> FactorKind {
        match record.channel {
            Channel::Email => FactorKind::Email,
            Channel::Voice => FactorKind::Voice,
            _ => FactorKind::Sms,
        }
    }

    /// Draws a code, hashes it into a new state and renders the message to send.
    /// `options.channel` may switch between SMS and voice for a phone number. Needs a
    /// record; refuses required user verification and conditional mediation.
    fn start(
        &self,
        record: Option<&OobRecord>,
        options: &StartOptions,
        now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<(OobChallenge, OobState), Error> {
        let record = record.ok_or_else(|| {
            InvalidInput::new(
                "record",
                "an out-of-band code needs an enrolled destination",
            )
        })?;
        if options.user_verification == UserVerification::Required {
            return Err(InvalidInput::new(
                "user verification",
                "an out-of-band code cannot verify the user",
            )
            .into());
        }
        if options.conditional_mediation {
            return Err(InvalidInput::new(
                "conditional mediation",
                "an out-of-band code has no browser mediation",
            )
            .into());
        }
        let channel = options.channel.unwrap_or(record.channel);
        let fresh = OobState {
            v: STATE_VERSION,
            channel,
            destination: record.destination.clone(),
            digits: self.config.digits,
            nonce: Bytes([0; NONCE_LEN]),
            tag: Bytes([0; TAG_LEN]),
            created_at: now,
            sent_at: now,
            expires_at: now,
            attempts_used: 0,
            max_attempts: self.config.max_attempts,
            sends: 0,
            key: None,
        };
        self.issue(record, channel, &fresh, now, rng)
    }

    fn begin_attempt(&self, state: &OobState, now: Timestamp) -> Result<Option<OobState>, Error> {
        self.begin_code_attempt(state, now).map(Some)
    }

    /// [`OobFactor::verify_code`]; the random source is unused.
    fn verify(
        &self,
        record: &OobRecord,
        state: &OobState,
        response: &str,
        now: Timestamp,
        _rng: &mut dyn SecureRandom,
    ) -> Result<Verified<OobRecord, OobDetails>, Error> {
        self.verify_code(record, state, response, now)
    }
}

/// The methods a code over `channel` proves (RFC 8176).
fn methods(channel: Channel) -> Vec<AuthMethod> {
    match channel {
        Channel::Email => vec![AuthMethod::Otp],
        Channel::Voice => vec![AuthMethod::Tel],
        _ => vec![AuthMethod::Sms],
    }
}

fn malformed() -> Error {
    Error::rejected_because(RejectReason::Malformed, "not a code of the right length")
}

fn check_version(state: &OobState) -> Result<(), Error> {
    if state.v != STATE_VERSION {
        return Err(InvalidInput::new("challenge state", "unknown version").into());
    }
    Ok(())
}

/// A uniformly random code of `digits` digits: rejection sampling over `u64`, so no
/// value is likelier than another.
pub(crate) fn generate_code(
    digits: u8,
    rng: &mut dyn SecureRandom,
) -> Result<Zeroizing<String>, Error> {
    let modulus = 10u64
        .checked_pow(u32::from(digits))
        .ok_or_else(|| InvalidInput::new("digits", "too many"))?;
    // The largest multiple of `modulus` that fits: values at or above it are redrawn.
    let zone = u64::MAX - (u64::MAX % modulus);
    for _ in 0..MAX_DRAWS {
        let mut b = Zeroizing::new([0u8; 8]);
        rng.fill(b.as_mut_slice())?;
        let v = u64::from_be_bytes(*b);
        if v < zone {
            let width = usize::from(digits);
            return Ok(Zeroizing::new(format!("{:0width$}", v % modulus)));
        }
    }
    Err(RandomError.into())
}

/// `HMAC-SHA-256(key, DOMAIN || nonce || kind || len(dest) as u16 BE || dest || code)`.
fn code_tag(
    key: &SecretBytes,
    nonce: &Bytes<NONCE_LEN>,
    destination: &Destination,
    code: &[u8],
) -> Result<Bytes<TAG_LEN>, Error> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
        .map_err(|_| InvalidInput::new("code key", "refused by HMAC-SHA-256"))?;
    let dest = destination.as_str().as_bytes();
    let len =
        u16::try_from(dest.len()).map_err(|_| DestinationError::Email("longer than 254 bytes"))?;
    mac.update(CODE_DOMAIN);
    mac.update(&nonce.0);
    mac.update(&[destination.kind_byte()]);
    mac.update(&len.to_be_bytes());
    mac.update(dest);
    mac.update(code);
    Ok(Bytes(mac.finalize().into_bytes().into()))
}

const STATE_VERSION: u8 = 1;
const NONCE_LEN: usize = 16;
const TAG_LEN: usize = 32;
const MAX_DRAWS: usize = 64;
/// The most digits a code may have.
const MAX_DIGITS: usize = 10;
/// Domain separation: no other use of the key can produce a code tag.
const CODE_DOMAIN: &[u8] = b"mfa-oob v1 code hmac-sha256\0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_uniform_enough_and_keep_leading_zeros() {
        let mut rng = mfa_core::testkit::SeededRandom::new(7);
        let mut first = [0u32; 10];
        for _ in 0..2_000 {
            let c = generate_code(6, &mut rng).unwrap();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
            first[usize::from(c.as_bytes()[0] - b'0')] += 1;
        }
        // Every leading digit, zero included, shows up (expected 200 each).
        assert!(first.iter().all(|&n| n > 120), "{first:?}");
        let ten = generate_code(10, &mut rng).unwrap();
        assert_eq!(ten.len(), 10);
    }
}
