//! The async side of incidents: feeds results and ticks to the pure
//! [`IncidentMachine`], persists each effect it returns (with the messages
//! it queues, in one transaction), and wakes the dispatcher. The decisions
//! (rules, maintenance, folding, repeats, replay) are the machine's.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::messages;
use crate::clock::unix_ms;
use crate::evaluate::incidents::{Effect, IncidentMachine, World};
use crate::incident::{EventKind, Incident, IncidentState, Severity};
use crate::live::{Live, Setup};
use crate::metrics::Metrics;
use crate::monitor::CheckResult;
use crate::store::incidents::Messages;
use crate::store::{Store, StoreError};

/// A result that reaches the manager this long after its check ended is
/// a backlog: what an agent or a node cut off from the database buffered
/// and sends once it is back. It is shown and stored, but not judged:
/// alerts are about now, and an outage that ended while the results were
/// stuck must not page when they arrive. Fresh results take well under a
/// second (the cluster's tail reads every second).
pub const BACKLOG_AFTER: Duration = Duration::from_secs(10);

/// Whether `result`, arriving at `now`, is a backlog (see [`BACKLOG_AFTER`]).
pub fn is_backlog(result: &CheckResult, now: SystemTime) -> bool {
    let ended = result.at + Duration::from_secs_f64(result.latency_ms.max(0.0) / 1000.0);
    now.duration_since(ended).unwrap_or_default() > BACKLOG_AFTER
}

/// How often time-based rules, `for` and repeats are looked at.
const TICK: Duration = Duration::from_secs(2);
/// How far back results are replayed into the evaluator at start.
const REPLAY: Duration = Duration::from_secs(15 * 60);
/// Most results replayed per series.
const REPLAY_ROWS: u32 = 1_000;

/// What the manager is told.
#[derive(Debug)]
pub enum ManagerMessage {
    /// A stored check result (its verdict already adjusted).
    Check {
        /// The monitor.
        monitor: String,
        /// The result.
        result: Arc<CheckResult>,
    },
    /// The live state holds a reloaded config.
    Reconfigure,
}

/// A region (`None`: this node's, as single-node results carry none) and
/// the time of its newest result judged.
type JudgedAt = (Option<Arc<str>>, SystemTime);

/// The alert manager task's state.
pub struct Manager {
    store: Store,
    live: Live,
    machine: IncidentMachine,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    /// Each (monitor, region)'s newest result judged: in a cluster a result
    /// may arrive twice (replayed from the store, then read from it), and
    /// is judged once.
    judged: HashMap<String, Vec<JudgedAt>>,
    /// Maintenance announcements this process has queued: each is due for
    /// minutes, and is queued once. Across restarts and leaders the outbox
    /// keeps it to one (its id); this only spares the store a write a tick.
    announced: HashSet<String>,
}

impl Manager {
    /// Restores open incidents and warms the rules' windows with the last
    /// results in the store, so a restart neither reopens nor forgets.
    pub async fn start(
        store: Store,
        live: Live,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Result<Self, StoreError> {
        let setup = live.setup();
        let open = store.incidents(Some(IncidentState::Open), 10_000).await?;
        let mut manager = Self {
            machine: IncidentMachine::new(&setup.config.config, open),
            store,
            live,
            metrics,
            wake,
            judged: HashMap::new(),
            announced: HashSet::new(),
        };
        manager.replay(&setup).await?;
        manager.update_gauge();
        Ok(manager)
    }

    async fn replay(&mut self, setup: &Setup) -> Result<(), StoreError> {
        let since = unix_ms(SystemTime::now() - REPLAY);
        let alerted = IncidentMachine::alerted(&setup.config.config);
        // Every region's series of each alerted monitor.
        let series: HashMap<i64, (&str, Arc<str>)> = setup
            .all_series()
            .filter(|(name, _, _)| alerted.contains(*name))
            .map(|(name, region, id)| (id, (name, region)))
            .collect();
        let rows = if self.store.is_shared() {
            // A cluster's leader takes over with one read, not one per
            // series: 20,000 round trips would outlast the takeover.
            let cursors: Vec<(i64, i64)> = series.keys().map(|id| (*id, since - 1)).collect();
            self.store.checks_after(&cursors, REPLAY_ROWS).await?
        } else {
            let mut rows = Vec::new();
            for id in series.keys() {
                rows.extend(self.store.checks(*id, since, REPLAY_ROWS).await?);
            }
            rows
        };
        let mut results = Vec::with_capacity(rows.len());
        for row in rows {
            let Some((name, region)) = series.get(&row.monitor_id) else {
                continue;
            };
            let mut result = row.into_result(name);
            result.region = Some(region.clone());
            results.push(((*name).to_owned(), Arc::new(result)));
        }
        results.sort_by_key(|(_, result)| result.at);
        for (name, result) in &results {
            self.newer(name, result);
        }
        // What the stored results say is each monitor's latest: the live
        // state has no results yet at start.
        let effects = {
            let replayed: HashMap<&str, &Arc<CheckResult>> = results
                .iter()
                .map(|(name, result)| (name.as_str(), result))
                .collect();
            let latest = |name: &str| replayed.get(name).map(|r| (*r).clone());
            let in_maintenance = |name: &str, at| setup.maintenance.active(name, at);
            let live = &self.live;
            let regions = |name: &str| live.regions(name);
            let world = World {
                config: &setup.config.config,
                latest: &latest,
                in_maintenance: &in_maintenance,
                regions: &regions,
            };
            self.machine.replay(&results, &world)
        };
        self.persist(effects, setup).await
    }

    /// Runs until `stop`.
    pub async fn run(
        mut self,
        inbox: &mut mpsc::Receiver<ManagerMessage>,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(TICK);
        loop {
            let outcome = tokio::select! {
                _ = stop.cancelled() => return,
                message = inbox.recv() => match message {
                    None => return,
                    Some(ManagerMessage::Check { monitor, result }) => self.on_check(&monitor, result).await,
                    Some(ManagerMessage::Reconfigure) => {
                        self.machine.reconfigure(&self.live.setup().config.config);
                        Ok(())
                    }
                },
                _ = tick.tick() => self.on_tick(SystemTime::now()).await,
            };
            if let Err(err) = outcome {
                tracing::error!(error = %err, "cannot record an incident change; it will be retried with the next result");
            }
        }
    }

    async fn on_check(
        &mut self,
        monitor: &str,
        result: Arc<CheckResult>,
    ) -> Result<(), StoreError> {
        if is_backlog(&result, SystemTime::now()) {
            tracing::debug!(
                monitor,
                "a result from a backlog: shown and stored, not judged"
            );
            return Ok(());
        }
        if !self.newer(monitor, &result) {
            return Ok(());
        }
        let setup = self.live.setup();
        let effects = self.with_world(&setup, |machine, world| {
            machine.on_result(monitor, &result, SystemTime::now(), world)
        });
        self.persist(effects, &setup).await
    }

    /// Whether `result` is newer than the last judged of its monitor and
    /// region (and so to be judged); remembers it when it is.
    fn newer(&mut self, monitor: &str, result: &CheckResult) -> bool {
        let regions = match self.judged.get_mut(monitor) {
            Some(regions) => regions,
            None => self.judged.entry(monitor.to_owned()).or_default(),
        };
        match regions
            .iter_mut()
            .find(|(region, _)| *region == result.region)
        {
            Some((_, at)) if *at >= result.at => false,
            Some((_, at)) => {
                *at = result.at;
                true
            }
            None => {
                regions.push((result.region.clone(), result.at));
                true
            }
        }
    }

    async fn on_tick(&mut self, now: SystemTime) -> Result<(), StoreError> {
        let setup = self.live.setup();
        let effects = self.with_world(&setup, |machine, world| machine.on_tick(now, world));
        self.persist(effects, &setup).await?;
        self.announce(now, &setup).await
    }

    /// Queues the start and end messages of announced maintenance windows
    /// that are due (`Maintenance::announcements` says which, and how late
    /// is too late). Here rather than anywhere else because in a cluster
    /// only the leader runs this manager, so one node announces.
    async fn announce(&mut self, now: SystemTime, setup: &Setup) -> Result<(), StoreError> {
        for (occurrence, phase) in setup.maintenance.announcements(now) {
            let key = format!("{}.{}", occurrence.id, phase.as_str());
            if self.announced.contains(&key) {
                continue;
            }
            let deliveries = messages::announcements(&occurrence, phase, setup);
            self.store.queue_deliveries(&deliveries).await?;
            tracing::info!(window = %occurrence.id, phase = phase.as_str(), notifiers = deliveries.len(), "maintenance announced");
            self.announced.insert(key);
            self.wake.notify_one();
        }
        // Keys of windows long over are never due again.
        if self.announced.len() > 1_000 {
            self.announced.clear();
        }
        Ok(())
    }

    /// Runs `decide` on the machine with the live state as its world.
    fn with_world(
        &mut self,
        setup: &Setup,
        decide: impl FnOnce(&mut IncidentMachine, &World) -> Vec<Effect>,
    ) -> Vec<Effect> {
        let live = &self.live;
        let latest = |name: &str| live.latest(name);
        let in_maintenance = |name: &str, at| setup.maintenance.active(name, at);
        let regions = |name: &str| live.regions(name);
        let world = World {
            config: &setup.config.config,
            latest: &latest,
            in_maintenance: &in_maintenance,
            regions: &regions,
        };
        decide(&mut self.machine, &world)
    }

    /// Writes each effect and the messages it queues.
    async fn persist(&mut self, effects: Vec<Effect>, setup: &Setup) -> Result<(), StoreError> {
        for effect in effects {
            let queued = match effect {
                Effect::Open {
                    mut incident,
                    notify,
                } => {
                    incident.annotations = self
                        .store
                        .annotations_before(&incident.monitor, incident.started_at)
                        .await?;
                    let (deliveries, fanout) = if notify {
                        (
                            messages::deliveries(&incident, EventKind::Firing, 0, setup),
                            messages::subscriber_fanout(&incident, EventKind::Firing, setup),
                        )
                    } else {
                        tracing::info!(alert = %incident.alert, monitor = %incident.monitor, into = ?incident.folded_into, "incident folded into its upstream's; no page");
                        (Vec::new(), None)
                    };
                    let queued = Messages {
                        deliveries: &deliveries,
                        fanout: fanout.as_ref(),
                    };
                    self.store.open_incident(&incident, queued).await?;
                    tracing::warn!(alert = %incident.alert, monitor = %incident.monitor, hop = incident.verdict.hop.as_str(), "incident opened: {}", crate::escape::log_field(&incident.verdict.summary));
                    !queued.is_empty()
                }
                Effect::Unfold { incident } => {
                    let deliveries = messages::deliveries(&incident, EventKind::Firing, 0, setup);
                    let fanout = messages::subscriber_fanout(&incident, EventKind::Firing, setup);
                    let queued = Messages {
                        deliveries: &deliveries,
                        fanout: fanout.as_ref(),
                    };
                    self.store.unfold_incident(&incident, queued).await?;
                    tracing::warn!(alert = %incident.alert, monitor = %incident.monitor, hop = incident.verdict.hop.as_str(), "incident no longer explained by its upstream; paging: {}", crate::escape::log_field(&incident.verdict.summary));
                    !queued.is_empty()
                }
                Effect::Fold { id, into } => {
                    self.store.fold_incident(&id, &into).await?;
                    false
                }
                Effect::Repeat { incident, round } => self.repeat(&incident, round, setup).await?,
                Effect::Resolve { incident, notify } => {
                    let (deliveries, fanout) = if notify {
                        (
                            messages::deliveries(&incident, EventKind::Resolved, 0, setup),
                            messages::subscriber_fanout(&incident, EventKind::Resolved, setup),
                        )
                    } else {
                        (Vec::new(), None)
                    };
                    let at = incident.resolved_at.unwrap_or_else(SystemTime::now);
                    let queued = Messages {
                        deliveries: &deliveries,
                        fanout: fanout.as_ref(),
                    };
                    self.store
                        .resolve_incident(&incident.id, at, queued)
                        .await?;
                    tracing::info!(alert = %incident.alert, monitor = %incident.monitor, "incident resolved");
                    !queued.is_empty()
                }
            };
            self.update_gauge();
            if queued {
                self.wake.notify_one();
            }
        }
        Ok(())
    }

    /// Acknowledgements arrive through the API, so the store knows: an
    /// acknowledged incident is told to the machine instead of repeated.
    async fn repeat(
        &mut self,
        incident: &Incident,
        round: u32,
        setup: &Setup,
    ) -> Result<bool, StoreError> {
        let stored = self.store.incident(&incident.id).await?;
        if stored.as_ref().is_some_and(|i| i.acknowledged) {
            self.machine.acknowledge(&incident.id);
            return Ok(false);
        }
        let deliveries = messages::deliveries(incident, EventKind::Firing, round, setup);
        self.store
            .repeat_incident(&incident.id, &deliveries)
            .await?;
        Ok(!deliveries.is_empty())
    }

    fn update_gauge(&self) {
        for severity in [Severity::Critical, Severity::Warning, Severity::Info] {
            let open = self
                .machine
                .open()
                .filter(|i| i.severity == severity)
                .count();
            self.metrics
                .incidents_open
                .with_label_values(&[severity.as_str()])
                .set(open as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Cause;

    #[test]
    fn a_result_is_a_backlog_once_it_ended_over_ten_seconds_ago() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut result = CheckResult::new(t0, Cause::Ok);
        result.latency_ms = 2_000.0;
        // It ended at t0 + 2 s.
        assert!(!is_backlog(&result, t0 + Duration::from_secs(2)));
        assert!(!is_backlog(&result, t0 + Duration::from_secs(12)));
        assert!(is_backlog(&result, t0 + Duration::from_millis(12_001)));
        // A clock behind the result's (another host's) is no backlog.
        assert!(!is_backlog(&result, t0 - Duration::from_secs(60)));
    }
}
