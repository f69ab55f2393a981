//! # mfa-oob: one-time codes over SMS, voice and email, and push approval
//!
//! The out-of-band factors an identity platform offers: a numeric code sent over a
//! channel ([`OobFactor`]), and a push notification approved on an enrolled phone with
//! number matching ([`PushFactor`]). Both implement [`mfa_core::Factor`] and are pure:
//! no clock, no I/O. Delivery is the service owner's, through the async [`Sender`] and
//! [`PushTransport`] traits.
//!
//! ## Quick start: a code by SMS
//!
//! ```
//! use mfa_core::{Channel, Factor, KeyId, Keyring, OsRandom, StartOptions, Timestamp};
//! use mfa_oob::{Destination, OobFactor, OobConfig, SendLimits, Templates};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The hashing key lives outside the challenge store (secrets manager, env var).
//! let keys = Keyring::generate(KeyId::new("k1")?, &mut OsRandom)?;
//! let limits = SendLimits::new().with_allowed_country_codes([1, 44])?;
//! let config = OobConfig::new(Templates::new("Example", "example.com")?).with_limits(limits);
//! let codes = OobFactor::new(keys, config);
//!
//! let phone = Destination::parse(Channel::Sms, "(201) 555-0123", Some("US"))?;
//! let record = codes.enroll(Channel::Sms, phone)?; // store it
//!
//! let now = Timestamp::from_unix_secs(1_700_000_000); // the caller's clock
//! let (mut challenge, state) = codes.start(Some(&record), &StartOptions::new(), now, &mut OsRandom)?;
//! assert_eq!(challenge.masked_destination(), "+1 \u{2022}\u{2022}\u{2022} \u{2022}\u{2022}\u{2022} 0123");
//! let message = challenge.take_message().expect("a code to deliver");
//! // sender.send(&message).await?;  The SMS ends with the origin-bound line:
//! assert!(message.expose_body().ends_with(&format!("\n@example.com #{}", message.expose_code())));
//!
//! // Pay for the attempt first (store this state with a compare-and-swap), then check.
//! let state = codes.begin_attempt(&state, now)?.expect("codes count attempts");
//! let ok = codes.verify(&record, &state, message.expose_code(), now, &mut OsRandom)?;
//! assert_eq!(ok.methods, [mfa_core::AuthMethod::Sms]);
//! # Ok(())
//! # }
//! ```
//!
//! ## Quick start: a push with number matching
//!
//! The testkit's `SoftwareDevice` (feature `testkit`) plays the phone app.
//!
#![cfg_attr(feature = "testkit", doc = "```")]
#![cfg_attr(not(feature = "testkit"), doc = "```ignore")]
//! use mfa_core::{Factor, OsRandom, SignInContext, StartOptions, Timestamp};
//! use mfa_oob::testkit::SoftwareDevice;
//! use mfa_oob::{EnrollmentChallenge, PushConfig, PushFactor, PushResponse, PushStatus};
//!
//! # fn main() -> Result<(), mfa_oob::Error> {
//! let push = PushFactor::new(PushConfig::default());
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let phone = SoftwareDevice::new("Alice's phone", "fcm-token", &mut OsRandom)?;
//!
//! // Enrollment: the app proves it holds the key it registers.
//! let enroll = EnrollmentChallenge::generate(&mut OsRandom)?;
//! let record = push.enroll(&enroll, &phone.enrollment_request(&enroll), now)?;
//!
//! // Sign-in: the page shows the number; the device gets the notification.
//! let context = SignInContext::new().with_application("Payroll").with_location("Berlin, DE");
//! let options = StartOptions::new().with_context(context);
//! let (mut challenge, state) = push.start(Some(&record), &options, now, &mut OsRandom)?;
//! let notification = challenge.take_notification().expect("a push to deliver");
//!
//! // The user types the number shown on the page; the app signs its answer.
//! let wire = phone.approve(&notification, challenge.number(), now)?.to_base64url();
//! let response = PushResponse::from_base64url(&wire)?;
//! let state = push.record_response(&record, &state, &response, now)?; // CAS-store it
//!
//! // The browser polls without consuming, then completes once.
//! assert_eq!(push.status(&state, now), PushStatus::Approved);
//! let ok = push.verify(&record, &state, &challenge.transaction(), now, &mut OsRandom)?;
//! assert_eq!(ok.details.device_name, "Alice's phone");
//! # Ok(())
//! # }
//! ```
//!
//! ## The attempt loop (how the service stores a code challenge)
//!
//! [`OobState`] keeps the attempts used. The service keeps it in the challenge store,
//! which supports put, read without consuming, a versioned compare-and-swap update and
//! take. To check a code it runs, for each request:
//!
//! 1. **Read** the state and its version, without consuming it. None: reject
//!    (`unknown_challenge`).
//! 2. **Pay** for the attempt: `next = factor.begin_attempt(&state, now)` (here
//!    [`OobFactor::begin_code_attempt`]): one more attempt used. If it fails (`expired`,
//!    `exhausted`), **take** the challenge (delete it) and reject.
//! 3. **Store** `next` with a compare-and-swap on the version read. On a version
//!    conflict another request paid first: go back to 1 (nothing was checked, so a
//!    retry grants nothing; bound the retries) or reject.
//! 4. **Check** only now: `factor.verify(&record, &next, code, now)` with the state
//!    just *written*. [`OobFactor::verify_code`] refuses a state on which no attempt was
//!    begun, so skipping steps 2 and 3 fails loudly instead of granting free guesses.
//! 5. On success **take** the challenge: the one request whose take returns it wins;
//!    a take that finds nothing is a replay. On failure leave it (its attempts are
//!    already counted) and count the failure on the user's and destination's failure
//!    keys.
//!
//! Every check costs a successful compare-and-swap that used up an attempt, and a
//! state with no attempt left cannot be paid for, so 64 concurrent guesses against a
//! 5-attempt challenge get exactly 5 checks: 59 lose in step 2 or 3. The alternative,
//! "check, then decrement on failure", lets every concurrent request check before any
//! decrement lands.
//!
//! [`OobFactor::resend`] sends a new code for the same challenge: it keeps the attempts
//! used (a resend never buys guesses), enforces the cooldown and the sends per
//! challenge from the state, and returns the new state to store the same way (read,
//! resend, compare-and-swap). Give the challenge store the new state's
//! [`expires_at`](OobState::expires_at) as its TTL. A *new* challenge starts with
//! fresh attempts, so the failures that must survive it live in the store's failure
//! counters (per user, and per destination as the normalised
//! [`Destination::as_str`]): refuse to start while they are over your lockout limit.
//!
//! A push transaction is stored the same way: [`PushFactor::record_response`] returns
//! the state with the decision, stored by compare-and-swap (so two answers cannot
//! both land); [`PushFactor::status`] reads it for the browser's poll; and
//! [`Factor::verify`](mfa_core::Factor::verify) on an approved state is followed by a
//! take, once. Use [`TransactionId::challenge_id`] as the store key, so the device's
//! answer finds the transaction.
//!
//! ## Wiring the limits
//!
//! The counters are the store's; the decisions are pure functions here.
//!
//! - **Country calling codes**: [`SendLimits::check_destination`], inside
//!   [`OobFactor::enroll`], [`Factor::start`](mfa_core::Factor::start) and
//!   [`OobFactor::resend`]. The allow-list starts **empty**: name the countries you
//!   serve. SMS pumping (toll fraud) is the main real cost of SMS factors.
//! - **Caps per hour** per destination, per user and per client IP: before each send
//!   (start or resend), *increment* the three counters in the store (failure
//!   counters keyed by destination, user and IP, window [`SendLimits::WINDOW`]), then
//!   pass the counts it returns to [`SendLimits::check_send`]. Incrementing first makes
//!   the cap hold under concurrency, as the attempt loop does. Key the "destination"
//!   counter so that no account can spend another's: the `mfa` service keys a confirmed
//!   factor's sign-in codes by the factor and only enrollment codes by the destination.
//! - **Cooldown** across challenges: [`SendLimits::check_cooldown`] with the last send
//!   time the store has for the destination (within one challenge, `resend` checks it
//!   from the state).
//! - **Push fatigue**: before each push, *increment* the user's counters of pending
//!   transactions and of pushes since the last approval (cleared on an approved push),
//!   then pass the counts, this push included, to [`PushLimits::check`] as
//!   [`PushCounts`]: a limit of 5 lets exactly 5 pushes out.
//!
//! ## What policy needs to know
//!
//! | channel | `amr` | NIST SP 800-63B rev4 | counts for AAL2 |
//! | --- | --- | --- | --- |
//! | SMS | `sms` | restricted authenticator (§3.2.9) | yes, with the restricted-authenticator notices |
//! | voice | `tel` | restricted authenticator | yes, likewise |
//! | email | `otp` | **not** an out-of-band authenticator (§3.1.3.1) | no by default ([`OobConfig::with_email_counting_for_aal2`]); still usable as a factor and for recovery |
//! | push | `swk` | out-of-band with number matching (§3.1.3.1 forbids bare approve/deny) | yes; not phishing-resistant |
//!
//! [`OobFactor::properties`] reports the first three rows under the configuration.
//!
//! ## Codes
//!
//! A code is `digits` decimal digits (6 by default, up to 10) drawn from the random
//! source passed in ([`mfa_core::OsRandom`] in production) by rejection sampling, so
//! every value is equally likely. Only `HMAC-SHA-256(key, "mfa-oob v1 code
//! hmac-sha256\0" || nonce || destination kind || length || destination || code)` is
//! kept, with a fresh 16-byte nonce per code, the channel, the destination, the send
//! time, the expiry (10 minutes by default, rev4 §3.1.3.2) and the attempts. A code is
//! bound to its destination: a record whose destination changed since the send
//! refuses it (`wrong_destination`). Expired, exhausted, wrong code, malformed and
//! wrong destination are distinct [`RejectReason`](mfa_core::RejectReason)s for logs
//! and one "verification failed" for the user.
//!
//! SMS bodies end with the origin-bound one-time-code line `@example.com #123456`, so
//! browsers (WebOTP, iOS and Android autofill) offer the code only on that site.
//!
//! ## Push responses
//!
//! The device signs, with ES256 (ECDSA P-256, SHA-256), these bytes:
//!
//! ```text
//! offset  size  field
//! 0       24    "mfa-oob push response v1" (ASCII, no terminator)
//! 24      32    transaction id
//! 56      32    nonce (from the notification)
//! 88      1     decision: 0x01 approve, 0x02 deny
//! 89      1     n: number of digits entered (1..=8 to approve, 0 to deny)
//! 90      n     the entered number, ASCII digits
//! 90+n    8     the device's time, Unix seconds, unsigned big-endian
//! ```
//!
//! and sends them followed by the 64-byte signature `r || s`, usually as base64url
//! without padding ([`PushResponse::from_base64url`]). Every field has one encoding,
//! so decoding and re-encoding give the same bytes; anything else is an
//! [`EncodingError`]. The number is not in the notification: the user reads it from
//! the sign-in page, which is what stops a fatigued user approving an attacker's
//! sign-in. A wrong number and a denial are final for the transaction.
//!
//! ## Dependencies
//!
//! - `phonenumber` (0.3, a port of Google's libphonenumber with its metadata, 9.0.33 at
//!   the time of writing), for its metadata: national formats, validity and number
//!   types for every country are data, not code, and libphonenumber's data is the
//!   reference the carriers' own tools use. Its parser differs from libphonenumber's
//!   (it read `00 7 0843…` typed in the UK as a valid number whose E.164 form it then
//!   refused), so the digits are read by a short port of `PhoneNumberUtil.parse` and
//!   `isValidNumber` over that metadata (`destination/phone.rs`), and every accepted
//!   number must read back from its E.164 form. The tests cross-check it with Python's
//!   `phonenumbers` of the same metadata version. Input is filtered (ASCII digits and
//!   punctuation, 40 bytes) before it reaches the parser.
//! - `regex` (already `phonenumber`'s): the metadata's patterns must match whole
//!   numbers, as Java's `matches()` does, and the compiled forms `phonenumber` exposes
//!   only find leftmost-first matches; each pattern is compiled once more, anchored.
//! - No email crate: the accepted syntax is a deliberately small subset (WHATWG's
//!   `<input type=email>` with RFC 5321 dot-atoms), about 50 lines that are easier to
//!   audit than a full RFC 5322 parser whose extra forms (quoted strings, comments,
//!   IP literals) a verification-code sender should refuse anyway.
//! - The workspace generation: `p256` (ES256), `hmac` and `sha2`, `subtle`, `zeroize`.
//!
//! ## Features
//!
//! | feature | what it adds | risk |
//! | --- | --- | --- |
//! | `testkit` | the `testkit` module: a software push device, recording transport and sender | test-only: keys in memory, codes kept in clear |
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bytes;
mod code;
mod destination;
mod error;
mod limits;
mod message;
mod push;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

/// The README's examples, run as doctests (the push example uses the testkit device).
#[cfg(all(doctest, feature = "testkit"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use code::{
    ChannelProperties, OobChallenge, OobConfig, OobDetails, OobFactor, OobRecord, OobState,
};
pub use destination::{
    Destination, DestinationError, EmailAddress, MASK, MAX_EMAIL_LEN, MAX_PHONE_INPUT, PhoneNumber,
};
pub use error::Error;
pub use limits::{CountryCodes, LimitError, PushCounts, PushLimits, SendCounts, SendLimits};
pub use message::{OutboxSender, OutgoingMessage, SendError, Sender, Templates};
pub use push::{
    Answer, DevicePublicKey, EncodingError, EnrollmentChallenge, EnrollmentRequest,
    MAX_NUMBER_DIGITS, PushChallenge, PushConfig, PushDetails, PushFactor, PushNotification,
    PushRecord, PushResponse, PushState, PushStatus, PushTransport, RESPONSE_DOMAIN, TransactionId,
};
