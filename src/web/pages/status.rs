//! `GET /` and `GET /p/{slug}`: the overall banner, open incidents (a card
//! per root cause), every monitor of the page by group with its state,
//! latency, uptimes and 90-day bar (past [`FOLD_ABOVE`] monitors, a summary
//! line per group instead), and recently resolved incidents; open status
//! reports of the page at the top, resolved ones with the incidents, then
//! its scheduled maintenance.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};

use super::components::{Affected, incident_card, state_badge, time};
use super::groups::{self, Fold, Group, Member};
use super::layout::{self, Refresh};
use super::links::Links;
use super::roots::{self, Card};
use super::subscribe;
use super::{Context, PageError, bars, format, maintenance, no_page, reports, title_of};
use crate::config::MonitorConfig;
use crate::incident::{Incident, IncidentState};
use crate::monitor::{MonitorState, overall};
use crate::store::history::DAYS;
use crate::web::AppState;
use crate::web::access::Credentials;

/// How far back resolved incidents are listed.
const RESOLVED_WINDOW: Duration = Duration::from_secs(14 * 86_400);
/// At most this many incidents of each kind are listed.
const MAX_INCIDENTS: u32 = 50;
/// Past this many monitors each group folds into one summary line: the
/// page of 2,000 monitors with a row and a bar each was 2.7 MB.
pub const FOLD_ABOVE: usize = 50;
/// At most this many monitors of a folded page get their 90-day bar, so a
/// wide outage cannot bring the page's size back.
const MAX_FOLDED_BARS: usize = 50;

/// The banner's shape and heading for an overall state.
fn headline(overall: &str) -> (&'static str, &'static str) {
    match overall {
        "outage" => ("✕", "Major outage"),
        "degraded" => ("▲", "Some systems are degraded"),
        "maintenance" => ("◆", "Maintenance in progress"),
        _ => ("✓", "All systems operational"),
    }
}

/// `GET /`: the page with slug `""`, or every public monitor when
/// `pages:` defines none.
pub async fn root(
    State(state): State<AppState>,
    credentials: Credentials,
) -> Result<Response, PageError> {
    serve(&state, "", &credentials).await
}

/// `GET /p/{slug}`; a private page only with its key or cookie, else the
/// 404 of a page that does not exist.
pub async fn named(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    credentials: Credentials,
) -> Result<Response, PageError> {
    // `""` is `/`, never `/p/`.
    if slug.is_empty() {
        return Err(no_page());
    }
    serve(&state, &slug, &credentials).await
}

async fn serve(
    state: &AppState,
    slug: &str,
    credentials: &Credentials,
) -> Result<Response, PageError> {
    let config = state.config();
    let context = Context::page(&config.config, slug, credentials)?;
    let markup = render(state, &context, slug).await?;
    Ok(context.finish(markup, &config.config))
}

/// One status page, `slug`: the monitors of `context.scope`, their
/// incidents and the page's reports.
async fn render(state: &AppState, context: &Context, slug: &str) -> Result<Markup, PageError> {
    let config = state.config();
    let site = &context.site;
    let links = &context.links;
    let now = SystemTime::now();
    let open = state
        .store
        .incidents(Some(IncidentState::Open), MAX_INCIDENTS)
        .await?;
    let resolved = state
        .store
        .incidents(Some(IncidentState::Resolved), MAX_INCIDENTS)
        .await?;
    // Who each listed incident belongs to, so that a shown incident folded
    // into a hidden monitor's does not point at it.
    let owners: HashMap<String, String> = open
        .iter()
        .chain(&resolved)
        .map(|i| (i.id.clone(), i.monitor.clone()))
        .collect();
    let owner = |id: &str| owners.get(id).cloned();
    let visible = |list: Vec<Incident>| -> Vec<Incident> {
        list.into_iter()
            .filter(|i| context.scope.shows(&i.monitor))
            .map(|mut i| {
                context.scope.hide_root(&mut i, &owner);
                context.evidence.incident(i)
            })
            .collect()
    };
    let open = visible(open);
    // The reports of this page: those naming it or one of its monitors,
    // and those naming nothing, which concern every page.
    let (open_reports, resolved_reports) = reports::recent(state, RESOLVED_WINDOW, now).await?;
    let concerns = |list: Vec<crate::incident::Report>| -> Vec<crate::incident::Report> {
        list.into_iter()
            .filter(|r| r.concerns(slug, |m| context.scope.shows(m)))
            .collect()
    };
    let (open_reports, resolved_reports) = (concerns(open_reports), concerns(resolved_reports));
    let resolved = visible(
        resolved
            .into_iter()
            .filter(|i| i.resolved_at.is_some_and(|at| at + RESOLVED_WINDOW >= now))
            .collect(),
    );
    let monitors: Vec<&MonitorConfig> = config
        .config
        .monitors
        .iter()
        .filter(|m| context.scope.shows(&m.name))
        .collect();
    let states: Vec<MonitorState> = monitors.iter().map(|m| state.live.state(&m.name)).collect();
    let overall = overall(states.iter().copied()).as_str();
    let titles: HashMap<&str, &str> = monitors
        .iter()
        .map(|m| (m.name.as_str(), title_of(m)))
        .collect();
    let title = |name: &str| titles.get(name).copied().unwrap_or(name).to_owned();
    let groups = groups::by_group(
        monitors
            .iter()
            .zip(&states)
            .map(|(&monitor, &state)| Member { monitor, state }),
    );
    let fold = monitors.len() > FOLD_ABOVE;
    let shown: Vec<&Incident> = open.iter().chain(&resolved).collect();
    let open_cards = roots::cards(&open, &shown);
    let resolved_cards = roots::cards(&resolved, &shown);
    let render = |card: &Card| {
        let mut affected: Vec<Affected> = Vec::new();
        for folded in &card.folded {
            let recovered = folded.state == IncidentState::Resolved
                && card.incident.state == IncidentState::Open;
            // One name per monitor, though several of its alerts may fold.
            match affected.iter_mut().find(|a| a.name == folded.monitor) {
                Some(seen) => seen.recovered &= recovered,
                None => affected.push(Affected {
                    name: &folded.monitor,
                    title: titles
                        .get(folded.monitor.as_str())
                        .copied()
                        .unwrap_or(&folded.monitor),
                    recovered,
                }),
            }
        }
        incident_card(
            card.incident,
            &title(&card.incident.monitor),
            &affected,
            links,
            now,
        )
    };

    let report_card = |report: &crate::incident::Report| {
        reports::card(report, &context.scope, &title, links, now)
    };
    // The scope is this page's monitors, so a window shows on the pages
    // whose monitors it covers.
    let notices = maintenance::notices(state, &context.scope, &|_| true, now);

    let body = html! {
        section class={ "banner o-" (overall) } aria-live="polite" {
            @let (shape, text) = headline(overall);
            h1 { span.shape aria-hidden="true" { (shape) } " " (text) }
            p { "Updated " (time(now, None)) }
        }
        @if !open_reports.is_empty() {
            section aria-labelledby="reports-h" {
                h2 #reports-h { "Status reports" }
                @for report in &open_reports { (report_card(report)) }
            }
        }
        (maintenance::section(&notices, now))
        @if !open_cards.is_empty() {
            section aria-labelledby="open-h" {
                h2 #open-h { "Open incidents" }
                @for card in &open_cards { (render(card)) }
            }
        }
        @if fold {
            (folded(state, links, &groups, now))
        } @else {
            @for group in &groups {
                section.group aria-label=(group.name) {
                    h2 { (group.name) }
                    @for member in &group.members { (row(state, links, member.monitor, member.state, now)) }
                }
            }
        }
        section aria-labelledby="resolved-h" {
            h2 #resolved-h { "Resolved in the last 14 days" }
            @if resolved_cards.is_empty() && resolved_reports.is_empty() {
                p.empty { "No incidents." }
            }
            @for report in &resolved_reports { (report_card(report)) }
            @for card in &resolved_cards { (render(card)) }
        }
        (subscribe::form(&config.config, slug, context.private))
    };
    Ok(layout::page_under(
        links.home(),
        site,
        None,
        Refresh::Live,
        body,
    ))
}

/// The groups of a page past [`FOLD_ABOVE`] monitors: each a `<details>`
/// whose summary line says how the group is doing, open when something in
/// it is down or degraded. Inside, the down and degraded monitors come
/// first as full rows with their 90-day bars (at most [`MAX_FOLDED_BARS`]
/// on the page), then every other monitor as a light row without a bar:
/// its bar is one click away on its own page, and a healthy crowd's bars
/// were nearly all of the page's bytes.
fn folded(state: &AppState, links: &Links, groups: &[Group], now: SystemTime) -> Markup {
    let split = groups::split(groups, MAX_FOLDED_BARS);
    html! {
        @for (group, Fold { open, full, light }) in groups.iter().zip(&split) {
            details.group.fold open[*open] {
                (groups::summary(group, links))
                @for member in full { (row(state, links, member.monitor, member.state, now)) }
                (light_list(state, links, light, now))
            }
        }
    }
}

/// Monitors as light rows: title, state and 30-day uptime, no bar.
fn light_list(state: &AppState, links: &Links, members: &[&Member], now: SystemTime) -> Markup {
    let day = crate::clock::day_of(crate::clock::unix_ms(now));
    html! {
        @if !members.is_empty() {
            ul.lite {
                @for member in members {
                    @let uptime = state
                        .monitor_id(&member.monitor.name)
                        .and_then(|id| state.history.last_days(id, day, 30).uptime());
                    li {
                        a href=(links.monitor(&member.monitor.name)) { (title_of(member.monitor)) }
                        " " (state_badge(member.state))
                        " " span.fig { "30 d " (format::pct(uptime)) }
                    }
                }
            }
        }
    }
}

/// One monitor: title, state, last latency, uptimes and the 90-day bar.
fn row(
    state: &AppState,
    links: &Links,
    monitor: &MonitorConfig,
    monitor_state: MonitorState,
    now: SystemTime,
) -> Markup {
    let now_ms = crate::clock::unix_ms(now);
    let (hour, day) = (crate::clock::hour_of(now_ms), crate::clock::day_of(now_ms));
    let latest = state.live.latest(&monitor.name);
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
                h3 { a href=(links.monitor(&monitor.name)) { (title_of(monitor)) } }
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
