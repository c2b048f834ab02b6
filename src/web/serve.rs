//! The web server's own runtime and accept loop: hyper's HTTP/1 serving the
//! router on threads apart from the checks', with a deadline for request
//! heads, a cap on client connections, and a shutdown that drops whoever is
//! still connected at its deadline.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long the accept loop waits for an evicted connection to hand back
/// its slot; it is on this same runtime, so this only guards a bug.
const EVICTION_WAIT: Duration = Duration::from_secs(1);
/// Pause after an accept error that is ours (out of descriptors), so the
/// loop does not spin while the process is short of them.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The name of every thread of the web's runtime.
pub const WEB_THREAD: &str = "hopwatch-web";
/// More web threads than this buy nothing for a status page and take CPU
/// from the checks' thread.
const MAX_WEB_THREADS: usize = 4;

/// Worker threads of the web's runtime: one per core, from 1 to 4.
pub fn web_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, MAX_WEB_THREADS)
}

/// The runtime that serves every web client, apart from the one that runs
/// the checks: a crowd on the status page (or a handler that hogs its
/// thread) then waits for web threads, never delays a check. Multi-threaded,
/// unlike the checks' runtime, so one slow render does not hold the others.
pub struct WebRuntime {
    /// `None` only while being dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl WebRuntime {
    /// Starts [`web_threads`] threads named [`WEB_THREAD`].
    pub fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(web_threads())
            .thread_name(WEB_THREAD)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Moves `listener` onto this runtime's reactor, so that accepting (and
    /// every connection accepted) is woken by the web's threads, not the
    /// checks' one, and serves there until `stop`.
    pub fn serve(
        &self,
        listener: TcpListener,
        router: Router,
        limits: Limits,
        stop: CancellationToken,
    ) -> std::io::Result<tokio::task::JoinHandle<()>> {
        let handle = self.handle();
        let listener = listener.into_std()?;
        let listener = {
            let _inside = handle.enter();
            TcpListener::from_std(listener)?
        };
        Ok(handle.spawn(serve(listener, router, limits, stop)))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        match &self.runtime {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the runtime is only taken when dropped"),
        }
    }
}

impl Drop for WebRuntime {
    /// Without waiting: the server task has ended (or was abandoned at the
    /// shutdown deadline), and a runtime dropped the ordinary way inside the
    /// checks' runtime would panic.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What the web server allows its clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Client connections held at once (see `fdlimit::connection_cap`).
    pub max_connections: usize,
    /// A request head must be complete this long after the connection is
    /// idle (new, or between keep-alive requests); else it is closed.
    pub header_read_timeout: Duration,
    /// A request, its body included, must be answered within this; else
    /// 503 and the connection is closed.
    pub request_timeout: Duration,
    /// At shutdown, requests in flight get this long; then every remaining
    /// connection is dropped.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: crate::fdlimit::DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(2),
        }
    }
}

/// Serves `router` on `listener` until `stop`, then stops accepting, lets
/// requests in flight finish for `shutdown_grace` and drops the rest.
///
/// At the connection cap a new client is still accepted, and the connection
/// that has waited longest without a request in flight (a half-sent head, an
/// idle keep-alive) is closed to make room; when every connection is busy,
/// the newcomer is closed at once. Either way hopwatch never holds more
/// than the cap plus one: checks keep their file descriptors whatever
/// clients do. Evicting the stalest rather than making newcomers wait keeps
/// `/healthz` and the status page answering during a flood of slow clients,
/// which a queue behind them would not.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: CancellationToken) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let table = Arc::new(Table::new());
    let mut tasks = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        while tasks.try_join_next().is_some() {}
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                accept_failed(&err, &stop).await;
                continue;
            }
        };
        let Some(permit) = admit(&permits, &table).await else {
            tracing::debug!(%remote, "every connection is busy; a new client was turned away");
            continue;
        };
        let connection = Arc::new(Connection {
            router: router.clone(),
            slot: table.insert(),
            table: table.clone(),
            remote,
            limits,
        });
        tasks.spawn(connection.run(builder.clone(), stream, stop.clone(), permit));
    }
    drop(listener);
    let grace = tokio::time::timeout(limits.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    });
    if grace.await.is_err() {
        tracing::info!(
            connections = tasks.len(),
            "web clients still connected at the shutdown deadline are dropped"
        );
        tasks.shutdown().await;
    }
}

/// A slot for a new connection: a free one, else one freed by evicting the
/// stalest idle connection. `None` turns the client away.
async fn admit(permits: &Arc<Semaphore>, table: &Table) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = permits.clone().try_acquire_owned() {
        return Some(permit);
    }
    if !table.evict_stalest() {
        return None;
    }
    // The evicted connection's task returns its permit as it ends.
    tokio::time::timeout(EVICTION_WAIT, permits.clone().acquire_owned())
        .await
        .ok()?
        .ok()
}

/// Out of descriptors: wait a moment (checks may be using them); anything
/// else (a client that reset during the handshake) is the client's problem.
async fn accept_failed(err: &std::io::Error, stop: &CancellationToken) {
    if crate::fdlimit::is_out_of_descriptors(err) {
        tracing::warn!(error = %err, "cannot accept a web client: out of file descriptors");
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
        }
    } else {
        tracing::debug!(error = %err, "accept failed");
    }
}

/// The open connections, by id, as far as eviction needs to know them.
struct Table {
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    epoch: Instant,
}

/// One connection: whether a request is in flight, since when it has been
/// in its current state, and how to close it from outside.
struct Slot {
    id: u64,
    busy: AtomicBool,
    since_ms: AtomicU64,
    evict: CancellationToken,
}

impl Table {
    fn new() -> Self {
        Self {
            slots: Mutex::default(),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn insert(&self) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            busy: AtomicBool::new(false),
            since_ms: AtomicU64::new(self.now_ms()),
            evict: CancellationToken::new(),
        });
        self.lock().insert(slot.id, slot.clone());
        slot
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Marks a request started (`busy`) or answered.
    fn set_busy(&self, slot: &Slot, busy: bool) {
        slot.busy.store(busy, Ordering::Relaxed);
        slot.since_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Closes the connection idle the longest; false when every one has a
    /// request in flight (those are bounded by the request timeout).
    fn evict_stalest(&self) -> bool {
        let mut slots = self.lock();
        let stalest = slots
            .values()
            .filter(|slot| !slot.busy.load(Ordering::Relaxed))
            // Within one millisecond, the older connection goes first.
            .min_by_key(|slot| (slot.since_ms.load(Ordering::Relaxed), slot.id))
            .map(|slot| slot.id);
        let Some(slot) = stalest.and_then(|id| slots.remove(&id)) else {
            return false;
        };
        slot.evict.cancel();
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        // A panic elsewhere cannot leave the map half-changed: every change
        // is one insert or remove.
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One client connection.
struct Connection {
    router: Router,
    table: Arc<Table>,
    slot: Arc<Slot>,
    remote: SocketAddr,
    limits: Limits,
}

impl Connection {
    /// Serves HTTP/1 on `stream` until the client is done, the connection is
    /// evicted, or shutdown (then it may finish a request in flight; the
    /// server drops it at its deadline). Holds `_permit` until it ends.
    async fn run(
        self: Arc<Self>,
        builder: Arc<http1::Builder>,
        stream: TcpStream,
        stop: CancellationToken,
        _permit: OwnedSemaphorePermit,
    ) {
        let evicted = self.slot.evict.clone();
        let this = self.clone();
        let service = hyper::service::service_fn(move |request| this.clone().answer(request));
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let mut connection = std::pin::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => {}
            _ = evicted.cancelled() => {}
            // A connection without a request in flight (a half-sent head
            // included) has nothing to finish: it closes now; one with a
            // request closes after answering it.
            _ = stop.cancelled() => if self.slot.busy.load(Ordering::Relaxed) {
                connection.as_mut().graceful_shutdown();
                tokio::select! {
                    _ = connection.as_mut() => {}
                    _ = evicted.cancelled() => {}
                }
            }
        }
        self.table.remove(self.slot.id);
    }

    /// One request through the router, bounded by the request timeout, with
    /// the client's address for `ConnectInfo`.
    async fn answer(
        self: Arc<Self>,
        mut request: hyper::Request<Incoming>,
    ) -> Result<Response, Infallible> {
        request.extensions_mut().insert(ConnectInfo(self.remote));
        self.table.set_busy(&self.slot, true);
        let mut router = self.router.clone();
        let call = tower_service::Service::call(&mut router, request);
        let answered = tokio::time::timeout(self.limits.request_timeout, call).await;
        self.table.set_busy(&self.slot, false);
        Ok(match answered {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(_) => timed_out(self.limits.request_timeout),
        })
    }
}

/// The answer to a request that took too long (a body sent drop by drop, or
/// a stuck handler); closing the connection frees its slot.
fn timed_out(limit: Duration) -> Response {
    let message = format!(
        "the request was not answered within {}",
        humantime::format_duration(limit)
    );
    let body = axum::Json(serde_json::json!({ "error": message }));
    let close = [(http::header::CONNECTION, "close")];
    (http::StatusCode::SERVICE_UNAVAILABLE, close, body).into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::Router;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::Notify;
    use tokio_util::sync::CancellationToken;

    use super::{Limits, serve};

    /// Far beyond what any step below needs on a loaded machine.
    const BOUND: Duration = Duration::from_secs(5);

    /// A server whose `/slow` signals `entered`, then answers once `release` is notified.
    async fn start(
        grace: Duration,
    ) -> (
        std::net::SocketAddr,
        CancellationToken,
        Arc<Notify>,
        Arc<Notify>,
        tokio::task::JoinHandle<()>,
    ) {
        let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (signal, wait) = (entered.clone(), release.clone());
        let router = Router::new().route(
            "/slow",
            get(move || async move {
                signal.notify_one();
                wait.notified().await;
                "done"
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        let stop = CancellationToken::new();
        let limits = Limits {
            shutdown_grace: grace,
            ..Limits::default()
        };
        let server = tokio::spawn(serve(listener, router, limits, stop.clone()));
        (addr, stop, entered, release, server)
    }

    async fn send(addr: std::net::SocketAddr, bytes: &[u8]) -> TcpStream {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(bytes).await.expect("send");
        stream
    }

    /// Everything until the server closes, or `None` if it does not within [`BOUND`].
    async fn read_to_close(stream: &mut TcpStream) -> Option<String> {
        let mut raw = Vec::new();
        let read = tokio::time::timeout(BOUND, stream.read_to_end(&mut raw)).await;
        read.ok()
            .map(|_| String::from_utf8_lossy(&raw).into_owned())
    }

    #[tokio::test]
    async fn at_shutdown_a_request_in_flight_is_answered_and_an_idle_client_closed() {
        let (addr, stop, entered, release, server) = start(Duration::from_secs(30)).await;
        let mut busy = send(addr, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let mut idle = send(addr, b"GET /sl").await;
        tokio::time::timeout(BOUND, entered.notified())
            .await
            .expect("the handler runs");
        stop.cancel();
        // Well within the 30 s grace: a half-sent head has nothing to finish.
        let closed = read_to_close(&mut idle).await;
        assert_eq!(
            closed.as_deref(),
            Some(""),
            "the idle client is closed at once"
        );
        release.notify_one();
        let answer = read_to_close(&mut busy).await.expect("an answer");
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("done"),
            "{answer}"
        );
        tokio::time::timeout(BOUND, server)
            .await
            .expect("the server stops")
            .expect("no panic");
    }

    #[tokio::test]
    async fn past_the_grace_a_request_still_in_flight_is_dropped() {
        let (addr, stop, entered, _release, server) = start(Duration::from_millis(100)).await;
        let mut busy = send(addr, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await;
        tokio::time::timeout(BOUND, entered.notified())
            .await
            .expect("the handler runs");
        stop.cancel();
        tokio::time::timeout(BOUND, server)
            .await
            .expect("the server stops")
            .expect("no panic");
        assert_eq!(
            read_to_close(&mut busy).await.as_deref(),
            Some(""),
            "dropped without an answer"
        );
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "no longer accepting"
        );
    }
}
