//! Where every check result goes: its verdict adjusted with what the check
//! could not know, metrics, the one log line of a failure, the live state,
//! the writer and the alert manager.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use crate::alert::manager::ManagerMessage;
use crate::evaluate::verdict::{self, Context};
use crate::live::Live;
use crate::metrics::Metrics;
use crate::monitor::{CheckResult, Monitor, MonitorState};
use crate::store::StoredCheck;
use crate::store::writer::ResultSender;

/// Whether hopwatch's own network works (`server.connectivity_check`).
#[derive(Debug)]
pub struct Connectivity {
    ok: AtomicBool,
}

impl Default for Connectivity {
    fn default() -> Self {
        Self {
            ok: AtomicBool::new(true),
        }
    }
}

impl Connectivity {
    /// The last connectivity check passed (or none is configured).
    pub fn is_ok(&self) -> bool {
        self.ok.load(Ordering::Relaxed)
    }

    /// Records the outcome of a connectivity check.
    pub fn set(&self, ok: bool) {
        let was = self.ok.swap(ok, Ordering::Relaxed);
        if was != ok {
            if ok {
                tracing::info!("connectivity check passes again; results count again");
            } else {
                tracing::warn!("connectivity check fails: results are unknown until it passes");
            }
        }
    }
}

/// Hands results on; cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

struct Inner {
    writer: ResultSender,
    alerts: tokio::sync::mpsc::Sender<ManagerMessage>,
    metrics: Arc<Metrics>,
    connectivity: Arc<Connectivity>,
    live: Live,
}

impl Pipeline {
    /// A pipeline writing to `writer`, keeping `live` current and telling
    /// the alert manager.
    pub fn new(
        writer: ResultSender,
        alerts: tokio::sync::mpsc::Sender<ManagerMessage>,
        metrics: Arc<Metrics>,
        connectivity: Arc<Connectivity>,
        live: Live,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                writer,
                alerts,
                metrics,
                connectivity,
                live,
            }),
        }
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Records the results of one run of a monitor (a check and its
    /// confirms, or one push). A result that names no region is this
    /// node's; an agent's names its own.
    pub async fn record(&self, monitor: &Monitor, results: Vec<CheckResult>) {
        let live = &self.inner.live;
        let setup = live.setup();
        let identity = &setup.identity;
        for mut result in results {
            result.monitor = Some(monitor.name.clone());
            let local = result.region.is_none();
            if local {
                result.region = Some(identity.region.clone());
                result.node = Some(identity.name.clone());
            }
            let region = result.region.as_deref().unwrap_or_default();
            let Some(series) = setup.series_id(&monitor.name, region) else {
                tracing::warn!(
                    region,
                    "a result from a region this monitor has no series in"
                );
                continue;
            };
            // The chain verdict compares hops seen from the same region.
            let upstream = monitor
                .upstream
                .as_deref()
                .and_then(|name| live.latest_in(name, region));
            let context = Context {
                monitor,
                // hopwatch's own network says nothing of an agent's.
                connectivity_ok: !local || self.inner.connectivity.is_ok(),
                upstream: upstream.as_deref(),
            };
            verdict::adjust(&mut result, &context);
            if local {
                self.observe(monitor, &result);
            }
            let stored = StoredCheck::from_result(series, &result);
            let result = Arc::new(result);
            live.record(&monitor.name, result.clone());
            // A closed writer or manager means shutdown is under way.
            let _ = self.inner.writer.send(stored).await;
            let message = ManagerMessage::Check {
                monitor: monitor.name.clone(),
                result,
            };
            let _ = self.inner.alerts.send(message).await;
        }
    }

    /// Drops what metrics keep about a monitor that was removed.
    pub fn forget(&self, name: &str) {
        self.inner.metrics.forget_monitor(name);
    }

    fn observe(&self, monitor: &Monitor, result: &CheckResult) {
        let name = monitor.name.as_str();
        let state = if self.inner.live.in_maintenance(name, SystemTime::now()) {
            MonitorState::Maintenance
        } else {
            MonitorState::of(result)
        };
        self.inner.metrics.per_monitor.observe(
            name,
            monitor.group.as_deref().unwrap_or(""),
            monitor.kind.as_str(),
            result,
            state,
        );
        if result.cause.is_failure() {
            tracing::warn!(
                cause = %result.cause,
                hop = result.verdict.hop.as_str(),
                flaky = result.flaky.unwrap_or(false),
                "{}",
                // The summary may quote a push `msg` or a peer's answer.
                crate::escape::log_field(&result.verdict.summary)
            );
        } else {
            tracing::debug!(cause = %result.cause, latency_ms = result.latency_ms, "check");
        }
    }
}
