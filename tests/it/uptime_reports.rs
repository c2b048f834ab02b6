//! Uptime reports from stored rollups: the API (JSON and CSV, by day and by
//! month, regions summed, degraded counted as up and given apart) against a
//! daemon on a pre-filled database, `hopwatch report` as a process, and the
//! query on both backends.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use hopwatch::clock::parse_date;
use hopwatch::incident::Incident;
use hopwatch::probe::{Cause, Hop, Verdict};
use hopwatch::store::rollup::{Histogram, Rollup};
use hopwatch::store::uptime::{Period, uptime_rows};
use hopwatch::store::{Location, Store, from_unix_ms};
use serde_json::Value;

use crate::helpers::{config_text, open_incident, send, spawn_app_in, test_database};

/// Every stored check took this long.
const LATENCY_US: u64 = 100_000;
/// The monitors' interval in the configs below.
const INTERVAL_S: u64 = 60;
/// A monitor that never answers: what the daemon adds today stays out of
/// the days these tests read.
const MONITOR: &str = "  - { name: web, url: 'http://127.0.0.1:9/', interval: 60s, timeout: 1s }\n";

fn day(text: &str) -> i64 {
    parse_date(text).expect("date")
}

/// A day of `ok` passed, `degraded` tls_expiring and `failed` 502 checks.
fn rollup(ok: u32, degraded: u32, failed: u32) -> Rollup {
    let mut rollup = Rollup::default();
    for (cause, n) in [
        (Cause::Ok, ok),
        (Cause::TlsExpiring, degraded),
        (Cause::Http502, failed),
    ] {
        for _ in 0..n {
            rollup.record(cause, LATENCY_US);
        }
    }
    rollup
}

fn incident(id: &str, started: &str) -> Incident {
    Incident {
        cause: Cause::Http502,
        verdict: Verdict {
            hop: Hop::Origin,
            summary: "origin answers 502".to_owned(),
        },
        value: None,
        threshold: None,
        started_at: from_unix_ms(day(started) * 86_400_000 + 3_600_000),
        ..open_incident(id, "web")
    }
}

/// `web` from 2026-10-30 to 2026-11-02: each day 90 passed, 8 degraded and
/// 2 failed checks; on 2026-11-01 a second region (`web@eu`) adds 100
/// passed. One incident opened in October, one in November.
async fn fill(store: &Store) {
    let ids = store.monitor_ids(&["web", "web@eu"]).await.expect("ids");
    let day_rollup = rollup(90, 8, 2);
    let eu_rollup = rollup(100, 0, 0);
    let mut daily = Vec::new();
    for date in ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"] {
        daily.push((ids["web"], day(date), &day_rollup));
    }
    daily.push((ids["web@eu"], day("2026-11-01"), &eu_rollup));
    store
        .write_batch(&[], &[], &daily, None)
        .await
        .expect("write rollups");
    for (id, started) in [("i-oct", "2026-10-31"), ("i-nov", "2026-11-02")] {
        store
            .open_incident(&incident(id, started), &[])
            .await
            .expect("incident");
    }
}

fn p95_ms() -> f64 {
    let mut histogram = Histogram::default();
    histogram.record(LATENCY_US);
    histogram.percentile(95.0) as f64 / 1000.0
}

async fn get(addr: std::net::SocketAddr, path: &str, accept: &str) -> (u16, String, String) {
    let request = http::Request::get(path).header(http::header::ACCEPT, accept);
    let answer = send(addr, request, "").await;
    let content_type = answer
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = String::from_utf8_lossy(answer.body()).into_owned();
    (answer.status().as_u16(), content_type, body)
}

#[tokio::test]
async fn the_api_gives_days_and_months_as_json_and_csv() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hopwatch.db");
    let store = Store::open(&db).await.expect("store");
    fill(&store).await;
    store.close().await;
    let app = spawn_app_in(dir, db, MONITOR).await;
    let json = "application/json";

    let (status, _, body) = get(
        app.addr,
        "/api/v1/monitors/web/uptime?from=2026-10-30&to=2026-11-02",
        json,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<Value> = serde_json::from_str(&body).expect("JSON");
    assert_eq!(rows.len(), 4, "{body}");
    let first = &rows[0];
    assert_eq!(first["from"], "2026-10-30");
    assert_eq!(first["to"], "2026-10-30");
    // Degraded checks count as up (0.98, not 0.90) and are given apart.
    assert_eq!(first["uptime"], 0.98);
    assert_eq!(first["checks"], 100);
    assert_eq!(first["failed"], 2);
    assert_eq!(first["unknown"], 0);
    assert_eq!(first["downtime_s"], 2 * INTERVAL_S);
    assert_eq!(first["degraded_s"], 8 * INTERVAL_S);
    assert_eq!(first["p95_ms"], p95_ms());
    // Both regions summed on 2026-11-01.
    assert_eq!(rows[2]["from"], "2026-11-01");
    assert_eq!(rows[2]["checks"], 200);
    assert_eq!(rows[2]["uptime"], 0.99);

    // By month: clipped to the range, days summed.
    let (status, _, body) = get(
        app.addr,
        "/api/v1/monitors/web/uptime?from=2026-10-30&to=2026-11-02&by=month",
        json,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let months: Vec<Value> = serde_json::from_str(&body).expect("JSON");
    assert_eq!(months.len(), 2, "{body}");
    assert_eq!(
        (&months[0]["from"], &months[0]["to"]),
        (&"2026-10-30".into(), &"2026-10-31".into())
    );
    assert_eq!(
        (&months[1]["from"], &months[1]["to"]),
        (&"2026-11-01".into(), &"2026-11-02".into())
    );
    assert_eq!(months[0]["checks"], 200);
    assert_eq!(months[0]["uptime"], 0.98);
    assert_eq!(months[0]["degraded_s"], 16 * INTERVAL_S);
    assert_eq!(months[1]["checks"], 300);
    assert_eq!(months[1]["failed"], 4);
    assert_eq!(months[1]["downtime_s"], 4 * INTERVAL_S);
    assert_eq!(months[1]["uptime"], 296.0 / 300.0);

    // The same rows as CSV; a day without data has no uptime.
    let (status, content_type, body) = get(
        app.addr,
        "/api/v1/monitors/web/uptime?from=2026-10-29&to=2026-10-30",
        "text/csv",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let expected = format!(
        "from,to,uptime,checks,failed,unknown,downtime_s,degraded_s,p95_ms\n\
         2026-10-29,2026-10-29,,0,0,0,0,0,\n\
         2026-10-30,2026-10-30,0.98,100,2,0,120,480,{}\n",
        p95_ms()
    );
    assert_eq!(body, expected);

    // Without dates: the last 30 days, one row a day.
    let (status, _, body) = get(app.addr, "/api/v1/monitors/web/uptime", json).await;
    assert_eq!(status, 200, "{body}");
    let recent: Vec<Value> = serde_json::from_str(&body).expect("JSON");
    assert_eq!(recent.len(), 30);

    for (query, parameter) in [
        ("from=2026-02-30", "from:"),
        ("to=2026-11", "to:"),
        ("from=2026-11-02&to=2026-11-01", "from:"),
        ("from=2020-01-01&to=2026-01-01", "from:"),
        ("by=week", "by:"),
    ] {
        let path = format!("/api/v1/monitors/web/uptime?{query}");
        let (status, _, body) = get(app.addr, &path, json).await;
        assert_eq!(status, 400, "{query}: {body}");
        let error: Value = serde_json::from_str(&body).expect("JSON error");
        let message = error["error"].as_str().expect("message");
        assert!(message.starts_with(parameter), "{query}: {message}");
    }
    let (status, _, _) = get(app.addr, "/api/v1/monitors/nope/uptime", json).await;
    assert_eq!(status, 404);
    app.stop().await;
}

fn report(args: &[&str], config: &Path) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .arg("report")
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .expect("run hopwatch report");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_report_command_prints_a_months_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hopwatch.db");
    let store = Store::open(&db).await.expect("store");
    fill(&store).await;
    store.close().await;
    let monitors = format!(
        "{MONITOR}  - {{ name: api, url: 'http://127.0.0.1:9/', interval: 30s, timeout: 1s }}\n"
    );
    let config = dir.path().join("hopwatch.yaml");
    std::fs::write(&config, config_text(&monitors, &db)).expect("config");

    let (code, out, err) = report(&["--month", "2026-11"], &config);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|line| line.starts_with("web "))
        .unwrap_or_else(|| panic!("no line for web in\n{out}"));
    // 300 checks, 296 up (16 of them degraded), 4 failed, 1 incident.
    let fields: Vec<&str> = line.split_whitespace().collect();
    let p95 = format!("{:.1}", p95_ms());
    assert_eq!(
        fields,
        [
            "web",
            "98.667",
            "4m",
            "00s",
            "16m",
            "00s",
            "1",
            p95.as_str(),
            "ms"
        ],
        "{out}"
    );
    let api = out
        .lines()
        .find(|line| line.starts_with("api "))
        .expect("api");
    assert_eq!(api.split_whitespace().nth(1), Some("-"), "{out}");

    let (code, _, err) = report(&["--month", "2026-13"], &config);
    assert_eq!(code, 1);
    assert!(err.contains("--month"), "{err}");
    let (code, _, _) = report(&[], &config);
    assert_eq!(code, 2, "--month is required");

    let missing = dir.path().join("elsewhere.yaml");
    let gone = dir.path().join("gone").join("hopwatch.db");
    std::fs::write(&missing, config_text(MONITOR, &gone)).expect("config");
    let (code, _, err) = report(&["--month", "2026-11"], &missing);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read the store"), "{err}");
    assert!(!gone.exists(), "a report creates no database");
}

#[tokio::test]
async fn the_report_page_shows_the_same_months_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hopwatch.db");
    let store = Store::open(&db).await.expect("store");
    fill(&store).await;
    store.close().await;
    let app = spawn_app_in(dir, db, MONITOR).await;

    let (status, content_type, body) = get(app.addr, "/reports/2026-11", "text/html").await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    // The figures `hopwatch report` prints for web (see above).
    let row = body
        .split("<tr>")
        .find(|row| row.contains(">web</a>"))
        .unwrap_or_else(|| panic!("no row for web in {body}"));
    let cells: Vec<&str> = row
        .split("<td>")
        .skip(1)
        .map(|cell| cell.split('<').next().unwrap_or_default())
        .collect();
    let p95 = format!("{:.1} ms", p95_ms());
    assert_eq!(
        cells,
        ["", "98.667%", "4m 00s", "16m 00s", "1", p95.as_str()],
        "{row}"
    );
    assert!(
        body.contains("href=\"/reports/2026-10\"") && body.contains("href=\"/reports/2026-12\"")
    );

    // Every page's footer links to this month's report.
    let today = hopwatch::clock::day_of(hopwatch::clock::unix_ms(std::time::SystemTime::now()));
    let (year, month) = hopwatch::clock::year_month(today);
    let (_, _, home) = get(app.addr, "/", "text/html").await;
    assert!(
        home.contains(&format!("href=\"/reports/{year:04}-{month:02}\"")),
        "{home}"
    );

    // A month with nothing stored says so; a malformed one is a 404.
    let (status, _, body) = get(app.addr, "/reports/2025-01", "text/html").await;
    assert_eq!(status, 200);
    assert!(body.contains("no checks"), "{body}");
    let (status, _, body) = get(app.addr, "/reports/2026-13", "text/html").await;
    assert_eq!(status, 404);
    assert!(body.contains("not a month"), "{body}");
}

#[tokio::test]
async fn the_query_reads_the_same_on_both_backends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = test_database().await;
    let stores = [
        Store::open(&dir.path().join("s.db")).await.expect("sqlite"),
        Store::open_at(&Location::parse(&database.url).expect("url"))
            .await
            .expect("postgres"),
    ];
    for store in stores {
        fill(&store).await;
        let series = store.series_ids("web").await.expect("series");
        assert_eq!(series.len(), 2);
        // `_` in a name is no wildcard.
        store
            .monitor_ids(&["db_1", "dbx1@eu", "db_1@eu"])
            .await
            .expect("ids");
        assert_eq!(store.series_ids("db_1").await.expect("series").len(), 2);
        let days = store
            .daily_rollups(&series, day("2026-10-31"), day("2026-11-01"))
            .await
            .expect("days");
        assert_eq!(
            days.keys().copied().collect::<Vec<_>>(),
            [day("2026-10-31"), day("2026-11-01")]
        );
        assert_eq!(days[&day("2026-11-01")].total, 200);
        let nov = day("2026-11-01") * 86_400_000;
        let opened = store
            .incidents_opened("web", nov, day("2026-12-01") * 86_400_000)
            .await
            .expect("incidents");
        assert_eq!(opened, 1);
        store.close().await;
    }
}

/// Not an assertion: how long the daily rollups of 1,000 monitors over 365
/// days take to read and cut by month on SQLite (what `hopwatch report`
/// does for a year). Run with `--run-ignored only`.
#[tokio::test]
#[ignore = "a measurement, not a test"]
async fn measure_a_year_of_1000_monitors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("bench.db"))
        .await
        .expect("store");
    let names: Vec<String> = (0..1_000).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = store.monitor_ids(&refs).await.expect("ids");
    let day_rollup = rollup(1_430, 6, 4);
    let first = day("2025-12-01");
    let filled = Instant::now();
    for id in ids.values() {
        let daily: Vec<_> = (first..first + 365)
            .map(|d| (*id, d, &day_rollup))
            .collect();
        store
            .write_batch(&[], &[], &daily, None)
            .await
            .expect("write");
    }
    eprintln!("filled 365,000 daily rollups in {:?}", filled.elapsed());
    let started = Instant::now();
    let mut rows = 0;
    for name in &names {
        let series = store.series_ids(name).await.expect("series");
        let days: BTreeMap<i64, Rollup> = store
            .daily_rollups(&series, first, first + 364)
            .await
            .expect("days");
        rows += uptime_rows(&days, first, first + 364, Period::Month, 60).len();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "1,000 monitors x 365 days: {rows} month rows in {elapsed:?} ({:?} a monitor)",
        elapsed / 1_000
    );
    store.close().await;
}
