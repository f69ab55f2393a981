//! RFC 8176 authentication method reference (`amr`) values.

use alloc::format;
use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, InvalidInput};

/// The category of authentication factor a method proves (NIST SP 800-63B §5.1, "something
/// you have / know / are").
///
/// Multi-factor means *distinct categories*: a TOTP code and an SMS code are two
/// "something you have" proofs, not two factors.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorCategory {
    /// Something you are: a biometric.
    Inherence,
    /// Something you know: a password, a PIN, an answer.
    Knowledge,
    /// Something you have: a device, a key, a phone, a code list.
    Possession,
}

/// One RFC 8176 authentication method reference value (the `amr` claim of OIDC).
///
/// Every value of the IANA "Authentication Method Reference Values" registry as
/// established by RFC 8176 §2 is here, serialised as its registered string.
///
/// ```
/// use mfa_core::{AuthMethod, FactorCategory};
///
/// let m: AuthMethod = "hwk".parse()?;
/// assert_eq!(m, AuthMethod::Hwk);
/// assert_eq!(m.category(), Some(FactorCategory::Possession));
/// assert!(m.is_hardware_bound());
/// assert_eq!(serde_json::to_string(&AuthMethod::Otp).unwrap(), "\"otp\"");
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// Biometric authentication using facial recognition.
    Face,
    /// Biometric authentication using a fingerprint.
    Fpt,
    /// Use of geolocation information for authentication.
    Geo,
    /// Proof-of-possession of a hardware-secured key.
    Hwk,
    /// Biometric authentication using an iris scan.
    Iris,
    /// Knowledge-based authentication.
    Kba,
    /// Multiple-channel authentication.
    Mca,
    /// Multiple-factor authentication.
    Mfa,
    /// One-time password.
    Otp,
    /// Personal identification number or pattern.
    Pin,
    /// Proof-of-possession of a key (hardware or software).
    Pop,
    /// Password-based authentication.
    Pwd,
    /// Risk-based authentication.
    Rba,
    /// Biometric authentication using a retina scan.
    Retina,
    /// Smart card.
    Sc,
    /// Confirmation using SMS.
    Sms,
    /// Proof-of-possession of a software-secured key.
    Swk,
    /// Confirmation by telephone call.
    Tel,
    /// User presence test.
    User,
    /// Biometric authentication using a voiceprint.
    Vbm,
    /// Windows integrated authentication.
    Wia,
}

impl AuthMethod {
    /// Every registered value, in alphabetical order.
    pub const ALL: [AuthMethod; 21] = [
        Self::Face,
        Self::Fpt,
        Self::Geo,
        Self::Hwk,
        Self::Iris,
        Self::Kba,
        Self::Mca,
        Self::Mfa,
        Self::Otp,
        Self::Pin,
        Self::Pop,
        Self::Pwd,
        Self::Rba,
        Self::Retina,
        Self::Sc,
        Self::Sms,
        Self::Swk,
        Self::Tel,
        Self::User,
        Self::Vbm,
        Self::Wia,
    ];

    /// The registered `amr` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Face => "face",
            Self::Fpt => "fpt",
            Self::Geo => "geo",
            Self::Hwk => "hwk",
            Self::Iris => "iris",
            Self::Kba => "kba",
            Self::Mca => "mca",
            Self::Mfa => "mfa",
            Self::Otp => "otp",
            Self::Pin => "pin",
            Self::Pop => "pop",
            Self::Pwd => "pwd",
            Self::Rba => "rba",
            Self::Retina => "retina",
            Self::Sc => "sc",
            Self::Sms => "sms",
            Self::Swk => "swk",
            Self::Tel => "tel",
            Self::User => "user",
            Self::Vbm => "vbm",
            Self::Wia => "wia",
        }
    }

    /// The factor category this method proves, or `None` for methods that describe how
    /// authentication happened rather than proving a factor (`mfa`, `mca`, `rba`, `geo`,
    /// `wia`, and `user`, which only shows a person was present).
    pub fn category(self) -> Option<FactorCategory> {
        match self {
            Self::Hwk | Self::Otp | Self::Pop | Self::Sc | Self::Sms | Self::Swk | Self::Tel => {
                Some(FactorCategory::Possession)
            }
            Self::Kba | Self::Pin | Self::Pwd => Some(FactorCategory::Knowledge),
            Self::Face | Self::Fpt | Self::Iris | Self::Retina | Self::Vbm => {
                Some(FactorCategory::Inherence)
            }
            Self::Geo | Self::Mca | Self::Mfa | Self::Rba | Self::User | Self::Wia => None,
        }
    }

    /// Whether the method is a proof of possession of a key, the kind of proof that is
    /// phishing-resistant (NIST SP 800-63B §5.2.5) *when the protocol binds it to the
    /// verifier*, as WebAuthn and TLS client certificates do. OTPs, SMS and calls never
    /// are. Whether a given use was verifier-bound is a property of the factor, not of
    /// the `amr` value: decide with [`FactorKind::is_phishing_resistant`](crate::FactorKind::is_phishing_resistant).
    pub fn is_phishing_resistant(self) -> bool {
        matches!(self, Self::Hwk | Self::Pop | Self::Sc | Self::Swk)
    }

    /// Whether the proven key is held in hardware that prevents its export
    /// (`hwk`, `sc`): required for AAL3.
    pub fn is_hardware_bound(self) -> bool {
        matches!(self, Self::Hwk | Self::Sc)
    }

    /// Whether NIST SP 800-63B §5.1.3.3 classes the method as a *restricted*
    /// authenticator (out-of-band over the public telephone network: SMS and voice),
    /// which a verifier may accept only with notice to the user and an alternative.
    pub fn is_restricted(self) -> bool {
        matches!(self, Self::Sms | Self::Tel)
    }

    /// Whether the method verifies *who* the user is locally (a biometric or a PIN),
    /// as a WebAuthn authenticator with the UV flag does.
    pub fn is_user_verifying(self) -> bool {
        matches!(
            self,
            Self::Face | Self::Fpt | Self::Iris | Self::Pin | Self::Retina | Self::Vbm
        )
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                InvalidInput::new("amr value", format!("{s:?} is not registered in RFC 8176"))
                    .into()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8176 §2, in the registry's order: (value, category, phishing-resistant,
    /// hardware-bound, restricted).
    const RFC8176: &[(&str, Option<FactorCategory>, bool, bool, bool)] = &[
        ("face", Some(FactorCategory::Inherence), false, false, false),
        ("fpt", Some(FactorCategory::Inherence), false, false, false),
        ("geo", None, false, false, false),
        ("hwk", Some(FactorCategory::Possession), true, true, false),
        ("iris", Some(FactorCategory::Inherence), false, false, false),
        ("kba", Some(FactorCategory::Knowledge), false, false, false),
        ("mca", None, false, false, false),
        ("mfa", None, false, false, false),
        ("otp", Some(FactorCategory::Possession), false, false, false),
        ("pin", Some(FactorCategory::Knowledge), false, false, false),
        ("pop", Some(FactorCategory::Possession), true, false, false),
        ("pwd", Some(FactorCategory::Knowledge), false, false, false),
        ("rba", None, false, false, false),
        (
            "retina",
            Some(FactorCategory::Inherence),
            false,
            false,
            false,
        ),
        ("sc", Some(FactorCategory::Possession), true, true, false),
        ("sms", Some(FactorCategory::Possession), false, false, true),
        ("swk", Some(FactorCategory::Possession), true, false, false),
        ("tel", Some(FactorCategory::Possession), false, false, true),
        ("user", None, false, false, false),
        ("vbm", Some(FactorCategory::Inherence), false, false, false),
        ("wia", None, false, false, false),
    ];

    #[test]
    fn every_registered_value_with_its_properties() {
        assert_eq!(RFC8176.len(), AuthMethod::ALL.len());
        for (i, &(s, category, phish, hw, restricted)) in RFC8176.iter().enumerate() {
            let m: AuthMethod = s.parse().unwrap_or_else(|e| panic!("#{i} {s}: {e}"));
            assert_eq!(m, AuthMethod::ALL[i], "#{i} {s}");
            assert_eq!(m.as_str(), s);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<AuthMethod>(&format!("\"{s}\"")).unwrap(),
                m
            );
            assert_eq!(m.category(), category, "#{i} {s}");
            assert_eq!(m.is_phishing_resistant(), phish, "#{i} {s}");
            assert_eq!(m.is_hardware_bound(), hw, "#{i} {s}");
            assert_eq!(m.is_restricted(), restricted, "#{i} {s}");
        }
    }

    #[test]
    fn unknown_values_are_rejected_with_the_value() {
        let e = "HWK".parse::<AuthMethod>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid amr value: \"HWK\" is not registered in RFC 8176"
        );
        assert!(serde_json::from_str::<AuthMethod>("\"password\"").is_err());
    }

    #[test]
    fn user_verifying_methods() {
        let uv: Vec<_> = AuthMethod::ALL
            .into_iter()
            .filter(|m| m.is_user_verifying())
            .map(AuthMethod::as_str)
            .collect();
        assert_eq!(uv, ["face", "fpt", "iris", "pin", "retina", "vbm"]);
    }
}
