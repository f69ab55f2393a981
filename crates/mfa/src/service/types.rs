//! What the service's calls take and give: factor listings, enrollments, challenges,
//! responses, verifications, lockout states.

use super::*;
use mfa_core::Redacted;

/// A factor as the user's factor list shows it. Never holds a secret.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct FactorInfo {
    /// Its id.
    pub id: FactorId,
    /// Its kind.
    pub kind: FactorKind,
    /// The user's name for it.
    pub label: String,
    /// Whether its enrollment was confirmed.
    pub confirmed: bool,
    /// When it was enrolled.
    pub created_at: Timestamp,
    /// When it last verified.
    pub last_used_at: Option<Timestamp>,
    /// Where codes go, masked (`+49 ••• ••78`, `a•••@example.com`): for SMS, voice
    /// and email factors; the device name for push; `None` for the other kinds.
    pub destination: Option<String>,
    /// Unused recovery codes, for a recovery-code factor.
    pub remaining_codes: Option<usize>,
    /// For a WebAuthn factor in [`list_factors`](crate::Service::list_factors): the
    /// authenticator model by AAGUID ("iCloud Keychain", "YubiKey 5 Series"), and
    /// whether an attestation vouched for it or it is the authenticator's claim.
    pub authenticator: Option<mfa_webauthn::AuthenticatorModel>,
}

impl FactorInfo {
    pub(super) fn from_row(row: &FactorRecord, remaining_codes: Option<usize>) -> Self {
        Self {
            id: row.id.clone(),
            kind: row.kind,
            label: row.label.clone(),
            confirmed: row.confirmed,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            destination: None,
            remaining_codes,
            authenticator: None,
        }
    }

    pub(super) fn with_destination(mut self, destination: Option<String>) -> Self {
        self.destination = destination;
        self
    }
}

/// What a client presents for "remember this device": the token
/// [`remember_device`](crate::Service::remember_device) issued and the device id it was
/// issued for (two cookies, in the web demo). [`Service::evaluate`](crate::Service::evaluate)
/// checks both against the store.
#[derive(Clone, Copy)]
pub struct DeviceCookie<'a> {
    /// The signed token.
    pub token: &'a str,
    /// The device id the token was issued for.
    pub device_id: &'a str,
}

impl<'a> DeviceCookie<'a> {
    /// The token and the device id, as the client sent them.
    pub fn new(token: &'a str, device_id: &'a str) -> Self {
        Self { token, device_id }
    }
}

impl fmt::Debug for DeviceCookie<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCookie")
            .field("token", &Redacted)
            .field("device_id", &self.device_id)
            .finish()
    }
}

/// A user's failure counters as [`Admin::lockout_status`] reads them.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct LockoutStatus {
    /// Consecutive failures over all of the user's factors since the last success or
    /// unlock (time never resets it).
    pub user_failures: u32,
    /// The account limit ([`ServiceBuilder::user_failure_limit`]).
    pub user_limit: u32,
    /// Whether the account reached its limit: every verification is refused until an
    /// operator unlocks it.
    pub account_locked: bool,
    /// Each factor's own count and state (open, backing off, locked).
    pub factors: Vec<FactorLockout>,
}

/// One factor's failure count and lockout state.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct FactorLockout {
    /// The factor.
    pub factor_id: FactorId,
    /// Consecutive failures within the window.
    pub failures: u32,
    /// Open, backing off, or locked, with until when.
    #[serde(serialize_with = "failure_state_json")]
    pub state: FailureState,
}

fn failure_state_json<S: serde::Serializer>(
    state: &FailureState,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct as _;
    let (name, until) = match state {
        FailureState::Backoff { until } => ("backoff", Some(until.unix_secs())),
        FailureState::LockedOut { until } => ("locked", Some(until.unix_secs())),
        _ => ("open", None),
    };
    let mut st = s.serialize_struct("FailureState", 2)?;
    st.serialize_field("state", name)?;
    st.serialize_field("until", &until)?;
    st.end()
}

/// A new TOTP or HOTP enrollment: what to show the user once. Inactive until
/// [`Service::finish_enrollment`] accepts its first code.
#[non_exhaustive]
pub struct OtpEnrollment {
    /// The new factor.
    pub factor_id: FactorId,
    /// The `otpauth://` URI (holds the secret: show it, never log it).
    pub uri: Zeroizing<String>,
    /// The secret in base32, for typing it in.
    pub secret_base32: Zeroizing<String>,
    /// The URI as an SVG QR code (feature `qr`).
    #[cfg(feature = "qr")]
    pub qr_svg: Zeroizing<String>,
}

impl fmt::Debug for OtpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpEnrollment")
            .field("factor_id", &self.factor_id)
            .finish_non_exhaustive()
    }
}

/// Recovery codes to show the user once.
#[non_exhaustive]
#[derive(Debug)]
pub struct RecoveryEnrollment {
    /// The recovery-code factor.
    pub factor_id: FactorId,
    /// The codes (zeroized on drop; `Debug` redacts them).
    pub codes: Vec<RecoveryCode>,
}

/// A started challenge.
#[non_exhaustive]
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Challenge {
    /// Ask the user for a code from the factor (TOTP, HOTP, recovery code): nothing was
    /// sent or stored.
    Code {
        /// The factor to answer.
        factor_id: FactorId,
        /// Its kind.
        kind: FactorKind,
    },
    /// Pass `options` to `navigator.credentials.get()`; answer with
    /// [`Response::WebAuthn`] naming `challenge_id`.
    WebAuthn {
        /// The factor challenged (`None` for a usernameless sign-in).
        factor_id: Option<FactorId>,
        /// The handle of the stored challenge.
        challenge_id: ChallengeId,
        /// The request options.
        options: Box<CredentialRequestOptionsJson>,
    },
    /// A code was sent by SMS, voice or email: ask the user for it and answer with
    /// [`Response::OobCode`] naming `challenge_id` (or [`Response::Code`] for the
    /// factor's latest challenge).
    OobCode {
        /// The factor challenged.
        factor_id: FactorId,
        /// Its kind.
        kind: FactorKind,
        /// The handle of the stored challenge.
        challenge_id: ChallengeId,
        /// The channel the code went over.
        channel: Channel,
        /// Where it went, masked.
        destination: String,
        /// When the code expires.
        expires_at: Timestamp,
        /// When [`Service::resend_code`] is first allowed.
        resend_after: Timestamp,
        /// Attempts left.
        attempts_left: u32,
    },
    /// A push was sent to the user's device: show `number`, poll
    /// [`Service::push_status`], then complete with [`Response::Push`] naming
    /// `challenge_id` **and presenting `nonce`**.
    Push {
        /// The factor challenged.
        factor_id: FactorId,
        /// The handle of the stored transaction (the device answers it; it travels
        /// through the push provider, so it is no secret).
        challenge_id: ChallengeId,
        /// The number the page shows and the user enters on the device.
        number: String,
        /// When the transaction expires.
        expires_at: Timestamp,
        /// Binds the transaction to the session that asked: keep it in that session
        /// (or page) only, and present it to complete. Never sent to the device.
        nonce: PushNonce,
    },
}

/// The secret that binds a push transaction to the session that started it: the
/// transaction id goes through the push provider to the device, so it alone must not
/// complete a sign-in (any session of the user holding it could). 256 bits from the
/// service's random source, base64url; the service keeps only its SHA-256 and compares
/// in constant time. `Debug` redacts it; `Serialize` writes it, for the page that asked.
#[derive(Clone)]
pub struct PushNonce(Zeroizing<String>);

impl PushNonce {
    pub(super) fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The nonce, for [`Response::Push`] and for the session that keeps it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PushNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PushNonce([redacted])")
    }
}

impl Serialize for PushNonce {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// The user's answer to a challenge.
///
/// `Debug` shows which answer and its challenge, never the code (`Code([redacted])`);
/// a WebAuthn assertion shows its credential id, not the signed material.
#[non_exhaustive]
#[derive(Clone, Copy)]
pub enum Response<'a> {
    /// A typed code (TOTP, HOTP, recovery code).
    Code(&'a str),
    /// A WebAuthn assertion for the challenge `challenge_id`.
    WebAuthn {
        /// From [`Challenge::WebAuthn`].
        challenge_id: &'a ChallengeId,
        /// The browser's `PublicKeyCredential.toJSON()`.
        response: &'a AuthenticationResponseJson,
    },
    /// A code sent by SMS, voice or email, for the challenge `challenge_id`.
    OobCode {
        /// From [`Challenge::OobCode`].
        challenge_id: &'a ChallengeId,
        /// What the user typed.
        code: &'a str,
    },
    /// Completes the approved push transaction `challenge_id` for the session that
    /// started it.
    Push {
        /// From [`Challenge::Push`].
        challenge_id: &'a ChallengeId,
        /// [`Challenge::Push`]'s `nonce` ([`PushNonce::expose`]): without the right one
        /// the transaction is refused (and stays, for the session that holds it).
        nonce: &'a str,
    },
}

impl Response<'_> {
    /// What the verification does with the response's challenge in its first round
    /// trip: a WebAuthn assertion's is taken (single use whatever the outcome); an
    /// out-of-band code's and a push's are read (a wrong code leaves attempts, a pending
    /// push stays).
    pub(crate) fn challenge_use(&self) -> Option<ChallengeUse<'_>> {
        match *self {
            Self::Code(_) => None,
            Self::WebAuthn { challenge_id, .. } => Some(ChallengeUse::Take(challenge_id)),
            Self::OobCode { challenge_id, .. } | Self::Push { challenge_id, .. } => {
                Some(ChallengeUse::Read(challenge_id))
            }
        }
    }
}

impl fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One arm per variant, every field named (no `..`): a new variant or field does
        // not compile until it is written here, a secret one as `Redacted`.
        match self {
            Self::Code(_code) => f.debug_tuple("Code").field(&Redacted).finish(),
            Self::WebAuthn {
                challenge_id,
                response,
            } => f
                .debug_struct("WebAuthn")
                .field("challenge_id", challenge_id)
                // Its own `Debug` keeps the credential id and hides the assertion.
                .field("response", response)
                .finish(),
            Self::OobCode {
                challenge_id,
                code: _code,
            } => f
                .debug_struct("OobCode")
                .field("challenge_id", challenge_id)
                .field("code", &Redacted)
                .finish(),
            Self::Push {
                challenge_id,
                nonce: _nonce,
            } => f
                .debug_struct("Push")
                .field("challenge_id", challenge_id)
                .field("nonce", &Redacted)
                .finish(),
        }
    }
}

/// A recovery code's use.
#[non_exhaustive]
#[derive(Debug)]
pub struct RecoveryUse {
    /// Unused codes left: warn when low, offer to regenerate at zero.
    pub remaining: usize,
    /// A rotating code's successor, to show once.
    pub next_code: Option<RecoveryCode>,
}

/// A successful verification.
#[non_exhaustive]
#[derive(Debug)]
pub struct Verification {
    /// The user (learned from the credential in a usernameless sign-in).
    pub user: UserId,
    /// The factor used, after the update.
    pub factor: FactorInfo,
    /// The RFC 8176 methods this factor proved.
    pub methods: Vec<AuthMethod>,
    /// The caller's session with those methods added: keep it as the new session.
    pub session: Session,
    /// The `amr` values for a token issued now (policy's judgement, `mfa` included).
    pub amr: AmrSet,
    /// The assurance level the session holds now.
    pub aal: Option<Aal>,
    /// What this ceremony proved as an OpenID EAP `acr` value: `phrh` for a WebAuthn key
    /// proven hardware-bound (attested, device-bound), `phr` for any other WebAuthn
    /// assertion, `None` for a phishable factor
    /// ([`evidence_acr`](mfa_policy::oidc::evidence_acr)).
    pub acr: Option<&'static str>,
    /// After a WebAuthn sign-in: the `signalAllAcceptedCredentials()` payload (WebAuthn
    /// L3 §5.1.10) to hand the signed-in browser, so passkey providers hide credentials
    /// this relying party no longer accepts.
    pub signal: Option<mfa_webauthn::signals::AllAcceptedCredentialsOptions>,
    /// For a recovery code: what is left.
    pub recovery: Option<RecoveryUse>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "493817";
    const ID: &str = "challenge-id-000000000000000000000000000000";

    /// Every way of formatting `value` with `Debug`, plain and pretty.
    fn debug_forms(value: &impl fmt::Debug) -> [String; 2] {
        [format!("{value:?}"), format!("{value:#?}")]
    }

    #[test]
    fn response_debug_never_prints_a_code() {
        let id = ChallengeId::parse(ID).unwrap();
        for (response, name) in [
            (Response::Code(CODE), "Code"),
            (
                Response::OobCode {
                    challenge_id: &id,
                    code: CODE,
                },
                "OobCode",
            ),
        ] {
            for dbg in debug_forms(&response) {
                assert!(!dbg.contains(CODE), "{dbg}");
                assert!(dbg.contains("[redacted]"), "{dbg}");
                assert!(dbg.starts_with(name), "{dbg}");
            }
        }
        let [plain, _] = debug_forms(&Response::Code(CODE));
        assert_eq!(plain, "Code([redacted])");
        for dbg in debug_forms(&Response::OobCode {
            challenge_id: &id,
            code: CODE,
        }) {
            assert!(dbg.contains(ID), "{dbg}");
        }
        const NONCE: &str = "bm9uY2Utb2YtdGhlLXBhZ2U";
        for dbg in debug_forms(&Response::Push {
            challenge_id: &id,
            nonce: NONCE,
        }) {
            assert!(dbg.starts_with("Push") && dbg.contains(ID), "{dbg}");
            assert!(!dbg.contains(NONCE) && dbg.contains("[redacted]"), "{dbg}");
        }
    }

    #[test]
    fn device_cookie_debug_hides_the_token() {
        const TOKEN: &str = "rd2.c2lnbmVkLXRva2VuLXNlY3JldA";
        for dbg in debug_forms(&DeviceCookie::new(TOKEN, "laptop-1")) {
            assert!(!dbg.contains(TOKEN) && dbg.contains("[redacted]"), "{dbg}");
            assert!(dbg.contains("laptop-1"), "{dbg}");
        }
    }

    #[test]
    fn response_debug_hides_the_webauthn_assertion() {
        let id = ChallengeId::parse(ID).unwrap();
        // Distinctive base64url payloads, so their presence would show.
        let json = r#"{"id":"Y3JlZC1pZA","rawId":"Y3JlZC1pZA","type":"public-key",
            "response":{"clientDataJSON":"Q0xJRU5UREFUQVNFQ1JFVA",
            "authenticatorData":"QVVUSERBVEFTRUNSRVQ","signature":"U0lHTkFUVVJFU0VDUkVU"}}"#;
        let assertion: AuthenticationResponseJson = serde_json::from_str(json).unwrap();
        let response = Response::WebAuthn {
            challenge_id: &id,
            response: &assertion,
        };
        for dbg in debug_forms(&response) {
            for secret in [
                "Q0xJRU5UREFUQVNFQ1JFVA",
                "QVVUSERBVEFTRUNSRVQ",
                "U0lHTkFUVVJFU0VDUkVU",
            ] {
                assert!(!dbg.contains(secret), "{dbg}");
            }
            assert!(dbg.contains("[redacted]"), "{dbg}");
            assert!(
                dbg.contains("Y3JlZC1pZA"),
                "the credential id is kept: {dbg}"
            );
            assert!(dbg.contains(ID), "{dbg}");
        }
    }
}
