//! Targets that attack hopwatch through what they answer: evidence stays
//! bounded however much a target sends, and secrets in it stay masked on
//! every page, API answer, feed and alert.

use std::time::Duration;

use crate::api::{Daemon, TOKEN};
use crate::helpers::spawn_status;

/// Headers of the hostile answer: as many, as long, as hyper's client takes
/// (100 headers and about 400 KB of head) before refusing the answer.
const HUGE_HEADERS: usize = 90;
const HUGE_NAME: usize = 2_400;
const HUGE_VALUE: usize = 2_000;
/// The contract's bounds on evidence (section 10).
const MAX_HEADERS: usize = 64;
const MAX_NAME: usize = 256;
const MAX_VALUE: usize = 1_024;
const MAX_HEADER_BYTES: usize = 8 * 1_024;
const MAX_EXCERPT: usize = 2 * 1_024;
/// What one failed check may cost at most, stored or answered: the bounded
/// evidence plus room for JSON escaping and the rest of the row.
const MAX_PER_CHECK: usize = 16 * 1_024;

/// Polls (at most 20 s) until `monitor` has `n` stored checks.
async fn wait_stored(daemon: &Daemon, monitor: &str, n: i64) {
    for _ in 0..200 {
        if daemon.stored(monitor).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{monitor} never had {n} stored checks");
}

#[tokio::test]
async fn a_target_with_huge_headers_costs_a_bounded_amount_per_check() {
    let headers: Vec<(String, String)> = (0..HUGE_HEADERS)
        .map(|i| {
            let name = format!("x-h{i:02}-{}", "n".repeat(HUGE_NAME));
            (name, "v".repeat(HUGE_VALUE))
        })
        .collect();
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let body = "x".repeat(200 * 1_024);
    let peer = spawn_status(500, &pairs, &body).await;
    let daemon = Daemon::spawn(
        &format!("admin_token: {TOKEN}"),
        &format!(
            "monitors:\n  - {{ name: hostile, url: '{}', interval: 1s, timeout: 1s }}\n",
            peer.url("/")
        ),
    )
    .await;
    wait_stored(&daemon, "hostile", 3).await;

    let id = daemon.state.monitor_id("hostile").expect("monitor id");
    let rows = daemon.state.store.checks(id, 0, 1_000).await.expect("rows");
    let sizes: Vec<usize> = rows
        .iter()
        .map(|r| r.detail.as_deref().map_or(0, str::len))
        .collect();
    eprintln!("stored detail bytes per failed check: {sizes:?}");
    assert!(
        sizes.iter().all(|&s| s > 0 && s <= MAX_PER_CHECK),
        "each failed check stores at most {MAX_PER_CHECK} bytes: {sizes:?}"
    );

    let answer = daemon
        .request(
            "GET",
            "/api/v1/monitors/hostile/checks?limit=1000",
            Some(TOKEN),
            b"",
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let checks = answer.json();
    let checks = checks.as_array().expect("a list");
    eprintln!(
        "API answer: {} bytes for {} checks",
        answer.body.len(),
        checks.len()
    );
    assert!(
        answer.body.len() <= checks.len() * MAX_PER_CHECK,
        "{} bytes for {} checks",
        answer.body.len(),
        checks.len()
    );
    for check in checks {
        let evidence = &check["evidence"];
        let headers = evidence["headers"]
            .as_object()
            .unwrap_or_else(|| panic!("the admin sees the headers: {evidence:#}"));
        let dropped = evidence["headers_dropped"].as_u64().unwrap_or(0) as usize;
        // Content-Length and Connection come after the hostile ones.
        assert_eq!(headers.len() + dropped, HUGE_HEADERS + 2, "{evidence:#}");
        assert!(headers.len() <= MAX_HEADERS && dropped > 0);
        assert!(headers.contains_key("content-length"), "small headers fit");
        let mut total = 0;
        for (name, value) in headers {
            let value = value.as_str().expect("a string value");
            assert!(name.len() <= MAX_NAME, "name of {} bytes", name.len());
            assert!(value.len() <= MAX_VALUE, "value of {} bytes", value.len());
            total += name.len() + value.len();
        }
        assert!(total <= MAX_HEADER_BYTES, "{total} bytes of headers");
        let excerpt = evidence["body_excerpt"].as_str().expect("an excerpt");
        assert!(excerpt.len() <= MAX_EXCERPT && !excerpt.is_empty());
    }
    daemon.stop().await;
}
