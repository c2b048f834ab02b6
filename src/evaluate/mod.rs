//! The pure decision layer: from results and the time, which alerts start
//! or stop firing, which monitors are in maintenance, and which hop is at fault.

pub mod chain;
pub mod incidents;
pub mod maintenance;
mod rules;
pub mod verdict;

use std::collections::HashMap;
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

/// One alert applied to one monitor.
#[derive(Debug, Clone)]
struct Pair {
    alert: String,
    monitor: String,
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
        let Some(indices) = self.by_monitor.get(monitor) else {
            return Vec::new();
        };
        let mut transitions = Vec::new();
        for &index in indices {
            let pair = &mut self.pairs[index];
            pair.meter.expire(now);
            // A result that says nothing to this condition (unknown, or no
            // certificate) is not an evaluation: it neither starts nor clears.
            if pair.meter.record(&pair.spec, sample) {
                transitions.extend(pair.after_result(now));
            }
        }
        transitions
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
        let mut old: HashMap<(String, String), Pair> = std::mem::take(&mut self.pairs)
            .into_iter()
            .map(|p| ((p.alert.clone(), p.monitor.clone()), p))
            .collect();
        *self = Evaluator::new(alerts, monitors);
        for pair in &mut self.pairs {
            let key = (pair.alert.clone(), pair.monitor.clone());
            match old.remove(&key) {
                Some(before) if before.spec == pair.spec => {
                    pair.meter = before.meter;
                    pair.firing = before.firing;
                    pair.since = before.since;
                    pair.clear_streak = before.clear_streak;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
