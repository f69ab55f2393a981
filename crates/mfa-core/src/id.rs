//! Identifiers: users, enrolled factors, and what kind of factor each is.

use alloc::format;
use alloc::string::String;
use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::{Error, InvalidInput};
use crate::method::AuthMethod;
use crate::random::SecureRandom;

/// The longest identifier accepted, in bytes.
const MAX_ID_LEN: usize = 255;

fn check_id(what: &'static str, s: &str) -> Result<(), InvalidInput> {
    if s.is_empty() {
        return Err(InvalidInput::new(what, "must not be empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(InvalidInput::new(what, "longer than 255 bytes"));
    }
    if s.chars().any(char::is_control) {
        return Err(InvalidInput::new(what, "contains a control character"));
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Builds a ", $what, " from 1 to 255 bytes without control characters.")]
            ///
            /// # Errors
            ///
            /// [`Error::Invalid`] when the string is empty, too long or has a control
            /// character.
            pub fn new(id: impl Into<String>) -> Result<Self, Error> {
                let id = id.into();
                check_id($what, &id)?;
                Ok(Self(id))
            }

            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                check_id($what, &s).map_err(serde::de::Error::custom)?;
                Ok(Self(s))
            }
        }
    };
}

string_id!(
    /// An opaque identifier of a user, chosen by the service (a database key, an email,
    /// a subject claim). Serialised as a plain string.
    UserId,
    "user id"
);

string_id!(
    /// An opaque identifier of one enrolled factor of one user. Generate new ones with
    /// [`FactorId::generate`]; serialised as a plain string.
    FactorId,
    "factor id"
);

impl FactorId {
    /// A new random identifier: 16 bytes from `rng`, base64url without padding.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] when the random source fails.
    pub fn generate(rng: &mut dyn SecureRandom) -> Result<Self, Error> {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }
}

/// How a WebAuthn authenticator is attached to the client (WebAuthn L3 §5.4.5).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attachment {
    /// A roaming authenticator: a security key, or a phone used over hybrid transport.
    CrossPlatform,
    /// Built into the client device: Touch ID, Windows Hello, Android screen lock.
    Platform,
}

/// A hint to the client about which authenticator to offer (WebAuthn L3 §5.8.7,
/// `PublicKeyCredentialHint`), sent as `hints` in creation and request options. Hints
/// steer the browser's UI; unlike `authenticatorAttachment` they never make a ceremony
/// fail, and nothing about the response is trusted because of them.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebAuthnHint {
    /// A platform authenticator on this device (`client-device`).
    ClientDevice,
    /// A phone or tablet over the hybrid transport (`hybrid`).
    Hybrid,
    /// A roaming security key (`security-key`).
    SecurityKey,
}

impl WebAuthnHint {
    /// The string the browser takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientDevice => "client-device",
            Self::Hybrid => "hybrid",
            Self::SecurityKey => "security-key",
        }
    }

    /// The hint matching a factor's attachment: a platform credential is on the
    /// `client-device`, a roaming one a `security-key`.
    pub fn for_attachment(attachment: Attachment) -> Self {
        match attachment {
            Attachment::Platform => Self::ClientDevice,
            Attachment::CrossPlatform => Self::SecurityKey,
        }
    }
}

/// What kind of factor an enrollment is.
///
/// Serialised as a short kebab-case string (`"totp"`, `"webauthn-platform"`), which is
/// also its `Display` and `FromStr` form, so it fits a SQL column as well as JSON.
///
/// ```
/// use mfa_core::{Attachment, FactorKind};
///
/// let k: FactorKind = "webauthn-cross-platform".parse()?;
/// assert_eq!(k, FactorKind::WebAuthn { attachment: Some(Attachment::CrossPlatform) });
/// assert_eq!(FactorKind::Sms.to_string(), "sms");
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(into = "&'static str")]
pub enum FactorKind {
    /// A code sent by email.
    Email,
    /// An HMAC-based one-time password (RFC 4226).
    Hotp,
    /// An approval on an enrolled device (push notification).
    Push,
    /// A single-use recovery (backup) code.
    RecoveryCode,
    /// A code sent by SMS.
    Sms,
    /// A time-based one-time password (RFC 6238).
    Totp,
    /// A code read out by a voice call.
    Voice,
    /// A WebAuthn credential: a passkey or a security key.
    WebAuthn {
        /// How the authenticator is attached, when the browser reported it.
        attachment: Option<Attachment>,
    },
}

impl FactorKind {
    /// Every kind, with each WebAuthn attachment, in `Ord` order.
    pub const ALL: [FactorKind; 10] = [
        Self::Email,
        Self::Hotp,
        Self::Push,
        Self::RecoveryCode,
        Self::Sms,
        Self::Totp,
        Self::Voice,
        Self::WebAuthn { attachment: None },
        Self::WebAuthn {
            attachment: Some(Attachment::CrossPlatform),
        },
        Self::WebAuthn {
            attachment: Some(Attachment::Platform),
        },
    ];

    /// The stable string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Hotp => "hotp",
            Self::Push => "push",
            Self::RecoveryCode => "recovery-code",
            Self::Sms => "sms",
            Self::Totp => "totp",
            Self::Voice => "voice",
            Self::WebAuthn { attachment: None } => "webauthn",
            Self::WebAuthn {
                attachment: Some(Attachment::CrossPlatform),
            } => "webauthn-cross-platform",
            Self::WebAuthn {
                attachment: Some(Attachment::Platform),
            } => "webauthn-platform",
        }
    }

    /// Whether this is a WebAuthn credential of any attachment.
    pub fn is_webauthn(self) -> bool {
        matches!(self, Self::WebAuthn { .. })
    }

    /// Whether this is a WebAuthn platform authenticator (Touch ID, Windows Hello).
    pub fn is_platform_authenticator(self) -> bool {
        matches!(
            self,
            Self::WebAuthn {
                attachment: Some(Attachment::Platform)
            }
        )
    }

    /// Whether a successful use of this factor is phishing-resistant (NIST SP 800-63B
    /// §5.2.5): only WebAuthn, whose signature covers the origin the browser saw.
    ///
    /// This is a property of the protocol, not of the `amr` value: a push approval also
    /// proves a software key (`swk`) but a user can approve a phisher's sign-in, so policy
    /// should decide phishing resistance from the factor kind.
    pub fn is_phishing_resistant(self) -> bool {
        self.is_webauthn()
    }

    /// Whether codes for this factor travel over a channel the user does not control
    /// end to end (SMS, voice, email): an out-of-band factor.
    pub fn is_out_of_band(self) -> bool {
        matches!(self, Self::Email | Self::Sms | Self::Voice)
    }

    /// The RFC 8176 methods a successful use of this factor usually proves.
    ///
    /// A factor's verifier reports the methods it actually proved (a WebAuthn assertion
    /// with user verification adds `user`-verifying methods, for instance); this is the
    /// baseline for policy decisions before anything is verified.
    pub fn typical_methods(self) -> &'static [AuthMethod] {
        match self {
            Self::Email | Self::Hotp | Self::RecoveryCode | Self::Totp => &[AuthMethod::Otp],
            Self::Push => &[AuthMethod::Swk],
            Self::Sms => &[AuthMethod::Sms],
            Self::Voice => &[AuthMethod::Tel],
            Self::WebAuthn { .. } => &[AuthMethod::Hwk],
        }
    }
}

impl fmt::Display for FactorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<FactorKind> for &'static str {
    fn from(k: FactorKind) -> Self {
        k.as_str()
    }
}

impl TryFrom<&str> for FactorKind {
    type Error = InvalidInput;

    fn try_from(s: &str) -> Result<Self, InvalidInput> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| InvalidInput::new("factor kind", format!("unknown kind {s:?}")))
    }
}

impl<'de> Deserialize<'de> for FactorKind {
    /// Accepts borrowed and owned strings alike (JSON, TOML, `serde_json::Value`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = FactorKind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a factor kind such as \"totp\" or \"webauthn-platform\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<FactorKind, E> {
                FactorKind::try_from(s).map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl FromStr for FactorKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(Self::try_from(s)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_validate_and_round_trip() {
        let u = UserId::new("alice").unwrap();
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"alice\"");
        let back: UserId = serde_json::from_str("\"alice\"").unwrap();
        assert_eq!(back, u);
        assert!(serde_json::from_str::<UserId>("\"\"").is_err());
        assert!(serde_json::from_str::<FactorId>("\"a\\u0000b\"").is_err());
        assert!(UserId::new("x".repeat(256)).is_err());
        assert!(UserId::new("x".repeat(255)).is_ok());
        assert_eq!(
            UserId::new("a\nb").unwrap_err().to_string(),
            "invalid user id: contains a control character"
        );
        assert_eq!(format!("{u:?}"), "UserId(\"alice\")");
    }

    #[test]
    fn generated_factor_ids_are_distinct() {
        let mut rng = crate::OsRandom;
        let a = FactorId::generate(&mut rng).unwrap();
        let b = FactorId::generate(&mut rng).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 22);
    }

    #[test]
    fn every_kind_round_trips_through_string_and_serde() {
        for kind in FactorKind::ALL {
            let s = kind.to_string();
            assert_eq!(s.parse::<FactorKind>().unwrap(), kind, "{s}");
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<FactorKind>(&json).unwrap(), kind);
        }
        let err = "fax".parse::<FactorKind>().unwrap_err();
        assert_eq!(err.to_string(), "invalid factor kind: unknown kind \"fax\"");
        assert!(serde_json::from_str::<FactorKind>("\"fax\"").is_err());
        // Owned strings too, as from a `serde_json::Value` or a TOML document.
        let value = serde_json::Value::String("recovery-code".to_owned());
        assert_eq!(
            serde_json::from_value::<FactorKind>(value).unwrap(),
            FactorKind::RecoveryCode
        );
    }

    #[test]
    fn kind_properties() {
        let platform = FactorKind::WebAuthn {
            attachment: Some(Attachment::Platform),
        };
        assert!(platform.is_platform_authenticator());
        assert!(platform.is_webauthn());
        assert!(!FactorKind::WebAuthn { attachment: None }.is_platform_authenticator());
        assert!(FactorKind::Sms.is_out_of_band());
        let resistant: Vec<_> = FactorKind::ALL
            .into_iter()
            .filter(|k| k.is_phishing_resistant())
            .collect();
        assert!(resistant.iter().all(|k| k.is_webauthn()) && resistant.len() == 3);
        assert!(!FactorKind::Push.is_phishing_resistant());
        assert!(!FactorKind::Totp.is_out_of_band());
        assert_eq!(FactorKind::Voice.typical_methods(), &[AuthMethod::Tel]);
        // ALL is sorted and has no duplicates.
        assert!(FactorKind::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
