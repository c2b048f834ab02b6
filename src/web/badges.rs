//! SVG badges for READMEs and wikis: a monitor's state, uptime and latency
//! drawn as flat two-part "label | value" images in the shields.io style.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::access::Scope;
use crate::config::MonitorConfig;
use crate::monitor::MonitorState;

/// Colours of the shields.io palette, so badges sit well beside others.
mod colour {
    pub const BRIGHTGREEN: &str = "#4c1";
    pub const YELLOWGREEN: &str = "#a4a61d";
    pub const YELLOW: &str = "#dfb317";
    pub const ORANGE: &str = "#fe7d37";
    pub const RED: &str = "#e05d44";
    pub const GREY: &str = "#9f9f9f";
}

/// Titles longer than this are cut: a badge is a glance, not a paragraph.
const MAX_CHARS: usize = 48;

/// Badge routes: `/badge/{name}/status.svg`, `uptime-{24h,7d,30d}.svg`, `latency.svg`.
pub fn router() -> Router<AppState> {
    Router::new().route("/badge/{name}/{file}", get(badge))
}

async fn badge(
    State(state): State<AppState>,
    Path((name, file)): Path<(String, String)>,
) -> Response {
    let config = state.config();
    // A monitor that only private pages show has no badge: an image on
    // a public page must not tell its state, nor that it exists.
    let public = Scope::public(&config.config);
    let Some(monitor) = config
        .config
        .monitors
        .iter()
        .find(|m| m.name == name && public.shows(&m.name))
    else {
        return not_found();
    };
    let (label, value, fill) = match file.as_str() {
        "status.svg" => status(&state, monitor),
        "latency.svg" => latency(&state, monitor),
        "uptime-24h.svg" => uptime(&state, monitor, "24h"),
        "uptime-7d.svg" => uptime(&state, monitor, "7d"),
        "uptime-30d.svg" => uptime(&state, monitor, "30d"),
        _ => return not_found(),
    };
    let title = monitor.title.as_deref().unwrap_or(&monitor.name);
    svg_response(StatusCode::OK, &render(&label, &value, fill, title))
}

fn status(state: &AppState, monitor: &MonitorConfig) -> (String, String, &'static str) {
    let now = state.live.state(&monitor.name);
    let fill = match now {
        MonitorState::Up => colour::BRIGHTGREEN,
        MonitorState::Degraded => colour::YELLOW,
        MonitorState::Down => colour::RED,
        MonitorState::Maintenance | MonitorState::Unknown => colour::GREY,
    };
    let title = monitor.title.as_deref().unwrap_or(&monitor.name);
    (title.to_owned(), now.as_str().to_owned(), fill)
}

fn uptime(state: &AppState, monitor: &MonitorConfig, span: &str) -> (String, String, &'static str) {
    let now = crate::clock::unix_ms(std::time::SystemTime::now());
    let counts = state.monitor_id(&monitor.name).map(|id| match span {
        "24h" => state.history.last_hours(id, crate::clock::hour_of(now), 24),
        "7d" => state.history.last_days(id, crate::clock::day_of(now), 7),
        _ => state.history.last_days(id, crate::clock::day_of(now), 30),
    });
    let label = format!("uptime {span}");
    match counts.and_then(|c| c.uptime()) {
        None => (label, "no data".to_owned(), colour::GREY),
        Some(share) => {
            let percent = share * 100.0;
            (label, format_percent(percent), uptime_colour(percent))
        }
    }
}

/// Two decimals, rounded down: 99.996% up must not read "100.00%".
fn format_percent(percent: f64) -> String {
    if percent >= 100.0 {
        "100%".to_owned()
    } else {
        format!("{:.2}%", (percent * 100.0).floor() / 100.0)
    }
}

fn uptime_colour(percent: f64) -> &'static str {
    match percent {
        p if p >= 99.9 => colour::BRIGHTGREEN,
        p if p >= 99.0 => colour::YELLOWGREEN,
        p if p >= 95.0 => colour::YELLOW,
        _ => colour::RED,
    }
}

/// The last check's whole duration. A failed check's duration says how
/// fast it failed, not how fast the service is, so it shows as `down`; a
/// degraded one (slow, certificate expiring) was up and shows its time.
fn latency(state: &AppState, monitor: &MonitorConfig) -> (String, String, &'static str) {
    let label = "latency".to_owned();
    match state.live.latest(&monitor.name) {
        None => (label, "no data".to_owned(), colour::GREY),
        Some(last) if !last.cause.counts_as_up() => (label, "down".to_owned(), colour::RED),
        Some(last) => {
            let ms = last.latency_ms;
            let fill = match ms {
                ms if ms < 300.0 => colour::BRIGHTGREEN,
                ms if ms < 1_000.0 => colour::YELLOWGREEN,
                ms if ms < 2_000.0 => colour::YELLOW,
                ms if ms < 5_000.0 => colour::ORANGE,
                _ => colour::RED,
            };
            (label, format!("{ms:.0} ms"), fill)
        }
    }
}

/// A grey badge with status 404: an `<img>` still shows why it is empty.
/// The unknown name is not echoed back.
fn not_found() -> Response {
    let body = render("badge", "no such monitor", colour::GREY, "hopwatch");
    svg_response(StatusCode::NOT_FOUND, &body)
}

fn svg_response(status: StatusCode, body: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            // Proxies and GitHub's image cache must ask again every time.
            (header::CACHE_CONTROL, "no-cache"),
            // Opened on its own, an SVG is a document: allow no scripts.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        body.to_owned(),
    )
        .into_response()
}

/// Draws a flat badge; `about` names the monitor in the accessible title
/// when the label does not already.
pub fn render(label: &str, value: &str, fill: &str, about: &str) -> String {
    let (label, value, about) = (shorten(label), shorten(value), shorten(about));
    let title = if about == label {
        format!("{label}: {value}")
    } else {
        format!("{about}, {label}: {value}")
    };
    let (label_w, value_w) = (text_width(&label) + 10, text_width(&value) + 10);
    let width = label_w + value_w;
    let label_x = f64::from(label_w) / 2.0;
    let value_x = f64::from(label_w) + f64::from(value_w) / 2.0;
    let (title, label, value) = (
        crate::escape::markup(&title),
        crate::escape::markup(&label),
        crate::escape::markup(&value),
    );
    let mut svg = String::with_capacity(1024);
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{title}"><title>{title}</title>"##
    );
    svg.push_str(
        r##"<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>"##,
    );
    let _ = write!(
        svg,
        r##"<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{label_w}" height="20" fill="#555"/><rect x="{label_w}" width="{value_w}" height="20" fill="{fill}"/><rect width="{width}" height="20" fill="url(#s)"/></g>"##
    );
    svg.push_str(
        r##"<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">"##,
    );
    for (x, text) in [(label_x, &label), (value_x, &value)] {
        // A faint copy one pixel down is the shadow that makes text legible
        // on the light colours.
        let _ = write!(
            svg,
            r##"<text x="{x}" y="15" fill="#010101" fill-opacity=".3">{text}</text><text x="{x}" y="14">{text}</text>"##
        );
    }
    svg.push_str("</g></svg>");
    svg
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Pixels `text` takes in 11px Verdana, estimated per character class:
/// close enough that the text neither overflows nor floats in space.
fn text_width(text: &str) -> u32 {
    let tenths: u32 = text
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' | ' ' => 38,
            'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' => 48,
            'm' | 'w' | 'M' | 'W' | '%' | '@' | '…' => 106,
            'A'..='Z' => 76,
            c if c.is_ascii() => 68,
            // Other scripts: roughly a capital's width.
            _ => 80,
        })
        .sum();
    tenths.div_ceil(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_long_text_widens_the_badge() {
        let svg = render("<script>alert(1)</script>", "up", colour::BRIGHTGREEN, "x");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(
            svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{svg}"
        );
        let narrow = render("a", "up", colour::BRIGHTGREEN, "a");
        let wide = render("a much longer label", "up", colour::BRIGHTGREEN, "a");
        let width = |svg: &str| -> u32 {
            let rest = &svg[svg.find("width=\"").expect("a width") + 7..];
            rest[..rest.find('"').expect("closing quote")]
                .parse()
                .expect("a number")
        };
        assert!(width(&wide) > width(&narrow) + 50, "{wide}");
    }

    #[test]
    fn uptime_rounds_down_and_colours_by_threshold() {
        assert_eq!(format_percent(100.0), "100%");
        assert_eq!(format_percent(99.996), "99.99%");
        assert_eq!(format_percent(12.5), "12.50%");
        assert_eq!(uptime_colour(99.95), colour::BRIGHTGREEN);
        assert_eq!(uptime_colour(99.5), colour::YELLOWGREEN);
        assert_eq!(uptime_colour(96.0), colour::YELLOW);
        assert_eq!(uptime_colour(90.0), colour::RED);
    }

    #[test]
    fn long_titles_are_cut() {
        let cut = shorten(&"x".repeat(200));
        assert_eq!(cut.chars().count(), MAX_CHARS);
        assert!(cut.ends_with('…'));
    }
}
