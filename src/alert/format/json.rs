//! hopwatch's own webhook body (`format: json`), exactly the object of
//! contract section 5, and its grouped form for alert storms.

use std::time::SystemTime;

use serde::Serialize;

use super::to_json;
use crate::incident::Severity;
use crate::incident::{AlertEvent, AlertEvidence, Annotation, EventKind, MonitorRef, Regions};
use crate::monitor::{Cause, Verdict};

/// The body's schema version; bumped only on a breaking change.
const VERSION: u32 = 1;

/// The contract's body for one event. Fields are declared in the
/// contract's order, so the bytes read like its example. Borrowed from the
/// event: building a body copies no text.
#[derive(Debug, Serialize)]
pub(super) struct Body<'a> {
    version: u32,
    event: EventKind,
    incident_id: &'a str,
    alert: &'a str,
    severity: Severity,
    monitor: &'a MonitorRef,
    cause: Cause,
    responder: Option<ResponderBody<'a>>,
    verdict: &'a Verdict,
    value: Option<f64>,
    threshold: Option<f64>,
    #[serde(with = "crate::clock::rfc3339")]
    started_at: SystemTime,
    #[serde(with = "crate::clock::rfc3339_opt")]
    resolved_at: Option<SystemTime>,
    evidence: Option<&'a AlertEvidence>,
    annotations: &'a [Annotation],
    runbook: Option<&'a str>,
    url: Option<&'a str>,
    /// Checked from several regions: which fail and which pass (contract
    /// section 7). Absent for one region, so a single node's body is
    /// exactly section 5's.
    #[serde(skip_serializing_if = "Option::is_none")]
    regions: Option<&'a Regions>,
}

/// The responder with `product` always present (`null` when unknown), so
/// receivers see one shape whatever the probe could tell.
#[derive(Debug, Serialize)]
struct ResponderBody<'a> {
    role: &'static str,
    product: Option<&'a str>,
}

impl<'a> Body<'a> {
    /// The body of `event`.
    pub(super) fn new(event: &'a AlertEvent) -> Self {
        Body {
            version: VERSION,
            event: event.kind,
            incident_id: &event.incident_id,
            alert: &event.alert,
            severity: event.severity,
            monitor: &event.monitor,
            cause: event.cause,
            responder: event.responder.as_ref().map(|r| ResponderBody {
                role: r.role.as_str(),
                product: r.product.as_deref(),
            }),
            verdict: &event.verdict,
            value: event.value,
            threshold: event.threshold,
            started_at: event.started_at,
            resolved_at: event.resolved_at,
            evidence: event.evidence.as_ref(),
            annotations: &event.annotations,
            runbook: event.runbook.as_deref(),
            url: event.url.as_deref(),
            regions: Some(&event.regions).filter(|r| r.failing.len() + r.passing.len() > 1),
        }
    }
}

/// Several events in one message. `event` is `grouped` so a receiver that
/// only knows single bodies can tell them apart; each item of `events` is
/// a complete single body, so the same parser reads both.
#[derive(Debug, Serialize)]
struct Grouped<'a> {
    version: u32,
    event: &'static str,
    count: usize,
    events: Vec<Body<'a>>,
}

/// The `format: json` body. One event gives exactly the contract's object;
/// any other number gives
/// `{"version":1,"event":"grouped","count":N,"events":[BODY,...]}`.
pub fn json_body(events: &[AlertEvent]) -> Vec<u8> {
    match events {
        [event] => to_json(&Body::new(event)),
        _ => to_json(&Grouped {
            version: VERSION,
            event: "grouped",
            count: events.len(),
            events: events.iter().map(Body::new).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    const FIRING: &str = concat!(
        r#"{"version":1,"event":"firing","incident_id":"inc-42","alert":"shop-5xx","#,
        r#""severity":"critical","#,
        r#""monitor":{"name":"shop-edge","group":"Shop","url":"https://shop.example.com/health"},"#,
        r#""cause":"http_502","responder":{"role":"gateway","product":"nginx"},"#,
        r#""verdict":{"hop":"origin","summary":"origin shop-origin refuses connections; the gateway answers 502"},"#,
        r#""value":0.12,"threshold":0.05,"started_at":"2026-01-02T03:04:05.678Z","resolved_at":null,"#,
        r#""evidence":{"status":502,"headers":{"server":"nginx"},"body_excerpt":"<html>502 Bad Gateway</html>","request_id":"req-7"},"#,
        r#""annotations":[{"at":"2026-01-02T02:54:05.678Z","text":"deploy v1.4.2"}],"#,
        r#""runbook":"https://wiki.example.com/shop-502","url":"https://status.example.com/incidents/inc-42"}"#,
    );

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("JSON is UTF-8")
    }

    #[test]
    fn one_firing_event_is_exactly_the_contract_body() {
        assert_eq!(text(json_body(&[fixture::firing()])), FIRING);
    }

    #[test]
    fn resolved_event_says_resolved_and_when() {
        let expected = FIRING
            .replace(r#""event":"firing""#, r#""event":"resolved""#)
            .replace(
                r#""resolved_at":null"#,
                r#""resolved_at":"2026-01-02T03:14:05.678Z""#,
            );
        assert_eq!(text(json_body(&[fixture::resolved()])), expected);
    }

    #[test]
    fn unknown_facts_are_null_never_missing() {
        let body = text(json_body(&[fixture::bare()]));
        let expected = concat!(
            r#"{"version":1,"event":"firing","incident_id":"inc-43","alert":"db-down","#,
            r#""severity":"warning","monitor":{"name":"db","group":null,"url":null},"#,
            r#""cause":"connect_refused","responder":null,"#,
            r#""verdict":{"hop":"network","summary":"db refuses connections"},"#,
            r#""value":null,"threshold":null,"started_at":"2026-01-02T03:04:05.678Z","#,
            r#""resolved_at":null,"evidence":null,"annotations":[],"runbook":null,"url":null}"#,
        );
        assert_eq!(body, expected);
    }

    #[test]
    fn several_events_are_grouped_with_each_single_body() {
        let events = [fixture::firing(), fixture::resolved()];
        let body = text(json_body(&events));
        let single = |e: &AlertEvent| text(json_body(std::slice::from_ref(e)));
        let expected = format!(
            r#"{{"version":1,"event":"grouped","count":2,"events":[{},{}]}}"#,
            single(&events[0]),
            single(&events[1])
        );
        assert_eq!(body, expected);
    }

    #[test]
    fn a_missing_value_is_null_even_when_not_a_number() {
        let event = AlertEvent {
            value: Some(f64::NAN),
            ..fixture::firing()
        };
        let body: serde_json::Value =
            serde_json::from_slice(&json_body(&[event])).expect("valid JSON");
        assert_eq!(body["value"], serde_json::Value::Null);
    }
}
