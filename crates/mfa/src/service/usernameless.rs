//! The usernameless passkey sign-in: the user is learned from the credential, and its
//! attempts are counted per credential and client instead of on the account.

use super::*;

impl<S: Store> Service<S> {
    /// Starts a usernameless passkey sign-in: the user is learned from the credential.
    ///
    /// # Errors
    ///
    /// [`Error::NotConfigured`], an option WebAuthn cannot honour, or a store
    /// failure.
    #[tracing::instrument(name = "mfa.start_passkey_signin", target = "mfa::service", level = "info", skip_all, fields(user = tracing::field::Empty, kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn start_passkey_signin(&self, options: &StartOptions) -> Result<Challenge> {
        let now = self.now();
        let factor = self.webauthn()?;
        let (options, state) = factor
            .start(None, options, now, &mut self.rng.handle())
            .map_err(Into::<CoreError>::into)?;
        let challenge_id = self
            .put_authentication(ChallengeOwner::Usernameless, None, &state)
            .await?;
        Ok(Challenge::WebAuthn {
            factor_id: None,
            challenge_id,
            options: Box::new(options),
        })
    }

    /// Finishes a usernameless passkey sign-in: finds the credential by its id (the
    /// global lookup key), checks the account's and the factor's lockout without
    /// counting, verifies, and checks the returned user handle is that account's.
    ///
    /// The caller has proven nothing before this call but knowledge of a credential id,
    /// so a failure here never moves the account's or the factor's counters (a forged
    /// assertion must not lock the owner out): attempts are counted per credential and
    /// `client_ip` (the client's address as the service sees it; its /64 for IPv6),
    /// with the policy's backoff and lockout schedule. Without a client address they
    /// are counted per credential alone, so anyone can then slow down that passkey's
    /// usernameless sign-in (never its sign-in after a password).
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    #[tracing::instrument(name = "mfa.finish_passkey_signin", target = "mfa::service", level = "info", skip_all, fields(user = tracing::field::Empty, kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn finish_passkey_signin(
        &self,
        challenge_id: &ChallengeId,
        response: &AuthenticationResponseJson,
        session: &Session,
        client_ip: Option<IpAddr>,
    ) -> Result<Verification> {
        let start = std::time::Instant::now();
        let out = self
            .passkey_signin(challenge_id, response, session, client_ip)
            .await;
        verify::observe_verification(&out, start);
        out
    }

    async fn passkey_signin(
        &self,
        challenge_id: &ChallengeId,
        response: &AuthenticationResponseJson,
        session: &Session,
        client_ip: Option<IpAddr>,
    ) -> Result<Verification> {
        let now = self.now();
        let factor = self.webauthn()?;
        let key = LookupKey::webauthn_credential(&response.raw_id.0)?;
        let attempts = FailureKey::credential(&response.raw_id.0, client_ip)?;
        let Some(row) = self.store.factor_by_lookup_key(&key, None).await? else {
            // Consume the challenge anyway, so it cannot be retried, and count the
            // attempt against the credential id and client: ids callers invent are
            // paced too.
            let _ = self
                .store
                .take_challenge(challenge_id, &ChallengeOwner::Usernameless, now)
                .await;
            self.gate_key(&attempts, now).await?;
            let err: Error = CoreError::rejected(RejectReason::UnknownFactor).into();
            self.emit(AuditEvent::new(
                now,
                None,
                EventKind::Failed {
                    reason: reject_reason(&err),
                },
            ))
            .await;
            return Err(err);
        };
        let user = row.value.user.clone();
        let factor_id = row.value.id.clone();
        self.gate_usernameless(&user, &factor_id, &attempts, now)
            .await?;
        let result = async {
            let state: AuthenticationState = self
                .take_state(
                    PURPOSE_WEBAUTHN_AUTHENTICATION,
                    &ChallengeOwner::Usernameless,
                    challenge_id,
                    now,
                )
                .await?;
            if !row.value.confirmed || !row.value.kind.is_webauthn() {
                return Err(CoreError::rejected(RejectReason::FactorDisabled).into());
            }
            let verified = self
                .verify_passkey(factor, row, &state, response, now)
                .await?;
            if verified.details.user_handle.is_none() {
                return Err(Rejected::with_detail(
                    RejectReason::WrongCode,
                    "usernameless assertion without a user handle",
                )
                .into());
            }
            Ok(Outcome::of(verified.factor, verified.methods))
        }
        .await;
        match result {
            Ok(ok) => {
                // The commit cleared the account's and the factor's counters.
                if let Err(e) = self.store.clear_failures(&attempts).await {
                    tracing::warn!(target: "mfa::audit", user = user.as_str(), error = %e, "failure counter not cleared");
                }
                self.succeeded(&user, &factor_id, ok, None, session, now)
                    .await
            }
            Err(e) => {
                // Only the credential's count moved: the account's and the factor's
                // stay where the owner left them.
                let mut event = AuditEvent::new(
                    now,
                    Some(&user),
                    EventKind::Failed {
                        reason: reject_reason(&e),
                    },
                );
                event.factor = Some(factor_id);
                self.emit(event).await;
                Err(e)
            }
        }
    }

    /// An attempt whose counter moved by more than its own increment ran beside
    /// others: it is judged by the count they reached together, so a burst gets no more
    /// verifications than a sequence.
    fn judge_concurrent(&self, before: u32, after: u32, now: Timestamp) -> Result<()> {
        if after == before.saturating_add(1) {
            return Ok(());
        }
        match self
            .policy
            .failure_state(after.saturating_sub(1), Some(now), now)
        {
            FailureState::Open => Ok(()),
            FailureState::Backoff { until } => Err(Error::Backoff { until }),
            _ => Err(Error::Locked {
                until: now.saturating_add(self.policy.failure_limits().lockout),
            }),
        }
    }

    /// The gate of a usernameless sign-in, where the caller has proven nothing but
    /// knowledge of a credential id (which `allowCredentials` lists publish): the
    /// account's and the factor's locks are read, never counted, and the attempt is
    /// counted per credential and client network instead, with the same backoff and
    /// lockout schedule. A forged assertion so cannot lock the owner out.
    async fn gate_usernameless(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        key: &FailureKey,
        now: Timestamp,
    ) -> Result<()> {
        self.check_locked(user, factor_id, now).await?;
        self.gate_key(key, now).await
    }

    /// Counts one attempt on a key no user's lockout depends on (a credential from a
    /// client), refusing it by the policy's backoff and lockout schedule.
    async fn gate_key(&self, key: &FailureKey, now: Timestamp) -> Result<()> {
        let window = self.policy.failure_limits().counting_window();
        let prev = self.store.failures(key, now, window).await?;
        let state =
            self.policy
                .failure_state(prev.map_or(0, |f| f.count), prev.map(|f| f.last_at), now);
        match state {
            FailureState::Backoff { until } => return Err(Error::Backoff { until }),
            FailureState::LockedOut { until } => return Err(Error::Locked { until }),
            _ => {}
        }
        let now_count = self.store.record_failure(key, now, window).await?.count;
        self.judge_concurrent(prev.map_or(0, |f| f.count), now_count, now)
    }
}
