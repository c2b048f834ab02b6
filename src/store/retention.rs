//! Retention: raw checks older than `storage.retention` and rollups older
//! than 400 days are deleted in small batches, so writes never stall. The
//! same task thins old healthy checks (`storage.keep_healthy`, see
//! [`super::thinning`]).

use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::cluster::Fence;
use super::thinning::{self, Pace, Thinned};
use super::{Store, StoreError, day_of, hour_of, unix_ms};
use crate::config::values::KeepHealthy;

/// How long hourly and daily rollups are kept.
pub const ROLLUP_RETENTION: Duration = Duration::from_secs(400 * 86_400);
/// Rows deleted per transaction.
const BATCH: u32 = 5_000;
/// How often retention runs.
const EVERY: Duration = Duration::from_secs(600);
/// Thinning's windows (statements) per run at most: 10,000 monitors need
/// 10,000 an hour, 1,700 a run; the rest catches up a backlog (a database
/// that kept every check before), oldest first.
const THIN_WINDOWS: usize = 20_000;
/// Thinning's pace between two looks at the stop token and the lease.
const THIN_PACE: Pace = Pace {
    windows: 500,
    pause: Duration::from_millis(5),
};

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

/// Runs retention, then thinning, every ten minutes until `stop`. In a
/// cluster (`leading` set) every node runs retention, whose deletes agree
/// whoever makes them, and only the leader thins: the work is done once.
pub async fn run(
    store: Store,
    retention: Duration,
    keep_healthy: Option<KeepHealthy>,
    leading: Option<watch::Receiver<Option<Fence>>>,
    stop: CancellationToken,
) {
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
        if let Some(keep) = keep_healthy {
            thin(&store, keep, leading.as_ref(), &stop).await;
        }
    }
}

/// One run of thinning, in chunks, while this node may thin.
async fn thin(
    store: &Store,
    keep: KeepHealthy,
    leading: Option<&watch::Receiver<Option<Fence>>>,
    stop: &CancellationToken,
) {
    let now = SystemTime::now();
    let mut total = Thinned::default();
    while total.windows < THIN_WINDOWS
        && !stop.is_cancelled()
        && leading.is_none_or(|term| term.borrow().is_some())
    {
        match thinning::apply(store, keep, now, THIN_PACE).await {
            Ok(done) => {
                total.deleted += done.deleted;
                total.windows += done.windows;
                if done.caught_up {
                    break;
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "thinning failed; will retry");
                break;
            }
        }
    }
    if total.deleted > 0 {
        tracing::info!(
            deleted = total.deleted,
            windows = total.windows,
            "thinning removed old healthy checks"
        );
    }
}
