//! The incident model: what an alert opens, folds, repeats and resolves,
//! and the events notifiers are given. The store keeps it, the evaluator
//! decides on it, alerting sends it; it depends only on the monitor model.

pub mod event;
pub mod notice;
pub mod report;

pub use event::{AlertEvent, AlertEvidence, Annotation, EventKind, MonitorRef};
pub use notice::Notice;
pub use report::{Report, ReportStatus, ReportUpdate};

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::monitor::{Cause, Responder, Verdict};

/// Alert severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Page someone. The default.
    #[default]
    Critical,
    /// Look soon.
    Warning,
    /// For the record.
    Info,
}

impl Severity {
    /// `critical`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// Open or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    /// The condition holds.
    Open,
    /// It stopped holding.
    Resolved,
}

impl IncidentState {
    /// `open` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Resolved => "resolved",
        }
    }
}

/// One incident: the INCIDENT object of the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Stable id, used in URLs and as PagerDuty's dedup key.
    pub id: String,
    /// The alert rule.
    pub alert: String,
    /// The monitor.
    pub monitor: String,
    /// The alert's severity.
    pub severity: Severity,
    /// Open or resolved.
    pub state: IncidentState,
    /// Cause of the first failing check.
    pub cause: Cause,
    /// The hop at fault when it opened.
    pub verdict: Verdict,
    /// Who answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responder: Option<Responder>,
    /// The first failing check's evidence.
    pub evidence: Option<AlertEvidence>,
    /// Measured value when it opened.
    pub value: Option<f64>,
    /// Threshold crossed.
    pub threshold: Option<f64>,
    /// Opened.
    #[serde(with = "crate::clock::rfc3339")]
    pub started_at: SystemTime,
    /// Resolved.
    #[serde(with = "crate::clock::rfc3339_opt")]
    pub resolved_at: Option<SystemTime>,
    /// Someone acknowledged it: no repeats.
    pub acknowledged: bool,
    /// The incident this one is folded into (an edge failing because its
    /// upstream fails): it sends nothing of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folded_into: Option<String>,
    /// Markers of the hour before it started.
    pub annotations: Vec<Annotation>,
    /// Last time notifications were queued for it.
    #[serde(skip)]
    pub notified_at: Option<SystemTime>,
    /// The regions whose checks fail and pass when it opened.
    #[serde(default)]
    pub regions: Regions,
}

/// Which regions saw a monitor fail and which saw it pass: in INCIDENT,
/// the webhook body and the email.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regions {
    /// Regions whose checks fail.
    pub failing: Vec<String>,
    /// Regions whose checks pass.
    pub passing: Vec<String>,
}
