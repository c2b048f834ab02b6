//! Which node of a region checks which monitor: rendezvous hashing. Every
//! node computes the same answer from the same live nodes, and when a node
//! joins or dies only the monitors it gains or held move.

use crate::stable_hash::fnv1a;

/// The node of `nodes` that checks `monitor`: the one whose hash with the
/// monitor's name is highest. `None` when there is no node.
pub fn owner<'a>(monitor: &str, nodes: &[&'a str]) -> Option<&'a str> {
    nodes
        .iter()
        .copied()
        .max_by_key(|node| (weight(node, monitor), *node))
}

/// A well-mixed 64-bit weight of (node, monitor). FNV-1a alone clusters
/// for names that differ in their last bytes; a finaliser spreads them.
fn weight(node: &str, monitor: &str) -> u64 {
    let bytes = node.bytes().chain([0]).chain(monitor.bytes());
    mix(fnv1a(bytes))
}

/// The 64-bit finaliser of MurmurHash3.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitors(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("monitor-{i}")).collect()
    }

    #[test]
    fn the_work_is_spread_evenly_over_the_nodes() {
        let nodes = ["eu-1", "eu-2", "eu-3"];
        let mut counts = [0usize; 3];
        for monitor in monitors(3_000) {
            let chosen = owner(&monitor, &nodes).unwrap();
            counts[nodes.iter().position(|n| *n == chosen).unwrap()] += 1;
        }
        for count in counts {
            assert!((850..=1_150).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn only_the_dead_nodes_monitors_move() {
        let before = ["eu-1", "eu-2", "eu-3"];
        let after = ["eu-1", "eu-3"];
        let mut moved = 0;
        for monitor in monitors(1_000) {
            let old = owner(&monitor, &before).unwrap();
            let new = owner(&monitor, &after).unwrap();
            if old != "eu-2" {
                assert_eq!(old, new, "{monitor} moved though its node lives");
            } else {
                moved += 1;
            }
        }
        assert!(moved > 200, "eu-2 held {moved} monitors");
    }

    #[test]
    fn the_order_of_the_nodes_does_not_matter_and_none_means_none() {
        for monitor in monitors(100) {
            assert_eq!(
                owner(&monitor, &["a", "b", "c"]),
                owner(&monitor, &["c", "a", "b"])
            );
        }
        assert_eq!(owner("m", &[]), None);
    }
}
