//! The messages an incident change queues: one delivery per notifier of its
//! alert, each carrying the event the notifier formats.

use crate::config::MonitorConfig;
use crate::incident::{AlertEvent, EventKind, Incident, MonitorRef};
use crate::live::Setup;
use crate::monitor::MonitorKind;
use crate::store::incidents::NewDelivery;

/// The deliveries of `incident` for `kind`; `round` tells repeats apart, so
/// each has an id of its own that stays the same on every try.
pub fn deliveries(
    incident: &Incident,
    kind: EventKind,
    round: u32,
    setup: &Setup,
) -> Vec<NewDelivery> {
    let config = &setup.config.config;
    let Some(alert) = config.alerts.iter().find(|a| a.name == incident.alert) else {
        return Vec::new();
    };
    let monitor = config.monitors.iter().find(|m| m.name == incident.monitor);
    let event = event(incident, monitor, kind, setup);
    alert
        .notify
        .iter()
        .map(|notifier| NewDelivery {
            id: format!("{}.{}.{}.{round}", incident.id, notifier, kind.as_str()),
            notifier: notifier.clone(),
            events: vec![event.clone()],
        })
        .collect()
}

fn event(
    incident: &Incident,
    monitor: Option<&MonitorConfig>,
    kind: EventKind,
    setup: &Setup,
) -> AlertEvent {
    let server = &setup.config.config.server;
    AlertEvent {
        kind,
        incident_id: incident.id.clone(),
        alert: incident.alert.clone(),
        severity: incident.severity,
        monitor: MonitorRef {
            name: incident.monitor.clone(),
            group: monitor.and_then(|m| m.group.clone()),
            url: monitor.and_then(target_of),
        },
        cause: incident.cause,
        responder: incident.responder.clone(),
        verdict: incident.verdict.clone(),
        value: incident.value,
        threshold: incident.threshold,
        started_at: incident.started_at,
        resolved_at: incident.resolved_at,
        evidence: incident.evidence.clone(),
        annotations: incident.annotations.clone(),
        regions: incident.regions.clone(),
        runbook: monitor.and_then(|m| m.runbook.clone()),
        url: server
            .public_url
            .as_deref()
            .map(|base| format!("{}/incidents/{}", base.trim_end_matches('/'), incident.id)),
    }
}

/// What the monitor checks, secrets masked, for the message.
fn target_of(monitor: &MonitorConfig) -> Option<String> {
    match monitor.kind {
        MonitorKind::Http | MonitorKind::Websocket => monitor.url.as_deref().map(crate::mask::url),
        MonitorKind::Tcp | MonitorKind::Tls | MonitorKind::Grpc => monitor.target.clone(),
        MonitorKind::Dns => monitor.query.clone(),
        MonitorKind::Push => None,
        MonitorKind::Smtp => monitor.target.clone(),
        MonitorKind::Domain => monitor.domain.clone(),
        MonitorKind::Icmp => monitor.target.clone(),
    }
}
