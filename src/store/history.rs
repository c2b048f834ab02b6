//! Recent hourly and daily counts of every monitor, kept in memory so the
//! status page computes uptimes and 90-day bars without touching SQLite.

use std::collections::{HashMap, VecDeque};
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

/// One monitor's counts of consecutive hours or days, oldest first, the
/// newest `keep` at most: 20 bytes a bucket, where a B-tree of them took
/// some 60 (after 90 days, 2.8 KB a monitor instead of about 7).
#[derive(Debug, Default)]
struct Series {
    /// The bucket of `counts[0]`.
    first: i64,
    /// `None` for a bucket with nothing recorded.
    counts: VecDeque<Option<Counts>>,
}

impl Series {
    /// The bucket after the newest.
    fn end(&self) -> i64 {
        self.first + self.counts.len() as i64
    }

    /// Records `counts` for `bucket`, keeping the newest `keep` buckets.
    fn set(&mut self, bucket: i64, counts: Counts, keep: usize) {
        let keep = keep as i64;
        if self.counts.is_empty() || bucket >= self.end() + keep {
            self.counts.clear();
            self.first = bucket;
        }
        if bucket < self.end() - keep {
            // Older than anything kept: it would go at once.
            return;
        }
        while bucket < self.first {
            self.grow();
            self.counts.push_front(None);
            self.first -= 1;
        }
        while bucket >= self.end() {
            self.grow();
            self.counts.push_back(None);
        }
        self.counts[(bucket - self.first) as usize] = Some(counts);
        while self.counts.len() as i64 > keep {
            self.counts.pop_front();
            self.first += 1;
        }
    }

    /// One more slot, exactly: a deque doubles, and most monitors' series
    /// stop growing at `keep`.
    fn grow(&mut self) {
        if self.counts.len() == self.counts.capacity() {
            self.counts.reserve_exact(1);
        }
    }

    fn get(&self, bucket: i64) -> Option<Counts> {
        let at = usize::try_from(bucket - self.first).ok()?;
        self.counts.get(at).copied().flatten()
    }

    /// The sum of the buckets `from..=to`.
    fn sum(&self, from: i64, to: i64) -> Counts {
        let mut sum = Counts::default();
        for bucket in from.max(self.first)..=to.min(self.end() - 1) {
            if let Some(counts) = self.get(bucket) {
                sum.add(&counts);
            }
        }
        sum
    }
}

#[derive(Default)]
struct Buckets {
    hours: HashMap<i64, Series>,
    days: HashMap<i64, Series>,
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
                    .set(stat.day, counts, DAYS as usize + 1);
            }
        }
        Ok(history)
    }

    /// Records the totals of an hour.
    pub fn set_hour(&self, monitor: i64, hour: i64, rollup: &Rollup) {
        if let Ok(mut b) = self.buckets.write() {
            let hours = b.hours.entry(monitor).or_default();
            hours.set(hour, Counts::of(rollup), HOURS as usize + 1);
        }
    }

    /// Records the totals of a day.
    pub fn set_day(&self, monitor: i64, day: i64, rollup: &Rollup) {
        if let Ok(mut b) = self.buckets.write() {
            let days = b.days.entry(monitor).or_default();
            days.set(day, Counts::of(rollup), DAYS as usize + 1);
        }
    }

    /// Counts of the last `hours` hours up to and including `this_hour`.
    pub fn last_hours(&self, monitor: i64, this_hour: i64, hours: i64) -> Counts {
        match self.buckets.read() {
            Ok(b) => b
                .hours
                .get(&monitor)
                .map_or_else(Counts::default, |series| {
                    series.sum(this_hour - hours + 1, this_hour)
                }),
            Err(_) => Counts::default(),
        }
    }

    /// Counts of the last `days` days up to and including `today`.
    pub fn last_days(&self, monitor: i64, today: i64, days: i64) -> Counts {
        match self.buckets.read() {
            Ok(b) => b.days.get(&monitor).map_or_else(Counts::default, |series| {
                series.sum(today - days + 1, today)
            }),
            Err(_) => Counts::default(),
        }
    }

    /// One entry per day for the last `days` days, oldest first; `None`
    /// for a day with nothing recorded.
    pub fn daily_bars(&self, monitor: i64, today: i64, days: i64) -> Vec<(i64, Option<Counts>)> {
        let Ok(b) = self.buckets.read() else {
            return Vec::new();
        };
        let series = b.days.get(&monitor);
        (today - days + 1..=today)
            .map(|day| (day, series.and_then(|s| s.get(day))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn counts(n: u32) -> Counts {
        Counts {
            total: n,
            ok: n,
            failed: 0,
            unknown: 0,
        }
    }

    proptest::proptest! {
        /// The buckets a query can reach read as they did from the B-tree
        /// that kept the newest `keep` entries, whatever order they come in.
        #[test]
        fn series_read_like_the_newest_entries_of_a_map(
            sets in proptest::collection::vec((0i64..400, 1u32..1_000), 1..300),
        ) {
            const KEEP: usize = 49;
            let mut series = Series::default();
            let mut model: BTreeMap<i64, Counts> = BTreeMap::new();
            for (bucket, n) in &sets {
                series.set(*bucket, counts(*n), KEEP);
                model.insert(*bucket, counts(*n));
                while model.len() > KEEP {
                    model.pop_first();
                }
            }
            let newest = *model.keys().next_back().unwrap();
            let window = newest - KEEP as i64 + 1;
            for bucket in window - 3..=newest + 3 {
                let expected = (bucket >= window).then(|| model.get(&bucket).copied()).flatten();
                proptest::prop_assert_eq!(series.get(bucket), expected, "bucket {}", bucket);
            }
            for span in [1, 7, 24, KEEP as i64] {
                let mut expected = Counts::default();
                for (_, c) in model.range(newest - span + 1..=newest) {
                    expected.add(c);
                }
                proptest::prop_assert_eq!(series.sum(newest - span + 1, newest), expected);
            }
            proptest::prop_assert!(series.counts.len() <= KEEP);
        }
    }

    #[test]
    fn days_without_counts_are_none_and_old_days_go() {
        let history = History::default();
        let mut rollup = Rollup::default();
        rollup.record(crate::monitor::Cause::Ok, 1_000);
        history.set_day(7, 100, &rollup);
        history.set_day(7, 103, &rollup);
        let bars = history.daily_bars(7, 103, 5);
        let present: Vec<bool> = bars.iter().map(|(_, c)| c.is_some()).collect();
        assert_eq!(present, [false, true, false, false, true]);
        assert_eq!(history.last_days(7, 103, 30).total, 2);
        history.set_day(7, 103 + DAYS, &rollup);
        assert_eq!(
            history.last_days(7, 103 + DAYS, DAYS).total,
            1,
            "day 103 is past the window"
        );
        assert_eq!(history.last_days(7, 103 + DAYS, DAYS + 1).total, 2);
        assert_eq!(history.last_days(8, 103, 30), Counts::default());
        history.set_hour(7, 5_000, &rollup);
        assert_eq!(history.last_hours(7, 5_000, 24).ok, 1);
        assert_eq!(history.last_hours(7, 5_000 + 24, 24).ok, 0);
    }
}
