//! What a notifier is told: one incident event (firing or resolved) with
//! every fact the contract's webhook body carries (section 5).

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::Severity;
use crate::monitor::{Cause, Responder, Verdict};

/// Firing or resolved; or an announced maintenance window that started or
/// ended, sent through the same notifiers and outbox as alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The alert's condition holds (first time, or a repeat).
    Firing,
    /// It stopped holding.
    Resolved,
    /// A maintenance window with `announce: true` started. The event's
    /// `incident_id` names the window's occurrence, `monitor.name` says
    /// what it covers, `verdict.summary` when it ends.
    MaintenanceStarted,
    /// That window ended (`resolved_at`).
    MaintenanceEnded,
}

impl EventKind {
    /// `firing`, `resolved`, `maintenance_started`, `maintenance_ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Firing => "firing",
            EventKind::Resolved => "resolved",
            EventKind::MaintenanceStarted => "maintenance_started",
            EventKind::MaintenanceEnded => "maintenance_ended",
        }
    }

    /// A maintenance announcement rather than an incident's event.
    pub fn is_maintenance(self) -> bool {
        matches!(
            self,
            EventKind::MaintenanceStarted | EventKind::MaintenanceEnded
        )
    }
}

/// The monitor an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorRef {
    /// Its name.
    pub name: String,
    /// Its group.
    pub group: Option<String>,
    /// Its URL or target, secrets masked.
    pub url: Option<String>,
}

/// The evidence quoted in an alert and kept with the incident: a check's
/// [`crate::monitor::result::Evidence`] (bounded and masked at capture) with
/// its HTTP status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AlertEvidence {
    /// HTTP status, if any.
    pub status: Option<u16>,
    /// Response headers (secrets masked).
    pub headers: BTreeMap<String, String>,
    /// First 2 KiB of the body, URLs masked.
    pub body_excerpt: String,
    /// A request id header, if any.
    pub request_id: Option<String>,
    /// Headers the capture's bounds left out; serialized only when not 0.
    #[serde(default)]
    pub headers_dropped: usize,
    /// Headers and body excerpt are withheld from this reader: they are
    /// empty and left out of the JSON. Never stored; see [`AlertEvidence::public`].
    #[serde(skip)]
    pub withheld: bool,
}

impl AlertEvidence {
    /// The evidence of a check, as an incident keeps it.
    pub fn of(result: &crate::monitor::CheckResult) -> AlertEvidence {
        let evidence = result.evidence.clone().unwrap_or_default();
        AlertEvidence {
            status: result.status,
            headers: evidence.headers,
            body_excerpt: evidence.body_excerpt,
            request_id: evidence.request_id,
            headers_dropped: evidence.headers_dropped,
            withheld: false,
        }
    }

    /// What a reader without the right to see response content gets: the
    /// status, request id and count of dropped headers, not the headers and
    /// body excerpt. The one place that decides what such a reader sees of
    /// an incident's evidence.
    pub fn public(&self) -> AlertEvidence {
        AlertEvidence {
            status: self.status,
            request_id: self.request_id.clone(),
            headers_dropped: self.headers_dropped,
            withheld: true,
            ..AlertEvidence::default()
        }
    }
}

/// Written by hand to leave out what a public view withholds; alerts and
/// the store get what a derived implementation would write.
impl Serialize for AlertEvidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("AlertEvidence", 5)?;
        out.serialize_field("status", &self.status)?;
        if self.withheld {
            out.skip_field("headers")?;
            out.skip_field("body_excerpt")?;
        } else {
            out.serialize_field("headers", &self.headers)?;
            out.serialize_field("body_excerpt", &self.body_excerpt)?;
        }
        out.serialize_field("request_id", &self.request_id)?;
        if self.headers_dropped > 0 {
            out.serialize_field("headers_dropped", &self.headers_dropped)?;
        } else {
            out.skip_field("headers_dropped")?;
        }
        out.end()
    }
}

/// A deploy or change marker quoted in alerts that start soon after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// When it happened.
    #[serde(with = "crate::clock::rfc3339")]
    pub at: SystemTime,
    /// What happened ("deploy v1.4.2").
    pub text: String,
}

/// One event of one incident, as every notifier receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Firing or resolved.
    pub kind: EventKind,
    /// The incident's id.
    pub incident_id: String,
    /// The alert rule's name.
    pub alert: String,
    /// Its severity.
    pub severity: Severity,
    /// The monitor.
    pub monitor: MonitorRef,
    /// The cause of the first failing check.
    pub cause: Cause,
    /// Who answered, for HTTP failures.
    pub responder: Option<Responder>,
    /// The hop at fault.
    pub verdict: Verdict,
    /// The measured value (a rate 0..1, a latency in seconds, a count...).
    pub value: Option<f64>,
    /// The threshold it crossed, same unit.
    pub threshold: Option<f64>,
    /// When the incident opened.
    #[serde(with = "crate::clock::rfc3339")]
    pub started_at: SystemTime,
    /// When it resolved.
    #[serde(with = "crate::clock::rfc3339_opt")]
    pub resolved_at: Option<SystemTime>,
    /// The first failing check's evidence.
    pub evidence: Option<AlertEvidence>,
    /// Markers from the hour before the incident started.
    pub annotations: Vec<Annotation>,
    /// The monitor's runbook link.
    pub runbook: Option<String>,
    /// Link to the incident page (`server.public_url` + `/incidents/{id}`).
    pub url: Option<String>,
    /// The regions whose checks fail and pass.
    #[serde(default)]
    pub regions: super::Regions,
}
