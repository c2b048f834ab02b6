//! The pure decision layer: from results and the time, which alerts start
//! or stop firing, which monitors are in maintenance, and which hop is at fault.

pub mod chain;
pub mod incidents;
pub mod maintenance;
pub mod notices;
mod rules;
pub mod verdict;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::schema::{AlertConfig, MonitorConfig};
use crate::monitor::{Cause, CheckResult};
use rules::{Meter, Reading, Spec};

pub use crate::config::select_monitors;
pub use chain::{chain_verdict, folds_into_upstream};
pub use maintenance::{Maintenance, MaintenanceError};
pub use rules::WINDOW_CAP;

/// What the rules need from one check result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When the check started.
    pub at: SystemTime,
    /// Its cause; `unknown` counts as neither failure nor success.
    pub cause: Cause,
    /// Its whole duration.
    pub latency_ms: f64,
    /// Certificate validity left, when the check saw a certificate.
    pub cert_days_left: Option<f64>,
}

impl From<&CheckResult> for Sample {
    fn from(result: &CheckResult) -> Self {
        Sample {
            at: result.at,
            cause: result.cause,
            latency_ms: result.latency_ms,
            cert_days_left: result.tls.as_ref().map(|cert| cert.days_left),
        }
    }
}

/// Whether an alert starts or stops firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionKind {
    /// The condition held (for `for`): open an incident.
    Fire,
    /// The condition stopped holding: resolve it.
    Resolve,
}

/// One alert starting or stopping for one monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The alert's name.
    pub alert: String,
    /// The monitor's name.
    pub monitor: String,
    /// The region whose results decided it (`None` before any region
    /// reported, as in tests that feed results without one).
    pub region: Option<Arc<str>>,
    /// Fire or resolve.
    pub kind: TransitionKind,
    /// The measured value: a share 0..1 for rates, milliseconds for
    /// latency, failures in a row, or certificate days left.
    pub value: f64,
    /// The configured threshold, in the same unit.
    pub threshold: f64,
    /// The evaluation time that decided it.
    pub at: SystemTime,
}

/// How many evaluations in a row must find a firing condition false before
/// it resolves. Two, so that one good result amid failures (a flapping
/// target) does not resolve an incident only to open a new one next check.
/// For `consecutive_failures` "false" means a success: a failure short of
/// N in a row is the outage going on, and restarts the count.
const CLEAR_AFTER: u8 = 2;

/// One alert applied to one monitor as seen from one region. The config
/// makes one per (alert, monitor) with no region; the first region to
/// report claims it, and each further region gets a fresh copy.
#[derive(Debug, Clone)]
struct Pair {
    alert: String,
    monitor: String,
    region: Option<Arc<str>>,
    spec: Spec,
    hold: Duration,
    meter: Meter,
    firing: bool,
    /// When the condition became true, while it holds but has not fired.
    since: Option<SystemTime>,
    /// False evaluations in a row while firing.
    clear_streak: u8,
}

impl Pair {
    fn transition(&self, kind: TransitionKind, reading: Reading, at: SystemTime) -> Transition {
        Transition {
            alert: self.alert.clone(),
            monitor: self.monitor.clone(),
            region: self.region.clone(),
            kind,
            value: reading.value(),
            threshold: self.spec.threshold(),
            at,
        }
    }

    /// One result was taken in: decide on it.
    fn after_result(&mut self, now: SystemTime) -> Option<Transition> {
        let reading = self.meter.read(&self.spec);
        match reading {
            Reading::Holds(_) => {
                self.clear_streak = 0;
                if self.firing {
                    return None;
                }
                self.since.get_or_insert(now);
                self.fire_when_held(reading, now)
            }
            Reading::Clear(_) => {
                self.since = None;
                if !self.firing {
                    return None;
                }
                self.clear_streak += 1;
                if self.clear_streak < CLEAR_AFTER {
                    return None;
                }
                self.firing = false;
                self.clear_streak = 0;
                Some(self.transition(TransitionKind::Resolve, reading, now))
            }
            // A failure, but too few in a row: for a firing streak this
            // is the outage going on, so it restarts the count of clears.
            Reading::Rising(_) => {
                self.since = None;
                self.clear_streak = 0;
                None
            }
            // Too few results to judge: a pending condition did not hold
            // throughout, and a firing one has not been shown to be over
            // (after a restart its window starts empty).
            Reading::Unjudged(_) => {
                self.since = None;
                None
            }
        }
    }

    /// Time passed: a pending `for` may complete, or its window may have
    /// thinned out. Only results resolve, so a monitor that stops
    /// reporting does not look healthy.
    fn after_time(&mut self, now: SystemTime) -> Option<Transition> {
        self.meter.expire(now);
        if self.firing || self.since.is_none() {
            return None;
        }
        match self.meter.read(&self.spec) {
            reading @ Reading::Holds(_) => self.fire_when_held(reading, now),
            Reading::Clear(_) | Reading::Rising(_) | Reading::Unjudged(_) => {
                self.since = None;
                None
            }
        }
    }

    fn fire_when_held(&mut self, reading: Reading, now: SystemTime) -> Option<Transition> {
        let since = self.since?;
        let held = now.duration_since(since).unwrap_or_default();
        if held < self.hold {
            return None;
        }
        self.firing = true;
        self.since = None;
        Some(self.transition(TransitionKind::Fire, reading, now))
    }
}

/// Whether the pair at `index` judges results from `region`, claiming
/// an unclaimed pair for it when no other pair of that alert has.
fn claim(pairs: &mut [Pair], index: usize, region: Option<&Arc<str>>, indices: &[usize]) -> bool {
    let pair = &pairs[index];
    match (&pair.region, region) {
        (Some(own), Some(region)) => own == region,
        (None, None) => true,
        (Some(_), None) => false,
        (None, Some(region)) => {
            let alert = &pair.alert;
            let taken = indices
                .iter()
                .any(|&i| pairs[i].alert == *alert && pairs[i].region.as_ref() == Some(region));
            if taken {
                return false;
            }
            pairs[index].region = Some(region.clone());
            true
        }
    }
}

/// Every alert applied to every monitor it selects, with the state of each
/// pair. Pure: results and times come in, transitions go out; no I/O.
#[derive(Debug, Clone, Default)]
pub struct Evaluator {
    pairs: Vec<Pair>,
    /// Monitor name -> indices into `pairs`.
    by_monitor: HashMap<String, Vec<usize>>,
}

impl Evaluator {
    /// Expands each alert's `monitors` selectors (names, "group:NAME", "*")
    /// against the monitors.
    pub fn new(alerts: &[AlertConfig], monitors: &[MonitorConfig]) -> Evaluator {
        let mut evaluator = Evaluator::default();
        for alert in alerts {
            let spec = Spec::from_config(&alert.when);
            for monitor in select_monitors(&alert.monitors, monitors) {
                let index = evaluator.pairs.len();
                evaluator
                    .by_monitor
                    .entry(monitor.clone())
                    .or_default()
                    .push(index);
                evaluator.pairs.push(Pair {
                    alert: alert.name.clone(),
                    monitor,
                    region: None,
                    meter: Meter::new(&spec),
                    spec: spec.clone(),
                    hold: alert.hold.unwrap_or_default(),
                    firing: false,
                    since: None,
                    clear_streak: 0,
                });
            }
        }
        evaluator
    }

    /// Feeds one result of `monitor`; returns the alerts that start firing
    /// or resolve because of it.
    pub fn observe(&mut self, monitor: &str, sample: &Sample, now: SystemTime) -> Vec<Transition> {
        self.observe_in(monitor, None, sample, now)
    }

    /// [`Evaluator::observe`] for a result from `region`: each region's
    /// results are judged on their own, and the caller combines them.
    pub fn observe_in(
        &mut self,
        monitor: &str,
        region: Option<&Arc<str>>,
        sample: &Sample,
        now: SystemTime,
    ) -> Vec<Transition> {
        let Some(indices) = self.by_monitor.get(monitor) else {
            return Vec::new();
        };
        let mut transitions = Vec::new();
        let mut judged = 0;
        let mut alerts = 0;
        let pairs = &mut self.pairs;
        for (n, &index) in indices.iter().enumerate() {
            let alert = &pairs[index].alert;
            if !indices[..n].iter().any(|&i| pairs[i].alert == *alert) {
                alerts += 1;
            }
            if !claim(pairs, index, region, indices) {
                continue;
            }
            judged += 1;
            let pair = &mut pairs[index];
            pair.meter.expire(now);
            // A result that says nothing to this condition (unknown, or no
            // certificate) is not an evaluation: it neither starts nor clears.
            if pair.meter.record(&pair.spec, sample) {
                transitions.extend(pair.after_result(now));
            }
        }
        if judged < alerts
            && let Some(region) = region
        {
            // A region seen for the first time: its own copy of each alert.
            self.add_region(monitor, region);
            return self.observe_in(monitor, Some(region), sample, now);
        }
        transitions
    }

    /// Fresh pairs of every alert of `monitor` for `region`.
    fn add_region(&mut self, monitor: &str, region: &Arc<str>) {
        let Some(indices) = self.by_monitor.get(monitor).cloned() else {
            return;
        };
        let mut added = Vec::new();
        for index in indices.iter().copied() {
            let template = &self.pairs[index];
            let covered = indices.iter().any(|&i| {
                self.pairs[i].alert == template.alert
                    && self.pairs[i].region.as_ref() == Some(region)
            }) || added.iter().any(|p: &Pair| p.alert == template.alert);
            if covered {
                continue;
            }
            added.push(Pair {
                region: Some(region.clone()),
                meter: Meter::new(&template.spec),
                firing: false,
                since: None,
                clear_streak: 0,
                ..template.clone()
            });
        }
        for pair in added {
            let index = self.pairs.len();
            self.pairs.push(pair);
            self.by_monitor
                .entry(monitor.to_owned())
                .or_default()
                .push(index);
        }
    }

    /// Time passing without results: `for` durations completing, windows
    /// emptying. Called every few seconds.
    pub fn tick(&mut self, now: SystemTime) -> Vec<Transition> {
        let pairs = self.pairs.iter_mut();
        pairs.filter_map(|pair| pair.after_time(now)).collect()
    }

    /// At restart: this (alert, monitor) pair has an open incident, so it
    /// starts out firing (no second Fire). An unknown pair is ignored.
    pub fn restore_firing(&mut self, alert: &str, monitor: &str) {
        let pair = self
            .pairs
            .iter_mut()
            .find(|p| p.alert == alert && p.monitor == monitor);
        if let Some(pair) = pair {
            pair.firing = true;
            pair.since = None;
            pair.clear_streak = 0;
        }
    }

    /// Pairs currently firing, as (alert, monitor), in config order.
    pub fn firing(&self) -> Vec<(String, String)> {
        let firing = self.pairs.iter().filter(|p| p.firing);
        firing
            .map(|p| (p.alert.clone(), p.monitor.clone()))
            .collect()
    }

    /// A config reload: keeps the state of pairs that still exist with the
    /// same condition (a changed `for` applies from now on); others start
    /// afresh. A removed pair that was firing just disappears: the caller
    /// compares [`Evaluator::firing`] before and after to close its incident.
    pub fn reconfigure(&mut self, alerts: &[AlertConfig], monitors: &[MonitorConfig]) {
        let old = std::mem::take(&mut self.pairs);
        *self = Evaluator::new(alerts, monitors);
        for before in old {
            let Some(indices) = self.by_monitor.get(&before.monitor) else {
                continue;
            };
            let template = indices
                .iter()
                .copied()
                .find(|&i| self.pairs[i].alert == before.alert && self.pairs[i].region.is_none());
            let same = indices
                .iter()
                .copied()
                .find(|&i| self.pairs[i].alert == before.alert)
                .is_some_and(|i| self.pairs[i].spec == before.spec);
            if !same {
                continue;
            }
            let index = match template {
                Some(index) => index,
                None => {
                    // Another region already took the config's pair.
                    let index = self.pairs.len();
                    self.pairs.push(before.clone());
                    self.by_monitor
                        .entry(before.monitor.clone())
                        .or_default()
                        .push(index);
                    index
                }
            };
            let pair = &mut self.pairs[index];
            pair.region = before.region;
            pair.meter = before.meter;
            pair.firing = before.firing;
            pair.since = before.since;
            pair.clear_streak = before.clear_streak;
        }
    }
}

#[cfg(test)]
mod tests;
