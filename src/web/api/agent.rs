//! The agents' side of the API (contract section 7): an agent pulls the
//! monitors of its region and pushes its results, which go down the same
//! pipeline as the daemon's own checks, marked with its region and name.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::probe::evidence;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::{bearer_token, json_body_within, unauthorized};
use crate::config::AgentConfig;
use crate::config::agents::{AgentMonitors, SENT_AT_HEADER, checked_from};
use crate::live::PeerKind;
use crate::monitor::{CheckResult, Monitor};
use crate::web::ratelimit::AgentLimit;
use crate::web::{ApiError, AppState};

/// Largest batch of results read: 500 results with whole evidence fit.
pub const MAX_RESULTS_BODY: usize = 4 * 1024 * 1024;
/// How far ahead of the server's clock a result may be, once moved onto
/// it ([`clock_skew`]). Beyond it the result's time is wrong (or, from an
/// agent that does not say when it sent, its clock), and it would sit in
/// the future of every chart and window: the batch is refused, naming the
/// result.
const MAX_AHEAD: Duration = Duration::from_secs(300);
/// An agent's clock this far from the server's, or less, is taken as
/// right: the request's own transit is in the difference, and results of
/// agents in sync keep their times exactly.
const IN_SYNC: Duration = Duration::from_secs(1);
/// An agent's words (error, verdict) kept per result, in bytes: what a
/// local check writes is far shorter; more is cut, never stored or shown.
const MAX_TEXT: usize = 1_000;

/// The agents' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agent/monitors", get(monitors))
        .route(
            "/api/v1/agent/results",
            post(results).layer(DefaultBodyLimit::max(MAX_RESULTS_BODY)),
        )
}

/// The agent a request's bearer token belongs to; take it as an argument
/// and the handler only runs for an agent of `agents:`.
struct Caller {
    agent: AgentConfig,
    name: Arc<str>,
    region: Arc<str>,
    /// How far its clock is from the server's, read as the request arrives
    /// (before its body, whose upload would count as skew), if it says.
    clock: Option<Skew>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = bearer_token(&parts.headers) else {
            return Err(unauthorized(
                "missing token: send Authorization: Bearer <the agent's token>",
            ));
        };
        let config = state.config();
        let Some(agent) = config.config.agent_with_token(token) else {
            tracing::debug!("an agent token was refused");
            return Err(unauthorized("wrong token"));
        };
        let caller = Caller {
            agent: agent.clone(),
            name: Arc::from(agent.name.as_str()),
            region: Arc::from(agent.region.as_str()),
            clock: clock_skew(&parts.headers, SystemTime::now()),
        };
        caller.heard(state);
        Ok(caller)
    }
}

impl Caller {
    /// Records that the agent is alive; says so when it was not.
    fn heard(&self, state: &AppState) {
        let now = SystemTime::now();
        let peers = state.live.peers();
        let was_alive = peers
            .all()
            .iter()
            .any(|peer| peer.name == self.name && peer.alive(now));
        peers.seen(&self.name, &self.region, PeerKind::Agent, now);
        if !was_alive {
            tracing::info!(agent = %self.name, region = %self.region, "agent connected");
        }
    }
}

/// `GET /api/v1/agent/monitors`: the monitors of the agent's region, with
/// their secrets (it probes with them), and the version as `ETag`; 304
/// when `If-None-Match` holds it already, so polling costs no body.
async fn monitors(
    _limit: AgentLimit,
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let config = state.config();
    let payload = AgentMonitors::for_agent(&config.config, &caller.agent);
    let etag = format!("\"{}\"", payload.version);
    let known = headers
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    // Never kept by a proxy or a browser: it carries secrets.
    let cache = (CACHE_CONTROL, "no-store".to_owned());
    if known {
        return (StatusCode::NOT_MODIFIED, [(ETAG, etag), cache]).into_response();
    }
    let headers = [
        (CONTENT_TYPE, "application/json".to_owned()),
        (ETAG, etag),
        cache,
    ];
    (StatusCode::OK, headers, payload.to_json()).into_response()
}

/// A monitor's results in one batch, oldest first.
type Run = (Arc<Monitor>, Vec<CheckResult>);

/// The body of `POST /api/v1/agent/results`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    /// CHECK objects, each with its own `at` and `monitor`.
    results: Vec<CheckResult>,
}

/// `POST /api/v1/agent/results`: a batch of the agent's results. Every
/// result is checked before any is recorded, so a batch is taken whole or
/// refused whole (400 naming the first bad result).
async fn results(
    _limit: AgentLimit,
    caller: Caller,
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, Response> {
    let batch: Batch =
        json_body_within(body, MAX_RESULTS_BODY).map_err(IntoResponse::into_response)?;
    let mut results = batch.results;
    if let Some(skew) = caller.clock {
        tracing::debug!(agent = %caller.name, skew_ms = skew.as_millis_signed(), "results moved onto the server's clock");
        for result in &mut results {
            result.at = skew.apply(result.at);
        }
    }
    let runs = accept(&state, &caller, results, SystemTime::now())
        .map_err(|message| ApiError::BadRequest(message).into_response())?;
    let mut accepted = 0;
    for (monitor, results) in runs {
        accepted += results.len();
        state.pipeline.record(&monitor, results).await;
    }
    Ok(Json(serde_json::json!({ "accepted": accepted })))
}

/// How far an agent's clock is from the server's, from the time it says it
/// sent the request ([`SENT_AT_HEADER`]); `None` within [`IN_SYNC`], or
/// when the header is missing or not a time (an older agent).
fn clock_skew(headers: &HeaderMap, now: SystemTime) -> Option<Skew> {
    let sent_ms: i64 = headers.get(SENT_AT_HEADER)?.to_str().ok()?.parse().ok()?;
    let sent = crate::clock::from_unix_ms(sent_ms);
    let skew = match now.duration_since(sent) {
        Ok(behind) => Skew::Behind(behind),
        Err(ahead) => Skew::Ahead(ahead.duration()),
    };
    (skew.size() > IN_SYNC).then_some(skew)
}

/// An agent's clock against the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skew {
    Behind(Duration),
    Ahead(Duration),
}

impl Skew {
    fn size(self) -> Duration {
        match self {
            Skew::Behind(by) | Skew::Ahead(by) => by,
        }
    }

    /// `at` on the agent's clock, on the server's.
    fn apply(self, at: SystemTime) -> SystemTime {
        match self {
            Skew::Behind(by) => at.checked_add(by).unwrap_or(at),
            Skew::Ahead(by) => at.checked_sub(by).unwrap_or(at),
        }
    }

    fn as_millis_signed(self) -> i128 {
        match self {
            Skew::Behind(by) => -(by.as_millis() as i128),
            Skew::Ahead(by) => by.as_millis() as i128,
        }
    }
}

/// The results of a batch by monitor, each monitor's oldest first, with
/// the agent's region and name on them (whatever the agent wrote there);
/// or why the batch is refused.
fn accept(
    state: &AppState,
    caller: &Caller,
    results: Vec<CheckResult>,
    now: SystemTime,
) -> Result<Vec<Run>, String> {
    let setup = state.live.setup();
    let configs = &setup.config.config.monitors;
    let mut runs: Vec<Run> = Vec::new();
    let mut run_of: HashMap<String, usize> = HashMap::new();
    for (index, mut result) in results.into_iter().enumerate() {
        let at = format!("results[{index}]");
        let Some(name) = result.monitor.clone() else {
            return Err(format!("{at}.monitor: missing"));
        };
        let Some(monitor) = setup.monitors.get(&name) else {
            return Err(format!("{at}.monitor: no monitor named {name:?}"));
        };
        let assigned = configs
            .iter()
            .find(|config| config.name == name)
            .is_some_and(|config| checked_from(config, &caller.region));
        if !assigned {
            return Err(format!(
                "{at}.monitor: {name:?} is not checked by agents of region {:?}",
                caller.region
            ));
        }
        if result.at > now + MAX_AHEAD {
            return Err(format!(
                "{at}.at: {} is ahead of the server's clock ({}): check the agent's clock",
                crate::clock::rfc3339_millis(result.at),
                crate::clock::rfc3339_millis(now),
            ));
        }
        result.region = Some(caller.region.clone());
        result.node = Some(caller.name.clone());
        // Bounded as this node's own results are (contract section 10).
        result.error = result.error.take().map(|e| evidence::cut(e, MAX_TEXT));
        result.verdict.summary =
            evidence::cut(std::mem::take(&mut result.verdict.summary), MAX_TEXT);
        if let Some(found) = &mut result.evidence {
            evidence::bound(found);
        }
        result.addresses = result.addresses.take().map(|mut a| {
            a.truncate(64);
            a
        });
        // `ok` follows the cause, as it does for a local check.
        result.set_cause(result.cause);
        let run = *run_of.entry(name).or_insert_with(|| {
            runs.push((monitor.clone(), Vec::new()));
            runs.len() - 1
        });
        runs[run].1.push(result);
    }
    for (_, results) in &mut runs {
        // A stable sort: results of the same instant keep the agent's order.
        results.sort_by_key(|result| result.at);
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agents_clock_is_read_from_when_it_sent_and_taken_as_right_within_a_second() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_547_200);
        let sent = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(SENT_AT_HEADER, value.parse().expect("a header value"));
            clock_skew(&headers, now)
        };
        let ms = |at: SystemTime| crate::clock::unix_ms(at).to_string();
        let minute = Duration::from_secs(60);
        assert_eq!(sent(&ms(now - minute)), Some(Skew::Behind(minute)));
        assert_eq!(sent(&ms(now + minute)), Some(Skew::Ahead(minute)));
        assert_eq!(sent(&ms(now - IN_SYNC)), None, "in sync");
        assert_eq!(sent(&ms(now + Duration::from_millis(300))), None);
        assert_eq!(sent("soon"), None, "not a time");
        assert_eq!(clock_skew(&HeaderMap::new(), now), None, "an older agent");
        let at = now - Duration::from_secs(5);
        assert_eq!(Skew::Behind(minute).apply(at), at + minute);
        assert_eq!(Skew::Ahead(minute).apply(at), at - minute);
    }
}
