//! Push monitors: heartbeats arrive over HTTP; the monitor is down when
//! none arrived within `interval + grace`, or when a push says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::monitor::{Cause, CheckResult};
use crate::probe::verdict;
use crate::secret::{Secret, SecretDigest};

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

/// The result a heartbeat gives.
pub fn heartbeat(push: Push) -> CheckResult {
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
    // The job's own verdict comes from `evaluate::verdict::adjust`.
    result.verdict = verdict::for_check(&result);
    result
}

/// The result of a push that did not come within `interval + grace`.
pub fn missed(interval: Duration, grace: Duration) -> CheckResult {
    let mut result = CheckResult::new(SystemTime::now(), Cause::Timeout);
    result.error = Some(format!(
        "no push arrived within {} (interval {} + grace {})",
        humantime::format_duration(interval + grace),
        humantime::format_duration(interval),
        humantime::format_duration(grace)
    ));
    // The job's own verdict comes from `evaluate::verdict::adjust`.
    result.verdict = verdict::for_check(&result);
    result
}
