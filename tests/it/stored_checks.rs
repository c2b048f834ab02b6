//! How checks are kept (src/store/check_rows.rs), on both backends: a check
//! reads back with the node or agent that made it, PostgreSQL's packed key
//! keeps each monitor's checks apart and in time order at its edges, checks
//! stored before that key survive the migration to it, and a healthy check
//! takes at most 100 bytes there; SQLite's checks stored before their
//! timings were packed into a blob survive that migration, byte for byte as
//! the writer packs them now.

use std::time::SystemTime;

use hopwatch::probe::Cause;
use hopwatch::store::{Location, Store, StoredCheck, unix_ms};

use crate::helpers::{TestDatabase, both_stores as backends, test_database};

/// The last migration before checks were packed (migration 0007).
const BEFORE_PACKED: i64 = 6;
/// The last SQLite migration before a check's timings were packed
/// (migration 0008).
const SQLITE_BEFORE_TIMINGS: i64 = 7;
/// The largest monitor id PostgreSQL's key holds.
const LAST_ID: i64 = (1 << 22) - 1;
/// The last millisecond it holds (the year 2109).
const LAST_MS: i64 = (1 << 42) - 1;

async fn postgres(database: &TestDatabase) -> Store {
    Store::open_at(&Location::parse(&database.url).expect("url"))
        .await
        .expect("postgres")
}

/// A healthy check of `monitor_id` at `at_ms`, made by `node`.
fn check(monitor_id: i64, at_ms: i64, node: Option<&str>) -> StoredCheck {
    StoredCheck {
        monitor_id,
        at_ms,
        cause: Cause::Ok.code(),
        status: Some(200),
        latency_us: 1_500,
        phases_us: [10, 200, 300, 900, 90],
        flags: 0,
        node: node.map(Into::into),
        detail: None,
    }
}

fn nodes(checks: &[StoredCheck]) -> Vec<Option<&str>> {
    checks.iter().map(|check| check.node.as_deref()).collect()
}

/// What a check holds beside its node and details: time, cause, status,
/// latency, phases, flags.
type Values = (i64, u8, Option<u16>, i64, [i64; 5], i64);

fn values(checks: &[StoredCheck]) -> Vec<Values> {
    checks
        .iter()
        .map(|c| {
            (
                c.at_ms,
                c.cause,
                c.status,
                c.latency_us,
                c.phases_us,
                c.flags,
            )
        })
        .collect()
}

fn times(checks: &[StoredCheck]) -> Vec<i64> {
    checks.iter().map(|check| check.at_ms).collect()
}

#[tokio::test]
async fn a_check_reads_back_with_the_node_or_agent_that_made_it() {
    for (name, store, _keep) in backends().await {
        // What the daemon does at start on SQLite (and nothing on PostgreSQL).
        store.name_this_node("n1").await.expect("name");
        let ids = store
            .monitor_ids(&["edge", "edge@eu-west"])
            .await
            .expect("ids");
        let (own, agents) = (ids["edge"], ids["edge@eu-west"]);
        let now = unix_ms(SystemTime::now());
        let mut flaky = check(own, now - 3_000, Some("n1"));
        flaky.flags = 1;
        let batch = vec![
            flaky,
            check(own, now - 2_000, Some("n2")),
            check(agents, now - 2_000, Some("eu-agent-1")),
            check(agents, now - 1_000, Some("eu-agent-2")),
        ];
        store
            .write_batch(&batch, &[], &[], None)
            .await
            .expect("write");
        // A second batch names known nodes and a new one.
        let later = vec![
            check(own, now - 500, Some("n1")),
            check(agents, now - 500, Some("eu-agent-3")),
        ];
        store
            .write_batch(&later, &[], &[], None)
            .await
            .expect("write");

        let read = store.checks(own, 0, 10).await.expect("checks");
        assert_eq!(nodes(&read), [Some("n1"), Some("n2"), Some("n1")], "{name}");
        assert_eq!(read[2].flags, 1, "{name}: the node leaves the flags alone");
        let result = read[0].clone().into_result("edge");
        assert_eq!(result.node.as_deref(), Some("n1"), "{name}");
        assert_eq!(result.flaky, None, "{name}");
        assert_eq!(read[2].clone().into_result("edge").flaky, Some(true));
        let read = store.checks(agents, 0, 10).await.expect("checks");
        assert_eq!(
            nodes(&read),
            [Some("eu-agent-3"), Some("eu-agent-2"), Some("eu-agent-1")],
            "{name}"
        );

        if store.is_shared() {
            // What other nodes read of them, every second.
            let after = store
                .checks_after(&[(own, now - 2_500), (agents, 0)], 10)
                .await
                .expect("after");
            let mut read: Vec<(i64, i64, Option<&str>)> = after
                .iter()
                .map(|c| (c.at_ms, c.monitor_id, c.node.as_deref()))
                .collect();
            // Oldest first; checks of one instant in any order.
            read.sort();
            assert_eq!(
                read,
                [
                    (now - 2_000, own, Some("n2")),
                    (now - 2_000, agents, Some("eu-agent-1")),
                    (now - 1_000, agents, Some("eu-agent-2")),
                    (now - 500, own, Some("n1")),
                    (now - 500, agents, Some("eu-agent-3")),
                ]
            );
        } else {
            // SQLite stores no id for its own node's checks: they read
            // back with its name of the day.
            store.name_this_node("n1-renamed").await.expect("rename");
            let read = store.checks(own, 0, 10).await.expect("checks");
            assert_eq!(
                nodes(&read),
                [Some("n1-renamed"), Some("n2"), Some("n1-renamed")]
            );
            // The old name is no longer this node's: a check that names it
            // gets an id of its own, though the store had read n1 as 0.
            let stray = [check(own, now - 100, Some("n1"))];
            store
                .write_batch(&stray, &[], &[], None)
                .await
                .expect("write");
            let read = store.checks(own, now - 100, 1).await.expect("checks");
            assert_eq!(nodes(&read), [Some("n1")]);
        }
        store.close().await;
    }
}

#[tokio::test]
async fn sqlite_stores_its_own_checks_as_before_and_an_agents_id_above_the_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("s.db");
    let store = Store::open(&path).await.expect("sqlite");
    store.name_this_node("n1").await.expect("name");
    let ids = store
        .monitor_ids(&["edge", "edge@eu-west"])
        .await
        .expect("ids");
    let now = unix_ms(SystemTime::now());
    let mut flaky = check(ids["edge"], now - 1_000, Some("n1"));
    flaky.flags = 1;
    let batch = [
        flaky,
        check(ids["edge"], now, Some("n1")),
        check(ids["edge@eu-west"], now, Some("eu-agent-1")),
    ];
    store
        .write_batch(&batch, &[], &[], None)
        .await
        .expect("write");
    store.close().await;
    // This node's checks hold the same values as before nodes were
    // recorded, so not a byte more; the agent's id (1) sits above the four
    // bits of flags.
    let pool = crate::helpers::sqlite_pool(&path).await;
    let flags: Vec<(i64, i64)> =
        sqlx::query_as("SELECT monitor_id, flags FROM checks ORDER BY monitor_id, at_ms")
            .fetch_all(&pool)
            .await
            .expect("rows");
    assert_eq!(
        flags,
        [
            (ids["edge"], 1),
            (ids["edge"], 0),
            (ids["edge@eu-west"], 16)
        ]
    );
    pool.close().await;
}

#[tokio::test]
async fn each_monitor_keeps_its_checks_apart_and_in_order_at_the_edges_of_the_key() {
    for (name, store, _keep) in backends().await {
        let ids = store.monitor_ids(&["a", "b", "c"]).await.expect("ids");
        let (a, b, c) = (ids["a"], ids["b"], ids["c"]);
        // PostgreSQL's key changes its high half at every 2^32 ms.
        let era = 1_i64 << 32;
        let now = unix_ms(SystemTime::now());
        let at = [0, 1, era - 1, era, era + 1, now, LAST_MS];
        let mut batch = Vec::new();
        for id in [c, a, b] {
            for (n, at_ms) in at.iter().enumerate() {
                let mut check = check(id, *at_ms, None);
                // Some without a status (tcp, dns...).
                check.status = (n % 2 == 0).then_some(200);
                batch.push(check);
            }
        }
        store
            .write_batch(&batch, &[], &[], None)
            .await
            .expect("write");
        let newest_first: Vec<i64> = at.iter().rev().copied().collect();
        for id in [a, b, c] {
            let read = store.checks(id, 0, 100).await.expect("checks");
            assert_eq!(times(&read), newest_first, "{name}: {id}");
            assert!(read.iter().all(|check| check.monitor_id == id), "{name}");
            let statuses: Vec<Option<u16>> = read.iter().map(|c| c.status).collect();
            let stored: Vec<Option<u16>> = (0..at.len())
                .rev()
                .map(|n| (n % 2 == 0).then_some(200))
                .collect();
            assert_eq!(statuses, stored, "{name}");
            let since_era = store.checks(id, era, 100).await.expect("checks");
            assert_eq!(times(&since_era), newest_first[..4], "{name}");
            assert_eq!(store.count_checks(Some(id)).await.expect("count"), 7);
        }
        // Retention in the middle monitor leaves its neighbours whole.
        let gone = store
            .delete_checks_before(b, era + 1, 100)
            .await
            .expect("delete");
        assert_eq!(gone, 4, "{name}");
        let left = store.checks(b, 0, 100).await.expect("checks");
        assert_eq!(times(&left), newest_first[..3], "{name}");
        for id in [a, c] {
            assert_eq!(store.count_checks(Some(id)).await.expect("count"), 7);
        }

        if store.is_shared() {
            let after = store
                .checks_after(&[(a, era - 1), (c, 0)], 2)
                .await
                .expect("after");
            let read: Vec<(i64, i64)> = after.iter().map(|c| (c.monitor_id, c.at_ms)).collect();
            assert_eq!(read, [(c, 1), (c, era - 1), (a, era), (a, era + 1)]);
        }
        store.close().await;
    }
}

#[tokio::test]
async fn the_largest_monitor_id_postgres_keys_stays_apart_from_the_one_before() {
    let database = test_database().await;
    let pool = database.pool().await;
    let store = postgres(&database).await;
    for (id, name) in [(LAST_ID - 1, "next-to-last"), (LAST_ID, "last")] {
        sqlx::query("INSERT INTO monitors (id, name, created_ms) VALUES ($1, $2, 0)")
            .bind(id)
            .bind(name)
            .execute(&pool)
            .await
            .expect("monitor");
    }
    let now = unix_ms(SystemTime::now());
    let batch: Vec<StoredCheck> = [LAST_ID - 1, LAST_ID]
        .into_iter()
        .flat_map(|id| [0, now, LAST_MS].map(|at| check(id, at, Some("n1"))))
        .collect();
    store
        .write_batch(&batch, &[], &[], None)
        .await
        .expect("write");
    for id in [LAST_ID - 1, LAST_ID] {
        let read = store.checks(id, 0, 10).await.expect("checks");
        assert_eq!(times(&read), [LAST_MS, now, 0]);
        assert!(read.iter().all(|c| c.monitor_id == id));
        assert_eq!(store.count_checks(Some(id)).await.expect("count"), 3);
    }
    // No id past it is ever given.
    sqlx::query("SELECT setval(pg_get_serial_sequence('monitors', 'id'), $1)")
        .bind(LAST_ID)
        .execute(&pool)
        .await
        .expect("setval");
    let refused = sqlx::query("INSERT INTO monitors (name, created_ms) VALUES ('one more', 0)")
        .execute(&pool)
        .await;
    let error = refused.expect_err("past the largest id").to_string();
    assert!(error.contains("maximum value"), "{error}");
    pool.close().await;
    store.close().await;
}

#[tokio::test]
async fn checks_stored_before_the_packed_key_survive_the_migration_to_it() {
    let database = test_database().await;
    let pool = database.pool().await;
    sqlx::migrate!("migrations/postgres")
        .run_to(BEFORE_PACKED, &pool)
        .await
        .expect("the schema before");
    // Ids that earlier versions used up (one per name at every start)
    // go past what the new key holds.
    let big = 5_000_000_i64;
    let t = 1_764_547_200_123_i64;
    let statements = [
        format!(
            "INSERT INTO monitors (id, name, created_ms) VALUES (1, 'edge', 0), (2, 'tcp', 0), \
             ({big}, 'big', 0)"
        ),
        format!(
            "INSERT INTO checks VALUES \
             (1, {t}, 0, 200, 1500, 10, 200, 300, 900, 90, 0), \
             (1, {t} + 10000, 7, 502, 2500, 11, 201, 301, 901, 91, 1), \
             (2, {t}, 0, NULL, 700, 0, 700, 0, 0, 0, 0), \
             ({big}, {t}, 0, 200, 1, 2, 3, 4, 5, 6, 0), \
             ({big}, {t} + 5000, 7, 503, 9, 8, 7, 6, 5, 4, 0)"
        ),
        format!(
            "INSERT INTO check_details VALUES (1, {t} + 10000, '{{\"error\":\"bad\"}}'), \
             ({big}, {t} + 5000, '{{\"error\":\"worse\"}}')"
        ),
        format!(
            "INSERT INTO rollups_hourly VALUES ({big}, 490152, 2, 1, 1, 0, 1, 10, 20, 30, '', '')"
        ),
        format!(
            "INSERT INTO rollups_daily VALUES ({big}, 20423, 2, 1, 1, 0, 1, 10, 20, 30, '', '')"
        ),
    ];
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("a row of the schema before");
    }

    let store = postgres(&database).await;
    let ids = store
        .monitor_ids(&["edge", "tcp", "big", "new"])
        .await
        .expect("ids");
    assert_eq!((ids["edge"], ids["tcp"]), (1, 2));
    // The id past the key's range took the next free one.
    assert_eq!((ids["big"], ids["new"]), (3, 4));

    let edge = store.checks(1, 0, 10).await.expect("checks");
    let read = values(&edge);
    assert_eq!(
        read,
        [
            (t + 10_000, 7, Some(502), 2_500, [11, 201, 301, 901, 91], 1),
            (t, 0, Some(200), 1_500, [10, 200, 300, 900, 90], 0),
        ]
    );
    assert_eq!(edge[0].detail.as_deref(), Some(r#"{"error":"bad"}"#));
    assert_eq!(nodes(&edge), [None, None], "no node was recorded then");
    let tcp = store.checks(2, 0, 10).await.expect("checks");
    assert_eq!((tcp.len(), tcp[0].status), (1, None));
    let big = store.checks(3, 0, 10).await.expect("checks");
    assert_eq!(times(&big), [t + 5_000, t]);
    assert_eq!(big[0].phases_us, [8, 7, 6, 5, 4]);
    assert_eq!(big[0].detail.as_deref(), Some(r#"{"error":"worse"}"#));
    let hours = store.hourly_latency(3, 0).await.expect("hours");
    assert_eq!((hours.len(), hours[0].p50_us), (1, 10));
    let days = store.daily_stats(0).await.expect("days");
    assert_eq!((days.len(), days[0].monitor_id), (1, 3));

    // And the store goes on: new checks, with their node.
    let now = unix_ms(SystemTime::now());
    store
        .write_batch(&[check(ids["new"], now, Some("n1"))], &[], &[], None)
        .await
        .expect("write");
    let new = store.checks(ids["new"], 0, 10).await.expect("checks");
    assert_eq!(nodes(&new), [Some("n1")]);
    assert_eq!(store.count_checks(None).await.expect("count"), 6);
    pool.close().await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_checks_stored_before_the_packed_timings_survive_the_migration_to_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("s.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.expect("open");
    sqlx::migrate!("migrations/sqlite")
        .run_to(SQLITE_BEFORE_TIMINGS, &pool)
        .await
        .expect("the schema before");
    let t = 1_764_547_200_123_i64;
    // Every length of LEB128 from one byte to five, at its edges, and what
    // no writer made but a file may hold: a negative time, one past 32 bits.
    let timings: [(Option<i64>, i64, [i64; 5]); 4] = [
        (Some(200), 1_500, [0, 127, 128, 16_383, 16_384]),
        (
            None,
            2_097_151,
            [2_097_152, 268_435_455, 268_435_456, i64::from(i32::MAX), 0],
        ),
        (Some(502), 0, [1, 2, 3, 4, 5]),
        (Some(65_535), -5, [1 << 40, 7, 0, 0, 9]),
    ];
    sqlx::query("INSERT INTO monitors (id, name, created_ms) VALUES (1, 'edge', 0)")
        .execute(&pool)
        .await
        .expect("monitor");
    for (n, (status, latency, [dns, connect, tls, ttfb, transfer])) in timings.iter().enumerate() {
        sqlx::query("INSERT INTO checks VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(t + n as i64 * 10_000)
            .bind(if n == 2 { 7_i64 } else { 0 })
            .bind(status)
            .bind(latency)
            .bind(dns)
            .bind(connect)
            .bind(tls)
            .bind(ttfb)
            .bind(transfer)
            .bind(if n == 2 { 1_i64 } else { 0 })
            .execute(&pool)
            .await
            .expect("a row of the schema before");
    }
    pool.close().await;

    let store = Store::open(&path).await.expect("migrated");
    let mut read = store.checks(1, 0, 10).await.expect("checks");
    read.reverse();
    let values = values(&read);
    let max = i64::from(i32::MAX);
    assert_eq!(
        values,
        [
            (t, 0, Some(200), 1_500, [0, 127, 128, 16_383, 16_384], 0),
            (
                t + 10_000,
                0,
                None,
                2_097_151,
                [2_097_152, 268_435_455, 268_435_456, max, 0],
                0
            ),
            (t + 20_000, 7, Some(502), 0, [1, 2, 3, 4, 5], 1),
            (t + 30_000, 0, Some(65_535), 0, [max, 7, 0, 0, 9], 0),
        ]
    );
    // The writer packs the same values into the same bytes as the
    // migration did: written again under another monitor, they compare.
    let other = store.monitor_ids(&["again"]).await.expect("id")["again"];
    let again: Vec<StoredCheck> = read
        .iter()
        .map(|c| StoredCheck {
            monitor_id: other,
            ..c.clone()
        })
        .collect();
    store
        .write_batch(&again, &[], &[], None)
        .await
        .expect("write");
    store.close().await;
    let pool = crate::helpers::sqlite_pool(&path).await;
    let blobs = |monitor: i64| {
        sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT timings FROM checks WHERE monitor_id = $1 ORDER BY at_ms",
        )
        .bind(monitor)
        .fetch_all(&pool)
    };
    let migrated = blobs(1).await.expect("blobs");
    assert_eq!(migrated, blobs(other).await.expect("blobs"));
    // 200 is two bytes, 1,500 two, then 1, 1, 2, 2, 3 for the phases.
    assert_eq!(migrated[0].len(), 13);
    pool.close().await;
}

/// A check's bytes on PostgreSQL, written as the daemon writes them: one
/// batch a round, every monitor once in it, in an order that stays the
/// same from round to round (their schedule offsets), then `VACUUM`.
#[tokio::test]
async fn postgres_keeps_a_healthy_check_in_100_bytes_or_less() {
    const MONITORS: usize = 500;
    const ROUNDS: i64 = 600;
    let database = test_database().await;
    let store = postgres(&database).await;
    let names: Vec<String> = (0..MONITORS).map(|n| format!("site-{n}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = store.monitor_ids(&refs).await.expect("ids");
    let mut order: Vec<i64> = ids.values().copied().collect();
    order.sort_by_key(|id| (id * 2_654_435_761) % 4_294_967_296);
    let start = unix_ms(SystemTime::now()) - ROUNDS * 10_000;
    for round in 0..ROUNDS {
        let batch: Vec<StoredCheck> = order
            .iter()
            .map(|id| check(*id, start + round * 10_000 + id * 7 % 10_000, Some("n1")))
            .collect();
        store
            .write_batch(&batch, &[], &[], None)
            .await
            .expect("write");
    }
    let pool = database.pool().await;
    sqlx::query("VACUUM ANALYZE checks")
        .execute(&pool)
        .await
        .expect("vacuum");
    let (heap, index, total): (f64, f64, f64) = sqlx::query_as(
        "SELECT pg_relation_size('checks')::float8 / count(*), \
         pg_relation_size('checks_pkey')::float8 / count(*), \
         pg_total_relation_size('checks')::float8 / count(*) FROM checks",
    )
    .fetch_one(&pool)
    .await
    .expect("sizes");
    eprintln!("bytes per check: {total:.1} (heap {heap:.1}, key {index:.1})");
    assert!(
        total <= 100.0,
        "{total:.1} bytes (heap {heap:.1}, key {index:.1})"
    );
    pool.close().await;
    store.close().await;
}
