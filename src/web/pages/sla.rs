//! `GET /reports/YYYY-MM`: the month's SLA table, the same figures as
//! `hopwatch report --month` (uptime with degraded counted as up, the
//! estimated downtime and degraded time, incidents, p95), for the monitors
//! this reader may see.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};

use super::layout::{self, Refresh};
use super::{Context, PageError, title_of};
use crate::clock::{next_month, parse_month, short_duration, year_month};
use crate::config::MonitorConfig;
use crate::store::uptime::MonthLine;
use crate::web::AppState;
use crate::web::access::Credentials;

/// `GET /reports/{month}`.
pub async fn page(
    State(state): State<AppState>,
    Path(month): Path<String>,
    credentials: Credentials,
) -> Result<Response, PageError> {
    let Some((year, number)) = parse_month(&month) else {
        // The visitor's text is not echoed: the page says what it wants.
        return Err(PageError::NotFound(
            "That is not a month: use YYYY-MM, such as 2026-11.".to_owned(),
        ));
    };
    let config = state.config();
    let context = Context::public(&config.config, &credentials);
    let monitors: Vec<&MonitorConfig> = config
        .config
        .monitors
        .iter()
        .filter(|m| context.scope.shows(&m.name))
        .collect();
    let lines = state.store.month_report(&monitors, (year, number)).await?;
    let title = format!("Uptime report {month}");
    let body = html! {
        h1 { (title) }
        p.meta { "UTC. Degraded time (a certificate or domain about to expire, a slow answer) counts as up and is given apart. Times are estimated from the checks and each monitor's interval." }
        (months_nav(year, number))
        div.scroll {
            table.sla {
                thead {
                    tr {
                        th scope="col" { "Monitor" }
                        th scope="col" { "Uptime" }
                        th scope="col" { "Downtime" }
                        th scope="col" { "Degraded" }
                        th scope="col" { "Incidents" }
                        th scope="col" { "p95" }
                    }
                }
                tbody {
                    @for (monitor, line) in monitors.iter().zip(&lines) {
                        (row(monitor, line, &context))
                    }
                }
            }
        }
    };
    let markup = layout::page(&context.site, Some(&title), Refresh::Static, body);
    Ok(context.finish(markup, &config.config))
}

fn row(monitor: &MonitorConfig, line: &MonthLine, context: &Context) -> Markup {
    let row = &line.row;
    html! {
        tr {
            td { a href=(context.links.monitor(&monitor.name)) { (title_of(monitor)) } }
            td { (row.uptime.map_or_else(|| "no checks".to_owned(), |u| format!("{:.3}%", u * 100.0))) }
            td { (short_duration(row.downtime_s)) }
            td { (short_duration(row.degraded_s)) }
            td { (line.incidents) }
            td { (row.p95_ms.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms"))) }
        }
    }
}

/// Links to the month before and after.
fn months_nav(year: i64, month: u32) -> Markup {
    let (before_year, before_month) = if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    };
    let (after_year, after_month) = year_month(next_month(year, month));
    html! {
        nav.months aria-label="Other months" {
            a href=(format!("/reports/{before_year:04}-{before_month:02}")) { "← " (format!("{before_year:04}-{before_month:02}")) }
            " "
            a href=(format!("/reports/{after_year:04}-{after_month:02}")) { (format!("{after_year:04}-{after_month:02}")) " →" }
        }
    }
}
