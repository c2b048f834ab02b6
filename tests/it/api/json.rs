//! The JSON API's incidents, annotations and acknowledgements against a
//! real daemon: filters, ordering, tokens, body errors that name the field.

use std::time::{Duration, SystemTime};

use super::{Daemon, Fixture, TOKEN, URL_SECRET};

#[tokio::test]
async fn incidents_are_listed_newest_first_filtered_and_fetched_one_by_one() {
    let fixture = Fixture::start().await;
    let daemon = &fixture.daemon;

    let all = daemon.get("/api/v1/incidents").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert!(all.header("content-type").starts_with("application/json"));
    let all = all.json();
    let all = all.as_array().expect("a list");
    let started: Vec<&str> = all
        .iter()
        .map(|i| i["started_at"].as_str().expect("started_at"))
        .collect();
    let mut newest_first = started.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(started, newest_first, "newest first");
    for state in ["open", "resolved"] {
        assert!(
            all.iter().any(|i| i["state"] == state),
            "without a filter both kinds are listed: {all:#?}"
        );
        let only = daemon
            .get(&format!("/api/v1/incidents?state={state}"))
            .await;
        assert_eq!(only.status, 200);
        let only = only.json();
        let only = only.as_array().expect("a list");
        assert!(!only.is_empty());
        assert!(only.iter().all(|i| i["state"] == state), "{only:#?}");
    }
    let limited = daemon.get("/api/v1/incidents?limit=1").await.json();
    assert_eq!(limited.as_array().map(Vec::len), Some(1));

    let shop = all
        .iter()
        .find(|i| i["monitor"] == "shop-edge")
        .expect("the 502 incident");
    assert_eq!(shop["cause"], "http_502");
    assert_eq!(shop["evidence"]["status"], 502);
    assert!(!shop["verdict"]["summary"].as_str().unwrap_or("").is_empty());
    let id = shop["id"].as_str().expect("id");
    let one = daemon.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["id"], id);

    for (path, field) in [
        ("/api/v1/incidents?state=closed", "state"),
        ("/api/v1/incidents?limit=abc", "limit"),
        ("/api/v1/monitors/web/checks?since=yesterday", "since"),
    ] {
        let answer = daemon.get(path).await;
        assert_eq!(answer.status, 400, "{path}");
        assert!(
            answer.error().starts_with(&format!("{field}:")),
            "{path}: {}",
            answer.body
        );
    }
    for path in [
        "/api/v1/incidents/nope",
        "/api/v1/monitors/nope/checks",
        "/api/v1/nothing",
    ] {
        let answer = daemon.get(path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(!answer.error().is_empty());
    }
    fixture.daemon.stop().await;
}

#[tokio::test]
async fn urls_with_tokens_are_masked_in_every_answer() {
    let fixture = Fixture::start().await;
    let daemon = &fixture.daemon;
    daemon.wait_incidents("open", &["redirector"]).await;
    // With the admin token the evidence quotes the Location header:
    // present, but masked.
    let incident = daemon
        .request("GET", "/api/v1/incidents?state=open", Some(TOKEN), b"")
        .await
        .json();
    let redirect = incident
        .as_array()
        .and_then(|all| all.iter().find(|i| i["monitor"] == "redirector"))
        .expect("the redirect incident");
    let location = redirect["evidence"]["headers"]["location"]
        .as_str()
        .unwrap_or_else(|| panic!("the Location header is evidence: {redirect:#}"));
    assert_eq!(location, "http://127.0.0.1:1/next?token=***");
    for path in [
        "/api/v1/status",
        "/api/v1/incidents",
        "/api/v1/monitors/redirector/checks",
        "/feed.atom",
    ] {
        for token in [None, Some(TOKEN)] {
            let answer = daemon.request("GET", path, token, b"").await;
            assert_eq!(answer.status, 200, "{path}");
            assert!(
                !answer.body.contains(URL_SECRET),
                "{path} leaks: {}",
                answer.body
            );
        }
    }
    fixture.daemon.stop().await;
}

#[tokio::test]
async fn acknowledging_needs_the_token_and_marks_the_incident() {
    let fixture = Fixture::start().await;
    let daemon = &fixture.daemon;
    let id = fixture.incident_id("shop-edge", "open").await;
    let path = format!("/api/v1/incidents/{id}/ack");

    let anonymous = daemon.post(&path, None, "").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("www-authenticate"), "Bearer");
    assert!(anonymous.error().contains("token"), "{}", anonymous.body);
    let wrong = daemon.post(&path, Some("t0ken-for-test"), "").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.error().contains("wrong token"), "{}", wrong.body);
    let unknown = daemon
        .post("/api/v1/incidents/nope/ack", Some(TOKEN), "")
        .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.error().contains("nope"));
    let before = daemon.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(
        before["acknowledged"], false,
        "not acknowledged by the failed tries"
    );

    let done = daemon.post(&path, Some(TOKEN), "").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["id"], id.as_str());
    assert_eq!(done.json()["acknowledged"], true);
    let after = daemon.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(after["acknowledged"], true);
    fixture.daemon.stop().await;
}

fn monitors() -> String {
    "monitors:\n  - { name: web, type: tcp, target: '127.0.0.1:1', interval: 5s }\n  - { name: db, type: tcp, target: '127.0.0.1:1', interval: 5s }\n".to_owned()
}

#[tokio::test]
async fn annotations_need_the_token_and_a_body_whose_errors_name_the_field() {
    let daemon = Daemon::spawn(&format!("admin_token: {TOKEN}"), &monitors()).await;
    let path = "/api/v1/annotations";
    let good = r#"{"text": "deploy v1.4.2", "monitors": ["web"]}"#;

    let anonymous = daemon.post(path, None, good).await;
    assert_eq!(anonymous.status, 401);
    assert!(!anonymous.error().is_empty());
    let wrong = daemon.post(path, Some("nope"), good).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.error().contains("wrong token"));

    for (body, field) in [
        (r#"{"text": 5}"#, "text"),
        (r#"{"monitors": ["web"]}"#, "text"),
        (r#"{"text": "  "}"#, "text"),
        (r#"{"text": "x", "monitors": ["web", 7]}"#, "monitors[1]"),
        (
            r#"{"text": "x", "monitors": ["web", "shop"]}"#,
            "monitors[1]",
        ),
        (r#"{"text": "x", "at": "last tuesday"}"#, "at"),
        (r#"{"text": "x", "colour": "red"}"#, "colour"),
        ("{not json", "body"),
    ] {
        let answer = daemon.post(path, Some(TOKEN), body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert!(answer.error().contains(field), "{body}: {}", answer.body);
    }
    let huge = format!(r#"{{"text": "{}"}}"#, "x".repeat(20 * 1024));
    let too_big = daemon.post(path, Some(TOKEN), &huge).await;
    assert_eq!(too_big.status, 413);
    assert!(too_big.error().contains("KiB"), "{}", too_big.body);

    let created = daemon.post(path, Some(TOKEN), good).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    assert_eq!(created["text"], "deploy v1.4.2");
    assert_eq!(created["monitors"], serde_json::json!(["web"]));
    assert!(created["id"].as_i64().is_some());
    let at = "2026-01-31T12:00:00Z";
    let dated = daemon
        .post(
            path,
            Some(TOKEN),
            &format!(r#"{{"text": "schema change", "at": "{at}"}}"#),
        )
        .await;
    assert_eq!(dated.status, 201, "{}", dated.body);
    assert_eq!(dated.json()["at"], "2026-01-31T12:00:00.000Z");

    // Stored: an incident starting now would quote the first one for web
    // only, and the dated one for nobody (it is long before).
    let store = &daemon.state.store;
    let soon = SystemTime::now() + Duration::from_secs(1);
    let quoted = store.annotations_before("web", soon).await.expect("read");
    assert_eq!(quoted.len(), 1, "{quoted:?}");
    assert_eq!(quoted[0].text, "deploy v1.4.2");
    assert!(
        store
            .annotations_before("db", soon)
            .await
            .expect("read")
            .is_empty()
    );
    let then = humantime::parse_rfc3339(at).expect("time") + Duration::from_secs(60);
    let old = store.annotations_before("db", then).await.expect("read");
    assert_eq!(old.len(), 1, "an annotation without monitors concerns all");
    daemon.stop().await;
}

#[tokio::test]
async fn writes_are_disabled_without_an_admin_token() {
    let daemon = Daemon::spawn("title: no token", &monitors()).await;
    for path in ["/api/v1/annotations", "/api/v1/incidents/any/ack"] {
        let answer = daemon.post(path, Some(""), r#"{"text": "x"}"#).await;
        assert_eq!(answer.status, 401, "{path}");
        assert!(
            answer.error().contains("disabled"),
            "{path}: {}",
            answer.body
        );
        assert!(
            answer.error().contains("admin_token"),
            "{path}: {}",
            answer.body
        );
    }
    let stored = daemon
        .state
        .store
        .annotations_before("web", SystemTime::now() + Duration::from_secs(1))
        .await
        .expect("read");
    assert!(stored.is_empty(), "nothing was written");
    daemon.stop().await;
}
