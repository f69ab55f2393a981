//! `CollectedClientData` (WebAuthn L3 §5.8.1) and the checks the ceremonies share.

use serde::Deserialize;

use crate::config::Expectations;
use crate::error::{IResult, InternalError, Result};

/// The client data members the relying party checks. Other members are ignored, as
/// §5.8.1 requires for forward compatibility.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq)]
pub struct CollectedClientData {
    /// `webauthn.create` or `webauthn.get`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The challenge, base64url.
    pub challenge: String,
    /// The origin of the caller.
    pub origin: String,
    /// Whether the caller was in a cross-origin iframe.
    #[serde(rename = "crossOrigin", default)]
    pub cross_origin: Option<bool>,
    /// The top-level origin when called from an iframe.
    #[serde(rename = "topOrigin", default)]
    pub top_origin: Option<String>,
}

/// Which ceremony the client data must be for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Ceremony {
    Create,
    Get,
}

impl CollectedClientData {
    /// Parses clientDataJSON.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`](crate::Error::Malformed) when it is not UTF-8 JSON of the right shape.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Self::parse_inner(bytes).map_err(Into::into)
    }

    fn parse_inner(bytes: &[u8]) -> IResult<Self> {
        // §7.1 step 5 / §7.2 step 9: UTF-8 decode; step 6 / 10: parse the JSON.
        let text = std::str::from_utf8(bytes)
            .map_err(|_| InternalError::Malformed("client data utf-8"))?;
        // §5.8.1.2: the client data is a JSON object. serde would also read a struct
        // from a JSON array of its members in order, which no client produces.
        if !text
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
        {
            return Err(InternalError::Malformed("client data json"));
        }
        // Browsers serialise well-formed strings only (§5.8.1.1), so an unpaired `\u`
        // surrogate, even in a member we skip, marks a response no client produced.
        if !surrogates_paired(text.as_bytes()) {
            return Err(InternalError::Malformed("client data json"));
        }
        serde_json::from_str(text).map_err(|_| InternalError::Malformed("client data json"))
    }

    /// The checks of §7.1 steps 7–10 / §7.2 steps 11–14.
    pub(crate) fn check(&self, ceremony: Ceremony, exp: &Expectations) -> IResult<()> {
        // Step 7 / 11: C.type is webauthn.create / webauthn.get.
        let want = match ceremony {
            Ceremony::Create => "webauthn.create",
            Ceremony::Get => "webauthn.get",
        };
        if self.type_ != want {
            return Err(InternalError::ClientDataTypeMismatch);
        }
        // Step 8 / 12: C.challenge equals the base64url encoding of the challenge sent.
        if self.challenge != exp.challenge.encode() {
            return Err(InternalError::ChallengeMismatch);
        }
        // Step 9 / 13: C.origin is an origin the relying party expects.
        if !exp.origin_allowed(&self.origin) {
            return Err(InternalError::OriginMismatch);
        }
        // Step 10 / 14: cross-origin use (crossOrigin true, or a topOrigin) only when the
        // relying party expects to be embedded, and only by a listed top-level origin.
        if self.cross_origin == Some(true) || self.top_origin.is_some() {
            if !exp.allow_cross_origin {
                return Err(InternalError::CrossOriginNotAllowed);
            }
            match &self.top_origin {
                Some(top) if !exp.allowed_top_origins.iter().any(|o| o == top) => {
                    return Err(InternalError::CrossOriginNotAllowed);
                }
                // With a top-origin list, a cross-origin response must say which
                // top-level origin embedded it: one without topOrigin cannot be checked.
                None if !exp.allowed_top_origins.is_empty() => {
                    return Err(InternalError::CrossOriginNotAllowed);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Whether every `\uD800`–`\uDBFF` escape is followed by a `\uDC00`–`\uDFFF` escape and
/// no low surrogate escape stands alone. Other escapes are left to the JSON parser.
fn surrogates_paired(text: &[u8]) -> bool {
    let mut i = 0;
    let mut want_low = false;
    while let Some(&b) = text.get(i) {
        if b != b'\\' {
            if want_low {
                return false;
            }
            i += 1;
            continue;
        }
        match text.get(i + 1) {
            Some(b'u') => {
                let unit = text
                    .get(i + 2..i + 6)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u16::from_str_radix(h, 16).ok());
                let Some(unit) = unit else {
                    return false;
                };
                let high = (0xD800..=0xDBFF).contains(&unit);
                let low = (0xDC00..=0xDFFF).contains(&unit);
                if want_low != low || (want_low && high) {
                    return false;
                }
                want_low = high;
                i += 6;
            }
            Some(_) if want_low => return false,
            Some(_) => i += 2,
            None => return false,
        }
    }
    !want_low
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_data_as_json_array_is_rejected() {
        // Found by the client_data_json fuzz target: serde accepted a struct's members
        // as an array, so this parsed with type "webauthn.get".
        let array = br#"["webauthn.get", "AAAA", "https://example.com"]"#;
        assert!(matches!(
            CollectedClientData::parse_inner(array),
            Err(InternalError::Malformed("client data json"))
        ));
        let object =
            br#" {"type": "webauthn.get", "challenge": "AAAA", "origin": "https://example.com"}"#;
        assert_eq!(
            CollectedClientData::parse_inner(object).unwrap().type_,
            "webauthn.get"
        );
    }

    #[test]
    fn lone_surrogate_in_an_unknown_member_is_rejected() {
        // Found by the client_data_json fuzz target in CI: serde skips unknown members
        // without decoding their escapes, so `\uDBFB` followed by plain text was
        // accepted. No browser serialises an unpaired surrogate.
        let base = r#"{"type": "webauthn.get", "challenge": "AAAA", "origin": "https://example.com", "x": "#;
        let parse =
            |tail: &str| CollectedClientData::parse_inner(format!("{base}{tail}}}").as_bytes());
        for bad in [
            r#""\uDBFBFbe""#,
            r#""\uDBFB""#,
            r#""\uDC00""#,
            r#""\uD800\uD800""#,
            r#""\uD800\n""#,
            r#""\u12""#,
        ] {
            assert!(
                matches!(
                    parse(bad),
                    Err(InternalError::Malformed("client data json"))
                ),
                "{bad}"
            );
        }
        for good in [
            r#""\uD83D\uDE00""#,
            r#""\u00e9 \\uDBFB""#,
            r#""plain""#,
            "1e400",
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
    }
}
