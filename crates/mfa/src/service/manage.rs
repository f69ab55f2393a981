//! Listing, renaming, removing, resetting, unlocking, re-keying; policy decisions.

use mfa_core::store::{Change, Committed};

use super::*;

impl<S: Store> Service<S> {
    // ---------------------------------------------------------------- management

    /// The user's factors, oldest first. Never a secret.
    ///
    /// # Errors
    ///
    /// A store failure, or a recovery record that does not open.
    #[tracing::instrument(name = "mfa.list_factors", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn list_factors(&self, user: &UserId) -> Result<Vec<FactorInfo>> {
        let rows = self.store.list_factors(user).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let remaining = if row.value.kind == FactorKind::RecoveryCode {
                let rec: RecoveryRecord = self.decode_factor(&row.value)?;
                Some(rec.remaining())
            } else {
                None
            };
            let mut info = self.info(&row.value, remaining)?;
            info.authenticator = self.authenticator_model(&row.value);
            out.push(info);
        }
        Ok(out)
    }

    /// Renames a factor.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownFactor`], a bad label, [`Error::Conflict`] after
    /// repeated concurrent changes, or a store failure.
    #[tracing::instrument(name = "mfa.rename_factor", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), factor = factor_id.as_str(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn rename_factor(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        label: &str,
    ) -> Result<FactorInfo> {
        check_label(label)?;
        let now = self.now();
        for _ in 0..3 {
            let row = self
                .store
                .factor(user, factor_id)
                .await?
                .ok_or(Error::UnknownFactor)?;
            let mut updated = row.value.clone();
            updated.label = label.to_owned();
            let event = AuditEvent::new(now, Some(user), EventKind::FactorRenamed)
                .factor(factor_id, updated.kind);
            let change = Change::UpdateFactor {
                record: updated.clone(),
                expected: row.version,
            };
            match self
                .commit(change, journal::fixed(vec![event]), Vec::new())
                .await
            {
                Ok(_) => return Ok(FactorInfo::from_row(&updated, None)),
                // Only the label changes, so retrying on a fresh load loses nothing.
                Err(StoreError::Conflict) => {}
                Err(StoreError::NotFound) => return Err(Error::UnknownFactor),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// Removes a factor, unless the policy's enrollment rules refuse (the last factor of
    /// a user who must have MFA). Needs a session at the account's assurance level.
    ///
    /// When the factor was a passkey or security key, returns the
    /// `signalAllAcceptedCredentials()` payload (WebAuthn L3 §5.1.10) for the user's
    /// remaining ones, to hand the user's browser so their provider hides the removed
    /// credential. When none remains, the list is empty under the removed credential's
    /// user handle (read before the removal), which hides them all. `None` for other
    /// kinds, without a relying party, or for a record stored without a user handle.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownFactor`], [`Error::Enroll`],
    /// [`Error::StepUpRequired`], or a store failure.
    #[tracing::instrument(name = "mfa.remove_factor", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), factor = factor_id.as_str(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn remove_factor(
        &self,
        user: &UserId,
        subject: &Subject,
        session: &Session,
        factor_id: &FactorId,
    ) -> Result<Option<mfa_webauthn::signals::AllAcceptedCredentialsOptions>> {
        let now = self.now();
        let (rows, enrolled) = self.enrolled(user).await?;
        let row = rows
            .iter()
            .find(|r| r.value.id == *factor_id)
            .ok_or(Error::UnknownFactor)?;
        self.require_assurance(session, &enrolled, now)?;
        match self.policy.check_remove(subject, &enrolled, factor_id) {
            Ok(_) => {}
            Err(EnrollRefusal::UnknownFactor) => return Err(Error::UnknownFactor),
            Err(e) => return Err(e.into()),
        }
        // Resolved first: removing the contact's own factor still tells the old address.
        let contact = self.contact(user).await.ok().flatten();
        // Read first too: the last passkey takes the user handle with it.
        let handle = self.passkey_user_handle(&row.value);
        let kind = row.value.kind;
        let event =
            AuditEvent::new(now, Some(user), EventKind::FactorRemoved).factor(factor_id, kind);
        let change = Change::RemoveFactor {
            user: user.clone(),
            id: factor_id.clone(),
        };
        let make: journal::MakeEvents = Arc::new(move |out| match out {
            Committed::Removed(true) => vec![event.clone()],
            _ => Vec::new(),
        });
        if self.commit(change, make, Vec::new()).await? != Committed::Removed(true) {
            return Err(Error::UnknownFactor);
        }
        self.clear_failures(user, factor_id).await;
        self.notify_to(
            user,
            contact,
            SecurityNotice::FactorRemoved {
                kind,
                label: row.value.label.clone(),
            },
        )
        .await;
        match handle {
            Some(h) => self.signal_after_removal(user, &h).await,
            None => Ok(None),
        }
    }

    /// See [`Admin::reset_user`].
    pub(crate) async fn reset_user(&self, user: &UserId) -> Result<ResetSummary> {
        let now = self.now();
        // Resolved first: the reset removes the contact's factor too.
        let contact = self.contact(user).await.ok().flatten();
        let extra = self.reset_credential_events(user).await?;
        let who = user.clone();
        let make: journal::MakeEvents = Arc::new(move |out| match out {
            Committed::Reset(summary) => vec![AuditEvent::new(
                now,
                Some(&who),
                EventKind::Reset {
                    factors: summary.factors,
                    devices: summary.devices,
                },
            )],
            _ => Vec::new(),
        });
        let Committed::Reset(summary) = self
            .commit(Change::ResetUser(user.clone()), make, extra)
            .await?
        else {
            return Err(StoreError::Corrupt("a reset reported no summary".into()).into());
        };
        self.notify_to(user, contact, SecurityNotice::MfaReset)
            .await;
        Ok(summary)
    }

    /// See [`Admin::unlock`].
    pub(crate) async fn unlock(&self, user: &UserId, factor_id: Option<&FactorId>) -> Result<()> {
        let now = self.now();
        self.store.clear_failures(&FailureKey::user(user)).await?;
        match factor_id {
            Some(id) => {
                self.store
                    .clear_failures(&FailureKey::factor(user, id))
                    .await?
            }
            None => {
                for row in self.store.list_factors(user).await? {
                    self.store
                        .clear_failures(&FailureKey::factor(user, &row.value.id))
                        .await?;
                }
            }
        }
        let mut event = AuditEvent::new(now, Some(user), EventKind::Unlocked);
        event.factor = factor_id.cloned();
        self.emit(event).await;
        Ok(())
    }

    /// See [`Admin::lockout_status`].
    pub(crate) async fn lockout_status(&self, user: &UserId) -> Result<LockoutStatus> {
        let now = self.now();
        let window = self.policy.failure_limits().counting_window();
        let user_failures = self
            .store
            .failures(&FailureKey::user(user), now, NEVER_LAPSES)
            .await?
            .map_or(0, |u| u.count);
        let mut factors = Vec::new();
        for row in self.store.list_factors(user).await? {
            let f = self
                .store
                .failures(&FailureKey::factor(user, &row.value.id), now, window)
                .await?;
            let count = f.map_or(0, |f| f.count);
            factors.push(FactorLockout {
                factor_id: row.value.id,
                failures: count,
                state: self.policy.failure_state(count, f.map(|f| f.last_at), now),
            });
        }
        Ok(LockoutStatus {
            user_failures,
            user_limit: self.user_limit,
            account_locked: user_failures >= self.user_limit,
            factors,
        })
    }

    /// See [`Admin::purge_failures`].
    pub(crate) async fn purge_failures(&self) -> Result<usize> {
        Ok(self.store.purge_failures(self.now()).await?)
    }

    /// See [`Admin::rekey_user`].
    pub(crate) async fn rekey_user(&self, user: &UserId) -> Result<usize> {
        let now = self.now();
        let mut count = 0;
        for row in self.store.list_factors(user).await? {
            if self.keys.is_current(&row.value.data) {
                continue;
            }
            let mut row = row;
            let mut done = false;
            for _ in 0..3 {
                let value: serde_json::Value = self.decode_factor(&row.value)?;
                let mut updated = row.value.clone();
                updated.data = self.encode_factor(user, &updated.id, updated.kind, &value)?;
                match self
                    .store
                    .update_factor_if_version(updated, row.version)
                    .await
                {
                    Ok(_) => {
                        done = true;
                        break;
                    }
                    Err(StoreError::Conflict) => {
                        match self.store.factor(user, &row.value.id).await? {
                            Some(fresh) if !self.keys.is_current(&fresh.value.data) => row = fresh,
                            _ => break,
                        }
                    }
                    Err(StoreError::NotFound) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            if done {
                count += 1;
            }
        }
        if count > 0 {
            self.emit(AuditEvent::new(
                now,
                Some(user),
                EventKind::Rekeyed { records: count },
            ))
            .await;
        }
        Ok(count)
    }

    // ---------------------------------------------------------------- decisions

    /// The policy's decision for this request (`Allow`, `StepUp`, `Enroll`, `Deny`),
    /// with the user's factors, failure counters and remembered device (`device`: the
    /// token and device id the client sent, see [`DeviceCookie`]) read from the store.
    ///
    /// # Errors
    ///
    /// A store failure: the caller must then refuse the request (fail closed).
    #[tracing::instrument(name = "mfa.evaluate", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn evaluate(
        &self,
        user: &UserId,
        subject: &Subject,
        session: &Session,
        request: &Request,
        device: Option<DeviceCookie<'_>>,
    ) -> Result<Decision> {
        let now = self.now();
        let window = self.policy.failure_limits().counting_window();
        let (_, mut enrolled) = self.enrolled(user).await?;
        for f in &mut enrolled {
            if let Some(fails) = self
                .store
                .failures(&FailureKey::factor(user, &f.id), now, window)
                .await?
            {
                f.consecutive_failures = fails.count;
                f.last_failure_at = Some(fails.last_at);
            }
        }
        let mut stored = None;
        let mut generation = 0;
        if let Some(d) = device {
            stored = self.store.remembered_device(user, d.device_id, now).await?;
            generation = self.store.user_state(user).await?.generation.get();
        }
        let proof = device.map(|d| DeviceProof {
            token: d.token,
            device_id: d.device_id,
            generation,
            stored: stored.as_ref(),
        });
        let decision = self.policy.evaluate(&Input {
            user,
            subject,
            enrolled: &enrolled,
            session,
            request,
            device: proof,
            now,
        });
        self.with_grace(user, decision, now).await
    }

    /// The factor to challenge for a `StepUp` decision: the user's first confirmed
    /// factor of the first acceptable kind, in the policy's order of preference.
    ///
    /// # Errors
    ///
    /// A store failure.
    #[tracing::instrument(name = "mfa.preferred_factor", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn preferred_factor(
        &self,
        user: &UserId,
        decision: &Decision,
    ) -> Result<Option<FactorInfo>> {
        let Decision::StepUp { acceptable, .. } = decision else {
            return Ok(None);
        };
        let rows = self.store.list_factors(user).await?;
        for kind in acceptable {
            if let Some(r) = rows
                .iter()
                .find(|r| r.value.confirmed && r.value.kind == *kind)
            {
                return Ok(Some(FactorInfo::from_row(&r.value, None)));
            }
        }
        Ok(None)
    }
}
