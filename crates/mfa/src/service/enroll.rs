//! Enrollment and confirmation of every kind.

use super::*;

impl<S: Store> Service<S> {
    // ---------------------------------------------------------------- enrollment

    /// Starts a TOTP enrollment: a fresh secret, its `otpauth://` URI (and QR code with
    /// feature `qr`), stored unconfirmed until [`finish_enrollment`](Self::finish_enrollment) accepts the
    /// first code.
    ///
    /// # Errors
    ///
    /// [`Error::StepUpRequired`], [`Error::Enroll`], a bad label or
    /// account name, or a store failure.
    #[tracing::instrument(name = "mfa.start_totp_enrollment", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn start_totp_enrollment(
        &self,
        user: &UserId,
        label: &str,
        session: &Session,
    ) -> Result<OtpEnrollment> {
        check_label(label)?;
        let now = self.now();
        let issuer = self.issuer()?;
        self.check_enroll(user, session, FactorKind::Totp, now)
            .await?;
        let record = TotpRecord::generate(TotpParams::default(), &mut self.rng.handle())
            .map_err(Into::<CoreError>::into)?;
        let uri = record
            .otpauth_uri(issuer, user.as_str())
            .map_err(Into::<CoreError>::into)?;
        let enrollment = self
            .store_otp(
                user,
                label,
                FactorKind::Totp,
                &record,
                &uri,
                &record.secret,
                now,
            )
            .await?;
        Ok(enrollment)
    }

    /// Starts an HOTP enrollment, as [`start_totp_enrollment`](Self::start_totp_enrollment).
    ///
    /// # Errors
    ///
    /// As [`start_totp_enrollment`](Self::start_totp_enrollment).
    #[tracing::instrument(name = "mfa.start_hotp_enrollment", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn start_hotp_enrollment(
        &self,
        user: &UserId,
        label: &str,
        session: &Session,
    ) -> Result<OtpEnrollment> {
        check_label(label)?;
        let now = self.now();
        let issuer = self.issuer()?;
        self.check_enroll(user, session, FactorKind::Hotp, now)
            .await?;
        let secret = Secret::generate(&mut self.rng.handle()).map_err(Into::<CoreError>::into)?;
        let params = HotpParams::default();
        let record = HotpRecord::new(secret.clone(), params);
        let uri = OtpAuthUri::hotp(secret.clone(), params, 0, Some(issuer), user.as_str())
            .map_err(|e| CoreError::from(mfa_otp::Error::from(e)))?;
        self.store_otp(user, label, FactorKind::Hotp, &record, &uri, &secret, now)
            .await
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "internal helper of the two OTP enrollments"
    )]
    async fn store_otp<R: Serialize>(
        &self,
        user: &UserId,
        label: &str,
        kind: FactorKind,
        record: &R,
        uri: &OtpAuthUri,
        secret: &Secret,
        now: Timestamp,
    ) -> Result<OtpEnrollment> {
        let id = FactorId::generate(&mut self.rng.handle())?;
        let data = self.encode_factor(user, &id, kind, record)?;
        let row = FactorRecord::new(user.clone(), id.clone(), kind, data, now).with_label(label);
        self.insert_new(row).await?;
        self.emit(AuditEvent::new(now, Some(user), EventKind::Enrolled).factor(&id, kind))
            .await;
        Ok(OtpEnrollment {
            factor_id: id,
            uri: uri.to_uri_string(),
            secret_base32: secret.to_base32(),
            #[cfg(feature = "qr")]
            qr_svg: uri
                .to_qr_svg()
                .map_err(|e| CoreError::from(mfa_otp::Error::from(e)))?,
        })
    }

    /// Confirms a TOTP or HOTP enrollment with its first code, or an SMS, voice or
    /// email enrollment with the code sent to it (its latest challenge, through the
    /// same attempt loop as [`verify`](Self::verify)), counted against the failure
    /// limits like any verification. Returns the same [`Verification`] as `verify`: the
    /// code proved the factor, so `session` comes back with it added (a first factor
    /// enrolled after a password reaches AAL2 at once), with its `amr` and level. A recovery-code set is confirmed with
    /// [`finish_recovery_enrollment`](Self::finish_recovery_enrollment), WebAuthn with
    /// [`finish_webauthn_registration`](Self::finish_webauthn_registration).
    ///
    /// # Errors
    ///
    /// A rejection for a wrong code, [`Error::Locked`] / [`Backoff`](Error::Backoff),
    /// or a store failure.
    #[tracing::instrument(name = "mfa.finish_enrollment", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), factor = factor_id.as_str(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn finish_enrollment(
        &self,
        user: &UserId,
        factor_id: &FactorId,
        code: &str,
        session: &Session,
    ) -> Result<Verification> {
        let now = self.now();
        let begun = self.begin(user, factor_id, None, now).await?;
        let after = verify::counts_after(&begun.attempt);
        let mut rows = begun.factors;
        let mut loaded_kind = None;
        let result = async {
            let row = verify::take_row(&mut rows, factor_id)?;
            let kind = row.value.kind;
            loaded_kind = Some(kind);
            let stored = match BuiltinFactor::for_kind(kind)? {
                BuiltinFactor::Totp => {
                    let v = self
                        .verify_and_commit(&self.totp, row, &(), code, Purpose::Confirm, None, now)
                        .await?;
                    Outcome::of(v.factor, v.methods)
                }
                BuiltinFactor::Hotp => {
                    let v = self
                        .verify_and_commit(&self.hotp, row, &(), code, Purpose::Confirm, None, now)
                        .await?;
                    Outcome::of(v.factor, v.methods)
                }
                BuiltinFactor::OobCode => {
                    // The enrollment rules again, against the factors confirmed since
                    // (two SMS enrollments confirmed in turn count both).
                    let others: Vec<EnrolledFactor> = rows
                        .iter()
                        .map(|r| verify::enrolled_factor(&r.value))
                        .collect();
                    self.policy.check_enroll(&others, kind)?;
                    self.verify_oob(user, factor_id, row, None, code, Purpose::Confirm, now)
                        .await?
                }
                _ => {
                    return Err(CoreError::invalid(
                        "factor",
                        "confirm a TOTP, HOTP, SMS, voice or email factor with a code",
                    )
                    .into());
                }
            };
            Ok(stored)
        }
        .await;
        match result {
            Ok(ok) => {
                // The commit cleared the counters.
                let kind = ok.row.value.kind;
                self.emit(
                    AuditEvent::new(now, Some(user), EventKind::Confirmed).factor(factor_id, kind),
                )
                .await;
                let notice = SecurityNotice::FactorAdded {
                    kind,
                    label: ok.row.value.label.clone(),
                };
                self.notify_listed(user, &rows, &ok.row.value, notice).await;
                self.verification(user, factor_id, ok, Some(&rows), session, now)
                    .await
            }
            Err(e) => Err(self
                .failed(user, factor_id, loaded_kind, after, e, now)
                .await),
        }
    }

    /// Generates recovery codes (shown once), stored unconfirmed until the user says
    /// they saved them ([`finish_recovery_enrollment`](Self::finish_recovery_enrollment)).
    ///
    /// # Errors
    ///
    /// [`Error::RecoveryCodesExist`] when the user has a set (use
    /// [`regenerate_recovery_codes`](Self::regenerate_recovery_codes)), the enrollment
    /// checks, or a store failure.
    #[tracing::instrument(name = "mfa.start_recovery_enrollment", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn start_recovery_enrollment(
        &self,
        user: &UserId,
        session: &Session,
    ) -> Result<RecoveryEnrollment> {
        let now = self.now();
        let factor = self.recovery_factor()?;
        let rows = self
            .check_enroll(user, session, FactorKind::RecoveryCode, now)
            .await?;
        if rows
            .iter()
            .any(|r| r.value.kind == FactorKind::RecoveryCode)
        {
            return Err(Error::RecoveryCodesExist);
        }
        let (codes, record) = factor
            .generate(&mut self.rng.handle())
            .map_err(Into::<CoreError>::into)?
            .into_parts();
        let id = FactorId::generate(&mut self.rng.handle())?;
        let data = self.encode_factor(user, &id, FactorKind::RecoveryCode, &record)?;
        let row = FactorRecord::new(
            user.clone(),
            id.clone(),
            FactorKind::RecoveryCode,
            data,
            now,
        )
        .with_label("Recovery codes");
        self.insert_new(row).await?;
        self.emit(
            AuditEvent::new(now, Some(user), EventKind::Enrolled)
                .factor(&id, FactorKind::RecoveryCode),
        )
        .await;
        Ok(RecoveryEnrollment {
            factor_id: id,
            codes,
        })
    }

    /// The user saved their recovery codes: the set becomes active.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownFactor`] unless `factor_id` is the user's recovery-code
    /// factor; [`Error::Conflict`] on a concurrent change; a store failure.
    #[tracing::instrument(name = "mfa.finish_recovery_enrollment", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), factor = factor_id.as_str(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn finish_recovery_enrollment(
        &self,
        user: &UserId,
        factor_id: &FactorId,
    ) -> Result<FactorInfo> {
        let now = self.now();
        let row = self
            .store
            .factor(user, factor_id)
            .await?
            .ok_or(Error::UnknownFactor)?;
        if row.value.kind != FactorKind::RecoveryCode {
            return Err(Error::UnknownFactor);
        }
        let record: RecoveryRecord = self.decode_factor(&row.value)?;
        if !row.value.confirmed {
            let mut updated = row.value.clone();
            updated.confirmed = true;
            self.cas_with(
                updated.clone(),
                row.version,
                vec![
                    AuditEvent::new(now, Some(user), EventKind::Confirmed)
                        .factor(factor_id, FactorKind::RecoveryCode),
                ],
            )
            .await?;
            self.notify(
                user,
                SecurityNotice::FactorAdded {
                    kind: FactorKind::RecoveryCode,
                    label: updated.label.clone(),
                },
            )
            .await;
            return Ok(FactorInfo::from_row(&updated, Some(record.remaining())));
        }
        Ok(FactorInfo::from_row(&row.value, Some(record.remaining())))
    }

    /// Replaces the user's whole recovery-code set: every old code stops working at once.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownFactor`] when the user has no set, the assurance check,
    /// [`Error::Conflict`] on a concurrent change, or a store failure.
    #[tracing::instrument(name = "mfa.regenerate_recovery_codes", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn regenerate_recovery_codes(
        &self,
        user: &UserId,
        session: &Session,
    ) -> Result<RecoveryEnrollment> {
        let now = self.now();
        let factor = self.recovery_factor()?;
        let (rows, enrolled) = self.enrolled(user).await?;
        self.require_assurance(session, &enrolled, now)?;
        let row = rows
            .into_iter()
            .find(|r| r.value.kind == FactorKind::RecoveryCode)
            .ok_or(Error::UnknownFactor)?;
        let previous: RecoveryRecord = self.decode_factor(&row.value)?;
        let (codes, record) = factor
            .regenerate(&previous, &mut self.rng.handle())
            .map_err(Into::<CoreError>::into)?
            .into_parts();
        let mut updated = row.value.clone();
        updated.data = self.encode_factor(user, &updated.id, FactorKind::RecoveryCode, &record)?;
        updated.confirmed = true;
        let event = AuditEvent::new(now, Some(user), EventKind::RecoveryCodesRegenerated)
            .factor(&updated.id, FactorKind::RecoveryCode);
        self.cas_with(updated.clone(), row.version, vec![event])
            .await?;
        self.notify(user, SecurityNotice::RecoveryCodesRegenerated)
            .await;
        Ok(RecoveryEnrollment {
            factor_id: updated.id,
            codes,
        })
    }

    /// Starts a WebAuthn registration: creation options for
    /// `navigator.credentials.create()` and the handle of the stored state. `attachment`
    /// asks for a platform authenticator (allowed by the default policy only once
    /// another factor is enrolled) or a roaming one; `None` lets the user choose.
    ///
    /// # Errors
    ///
    /// [`Error::NotConfigured`] without a relying party, the enrollment checks,
    /// or a store failure.
    #[tracing::instrument(name = "mfa.start_webauthn_registration", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn start_webauthn_registration(
        &self,
        user: &UserId,
        label: &str,
        attachment: Option<Attachment>,
        session: &Session,
    ) -> Result<(ChallengeId, CreationOptionsJson)> {
        self.start_registration_as(user, label, attachment, session, false)
            .await
    }

    /// [`start_webauthn_registration`](Self::start_webauthn_registration), or with
    /// `conditional` the passkey upgrade (conditional create, WebAuthn L3 §5.1.3).
    pub(super) async fn start_registration_as(
        &self,
        user: &UserId,
        label: &str,
        attachment: Option<Attachment>,
        session: &Session,
        conditional: bool,
    ) -> Result<(ChallengeId, CreationOptionsJson)> {
        check_label(label)?;
        let now = self.now();
        let factor = self.webauthn()?;
        let kind = FactorKind::WebAuthn { attachment };
        let rows = self.check_enroll(user, session, kind, now).await?;
        // One user handle per account (so an authenticator keeps one passkey per
        // account), random and never personal data; existing credentials are excluded.
        let mut handle = None;
        let mut exclude = Vec::new();
        for row in rows.iter().filter(|r| r.value.kind.is_webauthn()) {
            let cred: CredentialRecord = self.decode_factor(&row.value)?;
            exclude.push(cred.descriptor());
            if handle.is_none() {
                handle = cred.user_handle.map(|h| h.0);
            }
        }
        let handle = match handle {
            Some(h) => h,
            None => {
                let mut h = vec![0u8; 32];
                self.rng.fill(&mut h)?;
                h
            }
        };
        let mut req = RegistrationRequest::new(handle, user.as_str(), user.as_str());
        req.attachment = attachment;
        req.exclude_credentials = exclude;
        req.conditional = conditional;
        let (options, state) = factor
            .relying_party()
            .start_registration(&req, now, &mut self.rng.handle())
            .map_err(Into::<CoreError>::into)?;
        let id = ChallengeId::generate(&mut self.rng.handle())?;
        let owner = ChallengeOwner::User(user.clone());
        let expires_at = state.expires_at;
        let pending = PendingRegistration {
            state,
            label: label.to_owned(),
        };
        let data = self.seal_state(PURPOSE_WEBAUTHN_REGISTRATION, &owner, &id, &pending)?;
        self.store
            .put_challenge(PendingChallenge::new(id.clone(), owner, data, expires_at))
            .await?;
        Ok((id, options))
    }

    /// Finishes a WebAuthn registration: verifies the response (§7.1), checks the
    /// enrollment rules against the authenticator's actual attachment, and stores the
    /// credential with its id as a global lookup key, so no credential is registered
    /// twice, by anyone (§7.1 step 26). The factor is active at once.
    ///
    /// # Errors
    ///
    /// A rejection for an unknown, expired or used challenge or a response that does
    /// not verify; [`Error::CredentialAlreadyRegistered`]; [`Error::Enroll`].
    #[tracing::instrument(name = "mfa.finish_webauthn_registration", target = "mfa::service", level = "info", skip_all, fields(user = self.trace_user(user).as_deref(), kind = tracing::field::Empty, outcome = tracing::field::Empty))]
    pub async fn finish_webauthn_registration(
        &self,
        user: &UserId,
        challenge_id: &ChallengeId,
        response: &RegistrationResponseJson,
    ) -> Result<FactorInfo> {
        let now = self.now();
        let factor = self.webauthn()?;
        let owner = ChallengeOwner::User(user.clone());
        let pending: PendingRegistration = self
            .take_state(PURPOSE_WEBAUTHN_REGISTRATION, &owner, challenge_id, now)
            .await?;
        let registration = factor
            .relying_party()
            .finish_registration(&pending.state, response, now)
            .map_err(Into::<CoreError>::into)?;
        let record = registration.record;
        let kind = factor.kind(&record);
        let (_, enrolled) = self.enrolled(user).await?;
        self.policy.check_enroll(&enrolled, kind)?;
        let id = FactorId::generate(&mut self.rng.handle())?;
        let data = self.encode_factor(user, &id, kind, &record)?;
        let row = FactorRecord::new(user.clone(), id.clone(), kind, data, now)
            .with_label(pending.label.clone())
            .with_lookup_key(LookupKey::webauthn_credential(&record.id.0)?)
            .with_confirmed(true);
        self.insert_with(
            row.clone(),
            vec![
                AuditEvent::new(now, Some(user), EventKind::Enrolled).factor(&id, kind),
                AuditEvent::new(now, Some(user), EventKind::Confirmed).factor(&id, kind),
            ],
        )
        .await?;
        self.notify(
            user,
            SecurityNotice::FactorAdded {
                kind,
                label: pending.label,
            },
        )
        .await;
        Ok(FactorInfo::from_row(&row, None))
    }
}
