//! The WebAuthn Signal API's payloads (WebAuthn L3 §5.1.10, "signal methods"): what a
//! relying party passes to `PublicKeyCredential.signalUnknownCredential()`,
//! `signalAllAcceptedCredentials()` and `signalCurrentUserDetails()` so that passkey
//! providers hide or update credentials the relying party no longer has. Each type
//! serialises to exactly the options object the browser takes (binary values
//! base64url, members camelCase); a page calls, for example,
//! `PublicKeyCredential.signalUnknownCredential(await res.json())`.
//!
//! When to send which:
//! - [`UnknownCredentialOptions`] after an assertion names a credential this relying
//!   party does not have (removed, or a failed registration left it on the device). It
//!   reveals nothing about an account and may be sent to anyone.
//! - [`AllAcceptedCredentialsOptions`] after a sign-in, and after a passkey is removed or
//!   the user's MFA reset (an empty list): only to the signed-in user, since it lists
//!   their credentials.
//! - [`CurrentUserDetailsOptions`] after the user's name or display name changes.

use serde::{Deserialize, Serialize};

use crate::config::RelyingParty;
use crate::json::Base64UrlBytes;

/// `UnknownCredentialOptions`: a credential id the relying party does not recognise.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnknownCredentialOptions {
    /// The rp id.
    pub rp_id: String,
    /// The unknown credential id.
    pub credential_id: Base64UrlBytes,
}

/// `AllAcceptedCredentialsOptions`: every credential id the relying party still accepts
/// for one user handle; the provider hides the user's others.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllAcceptedCredentialsOptions {
    /// The rp id.
    pub rp_id: String,
    /// The user handle the credentials were created for.
    pub user_id: Base64UrlBytes,
    /// The credential ids still accepted (empty: none).
    pub all_accepted_credential_ids: Vec<Base64UrlBytes>,
}

/// `CurrentUserDetailsOptions`: the account's current names, for the provider's UI.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentUserDetailsOptions {
    /// The rp id.
    pub rp_id: String,
    /// The user handle.
    pub user_id: Base64UrlBytes,
    /// The account name (email, username).
    pub name: String,
    /// The name shown to the user.
    pub display_name: String,
}

impl RelyingParty {
    /// The `signalUnknownCredential()` options for a credential id this relying party
    /// does not have.
    pub fn signal_unknown_credential(&self, credential_id: &[u8]) -> UnknownCredentialOptions {
        UnknownCredentialOptions {
            rp_id: self.rp_id.clone(),
            credential_id: Base64UrlBytes(credential_id.to_vec()),
        }
    }

    /// The `signalAllAcceptedCredentials()` options: the credential ids still accepted
    /// for `user_id`.
    pub fn signal_all_accepted_credentials<'a>(
        &self,
        user_id: &[u8],
        credential_ids: impl IntoIterator<Item = &'a [u8]>,
    ) -> AllAcceptedCredentialsOptions {
        AllAcceptedCredentialsOptions {
            rp_id: self.rp_id.clone(),
            user_id: Base64UrlBytes(user_id.to_vec()),
            all_accepted_credential_ids: credential_ids
                .into_iter()
                .map(|id| Base64UrlBytes(id.to_vec()))
                .collect(),
        }
    }

    /// The `signalCurrentUserDetails()` options.
    pub fn signal_current_user_details(
        &self,
        user_id: &[u8],
        name: impl Into<String>,
        display_name: impl Into<String>,
    ) -> CurrentUserDetailsOptions {
        CurrentUserDetailsOptions {
            rp_id: self.rp_id.clone(),
            user_id: Base64UrlBytes(user_id.to_vec()),
            name: name.into(),
            display_name: display_name.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn payloads_are_the_browsers_options_objects() {
        let rp = RelyingParty::builder("example.com", "Example")
            .origin("https://example.com")
            .build()
            .unwrap();
        assert_eq!(
            serde_json::to_value(rp.signal_unknown_credential(&[1, 2, 3])).unwrap(),
            json!({"rpId": "example.com", "credentialId": "AQID"})
        );
        assert_eq!(
            serde_json::to_value(
                rp.signal_all_accepted_credentials(b"user", [&[1u8, 2][..], &[0xff][..]])
            )
            .unwrap(),
            json!({"rpId": "example.com", "userId": "dXNlcg", "allAcceptedCredentialIds": ["AQI", "_w"]})
        );
        let empty = rp.signal_all_accepted_credentials(b"user", []);
        assert_eq!(
            serde_json::to_value(&empty).unwrap()["allAcceptedCredentialIds"],
            json!([])
        );
        assert_eq!(
            serde_json::to_value(rp.signal_current_user_details(b"user", "alice", "Alice A."))
                .unwrap(),
            json!({"rpId": "example.com", "userId": "dXNlcg", "name": "alice", "displayName": "Alice A."})
        );
        // And back, as a server reading a stored payload would.
        let back: AllAcceptedCredentialsOptions =
            serde_json::from_value(serde_json::to_value(&empty).unwrap()).unwrap();
        assert_eq!(back, empty);
    }
}
