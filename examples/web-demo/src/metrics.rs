//! `/metrics`: the service's counters and histograms in the Prometheus text format.
//!
//! mfa records through the `metrics` facade; the demo installs
//! `metrics-exporter-prometheus`'s recorder as the process's global recorder (once: a
//! test process may start several demos, which then share it) and renders it on
//! `GET /metrics`. No HTTP listener of the exporter's own: the demo serves the text.
//! Labels never carry a user id, destination or code (see `mfa::ops`), so the page
//! can be scraped without leaking accounts; a real deployment would still keep it off
//! the public internet.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder (first call only); `None` when another recorder
/// was installed first.
pub(crate) fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            mfa::ops::describe_metrics();
            Some(handle)
        })
        .as_ref()
}

/// `GET /metrics`.
pub(crate) async fn metrics() -> impl IntoResponse {
    let body = install().map(PrometheusHandle::render).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
