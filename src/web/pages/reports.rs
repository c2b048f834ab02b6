//! Status reports on the pages: a card with the title, the monitors it
//! names and its timeline, newest update first. Messages are plain text:
//! maud escapes every character, and only web addresses become links.

use std::time::{Duration, SystemTime};

use maud::{Markup, html};

use super::components::time;
use super::links::Links;
use crate::incident::Report;
use crate::store::reports::ReportState;
use crate::web::AppState;
use crate::web::access::Scope;

/// At most this many reports of each kind are read for a page.
const MAX_REPORTS: u32 = 50;

/// The open reports, and those resolved within `window` of `now`, newest
/// first; the caller keeps those its page may show.
pub async fn recent(
    state: &AppState,
    window: Duration,
    now: SystemTime,
) -> Result<(Vec<Report>, Vec<Report>), crate::store::StoreError> {
    let open = state
        .store
        .reports(Some(ReportState::Open), MAX_REPORTS)
        .await?;
    let mut resolved = state
        .store
        .reports(Some(ReportState::Resolved), MAX_REPORTS)
        .await?;
    resolved.retain(|r| r.resolved_at.is_some_and(|at| at + window >= now));
    Ok((open, resolved))
}

/// One report as a card. Of the monitors it names, only those `scope`
/// shows are listed, each under the title `title` gives it.
pub fn card(
    report: &Report,
    scope: &Scope,
    title: &dyn Fn(&str) -> String,
    links: &Links,
    now: SystemTime,
) -> Markup {
    let open = report.is_open();
    let named: Vec<&str> = report
        .monitors
        .iter()
        .map(String::as_str)
        .filter(|name| scope.shows(name))
        .collect();
    html! {
        article class={ "report r-" (report.status.as_str()) @if !open { " resolved" } } id={ "report-" (report.id) } {
            h3 { (report.title) }
            p.meta {
                span.rstatus { (report.status.label()) }
                " · "
                @if let Some(resolved) = report.resolved_at {
                    "resolved " (time(resolved, Some(now)))
                } @else {
                    "posted " (time(report.created_at, Some(now)))
                }
            }
            @if !named.is_empty() {
                p.affects {
                    "Affects: "
                    @for (i, name) in named.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(links.monitor(name)) { (title(name)) }
                    }
                }
            }
            ol.timeline.updates {
                @for update in report.updates.iter().rev() {
                    li class={ "u-" (update.status.as_str()) } {
                        p.when {
                            strong.word { (update.status.label()) }
                            " · " (time(update.at, None))
                        }
                        p.msg { (message(&update.message)) }
                    }
                }
            }
        }
    }
}

/// A message as markup: its text escaped, each http(s) address a link that
/// passes no ranking and no access to this page (`nofollow noopener`).
pub fn message(text: &str) -> Markup {
    html! {
        @for piece in pieces(text) {
            @match piece {
                Piece::Text(text) => (text),
                Piece::Link(url) => a href=(url) rel="nofollow noopener" { (url) },
            }
        }
    }
}

/// A stretch of a message: plain text or a web address.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Link(&'a str),
}

/// Characters that end a web address in running text: whitespace and what
/// would close an attribute or a tag if it were not escaped anyway.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`')
}

/// Splits `text` into text and web addresses. An address starts with
/// `http://` or `https://` and runs to whitespace; punctuation that ends a
/// sentence around it ("see https://x.example/.") stays text, as does a
/// closing bracket it does not open.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = next_url(rest) {
        let tail = &rest[start..];
        let mut end = tail.find(ends_url).unwrap_or(tail.len());
        loop {
            let url = &tail[..end];
            let Some(last) = url.chars().last() else {
                break;
            };
            let unopened = |open: char, close: char| {
                last == close && url.matches(close).count() > url.matches(open).count()
            };
            if matches!(last, '.' | ',' | ';' | ':' | '!' | '?')
                || unopened('(', ')')
                || unopened('[', ']')
            {
                end -= last.len_utf8();
            } else {
                break;
            }
        }
        let url = &tail[..end];
        // "https://" alone, or followed by punctuation only, is no address.
        let scheme = if url.starts_with("https://") { 8 } else { 7 };
        if url.len() <= scheme {
            out.push(Piece::Text(&rest[..start + scheme]));
            rest = &rest[start + scheme..];
            continue;
        }
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        out.push(Piece::Link(url));
        rest = &tail[end..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// Where the next `http://` or `https://` starts.
fn next_url(text: &str) -> Option<usize> {
    match (text.find("http://"), text.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_addresses_become_links_and_the_rest_stays_text() {
        use Piece::{Link, Text};
        assert_eq!(
            pieces("See https://status.example/a?b=1. Then (http://x.example/p) ok"),
            vec![
                Text("See "),
                Link("https://status.example/a?b=1"),
                Text(". Then ("),
                Link("http://x.example/p"),
                Text(") ok"),
            ]
        );
        assert_eq!(
            pieces("https://en.example/wiki/A_(b)"),
            vec![Link("https://en.example/wiki/A_(b)")]
        );
        assert_eq!(
            pieces("https:// and http://."),
            vec![Text("https://"), Text(" and http://"), Text(".")]
        );
        assert_eq!(pieces("no links"), vec![Text("no links")]);
        assert_eq!(
            pieces("javascript:alert(1)"),
            vec![Text("javascript:alert(1)")]
        );
    }

    #[test]
    fn messages_are_escaped_and_links_cannot_break_out() {
        let html =
            message("<script>alert(1)</script> https://a.example/\"onclick=x 'q'").into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains(
                r#"<a href="https://a.example/" rel="nofollow noopener">https://a.example/</a>"#
            ),
            "{html}"
        );
        assert!(html.contains("&quot;onclick=x"), "{html}");
    }
}
