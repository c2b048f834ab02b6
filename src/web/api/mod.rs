//! The JSON API of contract section 4: status, checks, incidents,
//! annotations and acknowledgements, and the OpenAPI document describing them.

mod annotations;
pub(super) mod auth;
mod incidents;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};

/// Most rows one request returns.
const MAX_LIMIT: u32 = 1_000;
/// Rows returned without `limit`.
const DEFAULT_LIMIT: u32 = 100;

/// The hand-kept OpenAPI 3.1 document; tests validate real answers against it.
const OPENAPI: &str = include_str!("../openapi.json");

/// API routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/monitors/{name}/checks", get(checks))
        .route("/api/v1/openapi.json", get(openapi))
        // Anything else under /api/ is a JSON 404, not an HTML page.
        .route("/api/{*rest}", any(no_route))
        .merge(incidents::router())
        .merge(annotations::router())
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
        let monitor_state = state.pipeline.state(&monitor.name);
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
        let last_check = state.pipeline.latest(&monitor.name).map(|r| masked(&*r));
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

/// `GET /api/v1/monitors/{name}/checks?since=&limit=`: newest first.
async fn checks(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<ChecksQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = state
        .monitor_id(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no monitor named {name:?}")))?;
    let limit = parse_limit(query.limit.as_deref())?;
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
    let results: Vec<_> = rows.into_iter().map(|row| row.into_result(&name)).collect();
    Ok(Json(masked(&results)))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no API route {}", uri.path()))
}

/// `limit`: a positive integer, at most [`MAX_LIMIT`] (larger is capped,
/// not refused, so a client asking for "everything" still gets an answer).
fn parse_limit(text: Option<&str>) -> Result<u32, ApiError> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    text.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| n.min(MAX_LIMIT))
        .ok_or_else(|| {
            ApiError::BadRequest(format!("limit: expected a positive integer, got {text:?}"))
        })
}

/// `value` as JSON with every URL in every string masked: error texts,
/// evidence headers (`Location`) and summaries may quote a URL that
/// carries a token.
pub(super) fn masked<T: Serialize>(value: &T) -> serde_json::Value {
    let mut json = serde_json::to_value(value).unwrap_or_default();
    mask_strings(&mut json);
    json
}

fn mask_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) if text.contains("://") => *text = mask_text(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_strings),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(mask_strings),
        _ => {}
    }
}

/// Masks each URL inside free text (a URL runs from its scheme to the next
/// space, quote or bracket).
pub(super) fn mask_text(text: &str) -> String {
    let is_end = |c: char| c.is_whitespace() || "\"'<>()[]{}`".contains(c);
    let is_scheme = |c: char| c.is_ascii_alphanumeric() || "+-.".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        let start = rest[..found]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_scheme(*c))
            .last()
            .map_or(found, |(i, _)| i);
        let end = rest[found..].find(is_end).map_or(rest.len(), |i| found + i);
        out.push_str(&rest[..start]);
        out.push_str(&crate::mask::url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_inside_text_are_masked() {
        assert_eq!(
            mask_text("redirected to (https://a.example/x?token=abc&page=2) twice"),
            "redirected to (https://a.example/x?token=***&page=2) twice"
        );
        assert_eq!(
            mask_text("see http://bob:pw@b.example/ and ftp://c.example"),
            "see http://***@b.example/ and ftp://c.example"
        );
        assert_eq!(mask_text("no link here"), "no link here");
        assert_eq!(mask_text("odd ://x"), "odd ://x");
    }

    #[test]
    fn limits_are_capped_and_bad_ones_name_the_field() {
        assert_eq!(parse_limit(None).ok(), Some(DEFAULT_LIMIT));
        assert_eq!(parse_limit(Some("5000")).ok(), Some(MAX_LIMIT));
        for bad in ["0", "-1", "abc"] {
            let err = parse_limit(Some(bad)).expect_err(bad).to_string();
            assert!(err.starts_with("limit:"), "{err}");
        }
    }
}
