//! Security Event Tokens (RFC 8417) for the OpenID Shared Signals Framework's CAEP and
//! RISC events that match what the service does.
//!
//! | service event | SET event type | claims |
//! | --- | --- | --- |
//! | factor confirmed, imported, WebAuthn or push registered | CAEP `credential-change` | `change_type: "create"` |
//! | factor renamed, recovery codes replaced | CAEP `credential-change` | `change_type: "update"` |
//! | factor removed | CAEP `credential-change` | `change_type: "delete"` |
//! | MFA reset | CAEP `credential-change` per factor removed (`"revoke"`, `initiating_entity: "admin"`), and `session-revoked` |
//! | remembered device forgotten | CAEP `session-revoked` |
//! | account-wide lockout | RISC `account-disabled` (`initiating_entity: "policy"`) |
//! | account unlocked by an operator | RISC `account-enabled` |
//!
//! Every token: JWS header `alg: ES256`, `typ: "secevent+jwt"` (RFC 8417 §2.3), optional
//! `kid`; claims `iss`, `iat`, `jti` (random, 128 bits: the receiver's idempotency key),
//! `aud` when configured, `sub_id` (Shared Signals 1.0, a subject identifier of format
//! `opaque`, RFC 9493, carrying the user id) and `events` with exactly one event whose
//! `event_timestamp` is when it happened. CAEP's `credential_type` is `app` (TOTP, HOTP,
//! push), `phone-sms`, `phone-voice`, `fido2-platform`, `fido2-roaming` from the CAEP
//! 1.0 list, and two values outside it that the specification allows by agreement with
//! the receiver: `email` and `recovery-code`. No SET carries a label, destination,
//! secret or code.

use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mfa_core::{Attachment, FactorKind, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::audit::{AuditEvent, EventKind};
use crate::error::{Error, Result};

/// The event type URIs (CAEP 1.0 §3, RISC 1.0 §2).
pub mod event_types {
    /// CAEP credential change.
    pub const CREDENTIAL_CHANGE: &str =
        "https://schemas.openid.net/secevent/caep/event-type/credential-change";
    /// CAEP session revoked.
    pub const SESSION_REVOKED: &str =
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
    /// RISC account disabled.
    pub const ACCOUNT_DISABLED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
    /// RISC account enabled.
    pub const ACCOUNT_ENABLED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-enabled";
}

/// CAEP `change_type`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeType {
    /// A credential was added.
    Create,
    /// A credential was deleted by its user.
    Delete,
    /// A credential was revoked (by an administrator's reset).
    Revoke,
    /// A credential was changed.
    Update,
}

/// CAEP `initiating_entity`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Initiator {
    /// An administrator (reset, unlock).
    Admin,
    /// A policy (a lockout).
    Policy,
    /// The user.
    User,
}

/// One security event, before it is signed.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SecurityEvent {
    /// RISC account-disabled: the account-wide lockout.
    AccountDisabled,
    /// RISC account-enabled: an operator unlocked the account.
    AccountEnabled,
    /// CAEP credential-change.
    CredentialChange {
        /// `credential_type`.
        credential_type: String,
        /// `change_type`.
        change_type: ChangeType,
        /// `initiating_entity`.
        initiator: Initiator,
    },
    /// CAEP session-revoked.
    SessionRevoked {
        /// `initiating_entity`.
        initiator: Initiator,
    },
}

impl SecurityEvent {
    /// The event type URI.
    pub fn uri(&self) -> &'static str {
        match self {
            Self::AccountDisabled => event_types::ACCOUNT_DISABLED,
            Self::AccountEnabled => event_types::ACCOUNT_ENABLED,
            Self::CredentialChange { .. } => event_types::CREDENTIAL_CHANGE,
            Self::SessionRevoked { .. } => event_types::SESSION_REVOKED,
        }
    }

    /// A credential change of a factor of `kind`.
    pub fn credential(kind: FactorKind, change_type: ChangeType, initiator: Initiator) -> Self {
        Self::CredentialChange {
            credential_type: credential_type(kind).to_owned(),
            change_type,
            initiator,
        }
    }

    /// The events an audit event implies (none for most).
    pub fn for_audit(event: &AuditEvent) -> Vec<Self> {
        let credential = |change| {
            event
                .kind
                .map(|k| Self::credential(k, change, Initiator::User))
                .into_iter()
                .collect()
        };
        match &event.event {
            EventKind::Confirmed | EventKind::Imported { .. } => credential(ChangeType::Create),
            EventKind::FactorRenamed | EventKind::RecoveryCodesRegenerated => {
                credential(ChangeType::Update)
            }
            EventKind::FactorRemoved => credential(ChangeType::Delete),
            EventKind::Reset { .. } => vec![Self::SessionRevoked {
                initiator: Initiator::Admin,
            }],
            EventKind::DeviceForgotten { .. } => vec![Self::SessionRevoked {
                initiator: Initiator::User,
            }],
            EventKind::AccountLocked { .. } => vec![Self::AccountDisabled],
            EventKind::Unlocked if event.factor.is_none() => vec![Self::AccountEnabled],
            _ => Vec::new(),
        }
    }

    fn claims(&self, at: Timestamp) -> Value {
        let mut m = Map::new();
        m.insert("event_timestamp".into(), json!(at.unix_secs()));
        let initiator = |i: &Initiator| serde_json::to_value(i).unwrap_or(Value::Null);
        match self {
            Self::CredentialChange {
                credential_type,
                change_type,
                initiator: i,
            } => {
                m.insert("credential_type".into(), json!(credential_type));
                m.insert(
                    "change_type".into(),
                    serde_json::to_value(change_type).unwrap_or(Value::Null),
                );
                m.insert("initiating_entity".into(), initiator(i));
            }
            Self::SessionRevoked { initiator: i } => {
                m.insert("initiating_entity".into(), initiator(i));
            }
            Self::AccountDisabled => {
                m.insert("initiating_entity".into(), json!("policy"));
            }
            Self::AccountEnabled => {
                m.insert("initiating_entity".into(), json!("admin"));
            }
        }
        Value::Object(m)
    }
}

/// CAEP's `credential_type` for a factor kind.
pub(crate) fn credential_type(kind: FactorKind) -> &'static str {
    match kind {
        FactorKind::Sms => "phone-sms",
        FactorKind::Voice => "phone-voice",
        FactorKind::Email => "email",
        FactorKind::RecoveryCode => "recovery-code",
        FactorKind::WebAuthn {
            attachment: Some(Attachment::Platform),
        } => "fido2-platform",
        k if k.is_webauthn() => "fido2-roaming",
        _ => "app",
    }
}

/// Signs Security Event Tokens: ES256 with a configured key, issuer and (optionally)
/// audience and key id. `Debug` never prints the key.
pub struct EventSigner {
    pub(super) issuer: String,
    audience: Option<String>,
    pub(super) key_id: Option<String>,
    pub(super) key: EncodingKey,
}

impl fmt::Debug for EventSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSigner")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl EventSigner {
    /// A signer with `issuer` (the `iss` claim) and a P-256 private key in PEM (SEC1 or
    /// PKCS#8).
    ///
    /// # Errors
    ///
    /// [`Error::Core`] (invalid input) when the key does not parse.
    pub fn es256_pem(issuer: impl Into<String>, pem: &[u8]) -> Result<Self> {
        let key = EncodingKey::from_ec_pem(pem).map_err(|_| {
            mfa_core::Error::invalid("event signing key", "not a P-256 private key in PEM")
        })?;
        Ok(Self {
            issuer: issuer.into(),
            audience: None,
            key_id: None,
            key,
        })
    }

    /// The `aud` claim (the receiver).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The `kid` header (so receivers can rotate keys).
    #[must_use]
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.key_id = Some(kid.into());
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs `event` about `user`, identified by `jti`, issued at `iat`, describing what
    /// happened at `at`.
    ///
    /// # Errors
    ///
    /// [`Error::Events`] when signing fails.
    pub fn sign(
        &self,
        event: &SecurityEvent,
        user: &UserId,
        jti: &str,
        at: Timestamp,
        iat: Timestamp,
    ) -> Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("secevent+jwt".to_owned());
        header.kid.clone_from(&self.key_id);
        let mut events = Map::new();
        events.insert(event.uri().to_owned(), event.claims(at));
        let mut claims = json!({
            "iss": self.issuer,
            "iat": iat.unix_secs(),
            "jti": jti,
            "sub_id": { "format": "opaque", "id": user.as_str() },
            "events": events,
        });
        if let (Some(aud), Some(obj)) = (&self.audience, claims.as_object_mut()) {
            obj.insert("aud".into(), json!(aud));
        }
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| Error::Events(e.to_string()))
    }
}
