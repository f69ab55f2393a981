//! What the service journals, and how user ids appear in traces.

use std::fmt;
#[cfg(feature = "events")]
use std::sync::Arc;

use hmac::{KeyInit, Mac};
use mfa_core::UserId;
use zeroize::Zeroizing;

#[cfg(feature = "events")]
use super::EventSigner;

/// What [`ServiceBuilder::journal`](crate::ServiceBuilder::journal) keeps: the audit
/// log (on by default) and, with feature `events`, signed security events in the outbox.
#[derive(Clone, Debug)]
pub struct Journaling {
    pub(crate) audit: bool,
    #[cfg(feature = "events")]
    pub(crate) events: Option<Arc<EventSigner>>,
}

impl Default for Journaling {
    fn default() -> Self {
        Self::new()
    }
}

impl Journaling {
    /// The hash-chained audit log: every audit event becomes one entry.
    pub fn new() -> Self {
        Self {
            audit: true,
            #[cfg(feature = "events")]
            events: None,
        }
    }

    /// No audit log (only security events).
    #[must_use]
    pub fn without_audit_log(mut self) -> Self {
        self.audit = false;
        self
    }

    /// Signs a Security Event Token for each CAEP / RISC event the service's events
    /// imply, into the outbox (deliver it with [`OutboxSender`](super::OutboxSender),
    /// feature `webhook`, or your own reader of `JournalStore::outbox_due`).
    #[cfg(feature = "events")]
    #[must_use]
    pub fn security_events(mut self, signer: EventSigner) -> Self {
        self.events = Some(Arc::new(signer));
        self
    }

    pub(crate) fn records_anything(&self) -> bool {
        #[cfg(feature = "events")]
        if self.events.is_some() {
            return true;
        }
        self.audit
    }
}

/// How a user id appears in tracing spans and the `mfa::audit` log lines. The audit log
/// in the store always keeps the id itself: it is the record of who.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum UserField {
    /// As is (the default).
    #[default]
    Plain,
    /// HMAC-SHA-256 under a key of the operator's, first 16 bytes in hex: the same user
    /// gives the same value (traces can be followed), and the id cannot be recovered or
    /// guessed without the key.
    Hashed(Zeroizing<Vec<u8>>),
    /// Not recorded.
    Omitted,
}

impl fmt::Debug for UserField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Plain => "UserField::Plain",
            Self::Hashed(_) => "UserField::Hashed([redacted])",
            Self::Omitted => "UserField::Omitted",
        })
    }
}

impl UserField {
    /// [`UserField::Hashed`] under `key` (at least 16 bytes).
    ///
    /// # Errors
    ///
    /// [`mfa_core::Error`] (invalid input) for a shorter key.
    pub fn hashed(key: &[u8]) -> Result<Self, mfa_core::Error> {
        if key.len() < 16 {
            return Err(mfa_core::Error::invalid(
                "user hash key",
                "at least 16 bytes",
            ));
        }
        Ok(Self::Hashed(Zeroizing::new(key.to_vec())))
    }

    /// The value to record for `user`, `None` when omitted.
    pub fn show(&self, user: &UserId) -> Option<String> {
        match self {
            Self::Plain => Some(user.as_str().to_owned()),
            Self::Omitted => None,
            Self::Hashed(key) => {
                let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).ok()?;
                mac.update(user.as_str().as_bytes());
                let tag = mac.finalize().into_bytes();
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut shown = String::with_capacity(32);
                for b in tag.iter().take(16) {
                    for nibble in [b >> 4, b & 0xf] {
                        shown.push(char::from(
                            HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
                        ));
                    }
                }
                Some(shown)
            }
        }
    }
}

/// A security event for a given user, signed along with a change's audit events.
#[cfg(feature = "events")]
pub(crate) type SecurityEventSlot = (UserId, super::SecurityEvent);
/// Without feature `events` there are none.
#[cfg(not(feature = "events"))]
pub(crate) type SecurityEventSlot = std::convert::Infallible;

/// Turns audit events into journal entries: their JSON lines for the audit log, and the
/// signed SETs they imply for the outbox. Cheap to clone into a store's transaction.
#[derive(Clone, Debug)]
pub(crate) struct JournalBuilder {
    audit: bool,
    #[cfg(feature = "events")]
    signer: Option<Arc<EventSigner>>,
    #[cfg(feature = "events")]
    now: mfa_core::Timestamp,
}

impl JournalBuilder {
    pub(crate) fn new(journaling: Option<&Journaling>, now: mfa_core::Timestamp) -> Self {
        #[cfg(not(feature = "events"))]
        let _ = now;
        Self {
            audit: journaling.is_some_and(|j| j.audit),
            #[cfg(feature = "events")]
            signer: journaling.and_then(|j| j.events.clone()),
            #[cfg(feature = "events")]
            now,
        }
    }

    /// The entries for `events` (and `extra` security events).
    pub(crate) fn build(
        &self,
        events: &[crate::AuditEvent],
        extra: &[SecurityEventSlot],
    ) -> crate::Result<mfa_core::store::Journal> {
        let mut journal = mfa_core::store::Journal::new();
        if self.audit {
            for e in events {
                let body = serde_json::to_string(e)
                    .map_err(|e| mfa_core::Error::invalid("audit event", e.to_string()))?;
                journal
                    .audit
                    .push(mfa_core::store::NewAuditEntry::new(e.at, body));
            }
        }
        #[cfg(feature = "events")]
        if let Some(signer) = &self.signer {
            let mut sets: Vec<(UserId, super::SecurityEvent, mfa_core::Timestamp)> = Vec::new();
            for e in events {
                if let Some(user) = &e.user {
                    for s in super::SecurityEvent::for_audit(e) {
                        sets.push((user.clone(), s, e.at));
                    }
                }
            }
            let at = events.first().map_or(self.now, |e| e.at);
            sets.extend(extra.iter().map(|(u, s)| (u.clone(), s.clone(), at)));
            for (user, event, at) in sets {
                let jti = new_jti()?;
                let token = signer.sign(&event, &user, &jti, at, self.now)?;
                journal
                    .outbox
                    .push(mfa_core::store::OutboxMessage::new(jti, token, self.now));
            }
        }
        #[cfg(not(feature = "events"))]
        let _ = extra;
        Ok(journal)
    }
}

/// A fresh `jti`: 128 random bits from the OS, base64url.
#[cfg(feature = "events")]
fn new_jti() -> crate::Result<String> {
    use base64::Engine as _;
    use mfa_core::SecureRandom as _;
    let mut bytes = [0u8; 16];
    mfa_core::OsRandom
        .fill(&mut bytes)
        .map_err(mfa_core::Error::from)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
