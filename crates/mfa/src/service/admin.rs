//! The operator's calls, behind one view: [`Service::admin`].

use super::*;

/// What an operator does, and an end user never: reset a user's MFA, unlock, read the
/// lockout state, re-seal records under a new key, purge lapsed counters. Kept apart
/// (as rustls keeps its risky settings behind `dangerous()`) so the everyday API stays
/// small and a call site shows it is administration.
///
/// ```
/// use mfa::prelude::*;
/// # use mfa::{OsRandom, SecretBytes};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let keys = Keyring::new(KeyId::new("k1")?, SecretBytes::generate(32, &mut OsRandom)?)?;
/// let service = Service::builder(MemoryStore::new(), Policy::default(), keys).build()?;
/// let alice = UserId::new("alice")?;
/// let status = service.admin().lockout_status(&alice).await?;
/// assert!(!status.account_locked);
/// service.admin().unlock(&alice, None).await?;
/// assert_eq!(service.admin().reset_user(&alice).await?.factors, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Admin<'a, S> {
    service: &'a Service<S>,
}

impl<S: Store> Service<S> {
    /// The operator's calls: reset, unlock, lockout status, rekey, purge.
    pub fn admin(&self) -> Admin<'_, S> {
        Admin { service: self }
    }
}

impl<S: Store> Admin<'_, S> {
    /// An administrator's MFA reset, in one atomic store operation: factors, challenges,
    /// remembered devices and failure counters gone, generation bumped (revoking every
    /// remembered-device token), so the next sign-in enrolls from scratch.
    ///
    /// # Errors
    ///
    /// A store failure (nothing was removed).
    #[tracing::instrument(name = "mfa.admin.reset_user", target = "mfa::service", level = "info", skip_all, fields(user = self.service.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn reset_user(&self, user: &UserId) -> Result<ResetSummary> {
        self.service.reset_user(user).await
    }

    /// Re-checks the user's registered WebAuthn credentials against a newly loaded
    /// MDS3 BLOB (issue 22): a credential whose authenticator model it reports
    /// `REVOKED`, `USER_KEY_REMOTE_COMPROMISE`, `USER_KEY_PHYSICAL_COMPROMISE` or
    /// `ATTESTATION_KEY_COMPROMISE` is disabled (or only flagged, per `action`), with an
    /// `authenticator_compromised` audit event and a security notice to the user. Run
    /// it for every user after each BLOB update (`mfactl webauthn-recheck`).
    ///
    /// # Errors
    ///
    /// A record that does not open, or a store failure (factors handled before it keep
    /// their new state).
    pub async fn recheck_metadata(
        &self,
        user: &UserId,
        metadata: &mfa_webauthn::MetadataTrustStore,
        action: MetadataAction,
    ) -> Result<Vec<MetadataRecheck>> {
        self.service.recheck_metadata(user, metadata, action).await
    }

    /// An administrator's unlock: clears the user's failure counter and that of
    /// `factor_id` (or of every factor of the user when `None`).
    ///
    /// # Errors
    ///
    /// A store failure.
    #[tracing::instrument(name = "mfa.admin.unlock", target = "mfa::service", level = "info", skip_all, fields(user = self.service.trace_user(user).as_deref(), factor = factor_id.map(FactorId::as_str), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn unlock(&self, user: &UserId, factor_id: Option<&FactorId>) -> Result<()> {
        self.service.unlock(user, factor_id).await
    }

    /// What the lockout gate would say now, for an administrator's view: the user's
    /// failures over all factors and each factor's own, with the state each is in.
    /// Reading changes nothing (an attempt is only counted by a verification).
    ///
    /// # Errors
    ///
    /// A store failure.
    #[tracing::instrument(name = "mfa.admin.lockout_status", target = "mfa::service", level = "info", skip_all, fields(user = self.service.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn lockout_status(&self, user: &UserId) -> Result<LockoutStatus> {
        self.service.lockout_status(user).await
    }

    /// Re-seals every factor record of `user` that is not under the active key; returns
    /// how many were re-sealed. Pending challenges are not re-sealed: they expire within
    /// minutes, so keep an old key in the set for one challenge lifetime after
    /// rotating. (The store traits have no "every user" listing; run this per user, or
    /// lazily at sign-in.)
    ///
    /// # Errors
    ///
    /// A record that does not open (its key was removed from the set), a store failure,
    /// or [`Error::Conflict`] after repeated concurrent changes.
    #[tracing::instrument(name = "mfa.admin.rekey_user", target = "mfa::service", level = "info", skip_all, fields(user = self.service.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn rekey_user(&self, user: &UserId) -> Result<usize> {
        self.service.rekey_user(user).await
    }

    /// Removes failure counters that have lapsed (see
    /// [`FailureStore::purge_failures`](mfa_core::store::FailureStore::purge_failures)):
    /// the counters of factor ids, credentials and clients callers invented, which
    /// would otherwise stay in the table. Run it now and then (`mfactl purge`); it
    /// changes no decision, and never removes an account's consecutive-failure count.
    /// Returns how many were removed.
    ///
    /// # Errors
    ///
    /// A store failure.
    #[tracing::instrument(name = "mfa.admin.purge_failures", target = "mfa::service", level = "info", skip_all, fields(user = tracing::field::Empty, kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn purge_failures(&self) -> Result<usize> {
        self.service.purge_failures().await
    }
}
