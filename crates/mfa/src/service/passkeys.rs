//! A passkey's life after registration (issue 22): backup-state changes audited over
//! time, and a changed backup eligibility handled by the relying party's rule, never
//! as a silent lock-out.

use mfa_core::store::{FactorRecord, Store};
use mfa_core::{Error as CoreError, Timestamp};
use mfa_webauthn::{Authentication, FailureCode};

use super::Service;
use crate::audit::{AuditEvent, EventKind, SecurityNotice};
use crate::error::Error;

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
            )
            .await;
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
            )
            .await;
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
    pub(super) async fn passkey_refused(&self, row: &FactorRecord, err: &Error, now: Timestamp) {
        let Error::Core(CoreError::Rejected(r)) = err else {
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
        )
        .await;
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

impl<S: Store> Service<S> {
    /// The authenticator model of a WebAuthn row, named by the relying party's metadata
    /// or the bundled provider list; `None` for other kinds (or without a relying
    /// party, or a record that does not open: a listing never fails on a name).
    pub(super) fn authenticator_model(
        &self,
        row: &FactorRecord,
    ) -> Option<mfa_webauthn::AuthenticatorModel> {
        if !row.kind.is_webauthn() {
            return None;
        }
        let factor = self.webauthn().ok()?;
        let record: mfa_webauthn::CredentialRecord = self.decode_factor(row).ok()?;
        Some(factor.relying_party().authenticator_model(&record))
    }
}

/// What [`Admin::recheck_metadata`](crate::Admin::recheck_metadata) does with a
/// registered credential whose authenticator model a new MDS3 BLOB reports compromised
/// (revoked, or user or attestation keys extractable).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataAction {
    /// Disable the factor (it no longer signs in; the user registers another key).
    #[default]
    Disable,
    /// Keep it working; audit it and tell the user, for a deployment that decides later.
    Flag,
}

/// One credential a metadata re-check found, and what was done.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, serde::Serialize)]
pub struct MetadataRecheck {
    /// The factor.
    pub factor: mfa_core::FactorId,
    /// Its label.
    pub label: String,
    /// The authenticator's AAGUID.
    pub aaguid: String,
    /// The compromising MDS3 status (`REVOKED`, `USER_KEY_REMOTE_COMPROMISE`, ...).
    pub status: String,
    /// Whether the AAGUID was attested or only claimed.
    pub evidence: mfa_webauthn::AaguidEvidence,
    /// Whether the factor was disabled (else only flagged).
    pub disabled: bool,
}

impl<S: Store> Service<S> {
    pub(super) async fn recheck_metadata(
        &self,
        user: &mfa_core::UserId,
        metadata: &mfa_webauthn::MetadataTrustStore,
        action: MetadataAction,
    ) -> crate::Result<Vec<MetadataRecheck>> {
        let now = self.now();
        let mut out = Vec::new();
        for row in self.store.list_factors(user).await? {
            if !row.value.kind.is_webauthn() || !row.value.confirmed {
                continue;
            }
            let record: mfa_webauthn::CredentialRecord = self.decode_factor(&row.value)?;
            let Some(finding) = metadata.recheck(&record) else {
                continue;
            };
            let (id, kind, label) = (
                row.value.id.clone(),
                row.value.kind,
                row.value.label.clone(),
            );
            let disabled = action == MetadataAction::Disable && self.disable_factor(row).await?;
            let status = finding.status.as_str().to_owned();
            self.emit(
                AuditEvent::new(
                    now,
                    Some(user),
                    EventKind::AuthenticatorCompromised {
                        status: status.clone(),
                        disabled,
                    },
                )
                .factor(&id, kind),
            )
            .await;
            self.notify(
                user,
                SecurityNotice::AuthenticatorCompromised {
                    label: label.clone(),
                    disabled,
                },
            )
            .await;
            out.push(MetadataRecheck {
                factor: id,
                label,
                aaguid: record.aaguid.clone(),
                status,
                evidence: finding.evidence,
                disabled,
            });
        }
        Ok(out)
    }

    /// Marks a factor unconfirmed, so it no longer signs in (a refused
    /// `factor_disabled`); retried on a concurrent change. `false` when it was removed
    /// meanwhile.
    async fn disable_factor(
        &self,
        mut row: mfa_core::store::Versioned<FactorRecord>,
    ) -> crate::Result<bool> {
        use mfa_core::store::StoreError;
        for _ in 0..8 {
            let mut updated = row.value.clone();
            updated.confirmed = false;
            match self
                .store
                .update_factor_if_version(updated, row.version)
                .await
            {
                Ok(_) => return Ok(true),
                Err(StoreError::Conflict) => {
                    match self.store.factor(&row.value.user, &row.value.id).await? {
                        Some(fresh) => row = fresh,
                        None => return Ok(false),
                    }
                }
                Err(StoreError::NotFound) => return Ok(false),
                Err(e) => return Err(CoreError::from(e).into()),
            }
        }
        Err(Error::Conflict)
    }
}

impl<S: Store> Service<S> {
    /// The `signalAllAcceptedCredentials()` payload for `user` (WebAuthn L3 §5.1.10):
    /// the ids of the user's passkeys and security keys, under their user handle. Send
    /// it to the signed-in user after a sign-in (a WebAuthn sign-in's
    /// [`Verification::signal`](crate::Verification::signal) carries it already) and after
    /// a passkey is removed, so providers hide the ones this relying party dropped.
    /// `None` without a relying party or when the user has no WebAuthn factor left (the
    /// handle lives in the credentials).
    ///
    /// # Errors
    ///
    /// A record that does not open, or a store failure.
    pub async fn signal_all_accepted_credentials(
        &self,
        user: &mfa_core::UserId,
    ) -> crate::Result<Option<mfa_webauthn::signals::AllAcceptedCredentialsOptions>> {
        if self.webauthn().is_err() {
            return Ok(None);
        }
        let rows = self.store.list_factors(user).await?;
        self.signal_of(user, rows.iter().map(|r| &r.value))
    }

    /// [`signal_all_accepted_credentials`](Self::signal_all_accepted_credentials) from
    /// rows already read.
    pub(super) fn signal_of<'r>(
        &self,
        user: &mfa_core::UserId,
        rows: impl Iterator<Item = &'r FactorRecord>,
    ) -> crate::Result<Option<mfa_webauthn::signals::AllAcceptedCredentialsOptions>> {
        let Ok(factor) = self.webauthn() else {
            return Ok(None);
        };
        let mut handle = None;
        let mut ids = Vec::new();
        for row in rows {
            if row.user != *user || !row.kind.is_webauthn() || !row.confirmed {
                continue;
            }
            let record: mfa_webauthn::CredentialRecord = self.decode_factor(row)?;
            if handle.is_none() {
                handle = record.user_handle.clone();
            }
            ids.push(record.id);
        }
        Ok(handle.map(|h| {
            factor
                .relying_party()
                .signal_all_accepted_credentials(h.as_slice(), ids.iter().map(|i| i.as_slice()))
        }))
    }

    /// The user handle a WebAuthn row's credential was created under; `None` for other
    /// kinds, without a relying party, or when the record does not open or has none.
    pub(super) fn passkey_user_handle(&self, row: &FactorRecord) -> Option<Vec<u8>> {
        if !row.kind.is_webauthn() {
            return None;
        }
        self.webauthn().ok()?;
        let record: mfa_webauthn::CredentialRecord = self.decode_factor(row).ok()?;
        record.user_handle.map(|h| h.as_slice().to_vec())
    }

    /// After a passkey's removal: the accepted list for the user's remaining passkeys,
    /// or an empty one under `handle` (the removed credential's) when none remains.
    pub(super) async fn signal_after_removal(
        &self,
        user: &mfa_core::UserId,
        handle: &[u8],
    ) -> crate::Result<Option<mfa_webauthn::signals::AllAcceptedCredentialsOptions>> {
        if let Some(all) = self.signal_all_accepted_credentials(user).await? {
            return Ok(Some(all));
        }
        let Ok(factor) = self.webauthn() else {
            return Ok(None);
        };
        Ok(Some(
            factor
                .relying_party()
                .signal_all_accepted_credentials(handle, std::iter::empty()),
        ))
    }

    /// The `signalUnknownCredential()` payload when `response` (an assertion that
    /// failed, or is about to be tried) names a credential this relying party does not
    /// have; `None` when it is registered. Safe to send to anyone: it says nothing about
    /// an account.
    ///
    /// # Errors
    ///
    /// [`Error::NotConfigured`] without a relying party, or a store failure.
    pub async fn signal_unknown_credential(
        &self,
        response: &mfa_webauthn::json::AuthenticationResponseJson,
    ) -> crate::Result<Option<mfa_webauthn::signals::UnknownCredentialOptions>> {
        let factor = self.webauthn()?;
        let key = mfa_core::store::LookupKey::webauthn_credential(&response.raw_id.0)?;
        if self.store.factor_by_lookup_key(&key, None).await?.is_some() {
            return Ok(None);
        }
        Ok(Some(
            factor
                .relying_party()
                .signal_unknown_credential(response.raw_id.as_slice()),
        ))
    }

    /// The `signalCurrentUserDetails()` payload after the user's names changed, under
    /// the handle of their passkeys; `None` when they have none.
    ///
    /// # Errors
    ///
    /// A record that does not open, or a store failure.
    pub async fn signal_current_user_details(
        &self,
        user: &mfa_core::UserId,
        name: &str,
        display_name: &str,
    ) -> crate::Result<Option<mfa_webauthn::signals::CurrentUserDetailsOptions>> {
        let Some(all) = self.signal_all_accepted_credentials(user).await? else {
            return Ok(None);
        };
        let Ok(factor) = self.webauthn() else {
            return Ok(None);
        };
        Ok(Some(factor.relying_party().signal_current_user_details(
            all.user_id.as_slice(),
            name,
            display_name,
        )))
    }
}

/// How recent the password must be for the passkey upgrade.
const UPGRADE_WINDOW_SECS: u64 = 300;

impl<S: Store> Service<S> {
    /// Starts the passkey upgrade right after a password sign-in (conditional create,
    /// WebAuthn L3 §5.1.3): the page passes the options to
    /// `navigator.credentials.create({publicKey, mediation: "conditional"})` and the
    /// browser creates a passkey without a prompt, so the registration is accepted
    /// without user presence (and only this one). Finish it with
    /// [`finish_webauthn_registration`](Self::finish_webauthn_registration).
    ///
    /// # Errors
    ///
    /// [`Error::StepUpRequired`] unless `session` proved a password (`pwd`)
    /// within the last five minutes; otherwise as
    /// [`start_webauthn_registration`](Self::start_webauthn_registration).
    pub async fn start_passkey_upgrade(
        &self,
        user: &mfa_core::UserId,
        label: &str,
        session: &mfa_policy::input::Session,
    ) -> crate::Result<(
        crate::service::ChallengeId,
        mfa_webauthn::json::CreationOptionsJson,
    )> {
        let now = self.now();
        let fresh_password = session.methods.iter().any(|m| {
            m.method == mfa_core::AuthMethod::Pwd
                && m.at <= now
                && now.unix_secs().saturating_sub(m.at.unix_secs()) <= UPGRADE_WINDOW_SECS
        });
        if !fresh_password {
            return Err(Error::StepUpRequired {
                required: mfa_policy::assurance::Aal::Aal1,
            });
        }
        self.start_registration_as(user, label, None, session, true)
            .await
    }
}
