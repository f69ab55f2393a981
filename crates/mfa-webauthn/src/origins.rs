//! Which origins a relying party accepts, and for which ceremony: web origins, related
//! origins (WebAuthn L3 §5.11, "Using Web Authentication across related origins") with
//! the `/.well-known/webauthn` document that lists them, and native-app origins
//! (`android:apk-key-hash:`).
//!
//! # Related Origin Requests (§5.11)
//!
//! A relying party whose users sign in on several registrable domains (`example.com`,
//! `example.co.uk`, `example-travel.com`) keeps one rp id and lists the other origins in
//! a JSON document at `https://{rp id}/.well-known/webauthn`:
//!
//! ```json
//! {"origins": ["https://example.co.uk", "https://example-travel.com"]}
//! ```
//!
//! A browser asked for a credential of rp id `example.com` from `https://example.co.uk`
//! fetches that document and proceeds only if the caller's origin is listed, counting at
//! most five distinct *labels* (the registrable domain minus its public suffix:
//! `example` for both `example.com` and `example.co.uk`) in document order (§5.11.1).
//! [`RelatedOrigins::validate`] refuses a list the browser would cut short, so every
//! listed origin works; [`RelyingPartyBuilder::build`](crate::RelyingPartyBuilder::build)
//! calls it. The server side (this crate) still checks `clientDataJSON.origin` against
//! its own list: the document is what the browser reads, never what the relying party
//! trusts.
//!
//! Registrable domains and public suffixes come from the `psl` crate's compiled-in copy
//! of the Public Suffix List (the list browsers use for the same rule).
//!
//! # Native apps
//!
//! Android's Credential Manager sends `android:apk-key-hash:<base64url SHA-256 of the
//! app's signing certificate>` as the origin; opt in with
//! [`RelyingPartyBuilder::app_origin`](crate::RelyingPartyBuilder::app_origin). iOS and
//! macOS apps send the **https origin of their associated domain** (the `webcredentials:`
//! entry of the app's entitlements, confirmed by the site's
//! `apple-app-site-association` file), so an app there needs no app origin: its origin is
//! the web origin already listed.

use base64::Engine as _;
use mfa_core::InvalidInput;
use serde::{Deserialize, Serialize};

/// The most registrable-domain labels a client accepts in a related-origins document
/// (§5.11.1, `maxLabels`; browsers use 5).
pub const MAX_RELATED_ORIGIN_LABELS: usize = 5;

/// The path of the related-origins document on the rp id's host.
pub const WELL_KNOWN_PATH: &str = "/.well-known/webauthn";

/// Which ceremonies an origin is allowed for (issue: a lower-trust surface, such as a
/// partner site or an embedded app, may sign users in without being able to enrol keys).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginScope {
    /// Registration and authentication (the default).
    #[default]
    All,
    /// Authentication only: assertions verify, registrations from it do not.
    Authentication,
    /// Registration only.
    Registration,
}

impl OriginScope {
    /// Whether the scope covers registration (§7.1).
    pub fn registration(self) -> bool {
        matches!(self, Self::All | Self::Registration)
    }

    /// Whether the scope covers authentication (§7.2).
    pub fn authentication(self) -> bool {
        matches!(self, Self::All | Self::Authentication)
    }
}

/// One origin a relying party accepts.
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub(crate) struct AllowedOrigin {
    pub(crate) origin: String,
    pub(crate) scope: OriginScope,
    /// Listed in the `/.well-known/webauthn` document (§5.11).
    pub(crate) related: bool,
}

/// The `/.well-known/webauthn` document (§5.11): the related origins a client may use
/// this rp id from. Serialises to exactly the JSON the browser fetches.
#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
pub struct RelatedOrigins {
    /// The origins, in the order the client reads them.
    pub origins: Vec<String>,
}

impl RelatedOrigins {
    /// The document's JSON text (`{"origins":[...]}`), served as `application/json` at
    /// [`WELL_KNOWN_PATH`] on the rp id's host.
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings cannot fail; fall back to an empty list.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"origins":[]}"#.to_owned())
    }

    /// Checks that a client would accept every listed origin: each is a valid `https`
    /// origin with a registrable domain, and together they have at most
    /// [`MAX_RELATED_ORIGIN_LABELS`] distinct labels.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] naming the first origin a client would ignore, and why.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let mut labels: Vec<&str> = Vec::new();
        for o in &self.origins {
            let host = https_host(o).ok_or_else(|| {
                InvalidInput::new(
                    "related origin",
                    format!("{o:?} is not an https origin (scheme, host, optional port)"),
                )
            })?;
            let label = registrable_label(host).ok_or_else(|| {
                InvalidInput::new(
                    "related origin",
                    format!("{o:?} has no registrable domain under the public suffix list"),
                )
            })?;
            if !labels.contains(&label) {
                if labels.len() >= MAX_RELATED_ORIGIN_LABELS {
                    return Err(InvalidInput::new(
                        "related origins",
                        format!(
                            "more than {MAX_RELATED_ORIGIN_LABELS} distinct registrable-domain labels: clients ignore {o:?} (§5.11.1)"
                        ),
                    ));
                }
                labels.push(label);
            }
        }
        Ok(())
    }

    /// What a client decides for a caller at `origin` (§5.11.1, "validating related
    /// origins"): whether the document lists it within the first
    /// [`MAX_RELATED_ORIGIN_LABELS`] labels.
    pub fn client_accepts(&self, origin: &str) -> bool {
        let mut labels: Vec<&str> = Vec::new();
        for o in &self.origins {
            let Some(label) = https_host(o).and_then(registrable_label) else {
                continue;
            };
            if labels.len() >= MAX_RELATED_ORIGIN_LABELS && !labels.contains(&label) {
                continue;
            }
            if o == origin {
                return true;
            }
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        false
    }
}

/// The host of an `https://host[:port]` origin (no path, query, fragment or userinfo).
pub(crate) fn https_host(origin: &str) -> Option<&str> {
    let authority = origin.strip_prefix("https://")?;
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return None;
    }
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return None,
        None => authority,
    };
    (!host.is_empty()).then_some(host)
}

/// The registrable domain's label: the registrable domain minus its public suffix
/// (`example` for `login.example.co.uk`), per the Public Suffix List.
pub(crate) fn registrable_label(host: &str) -> Option<&str> {
    let domain = psl::domain_str(host)?;
    let suffix = psl::suffix_str(domain)?;
    let label = domain.strip_suffix(suffix)?.strip_suffix('.')?;
    (!label.is_empty()).then_some(label)
}

/// Checks an app origin: `android:apk-key-hash:` with the unpadded base64url SHA-256 of
/// the signing certificate (what Credential Manager sends), or `ios:bundle-id:`.
pub(crate) fn check_app_origin(origin: &str) -> Result<(), InvalidInput> {
    if let Some(hash) = origin.strip_prefix("android:apk-key-hash:") {
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(hash);
        return match decoded {
            Ok(d) if d.len() == 32 => Ok(()),
            _ => Err(InvalidInput::new(
                "app origin",
                "android:apk-key-hash: takes the unpadded base64url SHA-256 (43 characters) of the app's signing certificate",
            )),
        };
    }
    if origin
        .strip_prefix("ios:bundle-id:")
        .is_some_and(|id| !id.is_empty())
    {
        return Ok(());
    }
    Err(InvalidInput::new(
        "app origin",
        "must start with android:apk-key-hash: or ios:bundle-id:",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(origins: &[&str]) -> RelatedOrigins {
        RelatedOrigins {
            origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        }
    }

    #[test]
    fn labels_follow_the_public_suffix_list() {
        assert_eq!(registrable_label("example.com"), Some("example"));
        assert_eq!(registrable_label("login.example.co.uk"), Some("example"));
        assert_eq!(
            registrable_label("shop.example-travel.com.au"),
            Some("example-travel")
        );
        assert_eq!(registrable_label("co.uk"), None);
    }

    #[test]
    fn well_known_document_is_the_browsers_json() {
        let d = doc(&["https://example.co.uk", "https://example.de"]);
        assert_eq!(
            d.to_json(),
            r#"{"origins":["https://example.co.uk","https://example.de"]}"#
        );
        let back: RelatedOrigins = serde_json::from_str(&d.to_json()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn five_labels_pass_and_a_sixth_is_refused() {
        // Same label on many suffixes counts once.
        let same = doc(&[
            "https://example.co.uk",
            "https://example.de",
            "https://example.fr",
            "https://example.it",
            "https://example.es",
            "https://example.nl",
            "https://example.com.au",
        ]);
        assert!(same.validate().is_ok());
        let five = doc(&[
            "https://a.com",
            "https://b.com",
            "https://c.com",
            "https://d.com",
            "https://e.com",
            "https://a.de",
        ]);
        assert!(five.validate().is_ok());
        assert!(five.client_accepts("https://e.com"));
        let six = doc(&[
            "https://a.com",
            "https://b.com",
            "https://c.com",
            "https://d.com",
            "https://e.com",
            "https://f.com",
        ]);
        let err = six.validate().unwrap_err();
        assert!(err.problem().contains("f.com"), "{err}");
        // What the client does with such a document: the sixth label is skipped.
        assert!(six.client_accepts("https://e.com"));
        assert!(!six.client_accepts("https://f.com"));
    }

    #[test]
    fn non_https_origins_are_refused() {
        for bad in [
            "http://example.de",
            "https://example.de/",
            "https://example.de/path",
            "https://user@example.de",
            "https://example.de:x",
            "android:apk-key-hash:abc",
            "https://co.uk",
        ] {
            assert!(doc(&[bad]).validate().is_err(), "{bad}");
        }
        assert!(doc(&["https://example.de:8443"]).validate().is_ok());
    }

    #[test]
    fn apk_key_hash_must_be_a_sha256() {
        let good = format!("android:apk-key-hash:{}", "A".repeat(43));
        assert!(check_app_origin(&good).is_ok());
        assert!(check_app_origin("android:apk-key-hash:abc").is_err());
        assert!(check_app_origin(&format!("android:apk-key-hash:{}=", "A".repeat(43))).is_err());
        assert!(check_app_origin("ios:bundle-id:com.example.app").is_ok());
        assert!(check_app_origin("ios:bundle-id:").is_err());
        assert!(check_app_origin("ftp:x").is_err());
    }
}
