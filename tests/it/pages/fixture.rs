//! The daemon the page tests look at: real origins behind real monitors,
//! real incidents, and three months of history filled in for full charts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use hopwatch::incident::{Incident, IncidentState};
use hopwatch::probe::Cause;
use hopwatch::store::rollup::Rollup;
use hopwatch::store::{Store, day_of, hour_of, unix_ms};

use crate::helpers::{Mode, Origin, TestApp, spawn_app, spawn_app_with, wait_until};

/// A title and group that would run if a page forgot to escape them.
pub const XSS: &str = "<script>alert(1)</script>";
/// What the failing origin answers: markup that must show as text.
pub const BAD_BODY: &str = "<h1>502 Bad Gateway</h1><script>alert(2)</script>";
/// Every monitor of the fixture.
pub const MONITORS: [&str; 5] = ["shop-edge", "shop-origin", "api", "flappy", "xss"];

/// A daemon with a healthy two-hop chain, a failing monitor with an open
/// incident, one whose incident resolved, and one with a hostile title.
pub struct Fixture {
    pub app: TestApp,
    /// The open incident of `api`.
    pub incident: Incident,
    _origins: [Origin; 3],
}

/// Starts the fixture and waits until its incidents exist.
pub async fn fixture() -> Fixture {
    let healthy = Origin::spawn().await;
    let broken = Origin::spawn().await;
    broken
        .set_mode(Mode::Status(502, BAD_BODY.to_owned()))
        .await;
    let flappy = Origin::spawn().await;
    flappy.set_mode(Mode::Stopped).await;
    let monitors = format!(
        "  - {{ name: shop-edge, title: Shop, group: Shop, url: '{}', upstream: shop-origin, interval: 1s, timeout: 1s }}\n\
         \x20 - {{ name: shop-origin, title: Shop origin, group: Shop, url: '{}', interval: 1s, timeout: 1s }}\n\
         \x20 - {{ name: api, title: Public API, group: API, url: 'http://user:hunter2@{}/v1', interval: 1s, timeout: 1s, runbook: 'https://wiki.example.com/api' }}\n\
         \x20 - {{ name: flappy, url: '{}', interval: 1s, timeout: 1s }}\n\
         \x20 - {{ name: xss, title: '{XSS}', group: '{XSS}', url: '{}', interval: 1s, timeout: 1s }}\n\
         alerts:\n\
         \x20 - {{ name: api-down, monitors: [api, flappy], when: {{ consecutive_failures: 2 }}, notify: [hook] }}\n\
         notifiers:\n\
         \x20 - {{ name: hook, type: webhook, url: 'http://127.0.0.1:1/' }}\n",
        healthy.url("/edge"),
        healthy.url("/health?token=sekrit"),
        broken.addr(),
        flappy.url("/"),
        healthy.url("/x"),
    );
    // These tests look at how evidence is shown (escaped, the headers
    // table); who may see it is tested in `hostile_targets`.
    let app = spawn_app_with("public_evidence: true", &monitors).await;
    let store = &app.state.store;
    // A change marker in the hour before the incidents, with markup in it.
    let ten_minutes_ago = SystemTime::now() - Duration::from_secs(600);
    store
        .add_annotation(ten_minutes_ago, "deploy <b>v2</b>", &["api".to_owned()])
        .await
        .expect("annotation");

    let incident = incident_of(store, "api", IncidentState::Open).await;
    incident_of(store, "flappy", IncidentState::Open).await;
    flappy.start().await;
    incident_of(store, "flappy", IncidentState::Resolved).await;
    wait_until("every monitor has a result", || {
        MONITORS.iter().all(|m| app.state.live.latest(m).is_some())
    })
    .await;
    fill_history(&app).await;
    Fixture {
        app,
        incident,
        _origins: [healthy, broken, flappy],
    }
}

/// Waits (at most 20 s) for an incident of `monitor` in `state`.
async fn incident_of(store: &Store, monitor: &str, state: IncidentState) -> Incident {
    for _ in 0..200 {
        let incidents = store.incidents(Some(state), 50).await.expect("incidents");
        if let Some(found) = incidents.into_iter().find(|i| i.monitor == monitor) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{monitor} never had an incident in state {state:?}");
}

/// Failed checks (of 1,440) on the day `back` days ago of the `m`-th
/// monitor: about one day in ten with failures, some of them red.
fn failures_of_fixture(m: usize, back: i64) -> u32 {
    match (back * 7 + m as i64 * 13) % 29 {
        0 => 90,
        1 | 2 => 4,
        _ => 0,
    }
}

/// 89 past days of counts and 47 past hours of latency for every monitor,
/// as a daemon that ran for three months would have: the bars and charts
/// are full and the measured page sizes are the worst case.
async fn fill_history(app: &TestApp) {
    fill_days(app, &MONITORS, failures_of_fixture);
    let now = unix_ms(SystemTime::now());
    let this_hour = hour_of(now);
    for (m, name) in MONITORS.iter().enumerate() {
        let id = app.state.monitor_id(name).expect("monitor id");
        let hours: Vec<Rollup> = (1..48)
            .map(|back| {
                let mut hour = Rollup::default();
                let base = 20_000.0 + 8_000.0 * (back as f64 / 5.0 + m as f64).sin();
                for i in 0..60u64 {
                    hour.record(Cause::Ok, base as u64 + i * 400);
                }
                hour
            })
            .collect();
        let rows: Vec<_> = hours
            .iter()
            .enumerate()
            .map(|(i, rollup)| (id, this_hour - 1 - i as i64, rollup))
            .collect();
        app.state
            .store
            .write_batch(&[], &rows, &[], None)
            .await
            .expect("write hourly rollups");
    }
}

/// 89 past days of 1,440 checks for each of `monitors` in the in-memory
/// history, `failures(m, back)` of them failed on the day `back` days ago.
fn fill_days<S: AsRef<str>>(app: &TestApp, monitors: &[S], failures: impl Fn(usize, i64) -> u32) {
    let today = day_of(unix_ms(SystemTime::now()));
    for (m, name) in monitors.iter().enumerate() {
        let id = app.state.monitor_id(name.as_ref()).expect("monitor id");
        for back in 1..90 {
            let failures = failures(m, back);
            let mut day = Rollup::default();
            for i in 0..1_440 {
                let cause = if i < failures {
                    Cause::Http502
                } else {
                    Cause::Ok
                };
                day.record(cause, 20_000);
            }
            app.state.history.set_day(id, today - back, &day);
        }
    }
}

/// A status page the size of a real one: `count` healthy monitors in four
/// groups, each with 89 days of history and a typical record of a few bad
/// days a quarter (one in six days for every fifth monitor); the origin
/// they check comes along.
pub async fn crowd(count: usize) -> (TestApp, Origin) {
    const GROUPS: [&str; 4] = ["Storefront", "Public API", "Internal tools", "Edge"];
    let origin = Origin::spawn().await;
    let names: Vec<String> = (0..count).map(|m| format!("service-{m:02}")).collect();
    let monitors: String = names
        .iter()
        .enumerate()
        .map(|(m, name)| {
            format!(
                "  - {{ name: {name}, title: 'Service {m:02} (eu-west-1)', group: '{}', url: '{}', interval: 1s, timeout: 1s }}\n",
                GROUPS[m % GROUPS.len()],
                origin.url(&format!("/{name}")),
            )
        })
        .collect();
    let app = spawn_app(&monitors).await;
    wait_until("every monitor has a result", || {
        names.iter().all(|m| app.state.live.latest(m).is_some())
    })
    .await;
    fill_days(&app, &names, |m, back| match m % 5 {
        // A troubled one: a failing day in six, a bad one now and then.
        4 => match (back + m as i64) % 6 {
            0 if back % 4 == 0 => 60,
            0 => 3,
            _ => 0,
        },
        // Typical: two or three days a quarter with failures.
        _ => match (back * 11 + m as i64 * 5) % 37 {
            0 => 30,
            _ => 0,
        },
    });
    (app, origin)
}

/// A GET with the response head: (status, lower-cased headers, body).
pub async fn fetch(addr: SocketAddr, path: &str) -> (u16, HashMap<String, String>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// The groups of [`push_crowd`], in config order; every seventh monitor has
/// no group and lands under "Other".
pub const CROWD_GROUPS: [&str; 3] = ["Storefront", "Public API", "Back office"];

/// What [`push_crowd`] made of its `m`-th monitor: its group (none for
/// "Other") and the state it was pushed into. `Public API` has one monitor
/// down (4) and one never heard from (8); `Back office` has all up but one
/// unknown (5); "Other" has one down (13); every other monitor is up.
pub fn crowd_member(m: usize) -> (Option<&'static str>, &'static str) {
    let group = (m % 7 != 6).then(|| CROWD_GROUPS[m % 7 % 3]);
    let state = match m {
        4 | 13 => "down",
        5 | 8 => "unknown",
        _ => "up",
    };
    (group, state)
}

/// The name of [`push_crowd`]'s `m`-th monitor.
pub fn crowd_name(m: usize) -> String {
    format!("job-{m:04}")
}

/// `count` push monitors in the groups of [`crowd_member`], pushed into
/// their states (no network waits: a push is one local request), with 89
/// days of history like [`crowd`]'s so the bars are full-sized.
pub async fn push_crowd(count: usize) -> TestApp {
    let monitors: String = (0..count)
        .map(|m| {
            let group = crowd_member(m)
                .0
                .map(|g| format!(", group: '{g}'"))
                .unwrap_or_default();
            format!(
                "  - {{ name: {}, title: 'Nightly job {m:04} (eu-west-1)', type: push, interval: 1h, token: tok-{m}{group} }}\n",
                crowd_name(m)
            )
        })
        .collect();
    let app = spawn_app(&monitors).await;
    for m in 0..count {
        let status = match crowd_member(m).1 {
            "unknown" => continue,
            state => state,
        };
        let path = format!(
            "/api/v1/push/{}?token=tok-{m}&status={status}",
            crowd_name(m)
        );
        let (code, body) = app.get(&path).await;
        assert_eq!(code, 200, "{path}: {body}");
    }
    wait_until("every pushed monitor has its state", || {
        (0..count).all(|m| app.state.live.state(&crowd_name(m)).as_str() == crowd_member(m).1)
    })
    .await;
    let names: Vec<String> = (0..count).map(crowd_name).collect();
    fill_days(&app, &names, |m, back| {
        match (back * 11 + m as i64 * 5) % 37 {
            0 => 30,
            _ => 0,
        }
    });
    app
}
