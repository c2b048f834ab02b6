//! Outbox rows for store tests: a firing message about an incident, as the
//! alert manager would queue it; and a dispatcher of the outbox in the
//! test's own process.

use std::time::SystemTime;

use hopwatch::incident::{AlertEvent, EventKind, Incident, IncidentState, MonitorRef, Severity};
use hopwatch::probe::{Cause, Hop, Verdict};
use hopwatch::store::incidents::NewDelivery;

/// An open incident `id` of `monitor`: its origin refuses connections.
pub fn open_incident(id: &str, monitor: &str) -> Incident {
    Incident {
        id: id.to_owned(),
        alert: "down".to_owned(),
        monitor: monitor.to_owned(),
        severity: Severity::Warning,
        state: IncidentState::Open,
        cause: Cause::ConnectRefused,
        verdict: Verdict {
            hop: Hop::Origin,
            summary: "origin refuses".to_owned(),
        },
        responder: None,
        evidence: None,
        value: Some(3.0),
        threshold: Some(2.5),
        started_at: SystemTime::now(),
        resolved_at: None,
        acknowledged: false,
        folded_into: None,
        annotations: Vec::new(),
        notified_at: None,
        regions: Default::default(),
    }
}

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

/// A dispatcher of `store`'s outbox with the notifiers (and pages) of the
/// config `yaml`; each `deliver_due` is one round.
pub fn dispatcher(
    store: &hopwatch::store::Store,
    yaml: &str,
) -> hopwatch::alert::outbox::Dispatcher {
    let config =
        hopwatch::config::parse(yaml, hopwatch::config::Format::Yaml, "test.yaml").expect("valid");
    let notifiers = hopwatch::alert::build_notifiers(&config.config.notifiers).expect("notifiers");
    let setup = hopwatch::live::Setup::without_store(std::sync::Arc::new(config)).expect("setup");
    hopwatch::alert::outbox::Dispatcher::new(
        store.clone(),
        &notifiers,
        std::sync::Arc::new(hopwatch::metrics::Metrics::new()),
        std::sync::Arc::new(tokio::sync::Notify::new()),
        hopwatch::live::Live::new(setup),
    )
}
