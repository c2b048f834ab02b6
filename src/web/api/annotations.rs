//! `POST /api/v1/annotations`: deploy and change markers, shown on charts
//! and quoted in alerts that start within the hour after them.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::{Admin, MAX_BODY, json_body};
use crate::web::ratelimit::WriteLimit;
use crate::web::{ApiError, AppState};

/// The annotation route, with its body capped at [`MAX_BODY`].
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/annotations",
        post(create).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)),
    )
}

/// The request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAnnotation {
    /// What happened ("deploy v1.4.2").
    text: String,
    /// The monitors it concerns; absent or empty: all.
    #[serde(default)]
    monitors: Vec<String>,
    /// When, RFC 3339; default now.
    at: Option<String>,
}

async fn create(
    _limit: WriteLimit,
    _admin: Admin,
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let request: NewAnnotation = json_body(body).map_err(IntoResponse::into_response)?;
    let text = request.text.trim();
    if text.is_empty() {
        return Err(bad("text: must not be empty"));
    }
    for (i, name) in request.monitors.iter().enumerate() {
        if state.monitor_id(name).is_none() {
            return Err(bad(&format!("monitors[{i}]: no monitor named {name:?}")));
        }
    }
    let at = match request.at.as_deref() {
        None => SystemTime::now(),
        Some(at) => crate::clock::parse_rfc3339(at).map_err(|_| {
            bad(&format!(
                "at: expected an RFC 3339 time such as 2026-01-31T12:00:00Z, got {at:?}"
            ))
        })?,
    };
    let id = state
        .store
        .add_annotation(at, text, &request.monitors)
        .await
        .map_err(|err| ApiError::from(err).into_response())?;
    tracing::info!(annotation = id, text = %crate::escape::log_field(text), "annotation added");
    let created = serde_json::json!({
        "id": id,
        "at": crate::clock::rfc3339_millis(at),
        "text": text,
        "monitors": request.monitors,
    });
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

fn bad(message: &str) -> Response {
    ApiError::BadRequest(message.to_owned()).into_response()
}
