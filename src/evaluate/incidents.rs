//! The incident life cycle as a pure state machine: results, ticks and
//! acknowledgements come in with the time; effects (open, fold, repeat,
//! resolve, each saying whether to notify) come out. It owns the rule
//! evaluator and the open incidents; `alert::manager` persists the effects
//! and wakes the dispatcher, and is the only part that does I/O.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use super::chain::folds_into_upstream;
use super::{Evaluator, Sample, Transition, TransitionKind, select_monitors};
use crate::clock::unix_ms;
use crate::config::{AlertConfig, Config};
use crate::incident::{AlertEvidence, Incident, IncidentState, Regions};
use crate::monitor::regions::{RegionLatest, quorum};
use crate::monitor::{Cause, CheckResult, Hop, MonitorState, Verdict};

/// What the machine may read of the world but does not own: the config,
/// the latest result of each monitor, and maintenance.
pub struct World<'a> {
    /// The config (alerts and monitors).
    pub config: &'a Config,
    /// The latest result of a monitor.
    pub latest: &'a dyn Fn(&str) -> Option<Arc<CheckResult>>,
    /// Whether a monitor is in a maintenance window at a time.
    pub in_maintenance: &'a dyn Fn(&str, SystemTime) -> bool,
    /// Each region's latest result of a monitor, and whether it is alive.
    pub regions: &'a dyn Fn(&str) -> Vec<RegionLatest>,
}

impl World<'_> {
    fn alert(&self, name: &str) -> Option<&AlertConfig> {
        self.config.alerts.iter().find(|a| a.name == name)
    }

    /// Failing regions needed for an alert on a monitor to page: the
    /// alert's quorum, else the monitor's, else a majority of its live
    /// regions.
    fn quorum(&self, alert: &str, monitor: &str) -> usize {
        let configured = self.alert(alert).and_then(|a| a.quorum).or_else(|| {
            let config = self.config.monitors.iter().find(|m| m.name == monitor);
            config.and_then(|m| m.quorum)
        });
        let live = (self.regions)(monitor).iter().filter(|r| r.alive).count();
        quorum(configured, live.max(1))
    }

    /// The regions that fail and pass a monitor now, with `firing` (the
    /// regions where the alert holds) counted as failing.
    fn regions_of(&self, monitor: &str, firing: &BTreeSet<Arc<str>>) -> Regions {
        let mut regions = Regions::default();
        for region in firing.iter().filter(|r| !r.is_empty()) {
            regions.failing.push(region.to_string());
        }
        for seen in (self.regions)(monitor).iter().filter(|r| r.alive) {
            let passes = matches!(
                MonitorState::of(&seen.result),
                MonitorState::Up | MonitorState::Degraded
            );
            if passes && !firing.contains(&seen.region) {
                regions.passing.push(seen.region.to_string());
            }
        }
        regions
    }
}

/// What to do about a change; the caller persists it.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Store a new incident; page when `notify` (not when folded).
    Open {
        /// The incident, without annotations (the store has them).
        incident: Incident,
        /// Send its firing messages.
        notify: bool,
    },
    /// An open incident no longer folds: its monitor fails on its own now
    /// (its upstream recovered, or its failure stopped passing through),
    /// so it pages as its own root cause.
    Unfold {
        /// The incident, `folded_into` cleared.
        incident: Incident,
    },
    /// An open incident now folds into `into`, the root cause's incident.
    Fold {
        /// The folded incident.
        id: String,
        /// The incident it folds into.
        into: String,
    },
    /// Notify again about an open, unacknowledged incident.
    Repeat {
        /// The incident.
        incident: Incident,
        /// How many repeat periods have passed since it opened.
        round: u32,
    },
    /// The condition stopped holding.
    Resolve {
        /// The incident, resolved.
        incident: Incident,
        /// Send its resolved messages.
        notify: bool,
    },
}

/// The alert rules' state and the open incidents.
#[derive(Debug, Default)]
pub struct IncidentMachine {
    evaluator: Evaluator,
    /// (alert, monitor) -> open incident.
    open: HashMap<(String, String), Incident>,
    /// The first failing result of each monitor's current failure streak:
    /// its evidence goes into the incident.
    first_failure: HashMap<String, Arc<CheckResult>>,
    /// (alert, monitor) -> the regions where the condition holds. An
    /// incident opens when they reach the quorum and resolves below it.
    firing_regions: HashMap<(String, String), BTreeSet<Arc<str>>>,
    sequence: u32,
}

impl IncidentMachine {
    /// A machine for `config` that knows the incidents still open (after a
    /// restart): their rules start out firing, so they do not open twice.
    pub fn new(config: &Config, open: Vec<Incident>) -> Self {
        let mut machine = Self {
            evaluator: Evaluator::new(&config.alerts, &config.monitors),
            ..Self::default()
        };
        for incident in open {
            machine
                .evaluator
                .restore_firing(&incident.alert, &incident.monitor);
            let key = (incident.alert.clone(), incident.monitor.clone());
            let failing = incident
                .regions
                .failing
                .iter()
                .map(|r| Arc::from(r.as_str()));
            machine
                .firing_regions
                .insert(key.clone(), failing.collect());
            machine.open.insert(key, incident);
        }
        machine
    }

    /// The open incidents.
    pub fn open(&self) -> impl Iterator<Item = &Incident> {
        self.open.values()
    }

    /// The monitors some alert covers.
    pub fn alerted(config: &Config) -> HashSet<String> {
        config
            .alerts
            .iter()
            .flat_map(|a| select_monitors(&a.monitors, &config.monitors))
            .collect()
    }

    /// A reloaded config: rules that still exist keep their state.
    pub fn reconfigure(&mut self, config: &Config) {
        self.evaluator.reconfigure(&config.alerts, &config.monitors);
    }

    /// One result of `monitor` at `now`. During maintenance nothing is
    /// evaluated: no incident opens, and the windows hold only what was seen
    /// outside the window.
    pub fn on_result(
        &mut self,
        monitor: &str,
        result: &Arc<CheckResult>,
        now: SystemTime,
        world: &World,
    ) -> Vec<Effect> {
        if (world.in_maintenance)(monitor, now) {
            // What failed inside the window is not evidence for an incident
            // after it: the next streak starts from its own first failure.
            self.first_failure.remove(monitor);
            return Vec::new();
        }
        self.track(monitor, result);
        let transitions = self.evaluator.observe_in(
            monitor,
            result.region.as_ref(),
            &Sample::from(&**result),
            now,
        );
        let mut effects = self.apply(&transitions, world);
        effects.extend(self.unfold(monitor, result, world));
        effects
    }

    /// A failing result of a monitor whose incident is folded into its
    /// upstream's: judged again against the upstream's latest result. A
    /// fold is a claim that the upstream explains the failure; once it does
    /// not (the upstream recovered while the gateway still fails, say), the
    /// incident pages on its own instead of waiting in silence.
    fn unfold(&mut self, monitor: &str, result: &CheckResult, world: &World) -> Option<Effect> {
        if !result.cause.is_failure() {
            return None;
        }
        // Most failures have no folded incident: look that up first, so the
        // config is searched only when there is one.
        let incident = self
            .open
            .values_mut()
            .find(|i| i.monitor == monitor && i.folded_into.is_some())?;
        let upstream = world
            .config
            .monitors
            .iter()
            .find(|m| m.name == monitor)
            .and_then(|m| m.upstream.as_deref());
        let explained = upstream
            .and_then(|name| (world.latest)(name))
            .is_some_and(|origin| folds_into_upstream(result, &origin));
        if explained {
            return None;
        }
        incident.folded_into = None;
        incident.verdict = result.verdict.clone();
        Some(Effect::Unfold {
            incident: incident.clone(),
        })
    }

    /// Time passing: `for` durations complete, windows empty, repeats come
    /// due. A repeat counts as sent when emitted.
    pub fn on_tick(&mut self, now: SystemTime, world: &World) -> Vec<Effect> {
        let transitions = self.evaluator.tick(now);
        let mut effects = self.apply(&transitions, world);
        for incident in self.open.values_mut() {
            if incident.folded_into.is_some() || incident.acknowledged {
                continue;
            }
            let Some(every) = world.alert(&incident.alert).and_then(|a| a.repeat) else {
                continue;
            };
            let last = incident.notified_at.unwrap_or(incident.started_at);
            if now.duration_since(last).unwrap_or_default() < every {
                continue;
            }
            let since = now.duration_since(incident.started_at).unwrap_or_default();
            let round = (since.as_secs() / every.as_secs().max(1)) as u32;
            incident.notified_at = Some(now);
            effects.push(Effect::Repeat {
                incident: incident.clone(),
                round,
            });
        }
        effects
    }

    /// Someone acknowledged the incident `id`: it repeats no more.
    pub fn acknowledge(&mut self, id: &str) {
        if let Some(incident) = self.open.values_mut().find(|i| i.id == id) {
            incident.acknowledged = true;
        }
    }

    /// At start: the results stored in the last minutes, oldest first, fed
    /// through the rules. Only the net effect counts: an alert that fired
    /// and resolved while hopwatch was down was already told (or is history
    /// now). `world.latest` should answer from the same results.
    pub fn replay(&mut self, results: &[(String, Arc<CheckResult>)], world: &World) -> Vec<Effect> {
        let mut transitions = Vec::new();
        for (monitor, result) in results {
            // As live: what happened inside a window is not evaluated.
            if (world.in_maintenance)(monitor, result.at) {
                self.first_failure.remove(monitor);
                continue;
            }
            self.track(monitor, result);
            let sample = Sample::from(&**result);
            let region = result.region.as_ref();
            transitions.extend(
                self.evaluator
                    .observe_in(monitor, region, &sample, result.at),
            );
        }
        // A restored incident outlives results older than it: the result
        // that opened it may not have been stored when its node died (the
        // incident and the result are written apart), and what the store
        // still has from before its start would resolve it only to open it
        // again. It resolves on a recovery seen after it opened.
        for incident in self.open.values() {
            let recovered = transitions.iter().any(|t| {
                t.kind == TransitionKind::Resolve
                    && t.alert == incident.alert
                    && t.monitor == incident.monitor
                    && t.at >= incident.started_at
            });
            if !recovered {
                self.evaluator
                    .restore_firing(&incident.alert, &incident.monitor);
            }
        }
        let firing: HashSet<(String, String)> = self.evaluator.firing().into_iter().collect();
        let mut net = Vec::new();
        for transition in transitions.iter().rev() {
            let key = (transition.alert.clone(), transition.monitor.clone());
            let fire = transition.kind == TransitionKind::Fire;
            let open = self.open.contains_key(&key);
            let counted = net.iter().any(|t: &Transition| {
                (t.alert.as_str(), t.monitor.as_str()) == (key.0.as_str(), key.1.as_str())
            });
            if !counted && fire == firing.contains(&key) && fire != open {
                net.push(transition.clone());
            }
        }
        net.reverse();
        self.apply(&net, world)
    }

    fn track(&mut self, monitor: &str, result: &Arc<CheckResult>) {
        if result.cause.is_failure() {
            if !self.first_failure.contains_key(monitor) {
                self.first_failure
                    .insert(monitor.to_owned(), result.clone());
            }
        } else if result.ok {
            self.first_failure.remove(monitor);
        }
    }

    /// Each region's transition counts toward the quorum: the incident
    /// opens when enough regions hold the condition, and resolves when
    /// fewer than the quorum still do.
    fn apply(&mut self, transitions: &[Transition], world: &World) -> Vec<Effect> {
        let mut effects = Vec::new();
        for transition in transitions {
            let key = (transition.alert.clone(), transition.monitor.clone());
            let region = transition.region.clone().unwrap_or_else(|| Arc::from(""));
            let firing = self.firing_regions.entry(key.clone()).or_default();
            match transition.kind {
                TransitionKind::Fire => firing.insert(region),
                TransitionKind::Resolve => firing.remove(&region),
            };
            let holding = firing.len();
            let needed = world.quorum(&transition.alert, &transition.monitor);
            let open = self.open.contains_key(&key);
            match transition.kind {
                TransitionKind::Fire if !open && holding >= needed => {
                    self.fire(transition, world, &mut effects)
                }
                TransitionKind::Resolve if open && holding < needed => {
                    self.resolve(transition, world, &mut effects)
                }
                _ => {}
            }
        }
        effects
    }

    fn fire(&mut self, transition: &Transition, world: &World, effects: &mut Vec<Effect>) {
        let key = (transition.alert.clone(), transition.monitor.clone());
        if self.open.contains_key(&key) {
            return;
        }
        let Some(alert) = world.alert(&transition.alert) else {
            return;
        };
        let latest = (world.latest)(&transition.monitor);
        let evidence_source = self
            .first_failure
            .get(&transition.monitor)
            .cloned()
            .or_else(|| latest.clone());
        let folded_into = self.fold_target(&transition.monitor, world);
        let incident = Incident {
            id: self.next_id(transition.at),
            alert: alert.name.clone(),
            monitor: transition.monitor.clone(),
            severity: alert.severity,
            state: IncidentState::Open,
            cause: evidence_source.as_ref().map_or(Cause::Unknown, |r| r.cause),
            // The newest verdict: by the time an alert fires, the chain
            // verdict has seen both hops fail (or not).
            verdict: latest
                .as_ref()
                .or(evidence_source.as_ref())
                .map(|r| r.verdict.clone())
                .unwrap_or(Verdict {
                    hop: Hop::Unknown,
                    summary: String::new(),
                }),
            responder: evidence_source.as_ref().and_then(|r| r.responder.clone()),
            evidence: evidence_source.as_deref().map(AlertEvidence::of),
            value: Some(transition.value),
            threshold: Some(transition.threshold),
            started_at: transition.at,
            resolved_at: None,
            acknowledged: false,
            folded_into,
            annotations: Vec::new(),
            notified_at: None,
            regions: world.regions_of(&transition.monitor, &self.firing_regions[&key]),
        };
        let root = incident
            .folded_into
            .clone()
            .unwrap_or_else(|| incident.id.clone());
        effects.push(Effect::Open {
            notify: incident.folded_into.is_none(),
            incident: incident.clone(),
        });
        // Edges that fired before this upstream did wait for its incident.
        let marker = format!("monitor:{}", incident.monitor);
        for waiting in self.open.values_mut() {
            if waiting.folded_into.as_deref() == Some(marker.as_str()) {
                waiting.folded_into = Some(root.clone());
                effects.push(Effect::Fold {
                    id: waiting.id.clone(),
                    into: root.clone(),
                });
            }
        }
        self.open.insert(key, incident);
    }

    /// Where an edge's incident folds when its failure is explained by its
    /// upstream failing: the upstream's open incident (or the one that one
    /// is folded into), or, when the upstream's alert has not fired yet, a
    /// `monitor:NAME` marker linked to its incident once it opens. Only
    /// upstreams that some alert covers can absorb an edge's page.
    fn fold_target(&self, monitor: &str, world: &World) -> Option<String> {
        let config = world.config.monitors.iter().find(|m| m.name == monitor)?;
        let upstream = config.upstream.as_deref()?;
        let edge = (world.latest)(monitor)?;
        let origin = (world.latest)(upstream)?;
        if !folds_into_upstream(&edge, &origin) || !Self::alerted(world.config).contains(upstream) {
            return None;
        }
        let open = self
            .open
            .iter()
            .find(|((_, m), _)| m == upstream)
            .map(|(_, incident)| {
                incident
                    .folded_into
                    .clone()
                    .unwrap_or_else(|| incident.id.clone())
            });
        Some(open.unwrap_or_else(|| format!("monitor:{upstream}")))
    }

    fn resolve(&mut self, transition: &Transition, world: &World, effects: &mut Vec<Effect>) {
        let key = (transition.alert.clone(), transition.monitor.clone());
        let Some(mut incident) = self.open.remove(&key) else {
            return;
        };
        incident.state = IncidentState::Resolved;
        incident.resolved_at = Some(transition.at);
        let notify = world
            .alert(&incident.alert)
            .is_some_and(|a| a.send_resolved.unwrap_or(true))
            && incident.folded_into.is_none();
        effects.push(Effect::Resolve { incident, notify });
    }

    fn next_id(&mut self, at: SystemTime) -> String {
        self.sequence = self.sequence.wrapping_add(1);
        format!("{:x}-{:x}", unix_ms(at), self.sequence)
    }
}

#[cfg(test)]
#[path = "incident_tests.rs"]
mod tests;
