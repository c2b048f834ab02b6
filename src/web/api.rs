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
    Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/monitors/{name}/checks", get(checks))
}

/// `GET /api/v1/status`: overall state, and each monitor's state, uptimes
/// (fractions of checks that passed; unknown and downtime of hopwatch
/// itself count as not up; `null` without data) and last check.
async fn status(State(state): State<AppState>) -> Json<serde_json::Value> {
    let config = state.config();
    let now = crate::store::unix_ms(std::time::SystemTime::now());
    let (hour, day) = (crate::store::hour_of(now), crate::store::day_of(now));
    let mut monitors = Vec::with_capacity(config.config.monitors.len());
    let (mut down, mut degraded, mut counted) = (0, 0, 0);
    for monitor in &config.config.monitors {
        let latest = state.pipeline.latest(&monitor.name);
        let monitor_state = latest
            .as_deref()
            .map_or("unknown", crate::pipeline::state_of);
        match monitor_state {
            "down" => down += 1,
            "degraded" => degraded += 1,
            _ => {}
        }
        if matches!(monitor_state, "up" | "down" | "degraded") {
            counted += 1;
        }
        let uptime = state.monitor_id(&monitor.name).map(|id| {
            serde_json::json!({
                "24h": state.history.last_hours(id, hour, 24).uptime(),
                "7d": state.history.last_days(id, day, 7).uptime(),
                "30d": state.history.last_days(id, day, 30).uptime(),
            })
        });
        let last_check = latest.map(|r| serde_json::to_value(&*r).unwrap_or_default());
        monitors.push(serde_json::json!({
            "name": monitor.name,
            "title": monitor.title.as_deref().unwrap_or(&monitor.name),
            "group": monitor.group,
            "type": monitor.kind.as_str(),
            "state": monitor_state,
            "uptime": uptime,
            "last_check": last_check,
        }));
    }
    // Half or more of the judged monitors down is an outage; anything less
    // than all up is degraded.
    let overall = if counted > 0 && down * 2 >= counted {
        "outage"
    } else if down + degraded > 0 {
        "degraded"
    } else {
        "operational"
    };
    Json(serde_json::json!({ "state": overall, "monitors": monitors }))
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
            .ok_or_else(|| {
                ApiError::BadRequest(format!("limit: expected a positive integer, got {text:?}"))
            })?
            .min(MAX_LIMIT),
    };
    let since = match query.since.as_deref() {
        None => 0,
        Some(text) => humantime::parse_rfc3339_weak(text)
            .map(crate::store::unix_ms)
            .map_err(|_| {
                ApiError::BadRequest(format!(
                    "since: expected an RFC 3339 time such as 2026-01-31T12:00:00Z, got {text:?}"
                ))
            })?,
    };
    let rows = state.store.checks(id, since, limit).await?;
    Ok(Json(
        rows.into_iter().map(|row| row.into_result(&name)).collect(),
    ))
}
