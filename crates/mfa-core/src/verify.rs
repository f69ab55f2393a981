//! The one verification loop: load → decode → verify (pure) → compare-and-swap.

use alloc::format;
use alloc::vec::Vec;
use core::fmt;

use crate::clock::Timestamp;
use crate::codec::{DataOwner, RecordCodec};
use crate::error::{Error, RejectReason, Rejected};
use crate::factor::Factor;
use crate::id::{FactorId, UserId};
use crate::method::AuthMethod;
use crate::random::SecureRandom;
use crate::store::{FactorRecord, FactorStore, StoreError, Version, Versioned};

/// What a verification is for.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub enum Purpose {
    /// A sign-in or step-up: an unconfirmed factor is refused
    /// ([`RejectReason::FactorDisabled`]).
    #[default]
    SignIn,
    /// Confirming a new enrollment with its first response: an unconfirmed factor is
    /// accepted, and marked confirmed on success.
    Confirm,
}

/// One response to verify against one stored factor.
#[non_exhaustive]
pub struct Attempt<'a, F: Factor> {
    /// The user answering.
    pub user: &'a UserId,
    /// The factor answered.
    pub factor_id: &'a FactorId,
    /// The challenge state (taken from the challenge store), `&()` for unprompted factors.
    pub state: &'a F::State,
    /// The response.
    pub response: &'a F::Response,
    /// Sign-in or confirmation.
    pub purpose: Purpose,
    /// The instant of the verification.
    pub now: Timestamp,
}

impl<'a, F: Factor> Attempt<'a, F> {
    /// A sign-in attempt.
    pub fn new(
        user: &'a UserId,
        factor_id: &'a FactorId,
        state: &'a F::State,
        response: &'a F::Response,
        now: Timestamp,
    ) -> Self {
        Self {
            user,
            factor_id,
            state,
            response,
            purpose: Purpose::SignIn,
            now,
        }
    }

    /// For another purpose.
    #[must_use]
    pub fn with_purpose(mut self, purpose: Purpose) -> Self {
        self.purpose = purpose;
        self
    }
}

impl<F: Factor> fmt::Debug for Attempt<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state and response may be secret; only the target is shown.
        f.debug_struct("Attempt")
            .field("user", self.user)
            .field("factor_id", self.factor_id)
            .field("purpose", &self.purpose)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// A verification that was accepted **and** stored.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct VerifiedFactor<R, D = ()> {
    /// The stored factor after the update (confirmed, `last_used_at = now`) with its new
    /// version.
    pub factor: Versioned<FactorRecord>,
    /// The factor's updated record, decoded.
    pub record: R,
    /// The RFC 8176 `amr` values proven.
    pub methods: Vec<AuthMethod>,
    /// Factor-specific details of the success.
    pub details: D,
}

/// Verifies `attempt` against the stored factor and stores the result: the service's
/// core loop, and the only way mfa-rs verifies against a store.
///
/// 1. Loads the factor; none is a rejection ([`RejectReason::UnknownFactor`]). For
///    [`Purpose::SignIn`] an unconfirmed factor is a rejection
///    ([`RejectReason::FactorDisabled`]).
/// 2. Decodes its record with `codec`; a record of another kind than the factor's is
///    [`Error::Invalid`] (a service bug, not a rejection).
/// 3. Calls the factor's pure [`Factor::verify`]; its error converts into [`Error`]
///    (a rejection for anything the user caused).
/// 4. Writes the updated record, confirmed and with `last_used_at = now`, with a
///    compare-and-swap on the version loaded. **A lost race is a replay**:
///    [`StoreError::Conflict`] becomes a rejection with [`RejectReason::Replay`], never a
///    retry, and [`StoreError::NotFound`] (the factor was removed or reset meanwhile)
///    becomes [`RejectReason::UnknownFactor`].
///
/// Failure counting is the caller's: count every [`Error::is_rejection`].
///
/// # Errors
///
/// [`Error::Rejected`] as above; [`Error::Store`] when the store fails or the record does
/// not decode; [`Error::Random`] when the factor needs randomness and the source fails.
pub async fn verify_factor<S, C, F>(
    store: &S,
    codec: &C,
    factor: &F,
    attempt: Attempt<'_, F>,
    rng: &mut (dyn SecureRandom + Send),
) -> Result<VerifiedFactor<F::Record, F::Details>, Error>
where
    S: FactorStore + ?Sized,
    C: RecordCodec + ?Sized,
    F: Factor,
{
    let Some(stored) = store.factor(attempt.user, attempt.factor_id).await? else {
        return Err(Error::rejected(RejectReason::UnknownFactor));
    };
    verify_loaded(store, codec, factor, stored, attempt, rng).await
}

/// [`verify_factor`] from step 2, for a caller that already loaded the factor's row (to
/// pick the factor by its kind, say): the same checks, the same pure verification and
/// the same compare-and-swap against the version loaded, without reading the row again.
/// This is the loop the `mfa` service runs; there is no other.
///
/// Besides [`verify_factor`]'s checks, confirming ([`Purpose::Confirm`]) a factor that is
/// already confirmed is [`Error::Invalid`], and so is a row of another user or factor
/// than the attempt names (a caller's bug).
///
/// # Errors
///
/// As [`verify_factor`].
pub async fn verify_loaded<S, C, F>(
    store: &S,
    codec: &C,
    factor: &F,
    stored: Versioned<FactorRecord>,
    attempt: Attempt<'_, F>,
    rng: &mut (dyn SecureRandom + Send),
) -> Result<VerifiedFactor<F::Record, F::Details>, Error>
where
    S: FactorStore + ?Sized,
    C: RecordCodec + ?Sized,
    F: Factor,
{
    let checked = check_loaded(codec, factor, stored, attempt, rng)?;
    let result = store
        .update_factor_if_version(checked.factor.clone(), checked.expected)
        .await;
    checked.committed(result)
}

/// Steps 2 and 3 of [`verify_loaded`] — the checks, the decoding and the pure
/// verification — without the write: what a caller runs when it commits the result with
/// more than the compare-and-swap in one store operation (the service's
/// [`VerificationStore::commit_verification`](crate::store::VerificationStore::commit_verification),
/// which also clears the failure counters). Hand the write's result to
/// [`Checked::committed`], which reads it as [`verify_loaded`] does.
///
/// # Errors
///
/// As [`verify_loaded`], but for the store's.
pub fn check_loaded<C, F>(
    codec: &C,
    factor: &F,
    stored: Versioned<FactorRecord>,
    attempt: Attempt<'_, F>,
    rng: &mut (dyn SecureRandom + Send),
) -> Result<Checked<F::Record, F::Details>, Error>
where
    C: RecordCodec + ?Sized,
    F: Factor,
{
    if stored.value.user != *attempt.user || stored.value.id != *attempt.factor_id {
        return Err(Error::invalid(
            "factor",
            "the row loaded is not the attempt's factor",
        ));
    }
    if attempt.purpose == Purpose::SignIn && !stored.value.confirmed {
        return Err(
            Rejected::with_detail(RejectReason::FactorDisabled, "factor not confirmed").into(),
        );
    }
    if attempt.purpose == Purpose::Confirm && stored.value.confirmed {
        return Err(Error::invalid("factor", "already confirmed"));
    }
    let owner = DataOwner::Factor {
        user: attempt.user,
        id: attempt.factor_id,
    };
    let record: F::Record = codec.decode(owner, &stored.value.data)?;
    // A service bug (verifying a TOTP row with the HOTP factor) is bad input, not a
    // rejection. WebAuthn kinds differ only by attachment, which the row may know
    // better than the credential record.
    let kind = factor.kind(&record);
    if kind != stored.value.kind && !(kind.is_webauthn() && stored.value.kind.is_webauthn()) {
        return Err(Error::invalid(
            "factor",
            format!(
                "the stored factor is {}, not {}",
                stored.value.kind.as_str(),
                kind.as_str()
            ),
        ));
    }
    let verified = factor
        .verify(&record, attempt.state, attempt.response, attempt.now, rng)
        .map_err(Into::into)?;
    let expected = stored.version;
    let mut updated = stored.value;
    updated.data = codec.encode(owner, &verified.record)?;
    updated.last_used_at = Some(attempt.now);
    updated.confirmed = true;
    Ok(Checked {
        factor: updated,
        expected,
        record: verified.record,
        methods: verified.methods,
        details: verified.details,
    })
}

/// A response [`check_loaded`] accepted, not yet stored.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Checked<R, D = ()> {
    /// The row to write: the new record sealed, confirmed, `last_used_at = now`.
    pub factor: FactorRecord,
    /// The version it replaces (the one loaded).
    pub expected: Version,
    /// The factor's updated record, decoded.
    pub record: R,
    /// The RFC 8176 `amr` values proven.
    pub methods: Vec<AuthMethod>,
    /// Factor-specific details of the success.
    pub details: D,
}

impl<R, D> Checked<R, D> {
    /// The verification, given the result of writing [`factor`](Self::factor) with a
    /// compare-and-swap on [`expected`](Self::expected). **A lost race is a replay**:
    /// [`StoreError::Conflict`] becomes a rejection with [`RejectReason::Replay`], never
    /// a retry, and [`StoreError::NotFound`] (the factor was removed or reset meanwhile)
    /// becomes [`RejectReason::UnknownFactor`].
    ///
    /// # Errors
    ///
    /// Those rejections, or [`Error::Store`] for any other store error.
    pub fn committed(
        self,
        result: Result<Version, StoreError>,
    ) -> Result<VerifiedFactor<R, D>, Error> {
        match result {
            Ok(version) => Ok(VerifiedFactor {
                factor: Versioned::new(self.factor, version),
                record: self.record,
                methods: self.methods,
                details: self.details,
            }),
            Err(StoreError::Conflict) => Err(Rejected::with_detail(
                RejectReason::Replay,
                "lost the compare-and-swap to a concurrent verification",
            )
            .into()),
            Err(StoreError::NotFound) => Err(Rejected::with_detail(
                RejectReason::UnknownFactor,
                "factor removed during verification",
            )
            .into()),
            Err(e) => Err(e.into()),
        }
    }
}
