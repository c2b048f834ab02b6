//! A simulated month of SQLite storage: monitors checked every 10 s for 31
//! days through the store's writer path, with the hourly and daily rollups,
//! while retention (30 d) and thinning (`storage.keep_healthy`, defaults)
//! run every simulated hour, as the daemon runs them every ten minutes.
//! Prints the file's size, the bytes per kept check and how long thinning
//! takes per statement. BENCHMARKS.md, "Storage over a month".
//!
//! `cargo bench --bench month` (1,000 monitors); `HOPWATCH_MONTH_MONITORS=N`
//! for another count, `HOPWATCH_MONTH_DAYS=N` for a shorter run,
//! `HOPWATCH_MONTH_KEEP=off` to keep every check,
//! `HOPWATCH_MONTH_CHECKS=loopback` for checks of a target on the same host,
//! `HOPWATCH_MONTH_DB=FILE` to keep the database (else a temporary one),
//! `HOPWATCH_MONTH_PREFIX=m` to name the monitors `m0`, `m1`... (as
//! `bench/bench.py` does) and `HOPWATCH_MONTH_END=now` to end the history
//! at this hour instead of on 2026-11-01 (`bench/thinning.py` uses both).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hopwatch::config::values::KeepHealthy;
use hopwatch::monitor::Cause;
use hopwatch::store::rollup::Rollup;
use hopwatch::store::thinning::{self, Pace};
use hopwatch::store::{Store, StoredCheck, day_of, from_unix_ms, hour_of, retention};
use sqlx::{Connection, Row, SqliteConnection};

/// 2026-10-01T00:00:00Z: the first check (by default).
const START_MS: i64 = 1_790_812_800_000;
const HOUR_MS: i64 = 3_600_000;
const INTERVAL_MS: i64 = 10_000;
/// Days simulated: one more than retention keeps.
const DAYS: i64 = 31;
const RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// One check in this many fails (0.1 %).
const FAIL_ONE_IN: u64 = 1_000;
/// What a failed check keeps beside its row, about as long as a real one.
const DETAIL: &str = r#"{"error":"502 Bad Gateway","responder":{"role":"gateway","server":"nginx/1.24.0"},"verdict":{"hop":"origin","summary":"the gateway answered 502: the origin behind it failed"}}"#;

/// xorshift64*: the same month on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// One check of `monitor_id` at `at_ms`, a failure one time in
/// [`FAIL_ONE_IN`]: an https answer of 20-230 ms, or with `loopback` an
/// http answer of about 1.1 ms, as from nginx on the same host (the
/// "about 34 bytes a check" of the README).
fn check(monitor_id: i64, at_ms: i64, loopback: bool, random: &mut Random) -> StoredCheck {
    let roll = random.next();
    let failed = roll.is_multiple_of(FAIL_ONE_IN);
    let base = if loopback {
        1_000
    } else {
        20_000 + (monitor_id % 10) * 18_000
    };
    let latency_us = base + (roll >> 20) as i64 % (base / 4);
    let (dns, connect, tls, transfer) = if loopback {
        (20 + (roll >> 40) as i64 % 100, 90, 0, 60)
    } else {
        (300 + (roll >> 40) as i64 % 900, 1_200, 4_500, 150)
    };
    StoredCheck {
        monitor_id,
        at_ms,
        cause: if failed { Cause::Http502 } else { Cause::Ok }.code(),
        status: Some(if failed { 502 } else { 200 }),
        latency_us,
        phases_us: [
            dns,
            connect,
            tls,
            latency_us - dns - connect - tls - transfer,
            transfer,
        ],
        flags: 0,
        node: None,
        detail: failed.then(|| DETAIL.to_owned()),
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let monitors: i64 = env_or("HOPWATCH_MONTH_MONITORS", 1_000);
    let days: i64 = env_or("HOPWATCH_MONTH_DAYS", DAYS);
    let prefix = std::env::var("HOPWATCH_MONTH_PREFIX").unwrap_or_else(|_| "monitor-".to_owned());
    let start = match std::env::var("HOPWATCH_MONTH_END").as_deref() {
        Ok("now") => {
            let now = hopwatch::store::unix_ms(std::time::SystemTime::now());
            now - now % HOUR_MS - days * 24 * HOUR_MS
        }
        _ => START_MS,
    };
    let keep = match std::env::var("HOPWATCH_MONTH_KEEP").as_deref() {
        Ok("off") => None,
        _ => Some(KeepHealthy::default()),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = std::env::var("HOPWATCH_MONTH_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("month.db"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(simulate(&path, &prefix, start, monitors, days, keep));
}

/// Timings of thinning, over the month.
#[derive(Default)]
struct Timing {
    windows: usize,
    deleted: u64,
    spent: Duration,
    /// Single windows, timed one by one on the last day.
    steps: Vec<Duration>,
}

async fn simulate(
    path: &Path,
    prefix: &str,
    start: i64,
    monitors: i64,
    days: i64,
    keep: Option<KeepHealthy>,
) {
    let loopback = std::env::var("HOPWATCH_MONTH_CHECKS").as_deref() == Ok("loopback");
    let store = Store::open(path).await.expect("open");
    let names: Vec<String> = (0..monitors).map(|n| format!("{prefix}{n}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids: Vec<i64> = {
        let ids = store.monitor_ids(&refs).await.expect("ids");
        names.iter().map(|n| ids[n]).collect()
    };
    // Each monitor's place in its 10 s, as the scheduler spreads them.
    let offsets: Vec<i64> = (0..monitors).map(|n| (n * 7_919) % INTERVAL_MS).collect();
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut timing = Timing::default();
    let mut by_day: HashMap<(i64, i64), Rollup> = HashMap::new();
    let started = Instant::now();
    let mut written: u64 = 0;
    for hour in 0..days * 24 {
        let hour_start = start + hour * HOUR_MS;
        let mut hours: HashMap<i64, Rollup> = HashMap::new();
        // A minute a transaction: the writer's 250 ms batches, coarser.
        for minute in 0..60 {
            let mut batch = Vec::with_capacity(6 * ids.len());
            for round in 0..6 {
                let tick = hour_start + minute * 60_000 + round * INTERVAL_MS;
                for (id, offset) in ids.iter().zip(&offsets) {
                    let c = check(*id, tick + offset, loopback, &mut random);
                    let cause = Cause::from_code(c.cause).expect("cause");
                    let latency = c.latency_us as u64;
                    hours.entry(*id).or_default().record(cause, latency);
                    let day = (*id, day_of(c.at_ms));
                    by_day.entry(day).or_default().record(cause, latency);
                    batch.push(c);
                }
            }
            written += batch.len() as u64;
            store
                .write_batch(&batch, &[], &[], None)
                .await
                .expect("write");
        }
        let hourly: Vec<_> = hours
            .iter()
            .map(|(id, r)| (*id, hour_of(hour_start), r))
            .collect();
        let today = day_of(hour_start);
        let daily: Vec<_> = by_day
            .iter()
            .filter(|((_, day), _)| *day == today)
            .map(|((id, day), r)| (*id, *day, r))
            .collect();
        store
            .write_batch(&[], &hourly, &daily, None)
            .await
            .expect("rollups");
        by_day.retain(|(_, day), _| *day >= today);

        // What the daemon's retention task does (every ten minutes there).
        let now = from_unix_ms(hour_start + HOUR_MS);
        retention::apply(&store, RETENTION, now)
            .await
            .expect("retention");
        if let Some(keep) = keep {
            let last_day = hour >= (days - 1) * 24;
            if last_day {
                let step = Pace {
                    windows: 1,
                    pause: Duration::ZERO,
                };
                loop {
                    let took = Instant::now();
                    let done = thinning::apply(&store, keep, now, step)
                        .await
                        .expect("thin");
                    if done.windows > 0 {
                        timing.steps.push(took.elapsed());
                    }
                    timing.windows += done.windows;
                    timing.deleted += done.deleted;
                    if done.caught_up {
                        break;
                    }
                }
            } else {
                let took = Instant::now();
                let done = thinning::apply(&store, keep, now, Pace::UNBOUNDED)
                    .await
                    .expect("thin");
                timing.spent += took.elapsed();
                timing.windows += done.windows;
                timing.deleted += done.deleted;
            }
        }
        if hour % 24 == 23 {
            eprintln!(
                "day {:>2}: {} checks written, {:.0} s",
                hour / 24 + 1,
                written,
                started.elapsed().as_secs_f64()
            );
        }
    }
    store.close().await;
    report(path, monitors, days, keep.is_some(), written, &timing).await;
}

/// Sizes of the file as the daemon leaves it, and after `VACUUM`.
async fn report(
    path: &Path,
    monitors: i64,
    days: i64,
    thinned: bool,
    written: u64,
    timing: &Timing,
) {
    let url = format!("sqlite://{}", path.display());
    let mut db = SqliteConnection::connect(&url).await.expect("connect");
    let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");
    let mut counts = Vec::new();
    for table in ["checks", "check_details", "rollups_hourly", "rollups_daily"] {
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(count(table)))
            .fetch_one(&mut db)
            .await
            .expect("count")
            .get(0);
        counts.push((table, n));
    }
    let kept = counts[0].1;
    let failed: i64 = sqlx::query("SELECT COUNT(*) FROM checks WHERE cause <> 0")
        .fetch_one(&mut db)
        .await
        .expect("failed")
        .get(0);
    let scale = 10_000.0 / monitors as f64;
    let gb = |bytes: u64| bytes as f64 / 1e9;
    println!(
        "{monitors} monitors, 10 s, {days} days written ({written} checks), retention 30 d, \
         thinning {}",
        if thinned { "on (48h, 5m)" } else { "off" }
    );
    for (table, n) in &counts {
        println!("  {table}: {n} rows");
    }
    println!(
        "  kept checks: {kept} ({:.0} a monitor; {failed} failed)",
        kept as f64 / monitors as f64
    );
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut db)
        .await
        .expect("checkpoint");
    for stage in ["as the daemon leaves it", "after VACUUM"] {
        if stage == "after VACUUM" {
            sqlx::query("VACUUM")
                .execute(&mut db)
                .await
                .expect("vacuum");
        }
        let size = std::fs::metadata(path).expect("size").len();
        let free: i64 = sqlx::query("PRAGMA freelist_count")
            .fetch_one(&mut db)
            .await
            .expect("freelist")
            .get(0);
        println!(
            "  file {stage}: {:.3} GB ({free} free pages), {:.1} B a kept check; \
             10,000 monitors: {:.1} GB",
            gb(size),
            size as f64 / kept as f64,
            gb(size) * scale
        );
        // The share of each table, where SQLite has `dbstat`.
        if let Ok(rows) = sqlx::query(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6",
        )
        .fetch_all(&mut db)
        .await
        {
            for row in rows {
                let (name, bytes): (String, i64) = (row.get(0), row.get(1));
                println!("    {name}: {:.3} GB", gb(bytes as u64));
            }
        }
    }
    if timing.windows > 0 {
        let mut steps = timing.steps.clone();
        steps.sort();
        let at = |q: f64| steps[((steps.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
        let unbounded = timing.windows - steps.len();
        println!(
            "  thinning: {} windows, {} checks deleted",
            timing.windows, timing.deleted
        );
        if unbounded > 0 {
            println!(
                "  hourly passes before the last day: {:.2} ms a window",
                timing.spent.as_secs_f64() * 1e3 / unbounded as f64
            );
        }
        if !steps.is_empty() {
            println!(
                "  one window at a time (last day, {} of them, with the pass's bookkeeping): \
                 p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                steps.len(),
                at(0.5),
                at(0.99),
                at(1.0)
            );
        }
    }
}
