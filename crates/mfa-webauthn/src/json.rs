//! The browser's JSON forms (WebAuthn L3 §5.1.8, §5.1.9, §5.4, §5.5): what
//! `PublicKeyCredential.toJSON()` produces and `parseCreationOptionsFromJSON()` /
//! `parseRequestOptionsFromJSON()` consume.
//!
//! This module knows nothing about verification: it only maps the wire forms, with
//! binary members as base64url without padding.

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mfa_core::Redacted;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// base64url; padding is not written and is tolerated on input (some clients add it).
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Bytes that travel as a base64url string (`Base64URLString` in the specification).
#[derive(Clone, Default, Eq, Hash, PartialEq)]
pub struct Base64UrlBytes(pub Vec<u8>);

impl Base64UrlBytes {
    /// Decodes a base64url string (padding optional).
    ///
    /// # Errors
    ///
    /// When `s` is not base64url.
    pub fn decode(s: &str) -> Result<Self, base64::DecodeError> {
        B64.decode(s).map(Self)
    }

    /// The base64url form without padding.
    pub fn encode(&self) -> String {
        B64.encode(&self.0)
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Base64UrlBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64UrlBytes({})", self.encode())
    }
}

impl From<Vec<u8>> for Base64UrlBytes {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for Base64UrlBytes {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl Serialize for Base64UrlBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Base64UrlBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::decode(&s).map_err(serde::de::Error::custom)
    }
}

/// `RegistrationResponseJSON` (§5.1.8): what `create()`'s credential serialises to.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResponseJson {
    /// The credential id, base64url.
    pub id: String,
    /// The credential id bytes.
    pub raw_id: Base64UrlBytes,
    /// The authenticator's response.
    pub response: AuthenticatorAttestationResponseJson,
    /// `platform` or `cross-platform`, when the client reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// The client extension outputs.
    #[serde(default)]
    pub client_extension_results: ClientExtensionResults,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// `AuthenticatorAttestationResponseJSON` (§5.2.1).
///
/// `Debug` shows the transports and the convenience algorithm and public key, and
/// `[redacted]` for the signed material (client data, attestation object, authenticator
/// data): a logged response is not one anybody can submit again.
#[derive(Clone, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorAttestationResponseJson {
    /// The UTF-8 JSON the client signed over.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: Base64UrlBytes,
    /// The CBOR attestation object.
    pub attestation_object: Base64UrlBytes,
    /// Convenience copy of the authenticator data (not trusted: the copy inside the
    /// attestation object is what is verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_data: Option<Base64UrlBytes>,
    /// Transports the authenticator is believed to support.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<String>,
    /// Convenience copy of the COSE algorithm (not trusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_algorithm: Option<i64>,
    /// Convenience SPKI copy of the public key (not trusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<Base64UrlBytes>,
}

/// `AuthenticationResponseJSON` (§5.1.8): what `get()`'s credential serialises to.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationResponseJson {
    /// The credential id, base64url.
    pub id: String,
    /// The credential id bytes.
    pub raw_id: Base64UrlBytes,
    /// The authenticator's response.
    pub response: AuthenticatorAssertionResponseJson,
    /// `platform` or `cross-platform`, when the client reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// The client extension outputs.
    #[serde(default)]
    pub client_extension_results: ClientExtensionResults,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// `AuthenticatorAssertionResponseJSON` (§5.2.2).
///
/// `Debug` shows the user handle and `[redacted]` for the client data, authenticator
/// data and signature: a logged assertion is not one anybody can submit again.
#[derive(Clone, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorAssertionResponseJson {
    /// The UTF-8 JSON the client signed over.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: Base64UrlBytes,
    /// The authenticator data.
    pub authenticator_data: Base64UrlBytes,
    /// The assertion signature.
    pub signature: Base64UrlBytes,
    /// The user handle, for discoverable credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_handle: Option<Base64UrlBytes>,
}

impl fmt::Debug for AuthenticatorAttestationResponseJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorAttestationResponseJson")
            .field("client_data_json", &Redacted)
            .field("attestation_object", &Redacted)
            .field(
                "authenticator_data",
                &self.authenticator_data.as_ref().map(|_| Redacted),
            )
            .field("transports", &self.transports)
            .field("public_key_algorithm", &self.public_key_algorithm)
            .field("public_key", &self.public_key)
            .finish()
    }
}

impl fmt::Debug for AuthenticatorAssertionResponseJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorAssertionResponseJson")
            .field("client_data_json", &Redacted)
            .field("authenticator_data", &Redacted)
            .field("signature", &Redacted)
            .field("user_handle", &self.user_handle)
            .finish()
    }
}

/// `AuthenticationExtensionsClientOutputsJSON`: the outputs this crate reads.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientExtensionResults {
    /// FIDO AppID (§10.1.1): whether the AppID was used instead of the rp id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<bool>,
    /// Credential properties (§10.1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_props: Option<CredentialPropertiesOutput>,
}

/// `CredentialPropertiesOutput` (§10.1.3).
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct CredentialPropertiesOutput {
    /// Whether the credential is client-side discoverable (a resident key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rk: Option<bool>,
}

/// `PublicKeyCredentialCreationOptionsJSON` (§5.1.9).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationOptionsJson {
    /// The relying party.
    pub rp: RpEntity,
    /// The user account.
    pub user: UserEntity,
    /// The challenge.
    pub challenge: Base64UrlBytes,
    /// Acceptable credential types and algorithms, most preferred first.
    pub pub_key_cred_params: Vec<CredentialParameters>,
    /// Milliseconds the client should wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Credentials the user already has, so the authenticator does not create another.
    #[serde(default)]
    pub exclude_credentials: Vec<CredentialDescriptor>,
    /// Authenticator requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_selection: Option<AuthenticatorSelection>,
    /// UI hints (`security-key`, `client-device`, `hybrid`).
    #[serde(default)]
    pub hints: Vec<String>,
    /// Attestation conveyance: `none`, `indirect`, `direct`, `enterprise`.
    #[serde(default = "none_string")]
    pub attestation: String,
    /// Preferred attestation formats.
    #[serde(default)]
    pub attestation_formats: Vec<String>,
    /// Extension inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<ExtensionInputs>,
}

fn none_string() -> String {
    "none".to_owned()
}

/// `PublicKeyCredentialRequestOptionsJSON` (§5.1.9).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOptionsJson {
    /// The challenge.
    pub challenge: Base64UrlBytes,
    /// Milliseconds the client should wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// The relying party id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// Credentials that may answer; empty for discoverable credentials.
    #[serde(default)]
    pub allow_credentials: Vec<CredentialDescriptor>,
    /// `required`, `preferred` or `discouraged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
    /// UI hints.
    #[serde(default)]
    pub hints: Vec<String>,
    /// Extension inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<ExtensionInputs>,
}

/// `PublicKeyCredentialRpEntity`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct RpEntity {
    /// The rp id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A human-palatable name.
    pub name: String,
}

/// `PublicKeyCredentialUserEntityJSON`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEntity {
    /// The user handle: opaque bytes, at most 64, no personal data.
    pub id: Base64UrlBytes,
    /// The account name (email, username).
    pub name: String,
    /// The name shown to the user.
    pub display_name: String,
}

/// `PublicKeyCredentialParameters`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct CredentialParameters {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub type_: String,
    /// A COSE algorithm identifier.
    pub alg: i64,
}

/// `PublicKeyCredentialDescriptorJSON`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct CredentialDescriptor {
    /// The credential id.
    pub id: Base64UrlBytes,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Transports hint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<String>,
}

/// `AuthenticatorSelectionCriteria`.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    /// `platform` or `cross-platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// `discouraged`, `preferred` or `required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_key: Option<String>,
    /// Level 1 form of `residentKey: required`.
    #[serde(default)]
    pub require_resident_key: bool,
    /// `required`, `preferred` or `discouraged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
}

/// `AuthenticationExtensionsClientInputsJSON`: the inputs this crate sets.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionInputs {
    /// Ask for credential properties (§10.1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_props: Option<bool>,
    /// FIDO AppID for credentials registered with U2F (§10.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
}

/// `CredentialRequestOptions` around the public-key options: what the page passes to
/// `navigator.credentials.get()` after `parseRequestOptionsFromJSON(publicKey)`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRequestOptionsJson {
    /// The WebAuthn options.
    pub public_key: RequestOptionsJson,
    /// `conditional` for passkey autofill; absent for a modal request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mediation: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinctive base64url payloads standing for the signed material.
    const CLIENT_DATA: &str = "Q0xJRU5UREFUQVNFQ1JFVA";
    const AUTH_DATA: &str = "QVVUSERBVEFTRUNSRVQ";
    const SIGNATURE: &str = "U0lHTkFUVVJFU0VDUkVU";
    const ATT_OBJECT: &str = "QVRURVNUQVRJT05TRUNSRVQ";

    fn assert_redacted(dbg: &str, secrets: &[&str], kept: &[&str]) {
        for secret in secrets {
            assert!(!dbg.contains(secret), "{secret} in {dbg}");
        }
        for k in kept {
            assert!(dbg.contains(k), "{k} missing from {dbg}");
        }
        assert!(dbg.contains("[redacted]"), "{dbg}");
    }

    #[test]
    fn assertion_debug_hides_the_signed_material() {
        let json = format!(
            r#"{{"id":"Y3JlZC1pZA","rawId":"Y3JlZC1pZA","type":"public-key",
            "response":{{"clientDataJSON":"{CLIENT_DATA}","authenticatorData":"{AUTH_DATA}",
            "signature":"{SIGNATURE}","userHandle":"dXNlcg"}}}}"#
        );
        let r: AuthenticationResponseJson = serde_json::from_str(&json).unwrap();
        for dbg in [format!("{r:?}"), format!("{r:#?}")] {
            assert_redacted(
                &dbg,
                &[CLIENT_DATA, AUTH_DATA, SIGNATURE],
                &["AuthenticationResponseJson", "Y3JlZC1pZA", "dXNlcg"],
            );
        }
        let inner = &r.response;
        for dbg in [format!("{inner:?}"), format!("{inner:#?}")] {
            assert_redacted(
                &dbg,
                &[CLIENT_DATA, AUTH_DATA, SIGNATURE],
                &["AuthenticatorAssertionResponseJson"],
            );
        }
    }

    #[test]
    fn attestation_debug_hides_the_signed_material() {
        let json = format!(
            r#"{{"id":"Y3JlZC1pZA","rawId":"Y3JlZC1pZA","type":"public-key",
            "response":{{"clientDataJSON":"{CLIENT_DATA}","attestationObject":"{ATT_OBJECT}",
            "authenticatorData":"{AUTH_DATA}","transports":["usb"],"publicKeyAlgorithm":-7}}}}"#
        );
        let r: RegistrationResponseJson = serde_json::from_str(&json).unwrap();
        for dbg in [format!("{r:?}"), format!("{r:#?}")] {
            assert_redacted(
                &dbg,
                &[CLIENT_DATA, AUTH_DATA, ATT_OBJECT],
                &["RegistrationResponseJson", "Y3JlZC1pZA", "usb", "-7"],
            );
        }
    }
}
