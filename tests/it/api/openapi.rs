//! The hand-kept OpenAPI document against the daemon it describes: every
//! documented operation is called, and each real answer must have a
//! documented status and content type, and match its JSON schema.

use std::collections::BTreeSet;

use hopwatch::probe::Cause;
use serde_json::{Value, json};

use super::{Fixture, PUSH_TOKEN, TOKEN};

/// One call: method, documented path, real path, token, body, expected status.
type Case = (
    &'static str,
    &'static str,
    String,
    Option<&'static str>,
    String,
    u16,
);

fn cases(incident: &str, push_token: &str) -> Vec<Case> {
    let s = |text: &str| text.to_owned();
    let none = String::new;
    let note = s(r#"{"text": "deploy v2", "monitors": ["web"]}"#);
    let report = s(
        r#"{"title": "Checkout fails", "status": "investigating", "message": "Looking.", "monitors": ["web"]}"#,
    );
    let push = |query: &str| format!("/api/v1/push/backup?{query}");
    vec![
        (
            "get",
            "/api/v1/status",
            s("/api/v1/status"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/cluster",
            s("/api/v1/cluster"),
            None,
            none(),
            200,
        ),
        // Filtered and paged: `limit=1` leaves a `next_cursor`.
        (
            "get",
            "/api/v1/status",
            s("/api/v1/status?limit=1"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/status",
            s("/api/v1/status?group=Shop&state=down,degraded"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/status",
            s("/api/v1/status?state=maybe"),
            None,
            none(),
            400,
        ),
        (
            "get",
            "/api/v1/monitors/{name}/checks",
            s("/api/v1/monitors/shop-edge/checks?limit=5"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/monitors/{name}/checks",
            s("/api/v1/monitors/web/checks"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/monitors/{name}/checks",
            s("/api/v1/monitors/web/checks?limit=abc"),
            None,
            none(),
            400,
        ),
        (
            "get",
            "/api/v1/monitors/{name}/checks",
            s("/api/v1/monitors/nope/checks"),
            None,
            none(),
            404,
        ),
        (
            "get",
            "/api/v1/monitors/{name}/uptime",
            s("/api/v1/monitors/web/uptime?by=month"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/monitors/{name}/uptime",
            s("/api/v1/monitors/web/uptime?from=2026-13-01"),
            None,
            none(),
            400,
        ),
        (
            "get",
            "/api/v1/monitors/{name}/uptime",
            s("/api/v1/monitors/nope/uptime"),
            None,
            none(),
            404,
        ),
        (
            "get",
            "/api/v1/incidents",
            s("/api/v1/incidents"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/incidents",
            s("/api/v1/incidents?state=resolved"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/incidents",
            s("/api/v1/incidents?state=maybe"),
            None,
            none(),
            400,
        ),
        (
            "get",
            "/api/v1/incidents/{id}",
            format!("/api/v1/incidents/{incident}"),
            None,
            none(),
            200,
        ),
        // With the admin token the evidence is whole: the same schemas.
        (
            "get",
            "/api/v1/status",
            s("/api/v1/status"),
            Some(TOKEN),
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/monitors/{name}/checks",
            s("/api/v1/monitors/shop-edge/checks?limit=5"),
            Some(TOKEN),
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/incidents",
            s("/api/v1/incidents"),
            Some(TOKEN),
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/incidents/{id}",
            format!("/api/v1/incidents/{incident}"),
            Some(TOKEN),
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/incidents/{id}",
            s("/api/v1/incidents/nope"),
            None,
            none(),
            404,
        ),
        (
            "post",
            "/api/v1/incidents/{id}/ack",
            format!("/api/v1/incidents/{incident}/ack"),
            None,
            none(),
            401,
        ),
        (
            "post",
            "/api/v1/incidents/{id}/ack",
            format!("/api/v1/incidents/{incident}/ack"),
            Some(TOKEN),
            none(),
            200,
        ),
        (
            "post",
            "/api/v1/incidents/{id}/ack",
            s("/api/v1/incidents/nope/ack"),
            Some(TOKEN),
            none(),
            404,
        ),
        (
            "post",
            "/api/v1/annotations",
            s("/api/v1/annotations"),
            Some(TOKEN),
            note.clone(),
            201,
        ),
        (
            "post",
            "/api/v1/annotations",
            s("/api/v1/annotations"),
            Some("wrong"),
            note,
            401,
        ),
        (
            "post",
            "/api/v1/annotations",
            s("/api/v1/annotations"),
            Some(TOKEN),
            s(r#"{"text": 1}"#),
            400,
        ),
        (
            "post",
            "/api/v1/annotations",
            s("/api/v1/annotations"),
            Some(TOKEN),
            "x".repeat(17 * 1024),
            413,
        ),
        // Reports: the fixture's database is fresh, so the first is 1.
        (
            "post",
            "/api/v1/reports",
            s("/api/v1/reports"),
            Some(TOKEN),
            report.clone(),
            201,
        ),
        (
            "post",
            "/api/v1/reports",
            s("/api/v1/reports"),
            Some("wrong"),
            report,
            401,
        ),
        (
            "post",
            "/api/v1/reports",
            s("/api/v1/reports"),
            Some(TOKEN),
            s(r#"{"title": "t", "status": "fixed", "message": "m"}"#),
            400,
        ),
        (
            "post",
            "/api/v1/reports",
            s("/api/v1/reports"),
            Some(TOKEN),
            "x".repeat(129 * 1024),
            413,
        ),
        (
            "post",
            "/api/v1/reports/{id}/updates",
            s("/api/v1/reports/1/updates"),
            Some(TOKEN),
            s(r#"{"status": "resolved", "message": "Fixed."}"#),
            201,
        ),
        (
            "post",
            "/api/v1/reports/{id}/updates",
            s("/api/v1/reports/999/updates"),
            Some(TOKEN),
            s(r#"{"status": "resolved", "message": "Fixed."}"#),
            404,
        ),
        (
            "post",
            "/api/v1/reports/{id}/updates",
            s("/api/v1/reports/1/updates"),
            Some(TOKEN),
            s(r#"{"status": "resolved", "message": ""}"#),
            400,
        ),
        (
            "post",
            "/api/v1/reports/{id}/updates",
            s("/api/v1/reports/1/updates"),
            None,
            s(r#"{"status": "resolved", "message": "m"}"#),
            401,
        ),
        (
            "get",
            "/api/v1/reports",
            s("/api/v1/reports?state=resolved"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/reports",
            s("/api/v1/reports?state=closed"),
            None,
            none(),
            400,
        ),
        (
            "get",
            "/api/v1/push/{name}",
            push(&format!("token={push_token}&msg=ok")),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/push/{name}",
            push("token=wrong"),
            None,
            none(),
            401,
        ),
        (
            "get",
            "/api/v1/push/{name}",
            push(&format!("token={push_token}&status=maybe")),
            None,
            none(),
            400,
        ),
        (
            "get",
            "/api/v1/push/{name}",
            s("/api/v1/push/nope?token=x"),
            None,
            none(),
            404,
        ),
        (
            "post",
            "/api/v1/push/{name}",
            push(&format!("token={push_token}&status=up")),
            None,
            none(),
            200,
        ),
        (
            "post",
            "/api/v1/push/{name}",
            push("token=wrong"),
            None,
            none(),
            401,
        ),
        (
            "post",
            "/api/v1/push/{name}",
            push("status=up"),
            Some(PUSH_TOKEN),
            none(),
            200,
        ),
        (
            "get",
            "/api/v1/openapi.json",
            s("/api/v1/openapi.json"),
            None,
            none(),
            200,
        ),
        ("get", "/feed.atom", s("/feed.atom"), None, none(), 200),
        (
            "get",
            "/badge/{name}/{badge}",
            s("/badge/web/status.svg"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/badge/{name}/{badge}",
            s("/badge/web/uptime-7d.svg"),
            None,
            none(),
            200,
        ),
        (
            "get",
            "/badge/{name}/{badge}",
            s("/badge/nope/status.svg"),
            None,
            none(),
            404,
        ),
        ("get", "/metrics", s("/metrics"), None, none(), 200),
        ("get", "/healthz", s("/healthz"), None, none(), 200),
    ]
}

/// A validator for the response schema at `schema`, with the document's
/// components beside it so that `#/components/...` references resolve.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root.as_object_mut()
        .expect("a schema object")
        .insert("components".to_owned(), doc["components"].clone());
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|err| panic!("the document's schema does not compile: {err}\n{schema:#}"))
}

#[tokio::test]
async fn every_documented_route_answers_as_documented() {
    let fixture = Fixture::start().await;
    let daemon = &fixture.daemon;
    let served = daemon.get("/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), "application/json");
    let doc = served.json();
    let file: Value = serde_json::from_str(include_str!("../../../src/web/openapi.json"))
        .expect("the document is JSON");
    assert_eq!(doc, file, "the served document is the file");
    assert_eq!(doc["openapi"], "3.1.0");

    // The hand-kept cause list must follow the code's.
    let documented: Vec<&str> = doc["components"]["schemas"]["Cause"]["enum"]
        .as_array()
        .expect("causes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let real: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented, real);
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        let meta = jsonschema::draft202012::meta::validate(schema);
        assert!(
            meta.is_ok(),
            "schema {name} is not valid JSON Schema: {meta:?}"
        );
    }

    let incident = fixture.incident_id("shop-edge", "open").await;
    let mut exercised = BTreeSet::new();
    for (method, template, path, token, body, expected) in cases(&incident, PUSH_TOKEN) {
        let answer = daemon
            .request(&method.to_uppercase(), &path, token, body.as_bytes())
            .await;
        let what = format!("{method} {path}");
        assert_eq!(answer.status, expected, "{what}: {}", answer.body);
        let operation = &doc["paths"][template][method];
        assert!(
            operation.is_object(),
            "{method} {template} is not documented"
        );
        exercised.insert(format!("{method} {template}"));
        let response = &operation["responses"][expected.to_string()];
        assert!(
            response.is_object(),
            "{what}: status {expected} is not documented"
        );
        let content_type = answer.header("content-type");
        let media = content_type.split(';').next().unwrap_or("").trim();
        let declared = &response["content"][media];
        assert!(
            declared.is_object(),
            "{what}: {content_type} is not documented for {expected}"
        );
        if media == "application/json" {
            let instance = answer.json();
            let validator = validator(&doc, &declared["schema"]);
            let errors: Vec<String> = validator
                .iter_errors(&instance)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{what} does not match its schema: {errors:#?}\n{instance:#}"
            );
        }
    }
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("a path item").keys();
            methods.map(move |method| format!("{method} {path}"))
        })
        .collect();
    assert_eq!(
        documented, exercised,
        "every documented operation is called"
    );
    fixture.daemon.stop().await;
}

#[tokio::test]
async fn the_schemas_refuse_what_the_contract_forbids() {
    // A validator that accepts anything would make the test above pass by
    // itself: these answers break the contract and must be refused.
    let doc: Value = serde_json::from_str(include_str!("../../../src/web/openapi.json"))
        .expect("the document is JSON");
    let check = json!({"$ref": "#/components/schemas/Check"});
    let incident = json!({"$ref": "#/components/schemas/Incident"});
    let error = json!({"$ref": "#/components/schemas/Error"});
    let good_check = json!({
        "at": "2026-01-31T12:00:00.000Z", "monitor": "web", "ok": true, "cause": "ok",
        "latency_ms": 1.5, "phases_ms": {"dns": 0, "connect": 0.2, "tls": 0, "ttfb": 1, "transfer": 0.3},
        "verdict": {"hop": "none", "summary": "healthy"}
    });
    assert!(validator(&doc, &check).is_valid(&good_check));
    let mut no_verdict = good_check.clone();
    no_verdict
        .as_object_mut()
        .expect("object")
        .remove("verdict");
    let mut bad_cause = good_check.clone();
    bad_cause["cause"] = json!("http_418");
    let mut bad_time = good_check.clone();
    bad_time["at"] = json!("yesterday");
    let mut with_evidence = good_check.clone();
    with_evidence["evidence"] = json!({"request_id": "req-7"});
    assert!(
        validator(&doc, &check).is_valid(&with_evidence),
        "the public view of evidence"
    );
    with_evidence["evidence"]["headers_dropped"] = json!(3);
    assert!(validator(&doc, &check).is_valid(&with_evidence));
    // Absent when no header was dropped, never 0.
    let mut zero_dropped = with_evidence.clone();
    zero_dropped["evidence"]["headers_dropped"] = json!(0);
    for bad in [no_verdict, bad_cause, bad_time, zero_dropped] {
        assert!(!validator(&doc, &check).is_valid(&bad), "accepted {bad:#}");
    }
    assert!(!validator(&doc, &incident).is_valid(&json!({"id": "x", "state": "open"})));
    assert!(!validator(&doc, &error).is_valid(&json!({"message": "no"})));
    let report = json!({"$ref": "#/components/schemas/Report"});
    let good_report = json!({
        "id": 1, "title": "Checkout", "status": "monitoring", "monitors": [], "pages": [],
        "created_at": "2026-01-31T12:00:00.000Z", "resolved_at": null,
        "updates": [{"at": "2026-01-31T12:00:00.000Z", "status": "investigating", "message": "m"}]
    });
    assert!(validator(&doc, &report).is_valid(&good_report));
    let mut bad_status = good_report.clone();
    bad_status["status"] = json!("fixed");
    let mut no_updates = good_report.clone();
    no_updates["updates"] = json!([]);
    for bad in [bad_status, no_updates] {
        assert!(!validator(&doc, &report).is_valid(&bad), "accepted {bad:#}");
    }
}
