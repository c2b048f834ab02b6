//! Incidents over the API: the list (open or resolved, newest first), one
//! incident, and acknowledging one so that it stops repeating. Incidents of
//! monitors that only private pages show need the admin token or `?key=`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::Admin;
use super::{masked, parse_limit};
use crate::incident::IncidentState;
use crate::web::access::{Credentials, keep_private};
use crate::web::ratelimit::WriteLimit;
use crate::web::{ApiError, AppState, EvidenceView};

/// Incident routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/incidents", get(list))
        .route("/api/v1/incidents/{id}", get(one))
        .route("/api/v1/incidents/{id}/ack", post(acknowledge))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/incidents?state=open|resolved&limit=N`: without `state`,
/// both kinds.
async fn list(
    view: EvidenceView,
    credentials: Credentials,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let (scope, keyed) = credentials.api_scope(&state.config().config);
    let wanted = match query.state.as_deref() {
        None => None,
        Some("open") => Some(IncidentState::Open),
        Some("resolved") => Some(IncidentState::Resolved),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "state: expected open or resolved, got {other:?}"
            )));
        }
    };
    let limit = parse_limit(query.limit.as_deref())?;
    let listed = state.store.incidents(wanted, limit).await?;
    let owners: std::collections::HashMap<String, String> = listed
        .iter()
        .map(|i| (i.id.clone(), i.monitor.clone()))
        .collect();
    let owner = |id: &str| owners.get(id).cloned();
    let incidents: Vec<_> = listed
        .into_iter()
        .filter(|incident| scope.shows(&incident.monitor))
        .map(|mut incident| {
            scope.hide_root(&mut incident, &owner);
            view.incident(incident)
        })
        .collect();
    Ok(answer(masked(&incidents), keyed))
}

/// `GET /api/v1/incidents/{id}`.
async fn one(
    view: EvidenceView,
    credentials: Credentials,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (scope, keyed) = credentials.api_scope(&state.config().config);
    // A hidden monitor's incident answers as one that does not exist.
    let mut incident = state
        .store
        .incident(&id)
        .await?
        .filter(|incident| scope.shows(&incident.monitor))
        .ok_or_else(|| no_incident(&id))?;
    let root = match incident.folded_into.as_deref() {
        Some(into) if !into.starts_with("monitor:") => {
            state.store.incident(into).await?.map(|i| i.monitor)
        }
        _ => None,
    };
    scope.hide_root(&mut incident, &|_| root.clone());
    Ok(answer(masked(&view.incident(incident)), keyed))
}

/// A JSON answer; one that a key opened is kept out of shared caches.
fn answer(json: serde_json::Value, keyed: bool) -> Response {
    let mut response = Json(json).into_response();
    if keyed {
        keep_private(&mut response);
    }
    response
}

/// `POST /api/v1/incidents/{id}/ack` (admin): the alert manager reads the
/// flag from the store before each repeat, so no message is needed.
async fn acknowledge(
    _limit: WriteLimit,
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !state.store.acknowledge(&id).await? {
        return Err(no_incident(&id));
    }
    let incident = state
        .store
        .incident(&id)
        .await?
        .ok_or_else(|| no_incident(&id))?;
    tracing::info!(incident = %id, "incident acknowledged");
    Ok((StatusCode::OK, Json(masked(&incident))).into_response())
}

fn no_incident(id: &str) -> ApiError {
    ApiError::NotFound(format!("no incident {id:?}"))
}
