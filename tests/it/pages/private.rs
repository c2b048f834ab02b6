//! Several pages and private ones (contract section 8) against a real
//! daemon: each page shows its own monitors; a private page opens with its
//! key or the cookie the key sets and otherwise looks like no page at all;
//! a monitor only private pages show is absent from every public surface.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use hopwatch::incident::{Incident, IncidentState};

use super::webdriver::Driver;
use super::{FITS, assert_quiet_console};
use crate::helpers::{Mode, Origin, TestApp, send, spawn_app_config, wait_until_async};

/// The private page's key, written in the config as any literal.
const KEY: &str = "0ps-k3y-7c1f";
const ADMIN: &str = "adm1n-t0k3n";
/// The private monitor's title: it must show nowhere public.
const VAULT_TITLE: &str = "Secret vault";

/// A daemon with three pages: `/` (Shop and API), `/p/shop` (Shop) and the
/// private `/p/ops` (API and the vault, which no public page shows). The
/// API and the vault fail, so each has an open incident.
struct Pages {
    app: TestApp,
    /// The vault's open incident.
    vault: Incident,
    /// The API's open incident.
    api: Incident,
    _origins: [Origin; 2],
}

async fn pages() -> Pages {
    let healthy = Origin::spawn().await;
    let broken = Origin::spawn().await;
    broken.set_mode(Mode::Status(503, "down".to_owned())).await;
    let rest = format!(
        "monitors:\n\
         \x20 - {{ name: shop-web, title: Shop front, group: Shop, url: '{}', interval: 1s, timeout: 1s }}\n\
         \x20 - {{ name: api, title: Public API, group: API, url: '{}', interval: 1s, timeout: 1s }}\n\
         \x20 - {{ name: vault, title: {VAULT_TITLE}, group: Internal, url: '{}', interval: 1s, timeout: 1s }}\n\
         alerts:\n\
         \x20 - {{ name: down, monitors: [api, vault], when: {{ consecutive_failures: 1 }}, notify: [hook] }}\n\
         notifiers:\n\
         \x20 - {{ name: hook, type: webhook, url: 'http://127.0.0.1:1/' }}\n\
         pages:\n\
         \x20 - {{ slug: '', title: Example status, groups: [Shop, API] }}\n\
         \x20 - {{ slug: shop, title: Shop status, groups: [Shop] }}\n\
         \x20 - {{ slug: ops, title: Operations, monitors: [vault, api], private: true, access_key: '{KEY}' }}\n",
        healthy.url("/"),
        broken.url("/api"),
        broken.url("/vault"),
    );
    let app = spawn_app_config(&format!("admin_token: {ADMIN}"), &rest).await;
    let vault = open_incident(&app, "vault").await;
    let api = open_incident(&app, "api").await;
    Pages {
        app,
        vault,
        api,
        _origins: [healthy, broken],
    }
}

/// Waits (bounded) for an open incident of `monitor`.
async fn open_incident(app: &TestApp, monitor: &str) -> Incident {
    let mut found = None;
    wait_until_async(
        &format!("an open incident of {monitor}"),
        Duration::from_secs(20),
        async || {
            let open = app
                .state
                .store
                .incidents(Some(IncidentState::Open), 50)
                .await
                .expect("incidents");
            found = open.into_iter().find(|i| i.monitor == monitor);
            found.is_some()
        },
    )
    .await;
    found.expect("found")
}

/// An answer: status, headers, body.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// GET `path` with these request headers.
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = http::Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = send(addr, request, Bytes::new()).await;
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: String::from_utf8_lossy(response.body()).into_owned(),
    }
}

/// Whether `text` names the vault in any way.
fn names_vault(text: &str) -> bool {
    text.to_lowercase().contains("vault")
}

/// The monitor names of a `/api/v1/status` answer.
fn status_names(body: &str) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
    json["monitors"]
        .as_array()
        .expect("monitors")
        .iter()
        .map(|m| m["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test]
async fn each_page_shows_its_monitors_and_a_private_one_opens_only_with_its_key() {
    let p = pages().await;
    let addr = p.app.addr;

    let home = get(addr, "/", &[]).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Example status"), "the page's title");
    assert!(home.body.contains("href=\"/monitors/shop-web\""));
    assert!(home.body.contains("href=\"/monitors/api\""));
    assert!(!names_vault(&home.body), "/ shows the vault");

    let shop = get(addr, "/p/shop", &[]).await;
    assert_eq!(shop.status, 200, "{}", shop.body);
    assert!(shop.body.contains("Shop status"));
    assert!(shop.body.contains("href=\"/p/shop/monitors/shop-web\""));
    assert!(
        !shop.body.contains("Public API") && !names_vault(&shop.body),
        "/p/shop shows only the Shop group"
    );
    assert_eq!(
        get(addr, "/p/shop/monitors/shop-web", &[]).await.status,
        200
    );
    assert_eq!(
        get(addr, "/p/shop/monitors/api", &[]).await.status,
        404,
        "a page's monitor pages are its own monitors'"
    );

    // A wrong or missing key answers exactly what a missing page does.
    let missing = get(addr, "/p/nope", &[]).await;
    assert_eq!(missing.status, 404);
    for path in [
        "/p/ops",
        "/p/ops?key=wrong",
        "/p/ops?key=",
        "/p/nope?key=wrong",
        "/p/ops/monitors/vault",
        "/p/ops/monitors/vault?key=0ps",
    ] {
        let answer = get(addr, path, &[]).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.body, missing.body, "{path}: another 404 body");
        assert_eq!(
            answer.header("content-type"),
            missing.header("content-type"),
            "{path}"
        );
        assert!(answer.headers.get("set-cookie").is_none(), "{path}");
    }
    let forged = format!("hopwatch_page_ops={KEY}");
    let answer = get(addr, "/p/ops", &[("cookie", &forged)]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (404, missing.body.as_str()),
        "the key itself is not the cookie"
    );

    // The right key opens the page and sets a cookie for its path only.
    let opened = get(addr, &format!("/p/ops?key={KEY}"), &[]).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert!(opened.body.contains("Operations") && opened.body.contains(VAULT_TITLE));
    assert!(opened.body.contains("href=\"/p/ops/monitors/vault\""));
    assert!(opened.body.contains("href=\"/p/ops/monitors/api\""));
    assert!(
        !opened.body.contains("Shop front"),
        "the page shows only its own"
    );
    assert!(!opened.body.contains(KEY), "the key is not in the page");
    assert_eq!(opened.header("cache-control"), "private, no-store");
    let cookie = opened.header("set-cookie").to_owned();
    assert!(cookie.starts_with("hopwatch_page_ops="), "{cookie}");
    for attribute in ["; Path=/p/ops;", "; HttpOnly", "; SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains(KEY), "the cookie is not the key: {cookie}");
    let pair = cookie.split(';').next().expect("name=value").to_owned();

    // With the cookie, the page and its monitor and incident pages open
    // without the key.
    let vault_incident = format!("/p/ops/incidents/{}", p.vault.id);
    for path in ["/p/ops", "/p/ops/monitors/vault", vault_incident.as_str()] {
        let answer = get(addr, path, &[("cookie", &pair)]).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert!(answer.body.contains(VAULT_TITLE), "{path}");
        assert_eq!(
            answer.header("cache-control"),
            "private, no-store",
            "{path}"
        );
        assert!(answer.headers.get("set-cookie").is_none(), "{path}");
    }
    // What a key holder saw is not handed to the next reader.
    let after = get(addr, "/p/ops", &[]).await;
    assert_eq!((after.status, after.body), (404, missing.body.clone()));
    // The cookie opens its own page only.
    let elsewhere = get(addr, "/p/nope", &[("cookie", &pair)]).await;
    assert_eq!(elsewhere.status, 404);
    let home = get(addr, "/", &[("cookie", &pair)]).await;
    assert!(!names_vault(&home.body));
    p.app.stop().await;
}

#[tokio::test]
async fn a_monitor_only_on_a_private_page_is_absent_from_every_public_surface() {
    let p = pages().await;
    let addr = p.app.addr;
    let admin = format!("Bearer {ADMIN}");

    for path in [
        "/",
        "/p/shop",
        "/monitors/api",
        "/feed.atom",
        "/api/v1/incidents",
    ] {
        let answer = get(addr, path, &[]).await;
        assert_eq!(answer.status, 200, "{path}");
        assert!(!names_vault(&answer.body), "{path} names the vault");
        assert!(!answer.body.contains(&p.vault.id), "{path}: its incident");
    }
    let feed = get(addr, "/feed.atom", &[]).await;
    assert!(
        feed.body.contains(&p.api.id),
        "the public incident is in the feed"
    );

    // Its badges answer as an unknown monitor's.
    let unknown = get(addr, "/badge/nope/status.svg", &[]).await;
    for file in ["status.svg", "uptime-24h.svg", "latency.svg"] {
        let badge = get(addr, &format!("/badge/vault/{file}"), &[]).await;
        assert_eq!(badge.status, 404, "{file}");
        assert_eq!(badge.body, unknown.body, "{file}");
    }
    assert_eq!(get(addr, "/badge/api/status.svg", &[]).await.status, 200);

    // Its own pages and API answers too.
    let incident = format!("/incidents/{}", p.vault.id);
    let api_incident = format!("/api/v1/incidents/{}", p.vault.id);
    for (path, nothing) in [
        ("/monitors/vault", "/monitors/nope"),
        (incident.as_str(), "/incidents/nope"),
        (api_incident.as_str(), "/api/v1/incidents/nope"),
        (
            "/api/v1/monitors/vault/checks",
            "/api/v1/monitors/nope/checks",
        ),
        (
            "/api/v1/monitors/vault/uptime",
            "/api/v1/monitors/nope/uptime",
        ),
    ] {
        let hidden = get(addr, path, &[]).await;
        let missing = get(addr, nothing, &[]).await;
        assert_eq!(hidden.status, 404, "{path}");
        assert_eq!(
            hidden
                .body
                .replace("vault", "nope")
                .replace(&p.vault.id, "nope"),
            missing.body,
            "{path} answers otherwise than {nothing}"
        );
    }
    // The page's key opens them, and the admin token the API.
    for path in [
        format!("/monitors/vault?key={KEY}"),
        format!("/incidents/{}?key={KEY}", p.vault.id),
        format!("/api/v1/monitors/vault/checks?key={KEY}"),
        format!("/api/v1/incidents/{}?key={KEY}", p.vault.id),
    ] {
        let answer = get(addr, &path, &[]).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(
            answer.header("cache-control"),
            "private, no-store",
            "{path}"
        );
    }
    let checks = get(
        addr,
        "/api/v1/monitors/vault/checks",
        &[("authorization", &admin)],
    )
    .await;
    assert_eq!(checks.status, 200);

    // The tokenless status: public monitors only, the overall state of
    // those alone; the admin token: all; the page's key: that page's.
    let public = get(addr, "/api/v1/status", &[]).await;
    assert_eq!(status_names(&public.body), ["shop-web", "api"]);
    assert!(!names_vault(&public.body));
    let wrong = get(addr, "/api/v1/status?key=wrong", &[]).await;
    assert_eq!(status_names(&wrong.body), ["shop-web", "api"]);
    let all = get(addr, "/api/v1/status", &[("authorization", &admin)]).await;
    assert_eq!(status_names(&all.body), ["shop-web", "api", "vault"]);
    let keyed = get(addr, &format!("/api/v1/status?key={KEY}"), &[]).await;
    assert_eq!(keyed.status, 200);
    assert_eq!(status_names(&keyed.body), ["api", "vault"]);
    assert_eq!(keyed.header("cache-control"), "private, no-store");
    // Asked again without it, the key's answer is not what comes back.
    let again = get(addr, "/api/v1/status", &[]).await;
    assert_eq!(status_names(&again.body), ["shop-web", "api"]);
    let grouped = get(addr, "/api/v1/status?group=Internal", &[]).await;
    assert_eq!(
        grouped.status, 400,
        "a group only private pages show is unknown"
    );
    p.app.stop().await;
}

#[tokio::test]
async fn a_private_page_loads_in_chromium_with_its_key_then_its_cookie() {
    let p = pages().await;
    let base = format!("http://{}", p.app.addr);
    let driver = Driver::start().await;
    let browser = driver.session(1280, 900).await;
    browser.emulate_phone(375, 800).await;
    let look = "return {
        brand: document.querySelector('header .brand').textContent,
        home: document.querySelector('header .brand').getAttribute('href'),
        monitors: [...document.querySelectorAll('.mon h3 a')].map(a => a.getAttribute('href')),
        cookie: document.cookie,
        heading: document.querySelector('h1').textContent,
    };";

    browser.goto(&format!("{base}/p/ops?key={KEY}")).await;
    let page = browser.eval(look).await;
    assert_eq!(page["brand"], "Operations", "{page}");
    assert_eq!(page["home"], "/p/ops", "{page}");
    assert_eq!(
        page["monitors"],
        serde_json::json!(["/p/ops/monitors/api", "/p/ops/monitors/vault"]),
        "{page}"
    );
    assert_eq!(page["cookie"], "", "the cookie is HttpOnly: {page}");
    let fits = browser.eval(FITS).await;
    assert!(
        fits[0].as_u64() <= fits[1].as_u64(),
        "scrolls sideways: {fits}"
    );
    assert_quiet_console("/p/ops?key=", &browser.console().await);

    // Later visits need no key: the browser sends the cookie.
    browser.goto(&format!("{base}/p/ops")).await;
    let again = browser.eval(look).await;
    assert_eq!(again["monitors"], page["monitors"], "{again}");
    browser.goto(&format!("{base}/p/ops/monitors/vault")).await;
    let monitor = browser.eval(look).await;
    assert_eq!(monitor["heading"], VAULT_TITLE, "{monitor}");
    assert_quiet_console("/p/ops/monitors/vault", &browser.console().await);
    drop(browser);
    drop(driver);
    p.app.stop().await;
}
