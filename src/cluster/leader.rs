//! What only the leader does: evaluate alerts, keep incidents and send the
//! outbox. Each term starts from the database (open incidents restored,
//! windows refilled from stored checks, pending deliveries sent) and ends
//! the moment the lease does; between terms the results meant for alerts
//! are dropped: the next leader reads them from the store.

use std::sync::Arc;

use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::alert::Notifier;
use crate::alert::manager::{Manager, ManagerMessage};
use crate::alert::outbox::Dispatcher;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::cluster::Fence;

/// What a leader's term is built from.
pub struct LeaderParts {
    /// The store (fenced anew for each term).
    pub store: Store,
    /// The live state.
    pub live: Live,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The notifiers the outbox sends through.
    pub notifiers: Vec<Arc<dyn Notifier>>,
}

/// Follows or leads, as `term` says, until `stop`. On `stop` a running
/// send is let finish (so a message the receiver took is marked sent).
pub async fn run(
    parts: LeaderParts,
    mut inbox: mpsc::Receiver<ManagerMessage>,
    mut term: watch::Receiver<Option<Fence>>,
    stop: CancellationToken,
) {
    loop {
        let fence = loop {
            if let Some(fence) = term.borrow_and_update().clone() {
                break fence;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                message = inbox.recv() => if message.is_none() { return },
                changed = term.changed() => if changed.is_err() { return },
            }
        };
        if !lead(&parts, &mut inbox, &mut term, fence, &stop).await {
            return;
        }
    }
}

/// One term; false when the node is stopping.
async fn lead(
    parts: &LeaderParts,
    inbox: &mut mpsc::Receiver<ManagerMessage>,
    term: &mut watch::Receiver<Option<Fence>>,
    fence: Fence,
    stop: &CancellationToken,
) -> bool {
    let store = parts.store.fenced(fence.clone());
    let wake = Arc::new(Notify::new());
    let manager = tokio::select! {
        _ = stop.cancelled() => return false,
        _ = ended(term, &fence) => return true,
        started = Manager::start(store.clone(), parts.live.clone(), parts.metrics.clone(), wake.clone()) => started,
    };
    let manager = match manager {
        Ok(manager) => manager,
        Err(err) => {
            tracing::error!(error = %err, "cannot take over the incidents; trying again");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            return true;
        }
    };
    set_leading(parts, true);
    let term_stop = CancellationToken::new();
    let dispatcher = Dispatcher::new(
        store,
        &parts.notifiers,
        parts.metrics.clone(),
        wake,
        parts.live.clone(),
    );
    let mut sending = tokio::spawn(dispatcher.run(term_stop.clone()));
    let stopping = tokio::select! {
        _ = manager.run(inbox, term_stop.clone()) => false,
        _ = ended(term, &fence) => false,
        _ = stop.cancelled() => true,
    };
    term_stop.cancel();
    if stopping {
        // The caller bounds the shutdown; a send in progress may finish.
        let _ = (&mut sending).await;
    } else {
        // The lease is gone or going: not one more send.
        sending.abort();
        tracing::warn!("this node no longer leads: alerts and notifications stopped here");
    }
    set_leading(parts, false);
    !stopping
}

/// Completes when `term` no longer holds `fence`.
async fn ended(term: &mut watch::Receiver<Option<Fence>>, fence: &Fence) {
    loop {
        if term.borrow_and_update().as_ref() != Some(fence) {
            return;
        }
        if term.changed().await.is_err() {
            return;
        }
    }
}

fn set_leading(parts: &LeaderParts, leading: bool) {
    parts.metrics.cluster_leader.set(i64::from(leading));
    parts.live.peers().set_leading(leading);
}
