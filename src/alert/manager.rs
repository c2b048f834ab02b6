//! Turns check results into incidents and queued messages: feeds the pure
//! evaluator, honours maintenance, folds an edge into its upstream's
//! incident, repeats unacknowledged incidents, and survives restarts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::clock::unix_ms;
use crate::config::{AlertConfig, LoadedConfig, MonitorConfig};
use crate::evaluate::{
    Evaluator, Maintenance, Sample, Transition, TransitionKind, folds_into_upstream,
};
use crate::incident::{
    AlertEvent, AlertEvidence, EventKind, Incident, IncidentState, MonitorRef, Severity,
};
use crate::metrics::Metrics;
use crate::monitor::CheckResult;
use crate::monitor::MonitorKind;
use crate::store::incidents::NewDelivery;
use crate::store::{Store, StoreError};

/// How often time-based rules, `for` and repeats are looked at.
const TICK: Duration = Duration::from_secs(2);
/// How far back results are replayed into the evaluator at start.
const REPLAY: Duration = Duration::from_secs(15 * 60);

/// What the manager is told.
#[derive(Debug)]
pub enum ManagerMessage {
    /// A stored check result (its chain verdict already applied).
    Check {
        /// The monitor.
        monitor: String,
        /// The result.
        result: Arc<CheckResult>,
    },
    /// The config was reloaded.
    Reconfigure(Arc<LoadedConfig>),
}

/// The alert manager task's state.
pub struct Manager {
    store: Store,
    config: Arc<LoadedConfig>,
    evaluator: Evaluator,
    maintenance: Maintenance,
    /// (alert, monitor) -> open incident.
    open: HashMap<(String, String), Incident>,
    /// The first failing result of each monitor's current failure streak:
    /// its evidence goes into the incident.
    first_failure: HashMap<String, Arc<CheckResult>>,
    latest: HashMap<String, Arc<CheckResult>>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    sequence: u32,
}

impl Manager {
    /// Restores open incidents and warms the evaluator's windows with the
    /// last results in the store, so a restart neither reopens nor forgets.
    pub async fn start(
        store: Store,
        config: Arc<LoadedConfig>,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Result<Self, StoreError> {
        let c = &config.config;
        let maintenance = Maintenance::new(&c.maintenance, &c.monitors).unwrap_or_else(|err| {
            tracing::error!(error = %err, "maintenance windows ignored");
            Maintenance::new(&[], &c.monitors).expect("no windows is always valid")
        });
        let mut manager = Self {
            evaluator: Evaluator::new(&c.alerts, &c.monitors),
            maintenance,
            open: HashMap::new(),
            first_failure: HashMap::new(),
            latest: HashMap::new(),
            store,
            config,
            metrics,
            wake,
            sequence: 0,
        };
        for incident in manager
            .store
            .incidents(Some(IncidentState::Open), 10_000)
            .await?
        {
            manager
                .evaluator
                .restore_firing(&incident.alert, &incident.monitor);
            manager
                .open
                .insert((incident.alert.clone(), incident.monitor.clone()), incident);
        }
        manager.replay().await?;
        manager.update_gauge();
        Ok(manager)
    }

    async fn replay(&mut self) -> Result<(), StoreError> {
        let now = SystemTime::now();
        let since = unix_ms(now - REPLAY);
        let alerted: HashSet<String> = self.evaluator_monitors();
        let names: Vec<&str> = alerted.iter().map(String::as_str).collect();
        let ids = self.store.monitor_ids(&names).await?;
        let mut transitions = Vec::new();
        for (name, id) in ids {
            let mut rows = self.store.checks(id, since, 1_000).await?;
            rows.reverse();
            for row in rows {
                let result = Arc::new(row.into_result(&name));
                self.track(&name, &result);
                transitions.extend(self.evaluator.observe(
                    &name,
                    &Sample::from(&*result),
                    result.at,
                ));
            }
        }
        // Only the net effect counts: an alert that fired and resolved
        // while hopwatch was down was already told (or is history now).
        let firing: HashSet<(String, String)> = self.evaluator.firing().into_iter().collect();
        for transition in transitions.iter().rev() {
            let key = (transition.alert.clone(), transition.monitor.clone());
            let fire = transition.kind == TransitionKind::Fire;
            if fire && firing.contains(&key) && !self.open.contains_key(&key) {
                self.fire(transition).await?;
            } else if !fire && !firing.contains(&key) && self.open.contains_key(&key) {
                self.resolve(transition).await?;
            }
        }
        Ok(())
    }

    fn evaluator_monitors(&self) -> HashSet<String> {
        let c = &self.config.config;
        c.alerts
            .iter()
            .flat_map(|a| crate::evaluate::select_monitors(&a.monitors, &c.monitors))
            .collect()
    }

    /// Runs until `stop`.
    pub async fn run(mut self, mut inbox: mpsc::Receiver<ManagerMessage>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(TICK);
        loop {
            let outcome = tokio::select! {
                _ = stop.cancelled() => return,
                message = inbox.recv() => match message {
                    None => return,
                    Some(ManagerMessage::Check { monitor, result }) => self.on_check(&monitor, result).await,
                    Some(ManagerMessage::Reconfigure(config)) => {
                        self.reconfigure(config);
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

    fn reconfigure(&mut self, config: Arc<LoadedConfig>) {
        let c = &config.config;
        self.evaluator.reconfigure(&c.alerts, &c.monitors);
        match Maintenance::new(&c.maintenance, &c.monitors) {
            Ok(maintenance) => self.maintenance = maintenance,
            Err(err) => tracing::error!(error = %err, "maintenance windows unchanged"),
        }
        self.config = config;
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
        // Every check passes here: replace in place, allocate a key once.
        match self.latest.get_mut(monitor) {
            Some(slot) => *slot = result.clone(),
            None => {
                self.latest.insert(monitor.to_owned(), result.clone());
            }
        }
    }

    async fn on_check(
        &mut self,
        monitor: &str,
        result: Arc<CheckResult>,
    ) -> Result<(), StoreError> {
        self.track(monitor, &result);
        let now = SystemTime::now();
        // During maintenance nothing is evaluated: no incident opens, and
        // the windows hold only what was seen outside the window.
        if self.maintenance.active(monitor, now) {
            return Ok(());
        }
        let transitions = self
            .evaluator
            .observe(monitor, &Sample::from(&*result), now);
        self.apply(transitions).await
    }

    async fn on_tick(&mut self, now: SystemTime) -> Result<(), StoreError> {
        let transitions = self.evaluator.tick(now);
        self.apply(transitions).await?;
        self.repeat(now).await
    }

    async fn apply(&mut self, transitions: Vec<Transition>) -> Result<(), StoreError> {
        for transition in transitions {
            match transition.kind {
                TransitionKind::Fire => self.fire(&transition).await?,
                TransitionKind::Resolve => self.resolve(&transition).await?,
            }
        }
        Ok(())
    }

    fn alert(&self, name: &str) -> Option<&AlertConfig> {
        self.config.config.alerts.iter().find(|a| a.name == name)
    }

    fn monitor(&self, name: &str) -> Option<&MonitorConfig> {
        self.config.config.monitors.iter().find(|m| m.name == name)
    }

    fn next_id(&mut self, at: SystemTime) -> String {
        self.sequence = self.sequence.wrapping_add(1);
        format!("{:x}-{:x}", unix_ms(at), self.sequence)
    }

    /// Where an edge's incident folds when its failure is explained by its
    /// upstream failing: the upstream's open incident (or the one that one
    /// is folded into), or, when the upstream's alert has not fired yet, a
    /// `monitor:NAME` marker linked to its incident once it opens. Only
    /// upstreams that some alert covers can absorb an edge's page.
    fn fold_target(&self, monitor: &MonitorConfig) -> Option<String> {
        let upstream = monitor.upstream.as_deref()?;
        let edge = self.latest.get(&monitor.name)?;
        let origin = self.latest.get(upstream)?;
        if !folds_into_upstream(edge, origin) || !self.evaluator_monitors().contains(upstream) {
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

    /// Links incidents waiting for `monitor`'s incident to `id`.
    async fn link_waiting(&mut self, monitor: &str, id: &str) -> Result<(), StoreError> {
        let marker = format!("monitor:{monitor}");
        for incident in self.open.values_mut() {
            if incident.folded_into.as_deref() == Some(marker.as_str()) {
                incident.folded_into = Some(id.to_owned());
                self.store.fold_incident(&incident.id, id).await?;
            }
        }
        Ok(())
    }

    async fn fire(&mut self, transition: &Transition) -> Result<(), StoreError> {
        let key = (transition.alert.clone(), transition.monitor.clone());
        if self.open.contains_key(&key) {
            return Ok(());
        }
        let Some(alert) = self.alert(&transition.alert).cloned() else {
            return Ok(());
        };
        let monitor = self.monitor(&transition.monitor).cloned();
        let evidence_source = self
            .first_failure
            .get(&transition.monitor)
            .or_else(|| self.latest.get(&transition.monitor))
            .cloned();
        let started_at = transition.at;
        let id = self.next_id(started_at);
        let folded_into = monitor.as_ref().and_then(|m| self.fold_target(m));
        let latest = self.latest.get(&transition.monitor).cloned();
        let mut incident = Incident {
            id,
            alert: alert.name.clone(),
            monitor: transition.monitor.clone(),
            severity: alert.severity,
            state: IncidentState::Open,
            cause: evidence_source
                .as_ref()
                .map_or(crate::monitor::Cause::Unknown, |r| r.cause),
            // The newest verdict: by the time an alert fires, the chain
            // verdict has seen both hops fail (or not).
            verdict: latest
                .as_ref()
                .or(evidence_source.as_ref())
                .map(|r| r.verdict.clone())
                .unwrap_or(crate::monitor::Verdict {
                    hop: crate::monitor::Hop::Unknown,
                    summary: String::new(),
                }),
            responder: evidence_source.as_ref().and_then(|r| r.responder.clone()),
            evidence: evidence_source.as_deref().map(alert_evidence),
            value: Some(transition.value),
            threshold: Some(transition.threshold),
            started_at,
            resolved_at: None,
            acknowledged: false,
            folded_into,
            annotations: Vec::new(),
            notified_at: None,
        };
        incident.annotations = self
            .store
            .annotations_before(&incident.monitor, started_at)
            .await?;
        let deliveries = if incident.folded_into.is_some() {
            tracing::info!(alert = %incident.alert, monitor = %incident.monitor, into = ?incident.folded_into, "incident folded into its upstream's; no page");
            Vec::new()
        } else {
            self.deliveries(&incident, &alert, monitor.as_ref(), EventKind::Firing, 0)
        };
        self.store.open_incident(&incident, &deliveries).await?;
        let root = incident
            .folded_into
            .clone()
            .unwrap_or_else(|| incident.id.clone());
        self.link_waiting(&incident.monitor, &root).await?;
        tracing::warn!(alert = %incident.alert, monitor = %incident.monitor, hop = incident.verdict.hop.as_str(), "incident opened: {}", crate::escape::log_field(&incident.verdict.summary));
        self.open.insert(key, incident);
        self.after_change(!deliveries.is_empty());
        Ok(())
    }

    async fn resolve(&mut self, transition: &Transition) -> Result<(), StoreError> {
        let key = (transition.alert.clone(), transition.monitor.clone());
        let Some(mut incident) = self.open.get(&key).cloned() else {
            return Ok(());
        };
        incident.state = IncidentState::Resolved;
        incident.resolved_at = Some(transition.at);
        let alert = self.alert(&incident.alert).cloned();
        let send = alert
            .as_ref()
            .is_some_and(|a| a.send_resolved.unwrap_or(true))
            && incident.folded_into.is_none();
        let deliveries = match (&alert, send) {
            (Some(alert), true) => {
                let monitor = self.monitor(&incident.monitor).cloned();
                self.deliveries(&incident, alert, monitor.as_ref(), EventKind::Resolved, 0)
            }
            _ => Vec::new(),
        };
        self.store
            .resolve_incident(&incident.id, transition.at, &deliveries)
            .await?;
        tracing::info!(alert = %incident.alert, monitor = %incident.monitor, "incident resolved");
        self.open.remove(&key);
        self.after_change(!deliveries.is_empty());
        Ok(())
    }

    /// Re-notifies open, unacknowledged, unfolded incidents every `repeat`.
    async fn repeat(&mut self, now: SystemTime) -> Result<(), StoreError> {
        let due: Vec<(String, String)> = self
            .open
            .iter()
            .filter(|(_, incident)| incident.folded_into.is_none() && !incident.acknowledged)
            .filter_map(|(key, incident)| {
                let every = self.alert(&incident.alert)?.repeat?;
                let last = incident.notified_at.unwrap_or(incident.started_at);
                (now.duration_since(last).unwrap_or_default() >= every).then(|| key.clone())
            })
            .collect();
        for key in due {
            let Some(incident) = self.open.get(&key).cloned() else {
                continue;
            };
            let stored = self.store.incident(&incident.id).await?;
            // Acknowledgements arrive through the API, so the store knows.
            if stored.as_ref().is_some_and(|i| i.acknowledged) {
                if let Some(open) = self.open.get_mut(&key) {
                    open.acknowledged = true;
                }
                continue;
            }
            let Some(alert) = self.alert(&incident.alert).cloned() else {
                continue;
            };
            let monitor = self.monitor(&incident.monitor).cloned();
            let round = (now
                .duration_since(incident.started_at)
                .unwrap_or_default()
                .as_secs()
                / alert.repeat.map_or(1, |r| r.as_secs().max(1))) as u32;
            let deliveries = self.deliveries(
                &incident,
                &alert,
                monitor.as_ref(),
                EventKind::Firing,
                round,
            );
            self.store
                .repeat_incident(&incident.id, &deliveries)
                .await?;
            if let Some(open) = self.open.get_mut(&key) {
                open.notified_at = Some(now);
            }
            self.after_change(true);
        }
        Ok(())
    }

    fn deliveries(
        &self,
        incident: &Incident,
        alert: &AlertConfig,
        monitor: Option<&MonitorConfig>,
        kind: EventKind,
        round: u32,
    ) -> Vec<NewDelivery> {
        let event = self.event(incident, alert, monitor, kind);
        alert
            .notify
            .iter()
            .map(|notifier| NewDelivery {
                id: format!("{}.{}.{}.{round}", incident.id, notifier, kind.as_str()),
                notifier: notifier.clone(),
                events: vec![event.clone()],
            })
            .collect()
    }

    fn event(
        &self,
        incident: &Incident,
        alert: &AlertConfig,
        monitor: Option<&MonitorConfig>,
        kind: EventKind,
    ) -> AlertEvent {
        let server = &self.config.config.server;
        AlertEvent {
            kind,
            incident_id: incident.id.clone(),
            alert: alert.name.clone(),
            severity: incident.severity,
            monitor: MonitorRef {
                name: incident.monitor.clone(),
                group: monitor.and_then(|m| m.group.clone()),
                url: monitor.and_then(target_of),
            },
            cause: incident.cause,
            responder: incident.responder.clone(),
            verdict: incident.verdict.clone(),
            value: incident.value,
            threshold: incident.threshold,
            started_at: incident.started_at,
            resolved_at: incident.resolved_at,
            evidence: incident.evidence.clone(),
            annotations: incident.annotations.clone(),
            runbook: monitor.and_then(|m| m.runbook.clone()),
            url: server
                .public_url
                .as_deref()
                .map(|base| format!("{}/incidents/{}", base.trim_end_matches('/'), incident.id)),
        }
    }

    fn after_change(&self, queued: bool) {
        self.update_gauge();
        if queued {
            self.wake.notify_one();
        }
    }

    fn update_gauge(&self) {
        for severity in [Severity::Critical, Severity::Warning, Severity::Info] {
            let open = self
                .open
                .values()
                .filter(|i| i.severity == severity)
                .count();
            self.metrics
                .incidents_open
                .with_label_values(&[severity.as_str()])
                .set(open as i64);
        }
    }
}

/// What the monitor checks, secrets masked, for the message.
fn target_of(monitor: &MonitorConfig) -> Option<String> {
    match monitor.kind {
        MonitorKind::Http => monitor.url.as_deref().map(crate::mask::url),
        MonitorKind::Tcp | MonitorKind::Tls => monitor.target.clone(),
        MonitorKind::Dns => monitor.query.clone(),
        MonitorKind::Push => None,
    }
}

fn alert_evidence(result: &CheckResult) -> AlertEvidence {
    let evidence = result.evidence.clone().unwrap_or_default();
    AlertEvidence {
        status: result.status,
        headers: evidence.headers,
        body_excerpt: evidence.body_excerpt,
        request_id: evidence.request_id,
        headers_dropped: evidence.headers_dropped,
        withheld: false,
    }
}
