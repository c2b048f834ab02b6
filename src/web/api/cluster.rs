//! `GET /api/v1/cluster`: who checks from where: this node, the cluster's
//! other nodes (as the database says) and the agents that reported lately;
//! each entry says how many (monitor, region) pairs it checks.

use axum::Json;
use axum::extract::State;
use std::time::SystemTime;

use crate::clock::rfc3339_millis;
use crate::live::{PeerKind, Setup};
use crate::monitor::ProbeSpec;
use crate::web::AppState;

/// The monitors checked from `region` (push monitors are not checked).
fn monitors_in(setup: &Setup, region: &str) -> usize {
    setup
        .monitors
        .values()
        .filter(|m| !matches!(m.spec, ProbeSpec::Push))
        .filter(|m| {
            m.regions
                .as_ref()
                .is_none_or(|regions| regions.iter().any(|r| &**r == region))
        })
        .count()
}

pub(super) async fn cluster(State(state): State<AppState>) -> Json<serde_json::Value> {
    let setup = state.live.setup();
    let now = SystemTime::now();
    let identity = &setup.identity;
    let mut nodes = vec![serde_json::json!({
        "name": &*identity.name,
        "region": &*identity.region,
        "kind": "node",
        "alive": true,
        "leader": state.live.peers().leading(),
        "last_seen": rfc3339_millis(now),
        "monitors": state.live.peers().checking().map_or_else(|| monitors_in(&setup, &identity.region), |n| n as usize),
    })];
    for peer in state.live.peers().all() {
        if peer.name == identity.name {
            continue;
        }
        // A cluster node says what it checks; an agent checks its region's.
        let (leader, monitors) = match peer.cluster {
            Some((leader, monitors)) => (leader, monitors as usize),
            None => (false, monitors_in(&setup, &peer.region)),
        };
        nodes.push(serde_json::json!({
            "name": &*peer.name,
            "region": &*peer.region,
            "kind": match peer.kind { PeerKind::Node => "node", PeerKind::Agent => "agent" },
            "alive": peer.alive(now),
            "leader": leader,
            "last_seen": rfc3339_millis(peer.last_seen),
            "monitors": monitors,
        }));
    }
    Json(serde_json::json!({ "nodes": nodes }))
}
