//! Thinning (`storage.keep_healthy`): healthy checks older than `after` are
//! cut to one per monitor per `every`, one monitor's hour per statement, so
//! the writer never waits long. Rollups are not touched: uptime comes from
//! them and stays exact.
//!
//! What stays, and why it can be done window by window, is written beside
//! the SQL (`check_rows::THIN`). Each monitor's row in `monitors` records
//! how far its checks are thinned, so a window is thinned once, whatever
//! restarts or leader changes come between.

use std::time::{Duration, SystemTime};

use sqlx::Row;

use super::check_rows::{FIRST_FROM, THIN};
use super::{Store, StoreError, on_backend, unix_ms};
use crate::config::values::KeepHealthy;
use crate::monitor::Cause;

/// The shortest span one statement thins: an hour of one monitor (360
/// checks at 10 s), a few milliseconds of work (BENCHMARKS.md, "Storage
/// over a month").
const WINDOW_MS: i64 = 3_600_000;

/// How much one call of [`apply`] may do, and how it lets the writer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Statements (windows) at most; what is left waits for the next call.
    pub windows: usize,
    /// The pause after each statement. On SQLite the writer's transaction
    /// waits for the file's one write lock; a pause lets it in between.
    pub pause: Duration,
}

impl Pace {
    /// Everything due at once, without a pause (tests, the benchmark).
    pub const UNBOUNDED: Pace = Pace {
        windows: usize::MAX,
        pause: Duration::ZERO,
    };
}

/// What a call of [`apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thinned {
    /// Checks deleted.
    pub deleted: u64,
    /// Windows thinned, one statement each.
    pub windows: usize,
    /// Whether every monitor is thinned as far as it is due.
    pub caught_up: bool,
}

/// The span of one statement for spans of `every_ms`: a whole number of
/// them, at least [`WINDOW_MS`], so no span is split between statements.
fn window_ms(every_ms: i64) -> i64 {
    every_ms * ((WINDOW_MS + every_ms - 1) / every_ms)
}

/// Thins what is due at `now`, at most `pace.windows` windows of it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn apply(
    store: &Store,
    keep: KeepHealthy,
    now: SystemTime,
    pace: Pace,
) -> Result<Thinned, StoreError> {
    let every = i64::try_from(keep.every.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let window = window_ms(every);
    let cutoff = unix_ms(
        now.checked_sub(keep.after)
            .unwrap_or(SystemTime::UNIX_EPOCH),
    );
    // Whole windows only: the span that holds the cutoff waits until it
    // is all older than `after`.
    let through = cutoff - cutoff.rem_euclid(window);
    let mut done = Thinned {
        caught_up: true,
        ..Thinned::default()
    };
    for (monitor, thinned) in store.thinning_marks(through).await? {
        if done.windows >= pace.windows {
            done.caught_up = false;
            break;
        }
        // From its oldest check not thinned yet: a monitor added last week
        // or paused for a while costs no empty statements.
        let mut from = match store.first_check_from(monitor, thinned).await? {
            Some(at) if at < through => thinned.max(at - at.rem_euclid(window)),
            _ => through,
        };
        while from < through {
            if done.windows >= pace.windows {
                done.caught_up = false;
                break;
            }
            let to = (from - from.rem_euclid(window) + window).min(through);
            done.deleted += store.thin_window(monitor, from, to, every).await?;
            done.windows += 1;
            from = to;
            if !pace.pause.is_zero() {
                tokio::time::sleep(pace.pause).await;
            }
        }
        if from > thinned {
            store.mark_thinned(monitor, from).await?;
        }
    }
    Ok(done)
}

impl Store {
    /// Each monitor not yet thinned up to `through`, with how far it is,
    /// the furthest behind first.
    async fn thinning_marks(&self, through: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        on_backend!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, thinned_ms FROM monitors WHERE thinned_ms < $1 ORDER BY thinned_ms, id",
            )
            .bind(through)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                .collect()
        })
    }

    /// The time of `monitor`'s first check at or after `from_ms`.
    async fn first_check_from(
        &self,
        monitor: i64,
        from_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let sql = FIRST_FROM.on(self.backend());
        Ok(on_backend!(self, pool => {
            sqlx::query(sql)
                .bind(monitor)
                .bind(from_ms)
                .fetch_optional(pool)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?
        }))
    }

    /// Thins `monitor`'s checks in `[from_ms, to_ms)` to one healthy check
    /// per `every_ms`; returns how many went.
    async fn thin_window(
        &self,
        monitor: i64,
        from_ms: i64,
        to_ms: i64,
        every_ms: i64,
    ) -> Result<u64, StoreError> {
        let sql = THIN.on(self.backend());
        Ok(on_backend!(self, pool => {
            sqlx::query(sql)
                .bind(monitor)
                .bind(from_ms)
                .bind(to_ms)
                .bind(every_ms)
                .bind(i64::from(Cause::Ok.code()))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Records that `monitor`'s checks before `through` are thinned.
    async fn mark_thinned(&self, monitor: i64, through: i64) -> Result<(), StoreError> {
        on_backend!(self, pool => {
            sqlx::query("UPDATE monitors SET thinned_ms = $2 WHERE id = $1 AND thinned_ms < $2")
                .bind(monitor)
                .bind(through)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_a_whole_number_of_spans_and_at_least_an_hour() {
        assert_eq!(window_ms(300_000), WINDOW_MS);
        assert_eq!(window_ms(7 * 60_000), 63 * 60_000);
        assert_eq!(window_ms(86_400_000), 86_400_000);
        assert_eq!(window_ms(1_000), WINDOW_MS);
    }
}
