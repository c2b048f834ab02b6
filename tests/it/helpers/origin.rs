//! The origin: an application server whose behaviour a test switches at run
//! time (healthy, failing, slow, garbage, stopped) on a port it keeps.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::wire::{GARBAGE, accept_loop, healthy_response, read_request, response};
use super::{LOCALHOST, MAX_POLLS, POLL};

/// How the [`Origin`] answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// 200 with `{"status":"ok"}`.
    Healthy,
    /// This status and body.
    Status(u16, String),
    /// Waits this long, then answers like `Healthy`.
    Slow(Duration),
    /// Non-HTTP bytes (an SSH banner), then close.
    Garbage,
    /// A valid status line and half a header, then close: a crash mid-answer.
    Truncated,
    /// Not listening: connects are refused.
    Stopped,
}

/// An application server on 127.0.0.1 whose behaviour a test switches at
/// run time; one request per connection.
pub struct Origin {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Origin {
    /// A healthy origin on a port of its own.
    pub async fn spawn() -> Origin {
        let listener = TcpListener::bind((LOCALHOST, 0))
            .await
            .expect("bind the origin");
        let origin = Origin {
            addr: listener.local_addr().expect("the origin's address"),
            mode: Arc::new(Mutex::new(Mode::Healthy)),
            requests: Arc::default(),
            accept: Mutex::new(None),
        };
        origin.serve(listener);
        origin
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Complete requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Switches behaviour; `Stopped` closes the listener, any other mode
    /// reopens it when stopped.
    pub async fn set_mode(&self, mode: Mode) {
        let stop = mode == Mode::Stopped;
        *self.mode.lock().expect("origin mode") = mode;
        if stop {
            self.stop().await
        } else {
            self.listen().await
        }
    }

    /// Closes the listener (and open connections): connects are refused.
    pub async fn stop(&self) {
        *self.mode.lock().expect("origin mode") = Mode::Stopped;
        let task = self.accept.lock().expect("origin task").take();
        if let Some(task) = task {
            task.abort();
            // Awaiting an aborted task returns once it was dropped, so the
            // listener is closed when `stop` returns.
            let _ = task.await;
        }
    }

    /// Listens again on the same port, healthy unless a mode was set.
    pub async fn start(&self) {
        {
            let mut mode = self.mode.lock().expect("origin mode");
            if *mode == Mode::Stopped {
                *mode = Mode::Healthy;
            }
        }
        self.listen().await;
    }

    async fn listen(&self) {
        if self.accept.lock().expect("origin task").is_some() {
            return;
        }
        for _ in 0..MAX_POLLS {
            // Tokio sets SO_REUSEADDR, so only a real squatter makes this fail.
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!(
            "cannot listen on {} again: another process took the port",
            self.addr
        );
    }

    fn serve(&self, listener: TcpListener) {
        let (mode, requests) = (self.mode.clone(), self.requests.clone());
        let task = accept_loop(listener, move |mut stream| {
            let (mode, requests) = (mode.clone(), requests.clone());
            async move {
                if read_request(&mut stream).await.is_none() {
                    return;
                }
                requests.fetch_add(1, Ordering::SeqCst);
                let now = mode.lock().expect("origin mode").clone();
                let answer = match now {
                    Mode::Healthy => healthy_response(),
                    Mode::Status(code, body) => response(code, &[], body.as_bytes()),
                    Mode::Slow(delay) => {
                        tokio::time::sleep(delay).await;
                        healthy_response()
                    }
                    Mode::Garbage => GARBAGE.to_vec(),
                    Mode::Truncated => b"HTTP/1.1 200 OK\r\nContent-Type: appl".to_vec(),
                    Mode::Stopped => return,
                };
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            }
        });
        *self.accept.lock().expect("origin task") = Some(task);
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        if let Some(task) = self.accept.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}
