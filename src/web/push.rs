//! `GET|POST /api/v1/push/{name}?token=T&status=up|down&msg=…`.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::push::{Push, PushError};

/// The push route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/push/{name}", get(push).post(push))
}

#[derive(Deserialize)]
struct PushQuery {
    token: Option<String>,
    status: Option<String>,
    msg: Option<String>,
}

async fn push(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<PushQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let up = match query.status.as_deref() {
        None | Some("up") => true,
        Some("down") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "status: expected up or down, got {other:?}"
            )));
        }
    };
    let token = query.token.unwrap_or_default();
    let message = query.msg.map(|m| m.chars().take(500).collect());
    match state.push.push(&name, &token, Push { up, message }) {
        Ok(()) => Ok(Json(serde_json::json!({ "ok": true }))),
        Err(PushError::WrongToken) => Err(ApiError::Unauthorized("wrong token".to_owned())),
        Err(err) => Err(ApiError::NotFound(err.to_string())),
    }
}
