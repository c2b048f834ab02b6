//! `GET /feed.atom`: the latest incidents and status reports, open and
//! resolved, and scheduled maintenance ahead or under way, as an Atom 1.0
//! feed (RFC 4287), for feed readers and chat integrations that poll one.

use crate::clock;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::access::{PagesOpen, Scope, visible_report};
use super::{ApiError, AppState, EvidenceView};
use crate::escape::markup as escape;
use crate::evaluate::notices::{NOTICE, Occurrence};
use crate::incident::{Incident, IncidentState, Report};

/// Entries in the feed: the most recently started incidents.
const ENTRIES: u32 = 50;

/// The feed route.
pub fn router() -> Router<AppState> {
    Router::new().route("/feed.atom", get(feed))
}

async fn feed(State(state): State<AppState>) -> Result<Response, ApiError> {
    let config = state.config();
    let server = &config.config.server;
    // The feed quotes no headers or body today; passing it through the
    // view keeps it so if an entry ever grows to show more evidence.
    let view = EvidenceView::visitor(server);
    // The feed is public: incidents of monitors that only private pages
    // show are left out.
    let public = Scope::public(&config.config);
    let incidents: Vec<Incident> = state
        .store
        .incidents(None, ENTRIES)
        .await?
        .into_iter()
        .filter(|i| public.shows(&i.monitor))
        .map(|i| view.incident(i))
        .collect();
    // Reports too, but those of private pages and their monitors.
    let pages = PagesOpen::public_and(&config.config, &[]);
    let reports: Vec<Report> = state
        .store
        .reports(None, ENTRIES)
        .await?
        .into_iter()
        .filter_map(|r| visible_report(r, &public, &pages))
        .collect();
    let titles: HashMap<&str, &str> = config
        .config
        .monitors
        .iter()
        .map(|m| (m.name.as_str(), m.title.as_deref().unwrap_or(&m.name)))
        .collect();
    let site = Site {
        title: server.title.as_deref().unwrap_or("hopwatch"),
        base: server
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/'))
            .unwrap_or(""),
    };
    // Windows of public monitors only, named as the public may see them.
    let now = SystemTime::now();
    let setup = state.live.setup();
    let windows: Vec<(Occurrence, Vec<String>)> = setup
        .maintenance
        .shown(now)
        .into_iter()
        .filter_map(|o| {
            let covers = o.covers(&config.config.monitors, &|m| public.shows(m));
            (!covers.is_empty()).then_some((o, covers))
        })
        .collect();
    let entries = Entries {
        incidents: &incidents,
        reports: &reports,
        windows: &windows,
    };
    let body = render(&site, &entries, &titles, now);
    Ok((
        [
            (header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

/// What the feed says about the installation.
struct Site<'a> {
    /// `server.title`.
    title: &'a str,
    /// `server.public_url` without a trailing slash; empty for relative links.
    base: &'a str,
}

/// What the feed lists.
struct Entries<'a> {
    incidents: &'a [Incident],
    reports: &'a [Report],
    /// Maintenance shown now, with what it covers by title.
    windows: &'a [(Occurrence, Vec<String>)],
}

/// When a window's entry last changed: when it started, or before that
/// when it came within the notice. Both stay put between requests, so a
/// reader shows the entry once per change.
fn window_updated(occurrence: &Occurrence, now: SystemTime) -> SystemTime {
    if occurrence.in_progress(now) {
        occurrence.start
    } else {
        occurrence
            .start
            .checked_sub(NOTICE)
            .unwrap_or(occurrence.start)
    }
}

/// The whole document. `titles` maps monitor names to their titles.
fn render(site: &Site, entries: &Entries, titles: &HashMap<&str, &str>, now: SystemTime) -> String {
    let Entries {
        incidents,
        reports,
        windows,
    } = *entries;
    let updated_of = |i: &Incident| i.resolved_at.unwrap_or(i.started_at);
    // With nothing to report the feed is as new as the answer.
    let updated = incidents
        .iter()
        .map(updated_of)
        .chain(reports.iter().map(Report::updated_at))
        .chain(windows.iter().map(|(o, _)| window_updated(o, now)))
        .max()
        .unwrap_or(now);
    let mut xml = String::with_capacity(1024 + incidents.len() * 1024);
    xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    xml.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    let feed_id = if site.base.is_empty() {
        "urn:hopwatch:feed".to_owned()
    } else {
        format!("{}/feed.atom", site.base)
    };
    let _ = writeln!(xml, "  <id>{}</id>", escape(&feed_id));
    let _ = writeln!(xml, "  <title>{} incidents</title>", escape(site.title));
    let _ = writeln!(
        xml,
        "  <updated>{}</updated>",
        clock::rfc3339_seconds(updated)
    );
    let _ = writeln!(
        xml,
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}/feed.atom\"/>",
        escape(site.base)
    );
    let _ = writeln!(
        xml,
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}/\"/>",
        escape(site.base)
    );
    xml.push_str("  <author><name>hopwatch</name></author>\n");
    xml.push_str("  <generator>hopwatch</generator>\n");
    for (occurrence, covers) in windows {
        window_entry(&mut xml, site, occurrence, covers, now);
    }
    for report in reports {
        report_entry(&mut xml, site, report);
    }
    for incident in incidents {
        let title = titles
            .get(incident.monitor.as_str())
            .copied()
            .unwrap_or(&incident.monitor);
        entry(&mut xml, site, incident, title, updated_of(incident));
    }
    xml.push_str("</feed>\n");
    xml
}

fn entry(
    xml: &mut String,
    site: &Site,
    incident: &Incident,
    monitor_title: &str,
    updated: SystemTime,
) {
    let tag = match incident.state {
        IncidentState::Open => "FIRING",
        IncidentState::Resolved => "RESOLVED",
    };
    let headline = format!(
        "[{tag}] {}: {} {} ({})",
        incident.alert,
        incident.monitor,
        incident.cause,
        incident.verdict.hop.as_str()
    );
    let summary = crate::mask::text(&incident.verdict.summary);
    let link = format!("{}/incidents/{}", site.base, incident.id);
    xml.push_str("  <entry>\n");
    let _ = writeln!(
        xml,
        "    <id>urn:hopwatch:incident:{}</id>",
        escape(&incident.id)
    );
    let _ = writeln!(xml, "    <title>{}</title>", escape(&headline));
    let _ = writeln!(
        xml,
        "    <updated>{}</updated>",
        clock::rfc3339_seconds(updated)
    );
    let _ = writeln!(
        xml,
        "    <published>{}</published>",
        clock::rfc3339_seconds(incident.started_at)
    );
    let _ = writeln!(
        xml,
        "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
        escape(&link)
    );
    let _ = writeln!(
        xml,
        "    <category term=\"{}\"/>",
        incident.severity.as_str()
    );
    let _ = writeln!(xml, "    <summary>{}</summary>", escape(&summary));
    // The content is HTML carried as escaped text: escaped once as HTML
    // (the monitor's title is user text) and once more as XML.
    let html = content_html(incident, monitor_title, &summary);
    let _ = writeln!(
        xml,
        "    <content type=\"html\">{}</content>",
        escape(&html)
    );
    xml.push_str("  </entry>\n");
}

/// A report as one entry: its latest status and message in the title and
/// summary, its whole timeline (newest first) in the content. The entry's
/// `updated` moves with each update, so readers show it again.
fn report_entry(xml: &mut String, site: &Site, report: &Report) {
    let Some(latest) = report.latest() else {
        return;
    };
    let headline = format!("[{}] {}", latest.status.label(), report.title);
    let link = format!("{}/#report-{}", site.base, report.id);
    xml.push_str("  <entry>\n");
    let _ = writeln!(xml, "    <id>urn:hopwatch:report:{}</id>", report.id);
    let _ = writeln!(xml, "    <title>{}</title>", escape(&headline));
    let _ = writeln!(
        xml,
        "    <updated>{}</updated>",
        clock::rfc3339_seconds(latest.at)
    );
    let _ = writeln!(
        xml,
        "    <published>{}</published>",
        clock::rfc3339_seconds(report.created_at)
    );
    let _ = writeln!(
        xml,
        "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
        escape(&link)
    );
    xml.push_str("    <category term=\"report\"/>\n");
    let _ = writeln!(xml, "    <summary>{}</summary>", escape(&latest.message));
    // HTML carried as escaped text, as for incidents: the person's words
    // escaped once as HTML, then the whole once more as XML.
    let mut html = String::new();
    for update in report.updates.iter().rev() {
        let _ = write!(
            html,
            "<p><strong>{}</strong> ({})<br/>{}</p>",
            update.status.label(),
            clock::rfc3339_seconds(update.at),
            escape(&update.message)
        );
    }
    let _ = writeln!(
        xml,
        "    <content type=\"html\">{}</content>",
        escape(&html)
    );
    xml.push_str("  </entry>\n");
}

/// A maintenance window as one entry, its id the occurrence's: the
/// headline moves from "Scheduled" to "in progress" when it starts, and
/// `updated` with it.
fn window_entry(
    xml: &mut String,
    site: &Site,
    occurrence: &Occurrence,
    covers: &[String],
    now: SystemTime,
) {
    let covers = covers.join(", ");
    let headline = format!("{}, {covers}", occurrence.headline(now));
    let link = format!("{}/#{}", site.base, occurrence.id);
    xml.push_str("  <entry>\n");
    let _ = writeln!(xml, "    <id>urn:hopwatch:{}</id>", escape(&occurrence.id));
    let _ = writeln!(xml, "    <title>{}</title>", escape(&headline));
    let _ = writeln!(
        xml,
        "    <updated>{}</updated>",
        clock::rfc3339_seconds(window_updated(occurrence, now))
    );
    let _ = writeln!(
        xml,
        "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
        escape(&link)
    );
    xml.push_str("    <category term=\"maintenance\"/>\n");
    let span = clock::utc_span(occurrence.start, occurrence.end);
    let summary = format!("Scheduled maintenance of {covers}, {span}");
    let _ = writeln!(xml, "    <summary>{}</summary>", escape(&summary));
    xml.push_str("  </entry>\n");
}

fn content_html(incident: &Incident, monitor_title: &str, summary: &str) -> String {
    let mut rows = vec![
        ("Monitor", format!("{monitor_title} ({})", incident.monitor)),
        (
            "Alert",
            format!("{} ({})", incident.alert, incident.severity.as_str()),
        ),
        ("Cause", incident.cause.to_string()),
        ("Hop at fault", incident.verdict.hop.as_str().to_owned()),
        ("Started", clock::rfc3339_seconds(incident.started_at)),
    ];
    if let Some(resolved) = incident.resolved_at {
        rows.push(("Resolved", clock::rfc3339_seconds(resolved)));
    }
    if let Some(status) = incident.evidence.as_ref().and_then(|e| e.status) {
        rows.push(("HTTP status", status.to_string()));
    }
    if incident.acknowledged {
        rows.push(("Acknowledged", "yes".to_owned()));
    }
    let mut html = format!("<p>{}</p><table>", escape(summary));
    for (label, value) in rows {
        let _ = write!(html, "<tr><th>{label}</th><td>{}</td></tr>", escape(&value));
    }
    html.push_str("</table>");
    html
}
