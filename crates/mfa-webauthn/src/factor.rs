//! [`WebAuthnFactor`]: WebAuthn authentication as an [`mfa_core::Factor`].

use std::sync::Arc;

use mfa_core::{
    Attachment, AuthMethod, Factor, FactorKind, SecureRandom, StartOptions, Timestamp,
    UserVerification, Verified, WebAuthnHint,
};

use crate::authentication::{Authentication, AuthenticationRequest, AuthenticationState};
use crate::config::RelyingParty;
use crate::credential::{CredentialRecord, Preference};
use crate::error::{Error, InternalError, Result};
use crate::json::{AuthenticationResponseJson, CredentialRequestOptionsJson};

/// WebAuthn authentication as an [`mfa_core::Factor`]: a [`RelyingParty`] plus the
/// user-verification requirement every challenge starts from.
///
/// - [`Factor::start`] with a record asks for an assertion from that credential; with
///   `None` it starts a usernameless (discoverable-credential, passkey) sign-in with an
///   empty allow list, and only then may it use conditional mediation.
///   [`StartOptions::user_verification`] `Required` raises the factor's requirement (a
///   step-up, a passwordless sign-in); a lower value never lowers it, and since
///   `Preferred` is the options' default, the factor's own requirement applies then.
/// - [`Factor::verify`] runs §7.2 ([`RelyingParty::finish_authentication`]); when the
///   requirement was `Required` (the factor's or the challenge's), an assertion without
///   the UV flag is refused. In a usernameless sign-in the service finds the record by
///   the response's credential id, and must then check that
///   [`Authentication::user_handle`] (returned in [`Verified::details`]) is the handle of
///   the account it resolved.
///
/// # Methods proven (RFC 8176 `amr`)
///
/// In this order, each at most once:
///
/// | value | when |
/// | --- | --- |
/// | `hwk` | the key is proven hardware-bound: [`RelyingParty::is_hardware_bound`] (BE = 0 recorded **and** either a trusted attestation or [`danger_trust_device_bound_flag`](crate::RelyingPartyBuilder::danger_trust_device_bound_flag)) |
/// | `swk` | otherwise: a synced passkey, or a key whose device binding nothing proves (the BE flag alone is the authenticator's unattested word) |
/// | `pop` | always: the assertion is a signature by the credential key over a fresh challenge (proof of possession) |
/// | `user` | the UP flag was set (always: user presence is required) |
/// | `mfa` | the UV flag was set: the authenticator verified the user (PIN or biometric) on top of possession, so this one factor is a multi-factor authenticator (NIST SP 800-63B §5.1.9) and a UV passkey alone can reach AAL2 |
///
/// `pin` / `fpt` / `face` are never reported: WebAuthn does not say which verification
/// method the authenticator used.
#[derive(Clone, Debug)]
pub struct WebAuthnFactor {
    rp: Arc<RelyingParty>,
    user_verification: UserVerification,
}

impl WebAuthnFactor {
    /// A factor over `rp` (a [`RelyingParty`] or an `Arc` of one, shared with the
    /// registration code) whose challenges ask for `user_verification` unless a
    /// challenge's [`StartOptions`] asks for more.
    pub fn new(rp: impl Into<Arc<RelyingParty>>, user_verification: UserVerification) -> Self {
        Self {
            rp: rp.into(),
            user_verification,
        }
    }

    /// The relying party.
    pub fn relying_party(&self) -> &RelyingParty {
        &self.rp
    }

    /// The user-verification requirement challenges start from.
    pub fn user_verification(&self) -> UserVerification {
        self.user_verification
    }

    /// The RFC 8176 methods a verified assertion proves (see the type's docs).
    pub fn methods(&self, record: &CredentialRecord, auth: &Authentication) -> Vec<AuthMethod> {
        let mut methods = vec![
            if self.rp.is_hardware_bound(record) {
                AuthMethod::Hwk
            } else {
                AuthMethod::Swk
            },
            // Every verified assertion is a signature by the credential's private key
            // over a fresh challenge: proof of possession (RFC 8176 `pop`).
            AuthMethod::Pop,
        ];
        if auth.user_present {
            methods.push(AuthMethod::User);
        }
        if auth.user_verified {
            methods.push(AuthMethod::Mfa);
        }
        methods
    }
}

/// The requirement of one challenge: `Required` in the options raises the factor's;
/// anything else leaves it (`Preferred` is also the options' default, so it cannot
/// mean "lower this factor's requirement").
fn effective(factor: UserVerification, asked: UserVerification) -> UserVerification {
    match asked {
        UserVerification::Required => UserVerification::Required,
        _ => factor,
    }
}

impl Factor for WebAuthnFactor {
    type Record = CredentialRecord;
    type Challenge = CredentialRequestOptionsJson;
    type State = AuthenticationState;
    type Response = AuthenticationResponseJson;
    type Details = Authentication;
    type Error = Error;

    /// `WebAuthn` with the record's attachment, which is the client's unsigned
    /// `authenticatorAttachment` from registration. A cross-platform claim is kept only
    /// for a key proven hardware-bound ([`RelyingParty::is_hardware_bound`]), so the
    /// client's word alone never satisfies a "security keys only" rule; otherwise the
    /// attachment is reported unknown (`None`).
    fn kind(&self, record: &CredentialRecord) -> FactorKind {
        let attachment = match record.attachment {
            Some(Attachment::CrossPlatform) if !self.rp.is_hardware_bound(record) => None,
            a => a,
        };
        FactorKind::WebAuthn { attachment }
    }

    /// With a record, asks for an assertion from that credential; without one, starts a
    /// usernameless sign-in with an empty allow list. User verification is the factor's,
    /// raised to `required` when the options ask for it; conditional mediation is only
    /// possible without a record. A delivery channel is refused.
    fn start(
        &self,
        record: Option<&CredentialRecord>,
        options: &StartOptions,
        now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<(CredentialRequestOptionsJson, AuthenticationState)> {
        if options.channel.is_some() {
            return Err(mfa_core::InvalidInput::new(
                "channel",
                "a WebAuthn challenge has no delivery channel",
            )
            .into());
        }
        if options.conditional_mediation && record.is_some() {
            return Err(mfa_core::InvalidInput::new(
                "conditional mediation",
                "only for a sign-in without a known credential",
            )
            .into());
        }
        let req = AuthenticationRequest {
            allow_credentials: record
                .map(CredentialRecord::descriptor)
                .into_iter()
                .collect(),
            user_verification: match effective(self.user_verification, options.user_verification) {
                UserVerification::Discouraged => Preference::Discouraged,
                UserVerification::Preferred => Preference::Preferred,
                UserVerification::Required => Preference::Required,
            },
            conditional: options.conditional_mediation,
            // The caller's hints, or the one the credential's recorded attachment implies
            // (a hint steers the UI and proves nothing, so the client's unsigned word is
            // fine here; a usernameless sign-in has no credential, and no hint).
            hints: if options.hints.is_empty() {
                record
                    .and_then(|r| r.attachment)
                    .map(WebAuthnHint::for_attachment)
                    .into_iter()
                    .collect()
            } else {
                options.hints.clone()
            },
        };
        self.rp.start_authentication(&req, now, rng)
    }

    fn verify(
        &self,
        record: &CredentialRecord,
        state: &AuthenticationState,
        response: &AuthenticationResponseJson,
        now: Timestamp,
        _rng: &mut dyn SecureRandom,
    ) -> Result<Verified<CredentialRecord, Authentication>> {
        let auth = self
            .rp
            .finish_authentication(state, response, record, now)?;
        // The state carries the challenge's requirement; the factor's own holds even for
        // a state made elsewhere.
        if self.user_verification == UserVerification::Required && !auth.user_verified {
            return Err(InternalError::UserVerificationRequired.into());
        }
        let methods = self.methods(record, &auth);
        Ok(Verified::with_details(auth.record.clone(), methods, auth))
    }
}
