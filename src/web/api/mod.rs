//! The JSON API of contract section 4: status, checks, uptime, incidents,
//! annotations and acknowledgements, and the OpenAPI document describing
//! them; status reports (section 8); and the agents' endpoints of section 7.

mod agent;
mod annotations;
pub(super) mod auth;
mod cluster;
mod incidents;
mod reports;
mod status;
mod uptime;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::access::{Credentials, keep_private};
use super::{ApiError, AppState, EvidenceView};

/// Most rows one request returns.
const MAX_LIMIT: u32 = 1_000;
/// Rows returned without `limit`.
const DEFAULT_LIMIT: u32 = 100;

/// The hand-kept OpenAPI 3.1 document; tests validate real answers against it.
const OPENAPI: &str = include_str!("../openapi.json");

/// API routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/status", get(status::status))
        .route("/api/v1/cluster", get(cluster::cluster))
        .route("/api/v1/monitors/{name}/checks", get(checks))
        .route("/api/v1/openapi.json", get(openapi))
        // Anything else under /api/ is a JSON 404, not an HTML page.
        .route("/api/{*rest}", any(no_route))
        .merge(incidents::router())
        .merge(annotations::router())
        .merge(reports::router())
        .merge(agent::router())
        .merge(uptime::router())
}

#[derive(Deserialize)]
struct ChecksQuery {
    since: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/monitors/{name}/checks?since=&limit=`: newest first. A
/// monitor that only private pages show answers as an unknown one, but to
/// the admin token or its page's `?key=`.
async fn checks(
    view: EvidenceView,
    credentials: Credentials,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<ChecksQuery>,
) -> Result<axum::response::Response, ApiError> {
    let (scope, keyed) = credentials.api_scope(&state.config().config);
    let id = state
        .monitor_id(&name)
        .filter(|_| scope.shows(&name))
        .ok_or_else(|| ApiError::NotFound(format!("no monitor named {name:?}")))?;
    let limit = parse_limit(query.limit.as_deref())?;
    let since = match query.since.as_deref() {
        None => 0,
        Some(text) => crate::clock::parse_rfc3339(text)
            .map(crate::clock::unix_ms)
            .map_err(|_| {
                ApiError::BadRequest(format!(
                    "since: expected an RFC 3339 time such as 2026-01-31T12:00:00Z, got {text:?}"
                ))
            })?,
    };
    // This node's series and those of the other regions that check it
    // (agents'), newest first across them, each CHECK naming its region.
    let setup = state.live.setup();
    let mut series = vec![(setup.identity.region.clone(), id)];
    for (key, series_id) in &setup.series {
        if let Some(region) = key
            .strip_prefix(name.as_str())
            .and_then(|r| r.strip_prefix('@'))
        {
            series.push((std::sync::Arc::from(region), *series_id));
        }
    }
    let mut results = Vec::new();
    for (region, series_id) in series {
        for row in state.store.checks(series_id, since, limit).await? {
            let mut result = row.into_result(&name);
            result.region = Some(region.clone());
            results.push(result);
        }
    }
    results.sort_by_key(|r| std::cmp::Reverse(r.at));
    results.truncate(limit as usize);
    let results: Vec<_> = results.into_iter().map(|r| view.check(r)).collect();
    let mut response = Json(masked(&results)).into_response();
    if keyed {
        keep_private(&mut response);
    }
    Ok(response)
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

/// `value` as JSON with every URL in its strings masked: error texts and
/// summaries may quote a URL that carries a token. `evidence` objects are
/// left as they are: evidence is masked once, when it is captured.
pub(super) fn masked<T: Serialize>(value: &T) -> serde_json::Value {
    let mut json = serde_json::to_value(value).unwrap_or_default();
    mask_strings(&mut json);
    json
}

fn mask_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) if text.contains("://") => *text = crate::mask::text(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_strings),
        serde_json::Value::Object(fields) => fields
            .iter_mut()
            .filter(|(key, _)| *key != "evidence")
            .for_each(|(_, field)| mask_strings(field)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_masked_outside_evidence_only() {
        let url = "https://u:p@a.example/?token=t";
        let json = masked(&serde_json::json!({
            "error": url,
            "verdict": {"summary": url},
            "evidence": {"body_excerpt": url},
        }));
        assert_eq!(json["error"], "https://***@a.example/?token=***");
        assert_eq!(
            json["verdict"]["summary"],
            "https://***@a.example/?token=***"
        );
        // Captured evidence is masked already; nothing renders it twice.
        assert_eq!(json["evidence"]["body_excerpt"], url);
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
