//! Push monitors: heartbeats arrive over HTTP; the monitor is down when
//! none arrived within `interval + grace`, or when a push says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Secret;
use crate::pipeline::Pipeline;
use crate::probe::{Cause, CheckResult, verdict};
use crate::schedule::Scheduled;
use crate::secret::SecretDigest;

/// One heartbeat.
#[derive(Debug, Clone)]
pub struct Push {
    /// The job says it worked.
    pub up: bool,
    /// Its message, if any.
    pub message: Option<String>,
}

/// Why a push was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushError {
    /// No push monitor has that name.
    #[error("no push monitor named {0:?}")]
    UnknownMonitor(String),
    /// The token does not match.
    #[error("wrong token")]
    WrongToken,
}

struct Inbox {
    /// Only the token's digest is kept: comparing digests hides its length.
    token: SecretDigest,
    sender: mpsc::Sender<Push>,
}

/// The push monitors accepting heartbeats; shared with the web server.
#[derive(Clone, Default)]
pub struct PushBoard {
    inboxes: Arc<Mutex<HashMap<String, Inbox>>>,
}

impl PushBoard {
    /// Opens the inbox of a push monitor.
    pub fn register(&self, name: &str, token: Secret) -> mpsc::Receiver<Push> {
        let (sender, receiver) = mpsc::channel(16);
        if let Ok(mut inboxes) = self.inboxes.lock() {
            let token = SecretDigest::of(token.expose());
            inboxes.insert(name.to_owned(), Inbox { token, sender });
        }
        receiver
    }

    /// Closes the inbox of a removed monitor.
    pub fn remove(&self, name: &str) {
        if let Ok(mut inboxes) = self.inboxes.lock() {
            inboxes.remove(name);
        }
    }

    /// Delivers a heartbeat after checking the token (as digests, in
    /// constant time).
    pub fn push(&self, name: &str, token: &str, push: Push) -> Result<(), PushError> {
        let sender = {
            let inboxes = self
                .inboxes
                .lock()
                .map_err(|_| PushError::UnknownMonitor(name.to_owned()))?;
            let inbox = inboxes
                .get(name)
                .ok_or_else(|| PushError::UnknownMonitor(name.to_owned()))?;
            if !inbox.token.matches(token) {
                return Err(PushError::WrongToken);
            }
            inbox.sender.clone()
        };
        // A full inbox means pushes arrive faster than they matter; the
        // newest state will come with the next one.
        let _ = sender.try_send(push);
        Ok(())
    }
}

/// The task of one push monitor.
pub async fn watch(
    monitor: Arc<Scheduled>,
    mut inbox: mpsc::Receiver<Push>,
    pipeline: Pipeline,
    stop: CancellationToken,
) {
    let interval = monitor.interval();
    let grace = monitor.config.grace.unwrap_or(Duration::ZERO);
    let mut deadline = tokio::time::Instant::now() + interval + grace;
    loop {
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            push = inbox.recv() => match push {
                None => return,
                Some(push) => {
                    deadline = tokio::time::Instant::now() + interval + grace;
                    heartbeat(push)
                }
            },
            _ = tokio::time::sleep_until(deadline) => {
                deadline += interval;
                missed(interval, grace)
            }
        };
        pipeline.record(&monitor, vec![result]).await;
    }
}

fn heartbeat(push: Push) -> CheckResult {
    let cause = if push.up {
        Cause::Ok
    } else {
        Cause::AssertionFailed
    };
    let mut result = CheckResult::new(SystemTime::now(), cause);
    if !push.up {
        result.error = Some(match push.message {
            Some(message) => format!("the job pushed status=down: {message}"),
            None => "the job pushed status=down".to_owned(),
        });
    }
    result.verdict = job_verdict(&result);
    result
}

/// A push monitor's only hop is the job itself.
fn job_verdict(result: &CheckResult) -> crate::probe::Verdict {
    match &result.error {
        None => verdict::for_check(result),
        Some(error) => crate::probe::Verdict {
            hop: crate::probe::Hop::Origin,
            summary: format!("{error}: look at the job's own logs"),
        },
    }
}

fn missed(interval: Duration, grace: Duration) -> CheckResult {
    let mut result = CheckResult::new(SystemTime::now(), Cause::Timeout);
    result.error = Some(format!(
        "no push arrived within {} (interval {} + grace {})",
        humantime::format_duration(interval + grace),
        humantime::format_duration(interval),
        humantime::format_duration(grace)
    ));
    result.verdict = job_verdict(&result);
    result
}
