//! A passkey's life after registration (issue 22): backup-state changes audited over
//! time, and a changed backup eligibility handled by the relying party's rule, never
//! as a silent lock-out.

use mfa_core::store::{FactorRecord, Store};
use mfa_core::{Error, Timestamp};
use mfa_webauthn::{Authentication, FailureCode};

use super::Service;
use crate::audit::{AuditEvent, EventKind, SecurityNotice};
use crate::error::ServiceError;

impl<S: Store> Service<S> {
    /// After a verified assertion: a BS change is audited; a BE change that the rule
    /// accepted is audited and the user told.
    pub(super) async fn passkey_flags(
        &self,
        row: &FactorRecord,
        auth: &Authentication,
        now: Timestamp,
    ) {
        if auth.backup_state_changed {
            self.emit(
                AuditEvent::new(
                    now,
                    Some(&row.user),
                    EventKind::PasskeyBackupStateChanged {
                        backed_up: auth.backup_state,
                    },
                )
                .factor(&row.id, row.kind),
            );
        }
        if auth.backup_eligibility_changed {
            self.emit(
                AuditEvent::new(
                    now,
                    Some(&row.user),
                    EventKind::PasskeyBackupEligibilityChanged {
                        eligible: auth.flags.backup_eligible(),
                        accepted: true,
                    },
                )
                .factor(&row.id, row.kind),
            );
            self.notify(
                &row.user,
                SecurityNotice::PasskeyChanged {
                    label: row.label.clone(),
                    accepted: true,
                },
            )
            .await;
        }
    }

    /// After a refused assertion: a refusal for a changed BE is audited and the user
    /// told why the passkey no longer works (the one refusal that is not an attack on
    /// the account but the authenticator's doing, so silence would lock them out).
    pub(super) async fn passkey_refused(
        &self,
        row: &FactorRecord,
        err: &ServiceError,
        now: Timestamp,
    ) {
        let ServiceError::Core(Error::Rejected(r)) = err else {
            return;
        };
        if r.detail() != Some(FailureCode::BackupEligibilityChanged.as_str()) {
            return;
        }
        self.emit(
            AuditEvent::new(
                now,
                Some(&row.user),
                EventKind::PasskeyBackupEligibilityChanged {
                    eligible: !self.stored_backup_eligible(row).unwrap_or(false),
                    accepted: false,
                },
            )
            .factor(&row.id, row.kind),
        );
        self.notify(
            &row.user,
            SecurityNotice::PasskeyChanged {
                label: row.label.clone(),
                accepted: false,
            },
        )
        .await;
    }

    /// The BE stored for a passkey row, when its record opens.
    fn stored_backup_eligible(&self, row: &FactorRecord) -> Option<bool> {
        let record: mfa_webauthn::CredentialRecord = self.decode_factor(row).ok()?;
        record.backup_eligible
    }
}
