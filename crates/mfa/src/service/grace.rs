//! The enrolment grace period ([`mfa_policy::grace`]): skips counted atomically per user.

use mfa_core::store::UserLimit;
use mfa_policy::grace::Grace;

use super::*;

impl<S: Store> Service<S> {
    /// The user chose "set up later": records one skip of enrolment, atomically (two
    /// concurrent skips count two, so a user cannot skip more often than the policy
    /// allows by racing), and returns the grace left after it.
    ///
    /// # Errors
    ///
    /// [`Error::NoGrace`] when the user has a confirmed factor, the policy has no
    /// grace period, its date has passed or the user's skips are used up; a store
    /// failure.
    pub async fn skip_enrollment(&self, user: &UserId) -> Result<Grace> {
        let now = self.now();
        let (_, enrolled) = self.enrolled(user).await?;
        if enrolled.iter().any(|f| f.confirmed) {
            return Err(Error::NoGrace);
        }
        let key = FailureKey::limit(user, UserLimit::EnrollmentSkips);
        let before = self.skips(user, now).await?;
        self.policy
            .enrollment_grace(before, now)
            .ok_or(Error::NoGrace)?;
        // The atomic increment decides: each concurrent skip sees its own count.
        let count = self
            .store
            .record_failure(&key, now, NEVER_LAPSES)
            .await?
            .count;
        let Some(allowed) = self.policy.enrollment_grace(count.saturating_sub(1), now) else {
            return Err(Error::NoGrace);
        };
        let mut left = allowed;
        left.sign_ins_left = allowed.sign_ins_left.map(|n| n.saturating_sub(1));
        self.emit(AuditEvent::new(
            now,
            Some(user),
            EventKind::EnrollmentSkipped {
                sign_ins_left: left.sign_ins_left,
            },
        ));
        Ok(left)
    }

    /// The grace the user has now to skip enrolment (`None`: it cannot be skipped),
    /// for a "set up later" button.
    ///
    /// # Errors
    ///
    /// A store failure.
    pub async fn enrollment_grace(&self, user: &UserId) -> Result<Option<Grace>> {
        let now = self.now();
        let (_, enrolled) = self.enrolled(user).await?;
        if enrolled.iter().any(|f| f.confirmed) {
            return Ok(None);
        }
        Ok(self
            .policy
            .enrollment_grace(self.skips(user, now).await?, now))
    }

    /// Fills in the grace of an `Enroll` decision from the user's skip count.
    pub(super) async fn with_grace(
        &self,
        user: &UserId,
        mut decision: Decision,
        now: Timestamp,
    ) -> Result<Decision> {
        if let Decision::Enroll { grace, .. } = &mut decision {
            *grace = self
                .policy
                .enrollment_grace(self.skips(user, now).await?, now);
        }
        Ok(decision)
    }

    async fn skips(&self, user: &UserId, now: Timestamp) -> Result<u32> {
        let key = FailureKey::limit(user, UserLimit::EnrollmentSkips);
        Ok(self
            .store
            .failures(&key, now, NEVER_LAPSES)
            .await?
            .map_or(0, |f| f.count))
    }
}
