//! How long migration 0008 takes to pack a SQLite file's stored checks
//! (status and timings into one blob): fills a file at the schema before it
//! with loopback-like checks, then times the store's opening, which runs
//! it. BENCHMARKS.md, "Storage over a month".
//!
//! `cargo bench --bench packing` (2 million checks);
//! `HOPWATCH_PACKING_CHECKS=N` for another count.

use std::time::Instant;

use hopwatch::store::Store;

/// The last migration before the packed layout.
const BEFORE_PACKING: i64 = 7;
/// 2025-12-01T00:00:00Z.
const START_MS: i64 = 1_764_547_200_000;
const MONITORS: i64 = 1_000;
/// Rows per transaction while filling.
const PER_TRANSACTION: i64 = 100_000;

#[tokio::main]
async fn main() {
    let checks: i64 = std::env::var("HOPWATCH_PACKING_CHECKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("before.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.expect("open");
    sqlx::migrate!("migrations/sqlite")
        .run_to(BEFORE_PACKING, &pool)
        .await
        .expect("the schema before");
    let mut n = 0;
    while n < checks {
        let mut tx = pool.begin().await.expect("begin");
        for i in n..checks.min(n + PER_TRANSACTION) {
            let monitor = i % MONITORS;
            sqlx::query("INSERT INTO checks VALUES ($1, $2, 0, 200, $3, 0, $4, 0, $5, $6, 0)")
                .bind(monitor)
                .bind(START_MS + (i / MONITORS) * 10_000 + monitor)
                .bind(1_100 + i % 37)
                .bind(150 + i % 11)
                .bind(800 + i % 97)
                .bind(40 + i % 13)
                .execute(&mut *tx)
                .await
                .expect("a check");
        }
        tx.commit().await.expect("commit");
        n += PER_TRANSACTION;
    }
    pool.close().await;
    let before = std::fs::metadata(&path).expect("size").len();
    let started = Instant::now();
    let store = Store::open(&path).await.expect("migrated");
    let took = started.elapsed();
    let stored = store.count_checks(None).await.expect("count");
    store.close().await;
    assert_eq!(stored, checks, "every check survives");
    println!(
        "{checks} checks, a {:.1} MB file: packed in {:.2} s ({:.2} s per million, {:.0} s per GB of file)",
        before as f64 / 1e6,
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / checks as f64,
        took.as_secs_f64() * 1e9 / before as f64,
    );
}
