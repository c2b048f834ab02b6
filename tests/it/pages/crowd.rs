//! A status page with more monitors than fit on one screen: groups fold
//! into summary lines that work without JavaScript, and the page stays small.

use std::io::Write as _;

use super::fixture::{CROWD_GROUPS, crowd_member, crowd_name, fetch, push_crowd};
use super::webdriver::Driver;
use super::{FITS, assert_quiet_console, assert_secure_html, bar_svgs, save};

/// Monitors in the crowd: well past the fold threshold of 50.
const CROWD: usize = 120;
/// What a folded page may cost per monitor, uncompressed: a light row is a
/// link, a state and one figure, where a full row with its bar is ~2 KB.
const MAX_BYTES_PER_MONITOR: usize = 400;
/// The contract's budget for the status page, gzip-compressed.
const MAX_GZIP_BYTES: usize = 200 * 1024;

fn gzip(text: &str) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).expect("compress");
    encoder.finish().expect("compress").len()
}

/// Each folded group of a page: (the `<details ...>` tag, its whole markup).
fn folded_groups(html: &str) -> Vec<(&str, &str)> {
    html.match_indices("<details class=\"group fold\"")
        .map(|(at, _)| {
            let rest = &html[at..];
            let tag = &rest[..rest.find('>').expect("a closed tag") + 1];
            let end = rest.find("</details>").expect("a closed details");
            (tag, &rest[..end])
        })
        .collect()
}

#[tokio::test]
async fn a_crowd_folds_into_group_lines_that_name_the_worst_and_stay_small() {
    let app = push_crowd(CROWD).await;
    let (status, headers, home) = fetch(app.addr, "/").await;
    assert_eq!(status, 200);
    assert_secure_html("/", &headers);
    assert!(
        !home.contains(" style=") && !home.contains("<script>"),
        "nothing inline that the CSP would block"
    );

    let groups = folded_groups(&home);
    let names: Vec<String> = CROWD_GROUPS
        .iter()
        .chain(&["Other"])
        .map(|g| (*g).to_owned())
        .collect();
    assert_eq!(
        groups.len(),
        names.len(),
        "one folded group each: {names:?}"
    );
    for ((tag, markup), name) in groups.iter().zip(&names) {
        let members: Vec<usize> = (0..CROWD)
            .filter(|m| crowd_member(*m).0.unwrap_or("Other") == name)
            .collect();
        let count = |state: &str| {
            members
                .iter()
                .filter(|m| crowd_member(**m).1 == state)
                .count()
        };
        let expected_counts = ["up", "down", "unknown"]
            .iter()
            .filter(|s| count(s) > 0)
            .map(|s| format!("{}\u{a0}{s}", count(s)))
            .collect::<Vec<_>>()
            .join(" · ");
        let summary = &markup[..markup.find("</summary>").expect("a summary")];
        assert!(
            summary.contains(&format!("<summary><h2>{name}</h2>")),
            "{summary}"
        );
        assert!(
            summary.contains(&format!("<span class=\"counts\">{expected_counts}</span>")),
            "{name}: counts {expected_counts:?} in {summary}"
        );
        // The worst: down before unknown before up, first in config order.
        let worst = ["down", "unknown"]
            .iter()
            .find_map(|s| members.iter().find(|m| crowd_member(**m).1 == *s));
        match worst {
            Some(m) => {
                let state = crowd_member(*m).1;
                assert!(summary.contains(&format!("s-{state}")), "{summary}");
                assert!(
                    summary.contains(&format!(
                        "worst: <a href=\"/monitors/{}\">Nightly job {m:04} (eu-west-1)</a>",
                        crowd_name(*m)
                    )),
                    "{name}: worst is {m} in {summary}"
                );
            }
            None => assert!(!summary.contains("worst"), "{summary}"),
        }
        // Open by default only where something is down.
        assert_eq!(tag.contains(" open"), count("down") > 0, "{name}: {tag}");
        // Every member is listed, inside its group, linked to its page.
        for m in &members {
            assert!(
                markup.contains(&format!("href=\"/monitors/{}\"", crowd_name(*m))),
                "{name} lacks monitor {m}"
            );
        }
    }

    // Bars only for the down monitors of the open groups.
    let bars = bar_svgs(&home);
    let down = (0..CROWD).filter(|m| crowd_member(*m).1 == "down").count();
    assert_eq!(bars.len(), down);
    assert_eq!(
        home.matches("<div class=\"mon\">").count(),
        down,
        "full rows for the down monitors"
    );

    let compressed = gzip(&home);
    eprintln!(
        "status page of {CROWD} monitors: {} bytes, {compressed} gzip, {} bytes a monitor",
        home.len(),
        home.len() / CROWD
    );
    assert!(
        home.len() < CROWD * MAX_BYTES_PER_MONITOR,
        "/ is {} bytes for {CROWD} monitors",
        home.len()
    );
    assert!(compressed < MAX_GZIP_BYTES, "/ is {compressed} bytes gzip");
    app.stop().await;
}

#[tokio::test]
async fn folded_groups_open_and_close_in_chromium_and_fit_a_phone() {
    let app = push_crowd(CROWD).await;
    let driver = Driver::start().await;
    let browser = driver.session(1280, 900).await;
    browser.emulate_phone(375, 800).await;
    browser.goto(&format!("http://{}/", app.addr)).await;
    save(&browser, "status-crowd-375.png").await;
    // Clicking a summary is the browser's own doing: no script involved.
    let groups = browser
        .eval(
            "const groups = [...document.querySelectorAll('details.group')];
             const before = groups.map(d => d.open);
             const closed = groups.find(d => !d.open);
             const hidden = closed.querySelector('.lite a').checkVisibility();
             closed.querySelector('summary').click();
             const shown = closed.querySelector('.lite a').checkVisibility();
             return {
               before, hidden, shown, opened: closed.open,
               summaryColor: getComputedStyle(closed.querySelector('summary')).color,
               headingInline: getComputedStyle(closed.querySelector('summary h2')).display,
             };",
        )
        .await;
    assert_eq!(
        groups["before"],
        serde_json::json!([false, true, false, true]),
        "the groups with a monitor down are open: {groups}"
    );
    assert_eq!(
        groups["hidden"], false,
        "a closed group's rows are hidden: {groups}"
    );
    assert_eq!(groups["opened"], true, "a click opens it: {groups}");
    assert_eq!(groups["shown"], true, "and shows its rows: {groups}");
    assert_eq!(
        groups["headingInline"], "inline",
        "the stylesheet applied: {groups}"
    );
    let fits = browser.eval(FITS).await;
    assert!(
        fits[0].as_u64() <= fits[1].as_u64(),
        "/ scrolls sideways at 375 px: {fits}"
    );
    assert_quiet_console("/", &browser.console().await);
    app.stop().await;
}
