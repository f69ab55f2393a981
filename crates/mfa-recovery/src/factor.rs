//! The factor: generate, verify-and-consume, rotate.

use mfa_core::{
    Factor, FactorKind, RandomError, RejectReason, SecureRandom, StartOptions, Timestamp, Verified,
};
use subtle::ConstantTimeEq;

use crate::code::RecoveryCode;
use crate::config::{Hashing, RecoveryConfig, RecoveryMode};
use crate::error::Error;
use crate::hash::hmac_tag;
use crate::record::{
    Bytes, Hashes, NONCE_LEN, RECORD_VERSION, RecordData, RecordMode, RecoveryRecord,
};
use mfa_core::Keyring;

/// Recovery codes as an [`mfa_core::Factor`]: holds the pepper [`Keyring`] and the
/// [`RecoveryConfig`]; every method is pure (no clock, no I/O).
///
/// - [`generate`](Self::generate) issues a set (or one rotating code) and its record.
/// - [`verify_code`](Self::verify_code) (also [`Factor::verify`]) checks a typed code
///   and returns the record without it (and, when rotating, the successor to show).
/// - [`regenerate`](Self::regenerate) issues a replacement; storing it invalidates
///   every old code.
///
/// See the [crate docs](crate) for the cost of a verification and why the storage is
/// safe.
#[derive(Clone, Debug)]
pub struct RecoveryFactor {
    keyring: Keyring,
    config: RecoveryConfig,
}

/// Freshly generated codes and the record that stores their hashes.
///
/// Show the codes to the user once (with
/// [`RecoveryCode::expose_grouped`]), store the record, and drop this value: the codes
/// are zeroized and exist nowhere else.
#[derive(Debug)]
pub struct IssuedCodes {
    codes: Vec<RecoveryCode>,
    record: RecoveryRecord,
}

impl IssuedCodes {
    /// The codes, to show once.
    pub fn codes(&self) -> &[RecoveryCode] {
        &self.codes
    }

    /// The record to store.
    pub fn record(&self) -> &RecoveryRecord {
        &self.record
    }

    /// The codes and the record.
    pub fn into_parts(self) -> (Vec<RecoveryCode>, RecoveryRecord) {
        (self.codes, self.record)
    }
}

/// What a successful verification tells the service beyond the new record.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RecoveryDetails {
    /// Unused codes left in the new record: warn the user when it is low, and offer to
    /// regenerate at zero. Always 1 for a rotating code.
    pub remaining: usize,
    /// For a rotating code: its successor, to show to the user once. It is already
    /// hashed into the new record.
    pub next_code: Option<RecoveryCode>,
    /// The new record is hashed under a pepper key that is no longer current (a set
    /// whose other codes cannot be re-hashed without their plaintext): regenerate it
    /// before retiring that key.
    pub key_outdated: bool,
}

impl RecoveryFactor {
    /// A factor that hashes new records under `keyring`'s current key and generates
    /// what `config` says.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the configuration pairs codes below 112 bits with the
    /// fast hash (NIST SP 800-63B rev4 §3.1.2.1), or has a set size or Argon2id
    /// parameters out of range.
    pub fn new(keyring: Keyring, config: RecoveryConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self { keyring, config })
    }

    /// Generates codes as configured: a set, or one rotating code.
    ///
    /// Costs one HMAC per code, or with Argon2id one Argon2id evaluation per code.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails (or keeps repeating itself).
    pub fn generate(&self, rng: &mut dyn SecureRandom) -> Result<IssuedCodes, Error> {
        self.issue(self.config.mode(), rng)
    }

    /// Generates a replacement for `previous`, in the same mode (a set gets the
    /// configured size, or ten if the configuration is rotating). Store it in place of
    /// `previous` with a compare-and-swap: the new record has a fresh nonce and fresh
    /// hashes, so no old code verifies against it.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    pub fn regenerate(
        &self,
        previous: &RecoveryRecord,
        rng: &mut dyn SecureRandom,
    ) -> Result<IssuedCodes, Error> {
        let mode = match (previous.mode(), self.config.mode()) {
            (RecordMode::Rotating, _) => RecoveryMode::Rotating,
            (_, RecoveryMode::Set { count }) => RecoveryMode::Set { count },
            _ => RecoveryMode::default(),
        };
        self.issue(mode, rng)
    }

    /// Verifies a typed code against `record` and consumes it.
    ///
    /// The input is normalised first ([`RecoveryCode::parse`]). On success the returned
    /// record no longer accepts the code; for a rotating record it holds the successor,
    /// which is in [`RecoveryDetails::next_code`]. Write the record with a
    /// compare-and-swap on the version that was loaded: a lost swap is a replay.
    ///
    /// Cost: one HMAC-SHA-256 and a binary search over the stored tags; with Argon2id,
    /// exactly one Argon2id evaluation, whatever the input and the number of codes.
    /// Malformed input costs no hash at all.
    ///
    /// # Errors
    ///
    /// - [`Error::Code`] when the input is not a code of this record's length and
    ///   alphabet (count it as a failed attempt);
    /// - [`Error::Rejected`] when it does not verify: wrong, already used, from a
    ///   replaced set, or the set is exhausted (reason `factor_disabled`);
    /// - [`Error::UnknownKey`] when the record names a pepper key not in the keyring;
    /// - [`Error::Random`] when a rotating code's successor cannot be generated.
    pub fn verify_code(
        &self,
        record: &RecoveryRecord,
        input: &str,
        rng: &mut dyn SecureRandom,
    ) -> Result<Verified<RecoveryRecord, RecoveryDetails>, Error> {
        let key = self
            .keyring
            .get(record.key_id())
            .ok_or_else(|| Error::UnknownKey(record.key_id().clone()))?;
        let code = RecoveryCode::parse(input)?;
        if code.len() != record.code_len() {
            return Err(crate::CodeError::WrongLength {
                expected: record.code_len(),
                found: code.len(),
            }
            .into());
        }
        if record.is_exhausted() {
            return Err(Error::rejected(RejectReason::FactorDisabled));
        }
        let hashes = match record.hashes() {
            Hashes::HmacSha256 { tags } => {
                let tag = hmac_tag(key, record.nonce(), &code)?;
                // The search compares keyed hashes, not codes: see "Timing" in the crate
                // docs. The final comparison is constant-time all the same.
                let found = tags
                    .binary_search(&tag)
                    .ok()
                    .filter(|&i| tags.get(i).is_some_and(|t| bool::from(t.ct_eq(&tag))));
                let Some(i) = found else {
                    return Err(Error::rejected(RejectReason::WrongCode));
                };
                Hashes::HmacSha256 {
                    tags: without(tags, i),
                }
            }
            #[cfg(feature = "argon2")]
            Hashes::Argon2id { params, entries } => {
                let i = crate::argon::verify(key, *params, record, entries, &code)?;
                Hashes::Argon2id {
                    params: *params,
                    entries: without(entries, i),
                }
            }
        };
        let (record, next_code) = match record.mode() {
            RecordMode::Set => (record.consumed(hashes), None),
            RecordMode::Rotating => {
                let (mut codes, record) = self.issue(RecoveryMode::Rotating, rng)?.into_parts();
                (record, codes.pop())
            }
        };
        let details = RecoveryDetails {
            remaining: record.remaining(),
            next_code,
            key_outdated: record.key_id() != self.keyring.current_id(),
        };
        let methods = FactorKind::RecoveryCode.typical_methods().to_vec();
        Ok(Verified::with_details(record, methods, details))
    }

    /// Whether `record` was stored differently from what this factor would store now
    /// (another pepper key, another hashing scheme or cost): regenerate it to move it
    /// over. A rotating record moves by itself on its next use.
    pub fn needs_rehash(&self, record: &RecoveryRecord) -> bool {
        let scheme_differs = match (record.hashes(), self.config.hashing()) {
            (Hashes::HmacSha256 { .. }, Hashing::HmacSha256) => false,
            #[cfg(feature = "argon2")]
            (Hashes::Argon2id { params, .. }, Hashing::Argon2id(now)) => *params != now,
            #[cfg(feature = "argon2")]
            _ => true,
        };
        scheme_differs || record.key_id() != self.keyring.current_id()
    }

    /// The pepper keys.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The configuration.
    pub fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    fn issue(&self, mode: RecoveryMode, rng: &mut dyn SecureRandom) -> Result<IssuedCodes, Error> {
        let (key_id, key) = self.keyring.current();
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)?;
        let format = self.config.format();
        let count = mode.count();
        let mut codes = Vec::with_capacity(count);
        let hashes = match self.config.hashing() {
            Hashing::HmacSha256 => {
                let mut tags: Vec<Bytes<32>> = Vec::with_capacity(count);
                let mut attempts = 0;
                while codes.len() < count {
                    attempts += 1;
                    if attempts > count + MAX_EXTRA_ATTEMPTS {
                        // A 112-bit code repeating is a broken random source.
                        return Err(RandomError.into());
                    }
                    let code = RecoveryCode::generate(format.symbols(), format.group_size(), rng)?;
                    let tag = hmac_tag(key, &nonce, &code)?;
                    if !tags.contains(&tag) {
                        tags.push(tag);
                        codes.push(code);
                    }
                }
                tags.sort_unstable();
                Hashes::HmacSha256 { tags }
            }
            #[cfg(feature = "argon2")]
            Hashing::Argon2id(params) => {
                let entries =
                    crate::argon::issue(key, params, &nonce, format, count, &mut codes, rng)?;
                Hashes::Argon2id { params, entries }
            }
        };
        let record = RecoveryRecord::from_data(RecordData {
            v: RECORD_VERSION,
            mode: mode.into(),
            key_id: key_id.clone(),
            symbols: u8::try_from(format.symbols())
                .map_err(|_| mfa_core::InvalidInput::new("code format", "too long"))?,
            nonce: Bytes(nonce),
            hashes,
        })?;
        Ok(IssuedCodes { codes, record })
    }
}

impl Factor for RecoveryFactor {
    type Record = RecoveryRecord;
    type Challenge = ();
    type State = ();
    type Response = str;
    type Details = RecoveryDetails;
    type Error = Error;

    fn kind(&self, _record: &RecoveryRecord) -> FactorKind {
        FactorKind::RecoveryCode
    }

    /// Recovery codes are answered unprompted: nothing to send, nothing to keep. Works
    /// without a record; refuses options a recovery code cannot honour.
    fn start(
        &self,
        _record: Option<&RecoveryRecord>,
        options: &StartOptions,
        _now: Timestamp,
        _rng: &mut dyn SecureRandom,
    ) -> Result<((), ()), Error> {
        options.ensure_unprompted("a recovery code")?;
        Ok(((), ()))
    }

    /// [`RecoveryFactor::verify_code`]; recovery codes do not expire, so `now` is unused.
    fn verify(
        &self,
        record: &RecoveryRecord,
        _state: &(),
        response: &str,
        _now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<Verified<RecoveryRecord, RecoveryDetails>, Error> {
        self.verify_code(record, response, rng)
    }
}

/// `items` without the one at `i`, copied once.
fn without<T: Clone>(items: &[T], i: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(items.len().saturating_sub(1));
    out.extend(items.iter().take(i).cloned());
    out.extend(items.iter().skip(i + 1).cloned());
    out
}

/// Draws beyond the set size before generation gives up on a random source that keeps
/// repeating itself.
pub(crate) const MAX_EXTRA_ATTEMPTS: usize = 64;
