//! The status, monitor and incident pages against a real daemon: escaping,
//! masking, security headers, 404 pages and sizes over plain HTTP, then the
//! same pages in headless Chromium (DOM, console, 375 px layout, screenshot).

mod crowd;
pub mod fixture;
mod maintenance;
mod private;
mod reports;
mod visitor;
mod webdriver;

use std::collections::HashMap;

use fixture::{BAD_BODY, XSS, fetch, fixture};
use webdriver::Driver;

/// The contract's budget for one page, before compression.
const MAX_PAGE_BYTES: usize = 60 * 1024;
const XSS_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

#[track_caller]
fn assert_secure_html(path: &str, headers: &HashMap<String, String>) {
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("text/html; charset=utf-8"),
        "{path}"
    );
    assert_secure(path, headers);
}

#[track_caller]
fn assert_secure(path: &str, headers: &HashMap<String, String>) {
    let csp = headers
        .get("content-security-policy")
        .map(String::as_str)
        .unwrap_or("");
    assert!(csp.starts_with(CSP), "{path}: CSP {csp:?}");
    assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    assert_eq!(
        headers.get("x-content-type-options").map(String::as_str),
        Some("nosniff"),
        "{path}"
    );
    assert_eq!(
        headers.get("referrer-policy").map(String::as_str),
        Some("no-referrer"),
        "{path}"
    );
}

#[tokio::test]
async fn pages_escape_mask_answer_404_and_stay_small() {
    let f = fixture().await;
    let addr = f.app.addr;
    let incident_path = format!("/incidents/{}", f.incident.id);
    let mut sizes = Vec::new();
    for path in [
        "/",
        "/monitors/api",
        "/monitors/shop-edge",
        "/monitors/xss",
        incident_path.as_str(),
    ] {
        let (status, headers, body) = fetch(addr, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_secure_html(path, &headers);
        assert!(
            body.starts_with("<!DOCTYPE html><html lang=\"en\">"),
            "{path}"
        );
        assert!(
            !body.contains(XSS) && !body.contains("<script>alert"),
            "{path}: raw script"
        );
        assert!(
            !body.contains(" style="),
            "{path}: inline style would break the CSP"
        );
        assert!(
            !body.contains("hunter2") && !body.contains("sekrit"),
            "{path}: a secret shows"
        );
        sizes.push((path.to_owned(), body.len()));
        assert!(
            body.len() < MAX_PAGE_BYTES,
            "{path} is {} bytes",
            body.len()
        );
    }
    eprintln!("page sizes (bytes, uncompressed): {sizes:?}");

    let (_, _, home) = fetch(addr, "/").await;
    assert!(
        home.contains(XSS_ESCAPED),
        "the hostile title and group show escaped"
    );
    assert!(
        home.contains("Some systems are degraded"),
        "1 of 5 down is degraded"
    );
    assert!(home.contains("Open incidents") && home.contains(&incident_path));
    assert!(home.contains("Resolved in the last 14 days") && home.contains("/monitors/flappy"));
    assert!(
        home.contains("&lt;h1&gt;502 Bad Gateway"),
        "evidence excerpt, escaped"
    );
    let order: Vec<usize> = [
        "<h2>Shop</h2>",
        "<h2>API</h2>",
        &format!("<h2>{XSS_ESCAPED}</h2>"),
        "<h2>Other</h2>",
    ]
    .iter()
    .map(|h| {
        home.find(h)
            .unwrap_or_else(|| panic!("no group heading {h}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "groups in config order, Other last: {order:?}"
    );
    let bars = bar_svgs(&home);
    assert_eq!(bars.len(), 5);
    let failing: usize = bars.iter().map(|svg| assert_bars(svg)).sum();
    assert!(
        failing >= 5 * 5,
        "the filled history has failing days: {failing}"
    );
    assert!(
        home.contains("<path class=\"r\""),
        "a red day from the filled history"
    );

    let (_, _, api) = fetch(addr, "/monitors/api").await;
    assert!(
        api.contains("http://***@127.0.0.1:"),
        "the URL shows with its password masked"
    );
    assert!(
        api.contains("<svg class=\"chart latency\""),
        "latency chart"
    );
    assert!(api.contains("<svg class=\"chart phases\""), "phase chart");
    assert!(api.contains("<code>http_502</code>") && api.contains(&incident_path));
    let (_, _, origin) = fetch(addr, "/monitors/shop-origin").await;
    assert!(origin.contains("token=***"), "query tokens are masked");
    let (_, _, edge) = fetch(addr, "/monitors/shop-edge").await;
    assert!(edge.contains("<ol class=\"chain\""), "the chain of hops");
    assert!(edge.contains("href=\"/monitors/shop-origin\""));

    let (_, _, incident) = fetch(addr, &incident_path).await;
    for expected in [
        "api-down on Public API",
        "<code>http_502</code>",
        "2 failed checks in a row (fires at 2)",
        "&lt;h1&gt;502 Bad Gateway&lt;/h1&gt;&lt;script&gt;",
        "deploy &lt;b&gt;v2&lt;/b&gt;",
        "Response headers",
    ] {
        assert!(
            incident.contains(expected),
            "incident page lacks {expected:?}"
        );
    }

    for path in ["/monitors/nope", "/incidents/nope"] {
        let (status, headers, body) = fetch(addr, path).await;
        assert_eq!(status, 404, "{path}");
        assert_secure_html(path, &headers);
        assert!(
            body.contains("<h1>Not found</h1>") && body.contains("nope"),
            "{path}: {body}"
        );
    }
    for (path, kind) in [
        ("/assets/style.css", "text/css"),
        ("/assets/app.js", "text/javascript"),
        ("/assets/icon.svg", "image/svg+xml"),
    ] {
        let (status, headers, _) = fetch(addr, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(headers["content-type"].starts_with(kind), "{path}");
        assert!(headers["cache-control"].contains("immutable"), "{path}");
        assert_secure(path, &headers);
    }
    let (_, headers, _) = fetch(addr, "/api/v1/status").await;
    assert_secure("/api/v1/status", &headers);
    f.app.stop().await;
}

/// Every 90-day bar (`<svg class="bars" ...</svg>`) of a page.
fn bar_svgs(html: &str) -> Vec<&str> {
    html.match_indices("<svg class=\"bars\"")
        .map(|(at, _)| {
            let end = html[at..].find("</svg>").expect("a closed svg");
            &html[at..at + end]
        })
        .collect()
}

/// The value of `name="..."` in the tag starting `tag`.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// Whether a tooltip gives failures (not `none failed`).
fn tells_failures(title: &str) -> bool {
    title
        .split(", ")
        .any(|part| part.ends_with(" failed") && part != "none failed")
}

/// Checks one 90-day bar: its summary, a bar per day drawn in one path per
/// colour, tooltip areas covering every day once, a titled area of its own
/// for each failing day and healthy days merged. Returns the failing days.
#[track_caller]
fn assert_bars(svg: &str) -> usize {
    let label = attribute(svg, "aria-label").expect("an aria-label");
    assert!(label.starts_with("90 days of uptime: "), "{label}");
    let (mut days, mut failing) = (0, 0);
    for path in svg.split("<path").skip(1) {
        let d = attribute(path, "d").expect("path data");
        let bars = d.matches(['m', 'M']).count();
        days += bars;
        if matches!(attribute(path, "class"), Some("w" | "r")) {
            failing += bars;
        }
    }
    assert_eq!(days, 90, "a bar per day: {svg}");
    let (mut covered, mut titled_failing, mut merged) = (0, 0, 0);
    for rect in svg.split("<rect").skip(1) {
        let width: usize = attribute(rect, "width")
            .and_then(|w| w.parse().ok())
            .expect("a width");
        covered += width;
        let title = rect
            .split_once("<title>")
            .and_then(|(_, t)| t.split_once("</title>"))
            .map(|(t, _)| t)
            .unwrap_or_else(|| panic!("a tooltip area without a title: {rect}"));
        if tells_failures(title) {
            assert_eq!(width, 3, "a failing day is one day wide: {title}");
            assert!(!title.contains(" – "), "one date: {title}");
            titled_failing += 1;
        }
        merged += usize::from(width > 3 && title.contains(" – "));
    }
    assert_eq!(covered, 90 * 3, "the tooltip areas cover every day once");
    assert_eq!(titled_failing, failing, "each failing day has its tooltip");
    assert!(merged > 0, "healthy days share a tooltip: {svg}");
    failing
}

#[tokio::test]
async fn a_status_page_of_20_monitors_with_full_history_stays_under_budget() {
    let (app, _origin) = fixture::crowd(20).await;
    let (status, _, home) = fetch(app.addr, "/").await;
    assert_eq!(status, 200);
    let bars = bar_svgs(&home);
    assert_eq!(bars.len(), 20);
    for svg in &bars {
        assert_bars(svg);
    }
    // A row runs from its `<div class="mon">` to the next row or the end
    // of its group.
    let mut rows: Vec<usize> = home
        .split("<div class=\"mon\">")
        .skip(1)
        .map(|row| row.find("</section>").unwrap_or(row.len()) + "<div class=\"mon\">".len())
        .collect();
    assert_eq!(rows.len(), 20);
    rows.sort_unstable();
    let typical = rows[rows.len() / 2];
    eprintln!(
        "status page of 20 monitors: {} bytes; a row {typical} bytes typically, {} to {}",
        home.len(),
        rows[0],
        rows[rows.len() - 1],
    );
    assert!(
        typical <= 2_048,
        "a typical row is {typical} bytes: {rows:?}"
    );
    assert!(
        home.len() < MAX_PAGE_BYTES,
        "/ with 20 monitors is {} bytes",
        home.len()
    );
    app.stop().await;
}

/// Fails on any console message at warning level or worse.
#[track_caller]
fn assert_quiet_console(page: &str, entries: &[serde_json::Value]) {
    let loud: Vec<_> = entries
        .iter()
        .filter(|e| matches!(e["level"].as_str(), Some("SEVERE" | "WARNING")))
        .collect();
    assert!(loud.is_empty(), "{page}: console errors {loud:#?}");
}

/// Keeps a screenshot in the target folder for a person to look at.
async fn save(browser: &webdriver::Session, name: &str) {
    let shot = browser.screenshot().await;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, &shot).expect("write a screenshot");
    // `HOPWATCH_DOCS_SCREENSHOTS=1` refreshes the pictures in docs/.
    if std::env::var_os("HOPWATCH_DOCS_SCREENSHOTS").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("create docs/screenshots");
        std::fs::write(docs.join(name), &shot).expect("write a screenshot into docs");
    }
}

/// Whether the page fits the window: no horizontal scrolling.
pub(crate) const FITS: &str = "return [document.documentElement.scrollWidth, window.innerWidth];";

/// `url` at 375 px, light and dark: it fits without sideways scrolling, the
/// console stays quiet, and each look is saved as `{shot}-375-{scheme}.png`.
async fn fits_a_phone(browser: &webdriver::Session, url: &str, what: &str, shot: &str) {
    browser.emulate_phone(375, 800).await;
    for scheme in ["light", "dark"] {
        browser.color_scheme(scheme).await;
        browser.goto(url).await;
        let fits = browser.eval(FITS).await;
        assert_eq!(fits[1], 375, "{fits}");
        assert!(
            fits[0].as_u64() <= fits[1].as_u64(),
            "{what} scrolls sideways at 375 px ({scheme}): {fits}"
        );
        assert_quiet_console(what, &browser.console().await);
        save(browser, &format!("{shot}-375-{scheme}.png")).await;
    }
}

#[tokio::test]
async fn pages_render_in_headless_chromium_at_375px_without_console_errors() {
    let f = fixture().await;
    let base = format!("http://{}", f.app.addr);
    let driver = Driver::start().await;
    let browser = driver.session(1280, 900).await;
    browser.emulate_phone(375, 800).await;

    browser.goto(&format!("{base}/")).await;
    let home = browser
        .eval(
            "const bars = [...document.querySelectorAll('svg.bars')];
             const count = (paths) => paths
               .map(p => (p.getAttribute('d').match(/m/gi) || []).length)
               .reduce((a, b) => a + b, 0);
             const first = bars[0].getBoundingClientRect();
             const hit = document.elementFromPoint(first.x + first.width / 2, first.y + first.height / 2);
             return {
               monitors: document.querySelectorAll('.mon').length,
               bars: bars.length,
               labelled: bars.filter(s => s.getAttribute('aria-label')).length,
               perBar: bars.map(svg => {
                 const areas = [...svg.querySelectorAll('rect')];
                 const titles = areas.map(r => r.querySelector(':scope > title')?.textContent ?? '');
                 return {
                   days: count([...svg.querySelectorAll('path')]),
                   failing: count([...svg.querySelectorAll('path.w, path.r')]),
                   failingTitled: areas.filter((r, i) => r.getAttribute('width') === '3'
                     && /(^|, )[1-9][0-9,]* failed/.test(titles[i])).length,
                   merged: titles.filter(t => / – .*: all [0-9,]+ checks passed$/.test(t)).length,
                   untitled: titles.filter(t => !t).length,
                   covered: areas.reduce((n, r) => n + Number(r.getAttribute('width')), 0),
                 };
               }),
               okStroke: getComputedStyle(document.querySelector('svg.bars path:not([class])')).stroke,
               redStroke: getComputedStyle(document.querySelector('svg.bars path.r')).stroke,
               areaFill: getComputedStyle(document.querySelector('svg.bars rect')).fill,
               hit: hit.tagName + ':' + (hit.querySelector('title')?.textContent ?? ''),
               barWidth: first.width,
               incidents: document.querySelectorAll('article.incident').length,
               xss: document.querySelector('a[href=\"/monitors/xss\"]').textContent,
               scripts: document.scripts.length,
               styled: getComputedStyle(document.querySelector('.banner')).borderLeftStyle,
               banner: document.querySelector('.banner h1').textContent,
             };",
        )
        .await;
    assert_eq!(home["monitors"], 5, "{home}");
    assert_eq!(home["bars"], 5, "{home}");
    assert_eq!(home["labelled"], 5, "every bar has an aria-label: {home}");
    for bar in home["perBar"].as_array().expect("bars") {
        assert_eq!(bar["days"], 90, "a bar per day: {bar}");
        assert!(bar["failing"].as_u64() > Some(0), "failing days: {bar}");
        assert_eq!(
            bar["failingTitled"], bar["failing"],
            "each failing day has its own tooltip: {bar}"
        );
        assert!(
            bar["merged"].as_u64() > Some(0),
            "healthy days share one: {bar}"
        );
        assert_eq!(bar["untitled"], 0, "every area has a tooltip: {bar}");
        assert_eq!(bar["covered"], 270, "the areas cover every day once: {bar}");
    }
    assert_eq!(home["okStroke"], "rgb(45, 164, 78)", "green bars: {home}");
    assert_eq!(home["redStroke"], "rgb(207, 34, 46)", "red bars: {home}");
    assert_eq!(
        home["areaFill"], "rgba(0, 0, 0, 0)",
        "the tooltip areas are see-through: {home}"
    );
    let hit = home["hit"].as_str().unwrap_or("");
    assert!(
        hit.starts_with("rect:") && hit.contains(" checks"),
        "the pointer over a bar finds its tooltip: {home}"
    );
    assert!(
        home["barWidth"].as_f64().unwrap_or(0.0) > 200.0,
        "bars fill the row: {home}"
    );
    assert!(
        home["incidents"].as_u64().unwrap_or(0) >= 2,
        "open and resolved: {home}"
    );
    assert_eq!(home["xss"], XSS, "the title is text, not markup: {home}");
    assert_eq!(home["scripts"], 1, "only /assets/app.js: {home}");
    assert_eq!(
        home["styled"], "solid",
        "the stylesheet applied under the CSP: {home}"
    );
    assert!(
        home["banner"].as_str().unwrap_or("").contains("degraded"),
        "{home}"
    );
    let fits = browser.eval(FITS).await;
    assert_eq!(fits[1], 375, "the window is 375 CSS px wide: {fits}");
    assert!(
        fits[0].as_u64() <= fits[1].as_u64(),
        "/ scrolls sideways at 375 px: {fits}"
    );
    assert_quiet_console("/", &browser.console().await);
    save(&browser, "status-375.png").await;

    browser.goto(&format!("{base}/monitors/api")).await;
    let monitor = browser
        .eval(
            "const p50 = document.querySelector('svg.chart.latency path.p50');
             return {
               p50: p50 ? p50.getAttribute('d').length : 0,
               points: document.querySelectorAll('svg.chart.latency circle.p50').length,
               phases: document.querySelectorAll('svg.chart.phases rect').length,
               rows: document.querySelectorAll('tbody tr').length,
               incidents: document.querySelectorAll('article.incident').length,
             };",
        )
        .await;
    assert!(
        monitor["p50"].as_u64().unwrap_or(0) > 100,
        "a drawn p50 line: {monitor}"
    );
    assert!(
        monitor["points"].as_u64().unwrap_or(0) >= 47,
        "a point per hour: {monitor}"
    );
    assert!(monitor["phases"].as_u64().unwrap_or(0) > 0, "{monitor}");
    assert!(monitor["rows"].as_u64().unwrap_or(0) > 0, "{monitor}");
    assert!(monitor["incidents"].as_u64().unwrap_or(0) >= 1, "{monitor}");
    let fits = browser.eval(FITS).await;
    assert!(
        fits[0].as_u64() <= fits[1].as_u64(),
        "monitor page scrolls sideways: {fits}"
    );
    assert_quiet_console("/monitors/api", &browser.console().await);
    save(&browser, "monitor-375.png").await;

    browser
        .goto(&format!("{base}/incidents/{}", f.incident.id))
        .await;
    let incident = browser
        .eval(
            "return {
               heading: document.querySelector('h1').textContent,
               body: document.querySelector('pre').textContent,
               headers: document.querySelectorAll('table.headers tbody tr').length,
             };",
        )
        .await;
    assert_eq!(incident["heading"], "api-down on Public API", "{incident}");
    assert_eq!(
        incident["body"], BAD_BODY,
        "the body excerpt shows as text: {incident}"
    );
    assert!(incident["headers"].as_u64().unwrap_or(0) > 0, "{incident}");
    let fits = browser.eval(FITS).await;
    assert!(
        fits[0].as_u64() <= fits[1].as_u64(),
        "incident page scrolls sideways: {fits}"
    );
    assert_quiet_console("incident page", &browser.console().await);
    save(&browser, "incident-375.png").await;

    // Dark mode follows the system setting.
    let background = "return getComputedStyle(document.body).backgroundColor;";
    let light = browser.eval(background).await;
    browser.color_scheme("dark").await;
    browser.goto(&format!("{base}/")).await;
    let dark = browser.eval(background).await;
    assert_ne!(light, dark, "prefers-color-scheme: dark changes the page");
    assert_eq!(dark, "rgb(13, 17, 23)", "the dark background");
    save(&browser, "status-375-dark.png").await;
    browser.color_scheme("light").await;

    // The console check must be able to fail: an error logged now shows up.
    browser
        .eval("console.error('hopwatch console probe'); return null;")
        .await;
    let probe = browser.console().await;
    assert!(
        probe.iter().any(|e| e["level"] == "SEVERE"
            && e["message"]
                .as_str()
                .unwrap_or("")
                .contains("hopwatch console probe")),
        "the console log does not report errors: {probe:#?}"
    );

    // The README's picture: the status page at desktop width.
    browser.stop_emulation().await;
    browser.resize(1280, 900).await;
    browser.goto(&format!("{base}/monitors/shop-edge")).await;
    save(&browser, "monitor-1280.png").await;
    browser.goto(&format!("{base}/")).await;
    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG screenshot");
    // Refreshed only when asked, so a test run leaves the tree as it was.
    if std::env::var_os("HOPWATCH_UPDATE_SCREENSHOT").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).expect("docs folder");
        std::fs::write(docs.join("screenshot.png"), &png).expect("write docs/screenshot.png");
    }
    drop(browser);
    drop(driver);
    f.app.stop().await;
}
