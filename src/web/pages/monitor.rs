//! `GET /monitors/{name}` and `GET /p/{slug}/monitors/{name}`: one
//! monitor's state, target (secrets masked), its chain of hops, latency and
//! phase charts, recent checks and incidents, the status reports that
//! name it and the scheduled maintenance that covers it.

use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};

use super::components::{incident_card, state_badge, time, verdict, web_link};
use super::layout::{self, Refresh};
use super::links::Links;
use super::{Context, PageError, bars, charts, format, maintenance, reports, title_of};
use crate::config::{Config, MonitorConfig};
use crate::monitor::CheckResult;
use crate::monitor::MonitorKind;
use crate::store::history::{DAYS, HOURS};
use crate::web::AppState;
use crate::web::access::{Credentials, Scope};

/// Checks in the phase chart and the table.
const RECENT_CHECKS: u32 = 30;
/// Incidents scanned for this monitor's: the store lists all monitors'
/// (and reads each one's annotations), so the scan stays short.
const INCIDENTS_SCANNED: u32 = 50;
/// Incidents listed.
const INCIDENTS_SHOWN: usize = 20;
/// How far back resolved status reports naming the monitor are listed.
const REPORTS_WINDOW: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// `GET /monitors/{name}`; an unknown name is a 404 page, and so is a
/// monitor that only private pages show, unless `?key=` opens one of them.
pub async fn page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    credentials: Credentials,
) -> Result<Response, PageError> {
    let config = state.config();
    let context = Context::public(&config.config, &credentials);
    let markup = render(&state, &context, &name).await?;
    Ok(context.finish(markup, &config.config))
}

/// `GET /p/{slug}/monitors/{name}`: the monitor as its page shows it, for
/// the page's readers (a private page's cookie is scoped to its path).
pub async fn on_page(
    State(state): State<AppState>,
    Path((slug, name)): Path<(String, String)>,
    credentials: Credentials,
) -> Result<Response, PageError> {
    let config = state.config();
    let context = Context::page(&config.config, &slug, &credentials)?;
    let markup = render(&state, &context, &name).await?;
    Ok(context.finish(markup, &config.config))
}

async fn render(state: &AppState, context: &Context, name: &str) -> Result<Markup, PageError> {
    let config = state.config();
    let monitor = config
        .config
        .monitors
        .iter()
        .find(|m| m.name == name && context.scope.shows(&m.name))
        .ok_or_else(|| PageError::NotFound(format!("There is no monitor named “{name}”.")))?;
    let name = name.to_owned();
    let links = &context.links;
    let now = SystemTime::now();
    let now_ms = crate::clock::unix_ms(now);
    let (hour, day) = (crate::clock::hour_of(now_ms), crate::clock::day_of(now_ms));
    let id = state.monitor_id(&name);
    let (checks, hours, days) = match id {
        Some(id) => (
            state.store.checks(id, 0, RECENT_CHECKS).await?,
            state.store.hourly_latency(id, hour - HOURS + 1).await?,
            state.history.daily_bars(id, day, DAYS),
        ),
        None => Default::default(),
    };
    let view = context.evidence;
    let checks: Vec<CheckResult> = checks
        .into_iter()
        .map(|row| view.check(row.into_result(&name)))
        .collect();
    let scanned = state.store.incidents(None, INCIDENTS_SCANNED).await?;
    let owner = |id: &str| {
        scanned
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.monitor.clone())
    };
    let incidents: Vec<_> = scanned
        .iter()
        .filter(|i| i.monitor == name)
        .take(INCIDENTS_SHOWN)
        .map(|i| {
            let mut i = i.clone();
            context.scope.hide_root(&mut i, &owner);
            view.incident(i)
        })
        .collect();
    let uptimes = id.map_or([None; 3], |id| {
        [
            state.history.last_hours(id, hour, 24).uptime(),
            state.history.last_days(id, day, 7).uptime(),
            state.history.last_days(id, day, 30).uptime(),
        ]
    });
    let title = title_of(monitor);
    let (open_reports, resolved_reports) = reports::recent(state, REPORTS_WINDOW, now).await?;
    let names_it = |list: Vec<crate::incident::Report>| -> Vec<crate::incident::Report> {
        list.into_iter()
            .filter(|r| r.monitors.contains(&name))
            .collect()
    };
    let (open_reports, resolved_reports) = (names_it(open_reports), names_it(resolved_reports));
    let title_of_name = |other: &str| {
        config
            .config
            .monitors
            .iter()
            .find(|m| m.name == other)
            .map_or(other, title_of)
            .to_owned()
    };
    let report_card = |report: &crate::incident::Report| {
        reports::card(report, &context.scope, &title_of_name, links, now)
    };
    let notices = maintenance::notices(state, &context.scope, &|m| m == name, now);

    let body = html! {
        p.crumbs { a href=(links.home()) { "Status" } " / " (monitor.group.as_deref().unwrap_or("Other")) }
        div.mon-head {
            h1 { (title) }
            (state_badge(state.live.state(&name)))
        }
        dl.facts {
            dt { "Name" } dd { code { (monitor.name) } }
            dt { "Checks" } dd { (monitor.kind.as_str()) " " (target(monitor)) }
            @if let Some(interval) = monitor.interval {
                dt { "Every" } dd { (humantime::format_duration(interval)) }
            }
            @if let Some(last) = checks.first() {
                dt { "Last check" } dd { (time(last.at, Some(now))) ", " code { (last.cause.as_str()) } ", " (format::ms(last.latency_ms)) }
            }
            @if let Some(runbook) = &monitor.runbook {
                dt { "Runbook" } dd { (web_link(runbook)) }
            }
        }
        @if !open_reports.is_empty() {
            section aria-labelledby="reports-h" {
                h2 #reports-h { "Status reports" }
                @for report in &open_reports { (report_card(report)) }
            }
        }
        (maintenance::section(&notices, now))
        (hops(state, &config.config, monitor, &context.scope, links))
        section aria-labelledby="uptime-h" {
            h2 #uptime-h { "Uptime" }
            dl.figs {
                @for (window, share) in ["24 h", "7 d", "30 d"].into_iter().zip(uptimes) {
                    div { dt { (window) } dd { (format::pct(share)) } }
                }
            }
            @if !days.is_empty() { (bars::daily(&days)) }
        }
        section aria-labelledby="latency-h" {
            h2 #latency-h { "Latency, last 48 hours" }
            (charts::latency(&hours, hour - HOURS + 1, hour))
        }
        section aria-labelledby="phases-h" {
            h2 #phases-h { "Where the time goes, last " (checks.len()) " checks" }
            (charts::phases(&checks))
        }
        section aria-labelledby="checks-h" {
            h2 #checks-h { "Recent checks" }
            (checks_table(&checks))
        }
        section aria-labelledby="incidents-h" {
            h2 #incidents-h { "Incidents" }
            @if incidents.is_empty() && resolved_reports.is_empty() { p.empty { "No incidents." } }
            @for report in &resolved_reports { (report_card(report)) }
            @for incident in &incidents { (incident_card(incident, title, &[], links, now)) }
        }
    };
    Ok(layout::page_under(
        links.home(),
        &context.site,
        Some(title),
        Refresh::Live,
        body,
    ))
}

/// What the monitor checks, with credentials and tokens masked.
fn target(monitor: &MonitorConfig) -> Markup {
    html! {
        @match monitor.kind {
            MonitorKind::Http | MonitorKind::Websocket => code { (crate::mask::url(monitor.url.as_deref().unwrap_or(""))) },
            MonitorKind::Tcp | MonitorKind::Tls | MonitorKind::Grpc => code { (monitor.target.as_deref().unwrap_or("")) },
            MonitorKind::Dns => {
                code { (monitor.record.map_or("A", |r| record_name(r))) " " (monitor.query.as_deref().unwrap_or("")) }
                " via " (monitor.server.as_deref().unwrap_or("the system resolver"))
            }
            MonitorKind::Push => "heartbeats pushed to hopwatch",
            MonitorKind::Smtp => {
                code { (monitor.target.as_deref().unwrap_or("")) }
                @if monitor.starttls == Some(true) { " with STARTTLS" }
            }
            MonitorKind::Domain => { "registration of " code { (monitor.domain.as_deref().unwrap_or("")) } }
            MonitorKind::Icmp => {
                "ping " code { (monitor.target.as_deref().unwrap_or("")) }
            }
        }
    }
}

fn record_name(record: crate::monitor::RecordKind) -> &'static str {
    use crate::monitor::RecordKind;
    match record {
        RecordKind::A => "A",
        RecordKind::Aaaa => "AAAA",
        RecordKind::Cname => "CNAME",
        RecordKind::Mx => "MX",
        RecordKind::Txt => "TXT",
        RecordKind::Ns => "NS",
    }
}

/// This monitor, its upstream, the upstream's upstream...: the path a
/// request takes, each hop with its state; and the monitors in front of it.
/// Only hops the page may show: the chain ends before a private one.
fn hops(
    state: &AppState,
    config: &Config,
    monitor: &MonitorConfig,
    scope: &Scope,
    links: &Links,
) -> Markup {
    let mut chain = vec![monitor];
    while let Some(next) = chain.last().and_then(|m| m.upstream.as_deref()) {
        // A cycle or a dangling name ends the chain (validation should
        // prevent both; a page must not loop on a bad reload).
        match config.monitors.iter().find(|m| m.name == next) {
            Some(up) if !chain.iter().any(|m| m.name == up.name) && scope.shows(&up.name) => {
                chain.push(up)
            }
            _ => break,
        }
    }
    let fronts: Vec<&MonitorConfig> = config
        .monitors
        .iter()
        .filter(|m| m.upstream.as_deref() == Some(monitor.name.as_str()))
        .filter(|m| scope.shows(&m.name))
        .collect();
    if chain.len() == 1 && fronts.is_empty() {
        return html! {};
    }
    html! {
        section aria-labelledby="hops-h" {
            h2 #hops-h { "Hops" }
            @if chain.len() > 1 {
                ol.chain aria-label="From this monitor towards the origin" {
                    @for hop in &chain {
                        li {
                            @if hop.name == monitor.name { strong { (title_of(hop)) } }
                            @else { a href=(links.monitor(&hop.name)) { (title_of(hop)) } }
                            " " (state_badge(state.live.state(&hop.name)))
                        }
                    }
                }
            }
            @if !fronts.is_empty() {
                p { "In front of this one: "
                    @for (i, front) in fronts.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(links.monitor(&front.name)) { (title_of(front)) }
                        " " (state_badge(state.live.state(&front.name)))
                    }
                }
            }
        }
    }
}

/// The recent checks, newest first.
fn checks_table(checks: &[CheckResult]) -> Markup {
    if checks.is_empty() {
        return html! { p.empty { "No checks yet." } };
    }
    html! {
        div.scroll {
            table.checks {
                thead { tr { th scope="col" { "Time" } th scope="col" { "Cause" } th scope="col" { "Status" }
                    th scope="col" { "Latency" } th.verdict scope="col" { "Verdict" } } }
                tbody {
                    @for check in checks {
                        tr class=[(!check.ok).then_some("bad")] {
                            td { time datetime=(format::rfc3339(check.at)) { (format::rfc3339(check.at)[5..19].replace('T', " ")) } }
                            td { code { (check.cause.as_str()) } @if check.flaky == Some(true) { " (flaky)" } }
                            td { (check.status.map(|s| s.to_string()).unwrap_or_else(|| "–".to_owned())) }
                            td { (format::ms(check.latency_ms)) }
                            td.verdict { (verdict(&check.verdict)) }
                        }
                    }
                }
            }
        }
    }
}
