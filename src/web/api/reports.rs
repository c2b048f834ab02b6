//! Status reports over the API (contract section 8): the admin posts a
//! report and its updates; anyone lists them, though reports that concern
//! only private pages need the admin token or that page's `?key=`.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::{Admin, json_body_within};
use super::parse_limit;
use crate::config::Config;
use crate::incident::report::{MAX_MESSAGE_BYTES, MAX_TITLE_BYTES};
use crate::incident::{Report, ReportStatus};
use crate::store::reports::{NewReport, ReportState};
use crate::store::subscribers::Audience;
use crate::web::access::{Credentials, keep_private, visible_report};
use crate::web::ratelimit::WriteLimit;
use crate::web::{ApiError, AppState};

/// Largest body read: above a message of [`MAX_MESSAGE_BYTES`], so that a
/// message too long (a pasted 100 KB log) is told so by name, with a 400,
/// rather than as a body too large.
const REPORT_BODY: usize = 128 * 1024;

/// Report routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/reports",
            // The limit is on the body, so it only matters to the POST.
            get(list)
                .post(create)
                .layer(DefaultBodyLimit::max(REPORT_BODY)),
        )
        .route(
            "/api/v1/reports/{id}/updates",
            post(update).layer(DefaultBodyLimit::max(REPORT_BODY)),
        )
}

/// The body of `POST /api/v1/reports`. Statuses are read as text, so that
/// a wrong one is answered with the words that would do.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewReportBody {
    title: String,
    status: String,
    message: String,
    #[serde(default)]
    monitors: Vec<String>,
    #[serde(default)]
    pages: Vec<String>,
}

/// The body of `POST /api/v1/reports/{id}/updates`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    status: String,
    message: String,
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    limit: Option<String>,
}

/// `POST /api/v1/reports` (admin): 201 with the report.
async fn create(
    _limit: WriteLimit,
    _admin: Admin,
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let body: NewReportBody =
        json_body_within(body, REPORT_BODY).map_err(IntoResponse::into_response)?;
    let config = state.config();
    let new = checked(body, &config.config).map_err(IntoResponse::into_response)?;
    let audience = audience(&config.config, &new.monitors, &new.pages);
    let report = state
        .store
        .create_report(&new, SystemTime::now(), audience.as_ref())
        .await
        .map_err(|err| ApiError::from(err).into_response())?;
    state.live.edited();
    tracing::info!(
        report = report.id,
        status = report.status.as_str(),
        title = %crate::escape::log_field(&report.title),
        "status report posted"
    );
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

/// `POST /api/v1/reports/{id}/updates` (admin): 201 with the report and
/// its whole timeline; `resolved` closes it.
async fn update(
    _limit: WriteLimit,
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    // An id that is not a number names no report, as one that is unknown.
    let number = id
        .parse::<i64>()
        .map_err(|_| no_report(&id).into_response())?;
    let body: UpdateBody =
        json_body_within(body, REPORT_BODY).map_err(IntoResponse::into_response)?;
    let status = status(&body.status).map_err(IntoResponse::into_response)?;
    let message = message(&body.message).map_err(IntoResponse::into_response)?;
    let config = state.config();
    let concerned = state
        .store
        .report(number)
        .await
        .map_err(|err| ApiError::from(err).into_response())?
        .ok_or_else(|| no_report(&id).into_response())?;
    let audience = audience(&config.config, &concerned.monitors, &concerned.pages);
    let report = state
        .store
        .add_report_update(
            number,
            status,
            &message,
            SystemTime::now(),
            audience.as_ref(),
        )
        .await
        .map_err(|err| ApiError::from(err).into_response())?
        .ok_or_else(|| no_report(&id).into_response())?;
    state.live.edited();
    tracing::info!(
        report = report.id,
        status = status.as_str(),
        "status report updated"
    );
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

/// `GET /api/v1/reports?state=open|resolved&limit=N`: newest first; without
/// `state`, both kinds.
async fn list(
    credentials: Credentials,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let config = state.config();
    let wanted = match query.state.as_deref() {
        None => None,
        Some("open") => Some(ReportState::Open),
        Some("resolved") => Some(ReportState::Resolved),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "state: expected open or resolved, got {other:?}"
            )));
        }
    };
    let limit = parse_limit(query.limit.as_deref())?;
    let (scope, keyed) = credentials.api_scope(&config.config);
    let pages = credentials.api_pages(&config.config);
    let reports: Vec<Report> = state
        .store
        .reports(wanted, limit)
        .await?
        .into_iter()
        .filter_map(|report| visible_report(report, &scope, &pages))
        .collect();
    let mut response = Json(reports).into_response();
    if keyed {
        keep_private(&mut response);
    }
    Ok(response)
}

/// Who hears of a report naming `monitors` and `pages`: the subscribers of
/// every public page it shows on; nobody when subscriptions are off.
fn audience(config: &Config, monitors: &[String], pages: &[String]) -> Option<Audience> {
    let subscriptions = config.subscriptions.as_ref()?;
    let pages = config.public_pages_showing(|page| {
        crate::incident::report::concerns(monitors, pages, &page.slug, |name| {
            config
                .monitors
                .iter()
                .any(|m| m.name == name && page.shows(m))
        })
    });
    Some(Audience {
        notifier: subscriptions.notifier.clone(),
        pages,
    })
}

/// The report `body` asks for, or a 400 naming the field that is wrong.
fn checked(body: NewReportBody, config: &Config) -> Result<NewReport, ApiError> {
    let title = body.title.trim();
    if title.is_empty() {
        return Err(bad("title: must not be empty"));
    }
    if title.len() > MAX_TITLE_BYTES {
        return Err(bad(&format!(
            "title: longer than {MAX_TITLE_BYTES} bytes ({})",
            title.len()
        )));
    }
    let status = status(&body.status)?;
    let message = message(&body.message)?;
    for (i, name) in body.monitors.iter().enumerate() {
        if !config.monitors.iter().any(|m| m.name == *name) {
            return Err(bad(&format!("monitors[{i}]: no monitor named {name:?}")));
        }
    }
    for (i, slug) in body.pages.iter().enumerate() {
        if config.page(slug).is_none() {
            return Err(bad(&format!("pages[{i}]: no page with slug {slug:?}")));
        }
    }
    Ok(NewReport {
        // Masked as messages are (see `message`).
        title: crate::mask::text(title),
        status,
        message,
        monitors: dedup(body.monitors),
        pages: dedup(body.pages),
    })
}

fn status(word: &str) -> Result<ReportStatus, ApiError> {
    ReportStatus::parse(word).ok_or_else(|| {
        bad(&format!(
            "status: expected investigating, identified, monitoring or resolved, got {word:?}"
        ))
    })
}

/// A message as stored: trimmed, not empty, at most [`MAX_MESSAGE_BYTES`],
/// with credentials and token-like query values in its URLs masked. A
/// report is public text: a link pasted with `?token=` in it would
/// otherwise publish the token on every page, the feed and the API, which
/// promise masked URLs everywhere else.
fn message(text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(bad("message: must not be empty"));
    }
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(bad(&format!(
            "message: longer than {MAX_MESSAGE_BYTES} bytes ({})",
            text.len()
        )));
    }
    Ok(crate::mask::text(text))
}

/// The names in their first order, each once.
fn dedup(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn no_report(id: &str) -> ApiError {
    ApiError::NotFound(format!("no report {id:?}"))
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MonitorConfig;

    fn body(title: &str, status: &str, message: &str) -> NewReportBody {
        NewReportBody {
            title: title.to_owned(),
            status: status.to_owned(),
            message: message.to_owned(),
            monitors: Vec::new(),
            pages: Vec::new(),
        }
    }

    fn error(result: Result<NewReport, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest(text)) => text,
            other => panic!("expected a 400, got {:?}", other.map(|r| r.title)),
        }
    }

    #[test]
    fn bad_reports_are_refused_naming_the_field() {
        let config = Config {
            monitors: vec![MonitorConfig::named("web")],
            ..Config::default()
        };
        let ok = checked(body(" Checkout ", "identified", "see https://x"), &config)
            .expect("a good report");
        let secret = message("see https://u:p@x.example/?token=abc").expect("a message");
        assert_eq!(secret, "see https://***@x.example/?token=***");
        assert_eq!(
            (ok.title.as_str(), ok.status),
            ("Checkout", ReportStatus::Identified)
        );
        let long = "x".repeat(100 * 1024);
        for (bad, field) in [
            (body(" \t", "investigating", "m"), "title:"),
            (body("t", "fixed", "m"), "status:"),
            (body("t", "investigating", " "), "message:"),
            (body("t", "investigating", &long), "message:"),
            (
                body(&"t".repeat(MAX_TITLE_BYTES + 1), "resolved", "m"),
                "title:",
            ),
        ] {
            let text = error(checked(bad, &config));
            assert!(text.starts_with(field), "{text}");
        }
        let mut unknown = body("t", "investigating", "m");
        unknown.monitors = vec!["web".into(), "nope".into()];
        assert!(error(checked(unknown, &config)).starts_with("monitors[1]:"));
        let mut no_page = body("t", "investigating", "m");
        no_page.pages = vec!["shop".into()];
        assert!(error(checked(no_page, &config)).starts_with("pages[0]:"));
    }
}
