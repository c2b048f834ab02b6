//! Outbox rows for store tests: a firing message about an incident, as the
//! alert manager would queue it.

use hopwatch::incident::{AlertEvent, EventKind, Incident, MonitorRef};
use hopwatch::store::incidents::NewDelivery;

/// A firing delivery `id` to `notifier` about `incident`.
pub fn firing_delivery(id: &str, notifier: &str, incident: &Incident) -> NewDelivery {
    NewDelivery {
        id: id.to_owned(),
        notifier: notifier.to_owned(),
        events: vec![AlertEvent {
            kind: EventKind::Firing,
            incident_id: incident.id.clone(),
            alert: incident.alert.clone(),
            severity: incident.severity,
            monitor: MonitorRef {
                name: incident.monitor.clone(),
                group: None,
                url: None,
            },
            cause: incident.cause,
            responder: incident.responder.clone(),
            verdict: incident.verdict.clone(),
            value: incident.value,
            threshold: incident.threshold,
            started_at: incident.started_at,
            resolved_at: None,
            evidence: None,
            annotations: Vec::new(),
            runbook: None,
            url: None,
            regions: incident.regions.clone(),
        }],
    }
}
