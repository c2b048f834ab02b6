//! Alerts end to end: nginx in front of a controllable origin, the real
//! daemon, a webhook receiver that records (and can refuse) deliveries.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{KeyInit, Mac};
use hopwatch::incident::{Incident, IncidentState};
use tokio::task::JoinHandle;

use crate::helpers::{
    GatewayOpts, Mode, Nginx, Origin, TestApp, config_yaml, count_rows, free_port, spawn_app,
    spawn_app_stored, start_binary, test_database, wait_until, wait_until_async,
};

const SECRET: &str = "s3cret";
/// A bound on each wait for the daemon to act on an outage or a recovery.
const SETTLE_WITHIN: Duration = Duration::from_secs(20);

/// One delivery the receiver accepted.
#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    body: serde_json::Value,
}

#[derive(Clone, Default)]
struct Inbox {
    accepted: Arc<Mutex<Vec<Received>>>,
    /// Answer 500 to this many requests before accepting again.
    refuse: Arc<AtomicU32>,
    refused: Arc<AtomicU32>,
}

/// A webhook receiver on a fixed port that verifies signatures.
struct Receiver {
    addr: SocketAddr,
    inbox: Inbox,
    task: JoinHandle<()>,
}

impl Receiver {
    async fn start(port: u16) -> Receiver {
        let inbox = Inbox::default();
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, inbox, task }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn accepted(&self) -> Vec<Received> {
        self.inbox.accepted.lock().expect("inbox").clone()
    }

    fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        self.accepted()
            .into_iter()
            .map(|r| r.body)
            .filter(|b| b["event"] == kind)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(inbox): State<Inbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if inbox.refuse.load(Ordering::SeqCst) > 0 {
        inbox.refuse.fetch_sub(1, Ordering::SeqCst);
        inbox.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("hmac key");
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let signature = headers
        .get("x-hopwatch-signature")
        .and_then(|v| v.to_str().ok());
    if signature != Some(expected.as_str()) {
        return StatusCode::UNAUTHORIZED;
    }
    let Some(delivery) = headers
        .get("x-hopwatch-delivery")
        .and_then(|v| v.to_str().ok())
    else {
        return StatusCode::BAD_REQUEST;
    };
    let Ok(body) = serde_json::from_slice(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    inbox.accepted.lock().expect("inbox").push(Received {
        delivery: delivery.to_owned(),
        body,
    });
    StatusCode::NO_CONTENT
}

/// Two hops: the edge through nginx, the origin directly; one alert on both.
fn monitors(nginx_url: &str, origin_url: &str, hook: &str) -> String {
    format!(
        "  - {{ name: shop-edge, group: Shop, url: '{nginx_url}', upstream: shop-origin, interval: 1s, timeout: 1s }}\n\
         \x20 - {{ name: shop-origin, group: Shop, url: '{origin_url}', interval: 1s, timeout: 1s }}\n\
         alerts:\n\
         \x20 - {{ name: shop-down, monitors: ['group:Shop'], when: {{ consecutive_failures: 2 }}, notify: [hook] }}\n\
         notifiers:\n\
         \x20 - {{ name: hook, type: webhook, url: '{hook}', secret: {SECRET} }}\n"
    )
}

/// Waits until `shop-edge` and `shop-origin` each have an incident in
/// `state`, both were checked twice more since, and the outbox holds nothing
/// pending; returns the incidents. A message is queued in the transaction
/// that records its incident, so by then every message hopwatch decided to
/// send, a second page included, has reached the receiver: what arrived is
/// all there is, without a sleep to guess how long "nothing more" takes.
async fn settle(app: &TestApp, state: IncidentState) -> Vec<Incident> {
    let store = &app.state.store;
    wait_until_async(
        &format!("an incident in state {state:?} for both monitors"),
        SETTLE_WITHIN,
        async || {
            let incidents = store.incidents(Some(state), 10).await.expect("incidents");
            ["shop-edge", "shop-origin"]
                .iter()
                .all(|m| incidents.iter().any(|i| i.monitor == *m))
        },
    )
    .await;
    for monitor in ["shop-edge", "shop-origin"] {
        let checked = app.stored(monitor).await;
        app.wait_stored(monitor, checked + 2).await;
    }
    wait_until_async(
        "the outbox holds nothing pending",
        SETTLE_WITHIN,
        async || {
            let deliveries = store.deliveries().await.expect("deliveries");
            deliveries.iter().all(|(_, _, state, _)| state != "pending")
        },
    )
    .await;
    store.incidents(None, 10).await.expect("incidents")
}

fn assert_unique_deliveries(receiver: &Receiver) {
    let ids: Vec<String> = receiver
        .accepted()
        .into_iter()
        .map(|r| r.delivery)
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "a delivery arrived twice: {ids:?}");
}

#[tokio::test]
async fn an_origin_outage_behind_nginx_pages_once_naming_the_origin_and_resolves_once() {
    origin_outage_pages_once(None).await;
}

#[tokio::test]
async fn on_postgresql_an_origin_outage_pages_once_and_resolves_once() {
    let database = test_database().await;
    origin_outage_pages_once(Some(&database.url)).await;
}

/// The outage story on the default SQLite file, or on PostgreSQL at `url`.
async fn origin_outage_pages_once(postgres: Option<&str>) {
    let origin = Origin::spawn().await;
    let nginx = Nginx::start(origin.port(), GatewayOpts::default()).await;
    let receiver = Receiver::start(0).await;
    let monitors = monitors(
        &nginx.url("/health"),
        &origin.url("/health"),
        &receiver.url(),
    );
    let app = match postgres {
        None => spawn_app(&monitors).await,
        Some(url) => {
            spawn_app_stored(&format!("url: '{url}'"), &format!("monitors:\n{monitors}")).await
        }
    };
    wait_until("both monitors checked", || {
        app.state.live.latest("shop-edge").is_some()
            && app.state.live.latest("shop-origin").is_some()
    })
    .await;

    origin.set_mode(Mode::Stopped).await;
    wait_until("a firing alert arrives", || {
        !receiver.events("firing").is_empty()
    })
    .await;
    // Both monitors fail; the edge's alert must join the origin's incident.
    let incidents = settle(&app, IncidentState::Open).await;
    let firing = receiver.events("firing");
    assert_eq!(firing.len(), 1, "one page, not two: {firing:#?}");
    let event = &firing[0];
    assert_eq!(event["monitor"]["name"], "shop-origin");
    assert_eq!(
        event["verdict"]["hop"], "origin",
        "the origin itself is down: {event:#}"
    );
    assert_eq!(event["cause"], "connect_refused");
    let edge = incidents
        .iter()
        .find(|i| i.monitor == "shop-edge")
        .expect("the edge has an incident");
    assert_eq!(
        edge.verdict.hop.as_str(),
        "origin",
        "the edge's verdict names the origin: {edge:#?}"
    );
    assert!(
        edge.folded_into.is_some(),
        "the edge's incident is folded into the origin's"
    );

    origin.start().await;
    wait_until("a resolved alert arrives", || {
        !receiver.events("resolved").is_empty()
    })
    .await;
    settle(&app, IncidentState::Resolved).await;
    assert_eq!(
        receiver.events("resolved").len(),
        1,
        "{:#?}",
        receiver.accepted()
    );
    assert_eq!(receiver.events("firing").len(), 1);
    assert_unique_deliveries(&receiver);
    app.stop().await;
}

#[tokio::test]
async fn a_broken_gateway_in_front_of_a_healthy_origin_is_the_gateways_fault() {
    let origin = Origin::spawn().await;
    // nginx pointed at a port where nothing listens: the origin is fine.
    let wrong = free_port();
    let nginx = Nginx::start(wrong, GatewayOpts::default()).await;
    let receiver = Receiver::start(0).await;
    let app = spawn_app(&monitors(
        &nginx.url("/health"),
        &origin.url("/health"),
        &receiver.url(),
    ))
    .await;
    wait_until("a firing alert arrives", || {
        !receiver.events("firing").is_empty()
    })
    .await;
    let event = &receiver.events("firing")[0];
    assert_eq!(event["monitor"]["name"], "shop-edge");
    assert_eq!(event["verdict"]["hop"], "gateway", "{event:#}");
    assert_eq!(event["cause"], "http_502");
    assert_eq!(event["responder"]["product"], "nginx");
    app.stop().await;
}

// ------------------------------------------------------------ crash safety

#[tokio::test]
async fn nothing_is_lost_or_doubled_across_a_sigkill_and_a_receiver_outage() {
    let origin = Origin::spawn().await;
    let nginx = Nginx::start(origin.port(), GatewayOpts::default()).await;
    let receiver = Receiver::start(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("hopwatch.yaml");
    let text = config_yaml(
        &format!("listen: 127.0.0.1:{}", free_port()),
        &dir.path().join("hopwatch.db"),
        &format!(
            "monitors:\n{}",
            monitors(
                &nginx.url("/health"),
                &origin.url("/health"),
                &receiver.url()
            )
        ),
    );
    std::fs::write(&config, text).expect("write config");
    let mut daemon = start_binary(&config);

    origin.set_mode(Mode::Stopped).await;
    wait_until("a firing alert arrives", || {
        !receiver.events("firing").is_empty()
    })
    .await;
    // A kill between the receiver's 2xx and hopwatch recording it would
    // send that delivery again after the restart, under the same id for the
    // receiver to drop; the test kills once the answer is on record.
    let db = dir.path().join("hopwatch.db");
    let sent = "SELECT COUNT(*) FROM deliveries WHERE state = 'sent'";
    wait_until_async(
        "the firing delivery is recorded as sent",
        SETTLE_WITHIN,
        async || count_rows(&db, sent).await >= 1,
    )
    .await;
    daemon.kill().expect("SIGKILL");
    daemon.wait().expect("reap");

    // The receiver is down while the origin recovers and the daemon restarts.
    receiver.inbox.refuse.store(3, Ordering::SeqCst);
    origin.start().await;
    let mut daemon = start_binary(&config);
    wait_until("the receiver refused the resolved alert", || {
        receiver.inbox.refused.load(Ordering::SeqCst) >= 1
    })
    .await;
    // Refused three times, the resolved alert arrives after about 7 s of
    // backoff; once nothing is pending, no other message can follow.
    let pending = "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'";
    wait_until_async(
        "the resolved alert arrives and nothing is left to send",
        Duration::from_secs(30),
        async || !receiver.events("resolved").is_empty() && count_rows(&db, pending).await == 0,
    )
    .await;
    daemon.kill().expect("stop");
    daemon.wait().expect("reap");
    assert_eq!(
        receiver.events("firing").len(),
        1,
        "{:#?}",
        receiver.accepted()
    );
    assert_eq!(
        receiver.events("resolved").len(),
        1,
        "{:#?}",
        receiver.accepted()
    );
    assert_unique_deliveries(&receiver);
}

#[tokio::test]
async fn an_alert_storm_reaches_a_notifier_as_one_grouped_message() {
    use hopwatch::incident::{AlertEvent, EventKind, MonitorRef};
    use hopwatch::store::incidents::NewDelivery;

    let receiver = Receiver::start(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = hopwatch::store::Store::open(&dir.path().join("storm.db"))
        .await
        .expect("open");
    let event = |i: usize| AlertEvent {
        kind: EventKind::Firing,
        incident_id: format!("inc-{i}"),
        alert: "down".to_owned(),
        severity: hopwatch::incident::Severity::Critical,
        monitor: MonitorRef {
            name: format!("m{i}"),
            group: None,
            url: None,
        },
        cause: hopwatch::probe::Cause::ConnectRefused,
        responder: None,
        verdict: hopwatch::probe::Verdict {
            hop: hopwatch::probe::Hop::Origin,
            summary: "down".to_owned(),
        },
        value: Some(3.0),
        threshold: Some(3.0),
        started_at: std::time::SystemTime::now(),
        resolved_at: None,
        evidence: None,
        annotations: Vec::new(),
        runbook: None,
        url: None,
        regions: Default::default(),
    };
    // Six incidents opened at once, each queueing a message to the hook.
    for i in 0..6 {
        let incident = hopwatch::incident::Incident {
            severity: hopwatch::incident::Severity::Critical,
            verdict: event(i).verdict,
            threshold: Some(3.0),
            ..crate::helpers::open_incident(&format!("inc-{i}"), &format!("m{i}"))
        };
        let delivery = NewDelivery {
            id: format!("inc-{i}.hook.firing.0"),
            notifier: "hook".to_owned(),
            events: vec![event(i)],
        };
        store
            .open_incident(&incident, &[delivery])
            .await
            .expect("queue");
    }
    let dispatcher = crate::helpers::dispatcher(
        &store,
        &format!(
            "monitors: [{{ name: m0, url: 'http://127.0.0.1:1/' }}]\nnotifiers:\n  - {{ name: hook, type: webhook, url: '{}', secret: {SECRET} }}\n",
            receiver.url()
        ),
    );
    dispatcher.deliver_due().await.expect("deliver");
    let accepted = receiver.accepted();
    assert_eq!(
        accepted.len(),
        1,
        "one grouped message, not six: {accepted:#?}"
    );
    assert_eq!(accepted[0].body["event"], "grouped");
    assert_eq!(accepted[0].body["events"].as_array().map(Vec::len), Some(6));
    // Delivered once: another round sends nothing again.
    dispatcher.deliver_due().await.expect("deliver");
    assert_eq!(receiver.accepted().len(), 1);
    let states: Vec<String> = store
        .deliveries()
        .await
        .expect("rows")
        .into_iter()
        .map(|d| d.2)
        .collect();
    assert_eq!(
        states,
        vec!["sent".to_owned()],
        "the six rows became one sent delivery"
    );
}
