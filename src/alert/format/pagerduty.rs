//! PagerDuty Events API v2 bodies: one event per request, deduplicated by
//! incident id so a retried or repeated trigger updates the same alert.

use serde::Serialize;

use super::json::Body;
use super::{time, to_json, truncate, web_link};
use crate::incident::Severity;
use crate::incident::{AlertEvent, EventKind};

/// The Events API refuses a longer summary.
const SUMMARY_MAX: usize = 1024;

#[derive(Serialize)]
struct Event<'a> {
    routing_key: &'a str,
    event_action: &'static str,
    dedup_key: &'a str,
    payload: Payload<'a>,
    client: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_url: Option<&'a str>,
    links: Vec<Link<'a>>,
}

#[derive(Serialize)]
struct Payload<'a> {
    summary: String,
    source: &'a str,
    severity: &'static str,
    timestamp: String,
    component: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    class: &'static str,
    /// Every fact of the contract's JSON body, shown in the alert's details.
    custom_details: Body<'a>,
}

#[derive(Serialize)]
struct Link<'a> {
    href: &'a str,
    text: &'static str,
}

/// PagerDuty's own severities happen to include ours; `error` is unused.
fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// The Events API v2 body for one event: `trigger` when firing, `resolve`
/// when resolved, `dedup_key` = incident id. The payload names the monitor
/// as `source`, the hop at fault as `component`, the monitor's group as
/// `group` and the cause as `class`; `custom_details` holds the whole
/// `format: json` body. The routing key is the only secret in it.
pub fn pagerduty_body(event: &AlertEvent, routing_key: &str) -> Vec<u8> {
    let summary = format!(
        "{}: {} {} ({}): {}",
        event.alert,
        event.monitor.name,
        event.cause,
        event.verdict.hop.as_str(),
        event.verdict.summary
    );
    let links = [
        (web_link(event.url.as_deref()), "incident"),
        (web_link(event.runbook.as_deref()), "runbook"),
    ]
    .into_iter()
    .filter_map(|(href, text)| href.map(|href| Link { href, text }))
    .collect();
    to_json(&Event {
        routing_key,
        event_action: match event.kind {
            EventKind::Firing => "trigger",
            // Announcements are left out by `pagerduty_bodies`; were one
            // sent alone, resolving an unknown key pages nobody.
            EventKind::Resolved | EventKind::MaintenanceStarted | EventKind::MaintenanceEnded => {
                "resolve"
            }
        },
        dedup_key: &event.incident_id,
        payload: Payload {
            summary: truncate(&summary, SUMMARY_MAX).into_owned(),
            source: &event.monitor.name,
            severity: severity(event.severity),
            timestamp: time(event.resolved_at.unwrap_or(event.started_at)),
            component: event.verdict.hop.as_str(),
            group: event.monitor.group.as_deref(),
            class: event.cause.as_str(),
            custom_details: Body::new(event),
        },
        client: "hopwatch",
        client_url: web_link(event.url.as_deref()),
        links,
    })
}

/// One body per event, in order: the Events API takes a single event per
/// request, so a grouped delivery is sent as several requests. Resending
/// all of them on a retry is safe: PagerDuty folds repeats of a
/// `dedup_key` into the open alert.
///
/// Maintenance announcements are left out: PagerDuty pages on a trigger,
/// and planned work is no reason to wake anyone. A delivery of only
/// announcements sends nothing and counts as delivered.
pub fn pagerduty_bodies(events: &[AlertEvent], routing_key: &str) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter(|e| !e.kind.is_maintenance())
        .map(|e| pagerduty_body(e, routing_key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, json_body};
    use super::*;

    #[test]
    fn firing_event_triggers_with_the_incident_as_dedup_key() {
        let body = String::from_utf8(pagerduty_body(&fixture::firing(), "R0UT1NG")).expect("UTF-8");
        let details = String::from_utf8(json_body(&[fixture::firing()])).expect("UTF-8");
        let expected = format!(
            concat!(
                r#"{{"routing_key":"R0UT1NG","event_action":"trigger","dedup_key":"inc-42","#,
                r#""payload":{{"summary":"shop-5xx: shop-edge http_502 (origin): origin shop-origin refuses connections; the gateway answers 502","#,
                r#""source":"shop-edge","severity":"critical","timestamp":"2026-01-02T03:04:05.678Z","#,
                r#""component":"origin","group":"Shop","class":"http_502","custom_details":{}}},"#,
                r#""client":"hopwatch","client_url":"https://status.example.com/incidents/inc-42","#,
                r#""links":[{{"href":"https://status.example.com/incidents/inc-42","text":"incident"}},"#,
                r#"{{"href":"https://wiki.example.com/shop-502","text":"runbook"}}]}}"#,
            ),
            details
        );
        assert_eq!(body, expected);
    }

    #[test]
    fn resolved_event_resolves_at_its_resolve_time() {
        let body: serde_json::Value =
            serde_json::from_slice(&pagerduty_body(&fixture::resolved(), "k")).expect("JSON");
        assert_eq!(body["event_action"], "resolve");
        assert_eq!(body["dedup_key"], "inc-42");
        assert_eq!(body["payload"]["timestamp"], "2026-01-02T03:14:05.678Z");
    }

    #[test]
    fn bare_event_has_no_links_and_severity_is_mapped() {
        let body: serde_json::Value =
            serde_json::from_slice(&pagerduty_body(&fixture::bare(), "k")).expect("JSON");
        assert_eq!(body["links"], serde_json::json!([]));
        assert!(body.get("client_url").is_none());
        assert!(body["payload"].get("group").is_none());
        assert_eq!(body["payload"]["severity"], "warning");
    }

    #[test]
    fn long_summaries_are_cut_to_the_api_limit() {
        let mut event = fixture::firing();
        event.verdict.summary = "ж".repeat(3000);
        let body: serde_json::Value =
            serde_json::from_slice(&pagerduty_body(&event, "k")).expect("JSON");
        let summary = body["payload"]["summary"].as_str().expect("summary");
        assert_eq!(summary.chars().count(), SUMMARY_MAX);
    }

    #[test]
    fn grouped_events_give_one_body_each() {
        let events = [fixture::firing(), fixture::bare()];
        let bodies = pagerduty_bodies(&events, "k");
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[1], pagerduty_body(&events[1], "k"));
    }
}
