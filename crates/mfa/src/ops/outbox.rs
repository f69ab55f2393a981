//! The outbox sender: delivers Security Event Tokens by webhook POST, at least once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mfa_core::store::{JournalStore, OutboxMessage, StoreError};
use mfa_core::{Clock, SystemClock};

/// How the sender retries.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt; it doubles with each failure.
    pub first: Duration,
    /// The longest wait between attempts.
    pub max: Duration,
    /// Messages taken per pass.
    pub batch: usize,
    /// How long [`OutboxSender::run`] sleeps after a pass that found nothing due.
    pub poll: Duration,
    /// How long one POST may take before it counts as failed.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(5),
            max: Duration::from_secs(3600),
            batch: 100,
            poll: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts (1 after the first failure).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// What one pass did.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct SendReport {
    /// Messages the receiver accepted.
    pub delivered: usize,
    /// Messages that failed and wait for their next attempt.
    pub failed: usize,
}

/// Reads due messages from a store's outbox and POSTs each to a webhook, as RFC 8935
/// (push-based SET delivery) has it: body the SET, `Content-Type:
/// application/secevent+jwt`, success `202 Accepted` (any 2xx is taken as delivered).
/// The `jti` also goes in an `Idempotency-Key` header.
///
/// **At least once**: a message is marked delivered only after the receiver accepted
/// it, so a sender stopped between the two (a crash, an abort, a lost response) sends it
/// again after restart; receivers deduplicate by `jti`. A failed attempt (connection
/// error, timeout, any non-2xx status) waits [`RetryPolicy::backoff`] before the next
/// one, doubling up to [`RetryPolicy::max`]; attempts never stop. Several senders on one
/// store may send a message twice, never lose one.
pub struct OutboxSender<S> {
    store: S,
    endpoint: reqwest::Url,
    client: reqwest::Client,
    bearer: Option<zeroize::Zeroizing<String>>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl<S> fmt::Debug for OutboxSender<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxSender")
            .field("endpoint", &self.endpoint.as_str())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl<S: JournalStore> OutboxSender<S> {
    /// A sender from `store`'s outbox to `endpoint`.
    ///
    /// # Errors
    ///
    /// [`Error::Events`](crate::Error::Events) for an endpoint that is not
    /// an `http` or `https` URL, or an HTTP client that cannot be built.
    pub fn new(store: S, endpoint: &str) -> crate::Result<Self> {
        let endpoint = reqwest::Url::parse(endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                crate::Error::Events("the webhook endpoint is not an http(s) URL".into())
            })?;
        let retry = RetryPolicy::default();
        Ok(Self {
            store,
            endpoint,
            client: client(retry.timeout)?,
            bearer: None,
            retry,
            clock: Arc::new(SystemClock),
        })
    }

    /// The retry policy.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), when the client cannot be rebuilt with the new timeout.
    pub fn retry(mut self, retry: RetryPolicy) -> crate::Result<Self> {
        self.client = client(retry.timeout)?;
        self.retry = retry;
        Ok(self)
    }

    /// `Authorization: Bearer TOKEN` on every POST (RFC 8935 §2.1 leaves authentication
    /// to the parties).
    #[must_use]
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(zeroize::Zeroizing::new(token.into()));
        self
    }

    /// The clock deciding when a message is due (default the system's).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// One pass: every message due now, in order.
    ///
    /// # Errors
    ///
    /// A store failure (reading the outbox, or recording an outcome).
    pub async fn send_due(&self) -> Result<SendReport, StoreError> {
        let now = self.clock.now();
        let mut report = SendReport::default();
        for message in self.store.outbox_due(now, self.retry.batch).await? {
            if self.post(&message).await {
                self.store
                    .outbox_delivered(&message.id, self.clock.now())
                    .await?;
                report.delivered = report.delivered.saturating_add(1);
                super::metrics::outbox_delivery(true);
            } else {
                let wait = self.retry.backoff(message.attempts.saturating_add(1));
                let next = self.clock.now().saturating_add(wait);
                self.store.outbox_retry(&message.id, next).await?;
                report.failed = report.failed.saturating_add(1);
                super::metrics::outbox_delivery(false);
            }
        }
        Ok(report)
    }

    /// Passes forever, sleeping [`RetryPolicy::poll`] when nothing was sent. Run it as
    /// a task; abort the task to stop (nothing is lost: see the type's docs).
    pub async fn run(&self) {
        loop {
            match self.send_due().await {
                Ok(r) if r.delivered > 0 => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "mfa::outbox", error = %e, "outbox pass failed");
                }
            }
            tokio::time::sleep(self.retry.poll).await;
        }
    }

    async fn post(&self, message: &OutboxMessage) -> bool {
        let mut request = self
            .client
            .post(self.endpoint.clone())
            .header("content-type", "application/secevent+jwt")
            .header("accept", "application/json")
            .header("idempotency-key", &message.id)
            .body(message.payload.clone());
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token.as_str());
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => true,
            Ok(r) => {
                tracing::warn!(target: "mfa::outbox", jti = %message.id, status = r.status().as_u16(), "security event refused; will retry");
                false
            }
            Err(e) => {
                tracing::warn!(target: "mfa::outbox", jti = %message.id, error = %e, "security event not delivered; will retry");
                false
            }
        }
    }
}

fn client(timeout: Duration) -> crate::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| crate::Error::Events(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let r = RetryPolicy::default();
        assert_eq!(r.backoff(1), Duration::from_secs(5));
        assert_eq!(r.backoff(2), Duration::from_secs(10));
        assert_eq!(r.backoff(5), Duration::from_secs(80));
        assert_eq!(r.backoff(20), Duration::from_secs(3600));
        assert_eq!(r.backoff(u32::MAX), Duration::from_secs(3600));
    }
}
