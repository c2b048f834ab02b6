//! Where every check result goes: the connectivity override, metrics, the
//! one log line of a failure, the live state the web reads, and the writer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::alert::manager::ManagerMessage;
use crate::config::MonitorConfig;
use crate::evaluate::{Maintenance, chain_verdict};
use crate::metrics::Metrics;
use crate::probe::{Cause, CheckResult, Hop, Verdict};
use crate::schedule::Scheduled;
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
    maintenance: RwLock<Arc<Maintenance>>,
    latest: RwLock<HashMap<String, Arc<CheckResult>>>,
    /// Bumped whenever a monitor's state changes; see [`Pipeline::generation`].
    generation: AtomicU64,
}

impl Pipeline {
    /// A pipeline writing to `writer` and telling the alert manager.
    pub fn new(
        writer: ResultSender,
        alerts: tokio::sync::mpsc::Sender<ManagerMessage>,
        metrics: Arc<Metrics>,
        connectivity: Arc<Connectivity>,
        maintenance: Arc<Maintenance>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                writer,
                alerts,
                metrics,
                connectivity,
                maintenance: RwLock::new(maintenance),
                latest: RwLock::new(HashMap::new()),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// Swaps the maintenance windows (config reload).
    pub fn set_maintenance(&self, maintenance: Arc<Maintenance>) {
        if let Ok(mut slot) = self.inner.maintenance.write() {
            *slot = maintenance;
        }
    }

    /// Whether a monitor is in a maintenance window now.
    pub fn in_maintenance(&self, monitor: &str) -> bool {
        self.inner
            .maintenance
            .read()
            .is_ok_and(|m| m.active(monitor, std::time::SystemTime::now()))
    }

    /// The contract's state of a monitor now: its last result's, or
    /// `maintenance` inside a window, or `unknown` without a result.
    pub fn state(&self, monitor: &str) -> &'static str {
        if self.in_maintenance(monitor) {
            return "maintenance";
        }
        self.latest(monitor).as_deref().map_or("unknown", state_of)
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// A number that changes whenever some monitor's state (up, down,
    /// degraded, unknown) changes or a monitor goes away. The web's
    /// snapshots compare it to rebuild early; one relaxed atomic per
    /// changed state keeps it off the cost of a check.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Relaxed)
    }

    /// The latest result of a monitor.
    pub fn latest(&self, name: &str) -> Option<Arc<CheckResult>> {
        self.inner.latest.read().ok()?.get(name).cloned()
    }

    /// Records the results of one scheduled run (a check and its confirms).
    pub async fn record(&self, monitor: &Scheduled, results: Vec<CheckResult>) {
        for mut result in results {
            result.monitor = Some(monitor.config.name.clone());
            if result.cause.is_failure() && !self.inner.connectivity.is_ok() {
                let original = result.cause;
                result.set_cause(Cause::Unknown);
                result.verdict = Verdict {
                    hop: Hop::Unknown,
                    summary: format!(
                        "hopwatch's own network check failed, so this {original} is not counted"
                    ),
                };
            }
            // An origin that refuses connections is down itself; the path
            // to it is not what broke.
            if monitor.is_upstream && result.cause == Cause::ConnectRefused {
                result.verdict = Verdict {
                    hop: Hop::Origin,
                    summary: format!(
                        "origin {} refuses connections: the service is down or not listening",
                        monitor.config.name
                    ),
                };
            }
            // Judge an edge together with its upstream's latest result.
            if let Some(upstream) = monitor.config.upstream.as_deref()
                && !result.ok
                && let Some(origin) = self.latest(upstream)
            {
                result.verdict = chain_verdict(&result, Some((upstream, &origin)));
            }
            self.observe(&monitor.config, &result);
            let stored = StoredCheck::from_result(monitor.id, &result);
            let result = Arc::new(result);
            if let Ok(mut latest) = self.inner.latest.write() {
                let previous = latest.insert(monitor.config.name.clone(), result.clone());
                if previous.as_deref().map(state_of) != Some(state_of(&result)) {
                    self.inner.generation.fetch_add(1, Ordering::Relaxed);
                }
            }
            // A closed writer or manager means shutdown is under way.
            let _ = self.inner.writer.send(stored).await;
            let message = ManagerMessage::Check {
                monitor: monitor.config.name.clone(),
                result,
            };
            let _ = self.inner.alerts.send(message).await;
        }
    }

    /// Drops what is kept about a monitor that was removed.
    pub fn forget(&self, config: &MonitorConfig) {
        if let Ok(mut latest) = self.inner.latest.write() {
            latest.remove(&config.name);
        }
        self.inner.generation.fetch_add(1, Ordering::Relaxed);
        self.inner.metrics.forget_monitor(&config.name);
    }

    fn observe(&self, config: &MonitorConfig, result: &CheckResult) {
        let name = config.name.as_str();
        let state = if self.in_maintenance(name) {
            "maintenance"
        } else {
            state_of(result)
        };
        self.inner.metrics.per_monitor.observe(
            name,
            config.group.as_deref().unwrap_or(""),
            config.kind.as_str(),
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

/// The contract's monitor state for one result.
pub fn state_of(result: &CheckResult) -> &'static str {
    match result.cause {
        Cause::Ok => "up",
        Cause::Unknown => "unknown",
        Cause::TooSlow | Cause::TlsExpiring => "degraded",
        _ if result.flaky == Some(true) => "degraded",
        _ => "down",
    }
}
