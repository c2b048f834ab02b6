//! The messages an incident change queues: one delivery per notifier of its
//! alert, each carrying the event the notifier formats; and those of an
//! announced maintenance window, which go the same way.

use crate::config::MonitorConfig;
use crate::evaluate::notices::{Occurrence, Phase};
use crate::incident::{AlertEvent, EventKind, Incident, MonitorRef, Notice, Severity};
use crate::live::Setup;
use crate::monitor::{Cause, Hop, MonitorKind, Verdict};
use crate::store::incidents::NewDelivery;
use crate::store::subscribers::{Audience, Fanout};

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

/// What the subscribers of the pages showing the incident's monitor are
/// told when it fires (`kind` firing) or resolves: only with
/// `subscriptions.incidents`, and only the first firing, never repeats.
pub fn subscriber_fanout(incident: &Incident, kind: EventKind, setup: &Setup) -> Option<Fanout> {
    let config = &setup.config.config;
    let subscriptions = config.subscriptions.as_ref().filter(|s| s.incidents)?;
    let monitor = config
        .monitors
        .iter()
        .find(|m| m.name == incident.monitor)?;
    let pages = config.public_pages_showing(|page| page.shows(monitor));
    if pages.is_empty() {
        return None;
    }
    Some(Fanout {
        id: format!("{}.subscribers.{}", incident.id, kind.as_str()),
        audience: Audience {
            notifier: subscriptions.notifier.clone(),
            pages,
        },
        notice: Notice::Incident {
            event: Box::new(event(incident, Some(monitor), kind, setup)),
        },
    })
}

/// The deliveries announcing that `occurrence` started or ended, one per
/// notifier of its `notify`. The id is made of the occurrence, the
/// notifier and the phase, so the outbox's `ON CONFLICT DO NOTHING` keeps a
/// second queueing (after a restart, on a new leader) from sending again.
pub fn announcements(occurrence: &Occurrence, phase: Phase, setup: &Setup) -> Vec<NewDelivery> {
    let config = &setup.config.config;
    let covers = occurrence.covers(&config.monitors, &|_| true).join(", ");
    let span = crate::clock::utc_span(occurrence.start, occurrence.end);
    let (kind, summary, resolved_at) = match phase {
        Phase::Started => (
            EventKind::MaintenanceStarted,
            format!("Scheduled maintenance of {covers} started ({span})"),
            None,
        ),
        Phase::Ended => (
            EventKind::MaintenanceEnded,
            format!("Scheduled maintenance of {covers} ended ({span})"),
            Some(occurrence.end),
        ),
    };
    let event = AlertEvent {
        kind,
        incident_id: occurrence.id.clone(),
        alert: "maintenance".to_owned(),
        severity: Severity::Info,
        monitor: MonitorRef {
            name: covers,
            group: None,
            url: None,
        },
        // Planned work is no failure: nothing is at fault.
        cause: Cause::Ok,
        responder: None,
        verdict: Verdict {
            hop: Hop::None,
            summary,
        },
        value: None,
        threshold: None,
        started_at: occurrence.start,
        resolved_at,
        evidence: None,
        annotations: Vec::new(),
        runbook: None,
        url: config
            .server
            .public_url
            .as_deref()
            .map(|base| format!("{}/", base.trim_end_matches('/'))),
        regions: Default::default(),
    };
    occurrence
        .notify
        .iter()
        .map(|notifier| NewDelivery {
            id: format!("{}.{}.{}", occurrence.id, notifier, kind.as_str()),
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
