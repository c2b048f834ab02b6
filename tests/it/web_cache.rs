//! Render once, serve many: pages, the status API, the feed, badges and
//! /metrics come from compressed snapshots with ETags; a crowd costs a
//! bounded number of renders; a state change still shows; the admin never
//! gets the visitor's copy; junk query strings cannot grow the cache.

use std::io::Read as _;
use std::time::Duration;

use axum::body::Bytes;

use crate::api::Daemon;
use crate::helpers::{Origin, send, spawn_status};

/// The admin token of these tests' daemons.
const TOKEN: &str = "cache-t0ken";
/// Snapshots kept at most (`MAX_ENTRIES` in `src/web/snapshot`).
const MAX_ENTRIES: i64 = 256;
/// Polls of a bounded wait, 50 ms apart.
const POLLS: usize = 200;

/// An answer with its raw (still encoded) body.
struct Raw {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Raw {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The ETag without quotes and without the coding's suffix: the digest
    /// of the identity bytes, the same for every coding.
    fn digest(&self) -> &str {
        let tag = self.header("etag").trim_matches('"');
        tag.split('-').next().unwrap_or(tag)
    }

    /// The body decoded from its `Content-Encoding`.
    fn decoded(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.header("content-encoding") {
            "gzip" => {
                flate2::read::GzDecoder::new(&self.body[..])
                    .read_to_end(&mut out)
                    .expect("valid gzip");
            }
            "br" => {
                brotli::Decompressor::new(&self.body[..], 4096)
                    .read_to_end(&mut out)
                    .expect("valid brotli");
            }
            "" => out = self.body.to_vec(),
            other => panic!("unexpected coding {other}"),
        }
        out
    }
}

/// GET `path` with extra request headers.
async fn fetch(daemon: &Daemon, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut request = http::Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (parts, body) = send(daemon.addr, request, Bytes::new()).await.into_parts();
    Raw {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

/// A daemon watching one healthy origin, `web`, with an admin token.
async fn daemon_with_origin() -> (Daemon, Origin) {
    let origin = Origin::spawn().await;
    let rest = format!(
        "monitors:\n  - {{ name: web, url: '{}', interval: 1s, timeout: 1s }}\n",
        origin.url("/")
    );
    let daemon = Daemon::spawn(&format!("admin_token: {TOKEN}"), &rest).await;
    wait_for_state(&daemon, "web", "up").await;
    (daemon, origin)
}

/// Polls `/api/v1/status` (as a visitor, so through the snapshot) until
/// `monitor` is in `state`.
async fn wait_for_state(daemon: &Daemon, monitor: &str, state: &str) {
    for _ in 0..POLLS {
        let answer = fetch(daemon, "/api/v1/status", &[]).await;
        let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
        let found = json["monitors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["name"] == monitor && m["state"] == state);
        if found {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{monitor} never became {state}");
}

fn renders(daemon: &Daemon, route: &str) -> u64 {
    daemon
        .state
        .metrics
        .web_renders
        .with_label_values(&[route])
        .get()
}

#[tokio::test]
async fn every_coding_decodes_to_the_same_bytes_and_an_etag_revalidates() {
    let (daemon, _origin) = daemon_with_origin().await;
    for path in [
        "/",
        "/monitors/web",
        "/api/v1/status",
        "/feed.atom",
        "/badge/web/status.svg",
        "/metrics",
    ] {
        // A snapshot may be rebuilt between two requests (its ages move
        // on); the ETag's digest tells when all three came from one.
        let mut compared = false;
        for _ in 0..POLLS {
            let plain = fetch(&daemon, path, &[]).await;
            let gzip = fetch(&daemon, path, &[("accept-encoding", "gzip")]).await;
            let br = fetch(&daemon, path, &[("accept-encoding", "gzip, deflate, br")]).await;
            for answer in [&plain, &gzip, &br] {
                assert_eq!(answer.status, 200, "{path}");
                assert_eq!(answer.header("vary"), "Accept-Encoding", "{path}");
                assert!(!answer.header("cache-control").is_empty(), "{path}");
            }
            assert_eq!(plain.header("content-encoding"), "", "{path}");
            assert_eq!(gzip.header("content-encoding"), "gzip", "{path}");
            assert_eq!(br.header("content-encoding"), "br", "{path}");
            assert_ne!(plain.header("etag"), gzip.header("etag"), "{path}");
            if plain.digest() != gzip.digest() || plain.digest() != br.digest() {
                continue;
            }
            assert_eq!(gzip.decoded(), plain.body, "{path}: gzip");
            assert_eq!(br.decoded(), plain.body, "{path}: br");
            if path == "/" {
                eprintln!(
                    "/ of one monitor: identity {} B, gzip {} B, br {} B",
                    plain.body.len(),
                    gzip.body.len(),
                    br.body.len()
                );
            }
            if path == "/metrics" {
                assert_eq!(
                    plain.header("content-type"),
                    "text/plain; version=0.0.4; charset=utf-8"
                );
            }
            // The tag of any coding names the content: 304, no body.
            let etag = br.header("etag").to_owned();
            let not_modified = fetch(&daemon, path, &[("if-none-match", &etag)]).await;
            if not_modified.status == 200 {
                // Rebuilt in between with new content; try again.
                continue;
            }
            assert_eq!(not_modified.status, 304, "{path}");
            assert!(not_modified.body.is_empty(), "{path}: a 304 has no body");
            assert_eq!(not_modified.header("etag"), plain.header("etag"), "{path}");
            let other = fetch(&daemon, path, &[("if-none-match", "\"nope\"")]).await;
            assert_eq!(other.status, 200, "{path}");
            compared = true;
            break;
        }
        assert!(compared, "{path}: never got one snapshot in all codings");
    }
    daemon.stop().await;
}

#[tokio::test]
async fn a_crowd_of_readers_costs_a_bounded_number_of_renders() {
    let (daemon, _origin) = daemon_with_origin().await;
    let daemon = std::sync::Arc::new(daemon);
    for route in ["/", "/metrics"] {
        let before = renders(&daemon, route);
        let crowd: Vec<_> = (0..128)
            .map(|i| {
                let daemon = daemon.clone();
                let encoding = ["gzip", "br", "identity"][i % 3];
                tokio::spawn(async move {
                    fetch(&daemon, route, &[("accept-encoding", encoding)])
                        .await
                        .status
                })
            })
            .collect();
        for reader in crowd {
            assert_eq!(reader.await.expect("reader"), 200);
        }
        let rendered = renders(&daemon, route) - before;
        eprintln!("{route}: 128 concurrent readers, {rendered} renders");
        // One render serves everyone who asks within a second; a slow
        // machine may take a few seconds over 128 requests, never 16.
        assert!(
            (1..16).contains(&rendered),
            "{route}: 128 readers caused {rendered} renders"
        );
    }
    if let Ok(daemon) = std::sync::Arc::try_unwrap(daemon) {
        daemon.stop().await;
    }
}

#[tokio::test]
async fn an_origin_going_down_shows_on_the_next_rebuild() {
    let (daemon, origin) = daemon_with_origin().await;
    // The visitor's snapshot says up...
    let page = fetch(&daemon, "/monitors/web", &[]).await;
    assert_eq!(page.status, 200);
    origin.stop().await;
    // ...and the next rebuild after the failed check says down.
    wait_for_state(&daemon, "web", "down").await;
    daemon.stop().await;
}

#[tokio::test]
async fn the_admin_is_never_served_the_visitors_copy_nor_fills_it() {
    const MARKER: &str = "cache-evidence-marker";
    let failing = spawn_status(502, &[], &format!("<h1>{MARKER}</h1>")).await;
    let rest = format!(
        "monitors:\n  - {{ name: edge, url: '{}', interval: 1s, timeout: 1s }}\n",
        failing.url("/")
    );
    let daemon = Daemon::spawn(&format!("admin_token: {TOKEN}"), &rest).await;
    let bearer = format!("Bearer {TOKEN}");
    let admin = [("authorization", bearer.as_str())];
    let mut seen = false;
    for _ in 0..POLLS {
        // The visitor asks first, so a snapshot exists when the admin asks.
        let visitor = fetch(&daemon, "/api/v1/status", &[]).await;
        assert!(
            !String::from_utf8_lossy(&visitor.body).contains(MARKER),
            "a visitor sees no body excerpt"
        );
        let whole = fetch(&daemon, "/api/v1/status", &admin).await;
        if String::from_utf8_lossy(&whole.body).contains(MARKER) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "the admin sees the body excerpt");
    // The admin's answer did not become the visitor's.
    let visitor = fetch(&daemon, "/api/v1/status", &[]).await;
    assert!(!String::from_utf8_lossy(&visitor.body).contains(MARKER));
    // The admin's answer has no ETag: it never was a snapshot.
    let whole = fetch(&daemon, "/api/v1/status", &admin).await;
    assert_eq!(whole.header("etag"), "");
    // A wrong token reads as a visitor and is served the visitor's
    // snapshot, so junk tokens cannot force a render each.
    let junk = fetch(
        &daemon,
        "/api/v1/status",
        &[("authorization", "Bearer junk")],
    )
    .await;
    assert!(!String::from_utf8_lossy(&junk.body).contains(MARKER));
    assert_ne!(junk.header("etag"), "", "served from the snapshot");
    daemon.stop().await;
}

#[tokio::test]
async fn junk_paths_and_query_strings_do_not_grow_the_cache() {
    let (daemon, _origin) = daemon_with_origin().await;
    let held = || daemon.state.metrics.web_snapshots.get();
    for i in 0..MAX_ENTRIES + 64 {
        let answer = fetch(&daemon, &format!("/api/v1/status?junk={i}"), &[]).await;
        assert_eq!(answer.status, 200);
        assert!(held() <= MAX_ENTRIES, "{} snapshots held", held());
    }
    assert_eq!(held(), MAX_ENTRIES, "the oldest were evicted, not refused");
    // Answers other than 200 are never kept.
    let before = held();
    for i in 0..32 {
        let answer = fetch(&daemon, &format!("/monitors/nobody-{i}"), &[]).await;
        assert_eq!(answer.status, 404);
    }
    assert_eq!(held(), before);
    assert!(daemon.state.metrics.web_snapshot_bytes.get() > 0);
    daemon.stop().await;
}
