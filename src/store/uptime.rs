//! Uptime over days and months from the daily rollups: the figures of
//! `GET /api/v1/monitors/{name}/uptime` and `hopwatch report`.
//!
//! Degraded checks (slow, certificate or domain expiring) count as up, as in
//! every uptime figure, and their share is given apart as `degraded_s`.
//! Times are estimates: checks × the monitor's interval, since the rollups
//! keep counts, not durations.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::rollup::{Histogram, Rollup};
use super::{Store, StoreError, on_backend};
use crate::clock::{date, day_from_civil, next_month, year_month};
use crate::config::MonitorConfig;

/// Interval assumed for a monitor whose config has none (the loader fills
/// it, so this is only a fallback).
const FALLBACK_INTERVAL_S: u64 = 60;

/// One monitor's line of a month's SLA report.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthLine {
    /// The monitor.
    pub monitor: String,
    /// Its month, all regions summed.
    pub row: UptimeRow,
    /// Incidents opened that month.
    pub incidents: u64,
}

/// How rows are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One row a day.
    Day,
    /// One row a calendar month (UTC), clipped to the range asked for.
    Month,
}

/// One period of one monitor, all its regions summed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UptimeRow {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// Share of checks that were up (degraded included), 0-1; `None`
    /// without checks.
    pub uptime: Option<f64>,
    /// Checks, unknown ones (gap time) included.
    pub checks: u64,
    /// Failed checks.
    pub failed: u64,
    /// Unknown checks.
    pub unknown: u64,
    /// Estimated downtime: failed checks × the interval, seconds.
    pub downtime_s: u64,
    /// Estimated degraded time: degraded checks × the interval, seconds.
    pub degraded_s: u64,
    /// 95th percentile latency of the period, ms; `None` without latencies.
    pub p95_ms: Option<f64>,
}

impl UptimeRow {
    /// The header line of [`UptimeRow::csv`].
    pub const CSV_HEADER: &'static str =
        "from,to,uptime,checks,failed,unknown,downtime_s,degraded_s,p95_ms";

    /// The row as a CSV line (no newline); a missing value is empty.
    pub fn csv(&self) -> String {
        let optional = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{},{},{}",
            self.from,
            self.to,
            optional(self.uptime),
            self.checks,
            self.failed,
            self.unknown,
            self.downtime_s,
            self.degraded_s,
            optional(self.p95_ms)
        )
    }
}

/// Cuts `days` (day number -> the day's rollup, regions summed) into rows
/// covering `from_day..=to_day`; periods without data get a row of zeros
/// with no uptime. `interval_s` turns check counts into seconds.
pub fn uptime_rows(
    days: &BTreeMap<i64, Rollup>,
    from_day: i64,
    to_day: i64,
    by: Period,
    interval_s: u64,
) -> Vec<UptimeRow> {
    let mut rows = Vec::new();
    let mut start = from_day;
    while start <= to_day {
        let end = match by {
            Period::Day => start,
            Period::Month => {
                let (year, month) = year_month(start);
                (next_month(year, month) - 1).min(to_day)
            }
        };
        let mut sum = Rollup::default();
        for (_, rollup) in days.range(start..=end) {
            sum.merge(rollup);
        }
        rows.push(row(start, end, &sum, interval_s));
        start = end + 1;
    }
    rows
}

fn row(from: i64, to: i64, sum: &Rollup, interval_s: u64) -> UptimeRow {
    let degraded: u64 = sum
        .by_cause()
        .filter(|(cause, _)| cause.is_degraded())
        .map(|(_, count)| u64::from(count))
        .sum();
    UptimeRow {
        from: date(from),
        to: date(to),
        uptime: (sum.total > 0).then(|| f64::from(sum.ok) / f64::from(sum.total)),
        checks: u64::from(sum.total),
        failed: u64::from(sum.failed),
        unknown: u64::from(sum.unknown),
        downtime_s: u64::from(sum.failed) * interval_s,
        degraded_s: degraded * interval_s,
        p95_ms: (!sum.histogram.is_empty()).then(|| sum.histogram.percentile(95.0) as f64 / 1000.0),
    }
}

impl Store {
    /// The store ids of every series of monitor `name`: its own row and
    /// its `name@region` rows.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn series_ids(&self, name: &str) -> Result<Vec<i64>, StoreError> {
        // `_` and `%` are LIKE wildcards (`_` is allowed in names).
        let mut regional = String::with_capacity(name.len() + 2);
        for c in name.chars() {
            if matches!(c, '_' | '%' | '\\') {
                regional.push('\\');
            }
            regional.push(c);
        }
        regional.push_str("@%");
        Ok(on_backend!(self, pool => {
            let rows = sqlx::query(
                "SELECT id FROM monitors WHERE name = $1 OR name LIKE $2 ESCAPE '\\'",
            )
            .bind(name)
            .bind(&regional)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| Ok(row.try_get::<i64, _>(0)?))
                .collect::<Result<Vec<_>, StoreError>>()?
        }))
    }

    /// The daily rollups of `series` from `from_day` to `to_day`
    /// (inclusive), summed per day. Days stored before degraded checks
    /// counted as up are recounted by cause.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn daily_rollups(
        &self,
        series: &[i64],
        from_day: i64,
        to_day: i64,
    ) -> Result<BTreeMap<i64, Rollup>, StoreError> {
        let mut days: BTreeMap<i64, Rollup> = BTreeMap::new();
        for id in series {
            // One primary-key range per series.
            let found = on_backend!(self, pool => {
                let rows = sqlx::query(
                    "SELECT bucket, total, ok, failed, unknown, n5xx, causes, histogram \
                     FROM rollups_daily WHERE monitor_id = $1 AND bucket >= $2 AND bucket <= $3",
                )
                .bind(id)
                .bind(from_day)
                .bind(to_day)
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let mut rollup = Rollup {
                            total: count(row.try_get(1)?),
                            ok: count(row.try_get(2)?),
                            failed: count(row.try_get(3)?),
                            unknown: count(row.try_get(4)?),
                            n5xx: count(row.try_get(5)?),
                            histogram: Histogram::decode(&row.try_get::<Vec<u8>, _>(7)?),
                            ..Rollup::default()
                        };
                        rollup.decode_causes(&row.try_get::<Vec<u8>, _>(6)?);
                        rollup.recount();
                        Ok((row.try_get::<i64, _>(0)?, rollup))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?
            });
            for (day, rollup) in found {
                days.entry(day).or_default().merge(&rollup);
            }
        }
        Ok(days)
    }

    /// How many incidents of monitor `name` opened in `[from_ms, to_ms)`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn incidents_opened(
        &self,
        name: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<u64, StoreError> {
        let opened: i64 = on_backend!(self, pool => {
            sqlx::query(
                "SELECT COUNT(*) FROM incidents WHERE monitor = $1 AND started_ms >= $2 AND started_ms < $3",
            )
            .bind(name)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_one(pool)
            .await?
            .try_get(0)?
        });
        Ok(opened.max(0) as u64)
    }
}

/// A count column (non-negative, stored 64-bit) as the `u32` rollups use.
fn count(value: i64) -> u32 {
    value.clamp(0, i64::from(u32::MAX)) as u32
}

impl Store {
    /// The SLA report of `month` (UTC) for `monitors`, in their order: what
    /// `hopwatch report` prints and `/reports/YYYY-MM` shows.
    pub async fn month_report(
        &self,
        monitors: &[&MonitorConfig],
        (year, month): (i64, u32),
    ) -> Result<Vec<MonthLine>, StoreError> {
        let from = day_from_civil(year, month, 1);
        let to = next_month(year, month) - 1;
        let mut lines = Vec::with_capacity(monitors.len());
        for monitor in monitors {
            let interval = monitor
                .interval
                .map_or(FALLBACK_INTERVAL_S, |interval| interval.as_secs());
            let series = self.series_ids(&monitor.name).await?;
            let days = self.daily_rollups(&series, from, to).await?;
            let incidents = self
                .incidents_opened(&monitor.name, from * 86_400_000, (to + 1) * 86_400_000)
                .await?;
            let Some(row) = uptime_rows(&days, from, to, Period::Month, interval).pop() else {
                continue;
            };
            lines.push(MonthLine {
                monitor: monitor.name.clone(),
                row,
                incidents,
            });
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_date;
    use crate::monitor::Cause;

    fn day(text: &str) -> i64 {
        parse_date(text).expect("date")
    }

    #[test]
    fn months_are_cut_at_calendar_edges_and_degraded_counts_up() {
        let mut days = BTreeMap::new();
        let mut a = Rollup::default();
        for _ in 0..8 {
            a.record(Cause::Ok, 100_000);
        }
        a.record(Cause::TlsExpiring, 100_000);
        a.record(Cause::Http502, 100_000);
        days.insert(day("2026-10-31"), a.clone());
        days.insert(day("2026-11-01"), a);
        let rows = uptime_rows(
            &days,
            day("2026-10-30"),
            day("2026-11-02"),
            Period::Month,
            60,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].from.as_str(), rows[0].to.as_str()),
            ("2026-10-30", "2026-10-31")
        );
        assert_eq!(
            (rows[1].from.as_str(), rows[1].to.as_str()),
            ("2026-11-01", "2026-11-02")
        );
        assert_eq!(rows[0].uptime, Some(0.9));
        assert_eq!((rows[0].checks, rows[0].failed), (10, 1));
        assert_eq!((rows[0].downtime_s, rows[0].degraded_s), (60, 60));
        let daily = uptime_rows(&days, day("2026-10-30"), day("2026-10-30"), Period::Day, 60);
        assert_eq!(daily[0].uptime, None);
        assert_eq!(daily[0].p95_ms, None);
        assert_eq!(daily[0].csv(), "2026-10-30,2026-10-30,,0,0,0,0,0,");
    }
}
