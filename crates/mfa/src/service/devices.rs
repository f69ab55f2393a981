//! Remembered devices.

use super::*;

impl<S: Store> Service<S> {
    // ---------------------------------------------------------------- devices

    /// Remembers this device after a multi-factor sign-in: stores its entry at the
    /// user's current generation and returns the signed token for the client's cookie.
    ///
    /// # Errors
    ///
    /// [`Error::NotConfigured`] without a device key in the policy, or when the
    /// policy disables remembering; [`Error::DeviceToken`] when the session is not
    /// multi-factor or the id is malformed; [`Error::Conflict`] when the user was
    /// reset meanwhile; a store failure.
    pub async fn remember_device(
        &self,
        user: &UserId,
        session: &Session,
        device_id: &str,
        label: &str,
    ) -> Result<Zeroizing<String>> {
        check_label(label)?;
        let now = self.now();
        let key = self
            .policy
            .device_key()
            .ok_or(Error::NotConfigured("device key"))?;
        let generation = self.store.user_state(user).await?.generation;
        let (_, enrolled) = self.enrolled(user).await?;
        let claims = self
            .policy
            .remember_device(user, device_id, generation.get(), session, &enrolled, now)?
            .ok_or(Error::NotConfigured(
                "remembered devices (disabled by policy)",
            ))?;
        let token = Zeroizing::new(key.issue(&claims)?);
        let entry =
            RememberedDevice::new(user.clone(), device_id, generation, now, claims.expires_at)?
                .with_label(label);
        match self.store.remember_device(entry).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(Error::Conflict),
            Err(e) => return Err(e.into()),
        }
        self.emit(AuditEvent::new(
            now,
            Some(user),
            EventKind::DeviceRemembered {
                device_id: device_id.to_owned(),
            },
        ));
        Ok(token)
    }

    /// Checks a remembered-device token: its signature, binding, expiry and generation,
    /// **and** that the store still has the device's entry at the current generation.
    /// `Ok(None)` when it is not honoured (the reason is logged at `DEBUG`).
    ///
    /// # Errors
    ///
    /// A store failure (treat as not remembered: fail closed).
    pub async fn check_device(
        &self,
        user: &UserId,
        device_id: &str,
        token: &str,
    ) -> Result<Option<DeviceClaims>> {
        let now = self.now();
        let Some(key) = self.policy.device_key() else {
            return Ok(None);
        };
        let generation = self.store.user_state(user).await?.generation;
        let Some(entry) = self.store.remembered_device(user, device_id, now).await? else {
            tracing::debug!(target: "mfa::audit", user = user.as_str(), "remembered device not in the store");
            return Ok(None);
        };
        if entry.generation != generation {
            return Ok(None);
        }
        match key.verify(token, user, device_id, generation.get(), now) {
            Ok(claims) => Ok(Some(claims)),
            Err(e) => {
                tracing::debug!(target: "mfa::audit", user = user.as_str(), reason = e.as_str(), "remembered-device token refused");
                Ok(None)
            }
        }
    }

    /// The user's remembered devices.
    ///
    /// # Errors
    ///
    /// A store failure.
    pub async fn list_devices(&self, user: &UserId) -> Result<Vec<RememberedDevice>> {
        Ok(self.store.list_devices(user, self.now()).await?)
    }

    /// Forgets one device; `false` when there was none.
    ///
    /// # Errors
    ///
    /// A store failure.
    pub async fn forget_device(&self, user: &UserId, device_id: &str) -> Result<bool> {
        let now = self.now();
        let removed = self.store.forget_device(user, device_id).await?;
        if removed {
            self.emit(AuditEvent::new(
                now,
                Some(user),
                EventKind::DeviceForgotten {
                    device_id: device_id.to_owned(),
                },
            ));
        }
        Ok(removed)
    }
}
