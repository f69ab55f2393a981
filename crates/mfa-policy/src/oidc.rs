//! OpenID Connect step-up: requested `acr` values in, `acr`/`amr` out, and the RFC 9470
//! `WWW-Authenticate` challenge for APIs.
//!
//! The ID token's `acr` is [`Decision::Allow`](crate::Decision::Allow)'s `acr` (the
//! requested value met, else `acr_for_aal` for the level held); its `amr` is
//! [`Policy::amr`](crate::Policy::amr): the RFC 8176 values the session's factors
//! reported (`pwd`, `otp`, `sms`, `tel`, `hwk`, `swk`, `pop`, `sc`, `pin`, `fpt`, `face`,
//! `user`, …) plus `mfa` exactly when policy judges the session multi-factor: two
//! distinct categories from distinct factors, or one user-verified WebAuthn credential
//! (reporting `pin`/`fpt`/`face` or `mfa` with its key proof).

use std::fmt::Write as _;
use std::time::Duration;

use mfa_core::InvalidInput;
use serde::{Deserialize, Serialize};

/// OpenID PAPE 1.0 §4 policy: more than one authentication factor.
pub const PAPE_MULTI_FACTOR: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";
/// OpenID PAPE 1.0 §4 policy: more than one factor, at least one physical.
pub const PAPE_MULTI_FACTOR_PHYSICAL: &str =
    "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical";
/// OpenID PAPE 1.0 §4 policy: a phishing-resistant mechanism.
pub const PAPE_PHISHING_RESISTANT: &str =
    "http://schemas.openid.net/pape/policies/2007/06/phishing-resistant";
/// The `acr` values of the US federal profile (login.gov, iGov) for AAL1–3.
pub const IDMANAGEMENT_AAL: [&str; 3] = [
    "http://idmanagement.gov/ns/assurance/aal/1",
    "http://idmanagement.gov/ns/assurance/aal/2",
    "http://idmanagement.gov/ns/assurance/aal/3",
];

/// OpenID EAP ACR Values 1.0 §2: phishing-resistant authentication (`phr`).
pub const PHR: &str = "phr";
/// OpenID EAP ACR Values 1.0 §2: phishing-resistant authentication with a
/// hardware-protected key (`phrh`).
pub const PHRH: &str = "phrh";

/// The EAP `acr` value the methods of one ceremony prove, from evidence only: `phrh`
/// when a key proven hardware-bound (`hwk`: attested and device-bound) signed a
/// challenge (`pop`), `phr` for any other proof of possession of an origin-bound key
/// (`swk` + `pop`: a WebAuthn assertion, which the browser binds to the origin), none
/// otherwise (an OTP can be phished).
pub fn evidence_acr(methods: &[mfa_core::AuthMethod]) -> Option<&'static str> {
    use mfa_core::AuthMethod;
    if !methods.contains(&AuthMethod::Pop) {
        return None;
    }
    if methods.contains(&AuthMethod::Hwk) {
        Some(PHRH)
    } else if methods.contains(&AuthMethod::Swk) {
        Some(PHR)
    } else {
        None
    }
}

/// The `acr` values a relying party asked for (OIDC Core §3.1.2.1 `acr_values`, or the
/// `acr` member of the `claims` parameter, §5.5.1.1), in its order of preference.
#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcrRequest {
    /// The values, most preferred first.
    pub values: Vec<String>,
    /// Whether the `acr` claim was requested as essential: if no value can be met, the
    /// request is refused rather than answered with a weaker `acr`.
    pub essential: bool,
}

impl AcrRequest {
    /// From the space-separated `acr_values` request parameter (voluntary).
    pub fn from_acr_values(param: &str) -> Self {
        Self {
            values: param.split_ascii_whitespace().map(str::to_owned).collect(),
            essential: false,
        }
    }

    /// From the JSON `claims` request parameter: `id_token.acr` (or `userinfo.acr`) with
    /// `essential`, `value` and `values` (OIDC Core §5.5.1). `None` when it asks nothing
    /// about `acr`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when the parameter is not JSON of that shape.
    pub fn from_claims(json: &str) -> Result<Option<Self>, InvalidInput> {
        #[derive(Deserialize)]
        struct Claims {
            id_token: Option<Members>,
            userinfo: Option<Members>,
        }
        #[derive(Deserialize)]
        struct Members {
            // Present-but-null (`"acr": null`) asks for the claim with no constraint.
            #[serde(default, deserialize_with = "present")]
            acr: Option<Option<AcrClaim>>,
        }
        fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
        where
            D: serde::Deserializer<'de>,
            T: Deserialize<'de>,
        {
            Option::<T>::deserialize(d).map(Some)
        }
        #[derive(Deserialize)]
        struct AcrClaim {
            #[serde(default)]
            essential: bool,
            value: Option<String>,
            values: Option<Vec<String>>,
        }
        let claims: Claims = serde_json::from_str(json)
            .map_err(|e| InvalidInput::new("claims parameter", e.to_string()))?;
        let acr = [claims.id_token, claims.userinfo]
            .into_iter()
            .flatten()
            .find_map(|m| m.acr);
        Ok(acr.map(|claim| {
            let claim = claim.unwrap_or(AcrClaim {
                essential: false,
                value: None,
                values: None,
            });
            let mut values: Vec<String> = claim.value.into_iter().collect();
            values.extend(claim.values.unwrap_or_default());
            Self {
                values,
                essential: claim.essential,
            }
        }))
    }

    /// Whether no value was requested.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Builds the RFC 9470 §3 challenge a resource server returns (with HTTP 401) when the
/// access token's authentication is insufficient:
///
/// ```
/// use std::time::Duration;
/// let h = mfa_policy::oidc::www_authenticate(Some("api"), &["phr"], Some(Duration::from_secs(300)))?;
/// assert_eq!(
///     h,
///     "Bearer realm=\"api\", error=\"insufficient_user_authentication\", \
///      error_description=\"A different authentication level is required\", \
///      acr_values=\"phr\", max_age=\"300\""
/// );
/// # Ok::<(), mfa_core::InvalidInput>(())
/// ```
///
/// # Errors
///
/// [`InvalidInput`] when the realm or an `acr` value has a control character or a
/// double quote (they cannot be carried in a quoted-string safely), or an `acr` value is
/// empty or contains a space (`acr_values` is space-separated).
pub fn www_authenticate(
    realm: Option<&str>,
    acr_values: &[&str],
    max_age: Option<Duration>,
) -> Result<String, InvalidInput> {
    let mut out = String::from("Bearer ");
    if let Some(realm) = realm {
        check_quotable("realm", realm)?;
        let _ = write!(out, "realm=\"{realm}\", ");
    }
    out.push_str(
        "error=\"insufficient_user_authentication\", \
         error_description=\"A different authentication level is required\"",
    );
    if !acr_values.is_empty() {
        for v in acr_values {
            check_quotable("acr value", v)?;
            if v.is_empty() || v.contains(' ') {
                return Err(InvalidInput::new(
                    "acr value",
                    "must be non-empty and contain no space",
                ));
            }
        }
        let _ = write!(out, ", acr_values=\"{}\"", acr_values.join(" "));
    }
    if let Some(age) = max_age {
        let _ = write!(out, ", max_age=\"{}\"", age.as_secs());
    }
    Ok(out)
}

fn check_quotable(what: &'static str, s: &str) -> Result<(), InvalidInput> {
    if s.chars().any(|c| c.is_control() || c == '"' || c == '\\') {
        return Err(InvalidInput::new(
            what,
            "contains a control character, a double quote or a backslash",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acr_values_parameter_splits_on_spaces() {
        let r = AcrRequest::from_acr_values(" phr  urn:x ");
        assert_eq!(r.values, ["phr", "urn:x"]);
        assert!(!r.essential);
        assert!(AcrRequest::from_acr_values("").is_empty());
    }

    #[test]
    fn claims_parameter() {
        let r = AcrRequest::from_claims(
            r#"{"id_token":{"acr":{"essential":true,"values":["a","b"]}}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.values, ["a", "b"]);
        assert!(r.essential);
        let r = AcrRequest::from_claims(r#"{"userinfo":{"acr":{"value":"x"}}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(r.values, ["x"]);
        assert!(!r.essential);
        let r = AcrRequest::from_claims(r#"{"id_token":{"acr":null}}"#)
            .unwrap()
            .unwrap();
        assert!(r.is_empty());
        assert!(
            AcrRequest::from_claims(r#"{"id_token":{"email":null}}"#)
                .unwrap()
                .is_none()
        );
        let e = AcrRequest::from_claims("[").unwrap_err();
        assert_eq!(e.what(), "claims parameter");
    }

    #[test]
    fn challenge_refuses_unsafe_values() {
        assert!(www_authenticate(Some("a\"b"), &[], None).is_err());
        assert!(www_authenticate(None, &["a b"], None).is_err());
        assert!(www_authenticate(None, &[""], None).is_err());
        assert_eq!(
            www_authenticate(None, &[], Some(Duration::from_secs(5))).unwrap(),
            "Bearer error=\"insufficient_user_authentication\", \
             error_description=\"A different authentication level is required\", max_age=\"5\""
        );
    }
}

#[cfg(test)]
mod evidence_tests {
    use mfa_core::AuthMethod::{Hwk, Mfa, Otp, Pop, Swk, User};

    use super::evidence_acr;

    #[test]
    fn phr_and_phrh_follow_the_evidence() {
        assert_eq!(evidence_acr(&[Hwk, Pop, User, Mfa]), Some("phrh"));
        assert_eq!(evidence_acr(&[Swk, Pop, User]), Some("phr"));
        // No proof of possession, or a phishable factor: nothing.
        assert_eq!(evidence_acr(&[Hwk, User]), None);
        assert_eq!(evidence_acr(&[Otp]), None);
    }
}
