//! What evaluation looks at: the user, their factors, the session and the request.
//!
//! The service builds an [`Input`] from these for every decision; all are borrowed, so
//! building it costs nothing. Which [`Request`] fields a client controls, and why they
//! cannot lower a requirement, is in the [crate docs](crate#inputs-a-client-controls).

use std::net::IpAddr;

use mfa_core::{AuthMethod, FactorId, FactorKind, Timestamp, UserId};
use serde::{Deserialize, Serialize};

use crate::device::DeviceProof;
use crate::oidc::AcrRequest;

/// Who the user is, for rules and enrollment: their groups and roles.
///
/// Names are compared ASCII-case-insensitively with the policy's names.
#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Subject {
    /// Group names (`"admins"`, `"finance"`).
    pub groups: Vec<String>,
    /// Role names (`"org-owner"`).
    pub roles: Vec<String>,
}

/// One factor the user has enrolled, as the service's store knows it.
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolledFactor {
    /// Its identifier.
    pub id: FactorId,
    /// Its kind.
    pub kind: FactorKind,
    /// Whether enrollment was confirmed; unconfirmed factors count for nothing.
    #[serde(default = "yes")]
    pub confirmed: bool,
    /// Consecutive failed verifications since the last success.
    #[serde(default)]
    pub consecutive_failures: u32,
    /// When the last failure happened.
    #[serde(default)]
    pub last_failure_at: Option<Timestamp>,
}

impl EnrolledFactor {
    /// A confirmed factor with no failures.
    pub fn new(id: FactorId, kind: FactorKind) -> Self {
        Self {
            id,
            kind,
            confirmed: true,
            consecutive_failures: 0,
            last_failure_at: None,
        }
    }
}

/// One authentication method the session completed.
///
/// A password is `(pwd, no factor)`; a TOTP code is `(otp, factor f1)`; a WebAuthn
/// assertion with user verification is several entries with the same factor and time,
/// exactly as the factor reported them: `(hwk, f2)` with `(pin, f2)` (or `fpt`, `face`),
/// or `(hwk, f2)`, `(user, f2)` and `(mfa, f2)`. Either form makes the credential a
/// multi-factor authenticator (AAL2 alone; AAL3 with `hwk`).
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CompletedMethod {
    /// The RFC 8176 method proven.
    pub method: AuthMethod,
    /// The enrolled factor that proved it; `None` for the primary credential (a
    /// password held outside the MFA store). Methods naming a factor that is not in the
    /// user's enrolled, confirmed list count for nothing.
    #[serde(default)]
    pub factor: Option<FactorId>,
    /// When it was verified.
    pub at: Timestamp,
}

/// The current session's authentication history.
#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Session {
    /// Methods completed, in any order.
    pub methods: Vec<CompletedMethod>,
    /// The last time the user was active in this session, for inactivity limits.
    pub last_activity: Option<Timestamp>,
}

impl Session {
    /// A session that has just proven one primary credential held outside the MFA store
    /// (`AuthMethod::Pwd` for a password), at `at`: what a service has right after its
    /// own login check, before any second factor.
    ///
    /// ```
    /// use mfa_core::{AuthMethod, Timestamp};
    /// use mfa_policy::input::Session;
    ///
    /// let now = Timestamp::from_unix_secs(1_700_000_000);
    /// let session = Session::primary(AuthMethod::Pwd, now);
    /// assert_eq!(session.methods.len(), 1);
    /// assert_eq!(session.methods[0].factor, None);
    /// assert_eq!(session.last_activity, Some(now));
    /// ```
    #[must_use]
    pub fn primary(method: AuthMethod, at: Timestamp) -> Self {
        Self {
            methods: vec![CompletedMethod {
                method,
                factor: None,
                at,
            }],
            last_activity: Some(at),
        }
    }
}

/// Risk signals the caller computed (device fingerprinting, geo-IP, failure counts).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskSignals {
    /// The device was not seen before for this user.
    pub new_device: bool,
    /// The request comes from a country not seen before for this user.
    pub new_country: bool,
    /// Travel from the previous sign-in's location would have been impossibly fast.
    pub impossible_travel: bool,
    /// Failed sign-ins for this user in the caller's recent window.
    pub recent_failures: u32,
}

/// The request being decided.
#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Request {
    /// The action or resource (`"signin"`, `"payment.create"`, `"/admin/users"`).
    pub action: Option<String>,
    /// The application (OAuth client) asking.
    pub application: Option<String>,
    /// The client's IP address.
    pub ip: Option<IpAddr>,
    /// The relying party's requested `acr` values.
    pub acr: AcrRequest,
    /// Risk signals.
    pub signals: RiskSignals,
}

/// Everything one decision looks at. Borrowed, so building it costs nothing.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The user.
    pub user: &'a UserId,
    /// The user's groups and roles.
    pub subject: &'a Subject,
    /// The user's enrolled factors.
    pub enrolled: &'a [EnrolledFactor],
    /// The session so far.
    pub session: &'a Session,
    /// The request.
    pub request: &'a Request,
    /// A remembered-device token, if the client sent one, with the device's server-side
    /// entry (see [`DeviceProof::stored`]).
    pub device: Option<DeviceProof<'a>>,
    /// The current time (evaluation never reads a clock).
    pub now: Timestamp,
}

fn yes() -> bool {
    true
}
