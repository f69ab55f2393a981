//! The builder: what a service is made of.

use super::*;

/// Builds a [`Service`]. Required, so given to [`Service::builder`]: a store, a
/// [`Policy`] and a [`KeySet`] (a missing one is a compile error). Optional: a
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
    pub(super) keys: KeySet,
    pub(super) recovery: Option<(Keyring, RecoveryConfig)>,
    pub(super) issuer: Option<String>,
    pub(super) audit: Option<Arc<dyn AuditSink>>,
    pub(super) sender: Option<Arc<dyn DynSender>>,
    pub(super) oob: Option<OobFactor>,
    pub(super) push: Option<(PushFactor, Arc<dyn DynPushTransport>)>,
    pub(super) totp: TotpFactor,
    pub(super) hotp: HotpFactor,
    pub(super) user_failure_limit: Option<u32>,
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

    /// Builds the service.
    ///
    /// # Errors
    ///
    /// [`Error::NotConfigured`] with out-of-band codes but no sender;
    /// [`Error::Core`] for an invalid recovery configuration or a user failure
    /// limit outside 1..=100.
    pub fn build(self) -> Result<Service<S>> {
        let policy = self.policy;
        let keys = self.keys;
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
        })
    }
}
