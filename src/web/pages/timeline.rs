//! An incident's timeline on its page: opened, each message to a notifier
//! and how its delivery went, the hops folded into it, acknowledged and
//! resolved, in the order they happened.

use std::time::SystemTime;

use maud::{Markup, html};

use super::components::time;
use super::format;
use super::links::Links;
use crate::incident::{EventKind, Incident};
use crate::store::incidents::{DeliveryState, IncidentActivity, IncidentMessage};

/// One thing that happened to an incident.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step<'a> {
    /// The alert fired.
    Opened,
    /// A message was queued for a notifier; `repeat` for a firing message
    /// after the first one to the same notifier.
    Message {
        /// The message.
        message: &'a IncidentMessage,
        /// A repeat of the firing message.
        repeat: bool,
    },
    /// Another monitor's incident folded into this one.
    Folded(&'a Incident),
    /// A folded monitor's incident resolved.
    FoldedResolved(&'a Incident),
    /// Someone acknowledged it. The store keeps no time for it.
    Acknowledged,
    /// The condition stopped holding.
    Resolved,
}

/// A step and when it happened (`None`: not recorded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry<'a> {
    /// When.
    pub at: Option<SystemTime>,
    /// What.
    pub step: Step<'a>,
}

/// The steps of `incident`, oldest first. Steps at the same time keep the
/// order they happen in (opened before its messages). The acknowledgement
/// has no time of its own: it is put last, before the resolution if any.
pub fn entries<'a>(incident: &'a Incident, activity: &'a IncidentActivity) -> Vec<Entry<'a>> {
    let mut entries = vec![Entry {
        at: Some(incident.started_at),
        step: Step::Opened,
    }];
    for folded in &activity.folded {
        // An edge whose alert fired first waited for this incident, and
        // folded into it when it opened.
        entries.push(Entry {
            at: Some(folded.started_at.max(incident.started_at)),
            step: Step::Folded(folded),
        });
    }
    let mut fired: Vec<&str> = Vec::new();
    for message in &activity.messages {
        let repeat =
            message.kind == EventKind::Firing && fired.contains(&message.notifier.as_str());
        if message.kind == EventKind::Firing {
            fired.push(&message.notifier);
        }
        entries.push(Entry {
            at: Some(message.queued_at),
            step: Step::Message { message, repeat },
        });
    }
    for folded in &activity.folded {
        if let Some(at) = folded.resolved_at {
            entries.push(Entry {
                at: Some(at),
                step: Step::FoldedResolved(folded),
            });
        }
    }
    if let Some(at) = incident.resolved_at {
        entries.push(Entry {
            at: Some(at),
            step: Step::Resolved,
        });
    }
    // Stable: equal times keep the order above.
    entries.sort_by_key(|e| e.at);
    if incident.acknowledged {
        let at = entries
            .iter()
            .position(|e| e.step == Step::Resolved)
            .unwrap_or(entries.len());
        entries.insert(
            at,
            Entry {
                at: None,
                step: Step::Acknowledged,
            },
        );
    }
    entries
}

/// The timeline section; `title` gives a monitor's title from its name.
pub fn section(
    incident: &Incident,
    activity: &IncidentActivity,
    title: &dyn Fn(&str) -> String,
    links: &Links,
) -> Markup {
    html! {
        section aria-labelledby="timeline-h" {
            h2 #timeline-h { "Timeline" }
            ol.timeline {
                @for entry in entries(incident, activity) {
                    li {
                        span.when {
                            @match entry.at {
                                Some(at) => (time(at, None)),
                                None => "time not recorded",
                            }
                        }
                        " "
                        (step(incident, entry.step, title, links))
                    }
                }
            }
        }
    }
}

fn step(incident: &Incident, step: Step, title: &dyn Fn(&str) -> String, links: &Links) -> Markup {
    html! {
        @match step {
            Step::Opened => {
                "Opened: " (incident.alert) " fired, cause " code { (incident.cause.as_str()) }
                @if incident.folded_into.is_some() { "; folded, so it sends no messages of its own" }
            }
            Step::Message { message, repeat } => (message_step(message, repeat)),
            Step::Folded(folded) => {
                a href=(links.monitor(&folded.monitor)) { (title(&folded.monitor)) }
                " failed too, because of this: "
                a href=(links.incident(&folded.id)) { "its incident" }
                " is folded into this one"
            }
            Step::FoldedResolved(folded) => {
                a href=(links.monitor(&folded.monitor)) { (title(&folded.monitor)) } " recovered"
            }
            Step::Acknowledged => "Acknowledged: no more repeat messages",
            Step::Resolved => {
                "Resolved"
                @if let Some(at) = incident.resolved_at {
                    ", after " (format::span(at.duration_since(incident.started_at).unwrap_or_default()))
                }
            }
        }
    }
}

/// "Firing message to ops: delivered 12:00:03 UTC", "... retrying: 3
/// tries failed, next try ...". The receiver's error is not shown: it can
/// quote a notifier's URL, and this page is public.
fn message_step(message: &IncidentMessage, repeat: bool) -> Markup {
    let what = match (message.kind, repeat) {
        (EventKind::Firing, false) => "Firing message",
        (EventKind::Firing, true) => "Repeat message",
        (EventKind::Resolved, _) => "Resolved message",
        // Announcements name no incident; listed only for completeness.
        (EventKind::MaintenanceStarted | EventKind::MaintenanceEnded, _) => "Maintenance message",
    };
    let tries = |n: u32| {
        if n == 1 {
            "1 try".to_owned()
        } else {
            format!("{n} tries")
        }
    };
    html! {
        (what) " to " strong { (message.notifier) } ": "
        @match message.state {
            DeliveryState::Sent => {
                span.t-sent { "delivered" }
                @if message.attempts > 1 { " on try " (message.attempts) }
                " " (time(message.try_at, None))
            }
            DeliveryState::Pending if message.attempts == 0 => span.t-queued { "queued, not sent yet" },
            DeliveryState::Pending => {
                span.t-retry { "retrying" } ", " (tries(message.attempts)) " failed, next try "
                (time(message.try_at, None))
            }
            DeliveryState::Failed => {
                span.t-failed { "failed" } ", given up after " (tries(message.attempts))
            }
        }
        @if message.grouped_with > 0 {
            " (one message with " (message.grouped_with) " other incidents' events)"
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::incident::{IncidentState, Severity};
    use crate::monitor::{Cause, Hop, Verdict};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn incident(id: &str, monitor: &str, started: u64, resolved: Option<u64>) -> Incident {
        Incident {
            id: id.into(),
            alert: "shop-down".into(),
            monitor: monitor.into(),
            severity: Severity::Critical,
            state: if resolved.is_some() {
                IncidentState::Resolved
            } else {
                IncidentState::Open
            },
            cause: Cause::ConnectRefused,
            verdict: Verdict {
                hop: Hop::Origin,
                summary: String::new(),
            },
            responder: None,
            evidence: None,
            value: None,
            threshold: None,
            started_at: at(started),
            resolved_at: resolved.map(at),
            acknowledged: false,
            folded_into: None,
            annotations: Vec::new(),
            notified_at: None,
            regions: Default::default(),
        }
    }

    fn message(
        notifier: &str,
        kind: EventKind,
        state: DeliveryState,
        queued: u64,
    ) -> IncidentMessage {
        IncidentMessage {
            id: format!("{notifier}.{queued}"),
            notifier: notifier.into(),
            kind,
            grouped_with: 0,
            state,
            attempts: 1,
            queued_at: at(queued),
            try_at: at(queued),
        }
    }

    fn names(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e.step {
                Step::Opened => "opened".to_owned(),
                Step::Message { message, repeat } => format!(
                    "{} {}{}",
                    message.notifier,
                    message.kind.as_str(),
                    if repeat { " repeat" } else { "" }
                ),
                Step::Folded(i) => format!("folded {}", i.monitor),
                Step::FoldedResolved(i) => format!("recovered {}", i.monitor),
                Step::Acknowledged => "acknowledged".to_owned(),
                Step::Resolved => "resolved".to_owned(),
            })
            .collect()
    }

    #[test]
    fn steps_come_in_time_order_with_the_acknowledgement_before_the_resolution() {
        let mut root = incident("o", "origin", 0, Some(600));
        root.acknowledged = true;
        let activity = IncidentActivity {
            messages: vec![
                message("ops", EventKind::Firing, DeliveryState::Sent, 0),
                message("pager", EventKind::Firing, DeliveryState::Failed, 0),
                message("ops", EventKind::Firing, DeliveryState::Sent, 300),
                message("ops", EventKind::Resolved, DeliveryState::Pending, 601),
            ],
            folded: vec![
                incident("e", "edge", 2, Some(599)),
                incident("c", "cdn", 0, None),
            ],
        };
        assert_eq!(
            names(&entries(&root, &activity)),
            [
                "opened",
                "folded cdn",
                "ops firing",
                "pager firing",
                "folded edge",
                "ops firing repeat",
                "recovered edge",
                "acknowledged",
                "resolved",
                "ops resolved",
            ]
        );
    }

    #[test]
    fn an_open_acknowledged_incident_ends_with_the_acknowledgement() {
        let mut open = incident("o", "origin", 0, None);
        open.acknowledged = true;
        let activity = IncidentActivity::default();
        assert_eq!(
            names(&entries(&open, &activity)),
            ["opened", "acknowledged"]
        );
    }

    #[test]
    fn messages_say_how_delivery_went_without_the_receivers_error() {
        let mut retrying = message("pager", EventKind::Firing, DeliveryState::Pending, 0);
        retrying.attempts = 3;
        retrying.try_at = at(60);
        let text = message_step(&retrying, false).into_string();
        assert!(
            text.starts_with("Firing message to <strong>pager</strong>: "),
            "{text}"
        );
        assert!(
            text.contains("retrying</span>, 3 tries failed, next try <time"),
            "{text}"
        );
        let mut failed = retrying.clone();
        failed.state = DeliveryState::Failed;
        let text = message_step(&failed, true).into_string();
        assert!(text.starts_with("Repeat message"), "{text}");
        assert!(
            text.contains("failed</span>, given up after 3 tries"),
            "{text}"
        );
        let sent = message("ops", EventKind::Resolved, DeliveryState::Sent, 0);
        let text = message_step(&sent, false).into_string();
        assert!(text.contains("delivered</span> <time"), "{text}");
    }
}
