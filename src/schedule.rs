//! When each monitor runs: one small task per monitor, first runs spread by
//! a stable hash of the name, bounded concurrency, no overlapping checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::MonitorConfig;
use crate::pipeline::Pipeline;
use crate::probe::{self, CheckResult, ProbeSpec};
use crate::push::PushBoard;

/// Default bound on checks in flight.
pub const DEFAULT_CONCURRENCY: usize = 256;
/// Pause between confirming re-checks.
const CONFIRM_PAUSE: Duration = Duration::from_secs(1);

/// A monitor ready to be scheduled.
#[derive(Debug)]
pub struct Scheduled {
    /// The config it came from (defaults merged).
    pub config: MonitorConfig,
    /// Its store id.
    pub id: i64,
    /// The compiled probe.
    pub spec: ProbeSpec,
    /// Another monitor names this one as its `upstream`: it is an origin.
    pub is_upstream: bool,
}

impl Scheduled {
    /// The check interval.
    pub fn interval(&self) -> Duration {
        self.config
            .interval
            .unwrap_or(probe::spec::DEFAULT_INTERVAL)
    }
}

struct Running {
    /// What the task was started with; a reload compares its config.
    monitor: Arc<Scheduled>,
    stop: CancellationToken,
}

/// Owns the monitor tasks.
pub struct Scheduler {
    tasks: HashMap<String, Running>,
    permits: Arc<Semaphore>,
    pipeline: Pipeline,
    push: PushBoard,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    /// Cancels checks in flight: the end of the shutdown's patience.
    abandon: CancellationToken,
}

impl Scheduler {
    /// A scheduler allowing `concurrency` checks at once.
    pub fn new(concurrency: usize, pipeline: Pipeline, push: PushBoard) -> Self {
        Self {
            tasks: HashMap::new(),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            pipeline,
            push,
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            abandon: CancellationToken::new(),
        }
    }

    /// Makes the running set equal `monitors`: new ones start, removed ones
    /// stop, changed ones restart; unchanged ones keep their rhythm.
    pub fn apply(&mut self, monitors: Vec<Scheduled>) {
        let mut wanted: HashMap<String, Scheduled> = monitors
            .into_iter()
            .map(|m| (m.config.name.clone(), m))
            .collect();
        self.tasks.retain(|name, running| {
            let keep = wanted
                .get(name)
                .is_some_and(|m| m.config == running.monitor.config);
            if keep {
                wanted.remove(name);
            } else {
                running.stop.cancel();
                if !wanted.contains_key(name) {
                    let c = &running.monitor.config;
                    self.pipeline.forget(c);
                    self.push.remove(name);
                }
            }
            keep
        });
        for (name, monitor) in wanted {
            let monitor = Arc::new(monitor);
            let stop = self.shutdown.child_token();
            let running = Running {
                monitor: monitor.clone(),
                stop: stop.clone(),
            };
            let span = tracing::info_span!("monitor", monitor = %name);
            if matches!(monitor.spec, ProbeSpec::Push) {
                let inbox = self
                    .push
                    .register(&name, monitor.config.token.clone().unwrap_or_default());
                let task = crate::push::watch(monitor, inbox, self.pipeline.clone(), stop);
                self.tracker.spawn(task.instrument(span));
            } else {
                let task = run_monitor(
                    monitor,
                    self.permits.clone(),
                    self.pipeline.clone(),
                    stop,
                    self.abandon.clone(),
                );
                self.tracker.spawn(task.instrument(span));
            }
            self.tasks.insert(name, running);
        }
        self.pipeline
            .metrics()
            .monitors
            .set(self.tasks.len() as f64);
    }

    /// Names of the scheduled monitors.
    pub fn names(&self) -> Vec<String> {
        self.tasks.keys().cloned().collect()
    }

    /// Stops scheduling, lets running checks finish for up to `patience`,
    /// abandons the ones still running then (they leave no result), and
    /// returns when every task has ended.
    pub async fn shutdown(self, patience: Duration) {
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(patience, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = self.tracker.len(),
                "checks still running at the shutdown deadline are abandoned"
            );
            self.abandon.cancel();
            self.tracker.wait().await;
        }
    }
}

/// A stable offset in `[0, interval)` from the monitor's name, so first
/// runs are spread out and land on the same offsets after a restart.
pub fn offset(name: &str, interval: Duration) -> Duration {
    // The 0xff terminator is what `str`'s `Hash` wrote before: offsets stay
    // where earlier versions put them.
    let hash = crate::stable_hash::fnv1a(name.bytes().chain([0xff]));
    let interval_ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(hash % interval_ms)
}

/// The first due time at or after `now`: the next instant whose wall-clock
/// phase modulo `interval` equals the monitor's offset.
pub fn first_due(name: &str, interval: Duration, now: SystemTime) -> Duration {
    let interval_ms = interval.as_millis().max(1) as u64;
    let offset_ms = offset(name, interval).as_millis() as u64;
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let phase = now_ms % interval_ms;
    let wait = (offset_ms + interval_ms - phase) % interval_ms;
    Duration::from_millis(wait)
}

async fn run_monitor(
    monitor: Arc<Scheduled>,
    permits: Arc<Semaphore>,
    pipeline: Pipeline,
    stop: CancellationToken,
    abandon: CancellationToken,
) {
    let interval = monitor.interval();
    let mut due =
        tokio::time::Instant::now() + first_due(&monitor.config.name, interval, SystemTime::now());
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = sleep_until(due) => {}
        }
        let permit = tokio::select! {
            _ = stop.cancelled() => return,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let lateness = tokio::time::Instant::now().saturating_duration_since(due);
        pipeline
            .metrics()
            .scheduler_lateness
            .observe(lateness.as_secs_f64());
        pipeline.metrics().checks_running.inc();
        let results = tokio::select! {
            results = check_with_confirm(&monitor, &stop) => Some(results),
            _ = abandon.cancelled() => None,
        };
        pipeline.metrics().checks_running.dec();
        let Some(results) = results else { return };
        drop(permit);
        pipeline.record(&monitor, results).await;
        // An overrun skips the ticks it covered instead of queueing them.
        due += interval;
        let now = tokio::time::Instant::now();
        if due <= now {
            let behind = now.duration_since(due).as_millis() / interval.as_millis().max(1) + 1;
            due += interval * behind as u32;
        }
    }
}

/// One check, and after a failure up to `confirm` re-checks 1 s apart: all
/// failing confirms it down; one passing marks the failures flaky.
async fn check_with_confirm(monitor: &Scheduled, stop: &CancellationToken) -> Vec<CheckResult> {
    let started = Instant::now();
    let first = run_boxed(&monitor.spec).await;
    tracing::trace!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "check done"
    );
    let mut results = vec![first];
    for _ in 0..monitor.config.confirm {
        if results.last().is_none_or(|r| !r.cause.is_failure()) {
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(CONFIRM_PAUSE) => {}
        }
        results.push(run_boxed(&monitor.spec).await);
    }
    if results.len() > 1 && results.last().is_some_and(|r| r.ok) {
        for result in results.iter_mut().filter(|r| r.cause.is_failure()) {
            result.flaky = Some(true);
        }
    }
    results
}

/// The probe future is large (a TLS and HTTP client state machine); boxing it
/// only while it runs keeps each idle monitor task a few hundred bytes.
async fn run_boxed(spec: &ProbeSpec) -> CheckResult {
    Box::pin(probe::run(spec)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_stable_and_spread() {
        let interval = Duration::from_secs(10);
        assert_eq!(offset("shop-edge", interval), offset("shop-edge", interval));
        let mut seen = std::collections::HashSet::new();
        for i in 0..100 {
            let o = offset(&format!("m{i}"), interval);
            assert!(o < interval);
            seen.insert(o.as_millis() / 1000);
        }
        assert!(
            seen.len() >= 8,
            "offsets should cover most seconds: {seen:?}"
        );
    }

    #[test]
    fn first_due_lands_on_the_offset_phase() {
        let interval = Duration::from_secs(30);
        let now = UNIX_EPOCH + Duration::from_millis(1_000_000_123);
        let wait = first_due("db", interval, now);
        assert!(wait < interval);
        let at = (now + wait).duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        assert_eq!(at % 30_000, offset("db", interval).as_millis() as u64);
    }
}
