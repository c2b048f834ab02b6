//! Several nodes on one PostgreSQL database: membership by heartbeats,
//! the work of each region split among its live nodes, one leader at a
//! time by a lease, and the other nodes' results read back from the
//! database. One node on SQLite uses none of it.
//!
//! Data flows one way: each node checks its share and writes results to
//! the database; every node reads the others' results into its live state;
//! only the leader turns results into incidents and messages.

pub mod leader;
pub mod lease;
pub mod membership;
pub mod ownership;
pub mod tail;

use std::sync::Arc;

use crate::live::Setup;
use crate::monitor::Monitor;
use crate::store::StoreError;

/// Why a node cannot be part of the cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// Another live node has this node's name.
    #[error(
        "node {name:?}: a live node of that name (region {region}) is already in the cluster; \
         give this one another name (node.name or HOPWATCH_NODE_NAME)"
    )]
    NameTaken {
        /// The name.
        name: String,
        /// The live node's region.
        region: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The monitors this node checks: those of its region (every monitor
/// without `regions` is in every region), and of those, with `nodes` the
/// live nodes of its region, the ones rendezvous hashing gives it. With no
/// `nodes` (one node alone) it checks all of its region's.
pub fn assigned(setup: &Setup, nodes: &[Arc<str>]) -> Vec<Arc<Monitor>> {
    let identity = &setup.identity;
    let names: Vec<&str> = nodes.iter().map(|n| &**n).collect();
    setup
        .monitors
        .values()
        .filter(|m| {
            m.regions
                .as_ref()
                .is_none_or(|regions| regions.contains(&identity.region))
        })
        .filter(|m| names.is_empty() || ownership::owner(&m.name, &names) == Some(&*identity.name))
        .cloned()
        .collect()
}
