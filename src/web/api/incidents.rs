//! Incidents over the API: the list (open or resolved, newest first), one
//! incident, and acknowledging one so that it stops repeating.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::Admin;
use super::{masked, parse_limit};
use crate::incident::IncidentState;
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
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    let incidents: Vec<_> = state
        .store
        .incidents(wanted, limit)
        .await?
        .into_iter()
        .map(|incident| view.incident(incident))
        .collect();
    Ok(Json(masked(&incidents)))
}

/// `GET /api/v1/incidents/{id}`.
async fn one(
    view: EvidenceView,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let incident = state
        .store
        .incident(&id)
        .await?
        .ok_or_else(|| no_incident(&id))?;
    Ok(Json(masked(&view.incident(incident))))
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
