//! The demo's webhook receiver: alerts hopwatch sends land here and show on
//! a page, so a newcomer sees the message a pager would get.

use std::sync::{Arc, Mutex};

use crate::escape::markup as escape;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};

/// Alerts kept (newest first).
const KEEP: usize = 200;

/// What the sink received, and the story's current scene.
#[derive(Clone, Default)]
pub struct Sink {
    received: Arc<Mutex<Vec<serde_json::Value>>>,
    scene: Arc<Mutex<String>>,
}

impl Sink {
    /// Every alert received, newest first.
    pub fn received(&self) -> Vec<serde_json::Value> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Tells the page what the story is doing.
    pub fn set_scene(&self, scene: &str) {
        if let Ok(mut slot) = self.scene.lock() {
            *slot = scene.to_owned();
        }
    }

    /// `POST /demo/sink`, `GET /demo/alerts` (page) and `/demo/alerts.json`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/demo/sink", post(receive))
            .route("/demo/alerts", get(page))
            .route("/demo/alerts.json", get(list))
            .with_state(self.clone())
    }
}

async fn receive(
    State(sink): State<Sink>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> StatusCode {
    let delivery = headers
        .get("x-hopwatch-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut entry = body;
    entry["delivery"] = serde_json::Value::String(delivery);
    if let Ok(mut received) = sink.received.lock() {
        received.insert(0, entry);
        received.truncate(KEEP);
    }
    StatusCode::NO_CONTENT
}

async fn list(State(sink): State<Sink>) -> Json<Vec<serde_json::Value>> {
    Json(sink.received())
}

async fn page(State(sink): State<Sink>) -> Html<String> {
    let scene = sink.scene.lock().map(|s| s.clone()).unwrap_or_default();
    let mut rows = String::new();
    for alert in sink.received() {
        let field = |path: &[&str]| {
            let mut value = &alert;
            for key in path {
                value = &value[*key];
            }
            escape(&match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            })
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td><strong>{}</strong></td><td>{}</td><td>{}</td><td>{}</td><td>{}: {}</td></tr>",
            field(&["started_at"]),
            field(&["event"]),
            field(&["alert"]),
            field(&["monitor", "name"]),
            field(&["cause"]),
            field(&["verdict", "hop"]),
            field(&["verdict", "summary"]),
        ));
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>hopwatch demo: alerts received</title></head><body>\
         <h1>Alerts the demo webhook received</h1><p>Now playing: {}</p><p><a href=\"/\">status page</a></p>\
         <table><thead><tr><th>started</th><th>event</th><th>alert</th><th>monitor</th><th>cause</th><th>verdict</th></tr></thead>\
         <tbody>{rows}</tbody></table></body></html>",
        escape(&scene)
    ))
}
