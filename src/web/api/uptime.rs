//! `GET /api/v1/monitors/{name}/uptime`: a monitor's uptime by day or month
//! from the daily rollups, as JSON or (with `Accept: text/csv`) CSV.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::clock::{date, day_of, parse_date, unix_ms};
use crate::store::uptime::{Period, UptimeRow, uptime_rows};
use crate::web::access::{Credentials, keep_private};
use crate::web::{ApiError, AppState};

/// Days shown without `from` and `to`.
const DEFAULT_DAYS: i64 = 30;
/// The longest range one request reads: three years, a leap day included.
const MAX_DAYS: i64 = 3 * 365 + 1;

/// Uptime routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/monitors/{name}/uptime", get(uptime))
}

#[derive(Deserialize)]
struct UptimeQuery {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
}

/// The days and cut a query asks for, checked.
#[derive(Debug, PartialEq, Eq)]
struct Range {
    from: i64,
    to: i64,
    by: Period,
}

/// Reads `from`, `to` (inclusive) and `by`; without dates, the 30 days up
/// to `today`. Each error names its parameter.
fn parse_range(query: &UptimeQuery, today: i64) -> Result<Range, ApiError> {
    let day = |name: &str, text: &Option<String>| -> Result<Option<i64>, ApiError> {
        text.as_deref()
            .map(|text| {
                parse_date(text).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "{name}: expected a date such as 2026-11-30, got {text:?}"
                    ))
                })
            })
            .transpose()
    };
    let (from, to) = match (day("from", &query.from)?, day("to", &query.to)?) {
        (Some(from), Some(to)) => (from, to),
        (Some(from), None) => (from, today.max(from)),
        (None, Some(to)) => (to - (DEFAULT_DAYS - 1), to),
        (None, None) => (today - (DEFAULT_DAYS - 1), today),
    };
    if from > to {
        return Err(ApiError::BadRequest(format!(
            "from: {} is after to ({})",
            date(from),
            date(to)
        )));
    }
    if to - from + 1 > MAX_DAYS {
        return Err(ApiError::BadRequest(format!(
            "from: the range {}..{} is longer than 3 years",
            date(from),
            date(to)
        )));
    }
    let by = match query.by.as_deref() {
        None | Some("day") => Period::Day,
        Some("month") => Period::Month,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "by: expected day or month, got {other:?}"
            )));
        }
    };
    Ok(Range { from, to, by })
}

/// `GET /api/v1/monitors/{name}/uptime?from=&to=&by=day|month`: every
/// region's series (`name`, `name@region`) summed. Public, as `/api/v1/status`
/// is: a monitor that only private pages show needs the admin token or its
/// page's `?key=`, and answers as an unknown one without.
async fn uptime(
    credentials: Credentials,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<UptimeQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (scope, keyed) = credentials.api_scope(&state.config().config);
    let setup = state.live.setup();
    let monitor = setup
        .monitors
        .get(&name)
        .filter(|_| scope.shows(&name))
        .ok_or_else(|| ApiError::NotFound(format!("no monitor named {name:?}")))?;
    let today = day_of(unix_ms(std::time::SystemTime::now()));
    let range = parse_range(&query, today)?;
    // Every series in the store, not only the regions configured now: a
    // region since removed still checked the monitor in the past.
    let series = state.store.series_ids(&name).await?;
    let days = state
        .store
        .daily_rollups(&series, range.from, range.to)
        .await?;
    let rows = uptime_rows(
        &days,
        range.from,
        range.to,
        range.by,
        monitor.interval.as_secs(),
    );
    let mut response = if wants_csv(&headers) {
        (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&rows),
        )
            .into_response()
    } else {
        Json(rows).into_response()
    };
    if keyed {
        keep_private(&mut response);
    }
    Ok(response)
}

/// Whether the client asked for CSV (`Accept: text/csv`, among others).
fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|media| media.split(';').next().unwrap_or("").trim() == "text/csv")
}

fn csv(rows: &[UptimeRow]) -> String {
    let mut out = String::from(UptimeRow::CSV_HEADER);
    out.push('\n');
    for row in rows {
        out.push_str(&row.csv());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from: Option<&str>, to: Option<&str>, by: Option<&str>) -> UptimeQuery {
        UptimeQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            by: by.map(str::to_owned),
        }
    }

    fn error(query: &UptimeQuery) -> String {
        parse_range(query, 20_000).expect_err("refused").to_string()
    }

    #[test]
    fn defaults_are_the_last_30_days_by_day() {
        let range = parse_range(&query(None, None, None), 20_000).expect("range");
        assert_eq!(
            range,
            Range {
                from: 19_971,
                to: 20_000,
                by: Period::Day
            }
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        assert!(error(&query(Some("2026-02-30"), None, None)).starts_with("from:"));
        assert!(error(&query(None, Some("tomorrow"), None)).starts_with("to:"));
        assert!(error(&query(Some("2026-02-02"), Some("2026-02-01"), None)).starts_with("from:"));
        assert!(error(&query(Some("2020-01-01"), Some("2026-01-01"), None)).contains("3 years"));
        assert!(error(&query(None, None, Some("week"))).starts_with("by:"));
    }
}
