//! `hopwatch agent`: checks the monitors of one region for a server, with
//! no database. It pulls its monitors from the server (again whenever
//! their version changes), runs them with the daemon's own prober,
//! scheduler and check turns, and sends the results in batches; while the
//! server is away it keeps checking and keeps the results (bounded) until
//! the server is back.

mod buffer;
mod server;

pub use server::SetupError;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use self::buffer::{BATCH_BYTES, BATCH_RESULTS, Buffer};
use self::server::{Failure, Fetched, Server};
use crate::app::checks::run_checks;
use crate::config::agents::AgentMonitors;
use crate::config::compile;
use crate::metrics::Metrics;
use crate::monitor::trust::TrustStore;
use crate::monitor::{CheckResult, Monitor, ProbeSpec};
use crate::probe::Prober;
use crate::schedule::{DEFAULT_CONCURRENCY, Scheduler, StartTask};
use crate::secret::Secret;

/// How often the monitors are asked for (a 304 while they have not
/// changed). It is also what keeps the agent alive in the server's eyes,
/// which counts a checker silent for 10 s as dead.
const POLL_EVERY: Duration = Duration::from_secs(3);
/// How often results are sent, unless a batch fills sooner.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Batches sent at most per flush, so that one flush after a long outage
/// ends, and the next picks up (10,000 results).
const BATCHES_PER_FLUSH: usize = 20;
/// From the stop signal to the exit, at most: running checks finish (or
/// are abandoned after [`CHECK_DRAIN`]), then what is buffered is sent.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(9);
/// Checks still running this long after the signal are abandoned.
const CHECK_DRAIN: Duration = Duration::from_secs(4);

/// What `hopwatch agent` is given.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server's base URL.
    pub server: String,
    /// This agent's name, as in the server's `agents:`.
    pub name: String,
    /// Its token.
    pub token: Secret,
}

/// Why the agent stopped other than by a signal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The server cannot be talked to as given.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The server answered 401: the token is no agent's.
    #[error(
        "the server refused the token (401): the token given with --token or \
         HOPWATCH_AGENT_TOKEN is not that of an agent in the server's agents:"
    )]
    TokenRefused,
    /// The token is another agent's than `--name` says.
    #[error("the token given is agent {token_of:?}'s, not {name:?}'s")]
    WrongName {
        /// `--name`.
        name: String,
        /// Whose token it is.
        token_of: String,
    },
}

/// The results waiting to be sent, shared by the check tasks (which add)
/// and the sender (which takes).
struct Outbox {
    buffer: Mutex<Buffer>,
    /// Told when a whole batch waits, so it goes before the next tick.
    batch_ready: Notify,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        // Each step leaves the buffer whole; a panic elsewhere harms nothing.
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, monitor: &Monitor, results: Vec<CheckResult>) {
        let waiting = {
            let mut buffer = self.lock();
            let name: Arc<str> = Arc::from(monitor.name.as_str());
            for mut result in results {
                result.monitor = Some(monitor.name.clone());
                buffer.push(&name, &result);
            }
            buffer.len()
        };
        if waiting >= BATCH_RESULTS {
            self.batch_ready.notify_one();
        }
    }
}

/// Runs the agent until `stop` is cancelled (then within 9 s: checks
/// finish, what is buffered is sent if the server answers), or until the
/// server refuses its token.
pub async fn run(options: Options, stop: CancellationToken) -> Result<(), AgentError> {
    let server = Arc::new(Server::new(&options.server, options.token.clone())?);
    let outbox = Arc::new(Outbox {
        buffer: Mutex::new(Buffer::new(buffer::CAPACITY)),
        batch_ready: Notify::new(),
    });
    let mut scheduler = Scheduler::new(
        DEFAULT_CONCURRENCY,
        Arc::new(Metrics::new()),
        start_task(Arc::new(Prober::default()), outbox.clone()),
        Box::new(|_| {}),
    );
    let last_call = CancellationToken::new();
    let mut sender = tokio::spawn(send_loop(server.clone(), outbox.clone(), last_call.clone()));
    tracing::info!(agent = %options.name, server = %crate::mask::text(&options.server), "agent starting");

    let trust = TrustStore::default();
    let mut version: Option<String> = None;
    let mut away = false;
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let outcome = loop {
        tokio::select! {
            _ = stop.cancelled() => break Ok(()),
            sent = &mut sender => break sent.unwrap_or(Ok(())),
            _ = poll.tick() => {}
        }
        let fetched = tokio::select! {
            _ = stop.cancelled() => break Ok(()),
            fetched = server.monitors(version.as_deref()) => fetched,
        };
        match fetched {
            Ok(Fetched::Unchanged) => {}
            Ok(Fetched::Changed { monitors, etag }) => {
                if monitors.agent != options.name {
                    break Err(AgentError::WrongName {
                        name: options.name.clone(),
                        token_of: monitors.agent,
                    });
                }
                apply(&mut scheduler, &trust, &monitors);
                let given: HashSet<&str> =
                    monitors.monitors.iter().map(|m| m.name.as_str()).collect();
                let forgotten = outbox.lock().retain_monitors(&given);
                if forgotten > 0 {
                    tracing::warn!(
                        results = forgotten,
                        "results of monitors the server no longer gives this agent are dropped"
                    );
                }
                version = Some(etag);
            }
            Err(Failure::TokenRefused) => break Err(AgentError::TokenRefused),
            Err(Failure::Refused { message, .. } | Failure::Unavailable(message)) => {
                if !away {
                    tracing::warn!(
                        "cannot read the monitors from the server ({message}); \
                         the last ones known are checked until it answers"
                    );
                }
                away = true;
                continue;
            }
        }
        if away {
            tracing::info!("the server answers again");
            away = false;
        }
    };

    let deadline = Instant::now() + SHUTDOWN_BUDGET;
    scheduler.shutdown(CHECK_DRAIN).await;
    if !sender.is_finished() {
        if outcome.is_ok() {
            // The checks are done: a last flush, within what is left.
            last_call.cancel();
            if tokio::time::timeout_at(deadline, &mut sender)
                .await
                .is_err()
            {
                sender.abort();
            }
        } else {
            sender.abort();
        }
    }
    let unsent = outbox.lock().len();
    if unsent > 0 {
        tracing::warn!(
            results = unsent,
            "stopping with results the server did not get"
        );
    }
    tracing::info!("agent stopped");
    outcome
}

/// Compiles what the server sent and makes it what runs: new monitors
/// start, changed ones restart, unchanged ones keep their rhythm. A
/// monitor that does not compile here (a `ca_file` missing on this host)
/// is left out, with the reason in the log.
fn apply(scheduler: &mut Scheduler, trust: &TrustStore, sent: &AgentMonitors) {
    let mut monitors = Vec::with_capacity(sent.monitors.len());
    for compiled in compile::each(&sent.monitors, trust) {
        match compiled {
            Ok(monitor) => monitors.push(Arc::new(monitor)),
            Err(err) => tracing::error!("{err}: not checked by this agent"),
        }
    }
    let count = monitors.len();
    scheduler.apply(monitors);
    tracing::info!(
        monitors = count,
        region = %sent.region,
        version = %sent.version,
        "monitors loaded"
    );
}

/// The scheduler's task builder: the daemon's check turns, whose results
/// go to the outbox. The server sends no push monitor; one would get an
/// idle task.
fn start_task(prober: Arc<Prober>, outbox: Arc<Outbox>) -> StartTask {
    Box::new(move |monitor, turns| {
        if matches!(monitor.spec, ProbeSpec::Push) {
            return Box::pin(async {});
        }
        let outbox = outbox.clone();
        let record = move |monitor: Arc<Monitor>, results| {
            outbox.add(&monitor, results);
            std::future::ready(())
        };
        Box::pin(run_checks(monitor, prober.clone(), turns, record))
    })
}

/// Sends what waits, every second or as soon as a batch is full, until
/// `last_call`: then once more, and returns. Returns early only when the
/// server refuses the token.
async fn send_loop(
    server: Arc<Server>,
    outbox: Arc<Outbox>,
    last_call: CancellationToken,
) -> Result<(), AgentError> {
    let mut link = Link::default();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let last = tokio::select! {
            _ = last_call.cancelled() => true,
            _ = tick.tick() => false,
            _ = outbox.batch_ready.notified() => false,
        };
        flush(&server, &outbox, &mut link).await?;
        if last {
            return Ok(());
        }
    }
}

/// Whether the server took the last batch, for one log line per outage.
#[derive(Debug, Default)]
struct Link {
    away: bool,
}

/// Sends batches until the buffer is empty, the server fails to take one
/// (it goes back, for the next flush) or [`BATCHES_PER_FLUSH`] went.
async fn flush(server: &Server, outbox: &Outbox, link: &mut Link) -> Result<(), AgentError> {
    let dropped = outbox.lock().take_dropped();
    if dropped > 0 {
        tracing::warn!(
            dropped,
            kept = buffer::CAPACITY,
            "the buffer is full: the oldest results were dropped"
        );
    }
    let mut sent = 0;
    for _ in 0..BATCHES_PER_FLUSH {
        let Some(batch) = outbox.lock().take(BATCH_RESULTS, BATCH_BYTES) else {
            break;
        };
        match server.send(&batch).await {
            Ok(()) => sent += batch.len(),
            Err(Failure::TokenRefused) => return Err(AgentError::TokenRefused),
            Err(Failure::Refused { status, message }) => {
                tracing::error!(
                    status,
                    results = batch.len(),
                    "the server refused a batch, which is dropped: {message}"
                );
            }
            Err(Failure::Unavailable(why)) => {
                let waiting = {
                    let mut buffer = outbox.lock();
                    buffer.put_back(batch);
                    buffer.len()
                };
                if !link.away {
                    tracing::warn!(
                        buffered = waiting,
                        "cannot send results ({why}); checks go on, results are kept until the server is back"
                    );
                    link.away = true;
                }
                return Ok(());
            }
        }
    }
    if link.away && sent > 0 {
        let waiting = outbox.lock().len();
        tracing::info!(sent, waiting, "the server takes results again");
        link.away = false;
    }
    Ok(())
}
