//! Relying-party configuration and the per-ceremony expectations derived from it.

use std::time::Duration;

use mfa_core::InvalidInput;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::cose::Algorithm;
use crate::credential::CredentialRecord;
use crate::crypto::Backend;
use crate::error::{IResult, InternalError};
use crate::hazmat::authdata::AuthenticatorData;
use crate::json::Base64UrlBytes;
use crate::metadata::{AuthenticatorStatus, CertificationLevel};
use crate::origins::{AllowedOrigin, OriginScope, RelatedOrigins, check_app_origin};
use crate::trust::{AttestationPolicy, AuthenticatorPolicy, TrustAnchorSource};

/// What one ceremony's response must match: the checks of §7.1 / §7.2 that depend on
/// the relying party and the challenge. A [`RelyingParty`] derives it when a ceremony
/// starts and keeps it in the (serialisable) state; [`crate::hazmat::verify_registration`] and
/// [`crate::hazmat::verify_authentication`] take it directly.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Expectations {
    /// The rp id; authData.rpIdHash must be its SHA-256.
    pub rp_id: String,
    /// Allowed `clientData.origin` values, exact string match (web origins and any
    /// app origins that were opted in).
    pub origins: Vec<String>,
    /// Also allow `https://` origins whose host is the rp id or a subdomain of it.
    #[serde(default)]
    pub allow_subdomains: bool,
    /// The challenge that was sent.
    pub challenge: Base64UrlBytes,
    /// Require the UP flag.
    pub user_presence_required: bool,
    /// Require the UV flag.
    pub user_verification_required: bool,
    /// Accept `crossOrigin: true` (an embedded iframe).
    #[serde(default)]
    pub allow_cross_origin: bool,
    /// Accepted `topOrigin` values when cross-origin use is allowed.
    #[serde(default)]
    pub allowed_top_origins: Vec<String>,
    /// Registration: the COSE algorithms that were offered.
    #[serde(default)]
    pub allowed_algorithms: Vec<i64>,
    /// Authentication: a FIDO AppID (§10.1.1) to accept when the client reports it used.
    /// Without one, an `appid` extension output is refused.
    #[serde(default)]
    pub appid: Option<String>,
    /// Registration: the credProps extension (§10.1.3) was requested. Without it, a
    /// `credProps` output is refused (§7.1 step 18); authentication never requests it.
    #[serde(default)]
    pub cred_props_requested: bool,
    /// Authentication: accept a response user handle that cannot be compared because
    /// the stored record has none (records migrated without one), **provided the user
    /// was identified before** (a non-empty allow list); the handle is then not
    /// returned as verified. Dangerous: the response's handle is unchecked. A
    /// usernameless sign-in always needs a stored handle. Off by default.
    #[serde(default)]
    pub danger_unbound_user_handle: bool,
    /// Accept RS1 (RSASSA-PKCS1-v1_5 with SHA-1, COSE -65535) credential keys: at
    /// registration (when also offered), in a `packed` self attestation (signed by that
    /// key), and at authentication. Dangerous: SHA-1 is broken for collisions. Off by
    /// default, and then an RS1 key is [`Error::Rejected`](crate::Error::Rejected) (`algorithm_not_allowed`). RS1 statements
    /// signed by an attestation certificate are a separate opt-in,
    /// [`AttestationPolicy::danger_allow_rs1_attestation`](crate::AttestationPolicy::danger_allow_rs1_attestation).
    #[serde(default)]
    pub danger_allow_rs1: bool,
    /// Authentication: what to do when the BE flag differs from the stored one (§7.2
    /// step 19); see [`BackupEligibilityRule`].
    #[serde(default)]
    pub backup_eligibility: BackupEligibilityRule,
}

impl Expectations {
    /// The authenticator-data checks both ceremonies share (§7.1 steps 13–16, §7.2 steps
    /// 15–18): rpIdHash is SHA-256 of `rp_id_hash_input` (the rp id, or the AppID where
    /// the client used it), UP and UV are set when required, and BS is not set without BE.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`](crate::Error::Rejected) (`rp_id_mismatch`), [`Error::Rejected`](crate::Error::Rejected) (`user_not_present`),
    /// [`Error::Rejected`](crate::Error::Rejected) (`user_verification_required`) or [`Error::Malformed`](crate::Error::Malformed).
    pub(crate) fn check_authenticator_data(
        &self,
        auth_data: &AuthenticatorData<'_>,
        rp_id_hash_input: &str,
    ) -> IResult<()> {
        // rpIdHash is public: a plain comparison leaks nothing.
        if auth_data.rp_id_hash[..] != Sha256::digest(rp_id_hash_input.as_bytes())[..] {
            return Err(InternalError::RpIdMismatch);
        }
        if self.user_presence_required && !auth_data.flags.user_present() {
            return Err(InternalError::UserNotPresent);
        }
        if self.user_verification_required && !auth_data.flags.user_verified() {
            return Err(InternalError::UserVerificationRequired);
        }
        if !auth_data.flags.backup_eligible() && auth_data.flags.backup_state() {
            return Err(InternalError::MalformedAuthenticatorData(
                "backup state without eligibility",
            ));
        }
        Ok(())
    }

    /// Whether `origin` is allowed (§7.1 step 9, §13.4.9).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        if self.origins.iter().any(|o| o == origin) {
            return true;
        }
        if !self.allow_subdomains {
            return false;
        }
        let Some(authority) = origin.strip_prefix("https://") else {
            return false;
        };
        // An origin has no path; drop a port.
        if authority.contains(['/', '?', '#', '@']) {
            return false;
        }
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        host == self.rp_id
            || host
                .strip_suffix(self.rp_id.as_str())
                .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1)
    }
}

/// What to do when an assertion's BE (backup eligible) flag differs from the one stored
/// at registration (§7.2 step 19, which makes it an error: BE is fixed when a
/// credential is created). Either way the change is reported, so the service audits it
/// and tells the user; it is never a silent lock-out.
///
/// Real authenticators have flipped BE after an update (a security key's firmware, a
/// platform that started syncing existing keys), locking users out of relying parties
/// that treat it as fatal without saying so.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupEligibilityRule {
    /// Refuse the assertion (`backup_eligibility_changed`), as the specification says.
    /// The service audits the refusal and sends the user a security notice saying the
    /// key must be registered again, so the user learns why and can recover with
    /// another factor.
    #[default]
    Reject,
    /// Accept the assertion, store the new BE, and report the change
    /// ([`Authentication::backup_eligibility_changed`](crate::Authentication::backup_eligibility_changed)).
    /// A key that became backup-eligible is no longer device-bound, so it stops earning
    /// `hwk` (and AAL3) from then on.
    AcceptAndRecord,
}

/// What to do when an assertion's sign count does not increase (§7.2 step 23).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
pub enum SignCountPolicy {
    /// Reject (the default): a possible cloned authenticator. Both counts zero is normal
    /// for authenticators without a counter and is always accepted.
    #[default]
    Reject,
    /// Accept and only report it in the result (`counter_regressed`). Dangerous.
    DangerAccept,
}

/// A relying party's configuration. Build it with [`RelyingParty::builder`].
#[derive(Clone, Debug)]
pub struct RelyingParty {
    pub(crate) rp_id: String,
    pub(crate) rp_name: String,
    pub(crate) origins: Vec<AllowedOrigin>,
    pub(crate) allow_subdomains: bool,
    pub(crate) allow_cross_origin: bool,
    pub(crate) allowed_top_origins: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) registration_timeout: Duration,
    pub(crate) authentication_timeout: Duration,
    pub(crate) sign_count: SignCountPolicy,
    pub(crate) backend: Backend,
    pub(crate) appid: Option<String>,
    pub(crate) trust_device_bound_flag: bool,
    pub(crate) unbound_user_handle: bool,
    pub(crate) trust_anchors: Option<std::sync::Arc<dyn TrustAnchorSource>>,
    pub(crate) require_trusted_attestation: bool,
    pub(crate) allow_rs1_attestation: bool,
    pub(crate) authenticators: AuthenticatorPolicy,
    pub(crate) allow_rs1: bool,
    pub(crate) backup_eligibility: BackupEligibilityRule,
}

impl RelyingParty {
    /// Starts a configuration for the rp id (a registrable domain, e.g. `example.com`)
    /// and a name shown to users.
    pub fn builder(rp_id: impl Into<String>, rp_name: impl Into<String>) -> RelyingPartyBuilder {
        RelyingPartyBuilder {
            rp: Self {
                rp_id: rp_id.into(),
                rp_name: rp_name.into(),
                origins: Vec::new(),
                allow_subdomains: false,
                allow_cross_origin: false,
                allowed_top_origins: Vec::new(),
                algorithms: Algorithm::DEFAULT_PREFERENCE.to_vec(),
                registration_timeout: Duration::from_secs(300),
                authentication_timeout: Duration::from_secs(300),
                sign_count: SignCountPolicy::Reject,
                backend: Backend::RustCrypto,
                appid: None,
                trust_device_bound_flag: false,
                unbound_user_handle: false,
                trust_anchors: None,
                require_trusted_attestation: false,
                allow_rs1_attestation: false,
                authenticators: AuthenticatorPolicy::default(),
                allow_rs1: false,
                backup_eligibility: BackupEligibilityRule::Reject,
            },
        }
    }

    /// The rp id.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// The signature backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether `record` is proven to be a hardware-bound (device-bound, not synced)
    /// key, which is what earns `hwk` (and so AAL3) and lets a cross-platform
    /// attachment count: its BE flag was clear at registration **and** either its
    /// attestation chained to a trusted anchor ([`CredentialRecord::attestation_trusted`])
    /// or this relying party opted in with
    /// [`RelyingPartyBuilder::danger_trust_device_bound_flag`].
    ///
    /// BE = 0 alone is the authenticator's word: with `none` or self attestation a
    /// software authenticator can claim it, so it is not trusted by default.
    pub fn is_hardware_bound(&self, record: &CredentialRecord) -> bool {
        record.backup_eligible == Some(false)
            && (record.attestation_trusted || self.trust_device_bound_flag)
    }

    /// The attestation policy registrations are verified with: the configured trust
    /// anchors, whether trusted attestation is required, and the RS1 opt-in (the
    /// argument of [`crate::hazmat::verify_registration_with`]).
    pub fn attestation_policy(&self) -> AttestationPolicy {
        AttestationPolicy {
            anchors: self.trust_anchors.clone(),
            require_trusted: self.require_trusted_attestation,
            danger_allow_rs1_attestation: self.allow_rs1_attestation,
            require_cts_profile_match: true,
            authenticators: self.authenticators.clone(),
        }
    }

    /// The `/.well-known/webauthn` document (§5.11) listing the related origins, or
    /// `None` when none is configured (then nothing needs to be served).
    pub fn related_origins(&self) -> Option<RelatedOrigins> {
        let origins: Vec<String> = self
            .origins
            .iter()
            .filter(|o| o.related)
            .map(|o| o.origin.clone())
            .collect();
        (!origins.is_empty()).then_some(RelatedOrigins { origins })
    }

    /// The origins accepted for registration (`registration` true) or authentication,
    /// in configuration order.
    pub fn origins_for(&self, registration: bool) -> Vec<String> {
        self.origins
            .iter()
            .filter(|o| {
                if registration {
                    o.scope.registration()
                } else {
                    o.scope.authentication()
                }
            })
            .map(|o| o.origin.clone())
            .collect()
    }

    pub(crate) fn expectations(
        &self,
        challenge: Base64UrlBytes,
        user_verification_required: bool,
        registration: bool,
    ) -> Expectations {
        Expectations {
            rp_id: self.rp_id.clone(),
            origins: self.origins_for(registration),
            allow_subdomains: self.allow_subdomains,
            challenge,
            user_presence_required: true,
            user_verification_required,
            allow_cross_origin: self.allow_cross_origin,
            allowed_top_origins: self.allowed_top_origins.clone(),
            allowed_algorithms: self.algorithms.iter().map(|a| a.cose_id()).collect(),
            appid: self.appid.clone(),
            cred_props_requested: false,
            danger_unbound_user_handle: self.unbound_user_handle,
            danger_allow_rs1: self.allow_rs1,
            backup_eligibility: self.backup_eligibility,
        }
    }
}

/// Builds a [`RelyingParty`].
#[derive(Clone, Debug)]
pub struct RelyingPartyBuilder {
    rp: RelyingParty,
}

impl RelyingPartyBuilder {
    /// Allows a web origin, exactly (`https://example.com`, `http://localhost:8080`), for
    /// both ceremonies.
    pub fn origin(self, origin: impl Into<String>) -> Self {
        self.origin_for(origin, OriginScope::All)
    }

    /// Allows a web origin for the ceremonies of `scope` only: an
    /// [`OriginScope::Authentication`] origin signs users in but cannot register keys.
    pub fn origin_for(mut self, origin: impl Into<String>, scope: OriginScope) -> Self {
        self.push(origin.into(), scope, false);
        self
    }

    /// Allows a related origin (WebAuthn L3 §5.11): an `https://` origin on another
    /// registrable domain that uses this rp id. It is listed in
    /// [`RelyingParty::related_origins`], the `/.well-known/webauthn` document the
    /// browser checks (serve it at `https://{rp id}/.well-known/webauthn`, e.g. with
    /// `mfa-axum`'s `related_origins_router`), and accepted for `scope`.
    /// [`build`](Self::build) refuses a list the browser would not honour in full.
    pub fn related_origin(mut self, origin: impl Into<String>, scope: OriginScope) -> Self {
        self.push(origin.into(), scope, true);
        self
    }

    /// Opts in to an app origin for both ceremonies: `android:apk-key-hash:<base64url
    /// SHA-256 of the signing certificate>` (what Android's Credential Manager sends) or
    /// `ios:bundle-id:...`. iOS and macOS apps using associated domains send the https
    /// origin of that domain, which [`origin`](Self::origin) covers.
    pub fn app_origin(self, origin: impl Into<String>) -> Self {
        self.app_origin_for(origin, OriginScope::All)
    }

    /// [`app_origin`](Self::app_origin) for the ceremonies of `scope` only.
    pub fn app_origin_for(mut self, origin: impl Into<String>, scope: OriginScope) -> Self {
        self.push(origin.into(), scope, false);
        self
    }

    fn push(&mut self, origin: String, scope: OriginScope, related: bool) {
        self.rp.origins.push(AllowedOrigin {
            origin,
            scope,
            related,
        });
    }

    /// Opts in to every `https://` subdomain of the rp id as an origin.
    pub fn allow_subdomains(mut self) -> Self {
        self.rp.allow_subdomains = true;
        self
    }

    /// Allows use from cross-origin iframes embedded by one of `top_origins`.
    pub fn allow_cross_origin(mut self, top_origins: impl IntoIterator<Item = String>) -> Self {
        self.rp.allow_cross_origin = true;
        self.rp.allowed_top_origins = top_origins.into_iter().collect();
        self
    }

    /// The algorithms to offer, most preferred first (default EdDSA, ES256, RS256;
    /// add [`Algorithm::Es384`], [`Algorithm::Es512`], the PS and RS variants,
    /// [`Algorithm::Ed448`] or [`Algorithm::MlDsa44`] here to accept such credentials at
    /// registration). [`build`](Self::build) refuses an algorithm the backend cannot
    /// verify, and [`Algorithm::Rs1`] without [`danger_allow_rs1`](Self::danger_allow_rs1).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.rp.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How long a registration may take (default five minutes).
    pub fn registration_timeout(mut self, t: Duration) -> Self {
        self.rp.registration_timeout = t;
        self
    }

    /// How long an authentication may take (default five minutes).
    pub fn authentication_timeout(mut self, t: Duration) -> Self {
        self.rp.authentication_timeout = t;
        self
    }

    /// The sign-count rule (default: reject regressions).
    pub fn sign_count_policy(mut self, p: SignCountPolicy) -> Self {
        self.rp.sign_count = p;
        self
    }

    /// The signature backend (default: pure Rust).
    pub fn backend(mut self, b: Backend) -> Self {
        self.rp.backend = b;
        self
    }

    /// Accepts assertions from credentials registered with the U2F AppID `appid`.
    pub fn appid(mut self, appid: impl Into<String>) -> Self {
        self.rp.appid = Some(appid.into());
        self
    }

    /// Trusts an unattested BE = 0 flag as proof that a key is hardware-bound
    /// ([`RelyingParty::is_hardware_bound`]): its assertions then report `hwk` and a
    /// cross-platform attachment counts. Only for deployments that control their
    /// authenticators (issued security keys) and accept that a software authenticator
    /// can claim the same flags. Off by default, and then only a trusted attestation
    /// proves hardware binding.
    pub fn danger_trust_device_bound_flag(mut self) -> Self {
        self.rp.trust_device_bound_flag = true;
        self
    }

    /// Accepts a response user handle that cannot be compared because the stored record
    /// has none (credentials migrated without one), when the sign-in had an allow list;
    /// see [`Expectations::danger_unbound_user_handle`]. Prefer setting
    /// [`CredentialRecord::user_handle`] on migrated records. Usernameless sign-in still
    /// needs a stored handle.
    pub fn danger_unbound_user_handle(mut self) -> Self {
        self.rp.unbound_user_handle = true;
        self
    }

    /// The roots attestation chains are validated against (§7.1 steps 23–24), for
    /// example a [`TrustAnchors`](crate::TrustAnchors) set. Where the source has roots
    /// for a statement (asked by format, AAGUID and certificate key id), its chain must validate to one of them
    /// at the registration's `now`, or the registration fails with
    /// [`Error::Rejected`](crate::Error::Rejected) (`untrusted_attestation`); a chain that
    /// validates makes [`CredentialRecord::attestation_trusted`] true.
    pub fn trust_anchors(mut self, source: impl TrustAnchorSource + 'static) -> Self {
        self.rp.trust_anchors = Some(std::sync::Arc::new(source));
        self
    }

    /// Refuses every registration whose attestation is not trusted: `none` and self
    /// attestation, and chains for which the trust anchors have no root. Needs
    /// [`trust_anchors`](Self::trust_anchors) ([`build`](Self::build) refuses it
    /// without), and registration requests that ask for attestation:
    /// [`RelyingParty::start_registration`] refuses [`Conveyance::None`](crate::Conveyance::None).
    pub fn require_trusted_attestation(mut self) -> Self {
        self.rp.require_trusted_attestation = true;
        self
    }

    /// Accepts RS1 (RSASSA-PKCS1-v1_5 with SHA-1, COSE -65535) **attestation statement**
    /// signatures, which Windows Hello TPMs use for `tpm` statements. SHA-1 is broken
    /// for collisions, so they are refused by default (`invalid_attestation_statement`).
    /// This covers every statement signed by an attestation certificate's key (`packed`
    /// with x5c, `tpm` AIK, ...), once per registration; it does not make RS1 credential
    /// keys acceptable (that is [`danger_allow_rs1`](Self::danger_allow_rs1)).
    pub fn danger_allow_rs1_attestation(mut self) -> Self {
        self.rp.allow_rs1_attestation = true;
        self
    }

    /// Accepts only these authenticator models (AAGUIDs), and only with a trusted
    /// attestation: the AAGUID of `none` or self attestation is the authenticator's
    /// claim. Implies [`require_trusted_attestation`](Self::require_trusted_attestation)
    /// (so it needs trust anchors, for example a
    /// [`MetadataTrustStore`](crate::MetadataTrustStore)). Refusals are
    /// [`Error::Rejected`](crate::Error::Rejected) (`untrusted_attestation`) with
    /// [`AuthenticatorRefusal::NotAllowed`](crate::AuthenticatorRefusal::NotAllowed).
    pub fn allow_aaguids(mut self, aaguids: impl IntoIterator<Item = [u8; 16]>) -> Self {
        self.rp.authenticators.allowed_aaguids.extend(aaguids);
        self
    }

    /// Refuses these authenticator models (AAGUIDs), whatever the attestation
    /// ([`AuthenticatorRefusal::Denied`](crate::AuthenticatorRefusal::Denied)).
    pub fn deny_aaguids(mut self, aaguids: impl IntoIterator<Item = [u8; 16]>) -> Self {
        self.rp.authenticators.denied_aaguids.extend(aaguids);
        self
    }

    /// Requires a trusted attestation whose metadata (a
    /// [`TrustAnchorSource::metadata_for`] answer, e.g. from a
    /// [`MetadataTrustStore`](crate::MetadataTrustStore)) states at least `level`.
    /// Implies [`require_trusted_attestation`](Self::require_trusted_attestation).
    pub fn minimum_certification_level(mut self, level: CertificationLevel) -> Self {
        self.rp.authenticators.minimum_certification_level = Some(level);
        self
    }

    /// The metadata statuses that refuse an authenticator (replacing the default
    /// [`AuthenticatorStatus::refused_by_default`]: revoked, the four compromises and
    /// user-verification bypass). An empty list refuses on no status.
    pub fn refused_statuses(
        mut self,
        statuses: impl IntoIterator<Item = AuthenticatorStatus>,
    ) -> Self {
        self.rp.authenticators.refused_statuses = statuses.into_iter().collect();
        self
    }

    /// The rule for a BE flag that changed since registration (default
    /// [`BackupEligibilityRule::Reject`]).
    pub fn backup_eligibility_rule(mut self, rule: BackupEligibilityRule) -> Self {
        self.rp.backup_eligibility = rule;
        self
    }

    /// Accepts RS1 (RSASSA-PKCS1-v1_5 with SHA-1, COSE -65535) **credential keys**:
    /// stored RS1 keys verify at every authentication, and RS1 may be offered with
    /// [`algorithms`](Self::algorithms) (this does not add it to the offer). For old
    /// TPMs that only sign with SHA-1; SHA-1 is broken for collisions, so an attacker
    /// who can make an authenticator sign a chosen message may forge another. Off by
    /// default: RS1 keys are then refused with [`Error::Rejected`](crate::Error::Rejected) (`algorithm_not_allowed`). A `packed`
    /// self attestation is signed by the credential key, so it follows this opt-in;
    /// statements signed by an attestation certificate follow
    /// [`danger_allow_rs1_attestation`](Self::danger_allow_rs1_attestation) instead.
    pub fn danger_allow_rs1(mut self) -> Self {
        self.rp.allow_rs1 = true;
        self
    }

    /// Checks and returns the configuration.
    ///
    /// # Errors
    ///
    /// When the rp id is empty, no origin is allowed, a web origin is not `https://`
    /// (or `http://localhost`), an app origin has an unknown scheme or an
    /// `android:apk-key-hash:` is not a base64url SHA-256, the related origins are not
    /// all https or have more than five registrable-domain labels
    /// ([`RelatedOrigins::validate`]), no algorithm is
    /// offered, an offered algorithm is not verified by the backend
    /// ([`Backend::supports`]), RS1 is offered without
    /// [`danger_allow_rs1`](Self::danger_allow_rs1), or trusted attestation is required
    /// (also through an AAGUID allow list or a minimum certification level) without trust
    /// anchors.
    pub fn build(mut self) -> Result<RelyingParty, InvalidInput> {
        // An allow list or a certification level can only be met by a trusted
        // attestation: require one, so `none` conveyance is refused at the start.
        if !self.rp.authenticators.allowed_aaguids.is_empty()
            || self.rp.authenticators.minimum_certification_level.is_some()
        {
            self.rp.require_trusted_attestation = true;
        }
        if self.rp.rp_id.is_empty() || self.rp.rp_id.contains(['/', ':']) {
            return Err(InvalidInput::new("rp id", "must be a bare domain"));
        }
        for AllowedOrigin { origin: o, .. } in &self.rp.origins {
            if o.starts_with("android:") || o.starts_with("ios:") {
                check_app_origin(o)?;
                continue;
            }
            let local = o == "http://localhost" || o.starts_with("http://localhost:");
            if !(o.starts_with("https://") || local) {
                return Err(InvalidInput::new(
                    "origin",
                    "must be https:// (or http://localhost), android:apk-key-hash: or ios:bundle-id:",
                ));
            }
        }
        if let Some(doc) = self.rp.related_origins() {
            doc.validate()?;
        }
        if self.rp.origins.is_empty() && !self.rp.allow_subdomains {
            return Err(InvalidInput::new("origins", "at least one is required"));
        }
        if self.rp.algorithms.is_empty() {
            return Err(InvalidInput::new("algorithms", "at least one is required"));
        }
        if self.rp.require_trusted_attestation && self.rp.trust_anchors.is_none() {
            return Err(InvalidInput::new(
                "require_trusted_attestation",
                "needs trust anchors",
            ));
        }
        if self.rp.algorithms.contains(&Algorithm::Rs1) && !self.rp.allow_rs1 {
            return Err(InvalidInput::new(
                "algorithms",
                "RS1 (SHA-1) needs danger_allow_rs1()",
            ));
        }
        if !self
            .rp
            .algorithms
            .iter()
            .all(|&a| self.rp.backend.supports(a))
        {
            return Err(InvalidInput::new(
                "algorithms",
                "an offered algorithm is not supported by the backend",
            ));
        }
        Ok(self.rp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(subdomains: bool) -> Expectations {
        Expectations {
            rp_id: "example.com".into(),
            origins: vec!["https://example.com".into()],
            allow_subdomains: subdomains,
            challenge: Base64UrlBytes(vec![1]),
            user_presence_required: true,
            user_verification_required: false,
            allow_cross_origin: false,
            allowed_top_origins: vec![],
            allowed_algorithms: vec![-7],
            appid: None,
            cred_props_requested: false,
            danger_unbound_user_handle: false,
            danger_allow_rs1: false,
            backup_eligibility: BackupEligibilityRule::Reject,
        }
    }

    #[test]
    fn origins_match_exactly_unless_subdomains_opted_in() {
        let strict = exp(false);
        assert!(strict.origin_allowed("https://example.com"));
        assert!(!strict.origin_allowed("https://example.com:443"));
        assert!(!strict.origin_allowed("https://login.example.com"));
        let subs = exp(true);
        assert!(subs.origin_allowed("https://login.example.com"));
        assert!(subs.origin_allowed("https://a.b.example.com:8443"));
        assert!(!subs.origin_allowed("https://badexample.com"));
        assert!(!subs.origin_allowed("http://login.example.com"));
        assert!(!subs.origin_allowed("https://.example.com"));
        assert!(!subs.origin_allowed("https://evil.com/.example.com"));
    }

    #[test]
    fn builder_rejects_bad_origins() {
        assert!(RelyingParty::builder("example.com", "Ex").build().is_err());
        assert!(
            RelyingParty::builder("example.com", "Ex")
                .origin("http://example.com")
                .build()
                .is_err()
        );
        assert!(
            RelyingParty::builder("example.com", "Ex")
                .origin("android:apk-key-hash:x")
                .build()
                .is_err()
        );
        assert!(
            RelyingParty::builder("example.com", "Ex")
                .origin("https://example.com")
                .app_origin("android:apk-key-hash:abc")
                .build()
                .is_err()
        );
        let apk = format!("android:apk-key-hash:{}", "A".repeat(43));
        let rp = RelyingParty::builder("example.com", "Ex")
            .origin("https://example.com")
            .app_origin(&apk)
            .build()
            .unwrap();
        assert_eq!(rp.origins.len(), 2);
        assert_eq!(rp.origins_for(true), ["https://example.com", apk.as_str()]);
        assert!(
            RelyingParty::builder("example.com", "Ex")
                .app_origin("ftp:x")
                .origin("https://example.com")
                .build()
                .is_err()
        );
    }
}
