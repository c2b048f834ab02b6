//! Targets that attack hopwatch through what they answer: evidence stays
//! bounded however much a target sends, and secrets in it stay masked on
//! every page, API answer, feed and alert.

use std::time::Duration;

use crate::api::{Daemon, TOKEN};
use crate::helpers::{
    Peer, Receiver, Reply, SmtpServer, read_maildir, spawn_status, wait_until_async,
};

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
/// How long a delivery may take to arrive once its incident is open.
const DELIVERED_WITHIN: Duration = Duration::from_secs(20);

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
    daemon.wait_stored("hostile", 3).await;

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

    // Without the token the headers and body stay home: a visitor's answer
    // is small however much the target sends.
    let public = daemon
        .get("/api/v1/monitors/hostile/checks?limit=1000")
        .await;
    let checks = public.json();
    let checks = checks.as_array().expect("a list");
    eprintln!(
        "tokenless API answer: {} bytes for {} checks",
        public.body.len(),
        checks.len()
    );
    assert!(public.body.len() <= checks.len() * 2_048, "{}", public.body);
    for check in checks {
        assert!(
            check["evidence"]["headers_dropped"].as_u64() > Some(0),
            "{check}"
        );
    }
    daemon.stop().await;
}

/// A URL with a password and a token, and one with an API key: what a
/// target's error page or redirect may quote.
const CALLBACK: &str = "https://bob:hunter2@x.example/cb?token=tok-s3cret";
const KEYED: &str = "https://x.example/k?api_key=key-s3cret";
/// What they must look like wherever evidence is shown.
const CALLBACK_MASKED: &str = "https://***@x.example/cb?token=***";
const KEYED_MASKED: &str = "https://x.example/k?api_key=***";
/// The parts that must never be shown.
const SECRETS: [&str; 3] = ["hunter2", "tok-s3cret", "key-s3cret"];
/// A string only the body and one header of the failing answer carry.
const MARKER: &str = "evidence-marker-7d1f";

/// A target answering 500 whose body and `Location`/`Link` headers quote
/// the secret URLs, and whose body and `X-Marker` carry [`MARKER`].
async fn leaky_target() -> Peer {
    let link = format!("<{KEYED}>; rel=\"next\"");
    let body = format!("<p>{MARKER}: retry at {CALLBACK} or {KEYED} later</p>");
    spawn_status(
        500,
        &[
            ("Location", CALLBACK),
            ("Link", link.as_str()),
            ("X-Marker", MARKER),
            ("X-Request-Id", "req-hostile-1"),
        ],
        &body,
    )
    .await
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret:?}:\n{text}");
    }
}

#[track_caller]
fn assert_masked(what: &str, text: &str) {
    assert_no_secret(what, text);
    assert!(
        text.contains(CALLBACK_MASKED),
        "{what} lacks the masked URL:\n{text}"
    );
}

/// The id of `monitor`'s open incident, once it has one and a failed
/// check of it is stored.
async fn open_incident(daemon: &Daemon, monitor: &str) -> String {
    daemon.wait_stored(monitor, 1).await;
    let list = daemon.wait_incidents("open", &[monitor]).await;
    let incident = list
        .iter()
        .find(|i| i["monitor"] == monitor)
        .expect("an incident");
    incident["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn urls_in_evidence_are_masked_on_every_page_answer_feed_and_alert() {
    let target = leaky_target().await;
    let formats = ["json", "slack", "discord", "pagerduty"];
    let mut receivers = Vec::new();
    for _ in formats {
        receivers.push(Receiver::start(Reply::Status(200)).await);
    }
    let smtp = SmtpServer::start(&[], false).await;
    let mut notifiers = String::from("notifiers:\n");
    for (format, receiver) in formats.iter().zip(&receivers) {
        let key = if *format == "pagerduty" {
            ", routing_key: R0UT1NG"
        } else {
            ""
        };
        notifiers.push_str(&format!(
            "  - {{ name: {format}, type: webhook, format: {format}, url: '{}'{key} }}\n",
            receiver.url()
        ));
    }
    notifiers.push_str(&format!(
        "  - {{ name: mail, type: email, smtp: {{ host: 127.0.0.1, port: {}, security: none }}, \
         from: alerts@example.com, to: [oncall@example.com] }}\n",
        smtp.port()
    ));
    // Evidence public: the pages show headers and body, so masking is
    // what keeps the secrets off them.
    let daemon = Daemon::spawn(
        &format!("admin_token: {TOKEN}, public_evidence: true"),
        &format!(
            "monitors:\n  - {{ name: leaky, url: '{}', interval: 1s, timeout: 1s }}\n\
             alerts:\n  - {{ name: down, monitors: [leaky], when: {{ consecutive_failures: 1 }}, \
             notify: [json, slack, discord, pagerduty, mail] }}\n{notifiers}",
            target.url("/")
        ),
    )
    .await;
    let id = open_incident(&daemon, "leaky").await;

    for path in ["/", "/monitors/leaky", &format!("/incidents/{id}")] {
        let page = daemon.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_masked(path, &page.body);
    }
    let incident_page = daemon.get(&format!("/incidents/{id}")).await.body;
    assert!(
        incident_page.contains(KEYED_MASKED),
        "the Link header, masked"
    );
    let feed = daemon.get("/feed.atom").await.body;
    assert_no_secret("the feed", &feed);
    for path in [
        "/api/v1/status".to_owned(),
        "/api/v1/monitors/leaky/checks".to_owned(),
        "/api/v1/incidents".to_owned(),
        format!("/api/v1/incidents/{id}"),
    ] {
        for token in [None, Some(TOKEN)] {
            let answer = daemon.request("GET", &path, token, b"").await;
            assert_eq!(answer.status, 200, "{path}");
            assert_masked(&path, &answer.body);
        }
    }

    for (format, receiver) in formats.iter().zip(&receivers) {
        wait_until_async(
            &format!("a {format} delivery"),
            DELIVERED_WITHIN,
            async || !receiver.seen().is_empty(),
        )
        .await;
        for (_, body) in receiver.seen() {
            assert_masked(format, &String::from_utf8_lossy(&body));
        }
    }
    let new_mail = smtp.maildir().join("new");
    wait_until_async("an email", DELIVERED_WITHIN, async || {
        std::fs::read_dir(&new_mail).is_ok_and(|d| d.count() > 0)
    })
    .await;
    let mail = read_maildir(&smtp.maildir());
    let parts = mail[0]["parts"].as_array().expect("parts");
    for part in parts {
        let text = part["text"].as_str().expect("a text part");
        assert_masked(&format!("the email's {}", part["type"]), text);
    }
    daemon.stop().await;
}

/// Every public surface that shows a check or an incident.
fn public_paths(id: &str) -> Vec<String> {
    [
        "/",
        "/monitors/leaky",
        &format!("/incidents/{id}"),
        "/feed.atom",
        "/badge/leaky/status.svg",
        "/api/v1/status",
        "/api/v1/monitors/leaky/checks",
        "/api/v1/incidents",
        &format!("/api/v1/incidents/{id}"),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The `evidence` objects of an API answer: `last_check`'s in the status,
/// the checks', or the incidents'.
fn evidence_of(json: &serde_json::Value) -> Vec<serde_json::Value> {
    let items = match json {
        serde_json::Value::Array(items) => items.clone(),
        serde_json::Value::Object(o) if o.contains_key("monitors") => json["monitors"]
            .as_array()
            .expect("monitors")
            .iter()
            .map(|m| m["last_check"].clone())
            .collect(),
        one => vec![one.clone()],
    };
    items
        .iter()
        .filter_map(|i| i.get("evidence").cloned())
        .collect()
}

#[tokio::test]
async fn response_headers_and_bodies_are_for_the_admin_unless_evidence_is_public() {
    let target = leaky_target().await;
    let monitors = format!(
        "monitors:\n  - {{ name: leaky, url: '{}', interval: 1s, timeout: 1s }}\n\
         alerts:\n  - {{ name: down, monitors: [leaky], when: {{ consecutive_failures: 1 }}, notify: [hook] }}\n\
         notifiers:\n  - {{ name: hook, type: webhook, url: 'http://127.0.0.1:1/' }}\n",
        target.url("/")
    );
    let private = Daemon::spawn(&format!("admin_token: {TOKEN}"), &monitors).await;
    let id = open_incident(&private, "leaky").await;

    for path in public_paths(&id) {
        for token in [None, Some("not-the-token")] {
            let answer = private.request("GET", &path, token, b"").await;
            assert_eq!(answer.status, 200, "{path}");
            assert!(
                !answer.body.contains(MARKER),
                "{path} shows the response to a visitor:\n{}",
                answer.body
            );
            if !path.starts_with("/api/") {
                continue;
            }
            let json = answer.json();
            let evidence = evidence_of(&json);
            assert!(!evidence.is_empty(), "{path}: the evidence object stays");
            for evidence in evidence {
                let keys = evidence.as_object().expect("an evidence object");
                assert!(
                    !keys.contains_key("headers") && !keys.contains_key("body_excerpt"),
                    "{path}: {evidence}"
                );
                assert_eq!(evidence["request_id"], "req-hostile-1", "{path}");
            }
        }
    }
    let status = private.get("/api/v1/status").await.json();
    let last = &status["monitors"][0]["last_check"];
    assert_eq!(last["cause"], "http_500", "{last}");
    assert_eq!(last["status"], 500, "{last}");
    assert!(last["responder"].is_object() && last["verdict"]["summary"].is_string());
    let incident_page = private.get(&format!("/incidents/{id}")).await.body;
    assert!(
        incident_page.contains("req-hostile-1"),
        "the request id shows"
    );

    for path in public_paths(&id).iter().filter(|p| p.starts_with("/api/")) {
        let answer = private.request("GET", path, Some(TOKEN), b"").await;
        assert!(
            answer.body.contains(MARKER),
            "{path} shows the admin everything:\n{}",
            answer.body
        );
        for evidence in evidence_of(&answer.json()) {
            assert_eq!(evidence["headers"]["x-marker"], MARKER, "{path}");
            assert!(
                evidence["body_excerpt"]
                    .as_str()
                    .is_some_and(|b| b.contains(MARKER))
            );
        }
    }
    private.stop().await;

    let public = Daemon::spawn("public_evidence: true", &monitors).await;
    let id = open_incident(&public, "leaky").await;
    for path in [
        "/".to_owned(),
        format!("/incidents/{id}"),
        "/api/v1/status".to_owned(),
        "/api/v1/monitors/leaky/checks".to_owned(),
        format!("/api/v1/incidents/{id}"),
    ] {
        let answer = public.get(&path).await;
        assert!(
            answer.body.contains(MARKER),
            "{path} shows the response to everyone:\n{}",
            answer.body
        );
    }
    public.stop().await;
}
