//! `GET /api/v1/status`: the overall state and each monitor's state, uptimes
//! and last check, filtered by group and state and paged by name on request.
//! Without the admin token it shows the public monitors, or with `?key=`
//! those of that private page.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::{masked, parse_limit};
use crate::config::MonitorConfig;
use crate::monitor::{MonitorState, overall};
use crate::web::access::Credentials;
use crate::web::{ApiError, AppState, EvidenceView};

/// What a cursor says before the name it points after; a cursor of another
/// shape (or of a later version of this API) is refused, not misread.
const CURSOR_PREFIX: &str = "after:";

/// The query, as text so that each bad value is answered naming its key.
#[derive(Debug, Default, Deserialize)]
pub(super) struct StatusQuery {
    group: Option<String>,
    state: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    // `key` (a private page's) is read by `Credentials`, and kept out of
    // this `Debug`.
}

/// Which monitors one answer holds.
#[derive(Debug, PartialEq)]
struct Selection {
    /// Only monitors whose `group` is this.
    group: Option<String>,
    /// Only monitors in one of these states.
    states: Option<Vec<&'static str>>,
    /// Paged: at most `limit` monitors (none: all that remain) with a name
    /// after `after`, in name order.
    page: Option<Page>,
}

#[derive(Debug, PartialEq)]
struct Page {
    limit: Option<u32>,
    after: Option<String>,
}

impl StatusQuery {
    /// The selection, or a 400 naming the first bad parameter. `groups` are
    /// the groups the config has: a group nobody is in is most likely a
    /// typo, and an empty list would hide it.
    fn selection<'a>(
        &self,
        mut groups: impl Iterator<Item = &'a str>,
    ) -> Result<Selection, ApiError> {
        if let Some(group) = &self.group
            && !groups.any(|g| g == group)
        {
            return Err(ApiError::BadRequest(format!(
                "group: no monitor is in a group named {group:?}"
            )));
        }
        let states =
            match &self.state {
                None => None,
                Some(text) => Some(
                    text.split(',')
                        .map(|word| {
                            MonitorState::parse(word).map(MonitorState::as_str).ok_or_else(|| {
                            ApiError::BadRequest(format!(
                                "state: expected up, degraded, down, maintenance or unknown \
                                 (or several, comma-separated), got {word:?}"
                            ))
                        })
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
        let limit = match &self.limit {
            None => None,
            some => Some(parse_limit(some.as_deref())?),
        };
        let after = self.cursor.as_deref().map(decode_cursor).transpose()?;
        let page = (limit.is_some() || after.is_some()).then_some(Page { limit, after });
        Ok(Selection {
            group: self.group.clone(),
            states,
            page,
        })
    }
}

/// An opaque cursor for "the monitors after `name`".
fn encode_cursor(name: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{name}"))
}

/// The monitor name a cursor points after.
fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(CURSOR_PREFIX).map(str::to_owned))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "cursor: expected a next_cursor from an earlier answer, got {cursor:?}"
            ))
        })
}

/// The monitors of one answer with their states, and the cursor for the
/// next page when more remain. Unpaged, the list keeps config order; paged,
/// it is ordered by name, so pages stay stable when the config is reordered.
fn select<'a>(
    monitors: impl IntoIterator<Item = (&'a MonitorConfig, &'static str)>,
    selection: &Selection,
) -> (Vec<(&'a MonitorConfig, &'static str)>, Option<String>) {
    let mut chosen: Vec<_> = monitors
        .into_iter()
        .filter(|(m, _)| {
            selection
                .group
                .as_ref()
                .is_none_or(|g| m.group.as_ref() == Some(g))
        })
        .filter(|(_, state)| selection.states.as_ref().is_none_or(|s| s.contains(state)))
        .collect();
    let Some(page) = &selection.page else {
        return (chosen, None);
    };
    chosen.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name));
    if let Some(after) = &page.after {
        chosen.retain(|(m, _)| m.name.as_str() > after.as_str());
    }
    let limit = page.limit.map_or(usize::MAX, |n| n as usize);
    let next = (chosen.len() > limit).then(|| {
        chosen.truncate(limit);
        chosen.last().map(|(m, _)| encode_cursor(&m.name))
    });
    (chosen, next.flatten())
}

/// `GET /api/v1/status?group=&state=&limit=&cursor=&key=`: overall state
/// (of every monitor the reader may see, whatever the filters: a private
/// monitor's outage must not show through it), and each selected monitor's state,
/// uptimes (fractions of checks that were up, degraded ones included;
/// unknown and downtime of hopwatch itself count as not up; `null` without
/// data) and last check.
pub(super) async fn status(
    view: EvidenceView,
    credentials: Credentials,
    State(state): State<AppState>,
    Query(query): Query<StatusQuery>,
) -> Result<Response, ApiError> {
    let config = state.config();
    let (scope, keyed) = credentials.status_scope(&config.config);
    // A page's key holders see its whole evidence, as on the page itself.
    let view = if keyed { EvidenceView::Whole } else { view };
    let all: Vec<&MonitorConfig> = config
        .config
        .monitors
        .iter()
        .filter(|m| scope.shows(&m.name))
        .collect();
    let selection = query.selection(all.iter().filter_map(|m| m.group.as_deref()))?;
    let live: Vec<MonitorState> = all.iter().map(|m| state.live.state(&m.name)).collect();
    let overall = overall(live.iter().copied()).api_word();
    let states: Vec<(&MonitorConfig, &'static str)> = all
        .iter()
        .zip(&live)
        .map(|(&m, s)| (m, s.as_str()))
        .collect();

    let (chosen, next_cursor) = select(states, &selection);
    let now = crate::clock::unix_ms(std::time::SystemTime::now());
    let (hour, day) = (crate::clock::hour_of(now), crate::clock::day_of(now));
    let monitors: Vec<_> = chosen
        .into_iter()
        .map(|(monitor, monitor_state)| {
            let uptime = state.monitor_id(&monitor.name).map(|id| {
                serde_json::json!({
                    "24h": state.history.last_hours(id, hour, 24).uptime(),
                    "7d": state.history.last_days(id, day, 7).uptime(),
                    "30d": state.history.last_days(id, day, 30).uptime(),
                })
            });
            let combined = state.live.regional(&monitor.name);
            let last_check = combined
                .as_ref()
                .map(|c| masked(&view.check((*c.headline).clone())));
            // Each region's state and last check; a failing region's check
            // carries the monitor's verdict when that verdict is regional.
            let regional = combined
                .as_ref()
                .filter(|c| c.headline.verdict.hop == crate::monitor::Hop::Network)
                .map(|c| c.headline.verdict.clone());
            let regions: Vec<_> = state
                .live
                .regions(&monitor.name)
                .into_iter()
                .map(|seen| {
                    let region_state = crate::monitor::MonitorState::of(&seen.result);
                    let mut check = (*seen.result).clone();
                    if let Some(verdict) = &regional
                        && region_state == crate::monitor::MonitorState::Down
                    {
                        check.verdict = verdict.clone();
                    }
                    serde_json::json!({
                        "region": &*seen.region,
                        "state": region_state.as_str(),
                        "alive": seen.alive,
                        "last_check": masked(&view.check(check)),
                    })
                })
                .collect();
            serde_json::json!({
                "name": monitor.name,
                "title": monitor.title.as_deref().unwrap_or(&monitor.name),
                "group": monitor.group,
                "type": monitor.kind.as_str(),
                "state": monitor_state,
                "uptime": uptime,
                "last_check": last_check,
                "regions": regions,
            })
        })
        .collect();
    let mut answer = serde_json::json!({ "state": overall, "monitors": monitors });
    if let Some(cursor) = next_cursor {
        answer["next_cursor"] = cursor.into();
    }
    let mut response = Json(answer).into_response();
    if keyed {
        crate::web::access::keep_private(&mut response);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query as axum parses it from a request.
    fn query(pairs: &[(&str, &str)]) -> StatusQuery {
        let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let uri: axum::http::Uri = format!("/?{}", text.join("&")).parse().expect("a URI");
        Query::<StatusQuery>::try_from_uri(&uri).expect("a query").0
    }

    fn monitors() -> Vec<MonitorConfig> {
        ["c", "a", "e", "b", "d"]
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let mut monitor = MonitorConfig::named(name);
                monitor.group = (i % 2 == 0).then(|| "even".to_owned());
                monitor
            })
            .collect()
    }

    fn names(chosen: &[(&MonitorConfig, &str)]) -> Vec<String> {
        chosen.iter().map(|(m, _)| m.name.clone()).collect()
    }

    #[test]
    fn without_parameters_everything_comes_in_config_order() {
        let configs = monitors();
        let selection = query(&[]).selection(["even"].into_iter()).expect("valid");
        let (chosen, next) = select(configs.iter().map(|m| (m, "up")), &selection);
        assert_eq!(names(&chosen), ["c", "a", "e", "b", "d"]);
        assert_eq!(next, None);
    }

    #[test]
    fn filters_narrow_and_pages_walk_by_name() {
        let configs = monitors();
        let state_of = |m: &MonitorConfig| if m.name == "e" { "down" } else { "up" };
        let with = |pairs: &[(&str, &str)]| {
            let selection = query(pairs).selection(["even"].into_iter()).expect("valid");
            let (chosen, next) = select(configs.iter().map(|m| (m, state_of(m))), &selection);
            (names(&chosen), next)
        };
        assert_eq!(with(&[("group", "even")]).0, ["c", "e", "d"]);
        assert_eq!(with(&[("state", "down")]).0, ["e"]);
        assert_eq!(
            with(&[("state", "down,up"), ("group", "even")]).0,
            ["c", "e", "d"]
        );

        let (first, cursor) = with(&[("limit", "2")]);
        assert_eq!(first, ["a", "b"]);
        let cursor = cursor.expect("more remain");
        let (second, cursor) = with(&[("limit", "2"), ("cursor", &cursor)]);
        assert_eq!(second, ["c", "d"]);
        let (last, cursor) = with(&[("limit", "2"), ("cursor", &cursor.expect("more"))]);
        assert_eq!((last, cursor), (vec!["e".to_owned()], None));
        assert_eq!(with(&[("limit", "5")]).1, None, "no cursor when all fit");
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (key, value) in [
            ("group", "odd"),
            ("state", "sideways"),
            ("state", "up,"),
            ("limit", "0"),
            ("limit", "many"),
            ("cursor", "bm90LWEtY3Vyc29y"),
            ("cursor", "!!"),
        ] {
            let err = query(&[(key, value)])
                .selection(["even"].into_iter())
                .expect_err(value)
                .to_string();
            assert!(err.starts_with(&format!("{key}:")), "{key}={value}: {err}");
        }
    }

    #[test]
    fn cursors_round_trip_any_name() {
        for name in ["web", "a b/ç?&=", ""] {
            assert_eq!(
                decode_cursor(&encode_cursor(name)).ok().as_deref(),
                Some(name)
            );
        }
    }
}
