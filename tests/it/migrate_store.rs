//! `hopwatch migrate-store`: a SQLite node's history, written through the
//! store's own API, copied into a fresh database on a real PostgreSQL (and
//! into a SQLite file) reads back the same; new ids follow the copied ones;
//! a target with a history of its own is refused with nothing written; and
//! the binary prints a line per table and never the password.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime};

use hopwatch::incident::{Incident, Regions, ReportStatus, Severity};
use hopwatch::probe::{Cause, Hop, Responder, Role, Verdict};
use hopwatch::store::copy::{CopyError, copy_store, open_source};
use hopwatch::store::incidents::NewDelivery;
use hopwatch::store::reports::NewReport;
use hopwatch::store::rollup::Rollup;
use hopwatch::store::subscribers::Subscribed;
use hopwatch::store::{Location, Store, StoredCheck, day_of, from_unix_ms, hour_of, unix_ms};
use sqlx::Row;
use tokio::process::Command;

use crate::helpers::{TestDatabase, firing_delivery, open_incident, test_database};

const MONITORS: [&str; 3] = ["edge", "origin", "resolver"];
/// More than two batches of 5,000, spread over the monitors, so the keyset
/// crosses from one monitor to the next mid-batch.
const CHECKS: i64 = 12_345;
const TABLES: [&str; 11] = [
    "monitors",
    "runs",
    "checks",
    "check_details",
    "rollups_hourly",
    "rollups_daily",
    "incidents",
    "annotations",
    "reports",
    "report_updates",
    "deliveries",
];

/// What [`fill`] wrote, to compare against.
struct Filled {
    now: SystemTime,
    max_monitor: i64,
    max_run: i64,
    max_annotation: i64,
    max_report: i64,
    subscriber: i64,
}

fn detail(n: i64) -> String {
    format!(r#"{{"error":"bad gateway #{n}","verdict":{{"hop":"origin","summary":"refused"}}}}"#)
}

/// A node's history: three monitors, two runs, checks with details, hourly
/// and daily rollups, incidents (open, folded, resolved, acknowledged) with
/// their outbox in every state, annotations, and status reports (one
/// resolved, with an update).
async fn fill(store: &Store) -> Filled {
    store.name_this_node("node-1").await.expect("name");
    let ids = store.monitor_ids(&MONITORS).await.expect("ids");
    let now = SystemTime::now();
    let now_ms = unix_ms(now);
    let first = store
        .start_run(now - Duration::from_secs(7_200))
        .await
        .expect("run");
    store
        .stop_run(first, now - Duration::from_secs(3_600))
        .await
        .expect("stop");
    let run = store
        .start_run(now - Duration::from_secs(1_800))
        .await
        .expect("run");

    let start = now_ms - CHECKS * 1_000;
    let mut checks = Vec::new();
    let mut hourly = std::collections::BTreeMap::<(i64, i64), Rollup>::new();
    let mut daily = std::collections::BTreeMap::<(i64, i64), Rollup>::new();
    for n in 0..CHECKS {
        let monitor = ids[MONITORS[(n % 3) as usize]];
        let failed = n % 7 == 0;
        let cause = if failed { Cause::Http5xx } else { Cause::Ok };
        let at_ms = start + n * 1_000;
        checks.push(StoredCheck {
            monitor_id: monitor,
            at_ms,
            cause: cause.code(),
            status: (n % 11 != 0).then_some(if failed { 502 } else { 200 }),
            latency_us: 1_000 + n,
            phases_us: [n % 13, 100 + n % 17, 200, 300 + n % 5, 40],
            flags: i64::from(n % 23 == 0),
            // This node's own, and two agents'.
            node: Some(["node-1", "node-1", "eu-agent-1", "us-agent-1"][(n % 4) as usize].into()),
            detail: failed.then(|| detail(n)),
        });
        let latency = 1_000 + u64::try_from(n).expect("positive");
        for (rollups, bucket) in [(&mut hourly, hour_of(at_ms)), (&mut daily, day_of(at_ms))] {
            rollups
                .entry((monitor, bucket))
                .or_default()
                .record(cause, latency);
        }
    }
    let hourly: Vec<_> = hourly.iter().map(|(&(m, b), r)| (m, b, r)).collect();
    let daily: Vec<_> = daily.iter().map(|(&(m, b), r)| (m, b, r)).collect();
    store
        .write_batch(&checks, &hourly, &daily, Some((run, now_ms)))
        .await
        .expect("write");

    let before = now - Duration::from_secs(600);
    let everywhere = store
        .add_annotation(before, "deploy 42", &[])
        .await
        .expect("annotation");
    let edge_only = store
        .add_annotation(before, "edge config", &["edge".to_owned()])
        .await
        .expect("annotation");

    let mut origin = incident("i-origin", "origin", now - Duration::from_secs(120));
    origin.responder = Some(Responder {
        role: Role::Gateway,
        product: Some("nginx".to_owned()),
    });
    origin.regions = Regions {
        failing: vec!["eu-west".to_owned()],
        passing: vec!["us-east".to_owned()],
    };
    store
        .open_incident(
            &origin,
            &[
                delivery("i-origin.hook.firing.0", "hook", &origin),
                delivery("i-origin.mail.firing.0", "mail", &origin),
            ],
        )
        .await
        .expect("open");
    let mut edge = incident("i-edge", "edge", now - Duration::from_secs(60));
    edge.value = None;
    edge.threshold = None;
    store.open_incident(&edge, &[]).await.expect("open edge");
    store
        .fold_incident("i-edge", "i-origin")
        .await
        .expect("fold");
    let old = incident("i-old", "resolver", now - Duration::from_secs(5_000));
    store
        .open_incident(&old, &[delivery("i-old.hook.firing.0", "hook", &old)])
        .await
        .expect("open old");
    store
        .resolve_incident(
            "i-old",
            now - Duration::from_secs(4_000),
            &[delivery("i-old.hook.resolved.0", "hook", &old)],
        )
        .await
        .expect("resolve");
    assert!(store.acknowledge("i-origin").await.expect("ack"));
    store
        .delivery_sent("i-old.hook.firing.0", 1)
        .await
        .expect("sent");
    store
        .delivery_retry(
            "i-origin.mail.firing.0",
            2,
            now + Duration::from_secs(30),
            "421 try later",
        )
        .await
        .expect("retry");
    store
        .delivery_failed("i-old.hook.resolved.0", 9, "410 gone")
        .await
        .expect("failed");

    let report = |title: &str| NewReport {
        title: title.to_owned(),
        status: ReportStatus::Investigating,
        message: format!("{title}: looking"),
        monitors: vec!["edge".to_owned()],
        pages: Vec::new(),
    };
    let open = store
        .create_report(&report("Checkout"), now - Duration::from_secs(600), None)
        .await
        .expect("report");
    let resolved = store
        .create_report(&report("Search"), now - Duration::from_secs(300), None)
        .await
        .expect("report");
    store
        .add_report_update(resolved.id, ReportStatus::Resolved, "fixed", now, None)
        .await
        .expect("update");

    // A confirmed subscriber, whose confirmation mail is in the outbox,
    // and the key that signed its links.
    let subscribed = store
        .subscribe("", "ann@example.com", "mail", now)
        .await
        .expect("subscribe");
    let Subscribed::Asked(subscriber) = subscribed else {
        panic!("a new address is asked to confirm: {subscribed:?}");
    };
    store
        .confirm_subscriber(subscriber, now)
        .await
        .expect("confirm");
    store.signing_key("links").await.expect("key");

    Filled {
        now,
        max_monitor: ids.values().copied().max().expect("ids"),
        max_run: run,
        max_annotation: everywhere.max(edge_only),
        max_report: open.id.max(resolved.id),
        subscriber,
    }
}

fn incident(id: &str, monitor: &str, started_at: SystemTime) -> Incident {
    Incident {
        severity: Severity::Critical,
        cause: Cause::Http5xx,
        verdict: Verdict {
            hop: Hop::Origin,
            summary: "the origin answers 502".to_owned(),
        },
        value: Some(0.25),
        threshold: Some(0.05),
        // Whole milliseconds: that is what a store keeps.
        started_at: from_unix_ms(unix_ms(started_at)),
        ..open_incident(id, monitor)
    }
}

fn delivery(id: &str, notifier: &str, incident: &Incident) -> NewDelivery {
    firing_delivery(id, notifier, incident)
}

/// Every read the daemon, the pages and the dispatcher make gives the same
/// answer on both stores.
async fn assert_same(source: &Store, target: &Store, filled: &Filled) {
    let subscriber = source.subscriber(filled.subscriber).await.expect("read");
    assert!(subscriber.as_ref().is_some_and(|s| s.confirmed));
    assert_eq!(
        target.subscriber(filled.subscriber).await.expect("read"),
        subscriber
    );
    assert_eq!(
        target.signing_key("links").await.expect("key"),
        source.signing_key("links").await.expect("key"),
        "links signed before the move still open after it"
    );
    let monitors = source.known_monitors().await.expect("monitors");
    assert_eq!(monitors.len(), MONITORS.len());
    assert_eq!(target.known_monitors().await.expect("monitors"), monitors);
    // Asking the target for ids would insert (and spend sequence values):
    // the checks read by the source's ids below show that ids were kept.
    let ids = source.monitor_ids(&MONITORS).await.expect("ids");
    assert_eq!(
        target.count_checks(None).await.expect("count"),
        source.count_checks(None).await.expect("count")
    );
    for (name, id) in &ids {
        let expected = source.checks(*id, 0, u32::MAX).await.expect("checks");
        assert!(expected.len() as i64 >= CHECKS / 3, "{name}");
        assert!(
            expected.iter().any(|check| check.detail.is_some()),
            "{name}"
        );
        // Each check keeps the node or agent that made it.
        let nodes: std::collections::BTreeSet<_> =
            expected.iter().map(|check| check.node.as_deref()).collect();
        let made = [Some("eu-agent-1"), Some("node-1"), Some("us-agent-1")];
        assert_eq!(nodes, made.into(), "{name}");
        let copied = target.checks(*id, 0, u32::MAX).await.expect("checks");
        assert_eq!(format!("{copied:?}"), format!("{expected:?}"), "{name}");
        assert_eq!(
            target.hourly_latency(*id, 0).await.expect("hours"),
            source.hourly_latency(*id, 0).await.expect("hours"),
            "{name}"
        );
        let at = filled.now;
        assert_eq!(
            target.annotations_before(name, at).await.expect("notes"),
            source.annotations_before(name, at).await.expect("notes"),
            "{name}"
        );
    }
    let days = |mut days: Vec<hopwatch::store::DayStat>| {
        days.sort_by_key(|day| (day.monitor_id, day.day));
        days
    };
    let expected = days(source.daily_stats(0).await.expect("days"));
    assert!(!expected.is_empty());
    assert_eq!(days(target.daily_stats(0).await.expect("days")), expected);

    let expected = source.reports(None, 100).await.expect("reports");
    assert_eq!(expected.len(), 2);
    assert_eq!(target.reports(None, 100).await.expect("reports"), expected);

    let expected = source.incidents(None, 100).await.expect("incidents");
    assert_eq!(expected.len(), 3);
    assert_eq!(
        target.incidents(None, 100).await.expect("incidents"),
        expected
    );
    for incident in &expected {
        assert_eq!(
            target
                .incident(&incident.id)
                .await
                .expect("incident")
                .as_ref(),
            Some(incident)
        );
    }
    let pending = source.pending_deliveries(100).await.expect("pending");
    assert_eq!(
        pending.len(),
        3,
        "one untried, one waiting for a retry, a subscriber's confirmation"
    );
    assert!(
        pending[2]
            .subscriber
            .as_ref()
            .is_some_and(|s| s.subscriber == filled.subscriber),
        "a subscriber's message comes after the alerts: {pending:?}"
    );
    assert_eq!(
        format!(
            "{:?}",
            target.pending_deliveries(100).await.expect("pending")
        ),
        format!("{pending:?}")
    );
    assert_eq!(
        target.deliveries().await.expect("deliveries"),
        source.deliveries().await.expect("deliveries")
    );
    assert_eq!(
        target.next_delivery_due().await.expect("due"),
        source.next_delivery_due().await.expect("due")
    );
    let runs = source.runs(0).await.expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(target.runs(0).await.expect("runs"), runs);
    assert_eq!(
        target.last_alive().await.expect("alive"),
        source.last_alive().await.expect("alive")
    );
}

/// New monitors, runs and annotations in the target get ids past the
/// copied ones, instead of colliding with them.
async fn assert_fresh_ids(target: &Store, filled: &Filled) {
    let ids = target.monitor_ids(&["new-monitor"]).await.expect("ids");
    let new = *ids.get("new-monitor").expect("the new monitor got an id");
    assert!(new > filled.max_monitor, "{new} > {}", filled.max_monitor);
    let run = target.start_run(SystemTime::now()).await.expect("run");
    assert!(run > filled.max_run, "{run} > {}", filled.max_run);
    let note = target
        .add_annotation(SystemTime::now(), "after the move", &[])
        .await
        .expect("annotation");
    assert!(
        note > filled.max_annotation,
        "{note} > {}",
        filled.max_annotation
    );
    let new = NewReport {
        title: "after the move".to_owned(),
        status: ReportStatus::Monitoring,
        message: "m".to_owned(),
        monitors: Vec::new(),
        pages: Vec::new(),
    };
    let report = target
        .create_report(&new, SystemTime::now(), None)
        .await
        .expect("report");
    assert!(
        report.id > filled.max_report,
        "{} > {}",
        report.id,
        filled.max_report
    );
}

async fn postgres_store(database: &TestDatabase) -> Store {
    Store::open_at(&Location::parse(&database.url).expect("url"))
        .await
        .expect("postgres")
}

/// Rows in every table, straight from the database.
async fn row_counts(database: &TestDatabase) -> Vec<i64> {
    let pool = database.pool().await;
    let mut counts = Vec::new();
    for table in TABLES {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .expect("count");
        counts.push(row.get::<i64, _>(0));
    }
    pool.close().await;
    counts
}

#[tokio::test]
async fn a_sqlite_history_copied_into_postgres_reads_back_the_same() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node.db");
    let store = Store::open(&path).await.expect("sqlite");
    let filled = fill(&store).await;
    store.close().await;

    let source = open_source(&path).await.expect("source");
    let database = test_database().await;
    let target = postgres_store(&database).await;
    let mut reported = Vec::new();
    let copied = copy_store(&source, &target, |table| reported.push(table.clone()))
        .await
        .expect("copied");
    assert_eq!(reported, copied, "each table is reported as it completes");
    let counts: Vec<(&str, u64)> = copied.iter().map(|t| (t.table, t.rows)).collect();
    let details = (CHECKS as u64).div_ceil(7);
    assert_eq!(
        counts,
        [
            ("monitors", 3),
            ("runs", 2),
            ("check_nodes", 3),
            ("checks", CHECKS as u64),
            ("check_details", details),
            ("rollups_hourly", counts[5].1),
            ("rollups_daily", counts[6].1),
            ("incidents", 3),
            ("annotations", 2),
            ("reports", 2),
            ("report_updates", 3),
            ("deliveries", 5),
            ("subscribers", 1),
            ("signing_keys", 1),
        ]
    );
    assert!(counts[5].1 >= 3 * 3 && counts[6].1 >= 3);
    assert_same(&source, &target, &filled).await;

    // A second copy into the same database is refused, and writes nothing.
    let before = row_counts(&database).await;
    let refused = copy_store(&source, &target, |_| {}).await;
    assert!(
        matches!(refused, Err(CopyError::NotEmpty { table: "checks" })),
        "{refused:?}"
    );
    assert_eq!(row_counts(&database).await, before);

    assert_fresh_ids(&target, &filled).await;
    source.close().await;
    target.close().await;
}

#[tokio::test]
async fn a_sqlite_history_copied_into_a_new_sqlite_file_reads_back_the_same() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node.db");
    let source = Store::open(&path).await.expect("sqlite");
    let filled = fill(&source).await;
    let target = Store::open(&dir.path().join("compact.db"))
        .await
        .expect("target");
    copy_store(&source, &target, |_| {}).await.expect("copied");
    assert_same(&source, &target, &filled).await;
    assert_fresh_ids(&target, &filled).await;
    source.close().await;
    target.close().await;
}

#[tokio::test]
async fn a_target_with_a_monitor_or_an_incident_of_its_own_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = Store::open(&dir.path().join("node.db"))
        .await
        .expect("sqlite");
    fill(&source).await;
    let when = SystemTime::now();

    let database = test_database().await;
    let with_monitor = postgres_store(&database).await;
    with_monitor.monitor_ids(&["theirs"]).await.expect("ids");
    let refused = copy_store(&source, &with_monitor, |_| {}).await;
    assert!(
        matches!(refused, Err(CopyError::NotEmpty { table: "monitors" })),
        "{refused:?}"
    );
    assert_eq!(
        row_counts(&database).await,
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    with_monitor.close().await;

    // A run alone is not a history, so the copy starts; the copied run 1
    // then collides with it, and the error says where the copy stopped.
    let database = test_database().await;
    let with_run = postgres_store(&database).await;
    with_run.start_run(when).await.expect("run");
    let error = copy_store(&source, &with_run, |_| {})
        .await
        .expect_err("a colliding id");
    assert!(
        matches!(
            error,
            CopyError::Batch {
                table: "runs",
                batch: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.left_partial_copy(), "the monitors are in");
    let text = error.to_string();
    assert!(
        text.starts_with("copying runs: batch 1 (rows 1 to 5000) could not be written"),
        "{text}"
    );
    with_run.close().await;

    let with_incident = Store::open(&dir.path().join("theirs.db"))
        .await
        .expect("sqlite");
    with_incident
        .open_incident(&incident("i-theirs", "theirs", when), &[])
        .await
        .expect("open");
    let refused = copy_store(&source, &with_incident, |_| {}).await;
    let error = refused.expect_err("refused");
    assert!(
        matches!(error, CopyError::NotEmpty { table: "incidents" }),
        "{error:?}"
    );
    assert!(!error.left_partial_copy());
    assert!(
        error.to_string().contains("already holds incidents"),
        "{error}"
    );
    assert_eq!(with_incident.count_checks(None).await.expect("count"), 0);
    assert!(
        with_incident
            .known_monitors()
            .await
            .expect("monitors")
            .is_empty()
    );
    with_incident.close().await;
    source.close().await;
}

async fn hopwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run hopwatch")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `url` with a password, which trust auth ignores and no output may show.
fn with_password(url: &str, password: &str) -> String {
    let mut url = url::Url::parse(url).expect("url");
    url.set_password(Some(password)).expect("password");
    url.into()
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[tokio::test]
async fn the_command_prints_each_table_refuses_a_second_copy_and_never_the_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node.db");
    let store = Store::open(&path).await.expect("sqlite");
    let ids = store.monitor_ids(&MONITORS).await.expect("ids");
    let now = unix_ms(SystemTime::now());
    let checks: Vec<StoredCheck> = (0..10)
        .map(|n| StoredCheck {
            monitor_id: ids["edge"],
            at_ms: now - n * 1_000,
            cause: Cause::Ok.code(),
            status: Some(200),
            latency_us: 900,
            phases_us: [1, 2, 3, 4, 5],
            flags: 0,
            node: None,
            detail: None,
        })
        .collect();
    store
        .write_batch(&checks, &[], &[], None)
        .await
        .expect("write");
    store.close().await;

    let database = test_database().await;
    let secret = "s3cret-pw";
    let url = with_password(&database.url, secret);
    let output = hopwatch(&["migrate-store", "--from", arg(&path), "--to", &url]).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    for table in TABLES {
        let line = stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no line for {table}: {stdout}"));
        assert!(line.contains(" rows ") && line.ends_with(" s"), "{line}");
    }
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("checks") && line.split_whitespace().nth(1) == Some("10")),
        "{stdout}"
    );
    assert!(stdout.contains("copied 13 rows from "), "{stdout}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret));

    let output = hopwatch(&["migrate-store", "--from", arg(&path), "--to", &url]).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("the target already holds checks"),
        "{stderr}"
    );
    assert!(!stdout.contains(secret) && !stderr.contains(secret));

    // A missing source is an error, and neither file is created.
    let missing = dir.path().join("missing.db");
    let target = dir.path().join("target.db");
    let to = format!("sqlite://{}", target.display());
    let output = hopwatch(&["migrate-store", "--from", arg(&missing), "--to", &to]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("missing.db: no such file"), "{stderr}");
    assert!(!missing.exists() && !target.exists());

    let output = hopwatch(&["migrate-store", "--from", arg(&path), "--to", "mysql://x"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("--to: must start with"));
}
