//! SMS, voice and email codes: enrollment (send, then confirm), challenges, resends,
//! and the attempt loop of mfa-oob's crate docs.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use mfa_oob::{
    Destination, OobRecord, OobState, OutgoingMessage, SendCounts, SendError, SendLimits,
};

use mfa_core::store::UserLimit;

use super::*;

const PURPOSE_OOB_CODE: &str = "oob-code";
/// Compare-and-swap retries of one attempt (each lost race paid nothing and checked
/// nothing, so a retry grants nothing).
const ATTEMPT_RETRIES: usize = 8;

/// The future a [`DynSender`] returns.
pub(crate) type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// mfa-oob's [`Sender`] as a trait object (its `send` returns `impl Future`, which a
/// `dyn` cannot). Implemented for every [`Sender`]; you never implement it yourself.
pub(crate) trait DynSender: Send + Sync {
    /// [`Sender::send`], boxed.
    fn send_dyn<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a>;
}

impl<T: Sender> DynSender for T {
    fn send_dyn<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(self.send(message))
    }
}

/// Where a new SMS, voice or email factor delivers its codes, as the user typed it:
/// [`Service::start_oob_enrollment`] parses and normalises it (E.164 for a phone
/// number, `region` the ISO 3166 country for a number without `+`).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct OobAddress<'a> {
    channel: Channel,
    text: &'a str,
    region: Option<&'a str>,
}

impl<'a> OobAddress<'a> {
    /// Codes by text message to `number`.
    pub fn sms(number: &'a str, region: Option<&'a str>) -> Self {
        Self::new(Channel::Sms, number, region)
    }

    /// Codes read out by a voice call to `number`.
    pub fn voice(number: &'a str, region: Option<&'a str>) -> Self {
        Self::new(Channel::Voice, number, region)
    }

    /// Codes by email to `address`.
    pub fn email(address: &'a str) -> Self {
        Self::new(Channel::Email, address, None)
    }

    /// Any channel (`region` is ignored for email).
    pub fn new(channel: Channel, text: &'a str, region: Option<&'a str>) -> Self {
        Self {
            channel,
            text,
            region,
        }
    }
}

/// What the service stores (sealed) for an SMS, voice or email factor: mfa-oob's record
/// and the factor's latest challenge, so a plain [`Response::Code`] (and
/// [`Service::finish_enrollment`]) finds it.
#[derive(Deserialize, Serialize)]
pub(super) struct OobFactorData {
    pub(super) record: OobRecord,
    #[serde(default)]
    pub(super) latest: Option<ChallengeId>,
}

/// A new SMS, voice or email enrollment: a code was sent; the factor is inactive until
/// [`Service::finish_enrollment`] accepts it.
#[non_exhaustive]
#[derive(Debug, Serialize)]
pub struct OobEnrollment {
    /// The new (unconfirmed) factor.
    pub factor_id: FactorId,
    /// Its kind.
    pub kind: FactorKind,
    /// The challenge holding the code sent (also the factor's latest challenge).
    pub challenge_id: ChallengeId,
    /// Where the code went, masked.
    pub destination: String,
    /// When the code expires.
    pub expires_at: Timestamp,
    /// When [`Service::resend_code`] is first allowed.
    pub resend_after: Timestamp,
}

/// The factor a code goes to, and so whose budget the send spends (see
/// [`Service::count_send`]).
#[derive(Clone, Copy)]
enum SendBudget<'a> {
    /// A code confirming a new enrollment of this (unconfirmed) factor: the
    /// destination's budget, whichever account asks.
    Enrollment(&'a FactorId),
    /// A sign-in code to this confirmed factor: its own budget, its owner's alone.
    Factor(&'a FactorId),
}

impl<'a> SendBudget<'a> {
    fn of(row: &'a FactorRecord) -> Self {
        if row.confirmed {
            Self::Factor(&row.id)
        } else {
            Self::Enrollment(&row.id)
        }
    }

    fn factor_id(self) -> &'a FactorId {
        match self {
            Self::Enrollment(id) | Self::Factor(id) => id,
        }
    }
}

fn kind_of(channel: Channel) -> Result<FactorKind> {
    match channel {
        Channel::Sms => Ok(FactorKind::Sms),
        Channel::Voice => Ok(FactorKind::Voice),
        Channel::Email => Ok(FactorKind::Email),
        _ => Err(CoreError::invalid("channel", "not an out-of-band channel").into()),
    }
}

fn lookup_key(destination: &Destination) -> Result<LookupKey> {
    Ok(match destination {
        Destination::Phone(p) => LookupKey::phone(p.e164())?,
        Destination::Email(e) => LookupKey::email(e.as_str())?,
        _ => return Err(CoreError::invalid("destination", "unknown kind").into()),
    })
}

impl<S: Store> Service<S> {
    // ---------------------------------------------------------------- enrollment

    /// Starts an SMS, voice or email enrollment: parses and normalises `destination`
    /// (a phone number, national with `region` such as `"US"`, or international; an
    /// email address), checks the policy's enrollment rules (the default policy allows
    /// two SMS numbers), stores the factor unconfirmed with a per-user lookup key on the
    /// normalised destination (one user cannot enroll a number or address twice; an
    /// abandoned unconfirmed enrollment of it is replaced), and sends a code through the
    /// [`Sender`]. [`finish_enrollment`](Self::finish_enrollment) with that code activates it.
    ///
    /// # Errors
    ///
    /// [`Error::NotConfigured`] without [`ServiceBuilder::oob_codes`]; a bad
    /// destination ([`Error::Core`], invalid input);
    /// [`Error::DestinationAlreadyEnrolled`]; [`Error::Enroll`] (too many
    /// SMS numbers, kind disabled); [`Error::StepUpRequired`];
    /// [`Error::Limited`] (a country not allowed, a send cap);
    /// [`Error::Delivery`] (nothing is kept then); a store failure.
    #[allow(
        clippy::too_many_arguments,
        reason = "the destination, its region and the label are all the user's input"
    )]
    #[tracing::instrument(name = "mfa.start_oob_enrollment", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn start_oob_enrollment(
        &self,
        user: &UserId,
        address: OobAddress<'_>,
        label: &str,
        session: &Session,
    ) -> Result<OobEnrollment> {
        check_label(label)?;
        let now = self.now();
        let codes = self.oob_codes()?;
        self.code_sender()?;
        let channel = address.channel;
        let kind = kind_of(channel)?;
        let destination = Destination::parse(channel, address.text, address.region)
            .map_err(mfa_oob::Error::from)?;
        self.check_enroll(user, session, kind, now).await?;
        let record = codes.enroll(channel, destination)?;
        let key = lookup_key(record.destination())?;
        let id = FactorId::generate(&mut self.rng.handle())?;
        let challenge_id = ChallengeId::generate(&mut self.rng.handle())?;
        let data = OobFactorData {
            record: record.clone(),
            latest: Some(challenge_id.clone()),
        };
        let row = FactorRecord::new(
            user.clone(),
            id.clone(),
            kind,
            self.encode_factor(user, &id, kind, &data)?,
            now,
        )
        .with_label(label)
        .with_lookup_key(key.clone());
        match self.store.insert_factor(row.clone()).await {
            Ok(_) => {}
            Err(StoreError::LookupKeyTaken) => {
                // An abandoned, unconfirmed enrollment of the same destination gives way;
                // a confirmed one is a duplicate.
                match self.store.factor_by_lookup_key(&key, Some(user)).await? {
                    Some(old) if !old.value.confirmed => {
                        self.store.remove_factor(user, &old.value.id).await?;
                        match self.store.insert_factor(row).await {
                            Ok(_) => {}
                            Err(StoreError::LookupKeyTaken) => {
                                return Err(Error::DestinationAlreadyEnrolled);
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                    _ => return Err(Error::DestinationAlreadyEnrolled),
                }
            }
            Err(e) => return Err(e.into()),
        }
        let sent = self
            .issue_code(
                user,
                SendBudget::Enrollment(&id),
                &record,
                &StartOptions::new(),
                challenge_id.clone(),
                now,
            )
            .await;
        let challenge = match sent {
            Ok(c) => c,
            Err(e) => {
                // Nothing was delivered: keep no half-enrolled factor.
                let _ = self.store.remove_factor(user, &id).await;
                return Err(e);
            }
        };
        self.emit(AuditEvent::new(now, Some(user), EventKind::Enrolled).factor(&id, kind))
            .await;
        let Challenge::OobCode {
            destination,
            expires_at,
            resend_after,
            ..
        } = challenge
        else {
            return Err(CoreError::invalid("challenge", "not a code challenge").into());
        };
        Ok(OobEnrollment {
            factor_id: id,
            kind,
            challenge_id,
            destination,
            expires_at,
            resend_after,
        })
    }

    // ---------------------------------------------------------------- challenges

    /// A new challenge for a confirmed SMS, voice or email factor (from
    /// [`start_challenge`](Self::start_challenge)).
    pub(super) async fn start_oob(
        &self,
        user: &UserId,
        row: Versioned<FactorRecord>,
        options: &StartOptions,
        now: Timestamp,
    ) -> Result<Challenge> {
        self.check_locked(user, &row.value.id, now).await?;
        let data: OobFactorData = self.decode_factor(&row.value)?;
        let challenge_id = ChallengeId::generate(&mut self.rng.handle())?;
        let challenge = self
            .issue_code(
                user,
                SendBudget::of(&row.value),
                &data.record,
                options,
                challenge_id.clone(),
                now,
            )
            .await?;
        // Point the factor at its latest challenge (for a plain `Response::Code`). The
        // code is out already; losing this race only means the caller must name the
        // challenge.
        let mut row = row;
        for _ in 0..3 {
            let mut data: OobFactorData = self.decode_factor(&row.value)?;
            data.latest = Some(challenge_id.clone());
            let mut updated = row.value.clone();
            updated.data = self.encode_factor(user, &updated.id, updated.kind, &data)?;
            match self
                .store
                .update_factor_if_version(updated, row.version)
                .await
            {
                Ok(_) => break,
                Err(StoreError::Conflict) => match self.store.factor(user, &row.value.id).await? {
                    Some(fresh) => row = fresh,
                    None => break,
                },
                Err(e) => {
                    tracing::warn!(target: "mfa::audit", user = user.as_str(), error = %e, "latest challenge not recorded on the factor");
                    break;
                }
            }
        }
        Ok(challenge)
    }

    /// Sends a new code for a pending challenge ("send again", or `channel` to switch
    /// between SMS and a voice call). Keeps the attempts used; enforces the cooldown,
    /// the sends per challenge and the hourly caps. The previous code stops verifying.
    /// Nothing is sent while the factor, the account or the destination is locked.
    ///
    /// # Errors
    ///
    /// A rejection for an unknown, expired or exhausted challenge;
    /// [`Error::Locked`] / [`AccountLocked`](Error::AccountLocked);
    /// [`Error::Limited`]; [`Error::Delivery`]; [`Error::Conflict`]
    /// when another request changed the challenge at the same time; a store failure.
    #[tracing::instrument(name = "mfa.resend_code", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), factor = factor_id.as_str(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn resend_code(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        challenge_id: &ChallengeId,
        channel: Option<Channel>,
        options: &StartOptions,
    ) -> Result<Challenge> {
        let now = self.now();
        let codes = self.oob_codes()?;
        let sender = self.code_sender()?;
        let owner = ChallengeOwner::User(user.clone());
        let pending = self
            .factor_challenge(&owner, challenge_id, factor_id, now)
            .await?;
        let row = self
            .store
            .factor(user, factor_id)
            .await?
            .ok_or(Error::UnknownFactor)?;
        // Nothing goes to a locked factor or account, or to a destination locked by
        // its failures; asking is not an attempt, so nothing is counted.
        self.check_locked(user, factor_id, now).await?;
        let data: OobFactorData = self.decode_factor(&row.value)?;
        self.check_destination_lockout(SendBudget::of(&row.value), data.record.destination(), now)
            .await?;
        let state: OobState =
            self.open_state(PURPOSE_OOB_CODE, &owner, challenge_id, &pending.value.data)?;
        let (mut challenge, next) =
            codes.resend(&data.record, &state, channel, now, &mut self.rng.handle())?;
        self.count_send(
            user,
            SendBudget::of(&row.value),
            data.record.destination(),
            options,
            now,
        )
        .await?;
        let message = challenge
            .take_message()
            .ok_or_else(|| CoreError::invalid("challenge", "no message to send"))?;
        let mut updated = pending.value.clone();
        updated.data = self.seal_state(PURPOSE_OOB_CODE, &owner, challenge_id, &next)?;
        updated.expires_at = next.expires_at();
        match self
            .store
            .update_challenge_if_version(updated, pending.version, now)
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict) => return Err(Error::Conflict),
            Err(StoreError::NotFound) => {
                return Err(CoreError::rejected(RejectReason::Expired).into());
            }
            Err(e) => return Err(e.into()),
        }
        sender.send_dyn(&message).await?;
        Ok(Challenge::OobCode {
            factor_id: factor_id.clone(),
            kind: row.value.kind,
            challenge_id: challenge_id.clone(),
            channel: challenge.channel(),
            destination: challenge.masked_destination().to_owned(),
            expires_at: challenge.expires_at(),
            resend_after: challenge.resend_after(),
            attempts_left: challenge.attempts_left(),
        })
    }

    /// Draws a code for `record`, counts the send against the caps, stores the sealed
    /// state under `challenge_id` (bound to the user and the factor) and sends it.
    async fn issue_code(
        &self,
        user: &UserId,
        budget: SendBudget<'_>,
        record: &OobRecord,
        options: &StartOptions,
        challenge_id: ChallengeId,
        now: Timestamp,
    ) -> Result<Challenge> {
        let codes = self.oob_codes()?;
        let sender = self.code_sender()?;
        let (mut challenge, state) =
            codes.start(Some(record), options, now, &mut self.rng.handle())?;
        self.check_destination_lockout(budget, record.destination(), now)
            .await?;
        self.count_send(user, budget, record.destination(), options, now)
            .await?;
        let factor_id = budget.factor_id();
        let message = challenge
            .take_message()
            .ok_or_else(|| CoreError::invalid("challenge", "no message to send"))?;
        let owner = ChallengeOwner::User(user.clone());
        let data = self.seal_state(PURPOSE_OOB_CODE, &owner, &challenge_id, &state)?;
        let pending = PendingChallenge::new(
            challenge_id.clone(),
            owner.clone(),
            data,
            state.expires_at(),
        )
        .with_factor(factor_id.clone());
        self.store.put_challenge(pending).await?;
        if let Err(e) = sender.send_dyn(&message).await {
            let _ = self.store.take_challenge(&challenge_id, &owner, now).await;
            return Err(e.into());
        }
        let country = match record.destination() {
            Destination::Phone(p) => Some(p.country_code()),
            _ => None,
        };
        crate::ops::metrics_code_sent(challenge.channel(), country);
        Ok(Challenge::OobCode {
            factor_id: factor_id.clone(),
            kind: codes.kind(record),
            challenge_id,
            channel: challenge.channel(),
            destination: challenge.masked_destination().to_owned(),
            expires_at: challenge.expires_at(),
            resend_after: challenge.resend_after(),
            attempts_left: challenge.attempts_left(),
        })
    }

    /// Refuses an enrollment code to a destination whose enrollment codes failed too
    /// often lately (whoever the user): the per-user limit of failures, counted per
    /// destination. Like the send budgets, this counter is for what anyone can reach:
    /// a confirmed factor's sign-in codes are guarded by its own lockout and its
    /// owner's, so strangers typing wrong codes to the same number cannot stop them.
    async fn check_destination_lockout(
        &self,
        budget: SendBudget<'_>,
        destination: &Destination,
        now: Timestamp,
    ) -> Result<()> {
        if let SendBudget::Factor(_) = budget {
            return Ok(());
        }
        let limits = *self.policy.failure_limits();
        let key = FailureKey::destination(destination.as_str())?;
        // Over the longer of window and lockout, as a factor's count: a lockout longer
        // than the window must not end when the count lapses.
        if let Some(f) = self
            .store
            .failures(&key, now, limits.counting_window())
            .await?
        {
            let until = f.last_at.saturating_add(limits.lockout);
            if f.count >= self.user_limit && now < until {
                return Err(Error::Locked { until });
            }
        }
        Ok(())
    }

    /// The abuse limits of one send, counted **before** deciding so they hold under
    /// concurrency: the cooldown since the last send of the same budget, then the hourly
    /// caps of that budget, of the user and of the client IP.
    ///
    /// The budget decides who can spend a destination's messages. An enrollment (an
    /// unconfirmed factor) spends the destination's own budget, shared by every account
    /// that enrolls it: that caps what anyone can make the service send to a number or
    /// address they do not own. A confirmed factor's sign-in codes spend that factor's
    /// budget, which only its owner can reach: another account that enrolls the same
    /// number over and over cannot block the owner's sign-in.
    async fn count_send(
        &self,
        user: &UserId,
        budget: SendBudget<'_>,
        destination: &Destination,
        options: &StartOptions,
        now: Timestamp,
    ) -> Result<()> {
        let limits = self.oob_codes()?.config().limits();
        let window = SendLimits::WINDOW;
        let key = match budget {
            SendBudget::Enrollment(_) => FailureKey::DestinationSends(
                mfa_core::store::DestinationKey::new(destination.as_str())?,
            ),
            SendBudget::Factor(factor_id) => FailureKey::factor_sends(user, factor_id),
        };
        let ukey = FailureKey::limit(user, UserLimit::CodesSent);
        let last = self.store.failures(&key, now, window).await?;
        limits.check_cooldown(last.map(|f| f.last_at), now)?;
        let d = self.store.record_failure(&key, now, window).await?.count;
        let u = self.store.record_failure(&ukey, now, window).await?.count;
        let ip = match options.context.client_ip {
            Some(ip) => Some(self.count_ip(ip, now, window).await?),
            None => None,
        };
        limits.check_send(&SendCounts::new(d, u, ip))?;
        Ok(())
    }

    async fn count_ip(
        &self,
        ip: IpAddr,
        now: Timestamp,
        window: std::time::Duration,
    ) -> Result<u32> {
        Ok(self
            .store
            .record_failure(&FailureKey::client_ip(ip), now, window)
            .await?
            .count)
    }

    // ---------------------------------------------------------------- verification

    /// The attempt loop (mfa-oob's crate docs): read the challenge, pay for the attempt
    /// with a compare-and-swap, only then check the code, and on success take the
    /// challenge — the one request whose take returns it wins. Runs after the lockout
    /// gate. `challenge_id` `None` means the factor's latest challenge.
    #[allow(
        clippy::too_many_arguments,
        reason = "internal step of verify and confirm"
    )]
    pub(super) async fn verify_oob(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        row: Versioned<FactorRecord>,
        challenge: Option<(&ChallengeId, Option<Versioned<PendingChallenge>>)>,
        code: &str,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<Outcome> {
        let codes = self.oob_codes()?;
        if purpose == Purpose::SignIn && !row.value.confirmed {
            return Err(Rejected::with_detail(
                RejectReason::FactorDisabled,
                "factor not confirmed",
            )
            .into());
        }
        if purpose == Purpose::Confirm && row.value.confirmed {
            return Err(CoreError::invalid("factor", "already confirmed").into());
        }
        let data: OobFactorData = self.decode_factor(&row.value)?;
        // Only enrollment codes count per destination (see `check_destination_lockout`).
        let enrolling = !row.value.confirmed;
        // The challenge as the begin read it (when the caller named it), else read here.
        let (id, mut read) = match challenge {
            Some((id, read)) => (
                id.clone(),
                Some(read.ok_or_else(|| CoreError::rejected(RejectReason::Expired))?),
            ),
            None => (
                data.latest.clone().ok_or_else(|| {
                    Rejected::with_detail(RejectReason::Expired, "no challenge was started")
                })?,
                None,
            ),
        };
        let owner = ChallengeOwner::User(user.clone());
        for _ in 0..ATTEMPT_RETRIES {
            // 1. Read without consuming.
            let pending = match read.take() {
                Some(p) => {
                    for_factor(p.value.factor.as_ref(), Some(factor_id))?;
                    p
                }
                None => self.factor_challenge(&owner, &id, factor_id, now).await?,
            };
            let state: OobState =
                self.open_state(PURPOSE_OOB_CODE, &owner, &id, &pending.value.data)?;
            // 2. Pay for the attempt. An expired challenge is removed. An exhausted one
            // is not: a request that paid one of its attempts before it ran out may be
            // checking the right code now, and must still be able to take it; the
            // challenge keeps refusing every further attempt until it expires.
            let next = match codes.begin_code_attempt(&state, now) {
                Ok(next) => next,
                Err(e) => {
                    if e.reject_reason() == Some(RejectReason::Expired) {
                        let _ = self.store.take_challenge(&id, &owner, now).await;
                    }
                    return Err(e.into());
                }
            };
            // 3. Store it with a compare-and-swap.
            let mut updated = pending.value.clone();
            updated.data = self.seal_state(PURPOSE_OOB_CODE, &owner, &id, &next)?;
            updated.expires_at = next.expires_at();
            match self
                .store
                .update_challenge_if_version(updated, pending.version, now)
                .await
            {
                Ok(_) => {}
                // Another request paid first; nothing was checked: read again.
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => {
                    return Err(CoreError::rejected(RejectReason::Expired).into());
                }
                Err(e) => return Err(e.into()),
            }
            // 4. Check, against the state just written.
            return match codes.verify_code(&data.record, &next, code, now) {
                Ok(verified) => {
                    // 5. Single use: only the request whose take wins commits; with it
                    // the factor's last use (and confirmation) and the counters' clearing.
                    let row = self
                        .commit_single_use(row, &id, purpose == Purpose::Confirm, now)
                        .await?;
                    Ok(Outcome {
                        row,
                        methods: verified.methods,
                        recovery: None,
                    })
                }
                Err(e) => {
                    if enrolling && e.is_rejection() {
                        self.count_destination_failure(data.record.destination(), now)
                            .await;
                    }
                    Err(e.into())
                }
            };
        }
        Err(Rejected::with_detail(RejectReason::Replay, "lost the attempt race repeatedly").into())
    }

    async fn count_destination_failure(&self, destination: &Destination, now: Timestamp) {
        let window = self.policy.failure_limits().counting_window();
        match FailureKey::destination(destination.as_str()) {
            Ok(key) => {
                if let Err(e) = self.store.record_failure(&key, now, window).await {
                    tracing::warn!(target: "mfa::audit", error = %e, "destination failure not counted");
                }
            }
            Err(e) => {
                tracing::warn!(target: "mfa::audit", error = %e, "destination failure not counted")
            }
        }
    }

    /// Commits a single-use success (a code sent out of band, a push): in one store
    /// step, the take of the challenge — only the request whose take wins succeeds —
    /// with the factor's last use (and confirmation) by compare-and-swap on the row
    /// already read, and the clearing of the counters. A swap that loses to a change of
    /// the row alone (a rename) reads the row again and retries: only bookkeeping
    /// changes, so a retry loses nothing; a challenge that is gone is a replay.
    pub(super) async fn commit_single_use(
        &self,
        mut row: Versioned<FactorRecord>,
        challenge: &ChallengeId,
        confirm: bool,
        now: Timestamp,
    ) -> Result<Versioned<FactorRecord>> {
        let (user, factor_id) = (row.value.user.clone(), row.value.id.clone());
        let owner = ChallengeOwner::User(user.clone());
        for _ in 0..5 {
            let mut updated = row.value.clone();
            updated.last_used_at = Some(now);
            if confirm {
                updated.confirmed = true;
            }
            let success = Success::new(&user, &factor_id, now)
                .with_update(updated.clone(), row.version)
                .with_take(challenge);
            match self.store.commit_verification(success).await {
                Ok(Some(version)) => return Ok(Versioned::new(updated, version)),
                Ok(None) => {
                    return Err(StoreError::Corrupt(
                        "a commit with an update returned no version".into(),
                    )
                    .into());
                }
                Err(StoreError::Conflict) => {
                    if self
                        .store
                        .challenge(challenge, &owner, now)
                        .await?
                        .is_none()
                    {
                        return Err(Rejected::with_detail(
                            RejectReason::Replay,
                            "the challenge was already used",
                        )
                        .into());
                    }
                    row = self
                        .store
                        .factor(&user, &factor_id)
                        .await?
                        .ok_or_else(|| CoreError::rejected(RejectReason::UnknownFactor))?;
                }
                Err(StoreError::NotFound) => {
                    return Err(CoreError::rejected(RejectReason::UnknownFactor).into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict)
    }
}
