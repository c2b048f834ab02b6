//! What a visitor sees of an outage: one incident card per root cause, an
//! incident's timeline, a checks table that reads at any width, and a
//! degraded monitor counted as up.

use std::time::Duration;

use hopwatch::incident::{Incident, IncidentState};

use super::fixture::fetch;
use super::webdriver::Driver;
use super::{FITS, assert_quiet_console, save};
use crate::helpers::{
    CertKind, GatewayOpts, Mode, Nginx, Origin, Receiver, Reply, TestApp, spawn_app,
    spawn_app_config, spawn_tls, wait_until, wait_until_async,
};

/// A bound on each wait for the daemon to act on an outage or a recovery.
const SETTLE_WITHIN: Duration = Duration::from_secs(30);

/// The `<article class="incident ...">` cards of the page's section whose
/// heading has id `heading`.
fn cards<'a>(html: &'a str, heading: &str) -> Vec<&'a str> {
    let Some(start) = html.find(&format!("id=\"{heading}\"")) else {
        return Vec::new();
    };
    let section = &html[start..];
    let section = &section[..section.find("</section>").unwrap_or(section.len())];
    section
        .split("<article class=\"incident")
        .skip(1)
        .map(|card| &card[..card.find("</article>").unwrap_or(card.len())])
        .collect()
}

/// The incidents of `shop-origin` and `shop-edge` in `state` once both
/// exist and the edge's is folded into the origin's.
async fn folded_pair(app: &TestApp, state: IncidentState) -> (Incident, Incident) {
    let mut pair = None;
    wait_until_async(
        &format!("{state:?} incidents of both hops, the edge's folded"),
        SETTLE_WITHIN,
        async || {
            let incidents = app
                .state
                .store
                .incidents(Some(state), 10)
                .await
                .expect("incidents");
            let of = |m: &str| incidents.iter().find(|i| i.monitor == m).cloned();
            if let (Some(origin), Some(edge)) = (of("shop-origin"), of("shop-edge"))
                && edge.folded_into.as_deref() == Some(origin.id.as_str())
            {
                pair = Some((origin, edge));
            }
            pair.is_some()
        },
    )
    .await;
    pair.expect("found above")
}

/// Polls `path` until `done` holds for its body (pages are snapshots
/// rebuilt at most once a second); the body.
async fn page_when(app: &TestApp, path: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    let within = SETTLE_WITHIN;
    wait_until_async(&format!("{path}: {what}"), within, async || {
        let (status, _, body) = fetch(app.addr, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        last = body;
        done(&last)
    })
    .await;
    last
}

#[tokio::test]
async fn an_origin_outage_is_one_card_naming_the_edge_and_its_page_tells_the_timeline() {
    let origin = Origin::spawn().await;
    let nginx = Nginx::start(origin.port(), GatewayOpts::default()).await;
    let hook = Receiver::start(Reply::Status(204)).await;
    // Refuses every message: its deliveries keep retrying.
    let pager = Receiver::start(Reply::Status(503)).await;
    let app = spawn_app_config(
        "",
        &format!(
            "monitors:\n\
             \x20 - {{ name: shop-edge, title: Shop, group: Shop, url: '{}', upstream: shop-origin, interval: 1s, timeout: 1s }}\n\
             \x20 - {{ name: shop-origin, title: Shop origin, group: Shop, url: '{}', interval: 1s, timeout: 1s }}\n\
             alerts:\n\
             \x20 - {{ name: shop-down, monitors: ['group:Shop'], when: {{ consecutive_failures: 2 }}, notify: [hook, pager] }}\n\
             notifiers:\n\
             \x20 - {{ name: hook, type: webhook, url: '{}' }}\n\
             \x20 - {{ name: pager, type: webhook, url: '{}' }}\n",
            nginx.url("/health"),
            origin.url("/health"),
            hook.url(),
            pager.url(),
        ),
    )
    .await;
    wait_until("both hops checked", || {
        ["shop-edge", "shop-origin"]
            .iter()
            .all(|m| app.state.live.latest(m).is_some())
    })
    .await;

    origin.set_mode(Mode::Stopped).await;
    let (root, edge) = folded_pair(&app, IncidentState::Open).await;
    let root_path = format!("/incidents/{}", root.id);
    let edge_path = format!("/incidents/{}", edge.id);

    // The status page: one card, the origin's, naming the edge.
    let home = page_when(&app, "/", "the open incidents are listed", |home| {
        !cards(home, "open-h").is_empty()
    })
    .await;
    let open = cards(&home, "open-h");
    assert_eq!(open.len(), 1, "one card per root cause: {open:#?}");
    assert!(
        open[0].contains(&format!("href=\"{root_path}\"")),
        "{}",
        open[0]
    );
    assert!(
        open[0].contains("Also affects: <a href=\"/monitors/shop-edge\">Shop</a>"),
        "the card names the edge: {}",
        open[0]
    );
    assert!(
        !home.contains(&format!("href=\"{edge_path}\"")),
        "no card of the folded incident"
    );

    // The root's timeline: opened, the folded edge, a message delivered
    // and one retrying; no empty evidence (the origin refused to connect).
    let page = page_when(
        &app,
        &root_path,
        "a delivered and a retrying message",
        |page| {
            page.contains("<span class=\"t-sent\">delivered</span>")
                && page.contains("<span class=\"t-retry\">retrying</span>")
        },
    )
    .await;
    let timeline = {
        let start = page.find("id=\"timeline-h\"").expect("a timeline");
        &page[start..start + page[start..].find("</ol>").expect("its list")]
    };
    let steps: Vec<&str> = timeline.split("<li>").skip(1).collect();
    assert!(
        steps[0].contains("Opened: shop-down fired, cause <code>connect_refused</code>"),
        "{steps:#?}"
    );
    for expected in [
        "Firing message to <strong>hook</strong>: <span class=\"t-sent\">delivered</span>",
        "Firing message to <strong>pager</strong>: <span class=\"t-retry\">retrying</span>",
        &format!(
            "<a href=\"/monitors/shop-edge\">Shop</a> failed too, because of this: <a href=\"{edge_path}\">its incident</a>"
        ),
    ] {
        assert!(
            steps.iter().any(|s| s.contains(expected)),
            "no step {expected:?} in {steps:#?}"
        );
    }
    assert!(!page.contains("Acknowledged"), "not yet");
    assert!(
        !page.contains("evidence-h"),
        "no Evidence heading without evidence"
    );
    // The edge's own page: it says it is folded, and nginx's 502 is evidence.
    let (_, _, edge_page) = fetch(app.addr, &edge_path).await;
    assert!(
        edge_page.contains("folded, so it sends no messages of its own"),
        "{edge_page}"
    );
    assert!(edge_page.contains("<h2 id=\"evidence-h\">Evidence</h2>"));

    // Acknowledged, then resolved.
    assert!(app.state.store.acknowledge(&root.id).await.expect("ack"));
    page_when(&app, &root_path, "the acknowledgement", |page| {
        page.contains("Acknowledged: no more repeat messages")
    })
    .await;
    origin.start().await;
    folded_pair(&app, IncidentState::Resolved).await;
    let page = page_when(&app, &root_path, "the resolution", |page| {
        page.contains("Resolved message to <strong>hook</strong>")
            && page.contains("<a href=\"/monitors/shop-edge\">Shop</a> recovered")
    })
    .await;
    let order = ["Opened: ", "Acknowledged: ", "Resolved, after "].map(|step| {
        page.find(step)
            .unwrap_or_else(|| panic!("no {step:?} in {page}"))
    });
    assert!(order.is_sorted(), "{order:?}");
    let home = page_when(&app, "/", "the incident resolved", |home| {
        cards(home, "open-h").is_empty()
    })
    .await;
    let resolved = cards(&home, "resolved-h");
    assert_eq!(resolved.len(), 1, "one resolved card: {resolved:#?}");
    assert!(resolved[0].contains("Also affects: <a href=\"/monitors/shop-edge\">Shop</a>"));
    app.stop().await;
}

#[tokio::test]
async fn a_degraded_monitor_counts_as_up_in_every_uptime() {
    // Serves fine, but its certificate expires in 5 days: tls_expiring.
    let peer = spawn_tls(CertKind::Valid { days_left: 5 }).await;
    let app = spawn_app(&format!(
        "  - {{ name: cert, title: Certified, url: '{}', ca_file: '{}', interval: 1s, timeout: 1s, expect: {{ cert_min_days: 14 }} }}\n",
        peer.url("/health"),
        peer.ca_file().display(),
    ))
    .await;
    let mut status = serde_json::Value::Null;
    wait_until_async("a counted degraded check", SETTLE_WITHIN, async || {
        let (_, _, body) = fetch(app.addr, "/api/v1/status").await;
        status = serde_json::from_str(&body).expect("JSON");
        !status["monitors"][0]["uptime"]["24h"].is_null()
    })
    .await;
    let monitor = &status["monitors"][0];
    assert_eq!(monitor["state"], "degraded", "{monitor:#}");
    assert_eq!(
        monitor["last_check"]["cause"], "tls_expiring",
        "{monitor:#}"
    );
    for span in ["24h", "7d", "30d"] {
        assert_eq!(monitor["uptime"][span], 1.0, "{span}: {monitor:#}");
        let (_, _, badge) = fetch(app.addr, &format!("/badge/cert/uptime-{span}.svg")).await;
        assert!(badge.contains(">100%<"), "{span} badge: {badge}");
    }
    let (_, _, badge) = fetch(app.addr, "/badge/cert/latency.svg").await;
    assert!(
        badge.contains(" ms<"),
        "a degraded check has a latency: {badge}"
    );
    for path in ["/", "/monitors/cert"] {
        let (_, _, page) = fetch(app.addr, path).await;
        assert!(page.contains("s-degraded"), "{path}: the state shows");
        assert_eq!(
            page.matches("<dd>100%</dd>").count(),
            3,
            "{path}: 24 h, 7 d and 30 d at 100%: {page}"
        );
    }
    app.stop().await;
}

/// The checks table's short cells (time, cause, status, latency, and their
/// headers) that take more than one line, measured from their text's
/// rectangles; the table's and its scroll box's widths; where the first
/// verdict is.
const CHECKS_TABLE: &str = "
    const box = document.querySelector('table.checks').parentElement;
    const lines = (cell) => {
      const range = document.createRange();
      range.selectNodeContents(cell);
      const rects = [...range.getClientRects()].filter(r => r.width > 0);
      const line = parseFloat(getComputedStyle(cell).lineHeight);
      const top = Math.min(...rects.map(r => r.top));
      const bottom = Math.max(...rects.map(r => r.bottom));
      return Math.round((bottom - top) / line);
    };
    const rows = [...document.querySelectorAll('table.checks tr')];
    return {
      wrapped: rows.flatMap(row => [...row.cells].slice(0, 4)
        .filter(cell => lines(cell) > 1).map(cell => cell.textContent)),
      verdictWidth: document.querySelector('table.checks td.verdict').getBoundingClientRect().width,
      verdictBelow: document.querySelector('table.checks td.verdict').getBoundingClientRect().top
        >= document.querySelector('table.checks tbody td').getBoundingClientRect().bottom,
      table: document.querySelector('table.checks').getBoundingClientRect().width,
      box: box.clientWidth,
      boxScrolls: getComputedStyle(box).overflowX,
    };";

#[tokio::test]
async fn the_checks_table_keeps_short_columns_on_one_line_at_1280_and_375_px() {
    let origin = Origin::spawn().await;
    origin.set_mode(Mode::Stopped).await;
    let nginx = Nginx::start(origin.port(), GatewayOpts::default()).await;
    let app = spawn_app(&format!(
        "  - {{ name: shop, url: '{}', interval: 1s, timeout: 1s }}\n",
        nginx.url("/health"),
    ))
    .await;
    app.wait_stored("shop", 3).await;
    let url = format!("http://{}/monitors/shop", app.addr);
    let driver = Driver::start().await;
    let browser = driver.session(1280, 900).await;

    browser.goto(&url).await;
    let wide = browser.eval(CHECKS_TABLE).await;
    assert_eq!(wide["wrapped"], serde_json::json!([]), "at 1280 px: {wide}");
    assert!(
        wide["table"].as_f64() <= wide["box"].as_f64(),
        "the table fits its box at 1280 px: {wide}"
    );
    assert!(
        wide["verdictWidth"].as_f64().unwrap_or(0.0) > 400.0,
        "the verdict takes the rest: {wide}"
    );
    assert_eq!(wide["verdictBelow"], false, "a column of its own: {wide}");
    assert_quiet_console("/monitors/shop at 1280 px", &browser.console().await);
    browser
        .eval("document.querySelector('table.checks').scrollIntoView(); return null;")
        .await;
    save(&browser, "checks-1280.png").await;

    browser.emulate_phone(375, 800).await;
    browser.goto(&url).await;
    let narrow = browser.eval(CHECKS_TABLE).await;
    assert_eq!(
        narrow["wrapped"],
        serde_json::json!([]),
        "at 375 px: {narrow}"
    );
    assert_eq!(narrow["boxScrolls"], "auto", "{narrow}");
    assert!(
        narrow["table"].as_f64() <= narrow["box"].as_f64(),
        "on a phone the table fits its box: {narrow}"
    );
    assert_eq!(
        narrow["verdictBelow"], true,
        "on a phone the verdict goes under the short cells: {narrow}"
    );
    browser
        .eval("document.querySelector('table.checks').scrollIntoView(); return null;")
        .await;
    save(&browser, "checks-375.png").await;
    let fits = browser.eval(FITS).await;
    assert_eq!(fits[1], 375, "{fits}");
    assert!(
        fits[0].as_u64() <= fits[1].as_u64(),
        "the page scrolls sideways at 375 px: {fits}"
    );
    drop(browser);
    drop(driver);
    app.stop().await;
}
