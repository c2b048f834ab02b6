//! The pure message builders: the exact bytes every notifier sends, made
//! from alert events without any I/O so each format is tested byte for byte.
//!
//! One event gives one message. Several events (an alert storm grouped by
//! the dispatcher) give one message that lists them all, except PagerDuty,
//! whose API takes one event per request: see [`pagerduty_bodies`].

mod chat;
mod json;
mod mail;
mod notice;
mod pagerduty;

use std::borrow::Cow;
use std::time::SystemTime;

pub use chat::{discord_body, slack_body};
pub use json::json_body;
pub use mail::{email_html, email_subject, email_text};
pub use notice::{CONFIRM_WITHIN, NoticeLinks, NoticeMail, notice_mail};
pub use pagerduty::{pagerduty_bodies, pagerduty_body};

use crate::incident::Severity;
use crate::incident::{AlertEvent, EventKind};
use crate::monitor::Responder;

/// What a shortened text ends with, so a reader sees that something is cut.
const ELLIPSIS: char = '…';

/// `[FIRING]` or `[RESOLVED]`.
fn tag(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Firing => "[FIRING]",
        EventKind::Resolved => "[RESOLVED]",
        EventKind::MaintenanceStarted => "[MAINTENANCE STARTED]",
        EventKind::MaintenanceEnded => "[MAINTENANCE ENDED]",
    }
}

/// `shop-5xx: shop-edge http_502 (origin)`: alert, monitor, cause and the
/// hop at fault, the line a person reads first.
fn headline(event: &AlertEvent) -> String {
    // An announcement has no cause or hop: what it covers says it all.
    if event.kind.is_maintenance() {
        return event.monitor.name.clone();
    }
    format!(
        "{}: {} {} ({})",
        event.alert,
        event.monitor.name,
        event.cause,
        event.verdict.hop.as_str()
    )
}

/// `[FIRING] shop-5xx: shop-edge http_502 (origin)`.
fn title(event: &AlertEvent) -> String {
    format!("{} {}", tag(event.kind), headline(event))
}

/// At most `max` characters of `text`; a cut text ends with `…` (counted in
/// `max`). Cuts fall on character boundaries, so multi-byte text stays valid.
fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let keep = max.saturating_sub(1);
    let mut cut: String = text.chars().take(keep).collect();
    if max > 0 {
        cut.push(ELLIPSIS);
    }
    Cow::Owned(cut)
}

/// RFC 3339 with milliseconds, as every time hopwatch shows.
fn time(at: SystemTime) -> String {
    crate::clock::rfc3339_millis(at)
}

/// `gateway (nginx)`, `origin`, or `None` when no HTTP answer was seen.
fn responder_text(responder: Option<&Responder>) -> Option<String> {
    responder.map(|r| match &r.product {
        Some(product) => format!("{} ({product})", r.role.as_str()),
        None => r.role.as_str().to_owned(),
    })
}

/// `0.12 (threshold 0.05)`: the measured value against what it crossed.
fn value_text(event: &AlertEvent) -> Option<String> {
    match (event.value, event.threshold) {
        (Some(value), Some(threshold)) => Some(format!("{value} (threshold {threshold})")),
        (Some(value), None) => Some(value.to_string()),
        (None, Some(threshold)) => Some(format!("threshold {threshold}")),
        (None, None) => None,
    }
}

/// A link target only when it is http(s): chat services refuse a whole
/// message over one bad URL, and nothing else is worth clicking.
fn web_link(url: Option<&str>) -> Option<&str> {
    url.filter(|u| u.starts_with("https://") || u.starts_with("http://"))
}

/// The colour of an event: green when resolved, else by severity.
fn colour(event: &AlertEvent) -> u32 {
    match (event.kind, event.severity) {
        (EventKind::Resolved | EventKind::MaintenanceEnded, _) => 0x2E_B6_7D,
        (EventKind::MaintenanceStarted, _) => 0x6B_7C_93,
        (EventKind::Firing, Severity::Critical) => 0xE0_1E_5A,
        (EventKind::Firing, Severity::Warning) => 0xEC_B2_2E,
        (EventKind::Firing, Severity::Info) => 0x36_C5_F0,
    }
}

/// Serializes a body made of plain structs and strings: that cannot fail
/// (no maps with non-string keys, and serde_json writes NaN as `null`).
fn to_json<T: serde::Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).expect("alert bodies have string keys only")
}

/// A fixed event for the builders' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use std::collections::BTreeMap;
    use std::time::{Duration, UNIX_EPOCH};

    use crate::incident::Severity;
    use crate::incident::{AlertEvent, AlertEvidence, Annotation, EventKind, MonitorRef};
    use crate::monitor::{Cause, Hop, Responder, Role, Verdict};

    /// 2026-01-02T03:04:05.678Z
    pub const STARTED: u64 = 1_767_323_045_678;

    /// The contract's example: shop-edge answers 502 because the origin is down.
    pub fn firing() -> AlertEvent {
        let ms = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        AlertEvent {
            kind: EventKind::Firing,
            incident_id: "inc-42".into(),
            alert: "shop-5xx".into(),
            severity: Severity::Critical,
            monitor: MonitorRef {
                name: "shop-edge".into(),
                group: Some("Shop".into()),
                url: Some("https://shop.example.com/health".into()),
            },
            cause: Cause::Http502,
            responder: Some(Responder {
                role: Role::Gateway,
                product: Some("nginx".into()),
            }),
            verdict: Verdict {
                hop: Hop::Origin,
                summary: "origin shop-origin refuses connections; the gateway answers 502".into(),
            },
            value: Some(0.12),
            threshold: Some(0.05),
            started_at: ms(STARTED),
            resolved_at: None,
            evidence: Some(AlertEvidence {
                status: Some(502),
                headers: BTreeMap::from([("server".into(), "nginx".into())]),
                body_excerpt: "<html>502 Bad Gateway</html>".into(),
                request_id: Some("req-7".into()),
                ..AlertEvidence::default()
            }),
            annotations: vec![Annotation {
                at: ms(STARTED - 600_000),
                text: "deploy v1.4.2".into(),
            }],
            runbook: Some("https://wiki.example.com/shop-502".into()),
            url: Some("https://status.example.com/incidents/inc-42".into()),
            regions: Default::default(),
        }
    }

    /// The same incident, resolved ten minutes later.
    pub fn resolved() -> AlertEvent {
        AlertEvent {
            kind: EventKind::Resolved,
            resolved_at: Some(UNIX_EPOCH + Duration::from_millis(STARTED + 600_000)),
            ..firing()
        }
    }

    /// An announced maintenance window of the Shop group, started.
    pub fn maintenance_started() -> AlertEvent {
        AlertEvent {
            kind: EventKind::MaintenanceStarted,
            incident_id: "maintenance-00000000000000ab-1767323045".into(),
            alert: "maintenance".into(),
            severity: Severity::Info,
            monitor: MonitorRef {
                name: "Shop".into(),
                group: None,
                url: None,
            },
            cause: Cause::Ok,
            responder: None,
            verdict: Verdict {
                hop: Hop::None,
                summary: "Scheduled maintenance of Shop started \
                          (2026-01-02 03:04:05-04:04:05 UTC)"
                    .into(),
            },
            value: None,
            threshold: None,
            evidence: None,
            annotations: Vec::new(),
            runbook: None,
            url: Some("https://status.example.com/".into()),
            ..firing()
        }
    }

    /// A bare event: no group, url, responder, value, evidence or links.
    pub fn bare() -> AlertEvent {
        AlertEvent {
            monitor: MonitorRef {
                name: "db".into(),
                group: None,
                url: None,
            },
            alert: "db-down".into(),
            incident_id: "inc-43".into(),
            severity: Severity::Warning,
            cause: Cause::ConnectRefused,
            responder: None,
            verdict: Verdict {
                hop: Hop::Network,
                summary: "db refuses connections".into(),
            },
            value: None,
            threshold: None,
            evidence: None,
            annotations: Vec::new(),
            runbook: None,
            url: None,
            ..firing()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_short_text_and_cuts_long_text_on_char_boundaries() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééééé", 4), "ééé…");
        assert_eq!(truncate("😀😀😀", 2), "😀…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn headline_names_alert_monitor_cause_and_hop() {
        assert_eq!(
            title(&fixture::firing()),
            "[FIRING] shop-5xx: shop-edge http_502 (origin)"
        );
        assert_eq!(
            title(&fixture::resolved()),
            "[RESOLVED] shop-5xx: shop-edge http_502 (origin)"
        );
    }

    #[test]
    fn a_maintenance_announcement_reads_as_one_in_every_format() {
        let started = fixture::maintenance_started();
        let ended = AlertEvent {
            kind: EventKind::MaintenanceEnded,
            resolved_at: Some(started.started_at + std::time::Duration::from_secs(3600)),
            verdict: crate::monitor::Verdict {
                hop: crate::monitor::Hop::None,
                summary: "Scheduled maintenance of Shop ended".into(),
            },
            ..started.clone()
        };
        let json = String::from_utf8(json_body(std::slice::from_ref(&started))).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"version":1,"event":"maintenance_started","#,
                r#""incident_id":"maintenance-00000000000000ab-1767323045","#,
                r#""alert":"maintenance","severity":"info","#,
                r#""monitor":{"name":"Shop","group":null,"url":null},"#,
                r#""cause":"ok","responder":null,"#,
                r#""verdict":{"hop":"none","summary":"Scheduled maintenance of Shop started (2026-01-02 03:04:05-04:04:05 UTC)"},"#,
                r#""value":null,"threshold":null,"started_at":"2026-01-02T03:04:05.678Z","#,
                r#""resolved_at":null,"evidence":null,"annotations":[],"runbook":null,"#,
                r#""url":"https://status.example.com/"}"#,
            )
        );
        let ended_json = String::from_utf8(json_body(std::slice::from_ref(&ended))).unwrap();
        assert!(ended_json.contains(r#""event":"maintenance_ended""#));
        assert_eq!(
            email_subject(std::slice::from_ref(&started)),
            "[MAINTENANCE STARTED] Shop"
        );
        assert_eq!(
            email_subject(std::slice::from_ref(&ended)),
            "[MAINTENANCE ENDED] Shop"
        );
        assert_eq!(
            email_text(std::slice::from_ref(&ended)),
            "[MAINTENANCE ENDED] Shop\n\
             Scheduled maintenance of Shop ended\n\n\
             Covers:       Shop\n\
             Started:      2026-01-02T03:04:05.678Z\n\
             Ended:        2026-01-02T04:04:05.678Z\n\
             Window:       maintenance-00000000000000ab-1767323045\n\
             Link:         https://status.example.com/\n"
        );
        let slack: serde_json::Value =
            serde_json::from_slice(&slack_body(std::slice::from_ref(&started))).unwrap();
        assert_eq!(
            slack["attachments"][0]["fallback"],
            "[MAINTENANCE STARTED] Shop"
        );
        let discord = String::from_utf8(discord_body(std::slice::from_ref(&started))).unwrap();
        assert!(discord.contains("[MAINTENANCE STARTED] Shop"), "{discord}");
        assert!(!discord.contains("Cause"), "{discord}");
        // Planned work pages nobody.
        assert!(pagerduty_bodies(&[started, ended], "key").is_empty());
        assert_eq!(pagerduty_bodies(&[fixture::firing()], "key").len(), 1);
    }

    #[test]
    fn only_http_links_are_used() {
        assert_eq!(
            web_link(Some("https://a.example")),
            Some("https://a.example")
        );
        assert_eq!(web_link(Some("javascript:alert(1)")), None);
        assert_eq!(web_link(None), None);
    }
}
