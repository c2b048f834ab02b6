//! Status reports (contract section 8) against a real daemon: posted and
//! updated over the API, read back in order, shown on the pages they
//! concern (newest update first) and in the feed, escaped everywhere; a
//! report of a private page stays off every public surface; and the page
//! with an open report in headless Chromium at 375 px.

use std::net::SocketAddr;

use bytes::Bytes;
use serde_json::Value;

use super::webdriver::Driver;
use super::{assert_quiet_console, fits_a_phone, save};
use crate::helpers::{Origin, TestApp, send, spawn_app_config};

const ADMIN: &str = "r3port-admin";
const KEY: &str = "r3port-0ps-key";
/// A title a browser would run, were it not escaped.
const EVIL: &str = "Checkout <script>alert(1)</script> \"quoted\"";
const EVIL_ESCAPED: &str = "Checkout &lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot;";

/// A daemon with `/` (Shop and API) and the private `/p/ops` (the vault,
/// which no public page shows); every monitor healthy.
async fn daemon() -> (TestApp, Origin) {
    let origin = Origin::spawn().await;
    let rest = format!(
        "monitors:\n\
         \x20 - {{ name: shop-web, title: Shop front, group: Shop, url: '{}', interval: 1s, timeout: 1s }}\n\
         \x20 - {{ name: api, title: Public API, group: API, url: '{}', interval: 1s, timeout: 1s }}\n\
         \x20 - {{ name: vault, title: Vault, group: Internal, url: '{}', interval: 1s, timeout: 1s }}\n\
         pages:\n\
         \x20 - {{ slug: '', title: Example status, groups: [Shop, API] }}\n\
         \x20 - {{ slug: ops, title: Operations, monitors: [vault], private: true, access_key: '{KEY}' }}\n\
         notifiers:\n  - {{ name: mail, type: email, smtp: {{ host: 127.0.0.1, port: 1, security: none }}, from: status@example.com, to: [oncall@example.com] }}\n\
         subscriptions: {{ notifier: mail }}\n",
        origin.url("/"),
        origin.url("/api"),
        origin.url("/vault"),
    );
    let server = format!("admin_token: {ADMIN}, public_url: 'https://status.example.com'");
    let app = spawn_app_config(&server, &rest).await;
    (app, origin)
}

/// An answer: status and body.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Answer {
    let mut request = http::Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = send(addr, request, Bytes::from(body.to_owned())).await;
    Answer {
        status: response.status().as_u16(),
        body: String::from_utf8_lossy(response.body()).into_owned(),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    call(addr, "GET", path, None, "").await
}

/// Posts a report as the admin; its JSON.
async fn post_report(addr: SocketAddr, body: Value) -> Value {
    let answer = call(
        addr,
        "POST",
        "/api/v1/reports",
        Some(ADMIN),
        &body.to_string(),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.json()
}

/// Posts an update as the admin; the report's JSON.
async fn post_update(addr: SocketAddr, id: &Value, status: &str, message: &str) -> Value {
    let body = serde_json::json!({ "status": status, "message": message }).to_string();
    let path = format!("/api/v1/reports/{id}/updates");
    let answer = call(addr, "POST", &path, Some(ADMIN), &body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.json()
}

/// Where `needle` is in `haystack`, or a panic naming it.
#[track_caller]
fn at(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is not in the page"))
}

#[tokio::test]
async fn a_report_and_its_updates_show_on_its_pages_and_in_the_feed_newest_first() {
    let (app, _origin) = daemon().await;
    let addr = app.addr;
    // The page is in the snapshot cache before the report is posted...
    let before = get(addr, "/").await;
    assert_eq!(before.status, 200);
    assert!(!before.body.contains("reports-h"));

    let report = post_report(
        addr,
        serde_json::json!({
            "title": EVIL,
            "status": "investigating",
            "message": "Payments fail for some users.\nSee https://status.example/pay?x=1&y=2 for details.",
            "monitors": ["shop-web"],
        }),
    )
    .await;
    let id = report["id"].clone();
    assert_eq!(report["title"], EVIL);
    assert_eq!(report["status"], "investigating");
    assert_eq!(report["resolved_at"], Value::Null);
    // ...and the next request sees it at once: posting made it stale.
    let posted = get(addr, "/").await;
    assert!(posted.body.contains(EVIL_ESCAPED), "the report is on / now");

    post_update(
        addr,
        &id,
        "identified",
        "A bad deploy of the payment proxy.",
    )
    .await;
    let updated = post_update(addr, &id, "monitoring", "Rolled back; watching.").await;
    assert_eq!(updated["status"], "monitoring");

    let list = get(addr, "/api/v1/reports").await.json();
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 1);
    let read = &list[0];
    assert_eq!(read["id"], id);
    assert_eq!(read["title"], EVIL);
    assert_eq!(read["monitors"], serde_json::json!(["shop-web"]));
    assert_eq!(read["pages"], serde_json::json!([]));
    let statuses: Vec<&str> = read["updates"]
        .as_array()
        .expect("updates")
        .iter()
        .map(|u| u["status"].as_str().expect("a status"))
        .collect();
    assert_eq!(
        statuses,
        ["investigating", "identified", "monitoring"],
        "oldest first"
    );
    assert!(
        read["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{read}"
    );
    assert_eq!(
        get(addr, "/api/v1/reports?state=resolved").await.json(),
        serde_json::json!([])
    );

    // On `/`, above the monitors, newest update first, escaped, with the
    // address a link that passes nothing on.
    let home = get(addr, "/").await.body;
    assert!(!home.contains("<script>alert(1)"), "raw script on /");
    let reports = at(&home, "id=\"reports-h\"");
    assert!(reports < at(&home, "Shop front"), "reports come first");
    let newest = at(&home, "Rolled back; watching.");
    let middle = at(&home, "A bad deploy of the payment proxy.");
    let oldest = at(&home, "Payments fail for some users.");
    assert!(newest < middle && middle < oldest, "newest first");
    assert!(
        home.contains(
            "<a href=\"https://status.example/pay?x=1&amp;y=2\" rel=\"nofollow noopener\">"
        ),
        "the address is a link"
    );
    for word in ["Investigating", "Identified", "Monitoring"] {
        assert!(home.contains(word), "{word}");
    }
    // On the page of the monitor it names, not on another's.
    let monitor = get(addr, "/monitors/shop-web").await.body;
    assert!(monitor.contains(EVIL_ESCAPED) && monitor.contains("Rolled back; watching."));
    let other = get(addr, "/monitors/api").await.body;
    assert!(!other.contains("Rolled back"), "api is not named");

    // The feed: escaped once in the title, the timeline in the content.
    let feed = get(addr, "/feed.atom").await.body;
    assert!(
        feed.contains(&format!("<id>urn:hopwatch:report:{id}</id>")),
        "{feed}"
    );
    assert!(
        feed.contains(&format!("<title>[Monitoring] {EVIL_ESCAPED}</title>")),
        "{feed}"
    );
    assert!(
        !feed.contains("<script>") && !feed.contains("\"quoted\""),
        "{feed}"
    );
    assert!(feed.contains("Rolled back; watching."), "{feed}");

    // Resolved: out of the top, into the history.
    let resolved = post_update(addr, &id, "resolved", "Fixed for good.").await;
    assert!(resolved["resolved_at"].is_string(), "{resolved}");
    assert_eq!(
        get(addr, "/api/v1/reports?state=open").await.json(),
        serde_json::json!([])
    );
    let closed = get(addr, "/api/v1/reports?state=resolved").await.json();
    assert_eq!(closed[0]["updates"].as_array().map(Vec::len), Some(4));
    let home = get(addr, "/").await.body;
    assert!(!home.contains("id=\"reports-h\""), "no open report");
    let history = at(&home, "id=\"resolved-h\"");
    assert!(at(&home, EVIL_ESCAPED) > history, "in the history");
    assert!(at(&home, "Fixed for good.") < at(&home, "Rolled back; watching."));
    assert!(!home.contains("No incidents."), "the history is not empty");
    app.stop().await;
}

#[tokio::test]
async fn a_report_of_a_private_page_stays_off_every_public_surface() {
    let (app, _origin) = daemon().await;
    let addr = app.addr;
    let hidden = "Vault keys rotate";
    let of_page = "Ops console slow";
    post_report(
        addr,
        serde_json::json!({"title": hidden, "status": "identified", "message": "m", "monitors": ["vault"]}),
    )
    .await;
    post_report(
        addr,
        serde_json::json!({"title": of_page, "status": "investigating", "message": "m", "pages": ["ops"]}),
    )
    .await;
    // Naming a public monitor too, it is public, but says nothing of the vault.
    post_report(
        addr,
        serde_json::json!({"title": "Both", "status": "monitoring", "message": "m", "monitors": ["vault", "shop-web"]}),
    )
    .await;
    for path in [
        "/",
        "/feed.atom",
        "/api/v1/reports",
        "/api/v1/reports?key=wrong",
    ] {
        let answer = get(addr, path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert!(
            !answer.body.contains(hidden) && !answer.body.contains(of_page),
            "{path}"
        );
        assert!(
            !answer.body.to_lowercase().contains("vault"),
            "{path}: {}",
            answer.body
        );
        assert!(answer.body.contains("Both"), "{path}");
    }
    let public = get(addr, "/api/v1/reports").await.json();
    assert_eq!(public[0]["monitors"], serde_json::json!(["shop-web"]));

    let titles = |json: Value| -> Vec<String> {
        json.as_array()
            .expect("an array")
            .iter()
            .map(|r| r["title"].as_str().expect("a title").to_owned())
            .collect()
    };
    let keyed = get(addr, &format!("/api/v1/reports?key={KEY}"))
        .await
        .json();
    assert_eq!(titles(keyed), ["Both", of_page, hidden], "newest first");
    let admin = call(addr, "GET", "/api/v1/reports", Some(ADMIN), "")
        .await
        .json();
    assert_eq!(
        admin[0]["monitors"],
        serde_json::json!(["vault", "shop-web"])
    );
    assert_eq!(titles(admin).len(), 3);
    let ops = get(addr, &format!("/p/ops?key={KEY}")).await.body;
    assert!(ops.contains(hidden) && ops.contains(of_page) && ops.contains("Both"));
    app.stop().await;
}

#[tokio::test]
async fn the_page_with_an_open_report_renders_at_375px_light_and_dark() {
    let (app, _origin) = daemon().await;
    let addr = app.addr;
    let report = post_report(
        addr,
        serde_json::json!({
            "title": "Checkout fails for some users while the payment provider recovers",
            "status": "investigating",
            "message": "We see errors at checkout.\nTrack it at https://status.example/incidents/2026-12-01/payments-provider-outage-with-a-very-long-address-that-must-wrap",
            "monitors": ["shop-web"],
        }),
    )
    .await;
    post_update(
        addr,
        &report["id"],
        "identified",
        "The provider's API answers 503.",
    )
    .await;
    let driver = Driver::start().await;
    let browser = driver.session(1280, 900).await;
    let look = "return {
        updates: [...document.querySelectorAll('.report .updates li .word')].map(w => w.textContent),
        link: document.querySelector('.report .msg a').getAttribute('rel'),
    };";
    browser.goto(&format!("http://{addr}/")).await;
    let page = browser.eval(look).await;
    assert_eq!(
        page["updates"],
        serde_json::json!(["Identified", "Investigating"]),
        "{page}"
    );
    assert_eq!(page["link"], "nofollow noopener", "{page}");
    assert_quiet_console("/ with a report", &browser.console().await);
    save(&browser, "report-1280.png").await;
    fits_a_phone(
        &browser,
        &format!("http://{addr}/"),
        "/ with a report",
        "report",
    )
    .await;
    // The subscribe form, sent without the browser's own check of the
    // address (as a browser without it would): the error shows with the
    // form and fits the phone; then a good address is taken.
    for (email, answer) in [
        ("not an address", "#subscribe-error"),
        ("reader@example.com", "main h1"),
    ] {
        browser.goto(&format!("http://{addr}/")).await;
        let script = format!(
            "const form = document.querySelector('.subscribe form');
             form.querySelector('input[name=email]').value = {email:?};
             form.submit(); return true;"
        );
        browser.eval(&script).await;
        // The answer replaces the status page (which has a report card).
        let look = format!(
            "const e = document.querySelector({answer:?});
             return document.querySelector('.report') ? null : (e && e.textContent);"
        );
        let mut seen = Value::Null;
        for _ in 0..100 {
            seen = browser.eval(&look).await;
            if !seen.is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let fits = browser.eval(super::FITS).await;
        assert!(fits[0].as_u64() <= fits[1].as_u64(), "{email}: {fits}");
        // Chromium logs the 400 of a refused address as a failed load;
        // that answer is the point here, anything else is not.
        let console: Vec<Value> = browser
            .console()
            .await
            .into_iter()
            .filter(|e| {
                let message = e["message"].as_str().unwrap_or_default();
                !(e["source"] == "network"
                    && message.contains("/subscribe - ")
                    && message.contains("400"))
            })
            .collect();
        assert_quiet_console("the subscribe answer", &console);
        if email == "reader@example.com" {
            assert_eq!(seen, "Check your inbox");
        } else {
            let text = seen.as_str().unwrap_or_default();
            assert!(text.contains("email address"), "{seen}");
            save(&browser, "subscribe-error-375-dark.png").await;
        }
    }
    drop(browser);
    drop(driver);
    app.stop().await;
}
