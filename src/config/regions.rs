//! The keys of a cluster and its agents: `node`, `agents`, a monitor's
//! `regions` and `quorum`, an alert's `quorum`. Each mistake is reported at
//! its key path, as the rest of validation does.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::schema::{DEFAULT_REGION, NodeConfig};
use super::sections::Draft;
use super::select_monitors as select;
use super::{Problem, join_index, join_key};

/// Region and node names: the same alphabet as monitor names.
fn valid_name(name: &str) -> bool {
    let allowed = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-');
    !name.is_empty() && name.len() <= 64 && name.bytes().all(allowed)
}

fn name_problem(at: String, what: &str, name: &str) -> Problem {
    Problem::new(
        at,
        format!("invalid {what} {name:?} (use a-z, 0-9, '.', '_', '-'; at most 64)"),
    )
}

pub(crate) fn check(draft: &Draft, problems: &mut Vec<Problem>) {
    if let Some(node) = &draft.node {
        if let Some(name) = &node.name
            && !valid_name(name)
        {
            problems.push(name_problem("node.name".to_owned(), "node name", name));
        }
        if let Some(region) = &node.region
            && !valid_name(region)
        {
            problems.push(name_problem("node.region".to_owned(), "region", region));
        }
    }
    let mut agent_names = BTreeSet::new();
    for (index, agent) in &draft.agents {
        let base = join_index("agents", *index);
        if !valid_name(&agent.name) {
            problems.push(name_problem(
                join_key(&base, "name"),
                "agent name",
                &agent.name,
            ));
        } else if !agent_names.insert(agent.name.as_str()) {
            let message = format!("duplicate agent name {:?}", agent.name);
            problems.push(Problem::new(join_key(&base, "name"), message));
        }
        if !valid_name(&agent.region) {
            problems.push(name_problem(
                join_key(&base, "region"),
                "region",
                &agent.region,
            ));
        }
        if agent.token.expose().len() < 16 {
            let message = "too short: use at least 16 random characters";
            problems.push(Problem::new(join_key(&base, "token"), message));
        }
    }
    for entry in &draft.monitors {
        let monitor = &entry.config;
        if let Some(regions) = &monitor.regions {
            if regions.is_empty() {
                let message = "an empty list checks from nowhere; leave it out for every region";
                problems.push(Problem::new(entry.place("regions"), message));
            }
            for (n, region) in regions.iter().enumerate() {
                let at = join_index(&entry.place("regions"), n);
                if !valid_name(region) {
                    problems.push(name_problem(at, "region", region));
                } else if regions[..n].contains(region) {
                    problems.push(Problem::new(at, format!("{region:?} is listed twice")));
                }
            }
        }
        if let Some(quorum) = monitor.quorum {
            quorum_fits(
                entry.place("quorum"),
                quorum,
                monitor.regions.as_deref(),
                problems,
            );
        }
    }
    for (index, alert) in &draft.alerts {
        let Some(quorum) = alert.quorum else { continue };
        let at = join_key(&join_index("alerts", *index), "quorum");
        let monitors: Vec<_> = draft.monitors.iter().map(|m| m.config.clone()).collect();
        let selected = select(&alert.monitors, &monitors);
        let listed = draft
            .monitors
            .iter()
            .filter(|m| selected.contains(&m.config.name))
            .filter_map(|m| {
                m.config
                    .regions
                    .as_ref()
                    .map(|r| (m.config.name.as_str(), r.len()))
            })
            .find(|(_, regions)| quorum as usize > *regions);
        if quorum == 0 {
            problems.push(Problem::new(at, "must be at least 1"));
        } else if let Some((monitor, regions)) = listed {
            let message = format!(
                "{quorum} regions can never agree: monitor {monitor:?} is checked from {regions}"
            );
            problems.push(Problem::new(at, message));
        }
    }
}

fn quorum_fits(at: String, quorum: u32, regions: Option<&[String]>, problems: &mut Vec<Problem>) {
    if quorum == 0 {
        problems.push(Problem::new(at, "must be at least 1"));
    } else if let Some(regions) = regions
        && quorum as usize > regions.len()
    {
        let message = format!(
            "{quorum} is more than the {} regions listed in regions",
            regions.len()
        );
        problems.push(Problem::new(at, message));
    }
}

/// Who this process is in a cluster: `node:` with the environment's
/// `HOPWATCH_NODE_NAME` / `HOPWATCH_NODE_REGION` over it, so that every node
/// runs one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// Unique among live nodes and agents.
    pub name: Arc<str>,
    /// Where it checks from.
    pub region: Arc<str>,
}

impl NodeConfig {
    /// This node's identity; `env` reads a variable (the process
    /// environment, or a test's map). An invalid override is an error
    /// naming the variable.
    pub fn identity(&self, env: impl Fn(&str) -> Option<String>) -> Result<NodeIdentity, String> {
        let pick = |var: &str, configured: &Option<String>, fallback: String| {
            let (value, source) = match env(var).filter(|v| !v.is_empty()) {
                Some(value) => (value, var.to_owned()),
                None => (configured.clone().unwrap_or(fallback), "node".to_owned()),
            };
            if valid_name(&value) {
                Ok(Arc::<str>::from(value))
            } else {
                Err(format!(
                    "{source}: invalid name {value:?} (use a-z, 0-9, '.', '_', '-')"
                ))
            }
        };
        Ok(NodeIdentity {
            name: pick("HOPWATCH_NODE_NAME", &self.name, host_name())?,
            region: pick(
                "HOPWATCH_NODE_REGION",
                &self.region,
                DEFAULT_REGION.to_owned(),
            )?,
        })
    }
}

/// The host name, lowercased into the name alphabet; `node` when unknown.
fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name: String = raw
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "node".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_the_file_and_bad_names_are_named() {
        let node = NodeConfig {
            name: Some("eu-1".to_owned()),
            region: None,
        };
        let none = |_: &str| None;
        let id = node.identity(none).expect("valid");
        assert_eq!((&*id.name, &*id.region), ("eu-1", "default"));
        let env = |var: &str| (var == "HOPWATCH_NODE_REGION").then(|| "us-east".to_owned());
        assert_eq!(&*node.identity(env).expect("valid").region, "us-east");
        let bad = |var: &str| (var == "HOPWATCH_NODE_NAME").then(|| "Bad Name".to_owned());
        let error = node.identity(bad).expect_err("invalid");
        assert!(error.starts_with("HOPWATCH_NODE_NAME"), "{error}");
        assert!(valid_name(&host_name()));
    }
}
