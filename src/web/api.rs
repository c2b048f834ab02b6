//! The JSON API of contract section 4 (read side).

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::probe::CheckResult;

/// Most checks one request returns.
const MAX_LIMIT: u32 = 1_000;
/// Checks returned without `limit`.
const DEFAULT_LIMIT: u32 = 100;

/// API routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/monitors/{name}/checks", get(checks))
}

#[derive(Deserialize)]
struct ChecksQuery {
    since: Option<String>,
    limit: Option<String>,
}

async fn checks(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<ChecksQuery>,
) -> Result<Json<Vec<CheckResult>>, ApiError> {
    let id = state
        .monitor_id(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no monitor named {name:?}")))?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::BadRequest(format!("limit: expected a positive integer, got {text:?}")))?
            .min(MAX_LIMIT),
    };
    let since = match query.since.as_deref() {
        None => 0,
        Some(text) => humantime::parse_rfc3339_weak(text)
            .map(crate::store::unix_ms)
            .map_err(|_| {
                ApiError::BadRequest(format!("since: expected an RFC 3339 time such as 2026-01-31T12:00:00Z, got {text:?}"))
            })?,
    };
    let rows = state.store.checks(id, since, limit).await?;
    Ok(Json(rows.into_iter().map(|row| row.into_result(&name)).collect()))
}
