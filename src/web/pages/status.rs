//! `GET /`: the overall banner, open incidents, every monitor by group with
//! its state, latency, uptimes and 90-day bar, and recently resolved incidents.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use maud::{Markup, html};

use super::components::{incident_card, state_badge, time};
use super::layout::{self, Refresh};
use super::{PageError, bars, format, site_title, title_of};
use crate::config::MonitorConfig;
use crate::store::history::DAYS;
use crate::store::incidents::{Incident, IncidentState};
use crate::web::{AppState, EvidenceView};

/// How far back resolved incidents are listed.
const RESOLVED_WINDOW: Duration = Duration::from_secs(14 * 86_400);
/// At most this many incidents of each kind are listed.
const MAX_INCIDENTS: u32 = 50;
/// Monitors without a group are listed under this heading, last.
const UNGROUPED: &str = "Other";

/// The page's overall state from the monitors' states. Half or more of the
/// judged monitors down is an outage and anything short of all up is
/// degraded (the rule of `/api/v1/status`); with none of that, a monitor in
/// maintenance makes the page say so.
pub fn overall<'a>(states: impl IntoIterator<Item = &'a str>) -> &'static str {
    let (mut down, mut degraded, mut judged, mut maintenance) = (0, 0, 0, 0);
    for state in states {
        match state {
            "down" => down += 1,
            "degraded" => degraded += 1,
            "maintenance" => maintenance += 1,
            _ => {}
        }
        judged += usize::from(matches!(state, "up" | "down" | "degraded"));
    }
    if judged > 0 && down * 2 >= judged {
        "outage"
    } else if down + degraded > 0 {
        "degraded"
    } else if maintenance > 0 {
        "maintenance"
    } else {
        "operational"
    }
}

/// The banner's shape and heading for an overall state.
fn headline(overall: &str) -> (&'static str, &'static str) {
    match overall {
        "outage" => ("✕", "Major outage"),
        "degraded" => ("▲", "Some systems are degraded"),
        "maintenance" => ("◆", "Maintenance in progress"),
        _ => ("✓", "All systems operational"),
    }
}

/// `GET /`.
pub async fn page(State(state): State<AppState>) -> Result<Markup, PageError> {
    let config = state.config();
    let site = site_title(&state);
    let now = SystemTime::now();
    let view = EvidenceView::visitor(&config.config.server);
    let open: Vec<Incident> = state
        .store
        .incidents(Some(IncidentState::Open), MAX_INCIDENTS)
        .await?
        .into_iter()
        .map(|i| view.incident(i))
        .collect();
    let resolved: Vec<Incident> = state
        .store
        .incidents(Some(IncidentState::Resolved), MAX_INCIDENTS)
        .await?
        .into_iter()
        .filter(|i| i.resolved_at.is_some_and(|at| at + RESOLVED_WINDOW >= now))
        .map(|i| view.incident(i))
        .collect();
    let monitors = &config.config.monitors;
    let states: Vec<&str> = monitors
        .iter()
        .map(|m| state.pipeline.state(&m.name))
        .collect();
    let overall = overall(states.iter().copied());
    let titles: HashMap<&str, &str> = monitors
        .iter()
        .map(|m| (m.name.as_str(), title_of(m)))
        .collect();
    let title = |name: &str| titles.get(name).copied().unwrap_or(name).to_owned();

    // Groups in the order they first appear in the config, ungrouped last.
    let mut groups: Vec<(&str, Vec<(&MonitorConfig, &str)>)> = Vec::new();
    for (monitor, monitor_state) in monitors.iter().zip(&states) {
        let name = monitor.group.as_deref().unwrap_or(UNGROUPED);
        match groups.iter_mut().find(|(group, _)| *group == name) {
            Some((_, members)) => members.push((monitor, monitor_state)),
            None => groups.push((name, vec![(monitor, monitor_state)])),
        }
    }
    if let Some(at) = groups.iter().position(|(name, _)| *name == UNGROUPED) {
        let other = groups.remove(at);
        groups.push(other);
    }

    let body = html! {
        section class={ "banner o-" (overall) } aria-live="polite" {
            @let (shape, text) = headline(overall);
            h1 { span.shape aria-hidden="true" { (shape) } " " (text) }
            p { "Updated " (time(now, None)) }
        }
        @if !open.is_empty() {
            section aria-labelledby="open-h" {
                h2 #open-h { "Open incidents" }
                @for incident in &open { (incident_card(incident, &title(&incident.monitor), now)) }
            }
        }
        @for (group, members) in &groups {
            section.group aria-label=(group) {
                h2 { (group) }
                @for (monitor, monitor_state) in members { (row(&state, monitor, monitor_state, now)) }
            }
        }
        section aria-labelledby="resolved-h" {
            h2 #resolved-h { "Resolved in the last 14 days" }
            @if resolved.is_empty() {
                p.empty { "No incidents." }
            }
            @for incident in &resolved { (incident_card(incident, &title(&incident.monitor), now)) }
        }
    };
    Ok(layout::page(&site, None, Refresh::Live, body))
}

/// One monitor: title, state, last latency, uptimes and the 90-day bar.
fn row(state: &AppState, monitor: &MonitorConfig, monitor_state: &str, now: SystemTime) -> Markup {
    let now_ms = crate::store::unix_ms(now);
    let (hour, day) = (crate::store::hour_of(now_ms), crate::store::day_of(now_ms));
    let latest = state.pipeline.latest(&monitor.name);
    let id = state.monitor_id(&monitor.name);
    let history = &state.history;
    let uptimes = id.map_or([None; 3], |id| {
        [
            history.last_hours(id, hour, 24).uptime(),
            history.last_days(id, day, 7).uptime(),
            history.last_days(id, day, 30).uptime(),
        ]
    });
    let days = id
        .map(|id| history.daily_bars(id, day, DAYS))
        .unwrap_or_default();
    html! {
        div.mon {
            div.mon-head {
                h3 { a href={ "/monitors/" (monitor.name) } { (title_of(monitor)) } }
                (state_badge(monitor_state))
            }
            dl.figs {
                div { dt { "Latency" } dd { (latest.map_or_else(|| "–".to_owned(), |r| format::ms(r.latency_ms))) } }
                @for (window, share) in ["24 h", "7 d", "30 d"].into_iter().zip(uptimes) {
                    div { dt { "Uptime " (window) } dd { (format::pct(share)) } }
                }
            }
            @if !days.is_empty() {
                (bars::daily(&days))
                p.axis aria-hidden="true" { span { (DAYS) " days ago" } span { "today" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::overall;

    #[test]
    fn the_banner_follows_the_api_rule_and_knows_maintenance() {
        assert_eq!(overall([]), "operational");
        assert_eq!(overall(["up", "up", "unknown"]), "operational");
        assert_eq!(overall(["up", "degraded"]), "degraded");
        assert_eq!(overall(["up", "up", "down"]), "degraded");
        assert_eq!(overall(["up", "down"]), "outage");
        assert_eq!(overall(["up", "maintenance"]), "maintenance");
        assert_eq!(overall(["down", "maintenance", "up"]), "outage");
    }
}
