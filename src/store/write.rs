//! Turning results into compact rows, and writing one batch (checks, details,
//! rollups, the run heartbeat) in a single transaction.

use std::sync::Arc;

use serde::Serialize;
use sqlx::QueryBuilder;

use super::check_rows::CheckRows;
use super::rollup::Rollup;
use super::{Store, StoreError, on_backend, unix_ms};
use crate::monitor::CheckResult;
use crate::monitor::result::{AddressResult, CertFacts, Evidence, Responder, RttStats, Verdict};

/// `flags` bit: a failure that a confirming re-check did not repeat.
pub const FLAG_FLAKY: i64 = 1;

/// Details and rollups per INSERT statement: a dozen columns each stays
/// far below SQLite's variable limit while saving most per-statement
/// overhead.
const ROWS_PER_STATEMENT: usize = 200;

/// A check result as it is stored (and read back).
#[derive(Debug, Clone)]
pub struct StoredCheck {
    /// Monitor id.
    pub monitor_id: i64,
    /// Start, unix ms.
    pub at_ms: i64,
    /// [`crate::monitor::Cause::code`].
    pub cause: u8,
    /// HTTP status.
    pub status: Option<u16>,
    /// Whole check, µs.
    pub latency_us: i64,
    /// dns, connect, tls, ttfb, transfer in µs.
    pub phases_us: [i64; 5],
    /// [`FLAG_FLAKY`]...
    pub flags: i64,
    /// The node or agent that checked; `None` when not recorded (checks
    /// stored before nodes were).
    pub node: Option<Arc<str>>,
    /// JSON of what a failure saw; `None` for healthy checks.
    pub detail: Option<String>,
}

/// The part of a failed result worth keeping beside the row.
#[derive(Serialize)]
struct Detail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    responder: Option<&'a Responder>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_addr: Option<std::net::SocketAddr>,
    verdict: &'a Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<&'a Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    addresses: Option<&'a Vec<AddressResult>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<&'a CertFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a crate::monitor::result::DomainFacts>,
    // icmp figures ride with the detail, so a failed check keeps them; a
    // healthy check stores no detail, and its loss and round trips are
    // only in the live result and the metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    packet_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt_ms: Option<RttStats>,
}

impl StoredCheck {
    /// Packs a result for monitor `monitor_id`.
    pub fn from_result(monitor_id: i64, result: &CheckResult) -> Self {
        // Within 32 bits, as PostgreSQL stores them (35 minutes).
        let us = |ms: f64| ((ms * 1000.0).round() as i64).clamp(0, i64::from(i32::MAX));
        let phases = result.phases_ms;
        let detail = (!result.ok).then(|| {
            serde_json::to_string(&Detail {
                error: result.error.as_ref(),
                responder: result.responder.as_ref(),
                remote_addr: result.remote_addr,
                verdict: &result.verdict,
                evidence: result.evidence.as_ref(),
                addresses: result.addresses.as_ref(),
                tls: result.tls.as_ref(),
                domain: result.domain.as_ref(),
                packet_loss: result.packet_loss,
                rtt_ms: result.rtt_ms,
            })
            .unwrap_or_default()
        });
        Self {
            monitor_id,
            at_ms: unix_ms(result.at),
            cause: result.cause.code(),
            status: result.status,
            latency_us: us(result.latency_ms),
            phases_us: [
                us(phases.dns),
                us(phases.connect),
                us(phases.tls),
                us(phases.ttfb),
                us(phases.transfer),
            ],
            flags: if result.flaky == Some(true) {
                FLAG_FLAKY
            } else {
                0
            },
            node: result.node.clone(),
            detail,
        }
    }
}

/// A rollup row to write: monitor, bucket, aggregate.
pub type RollupRow<'a> = (i64, i64, &'a Rollup);

impl Store {
    /// Writes one batch atomically. `ON CONFLICT DO NOTHING` on checks makes
    /// a replayed batch harmless; rollups are replaced with the writer's
    /// totals. Many rows go in each statement: each is a round trip.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn write_batch(
        &self,
        checks: &[StoredCheck],
        hourly: &[RollupRow<'_>],
        daily: &[RollupRow<'_>],
        run: Option<(i64, i64)>,
    ) -> Result<(), StoreError> {
        let mut names: Vec<&Arc<str>> = checks.iter().filter_map(|c| c.node.as_ref()).collect();
        names.sort_unstable();
        names.dedup();
        let nodes = self.node_ids(&names).await?;
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            tx.insert_checks(checks, &nodes).await?;
            let failed: Vec<_> = checks.iter().filter(|c| c.detail.is_some()).collect();
            for chunk in failed.chunks(ROWS_PER_STATEMENT) {
                let mut insert =
                    QueryBuilder::new("INSERT INTO check_details (monitor_id, at_ms, detail) ");
                insert.push_values(chunk, |mut row, check| {
                    row.push_bind(check.monitor_id)
                        .push_bind(check.at_ms)
                        .push_bind(check.detail.as_deref().unwrap_or_default());
                });
                insert.push(" ON CONFLICT DO NOTHING");
                insert.build().execute(&mut *tx).await?;
            }
            for (table, rows) in [("rollups_hourly", hourly), ("rollups_daily", daily)] {
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    // `table` is one of two constants, never user input.
                    let mut upsert = QueryBuilder::new(format!(
                        "INSERT INTO {table} (monitor_id, bucket, total, ok, failed, unknown, \
                         n5xx, p50_us, p95_us, p99_us, causes, histogram) "
                    ));
                    upsert.push_values(chunk, |mut row, (monitor_id, bucket, rollup)| {
                        row.push_bind(*monitor_id)
                            .push_bind(*bucket)
                            .push_bind(i64::from(rollup.total))
                            .push_bind(i64::from(rollup.ok))
                            .push_bind(i64::from(rollup.failed))
                            .push_bind(i64::from(rollup.unknown))
                            .push_bind(i64::from(rollup.n5xx))
                            .push_bind(rollup.histogram.percentile(50.0) as i64)
                            .push_bind(rollup.histogram.percentile(95.0) as i64)
                            .push_bind(rollup.histogram.percentile(99.0) as i64)
                            .push_bind(rollup.encode_causes())
                            .push_bind(rollup.histogram.encode());
                    });
                    upsert.push(UPSERT_ROLLUP);
                    upsert.build().execute(&mut *tx).await?;
                }
            }
            if let Some((run, alive_ms)) = run {
                sqlx::query("UPDATE runs SET alive_ms = $1 WHERE id = $2")
                    .bind(alive_ms)
                    .bind(run)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

/// A rollup row already stored is replaced by the writer's newer totals.
const UPSERT_ROLLUP: &str = " ON CONFLICT (monitor_id, bucket) DO UPDATE SET \
    total = excluded.total, ok = excluded.ok, failed = excluded.failed, \
    unknown = excluded.unknown, n5xx = excluded.n5xx, p50_us = excluded.p50_us, \
    p95_us = excluded.p95_us, p99_us = excluded.p99_us, causes = excluded.causes, \
    histogram = excluded.histogram";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::{Cause, RttStats};

    #[test]
    fn a_failed_icmp_check_keeps_its_loss_and_round_trips() {
        let mut result = CheckResult::new(std::time::UNIX_EPOCH, Cause::IcmpUnreachable);
        result.packet_loss = Some(2.0 / 3.0);
        result.rtt_ms = RttStats::of(&[0.25]);
        result.error = Some("host unreachable".to_owned());
        let back = StoredCheck::from_result(1, &result).into_result("gw");
        assert_eq!(back.packet_loss, result.packet_loss);
        assert_eq!(back.rtt_ms, result.rtt_ms);
        // A healthy check stores no detail, so no icmp figures either.
        let mut healthy = CheckResult::new(std::time::UNIX_EPOCH, Cause::Ok);
        healthy.packet_loss = Some(0.0);
        let stored = StoredCheck::from_result(1, &healthy);
        assert!(stored.detail.is_none());
        assert_eq!(stored.into_result("gw").packet_loss, None);
    }
}
