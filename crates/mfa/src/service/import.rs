//! Importing enrollments from other systems ([`crate::import`]'s parsers).

use std::collections::{BTreeMap, HashMap, HashSet};

use mfa_core::store::LookupScope;
use sha2::{Digest, Sha256};

use super::*;
use crate::import::{
    ImportOptions, ImportRecord, ImportReport, ImportSummary, ImportedFactor, Parsed,
    RecordOutcome, RecordStatus,
};

/// The namespace of an imported OTP factor's lookup key (per user): what makes a
/// second run find the factors the first one stored.
const IMPORTED_OTP: &str = "imported-otp";

impl<S: Store> Service<S> {
    /// A user's confirmed TOTP, HOTP and WebAuthn factors, for
    /// [`write_pskc`](crate::import::write_pskc) (OTP seeds, encrypted) and
    /// [`write_webauthn_json`](crate::import::write_webauthn_json) (public credentials):
    /// what [`import`](Self::import) reads back into another store. The records hold
    /// secrets (zeroized on drop): write them only through `write_pskc`. Audited as
    /// [`EventKind::Exported`].
    ///
    /// # Errors
    ///
    /// A store failure, or a record that does not open (a missing key).
    pub async fn export_factors(&self, user: &UserId) -> Result<Vec<ImportRecord>> {
        let rows = self.store.list_factors(user).await?;
        let mut out = Vec::new();
        for row in rows.iter().filter(|r| r.value.confirmed) {
            let factor = match BuiltinFactor::for_kind(row.value.kind) {
                Ok(BuiltinFactor::Totp) => ImportedFactor::Totp(self.decode_factor(&row.value)?),
                Ok(BuiltinFactor::Hotp) => ImportedFactor::Hotp(self.decode_factor(&row.value)?),
                Ok(BuiltinFactor::WebAuthn) => {
                    ImportedFactor::WebAuthn(Box::new(self.decode_factor(&row.value)?))
                }
                _ => continue,
            };
            out.push(ImportRecord {
                index: out.len().saturating_add(1),
                user: user.clone(),
                label: row.value.label.clone(),
                factor,
            });
        }
        self.emit(AuditEvent::new(
            self.now(),
            Some(user),
            EventKind::Exported { factors: out.len() },
        ));
        Ok(out)
    }

    /// Imports parsed enrollments (see [`crate::import`]): **a dry run unless
    /// `options` say [`write`](ImportOptions::write)**.
    ///
    /// - Every record is checked against the store first: unknown or new user (no factor
    ///   yet), already imported, repeated in the source, secret under 128 bits (refused
    ///   unless allowed), a WebAuthn credential another user holds.
    /// - **Atomic per user**: a user's records are written only if none of them was
    ///   rejected; if a write fails, what was written for that user is removed again
    ///   before the next user. (The store has no multi-row transaction; a crash between
    ///   two writes of one user leaves part of it, which the next run completes.)
    /// - **Idempotent**: each imported OTP factor carries a per-user lookup key derived
    ///   from its secret (a SHA-256 digest, never the secret), a WebAuthn factor its
    ///   credential id; a second run reports them `already_imported` and writes nothing.
    /// - Imported factors are confirmed (they were in use), keep their HOTP counter and
    ///   TOTP last step, and are audited as [`EventKind::Imported`].
    ///
    /// The policy's enrollment rules are not applied: an import is an operator's act.
    ///
    /// # Errors
    ///
    /// Only a store failure while *reading* (before anything is written for the user
    /// concerned); record problems and failed writes are in the report.
    pub async fn import(&self, parsed: Parsed, options: ImportOptions) -> Result<ImportReport> {
        let now = self.now();
        let format = parsed.format;
        let mut outcomes: Vec<RecordOutcome> = Vec::with_capacity(parsed.records.len());
        let mut by_user: BTreeMap<UserId, Vec<ImportRecord>> = BTreeMap::new();
        let mut order: Vec<UserId> = Vec::new();
        let mut refused: HashSet<UserId> = HashSet::new();
        for r in parsed.records {
            match r {
                Ok(record) => {
                    if !by_user.contains_key(&record.user) {
                        order.push(record.user.clone());
                    }
                    by_user.entry(record.user.clone()).or_default().push(record);
                }
                Err(e) => outcomes.push(RecordOutcome {
                    index: e.index,
                    user: e.user.as_ref().map(|u| {
                        refused.insert(u.clone());
                        u.as_str().to_owned()
                    }),
                    factor: None,
                    new_user: None,
                    short_secret: false,
                    factor_id: None,
                    status: RecordStatus::Rejected {
                        reason: e.problem.to_string(),
                    },
                }),
            }
        }
        // Lookup keys seen in this source (WebAuthn ids are global): key -> index.
        let mut seen: HashMap<LookupKey, usize> = HashMap::new();
        let mut new_users = 0usize;
        let users = order.len();
        for user in order {
            let records = by_user.remove(&user).unwrap_or_default();
            let rows = self.store.list_factors(&user).await?;
            let new_user = rows.is_empty();
            if new_user {
                new_users = new_users.saturating_add(1);
            }
            let mut checked: Vec<(ImportRecord, RecordOutcome, Option<LookupKey>)> = Vec::new();
            for record in records {
                let mut outcome = RecordOutcome {
                    index: record.index,
                    user: Some(user.as_str().to_owned()),
                    factor: Some(record.factor.as_str()),
                    new_user: Some(new_user),
                    short_secret: record.short_secret(),
                    factor_id: None,
                    status: RecordStatus::WouldImport,
                };
                let key = match import_key(&user, &record.factor) {
                    Ok(k) => k,
                    Err(e) => {
                        outcome.status = RecordStatus::Rejected {
                            reason: e.to_string(),
                        };
                        checked.push((record, outcome, None));
                        continue;
                    }
                };
                if let Some(row) = rows
                    .iter()
                    .find(|r| r.value.lookup_key.as_ref() == Some(&key))
                {
                    outcome.status = RecordStatus::AlreadyImported;
                    outcome.factor_id = Some(row.value.id.clone());
                } else if let Some(first) = seen.get(&key) {
                    outcome.status = RecordStatus::Duplicate { of: *first };
                } else if outcome.short_secret && !options.allow_short_secrets {
                    outcome.status = RecordStatus::Rejected {
                        reason: "secret under 128 bits (allow short secrets to import it anyway)"
                            .to_owned(),
                    };
                } else if key.scope() == LookupScope::Global
                    && self.store.factor_by_lookup_key(&key, None).await?.is_some()
                {
                    outcome.status = RecordStatus::Rejected {
                        reason: "credential id registered to another user".to_owned(),
                    };
                }
                if !matches!(outcome.status, RecordStatus::AlreadyImported) {
                    seen.entry(key.clone()).or_insert(record.index);
                }
                checked.push((record, outcome, Some(key)));
            }
            let rejected = refused.contains(&user)
                || checked
                    .iter()
                    .any(|(_, o, _)| matches!(o.status, RecordStatus::Rejected { .. }));
            if rejected {
                hold_back(&mut checked, "another record of this user was rejected");
            } else if !options.dry_run {
                self.write_user(&user, &mut checked, format.as_str(), now)
                    .await;
            }
            outcomes.extend(checked.into_iter().map(|(_, o, _)| o));
        }
        outcomes.sort_by_key(|o| o.index);
        let summary = ImportSummary::count(&outcomes, users, new_users);
        Ok(ImportReport {
            format,
            dry_run: options.dry_run,
            records: outcomes,
            summary,
        })
    }

    /// Writes one user's checked records, all or nothing.
    async fn write_user(
        &self,
        user: &UserId,
        checked: &mut [(ImportRecord, RecordOutcome, Option<LookupKey>)],
        format: &'static str,
        now: Timestamp,
    ) {
        let mut written: Vec<(usize, FactorId, FactorKind)> = Vec::new();
        let mut failure: Option<String> = None;
        for (i, (record, outcome, key)) in checked.iter_mut().enumerate() {
            let (RecordStatus::WouldImport, Some(key)) = (&outcome.status, key) else {
                continue;
            };
            match self.insert_imported(user, record, key.clone(), now).await {
                Ok(Ok((id, kind))) => written.push((i, id, kind)),
                Ok(Err(StoreError::LookupKeyTaken)) if key.scope() == LookupScope::PerUser => {
                    // A concurrent run stored it first.
                    outcome.status = RecordStatus::AlreadyImported;
                }
                Ok(Err(StoreError::LookupKeyTaken)) => {
                    failure = Some("credential id registered to another user".to_owned());
                    break;
                }
                Ok(Err(e)) => {
                    failure = Some(format!("write failed: {e}"));
                    break;
                }
                Err(e) => {
                    failure = Some(format!("write failed: {e}"));
                    break;
                }
            }
        }
        if let Some(reason) = failure {
            for (_, id, _) in &written {
                if let Err(e) = self.store.remove_factor(user, id).await {
                    tracing::error!(target: "mfa::audit", user = user.as_str(), factor = id.as_str(), error = %e, "import rollback failed: remove the factor by hand or run the import again");
                }
            }
            hold_back(checked, &reason);
            return;
        }
        for (i, id, kind) in written {
            if let Some((_, outcome, _)) = checked.get_mut(i) {
                outcome.status = RecordStatus::Imported;
                outcome.factor_id = Some(id.clone());
            }
            self.emit(
                AuditEvent::new(now, Some(user), EventKind::Imported { format }).factor(&id, kind),
            );
        }
    }

    async fn insert_imported(
        &self,
        user: &UserId,
        record: &ImportRecord,
        key: LookupKey,
        now: Timestamp,
    ) -> Result<std::result::Result<(FactorId, FactorKind), StoreError>> {
        let id = FactorId::generate(&mut self.rng.handle())?;
        let (kind, data) = match &record.factor {
            ImportedFactor::Hotp(r) => (
                FactorKind::Hotp,
                self.encode_factor(user, &id, FactorKind::Hotp, r)?,
            ),
            ImportedFactor::Totp(r) => (
                FactorKind::Totp,
                self.encode_factor(user, &id, FactorKind::Totp, r)?,
            ),
            ImportedFactor::WebAuthn(r) => {
                let kind = match &self.webauthn {
                    Some(f) => f.kind(r),
                    None => FactorKind::WebAuthn { attachment: None },
                };
                (kind, self.encode_factor(user, &id, kind, r.as_ref())?)
            }
        };
        let row = FactorRecord::new(user.clone(), id.clone(), kind, data, now)
            .with_label(record.label.clone())
            .with_lookup_key(key)
            .with_confirmed(true);
        Ok(self.store.insert_factor(row).await.map(|_| (id, kind)))
    }
}

/// Every record still to be written is held back for `reason`.
fn hold_back(checked: &mut [(ImportRecord, RecordOutcome, Option<LookupKey>)], reason: &str) {
    for (_, outcome, _) in checked.iter_mut() {
        if outcome.status == RecordStatus::WouldImport {
            outcome.status = RecordStatus::HeldBack {
                reason: reason.to_owned(),
            };
        }
    }
}

/// The lookup key that finds an imported factor again: a WebAuthn credential id
/// (global), or for OTP a per-user SHA-256 digest of the type and secret (a 160-bit
/// secret's digest reveals nothing usable; a short legacy secret's digest is no weaker
/// than the sealed record beside it is strong — it is never the secret).
fn import_key(user: &UserId, factor: &ImportedFactor) -> std::result::Result<LookupKey, CoreError> {
    let (kind, secret) = match factor {
        ImportedFactor::WebAuthn(r) => return LookupKey::webauthn_credential(&r.id.0),
        ImportedFactor::Hotp(r) => (b"hotp", r.secret.expose_secret()),
        ImportedFactor::Totp(r) => (b"totp", r.secret.expose_secret()),
    };
    let mut h = Sha256::new();
    h.update(b"mfa-rs imported otp v1\0");
    h.update(user.as_str().as_bytes());
    h.update([0]);
    h.update(kind);
    h.update(secret);
    LookupKey::new(LookupScope::PerUser, IMPORTED_OTP, h.finalize().to_vec())
}
