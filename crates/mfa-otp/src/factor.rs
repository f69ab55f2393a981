//! [`mfa_core::Factor`] for TOTP and HOTP: pure verification that returns the record to
//! store.

use alloc::vec;

use mfa_core::{AuthMethod, Factor, FactorKind, SecureRandom, StartOptions, Timestamp, Verified};

use crate::error::Error;
use crate::hotp::{Hotp, HotpRecord};
use crate::totp::{TotpRecord, Window};

/// TOTP as an [`mfa_core::Factor`]: the verifier's policy (the window); the secret,
/// parameters and last accepted step live in the [`TotpRecord`].
///
/// `verify` returns the record with `last_step` moved to the matched step, and the step
/// as [`Verified::details`]. Store the record with a compare-and-swap on the version you
/// loaded: of two requests racing with one code, only one write succeeds, so the code
/// is accepted once even across processes.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct TotpFactor {
    /// The steps accepted around the current one (default ±1).
    pub window: Window,
}

impl Factor for TotpFactor {
    type Record = TotpRecord;
    type Challenge = ();
    type State = ();
    type Response = str;
    /// The matched time step.
    type Details = u64;
    type Error = Error;

    fn kind(&self, _: &TotpRecord) -> FactorKind {
        FactorKind::Totp
    }

    /// Nothing to send or keep: the user reads the code from their device. Works
    /// without a record; refuses options an OTP cannot honour.
    fn start(
        &self,
        _: Option<&TotpRecord>,
        options: &StartOptions,
        _: Timestamp,
        _: &mut dyn SecureRandom,
    ) -> Result<((), ()), Error> {
        options.ensure_unprompted("TOTP")?;
        Ok(((), ()))
    }

    fn verify(
        &self,
        record: &TotpRecord,
        _: &(),
        response: &str,
        now: Timestamp,
        _: &mut dyn SecureRandom,
    ) -> Result<Verified<TotpRecord, u64>, Error> {
        let step = record
            .totp()
            .verify(response, now, self.window, record.last_step)?;
        let updated = TotpRecord {
            last_step: Some(step),
            ..record.clone()
        };
        Ok(Verified::with_details(updated, vec![AuthMethod::Otp], step))
    }
}

/// HOTP as an [`mfa_core::Factor`]: the verifier's policy (the look-ahead); the secret,
/// parameters and next counter live in the [`HotpRecord`].
///
/// `verify` returns the record with the counter moved past the matched one, and the new
/// counter as [`Verified::details`]. Store it with a compare-and-swap.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct HotpFactor {
    /// How many counters past the expected one a code may come from (default 10).
    pub look_ahead: u32,
    /// How many counters [`HotpFactor::resync`] searches (default 100).
    pub resync_window: u32,
}

impl Default for HotpFactor {
    fn default() -> Self {
        Self {
            look_ahead: 10,
            resync_window: 100,
        }
    }
}

impl HotpFactor {
    /// Resynchronises a record whose token has drifted beyond the look-ahead, with two
    /// consecutive codes (RFC 4226 §7.4); returns the record to store.
    ///
    /// # Errors
    ///
    /// As [`Hotp::resync`].
    pub fn resync(
        &self,
        record: &HotpRecord,
        first: &str,
        second: &str,
    ) -> Result<HotpRecord, Error> {
        let counter = Hotp::new(&record.secret, record.params).resync(
            first,
            second,
            record.counter,
            self.resync_window,
        )?;
        Ok(HotpRecord {
            counter,
            ..record.clone()
        })
    }
}

impl Factor for HotpFactor {
    type Record = HotpRecord;
    type Challenge = ();
    type State = ();
    type Response = str;
    /// The new counter (the one after the matched code).
    type Details = u64;
    type Error = Error;

    fn kind(&self, _: &HotpRecord) -> FactorKind {
        FactorKind::Hotp
    }

    /// Nothing to send or keep: the user reads the code from their device. Works
    /// without a record; refuses options an OTP cannot honour.
    fn start(
        &self,
        _: Option<&HotpRecord>,
        options: &StartOptions,
        _: Timestamp,
        _: &mut dyn SecureRandom,
    ) -> Result<((), ()), Error> {
        options.ensure_unprompted("HOTP")?;
        Ok(((), ()))
    }

    fn verify(
        &self,
        record: &HotpRecord,
        _: &(),
        response: &str,
        _: Timestamp,
        _: &mut dyn SecureRandom,
    ) -> Result<Verified<HotpRecord, u64>, Error> {
        let counter = record
            .hotp()
            .verify(response, record.counter, self.look_ahead)?;
        let updated = HotpRecord {
            counter,
            ..record.clone()
        };
        Ok(Verified::with_details(
            updated,
            vec![AuthMethod::Otp],
            counter,
        ))
    }
}
