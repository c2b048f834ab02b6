//! When each monitor runs: one small task per monitor, first runs spread by
//! a stable hash of the name, due times that skip what an overrun covered,
//! bounded concurrency, and shutdown with a deadline. What a task does when
//! it is due is not this module's business: the app hands in the task.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::monitor::Monitor;

/// Default bound on checks in flight.
pub const DEFAULT_CONCURRENCY: usize = 256;

/// The task of one monitor, built by whoever runs the scheduler.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Builds a monitor's task from the monitor and its [`Turns`].
pub type StartTask = Box<dyn Fn(Arc<Monitor>, Turns) -> Task + Send + Sync>;

/// Called with the name of a monitor that went away.
pub type Forget = Box<dyn Fn(&str) + Send + Sync>;

struct Running {
    /// What the task was started with; a reload compares it.
    monitor: Arc<Monitor>,
    stop: CancellationToken,
}

/// Owns the monitor tasks.
pub struct Scheduler {
    tasks: HashMap<String, Running>,
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    start: StartTask,
    forget: Forget,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    /// Cancels checks in flight: the end of the shutdown's patience.
    abandon: CancellationToken,
}

impl Scheduler {
    /// A scheduler allowing `concurrency` checks at once, starting each
    /// monitor's task with `start` and telling `forget` of removed ones.
    pub fn new(
        concurrency: usize,
        metrics: Arc<Metrics>,
        start: StartTask,
        forget: Forget,
    ) -> Self {
        Self {
            tasks: HashMap::new(),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            metrics,
            start,
            forget,
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            abandon: CancellationToken::new(),
        }
    }

    /// Makes the running set equal `monitors`: new ones start, removed ones
    /// stop, changed ones restart; unchanged ones keep their rhythm.
    pub fn apply(&mut self, monitors: Vec<Arc<Monitor>>) {
        let step = step_for(&monitors);
        let mut wanted: HashMap<String, Arc<Monitor>> =
            monitors.into_iter().map(|m| (m.name.clone(), m)).collect();
        self.tasks.retain(|name, running| {
            let keep = wanted.get(name).is_some_and(|m| **m == *running.monitor);
            if keep {
                wanted.remove(name);
            } else {
                running.stop.cancel();
                if !wanted.contains_key(name) {
                    (self.forget)(name);
                }
            }
            keep
        });
        // One reference for every monitor started now, so offsets on the
        // same step give the same instant and fire in one wake-up.
        let (instant, wall) = (Instant::now(), SystemTime::now());
        for (name, monitor) in wanted {
            let stop = self.shutdown.child_token();
            let turns = Turns {
                due: instant + first_due(&name, monitor.interval, step, wall),
                interval: monitor.interval,
                permits: self.permits.clone(),
                metrics: self.metrics.clone(),
                stop: stop.clone(),
                abandon: self.abandon.clone(),
            };
            let span = tracing::info_span!("monitor", monitor = %name);
            let task = (self.start)(monitor.clone(), turns);
            self.tracker.spawn(task.instrument(span));
            self.tasks.insert(name, Running { monitor, stop });
        }
        self.metrics.monitors.set(self.tasks.len() as f64);
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

/// A monitor's turns: when it is due next, a place among the checks
/// allowed at once, and the signals to stop.
pub struct Turns {
    due: Instant,
    interval: Duration,
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    abandon: CancellationToken,
}

/// One turn: holds a place among the checks in flight until dropped.
pub struct Turn {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.metrics.checks_running.dec();
    }
}

impl Turns {
    /// Waits until the monitor is due and a place is free; `None` once the
    /// monitor is stopped. Records how late the turn starts.
    pub async fn next(&mut self) -> Option<Turn> {
        tokio::select! {
            _ = self.stop.cancelled() => return None,
            _ = sleep_until(self.due) => {}
        }
        let permit = tokio::select! {
            _ = self.stop.cancelled() => return None,
            permit = self.permits.clone().acquire_owned() => permit.ok()?,
        };
        let lateness = Instant::now().saturating_duration_since(self.due);
        self.metrics
            .scheduler_lateness
            .observe(lateness.as_secs_f64());
        self.metrics.checks_running.inc();
        Some(Turn {
            _permit: permit,
            metrics: self.metrics.clone(),
        })
    }

    /// Moves the due time to the next tick. An overrun skips the ticks it
    /// covered instead of queueing them.
    pub fn advance(&mut self) {
        self.due += self.interval;
        let now = Instant::now();
        if self.due <= now {
            let behind =
                now.duration_since(self.due).as_millis() / self.interval.as_millis().max(1) + 1;
            self.due += self.interval * behind as u32;
        }
    }

    /// Runs `work` unless the monitor is abandoned first (the end of the
    /// shutdown's patience); `None` then.
    pub async fn unless_abandoned<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            value = work => Some(value),
            _ = self.abandon.cancelled() => None,
        }
    }

    /// Cancelled when the monitor stops (removed, changed, or shutdown).
    pub fn stop(&self) -> &CancellationToken {
        &self.stop
    }
}

/// Offsets are multiples of a step. Checks due on the same step start in
/// one wake-up of the runtime and share the waits for their answers, which
/// at 100 checks a second more than halves the daemon's CPU per check
/// (BENCHMARKS.md). The step is the longest of 100, 200 and 400 ms that
/// holds about [`CHECKS_PER_STEP`] checks or fewer, so the last check of a step
/// still starts within milliseconds of its due time.
const STEPS_MS: [u64; 3] = [100, 200, 400];

/// How many checks a step is meant to hold, at most, when the monitors'
/// rate allows a longer step than the shortest.
const CHECKS_PER_STEP: f64 = 40.0;

/// The step for offsets of `monitors` (see [`STEPS_MS`]): it depends on
/// their rate only, so the same monitors get the same offsets again.
fn step_for(monitors: &[Arc<Monitor>]) -> Duration {
    let per_second = monitors
        .iter()
        .map(|m| 1.0 / m.interval.as_secs_f64().max(0.001))
        .sum();
    step_at(per_second)
}

/// The step for checks due at `per_second`.
fn step_at(per_second: f64) -> Duration {
    // Rounded: a rate summed from many intervals is off by a hair.
    let fits = |step_ms: u64| (per_second * step_ms as f64 / 1000.0).round() <= CHECKS_PER_STEP;
    let step_ms = STEPS_MS
        .iter()
        .rev()
        .copied()
        .find(|&step_ms| fits(step_ms))
        .unwrap_or(STEPS_MS[0]);
    Duration::from_millis(step_ms)
}

/// A stable offset in `[0, interval)` from the monitor's name, a multiple
/// of `step` (see [`STEPS_MS`]), so first runs are spread out and land on
/// the same offsets after a restart.
pub fn offset(name: &str, interval: Duration, step: Duration) -> Duration {
    // The 0xff terminator is what `str`'s `Hash` wrote before: offsets stay
    // where earlier versions put them.
    let hash = crate::stable_hash::fnv1a(name.bytes().chain([0xff]));
    let interval_ms = interval.as_millis().max(1) as u64;
    let step_ms = (step.as_millis() as u64).clamp(1, interval_ms);
    Duration::from_millis(hash % interval_ms / step_ms * step_ms)
}

/// The first due time at or after `now`: the next instant whose wall-clock
/// phase modulo `interval` equals the monitor's offset.
pub fn first_due(name: &str, interval: Duration, step: Duration, now: SystemTime) -> Duration {
    let interval_ms = interval.as_millis().max(1) as u64;
    let offset_ms = offset(name, interval, step).as_millis() as u64;
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let phase = now_ms % interval_ms;
    let wait = (offset_ms + interval_ms - phase) % interval_ms;
    Duration::from_millis(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: Duration = Duration::from_millis(100);

    #[test]
    fn offsets_are_stable_and_spread() {
        let interval = Duration::from_secs(10);
        assert_eq!(
            offset("shop-edge", interval, STEP),
            offset("shop-edge", interval, STEP)
        );
        let mut seen = std::collections::HashSet::new();
        for i in 0..100 {
            let o = offset(&format!("m{i}"), interval, STEP);
            assert!(o < interval);
            seen.insert(o.as_millis() / 1000);
        }
        assert!(
            seen.len() >= 8,
            "offsets should cover most seconds: {seen:?}"
        );
    }

    #[test]
    fn offsets_sit_on_the_step_unless_the_interval_is_shorter() {
        let step = Duration::from_millis(400);
        for i in 0..50 {
            let name = format!("m{i}");
            assert_eq!(
                offset(&name, Duration::from_secs(10), step).as_millis() % 400,
                0
            );
            let short = Duration::from_millis(30);
            assert!(offset(&name, short, step) < short);
        }
    }

    #[test]
    fn the_step_is_the_longest_that_holds_forty_checks() {
        let ms = |per_second: f64| step_at(per_second).as_millis();
        assert_eq!(ms(0.0), 400);
        assert_eq!(ms(100.0), 400, "1,000 monitors at 10 s: 40 a step");
        assert_eq!(ms(99.999_999), 400);
        assert_eq!(ms(100.000_001), 400);
        assert_eq!(ms(102.0), 200);
        assert_eq!(ms(200.0), 200);
        assert_eq!(ms(250.0), 100);
        assert_eq!(ms(1_000.0), 100, "never shorter than 100 ms");
    }

    #[test]
    fn first_due_lands_on_the_offset_phase() {
        let interval = Duration::from_secs(30);
        let now = UNIX_EPOCH + Duration::from_millis(1_000_000_123);
        let wait = first_due("db", interval, STEP, now);
        assert!(wait < interval);
        let at = (now + wait).duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        assert_eq!(at % 30_000, offset("db", interval, STEP).as_millis() as u64);
    }
}
