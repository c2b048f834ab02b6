//! The Prometheus metrics of contract section 6 on a registry hopwatch owns
//! (no global default registry), plus a few about hopwatch itself.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric hopwatch exports.
pub struct Metrics {
    registry: Registry,
    /// `hopwatch_monitor_up{monitor,group,type}`.
    pub monitor_up: IntGaugeVec,
    /// `hopwatch_monitor_state{monitor,state}`.
    pub monitor_state: IntGaugeVec,
    /// `hopwatch_check_duration_seconds{monitor}`.
    pub check_duration: HistogramVec,
    /// `hopwatch_check_phase_seconds{monitor,phase}`.
    pub check_phase: GaugeVec,
    /// `hopwatch_checks_total{monitor,cause}`.
    pub checks_total: IntCounterVec,
    /// `hopwatch_http_responses_total{monitor,code}`.
    pub http_responses: IntCounterVec,
    /// `hopwatch_tls_cert_expiry_timestamp_seconds{monitor}`.
    pub cert_expiry: GaugeVec,
    /// `hopwatch_incidents_open{severity}`.
    pub incidents_open: IntGaugeVec,
    /// `hopwatch_alert_deliveries_total{notifier,result}`.
    pub alert_deliveries: IntCounterVec,
    /// `hopwatch_scheduler_lateness_seconds`.
    pub scheduler_lateness: Histogram,
    /// `hopwatch_build_info{version}`.
    pub build_info: IntGaugeVec,
    /// `hopwatch_store_write_errors_total`: failed batch writes.
    pub store_errors: IntCounter,
    /// `hopwatch_store_rows_written_total`.
    pub store_rows_written: IntCounter,
    /// `hopwatch_store_rows_dropped_total`: results lost to a long store outage.
    pub store_dropped: IntCounter,
    /// `hopwatch_checks_running`.
    pub checks_running: IntGauge,
    /// `hopwatch_monitors`: monitors scheduled.
    pub monitors: Gauge,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let latency_buckets = vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        let lateness_buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
        ];
        let metrics = Self {
            monitor_up: IntGaugeVec::new(
                Opts::new(
                    "hopwatch_monitor_up",
                    "1 when the monitor's last check passed, 0 when it failed",
                ),
                &["monitor", "group", "type"],
            )
            .expect("valid metric"),
            monitor_state: IntGaugeVec::new(
                Opts::new(
                    "hopwatch_monitor_state",
                    "1 for the monitor's current state",
                ),
                &["monitor", "state"],
            )
            .expect("valid metric"),
            check_duration: HistogramVec::new(
                HistogramOpts::new(
                    "hopwatch_check_duration_seconds",
                    "Duration of whole checks",
                )
                .buckets(latency_buckets),
                &["monitor"],
            )
            .expect("valid metric"),
            check_phase: GaugeVec::new(
                Opts::new(
                    "hopwatch_check_phase_seconds",
                    "Time spent in each phase of the last check",
                ),
                &["monitor", "phase"],
            )
            .expect("valid metric"),
            checks_total: IntCounterVec::new(
                Opts::new("hopwatch_checks_total", "Checks run, by cause"),
                &["monitor", "cause"],
            )
            .expect("valid metric"),
            http_responses: IntCounterVec::new(
                Opts::new(
                    "hopwatch_http_responses_total",
                    "HTTP responses received, by status code",
                ),
                &["monitor", "code"],
            )
            .expect("valid metric"),
            cert_expiry: GaugeVec::new(
                Opts::new(
                    "hopwatch_tls_cert_expiry_timestamp_seconds",
                    "Expiry of the certificate seen by the last check, Unix seconds",
                ),
                &["monitor"],
            )
            .expect("valid metric"),
            incidents_open: IntGaugeVec::new(
                Opts::new("hopwatch_incidents_open", "Open incidents"),
                &["severity"],
            )
            .expect("valid metric"),
            alert_deliveries: IntCounterVec::new(
                Opts::new(
                    "hopwatch_alert_deliveries_total",
                    "Alert delivery attempts, by result",
                ),
                &["notifier", "result"],
            )
            .expect("valid metric"),
            scheduler_lateness: Histogram::with_opts(
                HistogramOpts::new(
                    "hopwatch_scheduler_lateness_seconds",
                    "How late each check started after it was due",
                )
                .buckets(lateness_buckets),
            )
            .expect("valid metric"),
            build_info: IntGaugeVec::new(
                Opts::new("hopwatch_build_info", "Always 1; the version in a label"),
                &["version"],
            )
            .expect("valid metric"),
            store_errors: IntCounter::new(
                "hopwatch_store_write_errors_total",
                "Batches the database refused (read-only, full disk...)",
            )
            .expect("valid metric"),
            store_rows_written: IntCounter::new(
                "hopwatch_store_rows_written_total",
                "Check results written to the database",
            )
            .expect("valid metric"),
            store_dropped: IntCounter::new(
                "hopwatch_store_rows_dropped_total",
                "Check results dropped because the database refused writes for too long",
            )
            .expect("valid metric"),
            checks_running: IntGauge::new("hopwatch_checks_running", "Checks in progress")
                .expect("valid metric"),
            monitors: Gauge::new("hopwatch_monitors", "Monitors scheduled").expect("valid metric"),
            registry,
        };
        metrics.register_all();
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        metrics
    }

    fn register_all(&self) {
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(self.monitor_up.clone()),
            Box::new(self.monitor_state.clone()),
            Box::new(self.check_duration.clone()),
            Box::new(self.check_phase.clone()),
            Box::new(self.checks_total.clone()),
            Box::new(self.http_responses.clone()),
            Box::new(self.cert_expiry.clone()),
            Box::new(self.incidents_open.clone()),
            Box::new(self.alert_deliveries.clone()),
            Box::new(self.scheduler_lateness.clone()),
            Box::new(self.build_info.clone()),
            Box::new(self.store_errors.clone()),
            Box::new(self.store_rows_written.clone()),
            Box::new(self.store_dropped.clone()),
            Box::new(self.checks_running.clone()),
            Box::new(self.monitors.clone()),
        ];
        for collector in collectors {
            self.registry
                .register(collector)
                .expect("each metric is registered once");
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(err) = encoder.encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }

    /// Drops the series of a monitor that no longer exists (on reload).
    /// prometheus 0.14 has no partial-match removal, so every label value
    /// hopwatch can have produced is named.
    pub fn forget_monitor(&self, monitor: &str, group: &str, kind: &str) {
        let _ = self.monitor_up.remove_label_values(&[monitor, group, kind]);
        for state in STATES {
            let _ = self.monitor_state.remove_label_values(&[monitor, state]);
        }
        let _ = self.check_duration.remove_label_values(&[monitor]);
        for phase in crate::probe::Phases::NAMES {
            let _ = self.check_phase.remove_label_values(&[monitor, phase]);
        }
        for cause in crate::probe::Cause::ALL {
            let _ = self
                .checks_total
                .remove_label_values(&[monitor, cause.as_str()]);
        }
        for code in 100..600u16 {
            let _ = self
                .http_responses
                .remove_label_values(&[monitor, &code.to_string()]);
        }
        let _ = self.cert_expiry.remove_label_values(&[monitor]);
    }
}

/// The states of `hopwatch_monitor_state`.
pub const STATES: [&str; 5] = ["up", "degraded", "down", "maintenance", "unknown"];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
