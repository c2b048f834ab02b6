//! Polling a hyper client connection beside the work done on it, so a
//! check needs no task of its own and the connection's own error is kept.

use std::future::Future;
use std::pin::{Pin, pin};

/// What is known of the connection future while work runs beside it.
#[derive(Default)]
pub struct Connection {
    finished: bool,
    error: Option<hyper::Error>,
}

impl Connection {
    /// Runs `work` while polling `connection` until it finishes. When the
    /// work fails after the connection did, the connection's error is the
    /// one returned: it says why (a frame the peer got wrong), where the
    /// work's only says that the connection went away.
    pub async fn drive<C, F, T>(
        &mut self,
        mut connection: Pin<&mut C>,
        work: F,
    ) -> Result<T, hyper::Error>
    where
        C: Future<Output = hyper::Result<()>>,
        F: Future<Output = Result<T, hyper::Error>>,
    {
        let mut work = pin!(work);
        loop {
            tokio::select! {
                outcome = &mut work => {
                    return outcome.map_err(|err| self.error.take().unwrap_or(err));
                }
                done = connection.as_mut(), if !self.finished => {
                    self.finished = true;
                    if let Err(err) = done {
                        self.error = Some(err);
                    }
                }
            }
        }
    }
}
