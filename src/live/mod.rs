//! The one live state every reader shares: the config with its compiled
//! monitors, store ids and maintenance windows (swapped as one piece on
//! reload), and the latest result of each monitor. The pipeline writes it;
//! alerting, the web and metrics read it; a monitor's state and the
//! overall state are computed here and nowhere else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

mod peers;

pub use peers::{DEAD_AFTER, Peer, PeerKind, Peers};

use crate::config::schema::DEFAULT_REGION;
use crate::config::{LoadedConfig, NodeIdentity};
use crate::evaluate::Maintenance;
use crate::monitor::regions::{Combined, RegionLatest, combine};
use crate::monitor::{CheckResult, Monitor, MonitorState, Overall, overall};
use crate::store::series_key;

/// What a reload replaces, all at once, so that no reader sees the new
/// config with the old ids or windows.
#[derive(Debug)]
pub struct Setup {
    /// The config as loaded.
    pub config: Arc<LoadedConfig>,
    /// Every monitor compiled, with its store id, by name.
    pub monitors: HashMap<String, Arc<Monitor>>,
    /// The maintenance windows.
    pub maintenance: Maintenance,
    /// This node: its name and the region it checks from.
    pub identity: NodeIdentity,
    /// Store ids of the monitors' series in other regions (agents'), by
    /// [`series_key`]; a monitor's own id is its series in this node's region.
    pub series: HashMap<String, i64>,
}

impl Setup {
    /// A setup of `config` alone, for tools and tests that keep nothing:
    /// every monitor compiled with store id 0, this node `local` in the
    /// default region. `None` when a monitor or window does not compile.
    pub fn without_store(config: Arc<LoadedConfig>) -> Option<Setup> {
        let monitors = config
            .compile()
            .ok()?
            .into_iter()
            .map(|m| (m.name.clone(), Arc::new(m)))
            .collect();
        let maintenance =
            Maintenance::new(&config.config.maintenance, &config.config.monitors).ok()?;
        Some(Setup {
            config,
            monitors,
            maintenance,
            identity: NodeIdentity {
                name: Arc::from("local"),
                region: Arc::from(DEFAULT_REGION),
            },
            series: HashMap::new(),
        })
    }

    /// The store id of a monitor (its series in this node's region).
    pub fn id(&self, name: &str) -> Option<i64> {
        self.monitors.get(name).map(|m| m.id)
    }

    /// The store id of a monitor's series in `region`.
    pub fn series_id(&self, name: &str, region: &str) -> Option<i64> {
        if region == &*self.identity.region {
            return self.id(name);
        }
        self.series.get(&series_key(name, region)).copied()
    }

    /// Every series: (monitor, region, store id), this node's region's and
    /// the others'.
    pub fn all_series(&self) -> impl Iterator<Item = (&str, Arc<str>, i64)> + '_ {
        let here = self
            .monitors
            .values()
            .map(|m| (m.name.as_str(), self.identity.region.clone(), m.id));
        let elsewhere = self.series.iter().filter_map(|(key, id)| {
            // '@' is never in a monitor's name: the key is name@region.
            let (name, region) = match key.split_once('@') {
                Some((name, region)) => (name, Arc::from(region)),
                None => (key.as_str(), Arc::from(DEFAULT_REGION)),
            };
            self.monitors
                .contains_key(name)
                .then_some((name, region, *id))
        });
        here.chain(elsewhere)
    }
}

/// The latest result of each region that checked a monitor.
type Regional = Vec<(Arc<str>, Arc<CheckResult>)>;

/// Shared by the pipeline, alerting and the web; cheap to clone.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    setup: RwLock<Arc<Setup>>,
    latest: RwLock<HashMap<String, Regional>>,
    /// Bumped whenever a monitor's state changes; see [`Live::generation`].
    generation: AtomicU64,
    /// Bumped whenever a person changes what pages say; see [`Live::edits`].
    edits: AtomicU64,
    /// The nodes and agents heard from.
    peers: Peers,
}

impl Live {
    /// The live state of a freshly loaded config, with no results yet.
    pub fn new(setup: Setup) -> Self {
        Self {
            inner: Arc::new(Inner {
                setup: RwLock::new(Arc::new(setup)),
                latest: RwLock::new(HashMap::new()),
                generation: AtomicU64::new(0),
                edits: AtomicU64::new(0),
                peers: Peers::default(),
            }),
        }
    }

    /// The current config, monitors, ids and windows.
    pub fn setup(&self) -> Arc<Setup> {
        self.inner
            .setup
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Swaps in a reloaded setup; the results of monitors it no longer has
    /// are forgotten.
    pub fn replace(&self, setup: Setup) {
        {
            let mut latest = self
                .inner
                .latest
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            latest.retain(|name, _| setup.monitors.contains_key(name));
        }
        *self
            .inner
            .setup
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(setup);
        self.inner.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// The nodes and agents heard from, and the regions alive.
    pub fn peers(&self) -> &Peers {
        &self.inner.peers
    }

    /// The latest result of a monitor: with one region, that region's;
    /// with several, what they say together (see [`Live::regional`]).
    pub fn latest(&self, name: &str) -> Option<Arc<CheckResult>> {
        self.regional(name).map(|combined| combined.headline)
    }

    /// The latest result of a monitor in one region.
    pub fn latest_in(&self, name: &str, region: &str) -> Option<Arc<CheckResult>> {
        let latest = self
            .inner
            .latest
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let regions = latest.get(name)?;
        regions
            .iter()
            .find(|(r, _)| &**r == region)
            .map(|(_, result)| result.clone())
    }

    /// Each region's latest result of a monitor, and whether a checker of
    /// that region is alive now; sorted by region.
    pub fn regions(&self, name: &str) -> Vec<RegionLatest> {
        let setup = self.setup();
        let latest = self
            .inner
            .latest
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let seen = latest.get(name).map_or(&[][..], Vec::as_slice);
        // One region (a single node without agents) needs no liveness: its
        // result is the monitor's. Only several ask the peers.
        let alive = match seen {
            [_, _, ..] => self.inner.peers.live_regions(SystemTime::now()),
            _ => Default::default(),
        };
        let mut regions: Vec<RegionLatest> = seen
            .iter()
            .map(|(region, result)| RegionLatest {
                alive: seen.len() == 1
                    || *region == setup.identity.region
                    || alive.contains(region),
                region: region.clone(),
                result: result.clone(),
            })
            .collect();
        regions.sort_by(|a, b| a.region.cmp(&b.region));
        regions
    }

    /// What a monitor's regions say together: its state, the result to
    /// show, the failing and passing regions.
    pub fn regional(&self, name: &str) -> Option<Combined> {
        let regions = self.regions(name);
        let setup = self.setup();
        let monitor = setup.monitors.get(name);
        let host = monitor.map_or(name, |m| m.host.as_str());
        combine(&regions, monitor.and_then(|m| m.quorum), host)
    }

    /// Keeps `result` as the monitor's latest in its region (this node's
    /// when the result names none).
    pub fn record(&self, name: &str, result: Arc<CheckResult>) {
        let region = match &result.region {
            Some(region) => region.clone(),
            None => self.setup().identity.region.clone(),
        };
        let state = MonitorState::of(&result);
        let mut latest = self
            .inner
            .latest
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Every check passes here: replace in place, allocate a key once.
        let regions = match latest.get_mut(name) {
            Some(regions) => regions,
            // Room for one region, the usual count, not the four a first
            // push would make.
            None => latest
                .entry(name.to_owned())
                .or_insert_with(|| Vec::with_capacity(1)),
        };
        let previous = match regions.iter_mut().find(|(r, _)| *r == region) {
            // An agent's buffered backlog arrives after newer results may
            // have: an older result is stored, but never becomes the latest.
            Some((_, slot)) if slot.at > result.at => return,
            Some((_, slot)) => Some(std::mem::replace(slot, result)),
            None => {
                regions.push((region, result));
                None
            }
        };
        // A state that changed in one region may change the monitor's.
        if previous.as_deref().map(MonitorState::of) != Some(state) {
            self.inner.generation.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether a monitor is in a maintenance window at `now`.
    pub fn in_maintenance(&self, name: &str, now: SystemTime) -> bool {
        self.setup().maintenance.active(name, now)
    }

    /// The contract's state of a monitor now: `maintenance` inside a
    /// window, else its last result's, `unknown` without one.
    pub fn state(&self, name: &str) -> MonitorState {
        self.state_at(&self.setup(), name, SystemTime::now())
    }

    /// [`Live::state`] against a setup already in hand.
    pub fn state_at(&self, setup: &Setup, name: &str, now: SystemTime) -> MonitorState {
        if setup.maintenance.active(name, now) {
            return MonitorState::Maintenance;
        }
        self.regional(name)
            .map_or(MonitorState::Unknown, |combined| combined.state)
    }

    /// The overall state of the monitors named.
    pub fn overall<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Overall {
        let setup = self.setup();
        let now = SystemTime::now();
        overall(
            names
                .into_iter()
                .map(|name| self.state_at(&setup, name, now)),
        )
    }

    /// A number that changes whenever some monitor's state changes, a
    /// monitor goes away or the config is reloaded. The web's snapshots
    /// compare it to rebuild early; one relaxed atomic per changed state
    /// keeps it off the cost of a check.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Relaxed)
    }

    /// Notes that a person changed what pages say (a status report or its
    /// update was posted): the snapshots of every page are stale at once.
    pub fn edited(&self) {
        self.inner.edits.fetch_add(1, Ordering::Release);
        self.inner.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// A number that changes at every [`Live::edited`]. Unlike
    /// [`Live::generation`], which the snapshots may lag by a fraction of a
    /// second under a storm of state changes, a snapshot older than the
    /// latest edit is never served: whoever posted a report reloads the
    /// page to see it.
    pub fn edits(&self) -> u64 {
        self.inner.edits.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Format, parse};
    use crate::monitor::Cause;

    fn setup(names: &[&str], maintenance_for: Option<&str>) -> Setup {
        let mut text = String::from("monitors:\n");
        for name in names {
            text.push_str(&format!(
                "  - {{ name: {name}, url: 'http://127.0.0.1:9/' }}\n"
            ));
        }
        if let Some(name) = maintenance_for {
            text.push_str(&format!(
                "maintenance:\n  - {{ monitors: [{name}], start: '2020-01-01T00:00:00Z', duration: 87600h }}\n"
            ));
        }
        let config = Arc::new(parse(&text, Format::Yaml, "test.yaml").expect("valid"));
        let monitors = config
            .compile()
            .expect("compiles")
            .into_iter()
            .map(|m| (m.name.clone(), Arc::new(m)))
            .collect();
        let maintenance =
            Maintenance::new(&config.config.maintenance, &config.config.monitors).expect("windows");
        Setup {
            config,
            monitors,
            maintenance,
            identity: NodeIdentity {
                name: Arc::from("test"),
                region: Arc::from("default"),
            },
            series: HashMap::new(),
        }
    }

    fn result(cause: Cause) -> Arc<CheckResult> {
        Arc::new(CheckResult::new(SystemTime::now(), cause))
    }

    #[test]
    fn states_come_from_results_and_windows() {
        let live = Live::new(setup(&["a", "b", "c"], Some("c")));
        assert_eq!(live.state("a"), MonitorState::Unknown, "no result yet");
        live.record("a", result(Cause::Ok));
        live.record("b", result(Cause::Http502));
        live.record("c", result(Cause::Http502));
        assert_eq!(live.state("a"), MonitorState::Up);
        assert_eq!(live.state("b"), MonitorState::Down);
        assert_eq!(live.state("c"), MonitorState::Maintenance);
        assert_eq!(live.overall(["a", "b", "c"]), Overall::Outage);
        assert_eq!(live.overall(["a", "c"]), Overall::Maintenance);
    }

    #[test]
    fn an_older_result_never_replaces_a_newer_latest() {
        let live = Live::new(setup(&["a"], None));
        let now = SystemTime::now();
        live.record("a", Arc::new(CheckResult::new(now, Cause::Ok)));
        let old = now - std::time::Duration::from_secs(3_600);
        live.record("a", Arc::new(CheckResult::new(old, Cause::ConnectRefused)));
        assert_eq!(
            live.state("a"),
            MonitorState::Up,
            "the backlog's failure is history"
        );
    }

    #[test]
    fn the_generation_moves_only_when_a_state_changes() {
        let live = Live::new(setup(&["a"], None));
        let start = live.generation();
        live.record("a", result(Cause::Ok));
        let up = live.generation();
        assert_ne!(up, start);
        live.record("a", result(Cause::Ok));
        assert_eq!(live.generation(), up, "same state, same generation");
        live.record("a", result(Cause::Timeout));
        assert_ne!(live.generation(), up);
    }

    #[test]
    fn an_edit_moves_both_numbers_and_a_result_only_the_generation() {
        let live = Live::new(setup(&["a"], None));
        let (generation, edits) = (live.generation(), live.edits());
        live.edited();
        assert_ne!(live.generation(), generation);
        assert_ne!(live.edits(), edits);
        let edits = live.edits();
        live.record("a", result(Cause::Timeout));
        assert_eq!(live.edits(), edits, "a check is no edit");
    }

    #[test]
    fn a_reload_swaps_everything_at_once_and_forgets_removed_monitors() {
        let live = Live::new(setup(&["a", "b"], None));
        live.record("a", result(Cause::Ok));
        live.record("b", result(Cause::Ok));
        let before = live.generation();
        live.replace(setup(&["a", "z"], None));
        assert!(live.latest("a").is_some(), "a kept its result");
        assert!(live.latest("b").is_none(), "b went away with its result");
        assert_eq!(
            live.setup().id("z"),
            Some(0),
            "the new monitors come with the config"
        );
        assert_eq!(live.setup().id("b"), None);
        assert_ne!(live.generation(), before, "pages rebuild after a reload");
    }
}
