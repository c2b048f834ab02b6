//! The domain probe: a registration's expiry from RDAP (RFC 9083), asked of
//! the server the shipped bootstrap names (or `rdap_server`), and kept for
//! hours, since a registration changes seldom and registries limit rates.

mod bootstrap;

pub use bootstrap::{Bootstrap, BootstrapError};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use url::Url;

use super::connect::{self, Failure, ms};
use super::resolve::Resolver;
use super::{Cause, evidence, http as http_probe, redirect};
use crate::monitor::result::{CheckResult, DomainFacts, Phases};
use crate::monitor::spec::{DomainSpec, HttpExpect, HttpSpec};
use crate::monitor::{AddressMode, FollowRedirects, StatusMatcher};

/// A good answer is kept this long: an expiry moves only on renewal.
pub const HOLD_ANSWER: Duration = Duration::from_secs(6 * 3600);
/// A failed answer is kept this long, so a short interval or confirming
/// re-checks do not hammer a registry that is down or limiting us.
pub const HOLD_FAILURE: Duration = Duration::from_secs(60);
/// An RDAP domain object is a few KiB; a larger answer is not one.
const BODY_LIMIT: usize = 1 << 20;
/// Redirects followed (RFC 7480 section 5.2 lets a server send the client
/// to another); a chain longer than this is a loop.
const REDIRECTS_MAX: usize = 3;

/// What an RDAP server said of a domain, as kept between checks.
#[derive(Debug, Clone)]
enum Answer {
    /// The `expiration` event, and who said it.
    Expires {
        at: SystemTime,
        remote: Option<SocketAddr>,
    },
    /// The result of a query that failed.
    Failed(Box<CheckResult>),
}

impl Answer {
    fn hold(&self) -> Duration {
        match self {
            Answer::Expires { .. } => HOLD_ANSWER,
            Answer::Failed(_) => HOLD_FAILURE,
        }
    }
}

#[derive(Debug)]
struct Cached {
    asked: Instant,
    answer: Answer,
}

/// The bootstrap and the answers of RDAP servers, per query URL (so per
/// domain and server). Owned by the [`super::Prober`], shared by every
/// domain monitor's checks.
#[derive(Default)]
pub struct RdapCache {
    bootstrap: OnceLock<Result<Bootstrap, String>>,
    answers: Mutex<HashMap<String, Cached>>,
}

impl RdapCache {
    /// The shipped bootstrap, parsed on first use.
    fn bootstrap(&self) -> Result<&Bootstrap, &str> {
        self.bootstrap
            .get_or_init(|| Bootstrap::shipped().map_err(|err| err.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// The answer for `key` still fresh at `now`, and its age.
    fn get(&self, key: &str, now: Instant) -> Option<(Answer, Duration)> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let cached = answers.get(key)?;
        let age = now.saturating_duration_since(cached.asked);
        (age < cached.answer.hold()).then(|| (cached.answer.clone(), age))
    }

    /// Keeps `answer`, dropping answers past their time (a removed
    /// monitor's entry goes within hours).
    fn put(&self, key: String, answer: Answer, now: Instant) {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers.retain(|_, c| now.saturating_duration_since(c.asked) < c.answer.hold());
        answers.insert(key, Cached { asked: now, answer });
    }
}

/// Runs one domain check: from the cache when a fresh answer is there,
/// else one RDAP query.
pub async fn check(
    spec: &DomainSpec,
    resolver: &Resolver,
    cache: &RdapCache,
    started: SystemTime,
) -> CheckResult {
    let clock = Instant::now();
    let url = match query_url(spec, cache) {
        Ok(url) => url,
        Err(message) => {
            let mut result = CheckResult::new(started, Cause::DnsError);
            result.error = Some(message);
            return result;
        }
    };
    let key = url.to_string();
    if let Some((answer, age)) = cache.get(&key, clock) {
        let mut result = from_answer(spec, &answer, started);
        result.latency_ms = ms(clock.elapsed());
        if let Some(error) = result.error.as_mut().filter(|_| !result.ok) {
            error.push_str(&format!(
                " (the answer of {} s ago; asked again {} s after it)",
                age.as_secs(),
                HOLD_FAILURE.as_secs()
            ));
        }
        return result;
    }
    let answer = query(spec, resolver, &url, started, clock).await;
    let (mut result, phases, latency) = match &answer {
        Ok((answer, phases)) => (from_answer(spec, answer, started), *phases, clock.elapsed()),
        Err(failed) => ((**failed).clone(), failed.phases_ms, clock.elapsed()),
    };
    result.phases_ms = phases;
    result.latency_ms = ms(latency);
    let answer = match answer {
        Ok((answer, _)) => answer,
        Err(failed) => Answer::Failed(failed),
    };
    cache.put(key, answer, Instant::now());
    result
}

/// `{base}/domain/{name}`, the base from `rdap_server` or the bootstrap.
fn query_url(spec: &DomainSpec, cache: &RdapCache) -> Result<Url, String> {
    let base = match &spec.rdap_server {
        Some(base) => base.clone(),
        None => {
            let bootstrap = cache.bootstrap().map_err(str::to_owned)?;
            let tld = spec.domain.rsplit('.').next().unwrap_or_default();
            bootstrap.base_for(&spec.domain).cloned().ok_or_else(|| {
                format!(
                    "no RDAP server is known for .{tld} (not in IANA's bootstrap shipped in \
                     hopwatch, published {}); set rdap_server to the registry's RDAP base URL",
                    bootstrap.publication()
                )
            })?
        }
    };
    // A base without its trailing slash would lose its last segment in
    // `join`; RFC 9224 base URLs end in one, hand-written ones may not.
    let mut base = base;
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(&format!("domain/{}", spec.domain))
        .map_err(|err| format!("cannot build the RDAP URL: {err}"))
}

/// One RDAP query: the answer, or the failed check's result.
async fn query(
    spec: &DomainSpec,
    resolver: &Resolver,
    url: &Url,
    started: SystemTime,
    clock: Instant,
) -> Result<(Answer, Phases), Box<CheckResult>> {
    let deadline = tokio::time::Instant::from_std(clock + spec.timeout);
    let mut phases = Phases::default();
    let request = request_spec(spec, url);
    let fail = |phases: Phases, failure: Failure| {
        Box::new(connect::failed(started, clock, phases, failure))
    };
    let exchange = match fetch(&request, resolver, deadline, &mut phases).await {
        Ok(exchange) => exchange,
        Err(failure) => return Err(fail(phases, failure)),
    };
    let problem = if !(200..300).contains(&exchange.status) {
        Some((
            Cause::for_status(exchange.status),
            format!("the RDAP server answered {}", exchange.status),
        ))
    } else if exchange.truncated {
        Some((
            Cause::ProtocolError,
            format!("the RDAP answer is larger than {BODY_LIMIT} bytes"),
        ))
    } else {
        match expiry_of(&exchange.body) {
            Ok(at) => {
                let remote = Some(exchange.remote);
                return Ok((Answer::Expires { at, remote }, phases));
            }
            Err(problem) => Some(problem),
        }
    };
    let (cause, message) = problem.unwrap_or((Cause::ProtocolError, String::new()));
    let mut result = connect::failed(
        started,
        clock,
        phases,
        Failure::new(cause, message).at(exchange.remote),
    );
    result.status = Some(exchange.status);
    result.evidence = Some(evidence::capture(&exchange.headers, &exchange.body));
    Err(Box::new(result))
}

/// The request as an http monitor would send it, so the http probe's
/// connection, TLS and reading code serve RDAP too.
fn request_spec(spec: &DomainSpec, url: &Url) -> HttpSpec {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("application/rdap+json, application/json;q=0.9"),
    );
    HttpSpec {
        url: url.clone(),
        method: Method::GET,
        headers,
        body: Bytes::new(),
        resolve: None,
        follow_redirects: FollowRedirects::Safe,
        tls: spec.tls.clone(),
        expect: HttpExpect {
            status: vec![StatusMatcher::Class(2)],
            body_contains: None,
            body_regex: None,
            json: Vec::new(),
            headers: Vec::new(),
            max_latency: None,
            cert_min_days: None,
        },
        addresses: AddressMode::First,
        timeout: spec.timeout,
        body_limit: BODY_LIMIT,
    }
}

/// GET with the redirects an RDAP server may send, under the http probe's
/// safety rules.
async fn fetch(
    request: &HttpSpec,
    resolver: &Resolver,
    deadline: tokio::time::Instant,
    phases: &mut Phases,
) -> Result<http_probe::Exchange, Failure> {
    let mut url = request.url.clone();
    let (host, port) = http_probe::host_port(&url);
    let mut addr = connect::resolve(resolver, host, port, deadline, phases).await?[0];
    for _ in 0..=REDIRECTS_MAX {
        let exchange = http_probe::exchange(
            request,
            &url,
            &Method::GET,
            &request.body,
            addr,
            deadline,
            phases,
        )
        .await
        .map_err(|mut failure| {
            failure.remote.get_or_insert(addr);
            failure
        })?;
        let Some(next) = http_probe::redirect_target(request, &url, &exchange) else {
            return Ok(exchange);
        };
        let (host, port) = http_probe::host_port(&next);
        let next_addr = connect::resolve(resolver, host, port, deadline, phases).await?[0];
        let policy = FollowRedirects::Safe;
        if let Some(why) = redirect::refusal(policy, &url, addr.ip(), &next, next_addr.ip()) {
            return Err(Failure::new(Cause::HttpStatus, why).at(addr));
        }
        (url, addr) = (next, next_addr);
    }
    Err(Failure::new(
        Cause::HttpStatus,
        format!("the RDAP server redirected more than {REDIRECTS_MAX} times"),
    )
    .at(addr))
}

/// The `expiration` event's date of an RDAP domain object (RFC 9083
/// section 4.5), or the cause and words of why there is none.
fn expiry_of(body: &[u8]) -> Result<SystemTime, (Cause, String)> {
    let document: serde_json::Value = serde_json::from_slice(body).map_err(|err| {
        (
            Cause::ProtocolError,
            format!("the RDAP answer is not JSON ({err})"),
        )
    })?;
    let Some(object) = document.as_object() else {
        return Err((
            Cause::ProtocolError,
            "the RDAP answer is not a domain object".to_owned(),
        ));
    };
    let events = object.get("events").and_then(serde_json::Value::as_array);
    let expiration = events.into_iter().flatten().find(|event| {
        event
            .get("eventAction")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|action| action.eq_ignore_ascii_case("expiration"))
    });
    let Some(event) = expiration else {
        return Err((
            Cause::AssertionFailed,
            "the RDAP answer has no expiration event (the registry may not publish it)".to_owned(),
        ));
    };
    let date = event
        .get("eventDate")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    parse_date(date).ok_or_else(|| {
        let shown: String = date.chars().take(64).collect();
        (
            Cause::ProtocolError,
            format!("the expiration event's date {shown:?} is not an RFC 3339 time"),
        )
    })
}

/// RFC 3339 with any offset and fraction, as registries write it.
fn parse_date(text: &str) -> Option<SystemTime> {
    let at = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    let secs = at.timestamp();
    let nanos = at.timestamp_subsec_nanos();
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

/// A check's result from an answer, fresh or kept.
fn from_answer(spec: &DomainSpec, answer: &Answer, started: SystemTime) -> CheckResult {
    let (expires, remote) = match answer {
        Answer::Failed(result) => {
            let mut result = (**result).clone();
            result.at = started;
            result.phases_ms = Phases::default();
            return result;
        }
        Answer::Expires { at, remote } => (*at, *remote),
    };
    let days_left = days_between(started, expires);
    let cause = if days_left < f64::from(spec.min_days) {
        Cause::DomainExpiring
    } else {
        Cause::Ok
    };
    let mut result = CheckResult::new(started, cause);
    result.remote_addr = remote;
    if cause != Cause::Ok {
        let date = crate::clock::rfc3339_seconds(expires);
        result.error = Some(if days_left < 0.0 {
            format!("the registration of {} expired on {date}", spec.domain)
        } else {
            format!(
                "the registration of {} expires in {days_left:.1} days, on {date} (expected at least {})",
                spec.domain, spec.min_days
            )
        });
    }
    result.domain = Some(DomainFacts {
        expires_at: expires,
        days_left,
    });
    result
}

/// Days from `now` until `then`, negative when past.
fn days_between(now: SystemTime, then: SystemTime) -> f64 {
    match then.duration_since(now) {
        Ok(ahead) => ahead.as_secs_f64() / 86_400.0,
        Err(past) => -past.duration().as_secs_f64() / 86_400.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rdap_server: Option<&str>) -> DomainSpec {
        DomainSpec {
            domain: "example.com".to_owned(),
            rdap_server: rdap_server.map(|u| Url::parse(u).unwrap()),
            min_days: 30,
            tls: crate::monitor::trust::TrustStore::default()
                .settings(false, None)
                .unwrap(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_expiration_event_is_read_whatever_its_offset() {
        let body = br#"{"objectClassName": "domain", "ldhName": "example.com",
            "events": [
                {"eventAction": "registration", "eventDate": "1995-08-14T04:00:00Z"},
                {"eventAction": "expiration", "eventDate": "2030-08-13T06:00:00+02:00"}
            ]}"#;
        let at = expiry_of(body).unwrap();
        assert_eq!(crate::clock::rfc3339_seconds(at), "2030-08-13T04:00:00Z");
    }

    #[test]
    fn bad_answers_have_their_causes() {
        let cause = |body: &[u8]| expiry_of(body).unwrap_err().0;
        assert_eq!(cause(b"<html>rate limited</html>"), Cause::ProtocolError);
        assert_eq!(cause(b"[1, 2]"), Cause::ProtocolError);
        assert_eq!(cause(br#"{"events": []}"#), Cause::AssertionFailed);
        assert_eq!(
            cause(br#"{"ldhName": "example.com"}"#),
            Cause::AssertionFailed
        );
        let bad_date = br#"{"events": [{"eventAction": "expiration", "eventDate": "soon"}]}"#;
        assert_eq!(cause(bad_date), Cause::ProtocolError);
    }

    #[test]
    fn urls_join_the_base_with_or_without_its_slash() {
        let cache = RdapCache::default();
        let url = |base| query_url(&spec(Some(base)), &cache).unwrap().to_string();
        assert_eq!(
            url("https://rdap.test/rdap"),
            "https://rdap.test/rdap/domain/example.com"
        );
        assert_eq!(
            url("https://rdap.test/rdap/"),
            "https://rdap.test/rdap/domain/example.com"
        );
        let from_bootstrap = query_url(&spec(None), &cache).unwrap();
        assert!(from_bootstrap.as_str().ends_with("/domain/example.com"));
        let mut unknown = spec(None);
        unknown.domain = "example.zz".to_owned();
        let err = query_url(&unknown, &cache).unwrap_err();
        assert!(err.contains("rdap_server"), "{err}");
    }

    #[test]
    fn answers_are_kept_six_hours_and_failures_a_minute() {
        let cache = RdapCache::default();
        let now = Instant::now();
        let expires = Answer::Expires {
            at: SystemTime::now(),
            remote: None,
        };
        cache.put("good".to_owned(), expires, now);
        let failed = Answer::Failed(Box::new(CheckResult::new(
            SystemTime::now(),
            Cause::HttpStatus,
        )));
        cache.put("bad".to_owned(), failed, now);
        let later = |d: Duration| now + d;
        assert!(
            cache
                .get("good", later(HOLD_ANSWER - Duration::from_secs(1)))
                .is_some()
        );
        assert!(cache.get("good", later(HOLD_ANSWER)).is_none());
        assert!(cache.get("bad", later(Duration::from_secs(59))).is_some());
        assert!(cache.get("bad", later(HOLD_FAILURE)).is_none());
        // A later put drops what is stale.
        cache.put(
            "other".to_owned(),
            Answer::Expires {
                at: SystemTime::now(),
                remote: None,
            },
            later(HOLD_FAILURE),
        );
        assert_eq!(cache.answers.lock().unwrap().len(), 2);
    }

    #[test]
    fn days_left_below_min_days_is_expiring() {
        let now = SystemTime::now();
        let answer = |days: u64| Answer::Expires {
            at: now + Duration::from_secs(days * 86_400),
            remote: None,
        };
        let spec = spec(Some("https://rdap.test/"));
        let ok = from_answer(&spec, &answer(31), now);
        assert_eq!(ok.cause, Cause::Ok);
        let facts = ok.domain.unwrap();
        assert!((facts.days_left - 31.0).abs() < 0.01, "{facts:?}");
        let soon = from_answer(&spec, &answer(29), now);
        assert_eq!(soon.cause, Cause::DomainExpiring);
        assert!(soon.error.unwrap().contains("expires in 29.0 days"));
    }
}
