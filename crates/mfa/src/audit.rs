//! Audit events and security notifications.
//!
//! Every state change and every verification outcome becomes an [`AuditEvent`], given to
//! the configured [`AuditSink`] and emitted through `tracing` (target `mfa::audit`, level
//! `INFO`, `WARN` for failures, lockouts and denied pushes). An event carries ids, kinds,
//! labels, counts and times — **never a secret**: no code, no key, no TOTP secret, no
//! challenge, no token.
//!
//! A [`SecurityNotice`] tells the user when a factor is added or removed, a recovery
//! code is used, the recovery codes are replaced, a push is denied, or their MFA is
//! reset. It goes through the same [`mfa_oob::Sender`] as the codes
//! ([`ServiceBuilder::sender`](crate::ServiceBuilder::sender)), to the user's contact:
//! their first confirmed email factor, else their first confirmed SMS or voice number
//! (as an SMS). A user with neither gets no notice (logged at `INFO`). A failed
//! notification is logged and never undoes the operation.

use std::fmt;

use mfa_core::{AuthMethod, FactorId, FactorKind, Timestamp, UserId};
use serde::Serialize;

/// What happened.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A factor was enrolled (unconfirmed until its first response, except WebAuthn
    /// whose registration ceremony is its confirmation).
    Enrolled,
    /// An enrollment was confirmed and now signs in.
    Confirmed,
    /// A verification succeeded.
    Verified {
        /// The RFC 8176 methods proven.
        methods: Vec<AuthMethod>,
    },
    /// A verification failed.
    Failed {
        /// Why, for logs only (`wrong_code`, `replay`, `unknown_factor`, …).
        reason: &'static str,
    },
    /// Too many failures: the factor (or the user) is locked.
    Locked {
        /// When the lockout ends.
        until: Timestamp,
    },
    /// The account reached its limit of consecutive failures over all factors: every
    /// verification is refused until an operator unlocks it. Time does not end it.
    AccountLocked {
        /// The consecutive failures counted.
        failures: u32,
    },
    /// An administrator cleared the failure counters.
    Unlocked,
    /// A recovery code was used.
    RecoveryCodeUsed {
        /// Codes left.
        remaining: usize,
    },
    /// The recovery-code set was replaced.
    RecoveryCodesRegenerated,
    /// A factor was renamed.
    FactorRenamed,
    /// A factor was removed.
    FactorRemoved,
    /// The user's MFA was reset.
    Reset {
        /// Factors removed.
        factors: usize,
        /// Remembered devices forgotten.
        devices: usize,
    },
    /// A device was remembered.
    DeviceRemembered {
        /// The device id.
        device_id: String,
    },
    /// A remembered device was forgotten.
    DeviceForgotten {
        /// The device id.
        device_id: String,
    },
    /// A push approval was denied by the user: possible fraud (MFA fatigue, or an
    /// attacker holding the password).
    PushDenied,
    /// A user without a factor skipped enrolment in the policy's grace period.
    EnrollmentSkipped {
        /// Skips left after this one, when the policy counts them.
        sign_ins_left: Option<u32>,
    },
    /// A factor was imported from another system (confirmed: it was in use there).
    Imported {
        /// The source format (`otpauth`, `google-migration`, `csv`, `webauthn-json`, `pskc`).
        format: &'static str,
    },
    /// A user's factors were exported (OTP seeds as encrypted PSKC, WebAuthn public
    /// credentials as JSON).
    Exported {
        /// How many.
        factors: usize,
    },
    /// Records were re-sealed under the active key.
    Rekeyed {
        /// How many.
        records: usize,
    },
    /// A passkey's BS (backed up) flag changed: it was synced to the provider's cloud,
    /// or stopped being. Allowed (WebAuthn L3 §6.1.3); recorded over time.
    PasskeyBackupStateChanged {
        /// BS now.
        backed_up: bool,
    },
    /// A passkey's BE (backup eligible) flag changed, which WebAuthn forbids (§7.2 step
    /// 19): handled by the relying party's
    /// [`BackupEligibilityRule`](mfa_webauthn::BackupEligibilityRule).
    PasskeyBackupEligibilityChanged {
        /// BE now.
        eligible: bool,
        /// Whether the assertion was accepted (and BE stored) or refused.
        accepted: bool,
    },
    /// A metadata re-check found the factor's authenticator model compromised (a new
    /// MDS3 BLOB reports it revoked, or its keys extractable).
    AuthenticatorCompromised {
        /// The MDS3 status.
        status: String,
        /// Whether the factor was disabled (else flagged only).
        disabled: bool,
    },
}

impl EventKind {
    /// A stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Enrolled => "enrolled",
            Self::Confirmed => "confirmed",
            Self::Verified { .. } => "verified",
            Self::Failed { .. } => "failed",
            Self::Locked { .. } => "locked",
            Self::AccountLocked { .. } => "account_locked",
            Self::Unlocked => "unlocked",
            Self::RecoveryCodeUsed { .. } => "recovery_code_used",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::FactorRenamed => "factor_renamed",
            Self::FactorRemoved => "factor_removed",
            Self::Reset { .. } => "reset",
            Self::DeviceRemembered { .. } => "device_remembered",
            Self::DeviceForgotten { .. } => "device_forgotten",
            Self::PushDenied => "push_denied",
            Self::EnrollmentSkipped { .. } => "enrollment_skipped",
            Self::Exported { .. } => "exported",
            Self::Imported { .. } => "imported",
            Self::Rekeyed { .. } => "rekeyed",
            Self::PasskeyBackupStateChanged { .. } => "passkey_backup_state_changed",
            Self::PasskeyBackupEligibilityChanged { .. } => "passkey_backup_eligibility_changed",
            Self::AuthenticatorCompromised { .. } => "authenticator_compromised",
        }
    }

    fn is_warning(&self) -> bool {
        matches!(
            self,
            Self::Failed { .. }
                | Self::Locked { .. }
                | Self::AccountLocked { .. }
                | Self::PushDenied
                | Self::PasskeyBackupEligibilityChanged { .. }
                | Self::AuthenticatorCompromised { .. }
        )
    }
}

/// One audit event. Never carries a secret.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct AuditEvent {
    /// When.
    pub at: Timestamp,
    /// The user, when known (a failed usernameless sign-in has none).
    pub user: Option<UserId>,
    /// The factor, when one is concerned.
    pub factor: Option<FactorId>,
    /// Its kind.
    pub kind: Option<FactorKind>,
    /// What happened.
    #[serde(flatten)]
    pub event: EventKind,
}

impl AuditEvent {
    pub(crate) fn new(at: Timestamp, user: Option<&UserId>, event: EventKind) -> Self {
        Self {
            at,
            user: user.cloned(),
            factor: None,
            kind: None,
            event,
        }
    }

    pub(crate) fn factor(mut self, id: &FactorId, kind: FactorKind) -> Self {
        self.factor = Some(id.clone());
        self.kind = Some(kind);
        self
    }

    /// Logs the event (the user as `show_user` shows it: the service's
    /// [`UserField`](crate::ops::UserField)) and gives it to `sink`. The user's log
    /// form, a keyed hash or a copy, is made only when the line is written.
    pub(crate) fn emit(
        &self,
        sink: Option<&dyn AuditSink>,
        show_user: impl Fn(&UserId) -> Option<String>,
    ) {
        let factor = self.factor.as_ref().map(FactorId::as_str);
        let kind = self.kind.map(FactorKind::as_str);
        let name = self.event.as_str();
        // Field values are evaluated only when the event is enabled.
        if self.event.is_warning() {
            tracing::warn!(target: "mfa::audit", event = name, user = self.user.as_ref().and_then(&show_user).as_deref(), factor, kind, detail = ?self.event);
        } else {
            tracing::info!(target: "mfa::audit", event = name, user = self.user.as_ref().and_then(&show_user).as_deref(), factor, kind, detail = ?self.event);
        }
        if let Some(sink) = sink {
            sink.record(self);
        }
    }
}

/// Where audit events go (a database table, a SIEM). Called synchronously after the
/// operation; keep it cheap (queue the event) and never fail the caller.
pub trait AuditSink: Send + Sync {
    /// Records one event.
    fn record(&self, event: &AuditEvent);
}

/// A security notification to the user.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum SecurityNotice {
    /// A factor was added to the account.
    FactorAdded {
        /// Its kind.
        kind: FactorKind,
        /// Its label.
        label: String,
    },
    /// A factor was removed.
    FactorRemoved {
        /// Its kind.
        kind: FactorKind,
        /// Its label.
        label: String,
    },
    /// A recovery code was used to sign in.
    RecoveryCodeUsed {
        /// Codes left.
        remaining: usize,
    },
    /// The recovery codes were replaced.
    RecoveryCodesRegenerated,
    /// All of the user's MFA was reset.
    MfaReset,
    /// The user denied a push approval on their device: if it was not them, someone
    /// has their password.
    PushDenied,
    /// Too many failed second-factor attempts in a row: the account's sign-in is
    /// locked until support unlocks it. Someone may have the password.
    AccountLocked,
    /// A passkey reported a changed backup eligibility (WebAuthn forbids it): it was
    /// refused (register it again), or accepted under the relying party's rule.
    PasskeyChanged {
        /// Its label.
        label: String,
        /// Whether it still signs in.
        accepted: bool,
    },
    /// The FIDO Alliance's metadata now reports the model of one of the user's
    /// security keys or passkey providers as compromised.
    AuthenticatorCompromised {
        /// Its label.
        label: String,
        /// Whether it was disabled.
        disabled: bool,
    },
}

impl SecurityNotice {
    /// A stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::FactorAdded { .. } => "factor_added",
            Self::FactorRemoved { .. } => "factor_removed",
            Self::RecoveryCodeUsed { .. } => "recovery_code_used",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::MfaReset => "mfa_reset",
            Self::PushDenied => "push_denied",
            Self::AccountLocked => "account_locked",
            Self::PasskeyChanged { .. } => "passkey_changed",
            Self::AuthenticatorCompromised { .. } => "authenticator_compromised",
        }
    }

    /// The subject (email only) and text sent to the user, for `service` ("Example").
    /// Never a secret: kinds, labels and counts.
    pub fn render(&self, service: &str) -> (String, String) {
        let kind_name = |k: &FactorKind| match k {
            FactorKind::Totp => "an authenticator app",
            FactorKind::Hotp => "a hardware token (HOTP)",
            FactorKind::Sms => "a phone number (SMS)",
            FactorKind::Voice => "a phone number (voice)",
            FactorKind::Email => "an email address",
            FactorKind::Push => "a phone for push approvals",
            FactorKind::RecoveryCode => "recovery codes",
            k if k.is_webauthn() => "a passkey or security key",
            _ => "a sign-in method",
        };
        let tail = "If this was not you, secure your account now.";
        match self {
            Self::FactorAdded { kind, label } => (
                format!("{service}: a sign-in method was added"),
                format!(
                    "{service}: {} (\"{label}\") was added to your account. {tail}",
                    kind_name(kind)
                ),
            ),
            Self::FactorRemoved { kind, label } => (
                format!("{service}: a sign-in method was removed"),
                format!(
                    "{service}: {} (\"{label}\") was removed from your account. {tail}",
                    kind_name(kind)
                ),
            ),
            Self::RecoveryCodeUsed { remaining } => (
                format!("{service}: a recovery code was used"),
                format!("{service}: a recovery code was used to sign in; {remaining} left. {tail}"),
            ),
            Self::RecoveryCodesRegenerated => (
                format!("{service}: new recovery codes"),
                format!(
                    "{service}: your recovery codes were replaced; the old ones no longer work. {tail}"
                ),
            ),
            Self::MfaReset => (
                format!("{service}: two-step verification was reset"),
                format!(
                    "{service}: all of your sign-in methods were removed by an administrator. {tail}"
                ),
            ),
            Self::PushDenied => (
                format!("{service}: sign-in denied"),
                format!(
                    "{service}: you denied a sign-in approval. If you did not try to sign in, someone may have your password: change it now."
                ),
            ),
            Self::PasskeyChanged {
                label,
                accepted: false,
            } => (
                format!("{service}: a passkey stopped working"),
                format!(
                    "{service}: your passkey (\"{label}\") changed how it is stored, and was refused for your safety. Sign in with another method, remove it and register it again. {tail}"
                ),
            ),
            Self::PasskeyChanged {
                label,
                accepted: true,
            } => (
                format!("{service}: a passkey changed"),
                format!(
                    "{service}: your passkey (\"{label}\") changed how it is stored (it may now be synced between your devices). It still works. {tail}"
                ),
            ),
            Self::AuthenticatorCompromised { label, disabled } => (
                format!("{service}: a security key needs replacing"),
                format!(
                    "{service}: the maker's certification body reports that your security key or passkey provider (\"{label}\") is no longer secure{}. Register a new one. {tail}",
                    if *disabled {
                        ", so it was turned off for signing in"
                    } else {
                        ""
                    }
                ),
            ),
            Self::AccountLocked => (
                format!("{service}: sign-in locked"),
                format!(
                    "{service}: after too many failed verification attempts in a row, signing in to your account is locked. Contact support to unlock it. If it was not you, someone may have your password: change it once you are back in."
                ),
            ),
        }
    }
}

/// Keeps events in memory (tests, examples).
#[derive(Default)]
pub struct MemoryAudit(std::sync::Mutex<Vec<AuditEvent>>);

impl fmt::Debug for MemoryAudit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryAudit")
    }
}

impl MemoryAudit {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events so far.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl AuditSink for MemoryAudit {
    fn record(&self, event: &AuditEvent) {
        if let Ok(mut e) = self.0.lock() {
            e.push(event.clone());
        }
    }
}
