//! Where audit events go: the sink and `tracing`, the metrics, the current span's
//! fields, and — with [`ServiceBuilder::journal`] — the store's journal, in the
//! transaction of the change they record ([`commit`](Service::commit)) or right after
//! (everything else, through [`emit`](Service::emit)).

use mfa_core::store::{Change, Committed, Journal};

use super::*;
use crate::ops::{Journaling, UserField};

/// The service's operations settings.
pub(crate) struct Ops {
    journal: Option<Journaling>,
    users: UserField,
}

impl Ops {
    pub(crate) fn new(journal: Option<Journaling>, users: UserField) -> Self {
        Self { journal, users }
    }
}

/// The same events whatever the outcome (a change whose every success is the event).
pub(super) fn fixed(events: Vec<AuditEvent>) -> MakeEvents {
    Arc::new(move |_| events.clone())
}

/// Derives a change's audit events from its outcome (none when nothing happened).
pub(super) type MakeEvents = Arc<dyn Fn(&Committed) -> Vec<AuditEvent> + Send + Sync>;

impl<S: Store> Service<S> {
    /// How `user` appears in traces and log lines.
    pub(crate) fn trace_user(&self, user: &UserId) -> Option<String> {
        self.ops.users.show(user)
    }

    /// Emits an event that no store change of its own carries: sink, `tracing`,
    /// metrics, span fields, and the journal in a transaction of its own. A journal
    /// that cannot be written is logged, never the caller's failure (what happened
    /// already happened).
    pub(super) async fn emit(&self, event: AuditEvent) {
        self.announce(&event);
        if self.ops.journal.is_none() {
            return;
        }
        let journal = match self.journal_for(std::slice::from_ref(&event), &[]) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(target: "mfa::audit", error = %e, event = event.event.as_str(), "audit event not journaled");
                return;
            }
        };
        if let Err(e) = self
            .store
            .commit_journaled(Change::Nothing, Box::new(move |_| Ok(journal)))
            .await
        {
            tracing::error!(target: "mfa::audit", error = %e, event = event.event.as_str(), "audit event not journaled");
        }
    }

    /// Applies `change`; its audit events (`make` of the outcome) are journaled in the
    /// same transaction, then announced. Without a journal, the plain store call.
    ///
    /// `extra` security events (a reset's per-factor credential changes) are signed
    /// with them when `make` yields any.
    pub(super) async fn commit(
        &self,
        change: Change,
        make: MakeEvents,
        extra: Vec<crate::ops::SecurityEventSlot>,
    ) -> std::result::Result<Committed, StoreError> {
        let out = if self.ops.journal.is_some() {
            let inner = Arc::clone(&make);
            let builder = self.journal_builder();
            self.store
                .commit_journaled(
                    change,
                    Box::new(move |out| {
                        let events = inner(out);
                        if events.is_empty() {
                            return Ok(Journal::new());
                        }
                        builder
                            .build(&events, &extra)
                            .map_err(|e| StoreError::Backend(Box::new(e)))
                    }),
                )
                .await?
        } else {
            self.apply_plain(change).await?
        };
        for e in make(&out) {
            self.announce(&e);
        }
        Ok(out)
    }

    /// [`insert_new`](Self::insert_new) with `events` journaled in its transaction.
    pub(super) async fn insert_with(
        &self,
        row: FactorRecord,
        events: Vec<AuditEvent>,
    ) -> Result<()> {
        match self
            .commit(Change::InsertFactor(row), fixed(events), Vec::new())
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::LookupKeyTaken) => Err(Error::CredentialAlreadyRegistered),
            Err(e) => Err(e.into()),
        }
    }

    /// [`cas`](Self::cas) with `events` journaled in its transaction.
    pub(super) async fn cas_with(
        &self,
        record: FactorRecord,
        expected: mfa_core::store::Version,
        events: Vec<AuditEvent>,
    ) -> Result<()> {
        match self
            .commit(
                Change::UpdateFactor { record, expected },
                fixed(events),
                Vec::new(),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict) => Err(Error::Conflict),
            Err(StoreError::NotFound) => Err(Error::UnknownFactor),
            Err(e) => Err(e.into()),
        }
    }

    /// With security events on: a CAEP credential change (`revoke`, by an
    /// administrator) for each factor a reset of `user` is about to remove.
    pub(super) async fn reset_credential_events(
        &self,
        user: &UserId,
    ) -> Result<Vec<crate::ops::SecurityEventSlot>> {
        #[cfg(feature = "events")]
        if self
            .ops
            .journal
            .as_ref()
            .is_some_and(|j| j.events.is_some())
        {
            use crate::ops::{ChangeType, Initiator, SecurityEvent};
            return Ok(self
                .store
                .list_factors(user)
                .await?
                .iter()
                .map(|r| {
                    let event = SecurityEvent::credential(
                        r.value.kind,
                        ChangeType::Revoke,
                        Initiator::Admin,
                    );
                    (user.clone(), event)
                })
                .collect());
        }
        let _ = user;
        Ok(Vec::new())
    }

    async fn apply_plain(&self, change: Change) -> std::result::Result<Committed, StoreError> {
        Ok(match change {
            Change::InsertFactor(r) => Committed::Version(self.store.insert_factor(r).await?),
            Change::UpdateFactor { record, expected } => Committed::Version(
                self.store
                    .update_factor_if_version(record, expected)
                    .await?,
            ),
            Change::RemoveFactor { user, id } => {
                Committed::Removed(self.store.remove_factor(&user, &id).await?)
            }
            Change::ForgetDevice { user, device_id } => {
                Committed::Removed(self.store.forget_device(&user, &device_id).await?)
            }
            Change::ResetUser(user) => Committed::Reset(self.store.reset_user(&user).await?),
            _ => Committed::Nothing,
        })
    }

    /// The sink and `tracing` (user as configured), metrics, and the current span's
    /// `kind` and `outcome`.
    fn announce(&self, event: &AuditEvent) {
        let span = tracing::Span::current();
        span.record("outcome", event.event.as_str());
        if let Some(kind) = event.kind {
            span.record("kind", kind.as_str());
        }
        crate::ops::record_metrics(event);
        event.emit(self.audit.as_deref(), |u| self.trace_user(u));
    }

    fn journal_builder(&self) -> crate::ops::JournalBuilder {
        crate::ops::JournalBuilder::new(self.ops.journal.as_ref(), self.now())
    }

    fn journal_for(
        &self,
        events: &[AuditEvent],
        extra: &[crate::ops::SecurityEventSlot],
    ) -> Result<Journal> {
        self.journal_builder().build(events, extra)
    }
}
