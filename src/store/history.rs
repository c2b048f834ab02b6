//! Recent hourly and daily counts of every monitor, kept in memory so the
//! status page computes uptimes and 90-day bars without touching SQLite.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use super::rollup::Rollup;
use super::{Store, StoreError};

/// Days kept in memory (the status page's bars).
pub const DAYS: i64 = 90;
/// Hours kept in memory (24h uptime, 48h charts).
pub const HOURS: i64 = 48;

/// Counts of one hour or day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Checks, plus gap time counted as unknown checks.
    pub total: u32,
    /// Up: passed, or degraded (slow, certificate or domain expiring).
    pub ok: u32,
    /// Failed.
    pub failed: u32,
    /// Unknown: connectivity failures and time hopwatch was not running.
    pub unknown: u32,
}

impl Counts {
    fn of(rollup: &Rollup) -> Self {
        Self {
            total: rollup.total,
            ok: rollup.ok,
            failed: rollup.failed,
            unknown: rollup.unknown,
        }
    }

    fn add(&mut self, other: &Counts) {
        self.total += other.total;
        self.ok += other.ok;
        self.failed += other.failed;
        self.unknown += other.unknown;
    }

    /// Share of checks that were up (degraded ones included); unknown
    /// counts as not up. `None` when nothing was counted.
    pub fn uptime(&self) -> Option<f64> {
        (self.total > 0).then(|| f64::from(self.ok) / f64::from(self.total))
    }
}

#[derive(Default)]
struct Buckets {
    hours: HashMap<i64, BTreeMap<i64, Counts>>,
    days: HashMap<i64, BTreeMap<i64, Counts>>,
}

/// The in-memory history; the writer updates it after each flush.
#[derive(Default)]
pub struct History {
    buckets: RwLock<Buckets>,
}

impl History {
    /// Loads the last [`HOURS`] hours and [`DAYS`] days from the store.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn load(store: &Store, now_ms: i64) -> Result<Self, StoreError> {
        let history = History::default();
        let hour = super::hour_of(now_ms);
        let day = super::day_of(now_ms);
        for (monitor, bucket, rollup) in store.load_rollups("rollups_hourly", hour - HOURS).await? {
            history.set_hour(monitor, bucket, &rollup);
        }
        for stat in store.daily_stats(day - DAYS).await? {
            let counts = Counts {
                total: stat.total,
                ok: stat.ok,
                failed: stat.failed,
                unknown: stat.unknown,
            };
            if let Ok(mut b) = history.buckets.write() {
                b.days
                    .entry(stat.monitor_id)
                    .or_default()
                    .insert(stat.day, counts);
            }
        }
        Ok(history)
    }

    /// Records the totals of an hour.
    pub fn set_hour(&self, monitor: i64, hour: i64, rollup: &Rollup) {
        if let Ok(mut b) = self.buckets.write() {
            let hours = b.hours.entry(monitor).or_default();
            hours.insert(hour, Counts::of(rollup));
            while hours.len() > HOURS as usize + 1 {
                hours.pop_first();
            }
        }
    }

    /// Records the totals of a day.
    pub fn set_day(&self, monitor: i64, day: i64, rollup: &Rollup) {
        if let Ok(mut b) = self.buckets.write() {
            let days = b.days.entry(monitor).or_default();
            days.insert(day, Counts::of(rollup));
            while days.len() > DAYS as usize + 1 {
                days.pop_first();
            }
        }
    }

    /// Counts of the last `hours` hours up to and including `this_hour`.
    pub fn last_hours(&self, monitor: i64, this_hour: i64, hours: i64) -> Counts {
        let mut sum = Counts::default();
        if let Ok(b) = self.buckets.read()
            && let Some(map) = b.hours.get(&monitor)
        {
            for counts in map.range(this_hour - hours + 1..=this_hour).map(|(_, c)| c) {
                sum.add(counts);
            }
        }
        sum
    }

    /// Counts of the last `days` days up to and including `today`.
    pub fn last_days(&self, monitor: i64, today: i64, days: i64) -> Counts {
        let mut sum = Counts::default();
        if let Ok(b) = self.buckets.read()
            && let Some(map) = b.days.get(&monitor)
        {
            for counts in map.range(today - days + 1..=today).map(|(_, c)| c) {
                sum.add(counts);
            }
        }
        sum
    }

    /// One entry per day for the last `days` days, oldest first; `None`
    /// for a day with nothing recorded.
    pub fn daily_bars(&self, monitor: i64, today: i64, days: i64) -> Vec<(i64, Option<Counts>)> {
        let Ok(b) = self.buckets.read() else {
            return Vec::new();
        };
        let map = b.days.get(&monitor);
        (today - days + 1..=today)
            .map(|day| (day, map.and_then(|m| m.get(&day).copied())))
            .collect()
    }
}
