//! Who is in the cluster: this node's heartbeat every 2 s, the other
//! nodes as their rows say (into the live state's peers), and the live
//! nodes of this node's region, which decide the work it checks.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::ClusterError;
use crate::config::NodeIdentity;
use crate::live::{DEAD_AFTER, Live};
use crate::store::Store;
use crate::store::cluster::{Join, NodeRow};

/// How often a node writes its heartbeat and reads the others'.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// What membership decides: who shares this node's region, and which
/// regions have nodes (each needs its series of every monitor).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    /// The live nodes of this node's region, this node among them, sorted.
    pub here: Vec<Arc<str>>,
    /// Every region a node of the cluster checks from, live or not.
    pub regions: BTreeSet<Arc<str>>,
}

impl Members {
    /// The members as the rows say, seen by `me`: a node silent for
    /// [`DEAD_AFTER`] is dead; `me` is always alive to itself.
    pub fn from_rows(rows: &[NodeRow], me: &NodeIdentity) -> Self {
        let mut here: Vec<Arc<str>> = rows
            .iter()
            .filter(|row| *row.region == *me.region && row.silent_for < DEAD_AFTER)
            .map(|row| Arc::from(row.name.as_str()))
            .collect();
        if !here.contains(&me.name) {
            here.push(me.name.clone());
        }
        here.sort();
        let mut regions: BTreeSet<Arc<str>> = rows
            .iter()
            .map(|row| Arc::from(row.region.as_str()))
            .collect();
        regions.insert(me.region.clone());
        Self { here, regions }
    }
}

/// Takes `me.name` in the cluster. A name held by a live node is waited
/// for as long as a dead node takes to be seen dead (the node may be this
/// one's previous, killed, process); a node still beating then is another
/// process: an error naming it.
pub async fn join(store: &Store, me: &NodeIdentity, incarnation: i64) -> Result<(), ClusterError> {
    let give_up = tokio::time::Instant::now() + DEAD_AFTER + HEARTBEAT;
    let mut previous: Option<Duration> = None;
    loop {
        let join = store
            .join_cluster(&me.name, &me.region, incarnation, DEAD_AFTER)
            .await?;
        let Join::Taken { region, silent_for } = join else {
            return Ok(());
        };
        // Its silence shrank: it beat since the last look, so it lives.
        let beat = previous.is_some_and(|before| silent_for < before);
        if beat || tokio::time::Instant::now() >= give_up {
            return Err(ClusterError::NameTaken {
                name: me.name.to_string(),
                region,
            });
        }
        if previous.is_none() {
            tracing::warn!(node = %me.name, "a node of this name was alive lately; waiting to see whether it is gone");
        }
        previous = Some(silent_for);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Beats and reads the cluster every [`HEARTBEAT`] until `stop`; sends the
/// members whenever they change. Losing the name to another process (this
/// one was taken for dead) cancels `lost`.
pub async fn run(
    store: Store,
    live: Live,
    incarnation: i64,
    members: watch::Sender<Members>,
    lost: CancellationToken,
    stop: CancellationToken,
) {
    let me = live.setup().identity.clone();
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let checking = live.peers().checking().unwrap_or(0);
        let beat =
            tokio::time::timeout(HEARTBEAT, store.heartbeat(&me.name, incarnation, checking));
        match beat.await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                tracing::error!(node = %me.name, "another process took this node's name while it was silent; stopping");
                lost.cancel();
                return;
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cannot write the heartbeat; checks go on")
            }
            Err(_) => tracing::warn!("the heartbeat timed out; checks go on"),
        }
        let rows = match tokio::time::timeout(HEARTBEAT, store.cluster_nodes()).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cannot read the cluster's nodes");
                continue;
            }
            Err(_) => continue,
        };
        let now = SystemTime::now();
        for row in rows.iter().filter(|row| *row.name != *me.name) {
            let seen = now
                .checked_sub(row.silent_for)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            live.peers()
                .node(&row.name, &row.region, seen, row.leader, row.monitors);
        }
        members.send_if_modified(|current| {
            let next = Members::from_rows(&rows, &me);
            let changed = *current != next;
            if changed {
                tracing::info!(nodes = ?next.here, "the nodes of this region changed; the work is split again");
                *current = next;
            }
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, region: &str, silent: u64) -> NodeRow {
        NodeRow {
            name: name.into(),
            region: region.into(),
            incarnation: 1,
            silent_for: Duration::from_secs(silent),
            monitors: 0,
            leader: false,
        }
    }

    #[test]
    fn the_live_nodes_of_this_region_share_its_work_and_every_region_counts() {
        let me = NodeIdentity {
            name: "eu-2".into(),
            region: "eu".into(),
        };
        let rows = [
            row("eu-1", "eu", 1),
            row("eu-3", "eu", 30),
            row("us-1", "us", 1),
        ];
        let members = Members::from_rows(&rows, &me);
        let here: Vec<&str> = members.here.iter().map(|n| &**n).collect();
        assert_eq!(here, ["eu-1", "eu-2"]);
        let regions: Vec<&str> = members.regions.iter().map(|r| &**r).collect();
        assert_eq!(regions, ["eu", "us"]);
    }
}
