//! Challenges, verification and the lockout gate.

use super::*;

impl<S: Store> Service<S> {
    // ---------------------------------------------------------------- challenge / verify

    /// Starts a challenge for one of the user's factors. For TOTP, HOTP and recovery
    /// codes nothing is sent or stored; for WebAuthn the state is sealed and stored,
    /// redeemable once by this user; for SMS, voice and email a code is sent through
    /// the [`Sender`] after the abuse limits (cooldown, hourly caps per destination,
    /// user and `options.context.client_ip`) and its sealed state stored, bound to the
    /// user and the factor; for push the notification goes to the device after the
    /// push-fatigue limits. Nothing is sent to a locked factor or account (checked
    /// without counting an attempt).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownFactor`] for an unknown or unconfirmed factor, an option
    /// the factor cannot honour, [`Error::NotConfigured`],
    /// [`Error::Locked`] / [`AccountLocked`](Error::AccountLocked) before an
    /// SMS, voice, email or push send,
    /// [`Error::Limited`], [`Error::Delivery`], or a store failure.
    #[tracing::instrument(name = "mfa.start_challenge", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), factor = factor_id.as_str(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn start_challenge(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        options: &StartOptions,
    ) -> Result<Challenge> {
        let now = self.now();
        let row = self
            .store
            .factor(user, factor_id)
            .await?
            .ok_or(Error::UnknownFactor)?;
        if !row.value.confirmed {
            return Err(Error::UnknownFactor);
        }
        let kind = row.value.kind;
        match BuiltinFactor::for_kind(kind)? {
            BuiltinFactor::Totp | BuiltinFactor::Hotp | BuiltinFactor::RecoveryCode => {
                options.ensure_unprompted(kind.as_str())?;
                Ok(Challenge::Code {
                    factor_id: factor_id.clone(),
                    kind,
                })
            }
            BuiltinFactor::WebAuthn => {
                let factor = self.webauthn()?;
                let record: CredentialRecord = self.decode_factor(&row.value)?;
                let (options, state) = factor
                    .start(Some(&record), options, now, &mut self.rng.handle())
                    .map_err(Into::<CoreError>::into)?;
                let owner = ChallengeOwner::User(user.clone());
                let challenge_id = self
                    .put_authentication(owner, Some(factor_id), &state)
                    .await?;
                Ok(Challenge::WebAuthn {
                    factor_id: Some(factor_id.clone()),
                    challenge_id,
                    options: Box::new(options),
                })
            }
            BuiltinFactor::OobCode => self.start_oob(user, row, options, now).await,
            BuiltinFactor::Push => self.start_push(user, row, options, now).await,
        }
    }

    pub(super) async fn put_authentication(
        &self,
        owner: ChallengeOwner,
        factor: Option<&FactorId>,
        state: &AuthenticationState,
    ) -> Result<ChallengeId> {
        let id = ChallengeId::generate(&mut self.rng.handle())?;
        let data = self.seal_state(PURPOSE_WEBAUTHN_AUTHENTICATION, &owner, &id, state)?;
        let mut pending = PendingChallenge::new(id.clone(), owner, data, state.expires_at);
        if let Some(f) = factor {
            pending = pending.with_factor(f.clone());
        }
        self.store.put_challenge(pending).await?;
        Ok(id)
    }

    /// Verifies the user's response for one of their factors, after the lockout check.
    /// On success the failure counters are cleared and the outcome carries the methods,
    /// the updated session, its `amr` values and assurance level, and for a recovery
    /// code what is left.
    ///
    /// # Errors
    ///
    /// A rejection (no oracle: wrong, replayed, unknown, unconfirmed all look alike),
    /// [`Error::Locked`] / [`Backoff`](Error::Backoff), or a store failure
    /// — which fails closed: nothing is verified when the counters cannot be read or
    /// written.
    #[tracing::instrument(name = "mfa.verify", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), factor = factor_id.as_str(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn verify(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        response: Response<'_>,
        session: &Session,
    ) -> Result<Verification> {
        let start = std::time::Instant::now();
        let now = self.now();
        let out = async {
            // One round trip: the attempt judged and counted, its challenge read or
            // taken, the user's factors listed.
            let begun = self
                .begin(user, factor_id, response.challenge_use(), now)
                .await?;
            let after = counts_after(&begun.attempt);
            // The kind of the row verify_begun picks, for the failure's audit event.
            let mut kind = None;
            match self
                .verify_begun(user, factor_id, response, begun, now, &mut kind)
                .await
            {
                Ok((ok, listed)) => {
                    self.succeeded(user, factor_id, ok, Some(&listed), session, now)
                        .await
                }
                Err(e) => Err(self.failed(user, factor_id, kind, after, e, now).await),
            }
        }
        .await;
        observe_verification(&out, start);
        out
    }

    /// Verifies a response after [`begin`](Self::begin), against the factor's row from
    /// its listing, and commits a success (the swap, the challenge's take, the
    /// counters' clearing) in one more round trip. Returns the outcome and the user's
    /// other factors as listed (for the enrolled set the outcome's `amr` and assurance
    /// level are judged against).
    async fn verify_begun(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        response: Response<'_>,
        begun: Begun,
        now: Timestamp,
        loaded_kind: &mut Option<FactorKind>,
    ) -> Result<(Outcome, Vec<Versioned<FactorRecord>>)> {
        let Begun {
            attempt,
            factors: mut rows,
            ..
        } = begun;
        let row = take_row(&mut rows, factor_id)?;
        let kind = row.value.kind;
        *loaded_kind = Some(kind);
        let wrong_shape = || -> Error {
            Rejected::with_detail(
                RejectReason::WrongCode,
                "response of another shape than the factor",
            )
            .into()
        };
        let outcome = match (BuiltinFactor::for_kind(kind)?, response) {
            (BuiltinFactor::Totp, Response::Code(code)) => {
                let v = self
                    .verify_and_commit(&self.totp, row, &(), code, Purpose::SignIn, None, now)
                    .await?;
                Ok(Outcome::of(v.factor, v.methods))
            }
            (BuiltinFactor::Hotp, Response::Code(code)) => {
                let v = self
                    .verify_and_commit(&self.hotp, row, &(), code, Purpose::SignIn, None, now)
                    .await?;
                Ok(Outcome::of(v.factor, v.methods))
            }
            (BuiltinFactor::RecoveryCode, Response::Code(code)) => {
                let factor = self.recovery_factor()?;
                let v = self
                    .verify_and_commit(factor, row, &(), code, Purpose::SignIn, None, now)
                    .await?;
                let remaining = v.record.remaining();
                Ok(Outcome {
                    row: v.factor,
                    methods: v.methods,
                    recovery: Some(RecoveryUse {
                        remaining,
                        next_code: v.details.next_code,
                    }),
                })
            }
            (
                BuiltinFactor::WebAuthn,
                Response::WebAuthn {
                    challenge_id,
                    response,
                },
            ) => {
                let factor = self.webauthn()?;
                let owner = ChallengeOwner::User(user.clone());
                // Taken by the begin, once.
                let pending = attempt
                    .challenge
                    .ok_or_else(|| CoreError::rejected(RejectReason::Expired))?;
                for_factor(pending.value.factor.as_ref(), Some(factor_id))?;
                let state: AuthenticationState = self.open_state(
                    PURPOSE_WEBAUTHN_AUTHENTICATION,
                    &owner,
                    challenge_id,
                    &pending.value.data,
                )?;
                let v = self
                    .verify_passkey(factor, row, &state, response, now)
                    .await?;
                Ok(Outcome::of(v.factor, v.methods))
            }
            (BuiltinFactor::OobCode, Response::OobCode { challenge_id, code }) => {
                self.verify_oob(
                    user,
                    factor_id,
                    row,
                    Some((challenge_id, attempt.challenge)),
                    code,
                    Purpose::SignIn,
                    now,
                )
                .await
            }
            (BuiltinFactor::OobCode, Response::Code(code)) => {
                self.verify_oob(user, factor_id, row, None, code, Purpose::SignIn, now)
                    .await
            }
            (
                BuiltinFactor::Push,
                Response::Push {
                    challenge_id,
                    nonce,
                },
            ) => {
                self.complete_push(
                    user,
                    factor_id,
                    row,
                    challenge_id,
                    attempt.challenge,
                    nonce,
                    now,
                )
                .await
            }
            _ => Err(wrong_shape()),
        }?;
        Ok((outcome, rows))
    }

    /// A WebAuthn assertion verified against its stored row and committed
    /// ([`verify_and_commit`](Self::verify_and_commit)), then what it said of the passkey
    /// recorded: a refusal for a changed backup eligibility
    /// ([`passkey_refused`](Self::passkey_refused)), or a success's flag changes
    /// ([`passkey_flags`](Self::passkey_flags)). The one path of a known user's passkey
    /// and of the usernameless sign-in.
    pub(super) async fn verify_passkey(
        &self,
        factor: &WebAuthnFactor,
        row: Versioned<FactorRecord>,
        state: &AuthenticationState,
        response: &AuthenticationResponseJson,
        now: Timestamp,
    ) -> Result<VerifiedFactor<<WebAuthnFactor as Factor>::Record, mfa_webauthn::Authentication>>
    {
        // The stored row, for the refusal's notice: the verification consumes it.
        let before = row.value.clone();
        match self
            .verify_and_commit(factor, row, state, response, Purpose::SignIn, None, now)
            .await
        {
            Ok(v) => {
                self.passkey_flags(&before, &v.details, now).await;
                Ok(v)
            }
            Err(e) => {
                self.passkey_refused(&before, &e, now).await;
                Err(e)
            }
        }
    }

    /// The one verification loop, [`mfa_core::check_loaded`] (decode, verify purely)
    /// from the row the begin listed, with the envelope as its codec, then the commit
    /// of a success in one store step: the compare-and-swap (a lost race is a replay,
    /// [`mfa_core::Checked::committed`]), the challenge's take when `take` names one,
    /// and the clearing of the account's and the factor's failure counters.
    #[allow(
        clippy::too_many_arguments,
        reason = "one verification's inputs, each distinct"
    )]
    pub(super) async fn verify_and_commit<F: Factor>(
        &self,
        factor: &F,
        stored: Versioned<FactorRecord>,
        state: &F::State,
        response: &F::Response,
        purpose: Purpose,
        take: Option<&ChallengeId>,
        now: Timestamp,
    ) -> Result<VerifiedFactor<F::Record, F::Details>> {
        let (user, id) = (stored.value.user.clone(), stored.value.id.clone());
        let codec = self.sealer(Binding::Kind(stored.value.kind.as_str()));
        let attempt = Attempt::new(&user, &id, state, response, now).with_purpose(purpose);
        let checked =
            mfa_core::check_loaded(&codec, factor, stored, attempt, &mut self.rng.handle())?;
        let mut success =
            Success::new(&user, &id, now).with_update(checked.factor.clone(), checked.expected);
        if let Some(take) = take {
            success = success.with_take(take);
        }
        let result = self.store.commit_verification(success).await;
        let version = result.and_then(|v| {
            v.ok_or_else(|| {
                StoreError::Corrupt("a commit with an update returned no version".into())
            })
        });
        Ok(checked.committed(version)?)
    }

    /// Audits a success (its commit already cleared the counters) and answers it.
    pub(super) async fn succeeded(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        ok: Outcome,
        listed: Option<&[Versioned<FactorRecord>]>,
        session: &Session,
        now: Timestamp,
    ) -> Result<Verification> {
        let kind = ok.row.value.kind;
        self.emit(
            AuditEvent::new(
                now,
                Some(user),
                EventKind::Verified {
                    methods: ok.methods.clone(),
                },
            )
            .factor(factor_id, kind),
        )
        .await;
        if let Some(r) = &ok.recovery {
            self.emit(
                AuditEvent::new(
                    now,
                    Some(user),
                    EventKind::RecoveryCodeUsed {
                        remaining: r.remaining,
                    },
                )
                .factor(factor_id, kind),
            )
            .await;
            let notice = SecurityNotice::RecoveryCodeUsed {
                remaining: r.remaining,
            };
            match listed {
                // The contact among the rows the begin listed: no read.
                Some(rows) => self.notify_listed(user, rows, &ok.row.value, notice).await,
                None => self.notify(user, notice).await,
            }
        }
        self.verification(user, factor_id, ok, listed, session, now)
            .await
    }

    /// What a success gives the caller: the session with the methods just proven added,
    /// its `amr` values and assurance level (judged against the enrolled factors, the
    /// one just used counted as confirmed), and the factor. Shared by
    /// [`verify`](Self::verify) and [`finish_enrollment`](Self::finish_enrollment).
    /// `listed`: the user's other factors as the begin listed them (else they are read).
    pub(super) async fn verification(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        ok: Outcome,
        listed: Option<&[Versioned<FactorRecord>]>,
        session: &Session,
        now: Timestamp,
    ) -> Result<Verification> {
        // The session's methods and the new ones, in a Vec of its final size (a clone
        // and a push would reallocate on every verification).
        let mut methods = Vec::with_capacity(session.methods.len() + ok.methods.len());
        methods.extend_from_slice(&session.methods);
        methods.extend(ok.methods.iter().map(|m| CompletedMethod {
            method: *m,
            factor: Some(factor_id.clone()),
            at: now,
        }));
        let session = Session {
            methods,
            last_activity: Some(now),
        };
        let read;
        let others = match listed {
            Some(rows) => rows,
            None => {
                read = self.store.list_factors(user).await?;
                read.as_slice()
            }
        };
        // The factor just verified, as its commit left it (confirmed), and the others.
        let rows = || {
            core::iter::once(&ok.row.value).chain(
                others
                    .iter()
                    .map(|r| &r.value)
                    .filter(|r| r.id != *factor_id),
            )
        };
        let enrolled: Vec<EnrolledFactor> = rows().map(enrolled_factor).collect();
        let signal = if ok.row.value.kind.is_webauthn() {
            self.signal_of(user, rows())?
        } else {
            None
        };
        let amr = self.policy.amr(&session, &enrolled, now);
        let aal = self.policy.assurance(&session, &enrolled, now);
        Ok(Verification {
            user: user.clone(),
            factor: FactorInfo::from_row(&ok.row.value, ok.recovery.as_ref().map(|r| r.remaining))
                .with_destination(self.destination_of(&ok.row.value).ok().flatten()),
            acr: mfa_policy::oidc::evidence_acr(&ok.methods),
            signal,
            methods: ok.methods,
            session,
            amr,
            aal,
            recovery: ok.recovery,
        })
    }

    /// Audits a failed verification (the attempt was already counted by the gate) and
    /// reports a lockout it caused: the factor's, and the account's (with a security
    /// notice, since only an operator can end it).
    pub(super) async fn failed(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        kind: Option<FactorKind>,
        after: AttemptCounts,
        e: Error,
        now: Timestamp,
    ) -> Error {
        let mut event = AuditEvent::new(
            now,
            Some(user),
            EventKind::Failed {
                reason: reject_reason(&e),
            },
        );
        event.factor = Some(factor_id.clone());
        // The kind, for the audit log and the metrics' `kind` label: the caller's, from
        // the row it loaded (an unknown factor has none). Not read again: a failure,
        // which an attacker can repeat at will, costs no extra store round trip.
        event.kind = kind;
        self.emit(event).await;
        // The counts this attempt left, from the begin (judged and counted one attempt
        // at a time, so exactly one failure reaches each limit): no read.
        let limits = self.policy.failure_limits();
        if after.factor == limits.max_consecutive {
            self.emit_locked(user, factor_id, now.saturating_add(limits.lockout), now)
                .await;
        }
        if after.account == self.user_limit {
            let mut event = AuditEvent::new(
                now,
                Some(user),
                EventKind::AccountLocked {
                    failures: after.account,
                },
            );
            event.factor = Some(factor_id.clone());
            self.emit(event).await;
            self.notify(user, SecurityNotice::AccountLocked).await;
        }
        e
    }

    /// Clears the account's and the factor's failure counters, in one store step.
    pub(super) async fn clear_failures(&self, user: &UserId, factor_id: &FactorId) {
        let now = self.now();
        if let Err(e) = self.store.settle_attempt(user, factor_id, None, now).await {
            // The counters only stay higher than they should.
            tracing::warn!(target: "mfa::audit", user = user.as_str(), error = %e, "failure counters not cleared");
        }
    }

    /// The lockout gate, before any verification, and the first of its two round
    /// trips: the store judges the attempt by the policy's rules while it counts it
    /// ([`AttemptStore::count_attempt`]), reads or takes its challenge, and lists the
    /// user's factors ([`VerificationStore::begin_verification`]). Every attempt that
    /// gets past a backoff is counted **before** verifying, and one user's attempts are
    /// judged one at a time, so of any number of concurrent attempts at most the limit
    /// are verified; a success clears the counts.
    ///
    /// Two counts: the factor's, over the policy's
    /// [`counting_window`](mfa_policy::lockout::FailureLimits::counting_window), for
    /// backoff and the time-boxed lockout; and the account's consecutive failures over
    /// all factors, which time never restarts ([`NEVER_LAPSES`]): at the account limit
    /// every verification is refused until an operator unlocks the account. An attempt
    /// at a locked factor is counted on the factor (it extends the lockout) but not on
    /// the account: it is refused unverified, so it guesses nothing, and must not hasten
    /// a lock only an operator can end.
    pub(super) async fn begin(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        challenge: Option<ChallengeUse<'_>>,
        now: Timestamp,
    ) -> Result<Begun> {
        let mut request = AttemptRequest::new(user, factor_id, &self.rules, now);
        if let Some(c) = challenge {
            request = request.with_challenge(c);
        }
        // Fail closed: a store error here refuses the attempt unverified.
        let begun = self.store.begin_verification(&request).await?;
        match begun.attempt.verdict {
            Verdict::Proceed => Ok(begun),
            Verdict::Backoff { until } => Err(Error::Backoff { until }),
            Verdict::Locked { until } => {
                self.emit_locked(user, factor_id, until, now).await;
                Err(Error::Locked { until })
            }
            Verdict::AccountLocked => Err(Error::AccountLocked),
        }
    }

    /// Whether the account or the factor is locked now, read without counting an
    /// attempt: for calls that send something (a code, a push) or that an
    /// unauthenticated caller makes.
    ///
    /// # Errors
    ///
    /// [`Error::AccountLocked`], [`Error::Locked`] or a store failure
    /// (fail closed).
    pub(super) async fn check_locked(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        now: Timestamp,
    ) -> Result<()> {
        let window = self.policy.failure_limits().counting_window();
        let account = self
            .store
            .failures(&FailureKey::user(user), now, NEVER_LAPSES)
            .await?;
        if account.is_some_and(|u| u.count >= self.user_limit) {
            return Err(Error::AccountLocked);
        }
        let f = self
            .store
            .failures(&FailureKey::factor(user, factor_id), now, window)
            .await?;
        match self
            .policy
            .failure_state(f.map_or(0, |f| f.count), f.map(|f| f.last_at), now)
        {
            FailureState::LockedOut { until } => Err(Error::Locked { until }),
            _ => Ok(()),
        }
    }

    async fn emit_locked(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        until: Timestamp,
        now: Timestamp,
    ) {
        let mut event = AuditEvent::new(now, Some(user), EventKind::Locked { until });
        event.factor = Some(factor_id.clone());
        self.emit(event).await;
    }
}

/// The counts an attempt the begin let through left behind: one more than it found.
#[derive(Clone, Copy, Debug)]
pub(super) struct AttemptCounts {
    factor: u32,
    account: u32,
}

pub(super) fn counts_after(attempt: &AttemptCount) -> AttemptCounts {
    AttemptCounts {
        factor: attempt.factor.map_or(0, |f| f.count).saturating_add(1),
        account: attempt.account.map_or(0, |f| f.count).saturating_add(1),
    }
}

/// Takes the row of `factor_id` out of a listing; none is a rejection.
pub(super) fn take_row(
    rows: &mut Vec<Versioned<FactorRecord>>,
    factor_id: &FactorId,
) -> Result<Versioned<FactorRecord>> {
    let at = rows
        .iter()
        .position(|r| r.value.id == *factor_id)
        .ok_or_else(|| CoreError::rejected(RejectReason::UnknownFactor))?;
    Ok(rows.swap_remove(at))
}

/// A row as the policy sees it.
pub(super) fn enrolled_factor(row: &FactorRecord) -> EnrolledFactor {
    let mut e = EnrolledFactor::new(row.id.clone(), row.kind);
    e.confirmed = row.confirmed;
    e
}

/// The verification's latency and, for a refusal before any factor was read (the
/// lockout gate: no audit event), its count. Accepted and rejected verifications are
/// counted from their audit events, which know the factor's kind.
pub(super) fn observe_verification(out: &Result<Verification>, start: std::time::Instant) {
    let outcome = match out {
        Ok(_) => "accepted",
        Err(Error::Locked { .. } | Error::AccountLocked) => "locked",
        Err(Error::Backoff { .. }) => "backoff",
        Err(Error::Core(CoreError::Rejected(_) | CoreError::Invalid(_))) => "rejected",
        Err(_) => "error",
    };
    if matches!(outcome, "locked" | "backoff") {
        crate::ops::metrics_verification("unknown", outcome, outcome);
    }
    crate::ops::metrics_verification_duration(outcome, start.elapsed().as_secs_f64());
}
