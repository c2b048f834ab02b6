//! Pieces shared by the pages: the state badge (a word and a shape, never
//! colour alone), times, verdicts and the incident summary card.

use std::time::SystemTime;

use maud::{Markup, html};

use super::format;
use super::links::Links;
use crate::incident::{Incident, IncidentState};
use crate::monitor::{Hop, MonitorState, Responder, Role, Verdict};

/// Body text shown in a list before "more on the incident page".
const EXCERPT_CHARS: usize = 400;

/// A monitor state: `up`, `degraded`, `down`, `maintenance` or `unknown`,
/// as a shape and the word; the class only adds colour.
pub fn state_badge(state: MonitorState) -> Markup {
    let shape = match state {
        MonitorState::Up => "✓",
        MonitorState::Degraded => "▲",
        MonitorState::Down => "✕",
        MonitorState::Maintenance => "◆",
        MonitorState::Unknown => "?",
    };
    let state = state.as_str();
    html! {
        span class={ "state s-" (state) } {
            span.shape aria-hidden="true" { (shape) } " " (state)
        }
    }
}

/// A time with its machine-readable form, and "(5 min ago)" when `now` is given.
pub fn time(at: SystemTime, now: Option<SystemTime>) -> Markup {
    html! {
        time datetime=(format::rfc3339(at)) { (format::utc(at)) }
        @if let Some(now) = now { " (" (format::ago(at, now)) ")" }
    }
}

/// The hop at fault (none for a healthy check) and the one-line summary.
pub fn verdict(verdict: &Verdict) -> Markup {
    html! {
        @if verdict.hop != Hop::None {
            span class={ "hop hop-" (verdict.hop.as_str()) } { (verdict.hop.as_str()) } " "
        }
        (verdict.summary)
    }
}

/// Who answered: `the gateway (nginx)`, `the origin`, `an unidentified server`.
pub fn responder(responder: &Responder) -> Markup {
    html! {
        @match (responder.role, &responder.product) {
            (Role::Unknown, Some(product)) => (product),
            (Role::Unknown, None) => "an unidentified server",
            (role, product) => {
                "the " (role.as_str())
                @if let Some(product) = product { " (" (product) ")" }
            }
        }
    }
}

/// A link only for http(s) URLs: a `javascript:` URL in a config must not
/// become a clickable script, escaped or not.
pub fn web_link(url: &str) -> Markup {
    let url = crate::mask::url(url);
    html! {
        @if url.starts_with("https://") || url.starts_with("http://") {
            a href=(url) rel="noopener noreferrer nofollow" { (url) }
        } @else {
            code { (url) }
        }
    }
}

/// The first `chars` characters of `text`, with an ellipsis when cut.
pub fn excerpt(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A monitor whose incident is folded into the one on a card: a hop the
/// root cause takes down with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected<'a> {
    /// The monitor's name.
    pub name: &'a str,
    /// Its title.
    pub title: &'a str,
    /// Its incident resolved while the card's is still open.
    pub recovered: bool,
}

/// An incident in a list: alert, monitor, the monitors it affects (their
/// incidents are folded into it), verdict, cause, times and a folded
/// evidence excerpt; the full record is on its own page.
pub fn incident_card(
    incident: &Incident,
    monitor_title: &str,
    affected: &[Affected],
    links: &Links,
    now: SystemTime,
) -> Markup {
    let open = incident.state == IncidentState::Open;
    html! {
        article class={ "incident sev-" (incident.severity.as_str()) @if !open { " resolved" } } {
            h3 {
                a href=(links.incident(&incident.id)) { (incident.alert) }
                " · "
                a href=(links.monitor(&incident.monitor)) { (monitor_title) }
            }
            p.meta {
                span.sev { (incident.severity.as_str()) } " · "
                @if open {
                    "open since " (time(incident.started_at, Some(now)))
                } @else if let Some(resolved) = incident.resolved_at {
                    "resolved " (time(resolved, Some(now)))
                    ", lasted " (format::span(resolved.duration_since(incident.started_at).unwrap_or_default()))
                }
                @if incident.acknowledged { " · acknowledged" }
                @if let Some(into) = incident.folded_into.as_deref().filter(|i| !i.starts_with("monitor:")) {
                    " · part of " a href=(links.incident(into)) { "the upstream's incident" }
                }
            }
            @if !affected.is_empty() {
                p.affects {
                    "Also affects: "
                    @for (i, hop) in affected.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(links.monitor(hop.name)) { (hop.title) }
                        @if hop.recovered { " (recovered)" }
                    }
                }
            }
            p.verdict { (verdict(&incident.verdict)) }
            p.cause { "Cause " code { (incident.cause.as_str()) }
                @if let Some(who) = &incident.responder { ", answered by " (responder(who)) }
            }
            @if let Some(evidence) = &incident.evidence
                && !evidence.body_excerpt.is_empty()
            {
                details {
                    summary { "Evidence" @if let Some(status) = evidence.status { " (HTTP " (status) ")" } }
                    pre { (excerpt(&evidence.body_excerpt, EXCERPT_CHARS)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_on_character_boundaries() {
        assert_eq!(excerpt("héllo", 2), "hé…");
        assert_eq!(excerpt("hi", 5), "hi");
    }

    #[test]
    fn only_web_urls_become_links_and_secrets_are_masked() {
        let link = web_link("https://u:p@example.com/?token=abc").into_string();
        assert!(
            link.starts_with("<a href=\"https://***@example.com/?token=***\""),
            "{link}"
        );
        let script = web_link("javascript:alert(1)").into_string();
        assert!(!script.contains("href"), "{script}");
    }
}
