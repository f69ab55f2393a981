//! "Is this factor or account locked now?", read without counting an attempt: for the
//! calls that send something (a code, a push) and so must not reach a locked factor or
//! account, but are not attempts themselves.

use mfa_core::store::NEVER_LAPSES;

use super::*;

impl<S: Store> Service<S> {
    /// Refuses with [`ServiceError::Locked`] when `factor_id` is locked out (the
    /// policy's [`failure_state`](Policy::failure_state) of its counter) or the account
    /// is (its consecutive failures, which time never restarts, reached the per-user
    /// limit: locked until an operator unlocks it). Reads only: nothing is counted,
    /// and a backoff is no lockout (sending a code does not verify anything).
    ///
    /// # Errors
    ///
    /// [`ServiceError::Locked`]; a store failure (fail closed: nothing is sent when the
    /// counters cannot be read).
    pub(super) async fn ensure_unlocked(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        now: Timestamp,
    ) -> Result<()> {
        let limits = *self.policy.failure_limits();
        let window = limits.window.max(limits.lockout);
        let factor = self
            .store
            .failures(&FailureKey::factor(user, factor_id), now, window)
            .await?;
        if let Some(f) = factor
            && let FailureState::LockedOut { until } =
                self.policy.failure_state(f.count, Some(f.last_at), now)
        {
            return Err(ServiceError::Locked { until });
        }
        let account = self
            .store
            .failures(&FailureKey::user(user), now, NEVER_LAPSES)
            .await?;
        if account.is_some_and(|u| u.count >= self.user_limit) {
            // No time ends it: only an operator's unlock.
            return Err(ServiceError::Locked {
                until: now.saturating_add(NEVER_LAPSES),
            });
        }
        Ok(())
    }
}
