//! Scheduled maintenance on the pages: a card per window the reader may
//! see, from 7 days before it starts and while it runs, styled as the
//! status reports' cards. What shows when is `evaluate::notices`' rule.

use std::time::SystemTime;

use maud::{Markup, html};

use super::components::time;
use crate::config::MonitorConfig;
use crate::evaluate::notices::Occurrence;
use crate::web::AppState;
use crate::web::access::Scope;

/// A window a reader may see, with what it covers as they may see it.
pub struct Notice {
    /// The occurrence shown.
    pub occurrence: Occurrence,
    /// The groups and monitor titles it covers that the reader may see.
    pub covers: Vec<String>,
}

/// The windows shown at `now` that concern a monitor `concerns` accepts
/// and `scope` shows. A window covering only monitors the reader may not
/// see is left out whole, so its existence tells nothing.
pub fn notices(
    state: &AppState,
    scope: &Scope,
    concerns: &dyn Fn(&str) -> bool,
    now: SystemTime,
) -> Vec<Notice> {
    let setup = state.live.setup();
    visible(
        setup.maintenance.shown(now),
        &setup.config.config.monitors,
        &|name| scope.shows(name) && concerns(name),
    )
}

/// The occurrences of `shown` covering a monitor `sees` accepts.
pub fn visible(
    shown: Vec<Occurrence>,
    monitors: &[MonitorConfig],
    sees: &dyn Fn(&str) -> bool,
) -> Vec<Notice> {
    shown
        .into_iter()
        .filter_map(|occurrence| {
            let covers = occurrence.covers(monitors, sees);
            (!covers.is_empty()).then_some(Notice { occurrence, covers })
        })
        .collect()
}

/// `Scheduled: 2026-12-01 02:00-03:00 UTC, Shop`, or `Maintenance in
/// progress until 03:00 UTC, Shop`.
pub fn headline(notice: &Notice, now: SystemTime) -> String {
    format!(
        "{}, {}",
        notice.occurrence.headline(now),
        notice.covers.join(", ")
    )
}

/// The section of a page listing `notices`; nothing when there are none.
pub fn section(notices: &[Notice], now: SystemTime) -> Markup {
    html! {
        @if !notices.is_empty() {
            section aria-labelledby="maintenance-h" {
                h2 #maintenance-h { "Scheduled maintenance" }
                @for notice in notices { (card(notice, now)) }
            }
        }
    }
}

/// One window as a card: the headline, which names what it covers (maud
/// escapes every title), and when it started or starts.
fn card(notice: &Notice, now: SystemTime) -> Markup {
    let occurrence = &notice.occurrence;
    let running = occurrence.in_progress(now);
    html! {
        article class={ "report maintenance" @if running { " running" } } id=(occurrence.id) {
            h3 { (headline(notice, now)) }
            p.meta {
                span.rstatus { @if running { "In progress" } @else { "Scheduled" } }
                " · "
                @if running {
                    "started " (time(occurrence.start, Some(now)))
                } @else {
                    "starts " (time(occurrence.start, None))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn titles_are_escaped_and_the_state_is_named() {
        let start = humantime::parse_rfc3339("2026-12-01T02:00:00Z").unwrap();
        let notice = Notice {
            occurrence: Occurrence {
                id: "maintenance-1-2".to_owned(),
                start,
                end: start + Duration::from_secs(3600),
                monitors: vec!["db".to_owned()],
                selectors: vec!["db".to_owned()],
                notify: Vec::new(),
            },
            covers: vec!["<script>x</script>".to_owned()],
        };
        let before = section(
            std::slice::from_ref(&notice),
            start - Duration::from_secs(60),
        )
        .into_string();
        assert!(
            before
                .contains("Scheduled: 2026-12-01 02:00-03:00 UTC, &lt;script&gt;x&lt;/script&gt;"),
            "{before}"
        );
        assert!(!before.contains("<script>"), "{before}");
        let during = section(&[notice], start + Duration::from_secs(60)).into_string();
        assert!(
            during.contains("Maintenance in progress until 03:00 UTC, &lt;script&gt;"),
            "{during}"
        );
        assert!(during.contains("report maintenance running"), "{during}");
    }
}
