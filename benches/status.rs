//! How long the status page's figures take with 1,000 monitors and 90 days
//! of rollups: loading the in-memory history at start, then computing every
//! monitor's 24h/7d/30d uptime and 90-day bars. `cargo bench --bench status`.

use std::time::{Duration, Instant, SystemTime};

use hopwatch::clock::{day_of, hour_of, unix_ms};
use hopwatch::monitor::Cause;
use hopwatch::store::Store;
use hopwatch::store::history::History;
use hopwatch::store::rollup::Rollup;

const MONITORS: i64 = 1_000;
const DAYS: i64 = 90;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("status.db"))
        .await
        .expect("open");
    let names: Vec<String> = (0..MONITORS).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = store.monitor_ids(&refs).await.expect("ids");
    let now = unix_ms(SystemTime::now());
    let (today, this_hour) = (day_of(now), hour_of(now));

    let mut day = Rollup::default();
    for i in 0..2_880 {
        day.record(
            if i % 97 == 0 {
                Cause::Http502
            } else {
                Cause::Ok
            },
            20_000 + i * 10,
        );
    }
    let mut hour = Rollup::default();
    for i in 0..120 {
        hour.record(Cause::Ok, 20_000 + i * 100);
    }
    let fill = Instant::now();
    for id in ids.values() {
        let daily: Vec<_> = (0..DAYS).map(|d| (*id, today - d, &day)).collect();
        let hourly: Vec<_> = (0..48).map(|h| (*id, this_hour - h, &hour)).collect();
        store
            .write_batch(&[], &hourly, &daily, None)
            .await
            .expect("write rollups");
    }
    println!(
        "filled {} daily and {} hourly rollups in {:?}",
        MONITORS * DAYS,
        MONITORS * 48,
        fill.elapsed()
    );

    let load = Instant::now();
    let history = History::load(&store, now).await.expect("load history");
    println!("history load at start: {:?}", load.elapsed());

    let mut runs: Vec<Duration> = Vec::new();
    let mut checksum = 0.0;
    for _ in 0..50 {
        let start = Instant::now();
        for id in ids.values() {
            checksum += history
                .last_hours(*id, this_hour, 24)
                .uptime()
                .unwrap_or(0.0);
            checksum += history.last_days(*id, today, 7).uptime().unwrap_or(0.0);
            checksum += history.last_days(*id, today, 30).uptime().unwrap_or(0.0);
            let bars = history.daily_bars(*id, today, DAYS);
            checksum += bars.iter().filter(|(_, c)| c.is_some()).count() as f64;
        }
        runs.push(start.elapsed());
    }
    runs.sort();
    println!(
        "all uptimes + 90-day bars for {MONITORS} monitors: median {:?}, max {:?} (checksum {checksum:.0})",
        runs[runs.len() / 2],
        runs[runs.len() - 1]
    );
}
