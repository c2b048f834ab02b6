//! The domain probe against an RDAP server in the test (axum on loopback)
//! answering RFC 9083-shaped domain objects, good and broken, and counting
//! the queries, so that the 6 h cache can be seen to spare the registry.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hopwatch::config::compile;
use hopwatch::monitor::trust::TrustStore;
use hopwatch::probe::{Cause, CheckResult, Hop, Prober};
use serde_json::{Value, json};

use crate::helpers::{LOCALHOST, assert_cause, assert_hop};

/// What the server answers for one domain.
#[derive(Clone)]
enum Answer {
    /// A domain object whose registration ends in this many days.
    ExpiresIn(i64),
    /// A domain object without an expiration event.
    NoExpiration,
    /// 200 with this body as `application/rdap+json`.
    Raw(&'static str),
    /// An RDAP error object with this status (RFC 9083 section 6).
    Error(u16),
    /// Never answers.
    Stall,
}

struct Rdap {
    answers: HashMap<&'static str, Answer>,
    queries: AtomicUsize,
    accept: std::sync::Mutex<Vec<String>>,
}

/// An RDAP server on 127.0.0.1, stopped when dropped.
struct RdapServer {
    base: String,
    state: Arc<Rdap>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RdapServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RdapServer {
    async fn start(answers: &[(&'static str, Answer)]) -> RdapServer {
        let state = Arc::new(Rdap {
            answers: answers.iter().cloned().collect(),
            queries: AtomicUsize::new(0),
            accept: std::sync::Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/rdap/domain/{name}", axum::routing::get(domain))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind((LOCALHOST, 0))
            .await
            .expect("bind the RDAP server");
        let addr = listener.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RdapServer {
            // No trailing slash: hand-written bases often lack it.
            base: format!("http://{addr}/rdap"),
            state,
            task,
        }
    }

    fn queries(&self) -> usize {
        self.state.queries.load(Ordering::SeqCst)
    }
}

async fn domain(
    State(rdap): State<Arc<Rdap>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    rdap.queries.fetch_add(1, Ordering::SeqCst);
    if let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        rdap.accept
            .lock()
            .expect("accept log")
            .push(accept.to_owned());
    }
    let rdap_json = [(header::CONTENT_TYPE, "application/rdap+json")];
    match rdap.answers.get(name.as_str()).cloned() {
        Some(Answer::ExpiresIn(days)) => {
            let expires = SystemTime::now() + Duration::from_secs(days as u64 * 86_400);
            let date = humantime::format_rfc3339_seconds(expires).to_string();
            (rdap_json, domain_object(&name, Some(&date)).to_string()).into_response()
        }
        Some(Answer::NoExpiration) => {
            (rdap_json, domain_object(&name, None).to_string()).into_response()
        }
        Some(Answer::Raw(body)) => (rdap_json, body).into_response(),
        Some(Answer::Error(code)) => {
            let status = StatusCode::from_u16(code).expect("a status");
            let body = json!({
                "rdapConformance": ["rdap_level_0"],
                "errorCode": code,
                "title": "Not Found",
                "description": [format!("{name} is not registered here")]
            });
            (status, rdap_json, body.to_string()).into_response()
        }
        Some(Answer::Stall) => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A domain object in the shape of RFC 9083's examples (section 5.3).
fn domain_object(name: &str, expires: Option<&str>) -> Value {
    let mut events = vec![
        json!({ "eventAction": "registration", "eventDate": "1997-09-15T04:00:00Z" }),
        json!({ "eventAction": "last changed", "eventDate": "2024-08-14T07:01:44Z" }),
    ];
    if let Some(date) = expires {
        events.push(json!({ "eventAction": "expiration", "eventDate": date }));
    }
    json!({
        "rdapConformance": ["rdap_level_0"],
        "objectClassName": "domain",
        "handle": "XXXX-TEST",
        "ldhName": name.to_ascii_uppercase(),
        "status": ["client delete prohibited", "client transfer prohibited"],
        "nameservers": [
            { "objectClassName": "nameserver", "ldhName": "NS1.EXAMPLE.NET" },
            { "objectClassName": "nameserver", "ldhName": "NS2.EXAMPLE.NET" }
        ],
        "secureDNS": { "delegationSigned": false },
        "events": events,
        "notices": [{
            "title": "Terms of Use",
            "description": ["Service subject to the registry's terms."]
        }]
    })
}

/// Compiles a domain monitor for `name` against `server`.
fn spec(server: &RdapServer, name: &str, extra: Value) -> hopwatch::probe::ProbeSpec {
    let mut json = json!({
        "name": "reg", "type": "domain", "domain": name, "rdap_server": server.base
    });
    if let (Some(into), Value::Object(from)) = (json.as_object_mut(), extra) {
        into.extend(from);
    }
    let monitor = crate::helpers::checks_monitor(json);
    compile::probe(&monitor, &TrustStore::default())
        .unwrap_or_else(|errors| panic!("monitor does not compile: {errors:?}"))
}

async fn check(prober: &Prober, server: &RdapServer, name: &str, extra: Value) -> CheckResult {
    prober.check(&spec(server, name, extra)).await
}

#[tokio::test]
async fn a_distant_expiry_is_ok_and_the_check_carries_it() {
    let server = RdapServer::start(&[("example.com", Answer::ExpiresIn(400))]).await;
    let result = check(&Prober::default(), &server, "Example.COM.", json!({})).await;
    assert_cause(&result, Cause::Ok);
    assert_hop(&result, Hop::None);
    let facts = result
        .domain
        .as_ref()
        .unwrap_or_else(|| panic!("no domain facts: {result:#?}"));
    assert!((399.0..=400.0).contains(&facts.days_left), "{facts:?}");
    let check = serde_json::to_value(&result).expect("CHECK JSON");
    assert!(check["domain"]["expires_at"].is_string(), "{check:#}");
    assert!(check["domain"]["days_left"].is_number(), "{check:#}");
    assert!(result.phases_ms.connect > 0.0, "{:?}", result.phases_ms);
    let accept = server.state.accept.lock().expect("accept log").clone();
    assert!(
        accept.iter().all(|a| a.contains("application/rdap+json")),
        "{accept:?}"
    );
}

#[tokio::test]
async fn fewer_days_than_min_days_is_domain_expiring() {
    let server = RdapServer::start(&[("soon.test", Answer::ExpiresIn(10))]).await;
    let prober = Prober::default();
    let result = check(&prober, &server, "soon.test", json!({})).await;
    assert_cause(&result, Cause::DomainExpiring);
    assert_hop(&result, Hop::Dns);
    assert!(
        result
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("at least 30")
    );
    // A lower bar passes; the answer comes from the cache.
    let relaxed = check(
        &prober,
        &server,
        "soon.test",
        json!({ "expect": { "min_days": 7 } }),
    );
    assert_cause(&relaxed.await, Cause::Ok);
    assert_eq!(server.queries(), 1);
}

#[tokio::test]
async fn broken_answers_have_typed_causes() {
    let server = RdapServer::start(&[
        ("garbage.test", Answer::Raw("<html><body>rate limited</body></html>")),
        ("array.test", Answer::Raw("[]")),
        ("noexpiry.test", Answer::NoExpiration),
        ("baddate.test", Answer::Raw(r#"{"objectClassName": "domain", "events": [{"eventAction": "expiration", "eventDate": "next year"}]}"#)),
        ("missing.test", Answer::Error(404)),
        ("broken.test", Answer::Error(503)),
    ])
    .await;
    let prober = Prober::default();
    let cases = [
        ("garbage.test", Cause::ProtocolError),
        ("array.test", Cause::ProtocolError),
        ("noexpiry.test", Cause::AssertionFailed),
        ("baddate.test", Cause::ProtocolError),
        ("missing.test", Cause::HttpStatus),
        ("broken.test", Cause::Http503),
    ];
    for (name, cause) in cases {
        let result = check(&prober, &server, name, json!({})).await;
        assert_cause(&result, cause);
        assert!(result.domain.is_none(), "{result:#?}");
    }
}

#[tokio::test]
async fn a_stalling_server_times_out() {
    let server = RdapServer::start(&[("stall.test", Answer::Stall)]).await;
    let result = check(
        &Prober::default(),
        &server,
        "stall.test",
        json!({ "timeout": "1s" }),
    )
    .await;
    assert_cause(&result, Cause::Timeout);
}

#[tokio::test]
async fn answers_are_cached_per_domain_and_failures_too() {
    let server = RdapServer::start(&[
        ("example.com", Answer::ExpiresIn(400)),
        ("example.net", Answer::ExpiresIn(200)),
        ("garbage.test", Answer::Raw("not json")),
    ])
    .await;
    let prober = Prober::default();
    for _ in 0..3 {
        let result = check(&prober, &server, "example.com", json!({})).await;
        assert_cause(&result, Cause::Ok);
        assert!(result.domain.is_some(), "a cached answer keeps its facts");
    }
    assert_eq!(server.queries(), 1, "one query for three checks");
    check(&prober, &server, "example.net", json!({})).await;
    assert_eq!(server.queries(), 2, "another domain is another query");

    // A failure is asked again after a minute at the soonest, not at
    // every check (nor at every confirming re-check).
    let first = check(&prober, &server, "garbage.test", json!({})).await;
    let again = check(&prober, &server, "garbage.test", json!({})).await;
    assert_cause(&first, Cause::ProtocolError);
    assert_cause(&again, Cause::ProtocolError);
    assert_eq!(server.queries(), 3);

    // Another Prober (a restart) asks again.
    check(&Prober::default(), &server, "example.com", json!({})).await;
    assert_eq!(server.queries(), 4);
}
