//! The results other nodes checked, read from the database every second:
//! into the live state (so any node's pages show every region) and, on the
//! leader, to the alert manager. A series this node checks itself is not
//! read: its results came through this node's pipeline.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::alert::manager::ManagerMessage;
use crate::clock::unix_ms;
use crate::live::{Live, Setup};
use crate::store::Store;

/// How often the other nodes' results are read.
const POLL: Duration = Duration::from_secs(1);
/// At start, how far back the other nodes' results are read, so that the
/// pages show every region at once.
const LOOK_BACK: Duration = Duration::from_secs(60);
/// Most rows of one series read at once; more wait for the next poll.
const PER_SERIES: u32 = 100;
/// A read slower than this is abandoned (and the next one waits its turn:
/// reads never pile up on the server).
const READ_WITHIN: Duration = Duration::from_secs(30);

/// Reads until `stop`. `checked_here` holds the names of the monitors this
/// node checks in its own region.
pub async fn run(
    store: Store,
    live: Live,
    alerts: mpsc::Sender<ManagerMessage>,
    checked_here: watch::Receiver<Arc<HashSet<String>>>,
    stop: CancellationToken,
) {
    // Per series: the newest check read.
    let mut cursors: HashMap<i64, i64> = HashMap::new();
    // The series read, by id: rebuilt only when the config or this node's
    // share changes, not every second.
    let mut names: HashMap<i64, (String, Arc<str>)> = HashMap::new();
    let mut built_for: Option<(Arc<Setup>, Arc<HashSet<String>>)> = None;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let setup = live.setup();
        let here = checked_here.borrow().clone();
        let current = built_for
            .as_ref()
            .is_some_and(|(s, h)| Arc::ptr_eq(s, &setup) && Arc::ptr_eq(h, &here));
        if !current {
            names = remote_series(&setup, &here);
            cursors.retain(|id, _| names.contains_key(id));
            built_for = Some((setup, here));
        }
        let start = unix_ms(SystemTime::now() - LOOK_BACK);
        let wanted: Vec<(i64, i64)> = names
            .keys()
            .map(|id| (*id, *cursors.entry(*id).or_insert(start)))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let rows = match tokio::time::timeout(READ_WITHIN, store.checks_after(&wanted, PER_SERIES))
            .await
        {
            Ok(Ok(rows)) => rows,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cannot read the other nodes' results");
                continue;
            }
            Err(_) => continue,
        };
        let leading = live.peers().leading();
        let now = SystemTime::now();
        for row in rows {
            let Some((name, region)) = names.get(&row.monitor_id) else {
                continue;
            };
            let cursor = cursors.entry(row.monitor_id).or_default();
            *cursor = (*cursor).max(row.at_ms);
            let mut result = row.into_result(name);
            result.region = Some(region.clone());
            let result = Arc::new(result);
            live.record(name, result.clone());
            // A backlog (a node that was cut off, writing what it
            // buffered) would be dropped by the manager: not sent at all.
            if leading && !crate::alert::manager::is_backlog(&result, now) {
                let message = ManagerMessage::Check {
                    monitor: (*name).to_owned(),
                    result,
                };
                // A full inbox means the manager is behind: it catches up
                // from the store at its next start, not from here.
                if alerts.try_send(message).is_err() {
                    tracing::debug!("the alert manager's inbox is full; a result skipped");
                }
            }
        }
    }
}

/// The series this node does not check itself: every other region's, and
/// its own region's monitors that another node of the region checks.
fn remote_series(setup: &Setup, here: &HashSet<String>) -> HashMap<i64, (String, Arc<str>)> {
    setup
        .all_series()
        .filter(|(name, region, _)| !(*region == setup.identity.region && here.contains(*name)))
        .map(|(name, region, id)| (id, (name.to_owned(), region)))
        .collect()
}
