//! Who checks from where: the nodes and agents seen lately, and so which
//! regions are alive. A region with no live checker counts neither for nor
//! against a monitor's quorum.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

/// A checker silent this long is dead (contract section 7).
pub const DEAD_AFTER: Duration = Duration::from_secs(10);

/// A node of the cluster, or an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    /// A `hopwatch run` process.
    Node,
    /// A `hopwatch agent` process.
    Agent,
}

/// One checker as last seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    /// Its unique name.
    pub name: Arc<str>,
    /// Where it checks from.
    pub region: Arc<str>,
    /// Node or agent.
    pub kind: PeerKind,
    /// When it was last heard from.
    pub last_seen: SystemTime,
    /// A cluster node's: whether it leads, and how many (monitor, region)
    /// pairs it checks, as its row says.
    pub cluster: Option<(bool, u32)>,
}

impl Peer {
    /// Heard from within [`DEAD_AFTER`] of `now`.
    pub fn alive(&self, now: SystemTime) -> bool {
        now.duration_since(self.last_seen).unwrap_or_default() < DEAD_AFTER
    }
}

/// The checkers this process knows of, by name.
#[derive(Debug)]
pub struct Peers {
    seen: RwLock<HashMap<Arc<str>, Peer>>,
    /// Whether this node leads (one node alone always does).
    leading: AtomicBool,
    /// How many monitors this node checks, once a cluster has split the
    /// work; `u32::MAX` while it has not.
    checking: AtomicU32,
}

impl Default for Peers {
    fn default() -> Self {
        Self {
            seen: RwLock::default(),
            leading: AtomicBool::new(true),
            checking: AtomicU32::new(u32::MAX),
        }
    }
}

impl Peers {
    /// `name` was heard from at `at`.
    pub fn seen(&self, name: &str, region: &str, kind: PeerKind, at: SystemTime) {
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        match seen.get_mut(name) {
            Some(peer) if &*peer.region == region && peer.kind == kind => {
                peer.last_seen = peer.last_seen.max(at);
            }
            _ => {
                let name: Arc<str> = Arc::from(name);
                let peer = Peer {
                    name: name.clone(),
                    region: Arc::from(region),
                    kind,
                    last_seen: at,
                    cluster: None,
                };
                seen.insert(name, peer);
            }
        }
    }

    /// A cluster node as its row in the database says.
    pub fn node(&self, name: &str, region: &str, at: SystemTime, leader: bool, monitors: u32) {
        self.seen(name, region, PeerKind::Node, at);
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(peer) = seen.get_mut(name) {
            // The row is the truth: a restarted node's time may go back.
            peer.last_seen = at;
            peer.cluster = Some((leader, monitors));
        }
    }

    /// This node leads now, or no longer.
    pub fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::Relaxed);
    }

    /// Whether this node leads.
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }

    /// This node checks `monitors` (monitor, region) pairs of its region.
    pub fn set_checking(&self, monitors: usize) {
        let monitors = u32::try_from(monitors).unwrap_or(u32::MAX - 1);
        self.checking.store(monitors, Ordering::Relaxed);
    }

    /// How many monitors this node checks, once a cluster split the work.
    pub fn checking(&self) -> Option<u32> {
        Some(self.checking.load(Ordering::Relaxed)).filter(|n| *n != u32::MAX)
    }

    /// Every checker, sorted by name.
    pub fn all(&self) -> Vec<Peer> {
        let seen = self.seen.read().unwrap_or_else(PoisonError::into_inner);
        let mut peers: Vec<Peer> = seen.values().cloned().collect();
        peers.sort_by(|a, b| a.name.cmp(&b.name));
        peers
    }

    /// The regions with a live checker at `now`.
    pub fn live_regions(&self, now: SystemTime) -> BTreeSet<Arc<str>> {
        let seen = self.seen.read().unwrap_or_else(PoisonError::into_inner);
        seen.values()
            .filter(|peer| peer.alive(now))
            .map(|peer| peer.region.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_alive_while_one_of_its_checkers_was_heard_from_lately() {
        let peers = Peers::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        peers.seen("eu-1", "eu", PeerKind::Node, t0);
        peers.seen(
            "us-agent",
            "us",
            PeerKind::Agent,
            t0 + Duration::from_secs(8),
        );
        let live = peers.live_regions(t0 + Duration::from_secs(9));
        assert_eq!(live.iter().map(|r| &**r).collect::<Vec<_>>(), ["eu", "us"]);
        let later = peers.live_regions(t0 + Duration::from_secs(12));
        assert_eq!(later.iter().map(|r| &**r).collect::<Vec<_>>(), ["us"]);
        // An older report never moves last_seen back.
        peers.seen("us-agent", "us", PeerKind::Agent, t0);
        assert_eq!(peers.all()[1].last_seen, t0 + Duration::from_secs(8));
    }
}
