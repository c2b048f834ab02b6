//! Email: the subject line and the text and HTML parts, carrying the same
//! facts as the JSON body. Every user-provided string in HTML is escaped.

use crate::escape::markup as escape;
use std::fmt::Write;

use super::{responder_text, tag, time, title, value_text, web_link};
use crate::incident::{AlertEvent, EventKind};

/// A grouped subject names this many monitors, then counts the rest.
const SUBJECT_NAMES: usize = 3;

/// `[FIRING] shop-5xx: shop-edge http_502 (origin)` for one event. For
/// several: `[FIRING] 12 alerts: shop-edge http_502, db connect_refused,
/// cache timeout and 9 more`, with `(N resolved)` after the count when some
/// resolved, and `[RESOLVED]` only when all did.
pub fn email_subject(events: &[AlertEvent]) -> String {
    match events {
        [] => "[hopwatch] no alerts".to_owned(),
        [event] => title(event),
        _ => {
            let resolved = events
                .iter()
                .filter(|e| e.kind == EventKind::Resolved)
                .count();
            let mut subject = if resolved == events.len() {
                format!("{} {} alerts", tag(EventKind::Resolved), events.len())
            } else if resolved > 0 {
                let firing = tag(EventKind::Firing);
                format!("{firing} {} alerts ({resolved} resolved)", events.len())
            } else {
                format!("{} {} alerts", tag(EventKind::Firing), events.len())
            };
            let names: Vec<String> = events
                .iter()
                .take(SUBJECT_NAMES)
                .map(|e| format!("{} {}", e.monitor.name, e.cause))
                .collect();
            subject.push_str(": ");
            subject.push_str(&names.join(", "));
            if events.len() > SUBJECT_NAMES {
                let _ = write!(subject, " and {} more", events.len() - SUBJECT_NAMES);
            }
            subject
        }
    }
}

/// Every fact of an event as (label, value), in reading order.
fn rows(event: &AlertEvent) -> Vec<(&'static str, String)> {
    if event.kind.is_maintenance() {
        return maintenance_rows(event);
    }
    let mut rows = vec![(
        "Alert",
        format!("{} ({})", event.alert, event.severity.as_str()),
    )];
    let monitor = match &event.monitor.group {
        Some(group) => format!("{} (group {group})", event.monitor.name),
        None => event.monitor.name.clone(),
    };
    rows.push(("Monitor", monitor));
    if let Some(url) = &event.monitor.url {
        rows.push(("Target", url.clone()));
    }
    rows.push(("Cause", event.cause.as_str().to_owned()));
    if let Some(responder) = responder_text(event.responder.as_ref()) {
        rows.push(("Responder", responder));
    }
    rows.push(("Hop at fault", event.verdict.hop.as_str().to_owned()));
    // Checked from several regions: which saw it fail (contract section 7).
    let regions = &event.regions;
    if regions.failing.len() + regions.passing.len() > 1 {
        let list = |names: &[String]| match names {
            [] => "none".to_owned(),
            names => names.join(", "),
        };
        rows.push(("Failing in", list(&regions.failing)));
        rows.push(("Passing in", list(&regions.passing)));
    }
    if let Some(value) = value_text(event) {
        rows.push(("Value", value));
    }
    rows.push(("Started", time(event.started_at)));
    if let Some(resolved) = event.resolved_at {
        rows.push(("Resolved", time(resolved)));
    }
    rows.push(("Incident", event.incident_id.clone()));
    if let Some(url) = &event.url {
        rows.push(("Link", url.clone()));
    }
    if let Some(runbook) = &event.runbook {
        rows.push(("Runbook", runbook.clone()));
    }
    rows
}

/// An announcement's facts: no cause, hop or evidence, only what the
/// window covers and when.
fn maintenance_rows(event: &AlertEvent) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("Covers", event.monitor.name.clone()),
        ("Started", time(event.started_at)),
    ];
    if let Some(ended) = event.resolved_at {
        rows.push(("Ended", time(ended)));
    }
    rows.push(("Window", event.incident_id.clone()));
    if let Some(url) = &event.url {
        rows.push(("Link", url.clone()));
    }
    rows
}

/// The status and request id line of the evidence.
fn evidence_line(status: Option<u16>, request_id: Option<&str>) -> String {
    let mut line = String::from("Evidence");
    if let Some(status) = status {
        let _ = write!(line, ": HTTP {status}");
    }
    if let Some(id) = request_id {
        let _ = write!(line, ", request id {id}");
    }
    line
}

/// The line for headers the capture's bounds left out.
fn dropped(count: usize) -> String {
    format!("{count} more headers not kept")
}

fn event_text(event: &AlertEvent, out: &mut String) {
    let _ = writeln!(out, "{}\n{}\n", title(event), event.verdict.summary);
    for (label, value) in rows(event) {
        let _ = writeln!(out, "{:<13} {value}", format!("{label}:"));
    }
    if let Some(evidence) = &event.evidence {
        let line = evidence_line(evidence.status, evidence.request_id.as_deref());
        let _ = writeln!(out, "\n{line}");
        for (name, value) in &evidence.headers {
            let _ = writeln!(out, "  {name}: {value}");
        }
        if evidence.headers_dropped > 0 {
            let _ = writeln!(out, "  ({})", dropped(evidence.headers_dropped));
        }
        if !evidence.body_excerpt.is_empty() {
            out.push_str("  ---\n");
            for line in evidence.body_excerpt.lines() {
                let _ = writeln!(out, "  | {line}");
            }
        }
    }
    if !event.annotations.is_empty() {
        out.push_str("\nChanges in the hour before:\n");
        for annotation in &event.annotations {
            let _ = writeln!(out, "  {} {}", time(annotation.at), annotation.text);
        }
    }
}

/// The plain-text part: per event, its title, the verdict's sentence, a
/// table of facts, the evidence (headers and the body excerpt quoted with
/// `| `) and recent changes. Several events are separated by a rule under
/// a first line that is the subject.
pub fn email_text(events: &[AlertEvent]) -> String {
    let mut out = String::new();
    if events.len() > 1 {
        let _ = writeln!(out, "{}\n", email_subject(events));
    }
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push_str("\n----------------------------------------\n\n");
        }
        event_text(event, &mut out);
    }
    out
}

/// A value cell: a link for web links, escaped text otherwise.
fn cell(label: &str, value: &str) -> String {
    match (label, web_link(Some(value))) {
        ("Link" | "Runbook" | "Target", Some(url)) => {
            format!("<a href=\"{}\">{}</a>", escape(url), escape(url))
        }
        _ => escape(value),
    }
}

fn event_html(event: &AlertEvent, out: &mut String) {
    let colour = format!("#{:06x}", super::colour(event));
    let _ = write!(
        out,
        "<h2 style=\"color:{colour}\">{}</h2>\n<p>{}</p>\n<table>\n",
        escape(&title(event)),
        escape(&event.verdict.summary)
    );
    for (label, value) in rows(event) {
        let _ = writeln!(
            out,
            "<tr><th align=\"left\">{label}</th><td>{}</td></tr>",
            cell(label, &value)
        );
    }
    out.push_str("</table>\n");
    if let Some(evidence) = &event.evidence {
        let line = evidence_line(evidence.status, evidence.request_id.as_deref());
        let _ = writeln!(out, "<h3>{}</h3>\n<ul>", escape(&line));
        for (name, value) in &evidence.headers {
            let _ = writeln!(
                out,
                "<li><code>{}: {}</code></li>",
                escape(name),
                escape(value)
            );
        }
        if evidence.headers_dropped > 0 {
            let _ = writeln!(out, "<li>{}</li>", dropped(evidence.headers_dropped));
        }
        out.push_str("</ul>\n");
        if !evidence.body_excerpt.is_empty() {
            let _ = writeln!(out, "<pre>{}</pre>", escape(&evidence.body_excerpt));
        }
    }
    if !event.annotations.is_empty() {
        out.push_str("<h3>Changes in the hour before</h3>\n<ul>\n");
        for annotation in &event.annotations {
            let at = time(annotation.at);
            let _ = writeln!(out, "<li>{at} {}</li>", escape(&annotation.text));
        }
        out.push_str("</ul>\n");
    }
}

/// The HTML part: the facts of [`email_text`] as headings, a table and a
/// `<pre>` excerpt. Every string from a config, a probe or a peer is
/// escaped; links are made only of http(s) URLs.
pub fn email_html(events: &[AlertEvent]) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html><body>\n");
    if events.len() > 1 {
        let _ = writeln!(out, "<h1>{}</h1>", escape(&email_subject(events)));
    }
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push_str("<hr>\n");
        }
        event_html(event, &mut out);
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn subject_of_one_event() {
        assert_eq!(
            email_subject(&[fixture::firing()]),
            "[FIRING] shop-5xx: shop-edge http_502 (origin)"
        );
        assert_eq!(
            email_subject(&[fixture::resolved()]),
            "[RESOLVED] shop-5xx: shop-edge http_502 (origin)"
        );
    }

    #[test]
    fn subject_of_a_storm_counts_and_names_the_first_monitors() {
        let storm: Vec<AlertEvent> = (0..12)
            .map(|i| {
                let mut event = if i == 1 {
                    fixture::bare()
                } else {
                    fixture::firing()
                };
                event.monitor.name = format!("{}-{i}", event.monitor.name);
                event
            })
            .collect();
        assert_eq!(
            email_subject(&storm),
            "[FIRING] 12 alerts: shop-edge-0 http_502, db-1 connect_refused, shop-edge-2 http_502 and 9 more"
        );
        let mixed = [fixture::firing(), fixture::resolved()];
        assert_eq!(
            email_subject(&mixed),
            "[FIRING] 2 alerts (1 resolved): shop-edge http_502, shop-edge http_502"
        );
        let resolved = [fixture::resolved(), fixture::resolved()];
        assert!(email_subject(&resolved).starts_with("[RESOLVED] 2 alerts: "));
    }

    #[test]
    fn text_part_of_a_firing_event() {
        let expected = "\
[FIRING] shop-5xx: shop-edge http_502 (origin)
origin shop-origin refuses connections; the gateway answers 502

Alert:        shop-5xx (critical)
Monitor:      shop-edge (group Shop)
Target:       https://shop.example.com/health
Cause:        http_502
Responder:    gateway (nginx)
Hop at fault: origin
Value:        0.12 (threshold 0.05)
Started:      2026-01-02T03:04:05.678Z
Incident:     inc-42
Link:         https://status.example.com/incidents/inc-42
Runbook:      https://wiki.example.com/shop-502

Evidence: HTTP 502, request id req-7
  server: nginx
  ---
  | <html>502 Bad Gateway</html>

Changes in the hour before:
  2026-01-02T02:54:05.678Z deploy v1.4.2
";
        assert_eq!(email_text(&[fixture::firing()]), expected);
    }

    #[test]
    fn text_part_of_a_resolved_bare_event() {
        let mut event = fixture::bare();
        event.kind = EventKind::Resolved;
        event.resolved_at = fixture::resolved().resolved_at;
        let expected = "\
[RESOLVED] db-down: db connect_refused (network)
db refuses connections

Alert:        db-down (warning)
Monitor:      db
Cause:        connect_refused
Hop at fault: network
Started:      2026-01-02T03:04:05.678Z
Resolved:     2026-01-02T03:14:05.678Z
Incident:     inc-43
";
        assert_eq!(email_text(&[event]), expected);
    }

    #[test]
    fn grouped_text_starts_with_the_subject_and_separates_events() {
        let text = email_text(&[fixture::firing(), fixture::bare()]);
        assert!(text.starts_with("[FIRING] 2 alerts: shop-edge http_502, db connect_refused\n\n"));
        assert_eq!(
            text.matches("\n----------------------------------------\n")
                .count(),
            1
        );
        assert!(text.contains("[FIRING] db-down: db connect_refused (network)\n"));
    }

    #[test]
    fn html_part_escapes_every_user_string() {
        let mut event = fixture::firing();
        let script = "<script>alert('x')</script>";
        event.verdict.summary = script.into();
        event.monitor.group = Some(script.into());
        event.annotations[0].text = script.into();
        let evidence = event.evidence.as_mut().expect("fixture has evidence");
        evidence.body_excerpt = script.into();
        evidence.headers.insert("x-evil".into(), script.into());
        evidence.request_id = Some(script.into());
        event.runbook = Some("javascript:alert(1)".into());
        event.url = Some("https://status.example.com/incidents/\"><script>".into());
        let html = email_html(&[event]);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("href=\"javascript:"), "{html}");
        assert_eq!(
            html.matches("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;")
                .count(),
            6,
            "{html}"
        );
        assert!(html.contains(
            "<a href=\"https://status.example.com/incidents/&quot;&gt;&lt;script&gt;\">"
        ));
    }

    #[test]
    fn headers_left_out_at_capture_are_counted_in_both_parts() {
        let mut event = fixture::firing();
        event.evidence.as_mut().expect("evidence").headers_dropped = 36;
        let text = email_text(std::slice::from_ref(&event));
        assert!(
            text.contains("  server: nginx\n  (36 more headers not kept)\n"),
            "{text}"
        );
        let html = email_html(&[event]);
        assert!(
            html.contains("<li>36 more headers not kept</li>\n</ul>"),
            "{html}"
        );
    }

    #[test]
    fn both_parts_name_the_failing_and_passing_regions_of_a_regional_event() {
        let mut event = fixture::firing();
        event.regions.failing = vec!["eu-west".into(), "us-east".into()];
        event.regions.passing = Vec::new();
        let text = email_text(std::slice::from_ref(&event));
        assert!(text.contains("Failing in:   eu-west, us-east\n"), "{text}");
        assert!(text.contains("Passing in:   none\n"), "{text}");
        assert!(email_html(&[event]).contains("eu-west, us-east"));
        // One region: nothing about regions.
        assert!(!email_text(&[fixture::firing()]).contains("Failing in"));
    }

    #[test]
    fn html_part_carries_the_same_facts() {
        let html = email_html(&[fixture::firing()]);
        for fact in [
            "[FIRING] shop-5xx: shop-edge http_502 (origin)",
            "origin shop-origin refuses connections; the gateway answers 502",
            "<tr><th align=\"left\">Value</th><td>0.12 (threshold 0.05)</td></tr>",
            "<tr><th align=\"left\">Responder</th><td>gateway (nginx)</td></tr>",
            "Evidence: HTTP 502, request id req-7",
            "<pre>&lt;html&gt;502 Bad Gateway&lt;/html&gt;</pre>",
            "2026-01-02T02:54:05.678Z deploy v1.4.2",
            "<a href=\"https://wiki.example.com/shop-502\">",
        ] {
            assert!(html.contains(fact), "missing {fact:?} in\n{html}");
        }
    }
}
