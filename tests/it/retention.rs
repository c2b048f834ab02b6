//! Thinning (`storage.keep_healthy`, src/store/thinning.rs) on both
//! backends: old healthy checks cut to one per monitor per 5 minutes,
//! every other check kept with its neighbours, recent checks and rollups
//! untouched, each window thinned once. Time is an argument throughout.

use std::collections::BTreeMap;
use std::time::Duration;

use hopwatch::config::values::KeepHealthy;
use hopwatch::probe::Cause;
use hopwatch::store::rollup::Rollup;
use hopwatch::store::thinning::{self, Pace};
use hopwatch::store::{Store, StoredCheck, day_of, from_unix_ms, hour_of};

use crate::helpers::both_stores as backends;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// "Now" in these tests: an hour's start, 2027-01-14T08:00:00Z.
const NOW: i64 = 1_799_913_600_000;
/// The span of one kept healthy check (the default `every`).
const SPAN: i64 = 5 * MINUTE;
/// Where thinning stops (the default `after`, 48 h).
const CUTOFF: i64 = NOW - 48 * HOUR;

/// A stored check; a failure carries evidence naming its time.
fn check(monitor_id: i64, at_ms: i64, cause: Cause) -> StoredCheck {
    let detail = (!cause.is_ok()).then(|| format!(r#"{{"error":"seen at {at_ms}"}}"#));
    crate::store::check(monitor_id, at_ms, cause, detail.as_deref())
}

/// Thins everything due at `now_ms` with the defaults, in one call.
async fn thin_all(store: &Store, now_ms: i64) -> thinning::Thinned {
    thinning::apply(
        store,
        KeepHealthy::default(),
        from_unix_ms(now_ms),
        Pace::UNBOUNDED,
    )
    .await
    .expect("thin")
}

/// Whether thinning may delete `check`: `ok` and no flag.
fn healthy(check: &StoredCheck) -> bool {
    check.cause == Cause::Ok.code() && check.flags == 0
}

/// The rule of the README, computed over one monitor's checks in time
/// order: what thinning with the defaults keeps when `cutoff` is 48 h ago.
fn kept_by_the_rule(checks: &[StoredCheck], cutoff: i64) -> Vec<i64> {
    let mut first_of_span = BTreeMap::new();
    let mut kept = Vec::new();
    for (n, c) in checks.iter().enumerate() {
        let before = n.checked_sub(1).map(|p| &checks[p]);
        let after = checks.get(n + 1);
        let neighbour_fails = before.into_iter().chain(after).any(|c| !healthy(c));
        let first =
            healthy(c) && *first_of_span.entry(c.at_ms / SPAN).or_insert(c.at_ms) == c.at_ms;
        if c.at_ms >= cutoff || !healthy(c) || neighbour_fails || first {
            kept.push(c.at_ms);
        }
    }
    kept
}

/// The check at `at_ms` among `checks`.
fn at(checks: &mut [StoredCheck], at_ms: i64) -> &mut StoredCheck {
    let found = checks.iter_mut().find(|c| c.at_ms == at_ms);
    found.expect("a check at that time")
}

/// Every check of `monitor` at or after `since`, oldest first.
async fn times(store: &Store, monitor: i64, since: i64) -> Vec<i64> {
    let mut read: Vec<i64> = (store.checks(monitor, since, 1_000_000).await)
        .expect("checks")
        .iter()
        .map(|c| c.at_ms)
        .collect();
    read.reverse();
    read
}

/// Writes `checks` with the hourly and daily rollups the writer would make.
async fn write(store: &Store, checks: &[StoredCheck]) {
    let mut hours: BTreeMap<(i64, i64), Rollup> = BTreeMap::new();
    let mut days: BTreeMap<(i64, i64), Rollup> = BTreeMap::new();
    for c in checks {
        let cause = Cause::from_code(c.cause).expect("cause");
        let latency = u64::try_from(c.latency_us).expect("latency");
        let hour = (c.monitor_id, hour_of(c.at_ms));
        hours.entry(hour).or_default().record(cause, latency);
        let day = (c.monitor_id, day_of(c.at_ms));
        days.entry(day).or_default().record(cause, latency);
    }
    for batch in checks.chunks(2_000) {
        store
            .write_batch(batch, &[], &[], None)
            .await
            .expect("checks");
    }
    let hourly: Vec<_> = hours.iter().map(|((m, b), r)| (*m, *b, r)).collect();
    let daily: Vec<_> = days.iter().map(|((m, b), r)| (*m, *b, r)).collect();
    store
        .write_batch(&[], &hourly, &daily, None)
        .await
        .expect("rollups");
}

/// What uptime and the history are read from, as text to compare.
async fn rollups(store: &Store, monitor: i64) -> String {
    let days = store.daily_stats(0).await.expect("days");
    let hours = store.hourly_latency(monitor, 0).await.expect("hours");
    format!("{days:?} {hours:?}")
}

#[tokio::test]
async fn old_healthy_checks_thin_to_one_per_five_minutes_and_every_failure_keeps_its_neighbours() {
    for (name, store, _keep) in backends().await {
        let ids = store.monitor_ids(&["edge", "quiet"]).await.expect("ids");
        let (edge, quiet) = (ids["edge"], ids["quiet"]);
        // Edge: every 10 s for 51 h, so three hours are past the cutoff.
        let mut edge_checks: Vec<StoredCheck> = (0..51 * 360)
            .map(|n| check(edge, CUTOFF - 3 * HOUR + n * 10_000 + 1_234, Cause::Ok))
            .collect();
        let start = CUTOFF - 3 * HOUR + 1_234;
        // A failure mid-span, two in a row, and one that opens an hour (its
        // neighbour before is in the previous statement's window).
        let mid = start + 2 * MINUTE + 30_000;
        *at(&mut edge_checks, mid) = check(edge, mid, Cause::Http502);
        for t in [start + 40 * MINUTE, start + 40 * MINUTE + 10_000] {
            *at(&mut edge_checks, t) = check(edge, t, Cause::ConnectTimeout);
        }
        let edge_of_hour = start + HOUR;
        *at(&mut edge_checks, edge_of_hour) = check(edge, edge_of_hour, Cause::Timeout);
        // Degraded is kept, and so is a flaky ok.
        let slow = start + 100 * MINUTE + 20_000;
        *at(&mut edge_checks, slow) = check(edge, slow, Cause::TooSlow);
        let flaky = start + 150 * MINUTE + 40_000;
        at(&mut edge_checks, flaky).flags = 1;
        // A failure just before the cutoff: its later neighbour is recent.
        let last_old = CUTOFF - 8_766;
        *at(&mut edge_checks, last_old) = check(edge, last_old, Cause::Http500);
        // Quiet: every 30 s, healthy, for the three old hours only.
        let quiet_checks: Vec<StoredCheck> = (0..3 * 120)
            .map(|n| check(quiet, CUTOFF - 3 * HOUR + n * 30_000, Cause::Ok))
            .collect();
        write(&store, &edge_checks).await;
        write(&store, &quiet_checks).await;
        let before = (rollups(&store, edge).await, rollups(&store, quiet).await);
        let recent = times(&store, edge, CUTOFF).await;
        assert_eq!(recent.len(), 48 * 360, "{name}");

        let done = thin_all(&store, NOW).await;

        let expected = kept_by_the_rule(&edge_checks, CUTOFF);
        let kept = times(&store, edge, 0).await;
        assert_eq!(kept, expected, "{name}");
        for t in [
            mid - 10_000,
            mid,
            mid + 10_000,
            edge_of_hour - 10_000,
            edge_of_hour + 10_000,
        ] {
            assert!(kept.contains(&t), "{name}: {t} kept");
        }
        for t in [slow, flaky, last_old, last_old - 10_000] {
            assert!(kept.contains(&t), "{name}: {t} kept");
        }
        // Three old hours: 36 spans, each with its first check; 12 checks
        // more around the failures (5 failures or flagged, 7 neighbours
        // not already first of their span).
        let old = kept.iter().filter(|t| **t < CUTOFF).count();
        assert!((36..=60).contains(&old), "{name}: {old} old checks kept");
        assert_eq!(
            times(&store, edge, CUTOFF).await,
            recent,
            "{name}: recent untouched"
        );
        let quiet_kept = times(&store, quiet, 0).await;
        assert_eq!(quiet_kept.len(), 36, "{name}: one per 5 minutes");
        assert!(
            quiet_kept
                .iter()
                .all(|t| (t - (CUTOFF - 3 * HOUR)) % SPAN == 0),
            "{name}: the first of each span"
        );
        let deleted = (edge_checks.len() + quiet_checks.len()) as u64
            - (kept.len() + quiet_kept.len()) as u64;
        assert_eq!(done.deleted, deleted, "{name}");
        // Three windows of an hour for each monitor.
        assert_eq!((done.windows, done.caught_up), (6, true), "{name}");

        // A failure's evidence stays with it.
        let failure = store.checks(edge, mid, 1_000_000).await.expect("checks");
        let failure = failure.last().expect("the failure");
        assert_eq!(failure.at_ms, mid, "{name}");
        assert!(
            failure
                .detail
                .as_deref()
                .is_some_and(|d| d.contains("seen at")),
            "{name}"
        );
        // Uptime and history read the rollups: unchanged.
        let after = (rollups(&store, edge).await, rollups(&store, quiet).await);
        assert_eq!(after, before, "{name}");

        // Again: nothing is due, nothing is read.
        let again = thin_all(&store, NOW + 59 * MINUTE).await;
        assert_eq!((again.deleted, again.windows), (0, 0), "{name}");
        // An hour later only the next hour of edge is due (quiet has
        // nothing there), and only healthy checks go.
        let next = thin_all(&store, NOW + HOUR).await;
        assert_eq!(next.windows, 1, "{name}");
        // As if that hour had been thinned with the others: a window's
        // edges change nothing.
        let later = kept_by_the_rule(&edge_checks, CUTOFF + HOUR);
        assert_eq!(times(&store, edge, 0).await, later, "{name}");
        assert_eq!(next.deleted as usize, kept.len() - later.len(), "{name}");
        store.close().await;
    }
}

#[tokio::test]
async fn thinning_in_small_steps_keeps_what_one_pass_keeps_and_a_second_pass_deletes_nothing() {
    for (name, store, _keep) in backends().await {
        let ids = store.monitor_ids(&["a", "b", "c"]).await.expect("ids");
        let mut all = Vec::new();
        for (n, id) in ids.values().enumerate() {
            // Five old hours at 20 s, a failure every 17 minutes or so.
            let checks: Vec<StoredCheck> = (0..5 * 180)
                .map(|k| {
                    let at_ms = CUTOFF - 5 * HOUR + k * 20_000 + n as i64 * 3_000;
                    let cause = if k % 53 == 7 {
                        Cause::Http503
                    } else {
                        Cause::Ok
                    };
                    check(*id, at_ms, cause)
                })
                .collect();
            write(&store, &checks).await;
            all.push((*id, checks));
        }
        let step = Pace {
            windows: 2,
            pause: Duration::ZERO,
        };
        let mut steps = 0;
        loop {
            let done = thinning::apply(&store, KeepHealthy::default(), from_unix_ms(NOW), step)
                .await
                .expect("thin");
            assert!(done.windows <= 2, "{name}");
            steps += 1;
            if done.caught_up {
                break;
            }
        }
        // 15 windows, at most 2 a step.
        assert!(steps >= 8, "{name}: {steps} steps");
        for (id, checks) in &all {
            assert_eq!(
                times(&store, *id, 0).await,
                kept_by_the_rule(checks, CUTOFF),
                "{name}"
            );
        }
        let again = thin_all(&store, NOW).await;
        assert_eq!((again.deleted, again.windows), (0, 0), "{name}");
        store.close().await;
    }
}

#[test]
fn keep_healthy_is_on_by_default_and_off_when_asked() {
    let parse = |text: &str| {
        hopwatch::config::parse_with_env(
            text,
            hopwatch::config::Format::Yaml,
            "hopwatch.yaml",
            &|_| None,
        )
        .map(|loaded| loaded.config.storage.keep_healthy)
        .map_err(|e| e.errors)
    };
    let monitors = "monitors: [{ name: a, url: http://x }]\n";
    assert_eq!(parse(monitors), Ok(Some(KeepHealthy::default())));
    // The contract's spelling: the span, and 0 to keep every check.
    let text = format!("storage: {{ keep_healthy: 5m }}\n{monitors}");
    assert_eq!(parse(&text), Ok(Some(KeepHealthy::default())));
    for off in ["0", "off", "false"] {
        let text = format!("storage: {{ keep_healthy: {off} }}\n{monitors}");
        assert_eq!(parse(&text), Ok(None), "{off}");
    }
    let text = format!("storage: {{ keep_healthy: {{ after: 7d, every: 1h }} }}\n{monitors}");
    assert_eq!(
        parse(&text),
        Ok(Some(KeepHealthy {
            after: Duration::from_secs(7 * 86_400),
            every: Duration::from_secs(3_600),
        }))
    );
}
