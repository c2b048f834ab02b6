//! The http probe against peers that misbehave on purpose (garbage, resets,
//! stalls, huge bodies, redirect loops) and against its own expectations.

use std::time::Duration;

use hopwatch::probe::{Cause, Hop};
use serde_json::json;

use crate::helpers::{
    assert_cause, assert_hop, blackhole, check, free_port, spawn_close_before_headers,
    spawn_delayed, spawn_garbage, spawn_headers_then_stall, spawn_huge_body, spawn_redirect_loop,
    spawn_reset, spawn_slow_drip, spawn_status,
};

/// A check of `url` with a short timeout, for peers that hang.
fn quick(url: String) -> serde_json::Value {
    json!({ "url": url, "timeout": "1s" })
}

#[tokio::test]
async fn garbage_instead_of_http_is_a_protocol_error() {
    let peer = spawn_garbage().await;
    let result = check(json!({ "url": peer.url("/") })).await;
    assert_cause(&result, Cause::ProtocolError);
    assert_eq!(result.status, None);
    assert_eq!(peer.requests(), 1);
}

#[tokio::test]
async fn close_before_headers_is_connection_reset() {
    let peer = spawn_close_before_headers().await;
    let result = check(json!({ "url": peer.url("/") })).await;
    assert_cause(&result, Cause::ConnectionReset);
    assert_eq!(peer.requests(), 1, "the request must have been sent");
}

#[tokio::test]
async fn rst_after_the_request_is_connection_reset() {
    let peer = spawn_reset().await;
    let result = check(json!({ "url": peer.url("/") })).await;
    assert_cause(&result, Cause::ConnectionReset);
    assert_eq!(peer.requests(), 1, "the request must have been sent");
}

#[tokio::test]
async fn headers_then_silence_is_a_timeout() {
    let peer = spawn_headers_then_stall().await;
    let result = check(quick(peer.url("/"))).await;
    assert_cause(&result, Cause::Timeout);
}

#[tokio::test]
async fn body_dripping_slower_than_the_timeout_is_a_timeout() {
    let peer = spawn_slow_drip().await;
    let result = check(quick(peer.url("/"))).await;
    assert_cause(&result, Cause::Timeout);
}

/// A 50 MiB body is not a failure when nothing reads it, and the probe
/// stops after its 1 MiB cap instead of downloading it all.
#[tokio::test]
async fn huge_body_is_ok_and_mostly_left_unread() {
    const SIZE: u64 = 50 << 20;
    let peer = spawn_huge_body(SIZE).await;

    let result = check(json!({ "url": peer.url("/big"), "timeout": "10s" })).await;

    assert_cause(&result, Cause::Ok);
    peer.wait_finished(1).await;
    assert_eq!(
        peer.closed_early(),
        1,
        "the probe should hang up before the end of the body"
    );
    // What the peer wrote is the 1 MiB the probe read plus what loopback
    // socket buffers absorbed (a few MiB): far from the 50 MiB offered.
    let written = peer.bytes_written();
    assert!(
        written < SIZE / 2,
        "the peer wrote {written} of {SIZE} bytes"
    );
}

#[tokio::test]
async fn redirect_loop_stops_after_ten_redirects() {
    let peer = spawn_redirect_loop().await;

    let result = check(json!({ "url": peer.url("/loop/0") })).await;

    assert_cause(&result, Cause::HttpStatus);
    let error = result.error.clone().unwrap_or_default();
    assert!(
        error.contains("redirect"),
        "the error should say why: {result:#?}"
    );
    let requests = peer.requests();
    assert!(
        (2..=11).contains(&requests),
        "{requests} requests: at most 10 redirects are followed"
    );
}

#[tokio::test]
async fn redirects_are_not_followed_when_disabled() {
    let peer = spawn_redirect_loop().await;
    let result = check(
        json!({ "url": peer.url("/"), "follow_redirects": false, "expect": { "status": [302] } }),
    )
    .await;
    assert_cause(&result, Cause::Ok);
    assert_eq!(peer.requests(), 1);
}

#[tokio::test]
async fn closed_port_is_connect_refused() {
    let port = free_port();
    let result = check(json!({ "url": format!("http://127.0.0.1:{port}/") })).await;
    assert_cause(&result, Cause::ConnectRefused);
}

#[tokio::test]
async fn unanswered_syn_is_connect_timeout() {
    let hole = blackhole().await;
    let result = check(quick(format!("http://{}/", hole.addr))).await;
    assert_cause(&result, Cause::ConnectTimeout);
    assert_hop(&result, Hop::Network);
}

#[tokio::test]
async fn unknown_name_is_dns_nxdomain() {
    let result = check(json!({ "url": "http://name.invalid/", "timeout": "5s" })).await;
    assert_cause(&result, Cause::DnsNxdomain);
    assert_hop(&result, Hop::Dns);
}

#[tokio::test]
async fn unexpected_status_is_http_status() {
    let peer = spawn_status(404, &[], "no such page").await;
    let result = check(json!({ "url": peer.url("/health") })).await;
    assert_cause(&result, Cause::HttpStatus);
    assert_eq!(result.status, Some(404));
}

#[tokio::test]
async fn expected_status_class_accepts_it() {
    let peer = spawn_status(404, &[], "no such page").await;
    let result =
        check(json!({ "url": peer.url("/health"), "expect": { "status": ["4xx"] } })).await;
    assert_cause(&result, Cause::Ok);
}

const APP_JSON: &str = r#"{"status":"ok","db":{"up":true,"lag":3}}"#;

async fn app() -> crate::helpers::Peer {
    spawn_status(
        200,
        &[("Content-Type", "application/json"), ("X-App", "shop")],
        APP_JSON,
    )
    .await
}

async fn check_app(expect: serde_json::Value) -> hopwatch::probe::CheckResult {
    let peer = app().await;
    check(json!({ "url": peer.url("/health"), "expect": expect })).await
}

#[tokio::test]
async fn met_expectations_are_ok() {
    let result = check_app(json!({
        "status": [200],
        "body_contains": "\"status\":\"ok\"",
        "body_regex": "\"lag\":[0-9]+",
        "json": { "$.status": "ok", "$.db.up": true, "$.db.lag": 3 },
        "headers": { "x-app": "shop", "Content-Type": "application/json" },
    }))
    .await;
    assert_cause(&result, Cause::Ok);
}

#[tokio::test]
async fn missing_body_text_is_assertion_failed() {
    let result = check_app(json!({ "body_contains": "\"status\":\"up\"" })).await;
    assert_cause(&result, Cause::AssertionFailed);
    assert_eq!(result.status, Some(200));
}

#[tokio::test]
async fn unmatched_body_regex_is_assertion_failed() {
    let result = check_app(json!({ "body_regex": "^<html>" })).await;
    assert_cause(&result, Cause::AssertionFailed);
}

#[tokio::test]
async fn wrong_json_value_is_assertion_failed() {
    let result = check_app(json!({ "json": { "$.db.up": false } })).await;
    assert_cause(&result, Cause::AssertionFailed);
}

#[tokio::test]
async fn wrong_header_is_assertion_failed() {
    let result = check_app(json!({ "headers": { "x-app": "blog" } })).await;
    assert_cause(&result, Cause::AssertionFailed);
}

/// Deterministic without looking at figures: the peer waits 300ms before
/// answering, six times the allowed 50ms.
#[tokio::test]
async fn slower_than_max_latency_is_too_slow() {
    let peer = spawn_delayed(Duration::from_millis(300), 200, "fine").await;
    let result = check(json!({ "url": peer.url("/"), "expect": { "max_latency": "50ms" } })).await;
    assert_cause(&result, Cause::TooSlow);
    assert_eq!(result.status, Some(200));
}

/// `resolve` connects to the given address but keeps the URL's host in the
/// Host header, like curl --resolve.
#[tokio::test]
async fn resolve_connects_there_and_keeps_the_host() {
    let peer = spawn_status(200, &[], "hello").await;
    let port = peer.port();

    let result = check(json!({
        "url": format!("http://example.test:{port}/health"),
        "resolve": format!("127.0.0.1:{port}"),
    }))
    .await;

    assert_cause(&result, Cause::Ok);
    assert_eq!(result.remote_addr, Some(peer.addr));
    let heads = peer.heads();
    assert_eq!(heads.len(), 1);
    let host = heads[0]
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.trim().to_owned());
    assert_eq!(
        host,
        Some(format!("example.test:{port}")),
        "request head:\n{}",
        heads[0]
    );
}

/// Which phases ran, not how long they took.
#[tokio::test]
async fn plain_http_has_connect_and_ttfb_but_no_tls_or_dns() {
    let peer = spawn_status(200, &[], "hello").await;
    let result = check(json!({ "url": peer.url("/") })).await;
    assert_cause(&result, Cause::Ok);
    let phases = result.phases_ms;
    assert!(phases.connect > 0.0, "{phases:?}");
    assert!(phases.ttfb > 0.0, "{phases:?}");
    assert_eq!(phases.tls, 0.0, "no TLS on plain http: {phases:?}");
    assert_eq!(phases.dns, 0.0, "no DNS for an IP literal: {phases:?}");
    assert!(result.latency_ms > 0.0);
}

#[tokio::test]
async fn failed_check_keeps_evidence_with_secrets_masked() {
    let body = "upstream exploded: connection pool exhausted";
    let peer = spawn_status(
        502,
        &[
            ("Set-Cookie", "session=s3cr3t-value; Path=/"),
            ("X-Request-Id", "req-4711"),
        ],
        body,
    )
    .await;

    let result = check(json!({ "url": peer.url("/") })).await;

    assert_cause(&result, Cause::Http502);
    let evidence = result
        .evidence
        .as_ref()
        .unwrap_or_else(|| panic!("no evidence: {result:#?}"));
    assert!(evidence.body_excerpt.contains(body), "{evidence:#?}");
    let cookie = evidence
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.as_str());
    let cookie = cookie
        .unwrap_or_else(|| panic!("the Set-Cookie header should be kept, masked: {evidence:#?}"));
    assert!(
        !cookie.contains("s3cr3t-value"),
        "the cookie leaked: {cookie}"
    );
    assert_eq!(
        evidence.request_id.as_deref(),
        Some("req-4711"),
        "{evidence:#?}"
    );
}
