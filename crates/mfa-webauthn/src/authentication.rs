//! Authentication: request options, state, and the §7.2 verification.

use mfa_core::{SecureRandom, Timestamp, WebAuthnHint};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::client_data::{Ceremony, CollectedClientData};
use crate::config::{BackupEligibilityRule, Expectations, RelyingParty, SignCountPolicy};
use crate::credential::{CredentialRecord, Preference, millis, new_challenge};
use crate::crypto::Backend;
use crate::error::{IResult, InternalError, Result};
use crate::hazmat::authdata::{AuthenticatorData, Flags};
use crate::json::{
    AuthenticationResponseJson, Base64UrlBytes, CredentialDescriptor, CredentialRequestOptionsJson,
    ExtensionInputs, RequestOptionsJson,
};

/// The inputs of an authentication.
#[derive(Clone, Debug, Default)]
pub struct AuthenticationRequest {
    /// The user's credentials; empty for a usernameless sign-in with discoverable
    /// credentials (passkeys), where the authenticator picks the account and the
    /// response must carry its user handle.
    pub allow_credentials: Vec<CredentialDescriptor>,
    /// Whether user verification is wanted.
    pub user_verification: Preference,
    /// Conditional mediation (passkey autofill); needs an empty allow list.
    pub conditional: bool,
    /// Hints for the browser's UI (§5.8.7), most preferred first.
    pub hints: Vec<WebAuthnHint>,
}

/// What the relying party keeps between starting and finishing an authentication.
/// **Store it server side**; it is single use.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct AuthenticationState {
    /// The checks the response must pass.
    pub expectations: Expectations,
    /// The credential ids that may answer; empty for a usernameless sign-in.
    pub allowed: Vec<Base64UrlBytes>,
    /// After this instant the state is refused.
    pub expires_at: Timestamp,
}

/// A verified assertion.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Authentication {
    /// The record to store in place of the old one (new counter, flags).
    pub record: CredentialRecord,
    /// The new signature counter.
    pub sign_count: u32,
    /// The user handle the response carried, verified equal to the record's (§7.2 step
    /// 6); `None` when the response had none (possible only with a non-empty allow
    /// list). A service that found the account by this handle (a usernameless sign-in)
    /// must check it is that account's.
    pub user_handle: Option<Base64UrlBytes>,
    /// UP was set.
    pub user_present: bool,
    /// UV was set.
    pub user_verified: bool,
    /// BS: the credential is backed up now.
    pub backup_state: bool,
    /// BS differs from the stored record's (a passkey was backed up, or stopped being):
    /// allowed by §6.1.3, worth an audit entry. The returned record has the new BS.
    pub backup_state_changed: bool,
    /// BE differs from the stored record's and
    /// [`BackupEligibilityRule::AcceptAndRecord`](crate::BackupEligibilityRule::AcceptAndRecord)
    /// let it pass: audit it. The returned record has the new BE.
    pub backup_eligibility_changed: bool,
    /// The authenticator data flags.
    pub flags: Flags,
    /// The counter did not increase but [`SignCountPolicy::DangerAccept`] let it pass.
    pub counter_regressed: bool,
}

impl RelyingParty {
    /// Starts an authentication (§5.1.4): options for `navigator.credentials.get()`, and
    /// the state to keep.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) for conditional mediation with an allow list;
    /// [`Error::Random`](crate::Error::Random) when the random source fails.
    pub fn start_authentication(
        &self,
        req: &AuthenticationRequest,
        now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<(CredentialRequestOptionsJson, AuthenticationState)> {
        if req.conditional && !req.allow_credentials.is_empty() {
            return Err(mfa_core::InvalidInput::new(
                "allow credentials",
                "must be empty for conditional mediation",
            )
            .into());
        }
        let challenge = new_challenge(rng)?;
        let options = CredentialRequestOptionsJson {
            public_key: RequestOptionsJson {
                challenge: challenge.clone(),
                timeout: Some(millis(self.authentication_timeout)),
                rp_id: Some(self.rp_id.clone()),
                allow_credentials: req.allow_credentials.clone(),
                user_verification: Some(
                    match req.user_verification {
                        Preference::Required => "required",
                        Preference::Preferred => "preferred",
                        Preference::Discouraged => "discouraged",
                    }
                    .to_owned(),
                ),
                hints: req.hints.iter().map(|h| h.as_str().to_owned()).collect(),
                extensions: self.appid.as_ref().map(|a| ExtensionInputs {
                    cred_props: None,
                    appid: Some(a.clone()),
                }),
            },
            mediation: req.conditional.then(|| "conditional".to_owned()),
        };
        let mut expectations = self.expectations(
            challenge,
            req.user_verification == Preference::Required,
            false,
        );
        expectations.allowed_algorithms.clear();
        let state = AuthenticationState {
            expectations,
            allowed: req.allow_credentials.iter().map(|d| d.id.clone()).collect(),
            expires_at: now.saturating_add(self.authentication_timeout),
        };
        Ok((options, state))
    }

    /// Finishes an authentication (§7.2) against the stored `record` at `now`.
    ///
    /// The caller looks `record` up by the response's credential id (§7.2 step 7) and
    /// stores the returned record with a compare-and-swap.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`](crate::Error::Rejected) (`challenge_mismatch` (an expired state)) after the state's deadline, or any verification error.
    pub fn finish_authentication(
        &self,
        state: &AuthenticationState,
        response: &AuthenticationResponseJson,
        record: &CredentialRecord,
        now: Timestamp,
    ) -> Result<Authentication> {
        if now > state.expires_at {
            return Err(InternalError::Expired.into());
        }
        if state.expectations.rp_id != self.rp_id {
            return Err(InternalError::RpIdMismatch.into());
        }
        verify_authentication(
            &state.expectations,
            &state.allowed,
            response,
            record,
            self.sign_count,
            self.backend,
        )
    }
}

/// The authentication procedure of §7.2 against explicit expectations: the pure core
/// that [`RelyingParty::finish_authentication`] and the conformance runner share.
///
/// `allowed` is the allow list that was sent; empty means the user was not identified
/// before (a usernameless sign-in), so the response must carry a user handle equal to
/// the record's.
///
/// # Errors
///
/// The first failed check: [`Error::Malformed`](crate::Error::Malformed) for input that does not parse, else the opaque [`Error::Rejected`](crate::Error::Rejected) with its code.
pub fn verify_authentication(
    exp: &Expectations,
    allowed: &[Base64UrlBytes],
    response: &AuthenticationResponseJson,
    stored: &CredentialRecord,
    sign_count_policy: SignCountPolicy,
    backend: Backend,
) -> Result<Authentication> {
    verify_assertion(exp, allowed, response, stored, sign_count_policy, backend).map_err(Into::into)
}

fn verify_assertion(
    exp: &Expectations,
    allowed: &[Base64UrlBytes],
    response: &AuthenticationResponseJson,
    stored: &CredentialRecord,
    sign_count_policy: SignCountPolicy,
    backend: Backend,
) -> IResult<Authentication> {
    if response.type_ != "public-key" {
        return Err(InternalError::Malformed("credential type"));
    }
    if Base64UrlBytes::decode(&response.id).ok().as_ref() != Some(&response.raw_id) {
        return Err(InternalError::CredentialIdMismatch);
    }
    // Step 5: if allowCredentials was given, the credential is one of them.
    if !allowed.is_empty() && !allowed.contains(&response.raw_id) {
        return Err(InternalError::CredentialIdMismatch);
    }
    // Step 7: the stored record is the one for this credential id.
    if response.raw_id != stored.id {
        return Err(InternalError::CredentialIdMismatch);
    }
    // Step 6: in a usernameless sign-in (no allow list, the user not identified before)
    // the response must carry a user handle; whenever it carries one, it must equal the
    // user handle the credential was created for. A handle that cannot be compared (the
    // record has none) is refused, unless the caller opted out for records without one
    // and identified the user otherwise (an allow list).
    let r = &response.response;
    let user_handle = match (&r.user_handle, &stored.user_handle) {
        (None, _) if allowed.is_empty() => return Err(InternalError::UserHandleMismatch),
        (None, _) => None,
        (Some(got), Some(want)) => {
            if !bool::from(got.0.ct_eq(&want.0)) {
                return Err(InternalError::UserHandleMismatch);
            }
            Some(got.clone())
        }
        (Some(_), None) if exp.danger_unbound_user_handle && !allowed.is_empty() => None,
        (Some(_), None) => return Err(InternalError::UserHandleMismatch),
    };
    // Steps 9–14: parse C and check type, challenge, origin, cross-origin.
    let c = CollectedClientData::parse(r.client_data_json.as_slice())?;
    c.check(Ceremony::Get, exp)?;
    let auth_data_bytes = r.authenticator_data.as_slice();
    let auth_data = AuthenticatorData::parse(auth_data_bytes)?;
    // Step 15: rpIdHash is SHA-256 of the rp id, or of the AppID when the client says
    // it used one (§10.1.1).
    // Step 20 (extension outputs as expected): an appid output is only expected when
    // the AppID was sent; one that was not asked for is refused rather than ignored.
    let hashed_id = match (&exp.appid, response.client_extension_results.appid) {
        (Some(appid), Some(true)) => appid.as_str(),
        (None, Some(_)) => return Err(InternalError::UnrequestedExtension("appid")),
        _ => exp.rp_id.as_str(),
    };
    if response.client_extension_results.cred_props.is_some() {
        return Err(InternalError::UnrequestedExtension("credProps"));
    }
    // Steps 16–18: UP is set; UV is set when required; if BE is not set, BS is not set.
    exp.check_authenticator_data(&auth_data, hashed_id)?;
    // Step 19: BE never changes for a credential. The relying party's rule decides what
    // a change means; it is reported either way.
    let be_changed = stored
        .backup_eligible
        .is_some_and(|be| be != auth_data.flags.backup_eligible());
    if be_changed && exp.backup_eligibility == BackupEligibilityRule::Reject {
        return Err(InternalError::BackupEligibilityChanged);
    }
    // Steps 21–22: sig verifies over authData || SHA-256(cData) with the stored key.
    let hash = Sha256::digest(r.client_data_json.as_slice());
    let mut signed = Vec::with_capacity(auth_data_bytes.len().saturating_add(32));
    signed.extend_from_slice(auth_data_bytes);
    signed.extend_from_slice(&hash);
    // With the key the record keeps decoded (and, with aws-lc, parsed); RS1 keys only
    // with the relying party's opt-in (`danger_allow_rs1`).
    stored.verify_with(
        backend,
        exp.danger_allow_rs1,
        &signed,
        r.signature.as_slice(),
    )?;
    // Step 23: if either counter is non-zero, the new one must be greater.
    let new = auth_data.sign_count;
    let regressed = (new != 0 || stored.sign_count != 0) && new <= stored.sign_count;
    if regressed && sign_count_policy == SignCountPolicy::Reject {
        return Err(InternalError::SignCountRegression);
    }
    // Step 25: update the record.
    let mut record = stored.clone();
    record.sign_count = if regressed { stored.sign_count } else { new };
    record.user_verified = auth_data.flags.user_verified();
    // uvInitialized only ever becomes true (§7.2 step 25).
    record.uv_initialized |= auth_data.flags.user_verified();
    record.backup_state = auth_data.flags.backup_state();
    if be_changed {
        record.backup_eligible = Some(auth_data.flags.backup_eligible());
    }
    Ok(Authentication {
        record,
        sign_count: new,
        user_handle,
        user_present: auth_data.flags.user_present(),
        user_verified: auth_data.flags.user_verified(),
        backup_state: auth_data.flags.backup_state(),
        backup_state_changed: stored.backup_state != auth_data.flags.backup_state(),
        backup_eligibility_changed: be_changed,
        flags: auth_data.flags,
        counter_regressed: regressed,
    })
}
