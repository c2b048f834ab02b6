//! What a monitor's task does: at each of its turns, a check and its
//! confirms, handed to the pipeline; for a push monitor, each heartbeat and
//! each missed deadline. The schedule decides when; this decides what.
//! An agent runs the same turns ([`run_checks`]) and keeps the results for
//! its server instead.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::monitor::{CheckResult, Monitor, ProbeSpec};
use crate::pipeline::Pipeline;
use crate::probe::Prober;
use crate::push::{self, Push, PushBoard};
use crate::schedule::{Forget, StartTask, Turns};

/// Pause between confirming re-checks.
const CONFIRM_PAUSE: Duration = Duration::from_secs(1);

/// The scheduler's task builder: checks for probed monitors, a watch for
/// push monitors.
pub fn start_task(prober: Arc<Prober>, pipeline: Pipeline, board: PushBoard) -> StartTask {
    Box::new(move |monitor, turns| {
        if matches!(monitor.spec, ProbeSpec::Push) {
            let inbox = board.register(&monitor.name, monitor.token.clone());
            Box::pin(watch_pushes(monitor, inbox, pipeline.clone(), turns))
        } else {
            let pipeline = pipeline.clone();
            let record = move |monitor: Arc<Monitor>, results| {
                let pipeline = pipeline.clone();
                async move { pipeline.record(&monitor, results).await }
            };
            Box::pin(run_checks(monitor, prober.clone(), turns, record))
        }
    })
}

/// What to drop when a monitor goes away.
pub fn forget(pipeline: Pipeline, board: PushBoard) -> Forget {
    Box::new(move |name| {
        pipeline.forget(name);
        board.remove(name);
    })
}

/// A probed monitor's task: at each turn, a check and its confirms, given
/// to `record` once the turn's place among the checks in flight is freed.
pub async fn run_checks<R, F>(
    monitor: Arc<Monitor>,
    prober: Arc<Prober>,
    mut turns: Turns,
    mut record: R,
) where
    R: FnMut(Arc<Monitor>, Vec<CheckResult>) -> F,
    F: Future<Output = ()>,
{
    // The check and the recording are boxed while they run, as the probe
    // is: a task spends its life waiting for its turn, and their futures
    // (results, confirm timers, the channel sends) would otherwise sit in
    // every waiting task, 3.7 KB of it instead of a few hundred bytes.
    while let Some(turn) = turns.next().await {
        let checks = Box::pin(check_with_confirm(&monitor, &prober, turns.stop()));
        let Some(results) = turns.unless_abandoned(checks).await else {
            return;
        };
        drop(turn);
        Box::pin(record(monitor.clone(), results)).await;
        turns.advance();
    }
}

/// One check, and after a failure up to `confirm` re-checks 1 s apart: all
/// failing confirms it down; one passing marks the failures flaky.
async fn check_with_confirm(
    monitor: &Monitor,
    prober: &Prober,
    stop: &CancellationToken,
) -> Vec<CheckResult> {
    let started = Instant::now();
    let first = run_boxed(prober, &monitor.spec).await;
    tracing::trace!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "check done"
    );
    let mut results = vec![first];
    for _ in 0..monitor.confirm {
        if results.last().is_none_or(|r| !r.cause.is_failure()) {
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(CONFIRM_PAUSE) => {}
        }
        results.push(run_boxed(prober, &monitor.spec).await);
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
async fn run_boxed(prober: &Prober, spec: &ProbeSpec) -> CheckResult {
    Box::pin(prober.check(spec)).await
}

/// A push monitor's task: each heartbeat is a result, and so is each
/// `interval + grace` without one.
async fn watch_pushes(
    monitor: Arc<Monitor>,
    mut inbox: mpsc::Receiver<Push>,
    pipeline: Pipeline,
    turns: Turns,
) {
    let patience = monitor.interval + monitor.grace;
    let mut deadline = tokio::time::Instant::now() + patience;
    loop {
        let result = tokio::select! {
            _ = turns.stop().cancelled() => return,
            push = inbox.recv() => match push {
                None => return,
                Some(push) => {
                    deadline = tokio::time::Instant::now() + patience;
                    push::heartbeat(push)
                }
            },
            _ = tokio::time::sleep_until(deadline) => {
                deadline += monitor.interval;
                push::missed(monitor.interval, monitor.grace)
            }
        };
        Box::pin(pipeline.record(&monitor, vec![result])).await;
    }
}
