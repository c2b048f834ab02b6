//! The one live state every reader shares: the config with its compiled
//! monitors, store ids and maintenance windows (swapped as one piece on
//! reload), and the latest result of each monitor. The pipeline writes it;
//! alerting, the web and metrics read it; a monitor's state and the
//! overall state are computed here and nowhere else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use crate::config::LoadedConfig;
use crate::evaluate::Maintenance;
use crate::monitor::{CheckResult, Monitor, MonitorState, Overall, overall};

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
}

impl Setup {
    /// The store id of a monitor.
    pub fn id(&self, name: &str) -> Option<i64> {
        self.monitors.get(name).map(|m| m.id)
    }
}

/// Shared by the pipeline, alerting and the web; cheap to clone.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    setup: RwLock<Arc<Setup>>,
    latest: RwLock<HashMap<String, Arc<CheckResult>>>,
    /// Bumped whenever a monitor's state changes; see [`Live::generation`].
    generation: AtomicU64,
}

impl Live {
    /// The live state of a freshly loaded config, with no results yet.
    pub fn new(setup: Setup) -> Self {
        Self {
            inner: Arc::new(Inner {
                setup: RwLock::new(Arc::new(setup)),
                latest: RwLock::new(HashMap::new()),
                generation: AtomicU64::new(0),
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

    /// The latest result of a monitor.
    pub fn latest(&self, name: &str) -> Option<Arc<CheckResult>> {
        self.inner
            .latest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Keeps `result` as the monitor's latest.
    pub fn record(&self, name: &str, result: Arc<CheckResult>) {
        let mut latest = self
            .inner
            .latest
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let state = MonitorState::of(&result);
        // Every check passes here: replace in place, allocate a key once.
        let previous = match latest.get_mut(name) {
            Some(slot) => Some(std::mem::replace(slot, result)),
            None => latest.insert(name.to_owned(), result),
        };
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
        self.latest(name)
            .as_deref()
            .map_or(MonitorState::Unknown, MonitorState::of)
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
}
