//! The Prometheus metrics of contract section 6 on a registry hopwatch owns
//! (no global default registry), plus a few about hopwatch itself.

mod monitors;

pub use monitors::{MonitorMetrics, RENDER_PIECE};

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// Every metric hopwatch exports.
pub struct Metrics {
    registry: Registry,
    /// Every per-monitor series (up, state, duration, phases, checks, codes, expiry).
    pub per_monitor: MonitorMetrics,
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
    /// `hopwatch_web_renders_total{route}`: times a cached web answer was
    /// rendered rather than served from its snapshot.
    pub web_renders: IntCounterVec,
    /// `hopwatch_web_snapshots`: answers held ready to serve.
    pub web_snapshots: IntGauge,
    /// `hopwatch_web_snapshot_bytes`: their bytes, every coding counted.
    pub web_snapshot_bytes: IntGauge,
    /// `hopwatch_node_info{node,region}`: always 1.
    pub node_info: IntGaugeVec,
    /// `hopwatch_cluster_leader`: 1 while this node evaluates alerts and
    /// sends the outbox (a single node always does).
    pub cluster_leader: IntGauge,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let lateness_buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
        ];
        let metrics = Self {
            per_monitor: MonitorMetrics::default(),
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
            web_renders: IntCounterVec::new(
                Opts::new(
                    "hopwatch_web_renders_total",
                    "Web answers rendered rather than served from a snapshot, by route",
                ),
                &["route"],
            )
            .expect("valid metric"),
            web_snapshots: IntGauge::new(
                "hopwatch_web_snapshots",
                "Web answers held ready to serve",
            )
            .expect("valid metric"),
            web_snapshot_bytes: IntGauge::new(
                "hopwatch_web_snapshot_bytes",
                "Bytes of the web answers held ready to serve, every coding counted",
            )
            .expect("valid metric"),
            node_info: IntGaugeVec::new(
                Opts::new(
                    "hopwatch_node_info",
                    "Always 1; this node's name and region in labels",
                ),
                &["node", "region"],
            )
            .expect("valid metric"),
            cluster_leader: IntGauge::new(
                "hopwatch_cluster_leader",
                "1 while this node evaluates alerts and sends notifications",
            )
            .expect("valid metric"),
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
            Box::new(self.incidents_open.clone()),
            Box::new(self.alert_deliveries.clone()),
            Box::new(self.scheduler_lateness.clone()),
            Box::new(self.build_info.clone()),
            Box::new(self.store_errors.clone()),
            Box::new(self.store_rows_written.clone()),
            Box::new(self.store_dropped.clone()),
            Box::new(self.checks_running.clone()),
            Box::new(self.monitors.clone()),
            Box::new(self.web_renders.clone()),
            Box::new(self.web_snapshots.clone()),
            Box::new(self.web_snapshot_bytes.clone()),
            Box::new(self.node_info.clone()),
            Box::new(self.cluster_leader.clone()),
        ];
        for collector in collectors {
            self.registry
                .register(collector)
                .expect("each metric is registered once");
        }
    }

    /// Names this node in `hopwatch_node_info` and marks it the leader
    /// (`hopwatch_cluster_leader`) or not.
    pub fn set_node(&self, node: &str, region: &str, leader: bool) {
        self.node_info.reset();
        self.node_info.with_label_values(&[node, region]).set(1);
        self.cluster_leader.set(i64::from(leader));
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = self.render_own();
        self.per_monitor.render(&mut text);
        text
    }

    /// [`Metrics::render`] in pieces of about [`RENDER_PIECE`] bytes,
    /// handed to `piece` in order until it returns false: the text of
    /// 50,000 monitors is 98 MB, and this way it is never held whole.
    pub fn render_pieces(&self, piece: &mut dyn FnMut(String) -> bool) {
        let mut out = self.render_own();
        let mut hand = |out: &mut String| {
            piece(std::mem::replace(
                out,
                String::with_capacity(RENDER_PIECE + RENDER_PIECE / 8),
            ))
        };
        self.per_monitor.render_pieces(&mut out, &mut hand);
        if !out.is_empty() {
            piece(out);
        }
    }

    /// The metrics of the registry: those about hopwatch itself.
    fn render_own(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(err) = encoder.encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }

    /// Drops the series of a monitor that no longer exists (on reload).
    pub fn forget_monitor(&self, monitor: &str) {
        self.per_monitor.forget(monitor);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
