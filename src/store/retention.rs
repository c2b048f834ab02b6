//! Retention: raw checks older than `storage.retention` and rollups older
//! than 400 days are deleted in small batches, so writes never stall.

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::{Store, StoreError, day_of, hour_of, unix_ms};

/// How long hourly and daily rollups are kept.
pub const ROLLUP_RETENTION: Duration = Duration::from_secs(400 * 86_400);
/// Rows deleted per transaction.
const BATCH: u32 = 5_000;
/// How often retention runs.
const EVERY: Duration = Duration::from_secs(600);

/// Deletes what is past retention once; returns the raw rows deleted.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn apply(store: &Store, retention: Duration, now: SystemTime) -> Result<u64, StoreError> {
    let cutoff = unix_ms(now - retention);
    let mut deleted = 0;
    for monitor in store.monitor_ids_with_checks().await? {
        // Bounded: a monitor with a backlog finishes on the next rounds.
        for _ in 0..1_000 {
            let gone = store.delete_checks_before(monitor, cutoff, BATCH).await?;
            deleted += gone;
            if gone < u64::from(BATCH) {
                break;
            }
            // Let the writer's transaction in between batches.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let rollup_cutoff = unix_ms(now - ROLLUP_RETENTION);
    store
        .delete_rollups_before(hour_of(rollup_cutoff), day_of(rollup_cutoff))
        .await?;
    Ok(deleted)
}

/// Runs retention every ten minutes until `stop`.
pub async fn run(store: Store, retention: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match apply(&store, retention, SystemTime::now()).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "retention removed old check results"),
            Err(err) => tracing::warn!(error = %err, "retention failed; will retry"),
        }
    }
}
