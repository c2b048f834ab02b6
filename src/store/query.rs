//! Reads: recent checks of a monitor, rollups for uptime and charts, daemon
//! runs for gaps, and the batched deletes of retention.

use sqlx::Row;

use super::check_rows::{COUNT, CheckRow, DELETE_BEFORE, NTH_BEFORE, RECENT};
use super::rollup::{Histogram, Rollup};
use super::{Store, StoreError, StoredCheck, on_backend};

/// One day of one monitor, for uptime bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayStat {
    /// Monitor id.
    pub monitor_id: i64,
    /// Day number since the epoch.
    pub day: i64,
    /// Checks.
    pub total: u32,
    /// Passed.
    pub ok: u32,
    /// Failed.
    pub failed: u32,
    /// Unknown.
    pub unknown: u32,
}

/// Latency percentiles of one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourLatency {
    /// Hour number since the epoch.
    pub hour: i64,
    /// Median, µs.
    pub p50_us: i64,
    /// 95th percentile, µs.
    pub p95_us: i64,
}

/// One daemon run: `[started, alive]` was watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Start, unix ms.
    pub started_ms: i64,
    /// Last heartbeat (or clean stop), unix ms.
    pub alive_ms: i64,
}

/// A count column (non-negative, stored 64-bit) as the `u32` rollups use.
fn count(value: i64) -> u32 {
    value.clamp(0, i64::from(u32::MAX)) as u32
}

impl Store {
    /// Rollups of `table` from bucket `since` on.
    pub(crate) async fn load_rollups(
        &self,
        table: &str,
        since: i64,
    ) -> Result<Vec<(i64, i64, Rollup)>, StoreError> {
        let sql = format!(
            "SELECT monitor_id, bucket, total, ok, failed, unknown, n5xx, causes, histogram \
             FROM {table} WHERE bucket >= $1"
        );
        Ok(on_backend!(self, pool => {
            // `table` is one of two constants, never user input.
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(since)
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let mut rollup = Rollup {
                    total: count(row.try_get("total")?),
                    ok: count(row.try_get("ok")?),
                    failed: count(row.try_get("failed")?),
                    unknown: count(row.try_get("unknown")?),
                    n5xx: count(row.try_get("n5xx")?),
                    histogram: Histogram::decode(&row.try_get::<Vec<u8>, _>("histogram")?),
                    ..Rollup::default()
                };
                rollup.decode_causes(&row.try_get::<Vec<u8>, _>("causes")?);
                rollup.recount();
                out.push((row.try_get("monitor_id")?, row.try_get("bucket")?, rollup));
            }
            out
        }))
    }

    /// Checks of one monitor, newest first, at or after `since_ms`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn checks(
        &self,
        monitor_id: i64,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredCheck>, StoreError> {
        let sql = RECENT.on(self.backend());
        on_backend!(self, pool => {
            let rows = sqlx::query(sql)
                .bind(monitor_id)
                .bind(since_ms)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| Ok(row.stored_check()?))
                .collect()
        })
    }

    /// Count of stored checks of a monitor (tests, benchmarks).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn count_checks(&self, monitor_id: Option<i64>) -> Result<i64, StoreError> {
        let one = COUNT.on(self.backend());
        Ok(on_backend!(self, pool => {
            match monitor_id {
                Some(id) => sqlx::query(one).bind(id),
                None => sqlx::query("SELECT COUNT(*) FROM checks"),
            }
            .fetch_one(pool)
            .await?
            .try_get(0)?
        }))
    }

    /// Daily counts of every monitor from day `since` on: one indexed range
    /// per monitor is avoided by reading the small daily table whole. Days
    /// stored before degraded checks counted as up are recounted by cause.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn daily_stats(&self, since_day: i64) -> Result<Vec<DayStat>, StoreError> {
        on_backend!(self, pool => {
            let rows = sqlx::query(
                "SELECT monitor_id, bucket, total, ok, failed, unknown, causes \
                 FROM rollups_daily WHERE bucket >= $1",
            )
            .bind(since_day)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let mut counts = Rollup {
                        total: count(row.try_get(2)?),
                        ok: count(row.try_get(3)?),
                        failed: count(row.try_get(4)?),
                        unknown: count(row.try_get(5)?),
                        ..Rollup::default()
                    };
                    counts.decode_causes(&row.try_get::<Vec<u8>, _>(6)?);
                    counts.recount();
                    Ok(DayStat {
                        monitor_id: row.try_get(0)?,
                        day: row.try_get(1)?,
                        total: counts.total,
                        ok: counts.ok,
                        failed: counts.failed,
                        unknown: counts.unknown,
                    })
                })
                .collect()
        })
    }

    /// Hourly p50/p95 of one monitor from hour `since` on, oldest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn hourly_latency(
        &self,
        monitor_id: i64,
        since_hour: i64,
    ) -> Result<Vec<HourLatency>, StoreError> {
        on_backend!(self, pool => {
            let rows = sqlx::query(
                "SELECT bucket, p50_us, p95_us FROM rollups_hourly \
                 WHERE monitor_id = $1 AND bucket >= $2 ORDER BY bucket",
            )
            .bind(monitor_id)
            .bind(since_hour)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(HourLatency {
                        hour: row.try_get(0)?,
                        p50_us: row.try_get(1)?,
                        p95_us: row.try_get(2)?,
                    })
                })
                .collect()
        })
    }

    /// Daemon runs that overlap `[since_ms, now]`, oldest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn runs(&self, since_ms: i64) -> Result<Vec<Run>, StoreError> {
        on_backend!(self, pool => {
            let rows = sqlx::query(
                "SELECT started_ms, alive_ms FROM runs WHERE alive_ms >= $1 ORDER BY started_ms",
            )
            .bind(since_ms)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(Run {
                        started_ms: row.try_get(0)?,
                        alive_ms: row.try_get(1)?,
                    })
                })
                .collect()
        })
    }

    /// Deletes at most `limit` raw checks (and their details) of one monitor
    /// older than `before_ms`; returns how many went. Small batches keep
    /// each transaction short, so the writer never waits long.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn delete_checks_before(
        &self,
        monitor_id: i64,
        before_ms: i64,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let (nth, delete) = (
            NTH_BEFORE.on(self.backend()),
            DELETE_BEFORE.on(self.backend()),
        );
        Ok(on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let cutoff: Option<i64> = sqlx::query(nth)
                .bind(monitor_id)
                .bind(before_ms)
                .bind(i64::from(limit.saturating_sub(1)))
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
            let upto = cutoff.map_or(before_ms, |at| at + 1);
            let deleted = sqlx::query(delete)
                .bind(monitor_id)
                .bind(upto)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM check_details WHERE monitor_id = $1 AND at_ms < $2")
                .bind(monitor_id)
                .bind(upto)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            deleted
        }))
    }

    /// Deletes rollups older than the given hour and day buckets.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn delete_rollups_before(&self, hour: i64, day: i64) -> Result<(), StoreError> {
        on_backend!(self, pool => {
            sqlx::query("DELETE FROM rollups_hourly WHERE bucket < $1")
                .bind(hour)
                .execute(pool)
                .await?;
            sqlx::query("DELETE FROM rollups_daily WHERE bucket < $1")
                .bind(day)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Every monitor id with stored checks.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn monitor_ids_with_checks(&self) -> Result<Vec<i64>, StoreError> {
        on_backend!(self, pool => {
            let rows = sqlx::query("SELECT id FROM monitors").fetch_all(pool).await?;
            rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
        })
    }
}

/// The detail JSON of a failed check, as read back.
#[derive(serde::Deserialize, Default)]
struct StoredDetail {
    error: Option<String>,
    responder: Option<crate::monitor::Responder>,
    remote_addr: Option<std::net::SocketAddr>,
    verdict: Option<crate::monitor::Verdict>,
    evidence: Option<crate::monitor::result::Evidence>,
    addresses: Option<Vec<crate::monitor::result::AddressResult>>,
    tls: Option<crate::monitor::result::CertFacts>,
    domain: Option<crate::monitor::result::DomainFacts>,
    packet_loss: Option<f64>,
    rtt_ms: Option<crate::monitor::RttStats>,
}

impl StoredCheck {
    /// The CHECK object of the API for this row.
    pub fn into_result(self, monitor: &str) -> crate::monitor::CheckResult {
        use crate::monitor::{Cause, CheckResult, Hop, Phases, Verdict};
        let cause = Cause::from_code(self.cause).unwrap_or(Cause::Unknown);
        let mut result = CheckResult::new(super::from_unix_ms(self.at_ms), cause);
        let ms = |us: i64| us as f64 / 1000.0;
        result.monitor = Some(monitor.to_owned());
        result.status = self.status;
        result.latency_ms = ms(self.latency_us);
        let [dns, connect, tls, ttfb, transfer] = self.phases_us.map(ms);
        result.phases_ms = Phases {
            dns,
            connect,
            tls,
            ttfb,
            transfer,
        };
        if self.flags & super::write::FLAG_FLAKY != 0 {
            result.flaky = Some(true);
        }
        result.node = self.node;
        let detail: StoredDetail = self
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        result.error = detail.error;
        result.responder = detail.responder;
        result.remote_addr = detail.remote_addr;
        result.evidence = detail.evidence;
        result.addresses = detail.addresses;
        result.tls = detail.tls;
        result.domain = detail.domain;
        result.packet_loss = detail.packet_loss;
        result.rtt_ms = detail.rtt_ms;
        result.verdict = detail.verdict.unwrap_or_else(|| {
            if cause.is_ok() {
                Verdict {
                    hop: Hop::None,
                    summary: "healthy".to_owned(),
                }
            } else {
                crate::probe::verdict::for_check(&result)
            }
        });
        result
    }
}
