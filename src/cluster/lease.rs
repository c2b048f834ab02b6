//! Who leads: a lease row in the database, taken and renewed every 2 s for
//! 10 s of the database's clock. The holder counts its lease as ending 3 s
//! before the database does, from the moment it asked, so a node cut off
//! from the database stops leading before another may start: never two
//! leaders. The lease's token fences the leader's writes on top of that.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::NodeIdentity;
use crate::store::Store;
use crate::store::cluster::Fence;

/// How long a lease lasts in the database from its last renewal.
pub const LEASE: Duration = Duration::from_secs(10);
/// How often the lease is taken or renewed.
pub const RENEW: Duration = Duration::from_secs(2);
/// How much sooner than the database the holder gives the lease up: room
/// for clocks that run at slightly different rates and for stopping.
const MARGIN: Duration = Duration::from_secs(3);

/// Tries for the lease until `stop`, and says who leads in `term`: this
/// node's fence while it holds the lease, `None` otherwise.
pub async fn run(
    store: Store,
    me: NodeIdentity,
    incarnation: i64,
    term: watch::Sender<Option<Fence>>,
    stop: CancellationToken,
) {
    // While leading: when this node's lease ends by its own reckoning.
    let mut valid_until: Option<Instant> = None;
    loop {
        let asked = Instant::now();
        let mut deadline = asked + RENEW;
        if let Some(until) = valid_until {
            deadline = deadline.min(until);
        }
        let attempt = tokio::select! {
            _ = stop.cancelled() => break,
            attempt = tokio::time::timeout_at(deadline, store.acquire_lease(&me.name, incarnation, LEASE)) => attempt,
        };
        match attempt {
            Ok(Ok(Some(token))) => {
                valid_until = Some(asked + LEASE - MARGIN);
                term.send_if_modified(|current| {
                    let fence = Fence {
                        name: me.name.to_string(),
                        incarnation,
                        token,
                    };
                    let changed = current.as_ref() != Some(&fence);
                    if changed {
                        tracing::info!(token, "this node leads the cluster now");
                        *current = Some(fence);
                    }
                    changed
                });
            }
            Ok(Ok(None)) => {
                if valid_until.take().is_some() {
                    tracing::warn!("another node holds the lease; this node stops leading");
                }
                term.send_replace(None);
            }
            Ok(Err(err)) => tracing::warn!(error = %err, "cannot renew the leader's lease"),
            Err(_) => tracing::warn!("renewing the leader's lease timed out"),
        }
        if valid_until.is_some_and(|until| Instant::now() >= until) {
            tracing::error!(
                "the leader's lease could not be renewed in time; this node stops leading"
            );
            valid_until = None;
            term.send_replace(None);
        }
        let mut next = asked + RENEW;
        if let Some(until) = valid_until {
            next = next.min(until);
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(next) => {}
        }
    }
    term.send_replace(None);
}
