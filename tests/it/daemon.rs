//! The daemon end to end: checks land in SQLite at their interval, reloads,
//! SIGTERM drains, SIGKILL loses at most a batch, retention, a full disk.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use hopwatch::store::rollup::Rollup;
use hopwatch::store::{Store, StoredCheck, retention, unix_ms};

use crate::helpers::{
    Mode, Origin, config_text, count_rows, free_port, signal, spawn_app, spawn_app_in,
    spawn_app_with, start_binary, wait_exit, wait_until, wait_until_async,
};

#[tokio::test]
async fn checks_land_in_the_database_at_their_interval() {
    let origin = Origin::spawn().await;
    let app = spawn_app(&format!(
        "  - {{ name: web, url: '{}', interval: 1s, timeout: 1s }}\n",
        origin.url("/")
    ))
    .await;
    app.wait_stored("web", 3).await;
    let id = app.state.monitor_id("web").expect("id");
    let rows = app
        .state
        .store
        .checks(id, 0, 10)
        .await
        .expect("read checks");
    assert!(rows.iter().all(|r| r.cause == 0), "all healthy: {rows:?}");
    // Newest first; consecutive checks must not pile up closer than half
    // an interval (a scheduling property, not a timing measurement).
    for pair in rows.windows(2) {
        assert!(
            pair[0].at_ms - pair[1].at_ms >= 500,
            "checks too close: {rows:?}"
        );
    }
    let (status, body) = app.get("/api/v1/monitors/web/checks?limit=2").await;
    assert_eq!(status, 200, "{body}");
    let checks: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(checks.as_array().map(Vec::len), Some(2));
    assert_eq!(checks[0]["verdict"]["hop"], "none");
    assert_eq!(app.get("/healthz").await, (200, "ok\n".to_owned()));
    app.stop().await;
}

#[tokio::test]
async fn api_rejects_bad_parameters_and_unknown_monitors() {
    let origin = Origin::spawn().await;
    let app = spawn_app(&format!(
        "  - {{ name: web, url: '{}', interval: 5s }}\n",
        origin.url("/")
    ))
    .await;
    let (status, body) = app.get("/api/v1/monitors/web/checks?limit=abc").await;
    assert_eq!(status, 400);
    assert!(body.contains("limit"), "{body}");
    let (status, body) = app.get("/api/v1/monitors/web/checks?since=yesterday").await;
    assert_eq!(status, 400);
    assert!(body.contains("since"), "{body}");
    let (status, _) = app.get("/api/v1/monitors/nope/checks").await;
    assert_eq!(status, 404);
    // Outside /api/, an unknown path is a page, with the path escaped.
    let (status, body) = app.get("/no/such/%3Cpage%3E").await;
    assert_eq!(status, 404);
    assert!(
        body.contains("Not found") && !body.contains("<page>"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_reload_adds_and_removes_monitors_and_refuses_a_broken_config() {
    let origin = Origin::spawn().await;
    let line = |name: &str| {
        format!(
            "  - {{ name: {name}, url: '{}', interval: 1s, timeout: 1s }}\n",
            origin.url("/")
        )
    };
    let app = spawn_app(&(line("a") + &line("b"))).await;
    app.wait_stored("a", 1).await;

    // A broken config is refused and the running one stays. It is broken in
    // one place only, a's interval: were it taken, `z` would start and `b`
    // would stop.
    let broken = line("a").replace("interval: 1s", "interval: 5 sec") + &line("z");
    std::fs::write(&app.config_path, config_text(&broken, &app.db_path)).expect("write");
    // A refusal leaves nothing to wait for but a log line, so the test waits
    // until the file was polled (every 2 s) since the write: checks fall on
    // a 1 s grid and never bunch up, so of five more stored checks of `a`
    // (in both configs) at most the first ran before the write, and the
    // fifth 3 s after it.
    let (a_before, b_before) = (app.stored("a").await, app.stored("b").await);
    app.wait_stored("a", a_before + 5).await;
    assert!(
        app.state.monitor_id("z").is_none(),
        "the broken config's new monitor must not start"
    );
    assert_eq!(
        app.get("/api/v1/monitors/z/checks").await.0,
        404,
        "the API knows no z"
    );
    assert!(
        app.state.monitor_id("b").is_some(),
        "the running config's b must stay"
    );
    app.wait_stored("b", b_before + 5).await;

    std::fs::write(
        &app.config_path,
        config_text(&(line("b") + &line("c")), &app.db_path),
    )
    .expect("write");
    wait_until("reload picks up c and drops a", || {
        app.state.monitor_id("c").is_some() && app.state.monitor_id("a").is_none()
    })
    .await;
    app.wait_stored("c", 2).await;
    let store = &app.state.store;
    let ids = store.monitor_ids(&["a"]).await.expect("ids");
    let a_before = store.count_checks(Some(ids["a"])).await.expect("count");
    let c_before = app.stored("c").await;
    app.wait_stored("c", c_before + 2).await;
    let a_after = store.count_checks(Some(ids["a"])).await.expect("count");
    assert!(
        a_after <= a_before + 1,
        "a kept running after removal: {a_before} -> {a_after}"
    );
    assert!(a_before >= 1, "a's history is kept");
    app.stop().await;
}

#[tokio::test]
async fn retention_deletes_old_raw_checks_and_keeps_rollups() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("r.db")).await.expect("open");
    let id = store.monitor_ids(&["m"]).await.expect("ids")["m"];
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let row = |at: SystemTime| StoredCheck {
        monitor_id: id,
        at_ms: unix_ms(at),
        cause: 0,
        status: Some(200),
        latency_us: 1_000,
        phases_us: [0, 100, 0, 800, 100],
        flags: 0,
        node: None,
        detail: None,
    };
    let old: Vec<_> = (0..50)
        .map(|i| row(now - day * 40 - Duration::from_secs(i)))
        .collect();
    let fresh: Vec<_> = (0..5).map(|i| row(now - Duration::from_secs(i))).collect();
    let mut rollup = Rollup::default();
    rollup.record(hopwatch::probe::Cause::Ok, 1_000);
    let old_day = hopwatch::store::day_of(unix_ms(now - day * 40));
    store
        .write_batch(&[old, fresh].concat(), &[], &[(id, old_day, &rollup)], None)
        .await
        .expect("write");
    let deleted = retention::apply(&store, day * 30, now)
        .await
        .expect("retention");
    assert_eq!(deleted, 50);
    assert_eq!(store.count_checks(Some(id)).await.expect("count"), 5);
    let days = store.daily_stats(old_day).await.expect("daily");
    assert_eq!(days.len(), 1, "the old day's rollup is kept");
}

// ------------------------------------------------------------ the binary

/// A config in `dir` with one monitor, `web`, checking `origin` every
/// second; (config path, database path).
fn binary_config(dir: &Path, origin: &Origin) -> (PathBuf, PathBuf) {
    let db = dir.join("hopwatch.db");
    let config = dir.join("hopwatch.yaml");
    std::fs::write(&config, config_text(&web_monitor(origin), &db)).expect("write config");
    (config, db)
}

/// The monitor `web`, checking `origin` every second.
fn web_monitor(origin: &Origin) -> String {
    format!(
        "  - {{ name: web, url: '{}', interval: 1s, timeout: 1s }}\n",
        origin.url("/")
    )
}

#[tokio::test]
async fn sigterm_drains_running_checks_and_flushes_everything() {
    let origin = Origin::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, db) = binary_config(dir.path(), &origin);
    let mut child = start_binary(&config);
    wait_until("three checks reached the origin", || origin.requests() >= 3).await;
    signal(&child, "TERM");
    let status = wait_exit(&mut child).await;
    assert!(status.success(), "exit status {status}");
    let seen = origin.requests() as i64;
    assert_eq!(
        count_rows(&db, "SELECT COUNT(*) FROM checks").await,
        seen,
        "every check is stored"
    );
    assert_eq!(
        count_rows(
            &db,
            "SELECT COUNT(*) FROM runs WHERE stopped_ms IS NOT NULL"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn sigkill_loses_at_most_the_last_batch_and_a_restart_carries_on() {
    let origin = Origin::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, db) = binary_config(dir.path(), &origin);
    let mut child = start_binary(&config);
    wait_until("four checks reached the origin", || origin.requests() >= 4).await;
    signal(&child, "KILL");
    wait_exit(&mut child).await;
    let seen = origin.requests() as i64;
    let stored = count_rows(&db, "SELECT COUNT(*) FROM checks").await;
    // One monitor at 1s, batches every second: at most the check in flight
    // and the results of the unflushed second can be lost.
    assert!(
        seen - stored <= 3,
        "lost {} of {seen} checks",
        seen - stored
    );

    let mut child = start_binary(&config);
    wait_until("three more checks", || origin.requests() as i64 >= seen + 3).await;
    signal(&child, "TERM");
    assert!(wait_exit(&mut child).await.success());
    let total = count_rows(&db, "SELECT COUNT(*) FROM checks").await;
    assert_eq!(
        total,
        stored + (origin.requests() as i64 - seen),
        "the second run stored every check"
    );
    let rolled = count_rows(&db, "SELECT COALESCE(SUM(total), 0) FROM rollups_daily").await;
    assert_eq!(
        rolled, total,
        "rollups agree with raw rows: nothing doubled or lost between them"
    );
    assert_eq!(
        count_rows(&db, "SELECT COUNT(*) FROM runs").await,
        2,
        "the gap between runs is recorded"
    );
}

#[tokio::test]
async fn the_database_its_wal_and_new_folders_are_owner_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let origin = Origin::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("data").join("hopwatch").join("hopwatch.db");
    let config = dir.path().join("hopwatch.yaml");
    std::fs::write(&config, config_text(&web_monitor(&origin), &db)).expect("write config");
    let existing = mode(dir.path());
    // umask 000 would leave new files 0666 and folders 0777.
    let mut child = Command::new("sh")
        .args(["-c", "umask 000 && exec \"$0\" run -c \"$1\""])
        .arg(env!("CARGO_BIN_EXE_hopwatch"))
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start hopwatch");
    wait_until("two checks reached the origin", || origin.requests() >= 2).await;
    let folder = db.parent().expect("a folder");
    let wal = dir.path().join("data/hopwatch/hopwatch.db-wal");
    let shm = dir.path().join("data/hopwatch/hopwatch.db-shm");
    let modes = [
        mode(&dir.path().join("data")),
        mode(folder),
        mode(&db),
        mode(&wal),
        mode(&shm),
    ];
    signal(&child, "TERM");
    assert!(wait_exit(&mut child).await.success());
    assert_eq!(modes, [0o700, 0o700, 0o600, 0o600, 0o600]);
    assert_eq!(
        mode(dir.path()),
        existing,
        "an existing folder keeps its mode"
    );
}

// ------------------------------------------------------------ full disk

/// A tiny tmpfs mounted for one test, unmounted on drop.
struct TinyDisk {
    path: PathBuf,
}

impl TinyDisk {
    fn mount(path: PathBuf, size: &str) -> Self {
        std::fs::create_dir_all(&path).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (the test script runs as root)"
        );
        Self { path }
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes until the disk is full; returns the filler's path.
fn fill(disk: &Path) -> PathBuf {
    use std::io::Write;
    let path = disk.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    for _ in 0..10_000 {
        if file.write_all(&chunk).and_then(|_| file.flush()).is_err() {
            break;
        }
    }
    path
}

/// How long /healthz may take to follow the disk filling up or freed.
const HEALTHZ_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_full_disk_fails_healthz_keeps_checking_and_recovers() {
    let origin = Origin::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let disk = TinyDisk::mount(dir.path().join("disk"), "4m");
    let db = disk.path.join("hopwatch.db");
    let monitors: String = (0..10)
        .map(|i| {
            format!(
                "  - {{ name: m{i}, url: '{}', interval: 1s, timeout: 1s }}\n",
                origin.url("/")
            )
        })
        .collect();
    let app = spawn_app_in(tempfile::tempdir().expect("temp dir"), db, &monitors).await;
    app.wait_stored("m0", 1).await;
    assert_eq!(app.get("/healthz").await.0, 200);

    let filler = fill(&disk.path);
    wait_until_async("healthz fails on a full disk", HEALTHZ_WITHIN, async || {
        app.get("/healthz").await.0 == 503
    })
    .await;
    let (_, metrics) = app.get("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("hopwatch_store_write_errors_total ") && !l.ends_with(" 0")),
        "the error metric did not rise"
    );
    let requests = origin.requests();
    wait_until("checks continue while the disk is full", || {
        origin.requests() >= requests + 10
    })
    .await;

    std::fs::remove_file(&filler).expect("free the disk");
    wait_until_async("healthz recovers", HEALTHZ_WITHIN, async || {
        app.get("/healthz").await.0 == 200
    })
    .await;
    // Results taken during the outage were kept in memory and land now:
    // all but the checks in flight (at most one per monitor) are stored.
    // The first write that succeeds turns /healthz green while the backlog
    // may still sit in the writer's next batch, so the count is polled.
    let (mut seen, mut total) = (0, 0);
    for _ in 0..100 {
        seen = origin.requests() as i64;
        total = app.state.store.count_checks(None).await.expect("count");
        if total + 10 >= seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        total + 10 >= seen,
        "outage results were lost: {total} stored of {seen} checks"
    );
    app.stop().await;
}

#[tokio::test]
async fn downtime_of_hopwatch_counts_as_unknown_in_rollups_and_uptime() {
    let origin = Origin::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("gap.db");
    let monitors = format!(
        "  - {{ name: web, url: '{}', interval: 1s, timeout: 1s }}\n",
        origin.url("/")
    );
    let app = spawn_app_in(
        tempfile::tempdir().expect("temp dir"),
        db.clone(),
        &monitors,
    )
    .await;
    app.wait_stored("web", 2).await;
    app.stop().await;
    // Pretend the previous run died two minutes ago: the monitor existed
    // then, and nobody watched it since.
    let pool = crate::helpers::sqlite_pool(&db).await;
    sqlx::query("UPDATE runs SET alive_ms = alive_ms - 120000, started_ms = started_ms - 130000")
        .execute(&pool)
        .await
        .expect("age the run");
    sqlx::query("UPDATE monitors SET created_ms = created_ms - 130000")
        .execute(&pool)
        .await
        .expect("age");
    pool.close().await;

    let app = spawn_app_in(
        tempfile::tempdir().expect("temp dir"),
        db.clone(),
        &monitors,
    )
    .await;
    app.wait_stored("web", 4).await;
    let (status, body) = app.get("/api/v1/status").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    let uptime = json["monitors"][0]["uptime"]["24h"]
        .as_f64()
        .expect("an uptime figure");
    assert!(
        uptime < 0.2,
        "two unwatched minutes must not count as up: uptime {uptime}"
    );
    assert_eq!(json["monitors"][0]["state"], "up");
    assert_eq!(json["state"], "operational");
    app.stop().await;
    let unknown = count_rows(&db, "SELECT COALESCE(SUM(unknown), 0) FROM rollups_hourly").await;
    assert!(
        unknown >= 100,
        "the gap is in the rollups as unknown: {unknown}"
    );
}

// ------------------------------------------------- monitor semantics

#[tokio::test]
async fn confirm_rechecks_a_failure_and_marks_it_flaky_when_a_recheck_passes() {
    let origin = Origin::spawn().await;
    origin.set_mode(Mode::Status(500, "boom".to_owned())).await;
    let monitors = format!(
        "  - {{ name: web, url: '{}', interval: 2s, timeout: 1s, confirm: 2 }}\n",
        origin.url("/")
    );
    let app = spawn_app(&monitors).await;
    // The first check fails; heal the origin so a confirming re-check passes.
    wait_until("the first check reached the origin", || {
        origin.requests() >= 1
    })
    .await;
    origin.set_mode(Mode::Healthy).await;
    app.wait_stored("web", 2).await;
    let id = app.state.monitor_id("web").expect("id");
    let rows = app.state.store.checks(id, 0, 10).await.expect("checks");
    let results: Vec<_> = rows.into_iter().map(|r| r.into_result("web")).collect();
    let failed: Vec<_> = results.iter().filter(|r| !r.ok).collect();
    assert!(
        !failed.is_empty(),
        "the failing attempt is stored: {results:#?}"
    );
    assert!(
        failed.iter().all(|r| r.flaky == Some(true)),
        "failures before a pass are flaky: {results:#?}"
    );
    assert!(
        results.iter().any(|r| r.ok),
        "the passing re-check is stored too"
    );
    app.stop().await;
}

#[tokio::test]
async fn push_monitors_take_heartbeats_refuse_wrong_tokens_and_go_down_when_silent() {
    let app =
        spawn_app("  - { name: backup, type: push, interval: 1s, grace: 1s, token: t0ken }\n")
            .await;
    let (status, _) = app.get("/api/v1/push/backup?token=wrong").await;
    assert_eq!(status, 401);
    let (status, _) = app.get("/api/v1/push/nobody?token=t0ken").await;
    assert_eq!(status, 404);
    let (status, body) = app
        .get("/api/v1/push/backup?token=t0ken&status=up&msg=done")
        .await;
    assert_eq!(status, 200, "{body}");
    app.wait_stored("backup", 1).await;
    assert_eq!(app.state.live.latest("backup").map(|r| r.ok), Some(true));
    // Nothing more arrives: down after interval + grace.
    wait_until("a missed heartbeat", || {
        app.state.live.latest("backup").is_some_and(|r| !r.ok)
    })
    .await;
    let missed = app.state.live.latest("backup").expect("result");
    assert_eq!(missed.cause, hopwatch::probe::Cause::Timeout);
    assert!(
        missed
            .error
            .as_deref()
            .unwrap_or("")
            .contains("no push arrived"),
        "{missed:#?}"
    );
    let (status, _) = app
        .get("/api/v1/push/backup?token=t0ken&status=down&msg=disk%20full")
        .await;
    assert_eq!(status, 200);
    wait_until("the down push", || {
        app.state
            .live
            .latest("backup")
            .is_some_and(|r| r.error.as_deref().is_some_and(|e| e.contains("disk full")))
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn failures_while_the_connectivity_check_fails_are_unknown() {
    // Nothing listens on the connectivity target: hopwatch's own network
    // looks down, so a failing monitor is not counted as down.
    let dead = free_port();
    let app = spawn_app_with(
        &format!("connectivity_check: '127.0.0.1:{dead}'"),
        &format!(
            "  - {{ name: web, url: 'http://127.0.0.1:{dead}/', interval: 1s, timeout: 1s }}\n"
        ),
    )
    .await;
    let state = &app.state;
    wait_until("an unknown result", || {
        state
            .live
            .latest("web")
            .is_some_and(|r| r.cause == hopwatch::probe::Cause::Unknown)
    })
    .await;
    let result = state.live.latest("web").expect("result");
    assert!(!result.ok);
    assert_eq!(result.verdict.hop, hopwatch::probe::Hop::Unknown);
    assert_eq!(state.live.state("web").as_str(), "unknown");
    app.stop().await;
}
