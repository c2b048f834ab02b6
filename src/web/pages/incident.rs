//! `GET /incidents/{id}` and `GET /p/{slug}/incidents/{id}`: one incident's
//! full record: what fired, the hop at fault, the measured value against
//! its threshold, its timeline (messages sent, hops folded in), evidence
//! and annotations.

use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};

use super::components::{responder, time, verdict, web_link};
use super::layout::{self, Refresh};
use super::links::Links;
use super::{Context, PageError, format, timeline, title_of};
use crate::config::Condition;
use crate::incident::AlertEvidence;
use crate::incident::{Incident, IncidentState};
use crate::web::AppState;
use crate::web::access::Credentials;

/// `GET /incidents/{id}`; an unknown id is a 404 page, and so is an
/// incident of a monitor that only private pages show, unless `?key=`
/// opens one of them.
pub async fn page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    credentials: Credentials,
) -> Result<Response, PageError> {
    let config = state.config();
    let context = Context::public(&config.config, &credentials);
    let markup = render(&state, &context, &id).await?;
    Ok(context.finish(markup, &config.config))
}

/// `GET /p/{slug}/incidents/{id}`: an incident of one of the page's
/// monitors, for the page's readers.
pub async fn on_page(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    credentials: Credentials,
) -> Result<Response, PageError> {
    let config = state.config();
    let context = Context::page(&config.config, &slug, &credentials)?;
    let markup = render(&state, &context, &id).await?;
    Ok(context.finish(markup, &config.config))
}

async fn render(state: &AppState, context: &Context, id: &str) -> Result<Markup, PageError> {
    let config = state.config();
    let links = &context.links;
    let incident = state
        .store
        .incident(id)
        .await?
        .filter(|i| context.scope.shows(&i.monitor))
        .ok_or_else(|| PageError::NotFound(format!("There is no incident “{id}”.")))?;
    let mut incident = context.evidence.incident(incident);
    if let Some(root) = incident
        .folded_into
        .as_deref()
        .filter(|into| !into.starts_with("monitor:"))
    {
        let root = state.store.incident(root).await?.map(|i| i.monitor);
        context.scope.hide_root(&mut incident, &|_| root.clone());
    } else {
        context.scope.hide_root(&mut incident, &|_| None);
    }
    let monitor = config
        .config
        .monitors
        .iter()
        .find(|m| m.name == incident.monitor);
    let monitor_title = monitor.map_or(incident.monitor.as_str(), title_of);
    let condition = config
        .config
        .alerts
        .iter()
        .find(|a| a.name == incident.alert)
        .map(|a| &a.when);
    let mut activity = state.store.incident_activity(&incident.id).await?;
    // Hops folded into this incident that the page may not show are left
    // out, not named.
    activity
        .folded
        .retain(|folded| context.scope.shows(&folded.monitor));
    let title = |name: &str| {
        config
            .config
            .monitors
            .iter()
            .find(|m| m.name == name)
            .map_or(name, title_of)
            .to_owned()
    };
    let now = SystemTime::now();
    let open = incident.state == IncidentState::Open;
    let heading = format!("{} on {monitor_title}", incident.alert);

    let body = html! {
        p.crumbs { a href=(links.home()) { "Status" } " / " a href=(links.monitor(&incident.monitor)) { (monitor_title) } }
        h1 { (heading) }
        p class={ "state " @if open { "s-down" } @else { "s-up" } } {
            span.shape aria-hidden="true" { @if open { "✕" } @else { "✓" } }
            @if open { " open" } @else { " resolved" }
            @if incident.acknowledged { ", acknowledged" }
        }
        dl.facts {
            dt { "Alert" } dd { (incident.alert) }
            dt { "Monitor" } dd { a href=(links.monitor(&incident.monitor)) { (monitor_title) } }
            dt { "Severity" } dd { span class={ "sev sev-" (incident.severity.as_str()) } { (incident.severity.as_str()) } }
            dt { "Started" } dd { (time(incident.started_at, Some(now))) }
            @if let Some(resolved) = incident.resolved_at {
                dt { "Resolved" } dd {
                    (time(resolved, Some(now))) ", after "
                    (format::span(resolved.duration_since(incident.started_at).unwrap_or_default()))
                }
            }
            dt { "Cause" } dd { code { (incident.cause.as_str()) } }
            @if let Some(who) = &incident.responder {
                dt { "Answered by" } dd { (responder(who)) }
            }
            dt { "Verdict" } dd { (verdict(&incident.verdict)) }
            @if let Some(text) = value_text(&incident, condition) {
                dt { "Value" } dd { (text) }
            }
            @if let Some(into) = &incident.folded_into {
                dt { "Folded into" } dd { (folded(into, links)) }
            }
            @if let Some(runbook) = monitor.and_then(|m| m.runbook.as_deref()) {
                dt { "Runbook" } dd { (web_link(runbook)) }
            }
            dt { "Id" } dd { code { (incident.id) } }
        }
        (timeline::section(&incident, &activity, &title, links))
        @if let Some(evidence) = incident.evidence.as_ref().filter(|e| shows_anything(e)) {
            section aria-labelledby="evidence-h" {
                h2 #evidence-h { "Evidence" }
                (evidence_block(evidence))
            }
        }
        section aria-labelledby="notes-h" {
            h2 #notes-h { "Changes in the hour before" }
            @if incident.annotations.is_empty() {
                p.empty { "No annotations." }
            } @else {
                ul.notes {
                    @for note in &incident.annotations {
                        li { (time(note.at, None)) ": " (note.text) }
                    }
                }
            }
        }
    };
    Ok(layout::page_under(
        links.home(),
        &context.site,
        Some(&heading),
        Refresh::Static,
        body,
    ))
}

/// The measured value against the threshold, in the condition's own units
/// (the store keeps bare numbers: a count, a share, milliseconds or days).
fn value_text(incident: &Incident, condition: Option<&Condition>) -> Option<String> {
    let value = incident.value?;
    let threshold = incident.threshold;
    let pair = |shown: String, how: &str, limit: Option<String>| match limit {
        Some(limit) => format!("{shown} ({how} {limit})"),
        None => shown,
    };
    let share = |v: f64| format!("{:.1}%", v * 100.0);
    Some(match condition {
        Some(Condition::ConsecutiveFailures(_)) => pair(
            format!("{value:.0} failed checks in a row"),
            "fires at",
            threshold.map(|t| format!("{t:.0}")),
        ),
        Some(Condition::ErrorRate(_)) => pair(
            format!("{} of checks failed", share(value)),
            "threshold",
            threshold.map(share),
        ),
        Some(Condition::Status5xxRate(_)) => pair(
            format!("{} of answers were 5xx", share(value)),
            "threshold",
            threshold.map(share),
        ),
        Some(Condition::Latency(latency)) => pair(
            format!(
                "p{} latency {}",
                latency.percentile.unwrap_or(95.0),
                format::ms(value)
            ),
            "threshold",
            threshold.map(format::ms),
        ),
        Some(Condition::CertExpiry(_)) => pair(
            format!("{value:.1} days of certificate validity left"),
            "alerts below",
            threshold.map(|t| format!("{t:.0} days")),
        ),
        // The alert was removed from the config since: bare numbers.
        None => pair(
            format!("{value}"),
            "threshold",
            threshold.map(|t| t.to_string()),
        ),
    })
}

/// A link to the incident this one is folded into; a `monitor:NAME` marker
/// means the upstream's incident had not opened yet.
fn folded(into: &str, links: &Links) -> Markup {
    html! {
        @if let Some(upstream) = into.strip_prefix("monitor:") {
            "the incident of " a href=(links.monitor(upstream)) { (upstream) } ", once it opens"
        } @else {
            a href=(links.incident(into)) { (into) }
        }
    }
}

/// Whether `evidence` has anything to show: a check that got no HTTP
/// answer (refused, DNS, TLS) keeps an empty one.
fn shows_anything(evidence: &AlertEvidence) -> bool {
    evidence.status.is_some()
        || evidence.request_id.is_some()
        || !evidence.headers.is_empty()
        || !evidence.body_excerpt.is_empty()
        || evidence.headers_dropped > 0
}

/// Status, request id, headers and the body excerpt of the first failing check.
fn evidence_block(evidence: &AlertEvidence) -> Markup {
    html! {
        dl.facts {
            @if let Some(status) = evidence.status { dt { "HTTP status" } dd { (status) } }
            @if let Some(request_id) = &evidence.request_id { dt { "Request id" } dd { code { (request_id) } } }
        }
        @if !evidence.headers.is_empty() {
            div.scroll {
                table.headers {
                    caption { "Response headers" }
                    thead { tr { th scope="col" { "Header" } th scope="col" { "Value" } } }
                    tbody {
                        @for (name, value) in &evidence.headers {
                            tr { td { code { (name) } } td { (value) } }
                        }
                    }
                }
            }
        }
        @if !evidence.body_excerpt.is_empty() {
            h3 { "Body (first 2 KiB)" }
            pre { (evidence.body_excerpt) }
        }
        @if evidence.headers_dropped > 0 && !evidence.withheld {
            p.empty { (evidence.headers_dropped) " more headers were not kept." }
        }
        @if evidence.withheld {
            p.empty { "Response headers and body are not public here; the API shows them with the admin token." }
        }
    }
}
