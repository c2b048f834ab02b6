//! `GET /api/v1/cluster`: who checks from where. On one node that is this
//! node and the agents that reported lately; each entry says how many
//! (monitor, region) pairs it checks.

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
        "leader": true,
        "last_seen": rfc3339_millis(now),
        "monitors": monitors_in(&setup, &identity.region),
    })];
    for peer in state.live.peers().all() {
        if peer.name == identity.name {
            continue;
        }
        nodes.push(serde_json::json!({
            "name": &*peer.name,
            "region": &*peer.region,
            "kind": match peer.kind { PeerKind::Node => "node", PeerKind::Agent => "agent" },
            "alive": peer.alive(now),
            "leader": false,
            "last_seen": rfc3339_millis(peer.last_seen),
            "monitors": monitors_in(&setup, &peer.region),
        }));
    }
    Json(serde_json::json!({ "nodes": nodes }))
}
