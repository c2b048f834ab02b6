//! `GET|POST /api/v1/push/{name}?token=T&status=up|down&msg=…`; the token
//! may come as `Authorization: Bearer T` instead, which keeps it out of the
//! URLs that proxies and access logs record.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::api::auth::{bearer_token, unauthorized};
use super::ratelimit::PushLimit;
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
    _limit: PushLimit,
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(query): Query<PushQuery>,
) -> Result<Json<serde_json::Value>, Response> {
    let up = match query.status.as_deref() {
        None | Some("up") => true,
        Some("down") => false,
        Some(other) => {
            let message = format!("status: expected up or down, got {other:?}");
            return Err(ApiError::BadRequest(message).into_response());
        }
    };
    // A bearer header wins over the query string: it is the form that
    // does not end up in logs, so a client that sends it means it.
    let token = bearer_token(&headers)
        .or(query.token.as_deref())
        .unwrap_or_default();
    let message = query.msg.map(|m| m.chars().take(500).collect());
    match state.push.push(&name, token, Push { up, message }) {
        Ok(()) => Ok(Json(serde_json::json!({ "ok": true }))),
        Err(PushError::WrongToken) => Err(unauthorized("wrong token")),
        Err(err) => Err(ApiError::NotFound(err.to_string()).into_response()),
    }
}
