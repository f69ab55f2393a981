//! Registration: creation options, state, and the §7.1 verification.

use ciborium::Value;
use mfa_core::{Attachment, SecureRandom, Timestamp, WebAuthnHint};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::attestation;
use crate::client_data::{Ceremony, CollectedClientData};
use crate::config::{Expectations, RelyingParty};
use crate::cose::{Algorithm, PublicKey, cose_alg};
use crate::credential::{
    CredentialRecord, Preference, attachment_str, format_aaguid, millis, new_challenge,
    parse_attachment,
};
use crate::crypto::Backend;
use crate::error::{IResult, InternalError, Result};
use crate::hazmat::authdata::{AuthenticatorData, Flags, cbor_item_len};
use crate::json::{
    AuthenticatorSelection, Base64UrlBytes, CreationOptionsJson, CredentialDescriptor,
    CredentialParameters, ExtensionInputs, RegistrationResponseJson, RpEntity, UserEntity,
};
use crate::trust::{AttestationPolicy, AttestationTrust};

/// Attestation conveyance (§5.4.7).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Conveyance {
    /// No attestation (the default; the client may replace it with `none`).
    #[default]
    None,
    /// Attestation, possibly anonymised by the client.
    Indirect,
    /// The authenticator's attestation as is.
    Direct,
    /// Enterprise attestation (uniquely identifying; managed devices only).
    Enterprise,
}

/// The inputs of a registration, besides the relying party.
#[derive(Clone, Debug, Default)]
pub struct RegistrationRequest {
    /// The user handle: random opaque bytes, at most 64, never personal data.
    pub user_id: Vec<u8>,
    /// The account name shown by the authenticator (email or username).
    pub user_name: String,
    /// The display name.
    pub display_name: String,
    /// The user's existing credentials, so the same authenticator is not registered twice.
    pub exclude_credentials: Vec<CredentialDescriptor>,
    /// Restrict to platform or roaming authenticators.
    pub attachment: Option<Attachment>,
    /// Whether a discoverable credential (passkey) is wanted.
    pub resident_key: Preference,
    /// Whether user verification is wanted.
    pub user_verification: Preference,
    /// Attestation conveyance.
    pub attestation: Conveyance,
    /// Ask for the credProps extension (on by default in [`RegistrationRequest::new`]).
    pub cred_props: bool,
    /// Hints for the browser's UI (§5.8.7), most preferred first; see
    /// [`WebAuthnHint::for_attachment`] to hint at the kind of key a policy wants.
    pub hints: Vec<WebAuthnHint>,
    /// Conditional create (§5.1.3, the page calls `navigator.credentials.create()` with
    /// `mediation: "conditional"`): the passkey upgrade offered right after a password
    /// sign-in, which the browser completes without a prompt. The authenticator then
    /// need not set UP (§7.1 step 14 asks for UP only outside this flow), so this
    /// registration, and only this one, verifies without user presence. Offer it only to
    /// a user who has just proved their password.
    pub conditional: bool,
}

impl RegistrationRequest {
    /// A request for the user handle, account name and display name, asking for a
    /// discoverable credential when possible and for credProps.
    pub fn new(
        user_id: Vec<u8>,
        user_name: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Self {
        Self {
            user_id,
            user_name: user_name.into(),
            display_name: display_name.into(),
            cred_props: true,
            ..Self::default()
        }
    }
}

/// What the relying party keeps between starting and finishing a registration.
/// **Store it server side** (it binds the challenge); it is single use.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct RegistrationState {
    /// The checks the response must pass.
    pub expectations: Expectations,
    /// The user handle the credential is for.
    pub user_id: Base64UrlBytes,
    /// After this instant the state is refused.
    pub expires_at: Timestamp,
}

/// A verified registration: the record to store, plus facts for policy.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Registration {
    /// The credential record to store.
    pub record: CredentialRecord,
    /// The attestation certificate chain (leaf first), as the statement sent it.
    pub x5c: Vec<Vec<u8>>,
    /// What the trust evaluation concluded (§7.1 steps 23–24).
    pub trust: AttestationTrust,
    /// The flags byte of the authenticator data.
    pub flags: Flags,
}

impl RelyingParty {
    /// Starts a registration (§5.1.3): creation options to send to the browser, and the
    /// state to keep.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) when the user id is empty or longer than 64 bytes, or trusted
    /// attestation is required and the request asks for `none` conveyance (the client
    /// would strip the attestation); [`Error::Random`](crate::Error::Random) when the random source fails.
    pub fn start_registration(
        &self,
        req: &RegistrationRequest,
        now: Timestamp,
        rng: &mut dyn SecureRandom,
    ) -> Result<(CreationOptionsJson, RegistrationState)> {
        if req.user_id.is_empty() || req.user_id.len() > 64 {
            return Err(mfa_core::InvalidInput::new("user id", "must be 1 to 64 bytes").into());
        }
        // A relying party that requires trusted attestation must ask for one: with
        // `none` conveyance the client strips it, and every registration would fail.
        if self.require_trusted_attestation && req.attestation == Conveyance::None {
            return Err(mfa_core::InvalidInput::new(
                "attestation",
                "trusted attestation is required: request direct, indirect or enterprise conveyance",
            )
            .into());
        }
        let challenge = new_challenge(rng)?;
        let options = CreationOptionsJson {
            rp: RpEntity {
                id: Some(self.rp_id.clone()),
                name: self.rp_name.clone(),
            },
            user: UserEntity {
                id: Base64UrlBytes(req.user_id.clone()),
                name: req.user_name.clone(),
                display_name: req.display_name.clone(),
            },
            challenge: challenge.clone(),
            pub_key_cred_params: self
                .algorithms
                .iter()
                .map(|a| CredentialParameters {
                    type_: "public-key".to_owned(),
                    alg: a.cose_id(),
                })
                .collect(),
            timeout: Some(millis(self.registration_timeout)),
            exclude_credentials: req.exclude_credentials.clone(),
            authenticator_selection: Some(AuthenticatorSelection {
                authenticator_attachment: req.attachment.map(attachment_str),
                resident_key: Some(req.resident_key.as_str().to_owned()),
                require_resident_key: req.resident_key == Preference::Required,
                user_verification: Some(req.user_verification.as_str().to_owned()),
            }),
            hints: req.hints.iter().map(|h| h.as_str().to_owned()).collect(),
            attestation: match req.attestation {
                Conveyance::None => "none",
                Conveyance::Indirect => "indirect",
                Conveyance::Direct => "direct",
                Conveyance::Enterprise => "enterprise",
            }
            .to_owned(),
            attestation_formats: Vec::new(),
            extensions: req.cred_props.then_some(ExtensionInputs {
                cred_props: Some(true),
                appid: None,
            }),
        };
        let mut expectations = self.expectations(
            challenge,
            req.user_verification == Preference::Required,
            true,
        );
        expectations.cred_props_requested = req.cred_props;
        // §7.1 step 14: user presence is required unless the create was conditional.
        expectations.user_presence_required = !req.conditional;
        let state = RegistrationState {
            expectations,
            user_id: Base64UrlBytes(req.user_id.clone()),
            expires_at: now.saturating_add(self.registration_timeout),
        };
        Ok((options, state))
    }

    /// Finishes a registration (§7.1): verifies the browser's response against the
    /// state at `now` and returns the credential record to store.
    ///
    /// The caller must still check the credential id is not registered yet (§7.1 step
    /// 26), since only the store knows.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`](crate::Error::Rejected) (`challenge_mismatch` (an expired state)) after the state's deadline, or any verification error.
    pub fn finish_registration(
        &self,
        state: &RegistrationState,
        response: &RegistrationResponseJson,
        now: Timestamp,
    ) -> Result<Registration> {
        if now > state.expires_at {
            return Err(InternalError::Expired.into());
        }
        if state.expectations.rp_id != self.rp_id {
            return Err(InternalError::RpIdMismatch.into());
        }
        let policy = self.attestation_policy();
        let mut reg =
            verify_registration_with(&state.expectations, response, &policy, now, self.backend)?;
        reg.record.user_handle = Some(state.user_id.clone());
        Ok(reg)
    }
}

/// The registration procedure of §7.1 against explicit expectations, with the default
/// [`AttestationPolicy`] (no trust anchors, so chains are not evaluated, and no
/// time-dependent check: an `android-safetynet` statement, whose timestamp must be
/// checked against a verification instant, is refused). See
/// [`verify_registration_with`].
///
/// # Errors
///
/// The first failed check: [`Error::Malformed`](crate::Error::Malformed) for input that does not parse, else the opaque [`Error::Rejected`](crate::Error::Rejected) with its code.
pub fn verify_registration(
    exp: &Expectations,
    response: &RegistrationResponseJson,
    backend: Backend,
) -> Result<Registration> {
    verify_registration_at(exp, response, &AttestationPolicy::default(), None, backend)
        .map_err(Into::into)
}

/// The registration procedure of §7.1 against explicit expectations and an attestation
/// policy, at the verification instant `now` (certificate validity, the SafetyNet
/// timestamp): the pure core that [`RelyingParty::finish_registration`] and the
/// conformance runner share.
///
/// # Errors
///
/// The first failed check (as [`crate::Error`]); [`Error::Rejected`](crate::Error::Rejected) (`untrusted_attestation`) when
/// the policy's anchors apply and the chain does not validate to one, or trusted
/// attestation is required and the statement is not trusted.
pub fn verify_registration_with(
    exp: &Expectations,
    response: &RegistrationResponseJson,
    policy: &AttestationPolicy,
    now: Timestamp,
    backend: Backend,
) -> Result<Registration> {
    verify_registration_at(exp, response, policy, Some(now), backend).map_err(Into::into)
}

fn verify_registration_at(
    exp: &Expectations,
    response: &RegistrationResponseJson,
    policy: &AttestationPolicy,
    now: Option<Timestamp>,
    backend: Backend,
) -> IResult<Registration> {
    if response.type_ != "public-key" {
        return Err(InternalError::Malformed("credential type"));
    }
    // The id is the base64url form of rawId.
    if Base64UrlBytes::decode(&response.id).ok().as_ref() != Some(&response.raw_id) {
        return Err(InternalError::CredentialIdMismatch);
    }
    let client_data_json = response.response.client_data_json.as_slice();
    // Steps 5–10: parse C and check type, challenge, origin, cross-origin.
    let c = CollectedClientData::parse(client_data_json)?;
    c.check(Ceremony::Create, exp)?;
    // Step 11: hash = SHA-256(response.clientDataJSON).
    let client_data_hash: [u8; 32] = Sha256::digest(client_data_json).into();
    // Step 12: CBOR-decode attestationObject into fmt, authData and attStmt.
    let att_obj = response.response.attestation_object.as_slice();
    let AttestationObject {
        fmt,
        att_stmt,
        auth_data: auth_data_bytes,
    } = parse_attestation_object(att_obj)?;
    // Trailing bytes are reported after the attestation statement and the key have been
    // checked: a statement that does not verify, or a key that does not parse, is the
    // more precise diagnosis (an authenticator that mis-encodes its COSE key leaves
    // bytes behind the map it announced).
    let (auth_data, trailing) = AuthenticatorData::parse_with_trailing(&auth_data_bytes)?;
    // Step 13: rpIdHash is SHA-256 of the rp id. Steps 14–16: UP is set when required;
    // UV is set when user verification is required; if BE is not set, BS is not set.
    exp.check_authenticator_data(&auth_data, &exp.rp_id)?;
    let attested = auth_data
        .attested
        .as_ref()
        .ok_or(InternalError::MalformedAuthenticatorData(
            "no attested credential data",
        ))?;
    // Step 19: the credential public key's alg is one of pubKeyCredParams.
    let alg = cose_alg(attested.public_key_cose)?;
    if !exp.allowed_algorithms.contains(&alg) {
        return Err(InternalError::AlgorithmNotAllowed(alg));
    }
    // RS1 only with the relying party's opt-in; and only a key this backend can verify
    // at every later login.
    if alg == Algorithm::Rs1.cose_id() && !exp.danger_allow_rs1 {
        return Err(InternalError::InsecureAlgorithm(alg));
    }
    if Algorithm::from_cose_id(alg).is_some_and(|a| !backend.supports(a)) {
        return Err(InternalError::AlgorithmNotSupported(alg));
    }
    // Step 25: the credential id is at most 1023 bytes.
    if attested.credential_id.len() > 1023 {
        return Err(InternalError::Malformed(
            "credential id longer than 1023 bytes",
        ));
    }
    // The response's rawId is the credential id that was attested.
    if attested.credential_id != response.raw_id.as_slice() {
        return Err(InternalError::CredentialIdMismatch);
    }
    // Steps 21–22: verify the attestation statement of its format.
    let key = PublicKey::from_cose_inner(attested.public_key_cose);
    let verdict = attestation::verify(
        &fmt,
        &att_stmt,
        &auth_data_bytes,
        &auth_data,
        &client_data_hash,
        &key,
        policy,
        now,
        backend,
        exp.danger_allow_rs1,
    )?;
    let key = key?;
    if trailing != 0 {
        return Err(InternalError::MalformedAuthenticatorData("trailing bytes"));
    }
    // A key that can never verify (an EC point off its curve, a small-order Ed25519
    // point) is refused now, whatever the format and backend: `none` and x5c
    // attestations never use the credential key, so nothing else would notice.
    key.validate()?;
    // Step 18: client extension outputs are as expected. Outputs of extensions this
    // crate acts on are refused when they were not requested: `appid` belongs to
    // authentication, and `credProps` only when asked for. Other outputs (client and
    // authenticator) are not interpreted and are ignored, as §7.1 step 18 allows.
    let ext = &response.client_extension_results;
    if ext.appid.is_some() {
        return Err(InternalError::UnrequestedExtension("appid"));
    }
    if ext.cred_props.is_some() && !exp.cred_props_requested {
        return Err(InternalError::UnrequestedExtension("credProps"));
    }
    // Steps 23–24 (trust anchors) were evaluated with the statement: `verdict.trust`.
    let record = CredentialRecord {
        id: response.raw_id.clone(),
        public_key: Base64UrlBytes(attested.public_key_cose.to_vec()),
        alg,
        sign_count: auth_data.sign_count,
        transports: response.response.transports.clone(),
        attachment: response
            .authenticator_attachment
            .as_deref()
            .and_then(parse_attachment),
        aaguid: format_aaguid(&attested.aaguid),
        user_verified: auth_data.flags.user_verified(),
        uv_initialized: auth_data.flags.user_verified(),
        backup_eligible: Some(auth_data.flags.backup_eligible()),
        backup_state: auth_data.flags.backup_state(),
        attestation_format: verdict.fmt,
        attestation_type: verdict.kind,
        attestation_trusted: verdict.trust == AttestationTrust::Trusted,
        user_handle: None,
        cred_props_rk: ext.cred_props.as_ref().and_then(|p| p.rk),
        key_cache: Default::default(),
    }
    .with_decoded_key(key);
    Ok(Registration {
        record,
        x5c: verdict.x5c,
        trust: verdict.trust,
        flags: auth_data.flags,
    })
}

/// A decoded attestation object (§6.5.4).
#[derive(Clone, Debug, PartialEq)]
pub struct AttestationObject {
    /// The attestation statement format.
    pub fmt: String,
    att_stmt: Vec<(Value, Value)>,
    /// The authenticator data bytes.
    pub auth_data: Vec<u8>,
}

impl AttestationObject {
    /// The number of members of the attestation statement map.
    pub fn statement_len(&self) -> usize {
        self.att_stmt.len()
    }
}

/// Decodes an attestation object (§6.5.4) into fmt, attStmt and authData.
///
/// # Errors
///
/// [`Error::Malformed`](crate::Error::Malformed) when it is not one CBOR map with those three members.
pub fn parse_attestation_object(bytes: &[u8]) -> Result<AttestationObject> {
    if cbor_item_len(bytes) != Some(bytes.len()) {
        return Err(InternalError::Malformed("attestation object cbor").into());
    }
    let value: Value = ciborium::de::from_reader(bytes)
        .map_err(|_| InternalError::Malformed("attestation object cbor"))?;
    let map = value
        .into_map()
        .map_err(|_| InternalError::Malformed("attestation object is not a map"))?;
    let mut fmt = None;
    let mut stmt = None;
    let mut auth_data = None;
    for (k, v) in map {
        match (k.as_text(), v) {
            (Some("fmt"), Value::Text(t)) if fmt.is_none() => fmt = Some(t),
            (Some("attStmt"), Value::Map(m)) if stmt.is_none() => stmt = Some(m),
            (Some("authData"), Value::Bytes(b)) if auth_data.is_none() => auth_data = Some(b),
            (Some("fmt" | "attStmt" | "authData"), _) => {
                return Err(InternalError::Malformed("attestation object member").into());
            }
            _ => {}
        }
    }
    match (fmt, stmt, auth_data) {
        (Some(fmt), Some(att_stmt), Some(auth_data)) => Ok(AttestationObject {
            fmt,
            att_stmt,
            auth_data,
        }),
        _ => Err(InternalError::Malformed("attestation object members missing").into()),
    }
}
