//! Push approval: enrollment of a device key, the transaction, the device's answer, the
//! browser's poll and the single completion.

use std::time::Duration;

use mfa_core::store::UserLimit;
use mfa_oob::{
    EnrollmentChallenge, EnrollmentRequest, PushCounts, PushNotification, PushRecord, PushResponse,
    PushState,
};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::oob::SendFuture;

use super::*;

const PURPOSE_PUSH_ENROLLMENT: &str = "push-enrollment";
const PURPOSE_PUSH: &str = "push";
/// The size of the nonce binding a push to the requesting session (256 bits).
const NONCE_BYTES: usize = 32;
/// How long a device has to answer an enrollment challenge.
const ENROLLMENT_TTL: Duration = Duration::from_secs(600);

/// mfa-oob's [`PushTransport`](mfa_oob::PushTransport) as a trait object. Implemented
/// for every transport; you never implement it yourself.
pub(crate) trait DynPushTransport: Send + Sync {
    /// [`PushTransport::push`](mfa_oob::PushTransport::push), boxed.
    fn push_dyn<'a>(&'a self, notification: &'a PushNotification) -> SendFuture<'a>;
}

impl<T: mfa_oob::PushTransport> DynPushTransport for T {
    fn push_dyn<'a>(&'a self, notification: &'a PushNotification) -> SendFuture<'a> {
        Box::pin(self.push(notification))
    }
}

/// A started push enrollment: give `challenge` to the phone app, which answers with a
/// signed [`EnrollmentRequest`] for [`Service::finish_push_enrollment`].
#[non_exhaustive]
#[derive(Debug, Serialize)]
pub struct PushEnrollment {
    /// The handle of the stored enrollment.
    pub challenge_id: ChallengeId,
    /// What the device signs with its new key.
    pub challenge: EnrollmentChallenge,
    /// When the enrollment expires.
    pub expires_at: Timestamp,
}

/// What the service seals for a push transaction: mfa-oob's state and the SHA-256 of
/// the nonce the requesting session holds (the nonce itself is never stored).
#[derive(Deserialize, Serialize)]
struct SealedPush {
    state: PushState,
    session: [u8; 32],
}

impl SealedPush {
    /// Whether `nonce` is the requesting session's, in constant time.
    fn held_by(&self, nonce: &str) -> bool {
        let presented: [u8; 32] = nonce_hash(nonce);
        presented.ct_eq(&self.session).into()
    }
}

fn nonce_hash(nonce: &str) -> [u8; 32] {
    sha2::Sha256::digest(nonce.as_bytes()).into()
}

#[derive(Deserialize, Serialize)]
struct PendingPushEnrollment {
    challenge: EnrollmentChallenge,
    label: String,
}

impl<S: Store> Service<S> {
    /// Starts enrolling a phone for push approvals: a fresh challenge the device signs
    /// with the key it registers.
    ///
    /// # Errors
    ///
    /// [`Error::NotConfigured`] without [`ServiceBuilder::push`], a bad label,
    /// the enrollment checks, or a store failure.
    #[tracing::instrument(name = "mfa.start_push_enrollment", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn start_push_enrollment(
        &self,
        user: &UserId,
        label: &str,
        session: &Session,
    ) -> Result<PushEnrollment> {
        check_label(label)?;
        let now = self.now();
        self.push_factor()?;
        self.check_enroll(user, session, FactorKind::Push, now)
            .await?;
        let challenge = EnrollmentChallenge::generate(&mut self.rng.handle())?;
        let id = ChallengeId::generate(&mut self.rng.handle())?;
        let owner = ChallengeOwner::User(user.clone());
        let expires_at = now.saturating_add(ENROLLMENT_TTL);
        let pending = PendingPushEnrollment {
            challenge,
            label: label.to_owned(),
        };
        let data = self.seal_state(PURPOSE_PUSH_ENROLLMENT, &owner, &id, &pending)?;
        self.store
            .put_challenge(PendingChallenge::new(id.clone(), owner, data, expires_at))
            .await?;
        Ok(PushEnrollment {
            challenge_id: id,
            challenge,
            expires_at,
        })
    }

    /// Finishes a push enrollment with the device's signed request: the device proved
    /// it holds the key. Stored confirmed, with the key as a global lookup key (one
    /// device key serves one account).
    ///
    /// # Errors
    ///
    /// A rejection for an unknown, expired or used challenge or a signature that does
    /// not verify; [`Error::CredentialAlreadyRegistered`] for a key enrolled
    /// before; [`Error::Enroll`]; a store failure.
    #[tracing::instrument(name = "mfa.finish_push_enrollment", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn finish_push_enrollment(
        &self,
        user: &UserId,
        challenge_id: &ChallengeId,
        request: &EnrollmentRequest,
    ) -> Result<FactorInfo> {
        let now = self.now();
        let (factor, _) = self.push_factor()?;
        let owner = ChallengeOwner::User(user.clone());
        let pending: PendingPushEnrollment = self
            .take_state(PURPOSE_PUSH_ENROLLMENT, &owner, challenge_id, now)
            .await?;
        let record = factor.enroll(&pending.challenge, request, now)?;
        let (_, enrolled) = self.enrolled(user).await?;
        self.policy.check_enroll(&enrolled, FactorKind::Push)?;
        let id = FactorId::generate(&mut self.rng.handle())?;
        let data = self.encode_factor(user, &id, FactorKind::Push, &record)?;
        // One device key, one enrollment, by anyone: the key's SHA-256 is the global
        // lookup value, so the key itself is only ever stored sealed.
        let key = LookupKey::new(
            mfa_core::store::LookupScope::Global,
            "push-device",
            sha2::Sha256::digest(record.public_key().to_sec1()).to_vec(),
        )?;
        let row = FactorRecord::new(user.clone(), id.clone(), FactorKind::Push, data, now)
            .with_label(pending.label.clone())
            .with_lookup_key(key)
            .with_confirmed(true);
        self.insert_with(
            row.clone(),
            vec![
                AuditEvent::new(now, Some(user), EventKind::Enrolled).factor(&id, FactorKind::Push),
                AuditEvent::new(now, Some(user), EventKind::Confirmed)
                    .factor(&id, FactorKind::Push),
            ],
        )
        .await?;
        self.notify(
            user,
            SecurityNotice::FactorAdded {
                kind: FactorKind::Push,
                label: pending.label,
            },
        )
        .await;
        self.info(&row, None)
    }

    /// A push transaction for a confirmed push factor (from
    /// [`start_challenge`](Self::start_challenge)), after the push-fatigue limits.
    pub(super) async fn start_push(
        &self,
        user: &UserId,
        row: Versioned<FactorRecord>,
        options: &StartOptions,
        now: Timestamp,
    ) -> Result<Challenge> {
        let (factor, transport) = self.push_factor()?;
        // Nothing goes to a locked factor or account (read, not counted).
        self.check_locked(user, &row.value.id, now).await?;
        let record: PushRecord = self.decode_factor(&row.value)?;
        let (mut challenge, state) =
            factor.start(Some(&record), options, now, &mut self.rng.handle())?;
        // Push fatigue: transactions that may still be waiting (a counter whose window
        // is the transaction lifetime), and pushes since the last approved one.
        let pending_key = FailureKey::limit(user, UserLimit::PushesPending);
        let since_key = FailureKey::limit(user, UserLimit::PushesSinceSuccess);
        let ttl = factor.config().ttl();
        let pending = self.store.record_failure(&pending_key, now, ttl).await?;
        let since = self
            .store
            .record_failure(
                &since_key,
                now,
                mfa_oob::SendLimits::WINDOW.saturating_mul(24),
            )
            .await?;
        // Both counts include this push: a limit of n lets n pushes out.
        factor
            .config()
            .limits()
            .check(&PushCounts::new(pending.count, since.count))?;
        let id = state.transaction().challenge_id()?;
        let owner = ChallengeOwner::User(user.clone());
        // The requesting session's secret: the transaction id reaches the device (and
        // the push provider), so completing needs this too.
        let mut nonce = Zeroizing::new([0u8; NONCE_BYTES]);
        self.rng.fill(nonce.as_mut_slice())?;
        let nonce = PushNonce::new(URL_SAFE_NO_PAD.encode(nonce.as_slice()));
        let sealed = SealedPush {
            session: nonce_hash(nonce.expose()),
            state,
        };
        let data = self.seal_state(PURPOSE_PUSH, &owner, &id, &sealed)?;
        self.store
            .put_challenge(
                PendingChallenge::new(id.clone(), owner.clone(), data, sealed.state.expires_at())
                    .with_factor(row.value.id.clone()),
            )
            .await?;
        let mut notification = challenge
            .take_notification()
            .ok_or_else(|| CoreError::invalid("push", "no notification to send"))?;
        notification.account = Some(user.as_str().to_owned());
        if let Err(e) = transport.push_dyn(&notification).await {
            let _ = self.store.take_challenge(&id, &owner, now).await;
            return Err(e.into());
        }
        crate::ops::metrics_push_sent();
        Ok(Challenge::Push {
            factor_id: row.value.id.clone(),
            challenge_id: id,
            number: challenge.number().to_owned(),
            expires_at: challenge.expires_at(),
            nonce,
        })
    }

    /// The device's signed answer (approve with the number the user typed, or deny),
    /// recorded by compare-and-swap: of two answers one lands. A denial is audited as
    /// [`EventKind::PushDenied`] (possible fraud) and the user is notified. `user` is
    /// the notification's `account`.
    ///
    /// # Errors
    ///
    /// A rejection for an unknown or expired transaction, another device's key, a bad
    /// signature, or an answer that was already given; a store failure.
    #[tracing::instrument(name = "mfa.respond_push", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn respond_push(&self, user: &UserId, response: &PushResponse) -> Result<PushStatus> {
        let now = self.now();
        let (factor, _) = self.push_factor()?;
        let id = response.transaction().challenge_id()?;
        let owner = ChallengeOwner::User(user.clone());
        let pending = self
            .store
            .challenge(&id, &owner, now)
            .await?
            .ok_or_else(|| CoreError::rejected(RejectReason::Expired))?;
        let factor_id = pending
            .value
            .factor
            .clone()
            .ok_or_else(|| CoreError::rejected(RejectReason::UnknownFactor))?;
        let row = self
            .store
            .factor(user, &factor_id)
            .await?
            .ok_or_else(|| CoreError::rejected(RejectReason::UnknownFactor))?;
        if row.value.kind != FactorKind::Push || !row.value.confirmed {
            return Err(CoreError::rejected(RejectReason::UnknownFactor).into());
        }
        let record: PushRecord = self.decode_factor(&row.value)?;
        let sealed: SealedPush = self.open_state(PURPOSE_PUSH, &owner, &id, &pending.value.data)?;
        let next = match factor.record_response(&record, &sealed.state, response, now) {
            Ok(next) => next,
            Err(e) => {
                let err: Error = e.into();
                let mut event = AuditEvent::new(
                    now,
                    Some(user),
                    EventKind::Failed {
                        reason: reject_reason(&err),
                    },
                );
                event = event.factor(&factor_id, FactorKind::Push);
                self.emit(event).await;
                return Err(err);
            }
        };
        let expires_at = next.expires_at();
        let status = factor.status(&next, now);
        let next = SealedPush {
            state: next,
            session: sealed.session,
        };
        let mut updated = pending.value.clone();
        updated.data = self.seal_state(PURPOSE_PUSH, &owner, &id, &next)?;
        updated.expires_at = expires_at;
        match self
            .store
            .update_challenge_if_version(updated, pending.version, now)
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict) => {
                return Err(Rejected::with_detail(
                    RejectReason::Replay,
                    "another answer was recorded first",
                )
                .into());
            }
            Err(StoreError::NotFound) => {
                return Err(CoreError::rejected(RejectReason::Expired).into());
            }
            Err(e) => return Err(e.into()),
        }
        let _ = self
            .store
            .clear_failures(&FailureKey::limit(user, UserLimit::PushesPending))
            .await;
        if status == PushStatus::Approved {
            crate::ops::metrics_push_answered("approved");
        }
        if status == PushStatus::Denied {
            self.emit(
                AuditEvent::new(now, Some(user), EventKind::PushDenied)
                    .factor(&factor_id, FactorKind::Push),
            )
            .await;
            self.notify(user, SecurityNotice::PushDenied).await;
        }
        Ok(status)
    }

    /// The browser's poll: where the transaction stands, without consuming it. A
    /// transaction that is gone (completed, expired) reads as
    /// [`PushStatus::Expired`].
    ///
    /// # Errors
    ///
    /// [`Error::NotConfigured`], a state that does not open, or a store failure.
    #[tracing::instrument(name = "mfa.push_status", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn push_status(
        &self,
        user: &UserId,
        challenge_id: &ChallengeId,
    ) -> Result<PushStatus> {
        let now = self.now();
        let (factor, _) = self.push_factor()?;
        let owner = ChallengeOwner::User(user.clone());
        let Some(pending) = self.store.challenge(challenge_id, &owner, now).await? else {
            return Ok(PushStatus::Expired);
        };
        let sealed: SealedPush =
            self.open_state(PURPOSE_PUSH, &owner, challenge_id, &pending.value.data)?;
        Ok(factor.status(&sealed.state, now))
    }

    /// Completes an approved transaction once (from [`verify`](Self::verify), after the
    /// lockout gate) for the session holding its nonce: read, check the nonce, verify
    /// purely, then take — a take that finds nothing is a replay. A wrong or missing
    /// nonce is refused before anything else is looked at and leaves the transaction
    /// as it was (for the session that holds the nonce). A final refusal (denied, wrong
    /// number, expired) removes the transaction; a pending one stays (poll
    /// [`push_status`](Self::push_status) first: every call of `verify` counts as an
    /// attempt).
    #[allow(
        clippy::too_many_arguments,
        reason = "one completion's inputs, each distinct"
    )]
    pub(super) async fn complete_push(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        row: Versioned<FactorRecord>,
        challenge_id: &ChallengeId,
        read: Option<Versioned<PendingChallenge>>,
        nonce: &str,
        now: Timestamp,
    ) -> Result<Outcome> {
        let (factor, _) = self.push_factor()?;
        if !row.value.confirmed {
            return Err(Rejected::with_detail(
                RejectReason::FactorDisabled,
                "factor not confirmed",
            )
            .into());
        }
        let owner = ChallengeOwner::User(user.clone());
        // Read by the begin.
        let pending = read.ok_or_else(|| CoreError::rejected(RejectReason::Expired))?;
        for_factor(pending.value.factor.as_ref(), Some(factor_id))?;
        let record: PushRecord = self.decode_factor(&row.value)?;
        let sealed: SealedPush =
            self.open_state(PURPOSE_PUSH, &owner, challenge_id, &pending.value.data)?;
        if !sealed.held_by(nonce) {
            return Err(Rejected::with_detail(
                RejectReason::BindingMismatch,
                "not the session that started the push",
            )
            .into());
        }
        let state = sealed.state;
        if state.transaction().challenge_id()? != *challenge_id {
            return Err(Rejected::with_detail(
                RejectReason::BindingMismatch,
                "another transaction",
            )
            .into());
        }
        match factor.verify(
            &record,
            &state,
            &state.transaction(),
            now,
            &mut self.rng.handle(),
        ) {
            Ok(verified) => {
                // Single use: the take, the last use and the counters in one step.
                let row = self
                    .commit_single_use(row, challenge_id, false, now)
                    .await?;
                let _ = self
                    .store
                    .clear_failures(&FailureKey::limit(user, UserLimit::PushesSinceSuccess))
                    .await;
                Ok(Outcome {
                    row,
                    methods: verified.methods,
                    recovery: None,
                })
            }
            Err(mfa_oob::Error::Pending) => Err(mfa_oob::Error::Pending.into()),
            Err(e) => {
                let _ = self.store.take_challenge(challenge_id, &owner, now).await;
                Err(e.into())
            }
        }
    }
}
