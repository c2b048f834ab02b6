//! The status report API's refusals (contract sections 8 and 10): a bad
//! body is a 400 naming its field and stores nothing, a missing or wrong
//! token a 401, an unknown report a 404.

use serde_json::json;

use super::Daemon;

const TOKEN: &str = "rep0rt-t0ken";

#[tokio::test]
async fn bad_reports_are_refused_naming_the_field_and_nothing_is_stored() {
    let daemon = Daemon::spawn(
        &format!("admin_token: {TOKEN}"),
        "monitors:\n  - { name: web, url: 'http://127.0.0.1:1/', interval: 1h, timeout: 1s }\n",
    )
    .await;
    let good = json!({"title": "Checkout", "status": "investigating", "message": "Looking."});
    let with = |key: &str, value: serde_json::Value| {
        let mut body = good.clone();
        body[key] = value;
        body.to_string()
    };
    let long = "x".repeat(100 * 1024);
    for (body, field) in [
        (with("status", json!("fixed")), "status:"),
        (with("status", json!("Investigating")), "status:"),
        (with("title", json!("")), "title:"),
        (with("title", json!(" \n\t ")), "title:"),
        (with("message", json!(long)), "message:"),
        (with("message", json!("")), "message:"),
        (with("monitors", json!(["web", "nope"])), "monitors[1]:"),
        (with("pages", json!(["nope"])), "pages[0]:"),
        (with("monitors", json!("web")), "monitors:"),
        (with("colour", json!("red")), "colour"),
        (
            json!({"status": "investigating", "message": "m"}).to_string(),
            "title",
        ),
    ] {
        let answer = daemon.post("/api/v1/reports", Some(TOKEN), &body).await;
        assert_eq!(answer.status, 400, "{field}: {}", answer.body);
        let error = answer.error();
        assert!(error.contains(field), "{field}: {error}");
    }
    assert_eq!(daemon.get("/api/v1/reports").await.json(), json!([]));

    let body = good.to_string();
    for token in [None, Some("wrong")] {
        let answer = daemon.post("/api/v1/reports", token, &body).await;
        assert_eq!(answer.status, 401, "{token:?}");
        assert_eq!(answer.header("www-authenticate"), "Bearer");
    }
    let update = json!({"status": "resolved", "message": "done"}).to_string();
    let answer = daemon
        .post("/api/v1/reports/1/updates", Some("wrong"), &update)
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(daemon.get("/api/v1/reports").await.json(), json!([]));

    for path in ["/api/v1/reports/1/updates", "/api/v1/reports/abc/updates"] {
        let answer = daemon.post(path, Some(TOKEN), &update).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
    }
    let created = daemon.post("/api/v1/reports", Some(TOKEN), &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let path = format!("/api/v1/reports/{}/updates", created.json()["id"]);
    for (body, field) in [
        (json!({"status": "done", "message": "m"}), "status:"),
        (
            json!({"status": "resolved", "message": "x".repeat(10_001)}),
            "message:",
        ),
        (json!({"status": "resolved"}), "message"),
    ] {
        let answer = daemon.post(&path, Some(TOKEN), &body.to_string()).await;
        assert_eq!(answer.status, 400, "{field}: {}", answer.body);
        assert!(answer.error().contains(field), "{}", answer.error());
    }
    let answer = daemon.get("/api/v1/reports?state=closed").await;
    assert_eq!(answer.status, 400);
    assert!(answer.error().starts_with("state:"), "{}", answer.error());
    let list = daemon.get("/api/v1/reports").await.json();
    assert_eq!(
        list[0]["updates"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    daemon.stop().await;
}
