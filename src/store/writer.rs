//! The one task that writes: results arrive on a channel and are flushed
//! every second or 1,000 rows, with rollups, in one transaction per batch.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::history::History;
use super::rollup::Rollup;
use super::write::StoredCheck;
use super::{Store, StoreError, day_of, hour_of, unix_ms};
use crate::metrics::Metrics;
use crate::monitor::Cause;

/// Flush at least this often.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How far back a gap is added to hourly rollups (the 48 h charts).
const GAP_HOURS: i64 = 48;
/// How far back a gap is added to daily rollups (the 90-day bars).
const GAP_DAYS: i64 = 90;
/// How long after a boundary results may still land in the previous bucket.
const LATE_MS: i64 = 120_000;
/// Flush when this many rows are waiting.
pub const FLUSH_ROWS: usize = 1_000;
/// How long one batch may take to write before it counts as failed.
const WRITE_WITHIN: Duration = Duration::from_secs(5);
/// Rows kept in memory while the database refuses writes; older ones are
/// dropped past this (and counted), so a full disk cannot exhaust memory.
const MAX_PENDING: usize = 200_000;

/// Whether the last write worked, for `/healthz`.
#[derive(Debug, Default)]
pub struct StoreHealth {
    last_error: Mutex<Option<String>>,
}

impl StoreHealth {
    /// `Err(reason)` while writes fail.
    pub fn status(&self) -> Result<(), String> {
        match self.last_error.lock().map(|e| e.clone()) {
            Ok(None) => Ok(()),
            Ok(Some(reason)) => Err(reason),
            Err(_) => Err("store health lock poisoned".to_owned()),
        }
    }

    fn set(&self, error: Option<String>) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = error;
        }
    }
}

/// Sends results to the writer.
pub type ResultSender = mpsc::Sender<StoredCheck>;

/// The writer task's state.
pub struct Writer {
    store: Store,
    rx: mpsc::Receiver<StoredCheck>,
    run: i64,
    pending: Vec<StoredCheck>,
    hourly: HashMap<(i64, i64), Rollup>,
    daily: HashMap<(i64, i64), Rollup>,
    dirty_hours: HashSet<(i64, i64)>,
    dirty_days: HashSet<(i64, i64)>,
    health: Arc<StoreHealth>,
    metrics: Arc<Metrics>,
    history: Arc<History>,
    /// The oldest hour and day results still count into, refreshed each
    /// flush, so adding a result reads no clock.
    open: (i64, i64),
}

impl Writer {
    /// A writer for `run`, with the rollups of the current hour and day
    /// loaded so that a restart continues them instead of starting over.
    pub async fn start(
        store: Store,
        run: i64,
        capacity: usize,
        health: Arc<StoreHealth>,
        metrics: Arc<Metrics>,
        history: Arc<History>,
        last_alive: Option<i64>,
    ) -> Result<(Self, ResultSender), StoreError> {
        let now = unix_ms(SystemTime::now());
        // From the bucket the previous run stopped in (so a gap's first,
        // partly watched bucket is added to, not replaced), within the
        // span gaps are accounted for.
        let since = last_alive.unwrap_or(now).min(now);
        let first_hour = hour_of(since).clamp(hour_of(now) - GAP_HOURS, hour_of(now) - 1);
        let first_day = day_of(since).clamp(day_of(now) - GAP_DAYS, day_of(now) - 1);
        let hourly = store.load_rollups("rollups_hourly", first_hour).await?;
        let daily = store.load_rollups("rollups_daily", first_day).await?;
        let (tx, rx) = mpsc::channel(capacity);
        let writer = Self {
            store,
            rx,
            run,
            pending: Vec::with_capacity(FLUSH_ROWS),
            hourly: hourly.into_iter().map(|(m, b, r)| ((m, b), r)).collect(),
            daily: daily.into_iter().map(|(m, b, r)| ((m, b), r)).collect(),
            dirty_hours: HashSet::new(),
            dirty_days: HashSet::new(),
            health,
            metrics,
            history,
            open: Self::open_buckets(now),
        };
        Ok((writer, tx))
    }

    /// Runs until `stop` (or until every sender is dropped), then takes
    /// what is still queued and flushes it.
    pub async fn run(mut self, stop: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = self.rx.recv() => match received {
                    Some(check) => {
                        self.add(check);
                        if self.pending.len() >= FLUSH_ROWS {
                            self.flush().await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    self.flush().await;
                }
                _ = stop.cancelled() => break,
            }
        }
        while let Ok(check) = self.rx.try_recv() {
            self.add(check);
        }
        // Shutdown: a few tries, so a briefly locked database does not lose
        // the last batch; bounded, so a dead disk cannot hang the exit.
        for _ in 0..3 {
            if self.flush().await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Counts the time `[from_ms, to_ms)` when hopwatch was not running as
    /// unknown checks of a monitor checked every `interval_ms`, so rollups
    /// and uptimes show the gap instead of treating it as up.
    pub fn add_gap(&mut self, monitor_id: i64, from_ms: i64, to_ms: i64, interval_ms: i64) {
        let interval_ms = interval_ms.max(1);
        let oldest_hour = hour_of(to_ms) - GAP_HOURS;
        let oldest_day = day_of(to_ms) - GAP_DAYS;
        let mut start = from_ms.max(oldest_day * 86_400_000);
        while start < to_ms {
            let hour_end = (hour_of(start) + 1) * 3_600_000;
            let end = hour_end.min(to_ms);
            let missed = ((end - start) / interval_ms) as u32;
            if missed > 0 {
                let hour = (monitor_id, hour_of(start));
                let day = (monitor_id, day_of(start));
                if hour.1 >= oldest_hour {
                    let rollup = self.hourly.entry(hour).or_default();
                    rollup.total += missed;
                    rollup.unknown += missed;
                    self.dirty_hours.insert(hour);
                }
                let rollup = self.daily.entry(day).or_default();
                rollup.total += missed;
                rollup.unknown += missed;
                self.dirty_days.insert(day);
            }
            start = end;
        }
    }

    fn add(&mut self, check: StoredCheck) {
        let cause = Cause::from_code(check.cause).unwrap_or(Cause::Unknown);
        let latency = check.latency_us.max(0) as u64;
        let hour = (check.monitor_id, hour_of(check.at_ms));
        let day = (check.monitor_id, day_of(check.at_ms));
        // A result for a bucket already closed would replace its stored
        // totals with its own: it is kept raw but left out of rollups.
        let (open_hour, open_day) = self.open;
        if hour.1 >= open_hour && day.1 >= open_day {
            self.hourly.entry(hour).or_default().record(cause, latency);
            self.daily.entry(day).or_default().record(cause, latency);
            self.dirty_hours.insert(hour);
            self.dirty_days.insert(day);
        } else {
            tracing::debug!(
                monitor = check.monitor_id,
                "late result left out of closed rollups"
            );
        }
        if self.pending.len() >= MAX_PENDING {
            // Drop the oldest tenth at once: one move, not one per row.
            let dropped = self.pending.drain(..MAX_PENDING / 10).count();
            self.metrics.store_dropped.inc_by(dropped as u64);
        }
        self.pending.push(check);
    }

    /// Writes what is pending; true when the database took it.
    #[tracing::instrument(level = "debug", skip_all, fields(rows = self.pending.len()))]
    async fn flush(&mut self) -> bool {
        let now = unix_ms(SystemTime::now());
        // Refreshed on every try, written or not, so a long store outage
        // still closes buckets as hours pass.
        self.open = Self::open_buckets(now);
        let hourly: Vec<_> = self
            .dirty_hours
            .iter()
            .filter_map(|key| self.hourly.get(key).map(|r| (key.0, key.1, r)))
            .collect();
        let daily: Vec<_> = self
            .dirty_days
            .iter()
            .filter_map(|key| self.daily.get(key).map(|r| (key.0, key.1, r)))
            .collect();
        let write = self
            .store
            .write_batch(&self.pending, &hourly, &daily, Some((self.run, now)));
        // A database that stopped answering (a cut network path) must not
        // hold the writer: the results wait in memory, /healthz says so.
        let outcome = match tokio::time::timeout(WRITE_WITHIN, write).await {
            Ok(outcome) => outcome,
            Err(_) => Err(StoreError::Unanswered(WRITE_WITHIN)),
        };
        match outcome {
            Ok(()) => {
                for key in &self.dirty_hours {
                    if let Some(rollup) = self.hourly.get(key) {
                        self.history.set_hour(key.0, key.1, rollup);
                    }
                }
                for key in &self.dirty_days {
                    if let Some(rollup) = self.daily.get(key) {
                        self.history.set_day(key.0, key.1, rollup);
                    }
                }
                self.metrics
                    .store_rows_written
                    .inc_by(self.pending.len() as u64);
                self.pending.clear();
                self.dirty_hours.clear();
                self.dirty_days.clear();
                self.forget_old();
                if self.health.status().is_err() {
                    tracing::info!("database writes work again");
                }
                self.health.set(None);
                true
            }
            Err(err) => {
                self.metrics.store_errors.inc();
                if self.health.status().is_ok() {
                    tracing::error!(error = %err, pending = self.pending.len(), "cannot write results; keeping them in memory and retrying");
                }
                self.health.set(Some(format!("store: {err}")));
                false
            }
        }
    }

    /// Rollups of hours and days that are over stay in the database only;
    /// the previous bucket is kept for two minutes for checks that started
    /// before the boundary and finish after it.
    fn forget_old(&mut self) {
        let (hour, day) = self.open;
        self.hourly.retain(|(_, bucket), _| *bucket >= hour);
        self.daily.retain(|(_, bucket), _| *bucket >= day);
    }

    /// The oldest hour and day a result may still be counted into.
    fn open_buckets(now: i64) -> (i64, i64) {
        let late = |bucket_ms: i64| i64::from(now.rem_euclid(bucket_ms) < LATE_MS);
        (
            hour_of(now) - late(3_600_000),
            day_of(now) - late(86_400_000),
        )
    }
}
