//! The builder: what a service is made of.

use super::*;

/// Builds a [`Service`]. Required, so given to [`Service::builder`]: a store, a
/// [`Policy`] and the [`Keyring`] that seals stored records (a missing one is a compile
/// error). Optional: a
/// clock ([`SystemClock`]), a random source ([`OsRandom`]), a WebAuthn relying party, a
/// recovery-code keyring, the TOTP issuer, an audit sink, the out-of-band factors
/// (codes, push) and the [`Sender`] that delivers codes and security notices.
pub struct ServiceBuilder<S> {
    pub(super) store: S,
    pub(super) clock: Option<Arc<dyn Clock>>,
    pub(super) rng: Option<Box<dyn SecureRandom + Send>>,
    pub(super) rp: Option<Arc<RelyingParty>>,
    pub(super) webauthn_uv: UserVerification,
    pub(super) policy: Policy,
    pub(super) keys: Keyring,
    pub(super) recovery: Option<(Keyring, RecoveryConfig)>,
    pub(super) issuer: Option<String>,
    pub(super) audit: Option<Arc<dyn AuditSink>>,
    pub(super) sender: Option<Arc<dyn DynSender>>,
    pub(super) oob: Option<OobFactor>,
    pub(super) push: Option<(PushFactor, Arc<dyn DynPushTransport>)>,
    pub(super) totp: TotpFactor,
    pub(super) hotp: HotpFactor,
    pub(super) user_failure_limit: Option<u32>,
    pub(super) journal: Option<crate::ops::Journaling>,
    pub(super) trace_users: crate::ops::UserField,
}

impl<S> fmt::Debug for ServiceBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceBuilder").finish_non_exhaustive()
    }
}

impl<S: Store> ServiceBuilder<S> {
    /// The clock (default [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// A shared clock (a test's `FixedClock` it keeps moving).
    #[must_use]
    pub fn shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The random source (default [`OsRandom`]).
    #[must_use]
    pub fn random(mut self, rng: impl SecureRandom + Send + 'static) -> Self {
        self.rng = Some(Box::new(rng));
        self
    }

    /// The WebAuthn relying party, and the user verification every challenge asks for
    /// at least. Without it WebAuthn calls fail with [`Error::NotConfigured`].
    #[must_use]
    pub fn relying_party(mut self, rp: impl Into<Arc<RelyingParty>>, uv: UserVerification) -> Self {
        self.rp = Some(rp.into());
        self.webauthn_uv = uv;
        self
    }

    /// Replaces the policy given to [`Service::builder`].
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The recovery codes' pepper keyring and configuration.
    #[must_use]
    pub fn recovery(mut self, keyring: Keyring, config: RecoveryConfig) -> Self {
        self.recovery = Some((keyring, config));
        self
    }

    /// The issuer shown in authenticator apps (`otpauth://totp/ISSUER:account`).
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Where audit events go (besides `tracing`).
    #[must_use]
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }

    /// The [`Sender`] that delivers out-of-band codes **and** security notices (to the
    /// user's contact: their first confirmed email factor, else their first confirmed
    /// SMS or voice number). Keep a clone of the `Arc` to inspect a test sender.
    #[must_use]
    pub fn sender<T: Sender + 'static>(mut self, sender: Arc<T>) -> Self {
        self.sender = Some(sender);
        self
    }

    /// SMS, voice and email codes. Needs a [`sender`](Self::sender). Phone numbers go
    /// only to the countries its [`SendLimits`](mfa_oob::SendLimits) allow: the
    /// allow-list starts **empty**, so until it names countries every phone enrollment
    /// and send is refused ([`Error::Limited`]); email is not affected.
    #[must_use]
    pub fn oob_codes(mut self, codes: OobFactor) -> Self {
        self.oob = Some(codes);
        self
    }

    /// Push approval, delivered through `transport` (your APNs / FCM client).
    #[must_use]
    pub fn push<T: mfa_oob::PushTransport + 'static>(
        mut self,
        factor: PushFactor,
        transport: Arc<T>,
    ) -> Self {
        self.push = Some((factor, transport));
        self
    }

    /// The TOTP verifier (its window).
    #[must_use]
    pub fn totp(mut self, totp: TotpFactor) -> Self {
        self.totp = totp;
        self
    }

    /// The HOTP verifier (its look-ahead).
    #[must_use]
    pub fn hotp(mut self, hotp: HotpFactor) -> Self {
        self.hotp = hotp;
        self
    }

    /// Consecutive failed verifications over all of a user's factors after which every
    /// verification of the account is refused until an operator unlocks it
    /// ([`Admin::unlock`]) or resets the user: the account limit of NIST SP 800-63B-4
    /// §3.2.2 (at most 100). Only a success or the operator clears the count, never
    /// time. Default: three times the policy's `failures.max_consecutive`, at most 100
    /// (15 with the default policy).
    #[must_use]
    pub fn user_failure_limit(mut self, limit: u32) -> Self {
        self.user_failure_limit = Some(limit);
        self
    }

    /// Keeps a journal in the store: the hash-chained audit log and (with
    /// [`Journaling::security_events`](crate::ops::Journaling::security_events)) the
    /// outbox of Security Event Tokens, written in the transaction of the change they
    /// record (see [`ops`](crate::ops)). Needs a store that keeps one (SQLite,
    /// PostgreSQL, memory, or a `Split` over one of them).
    #[must_use]
    pub fn journal(mut self, journaling: crate::ops::Journaling) -> Self {
        self.journal = Some(journaling);
        self
    }

    /// How the user id appears in tracing spans and audit log lines (default: as is).
    #[must_use]
    pub fn trace_users(mut self, field: crate::ops::UserField) -> Self {
        self.trace_users = field;
        self
    }

    /// Builds the service.
    ///
    /// # Errors
    ///
    /// [`Error::NotConfigured`] with out-of-band codes but no sender;
    /// [`Error::Core`] for an envelope key that is not exactly 32 bytes (AES-256), an
    /// invalid recovery configuration or a user failure limit outside 1..=100;
    /// [`Error::NotConfigured`] for a journal over a store that keeps none, or one with
    /// nothing to record.
    pub fn build(self) -> Result<Service<S>> {
        if let Some(j) = &self.journal {
            if !self.store.keeps_journal() {
                return Err(Error::NotConfigured(
                    "a store that keeps a journal (SQLite, PostgreSQL, memory) for ServiceBuilder::journal",
                ));
            }
            if !j.records_anything() {
                return Err(Error::NotConfigured(
                    "a journal with an audit log or security events",
                ));
            }
        }
        let policy = self.policy;
        let keys = KeySet::new(&self.keys).map_err(CoreError::from)?;
        let recovery = match self.recovery {
            Some((k, c)) => Some(RecoveryFactor::new(k, c).map_err(Into::<CoreError>::into)?),
            None => None,
        };
        let max = policy.failure_limits().max_consecutive;
        let user_limit = self
            .user_failure_limit
            .unwrap_or_else(|| max.saturating_mul(3).min(100));
        if !(1..=100).contains(&user_limit) {
            return Err(CoreError::invalid("user failure limit", "must be 1 to 100").into());
        }
        let rules = attempt_rules(&policy, user_limit)?;
        if self.oob.is_some() && self.sender.is_none() {
            return Err(Error::NotConfigured("sender (for out-of-band codes)"));
        }
        if let Some(codes) = &self.oob
            && *codes.config().limits().countries()
                == mfa_oob::CountryCodes::Only(Default::default())
        {
            tracing::warn!(target: "mfa::audit", "out-of-band codes: no country calling code is allowed, so phone numbers are refused (SendLimits::with_allowed_country_codes)");
        }
        let webauthn = self.rp.map(|rp| WebAuthnFactor::new(rp, self.webauthn_uv));
        Ok(Service {
            store: self.store,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            rng: SharedRandom::new(self.rng.unwrap_or_else(|| Box::new(OsRandom))),
            webauthn,
            policy,
            keys,
            recovery,
            issuer: self.issuer,
            audit: self.audit,
            sender: self.sender,
            oob: self.oob,
            push: self.push,
            totp: self.totp,
            hotp: self.hotp,
            user_limit,
            rules,
            ops: journal::Ops::new(self.journal, self.trace_users),
        })
    }
}

/// The policy's failure limits as the store applies them ([`AttemptRules`]): the wait
/// after `c` failures for each `c` below the lock, read off
/// [`Policy::failure_state`] itself (so the store judges exactly as the policy does),
/// the lockout, the counting window and the account limit.
pub(super) fn attempt_rules(policy: &Policy, user_limit: u32) -> Result<AttemptRules> {
    let limits = policy.failure_limits();
    let t0 = Timestamp::from_unix_secs(1_000_000_000);
    let backoff: Vec<std::time::Duration> = (0..limits.max_consecutive)
        .map(|c| match policy.failure_state(c, Some(t0), t0) {
            FailureState::Backoff { until } | FailureState::LockedOut { until } => {
                until.saturating_since(t0)
            }
            _ => std::time::Duration::ZERO,
        })
        .collect();
    Ok(AttemptRules::new(
        user_limit,
        limits.counting_window(),
        &backoff,
        limits.lockout,
    )?)
}

#[cfg(test)]
mod tests {
    use mfa_core::store::Failures;
    use mfa_policy::lockout::FailureState;

    use super::*;

    /// The store judges by [`AttemptRules`]; the service used to judge by
    /// `Policy::failure_state`. Over several schedules, every count up to past the lock
    /// and every second around each wait, the two agree on refuse or proceed, on backoff
    /// or lock, and on when a backoff ends.
    #[test]
    fn the_stores_rules_judge_as_the_policy_does() {
        let schedules = [
            "",
            "[failures]\nmax_consecutive = 10\nbackoff_after = 1\nbackoff_base = \"7s\"\nbackoff_max = \"100s\"\nlockout = \"1h\"\nwindow = \"2h\"\n",
            "[failures]\nmax_consecutive = 1\nbackoff_after = 0\nlockout = \"30s\"\n",
            "[failures]\nmax_consecutive = 100\nbackoff_after = 100\n",
        ];
        let t0 = 1_700_000_000;
        let mut checked = 0;
        for extra in schedules {
            let text = format!("version = 1\nmode = \"always\"\n{extra}");
            let policy = Policy::from_toml(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let rules = attempt_rules(&policy, 100).unwrap_or_else(|e| panic!("{e}"));
            let limits = policy.failure_limits();
            for count in 1..=limits.max_consecutive + 2 {
                for dt in 0..=(limits.backoff_max.as_secs().max(limits.lockout.as_secs()) + 2) {
                    let last = Timestamp::from_unix_secs(t0);
                    let now = Timestamp::from_unix_secs(t0 + dt);
                    let f = Failures::new(count, last, last);
                    let store = rules.judge(None, Some(f), now);
                    let service = policy.failure_state(count, Some(last), now);
                    match (store, service) {
                        (Verdict::Proceed, FailureState::Open) => {}
                        (Verdict::Backoff { until: a }, FailureState::Backoff { until: b }) => {
                            assert_eq!(a, b, "{text} count {count} +{dt}s");
                        }
                        (Verdict::Locked { .. }, FailureState::LockedOut { .. }) => {}
                        other => panic!("{text}: count {count} +{dt}s: {other:?}"),
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }
}
