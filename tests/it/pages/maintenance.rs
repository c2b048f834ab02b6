//! Scheduled maintenance in headless Chromium: a page with a window under
//! way and one ahead fits 375 px in light and dark, with a quiet console.

use std::time::{Duration, SystemTime};

use super::webdriver::Driver;
use super::{assert_quiet_console, fits_a_phone, save};
use crate::helpers::spawn_app_config;

#[tokio::test]
async fn the_page_with_maintenance_renders_at_375px_light_and_dark() {
    let at = |from_now: i64| {
        let now = SystemTime::now();
        let shift = Duration::from_secs(from_now.unsigned_abs());
        let at = if from_now < 0 {
            now - shift
        } else {
            now + shift
        };
        humantime::format_rfc3339_seconds(at).to_string()
    };
    let rest = format!(
        "monitors:\n\
         \x20 - {{ name: shop-web, title: Shop front with a rather long title that must wrap, group: Shop, type: tcp, target: \"127.0.0.1:1\", interval: 1m }}\n\
         \x20 - {{ name: db, title: Database, group: Storage, type: tcp, target: \"127.0.0.1:1\", interval: 1m }}\n\
         maintenance:\n\
         \x20 - {{ monitors: [db], start: \"{}\", duration: 2h }}\n\
         \x20 - {{ monitors: [\"group:Shop\", db], start: \"{}\", duration: 3h }}\n",
        at(-600),
        at(2 * 86_400),
    );
    let app = spawn_app_config("", &rest).await;
    let addr = app.addr;
    let driver = Driver::start().await;
    let browser = driver.session(1280, 900).await;
    let look =
        "return [...document.querySelectorAll('.report.maintenance h3')].map(h => h.textContent);";
    browser.goto(&format!("http://{addr}/")).await;
    let cards = browser.eval(look).await;
    let cards: Vec<&str> = cards
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(cards.len(), 2, "{cards:?}");
    assert!(
        cards[0].starts_with("Maintenance in progress until "),
        "{cards:?}"
    );
    assert!(cards[0].ends_with(", Database"), "{cards:?}");
    assert!(cards[1].starts_with("Scheduled: "), "{cards:?}");
    assert!(cards[1].ends_with(", Shop, Database"), "{cards:?}");
    assert_quiet_console("/ with maintenance", &browser.console().await);
    save(&browser, "maintenance-1280.png").await;
    fits_a_phone(
        &browser,
        &format!("http://{addr}/"),
        "/ with maintenance",
        "maintenance",
    )
    .await;
    drop(browser);
    drop(driver);
    app.stop().await;
}
