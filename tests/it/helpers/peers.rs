//! Misbehaving HTTP peers (garbage, resets, stalls, huge bodies, redirect
//! loops) that count what they saw, and a blackhole that drops SYNs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use super::wire::{GARBAGE, accept_loop, read_request, response};
use super::{LOCALHOST, wait_until};

/// What a misbehaving peer does with each connection.
#[derive(Debug, Clone)]
enum Behaviour {
    Garbage,
    CloseBeforeHeaders,
    Reset,
    HeadersThenStall,
    SlowDrip,
    HugeBody(u64),
    RedirectLoop,
    Status(u16, Vec<(String, String)>, String),
    Delayed(Duration, u16, String),
}

#[derive(Default)]
struct PeerStats {
    requests: AtomicUsize,
    bytes_written: AtomicU64,
    closed_early: AtomicUsize,
    finished: AtomicUsize,
    heads: Mutex<Vec<String>>,
}

/// A misbehaving HTTP peer on 127.0.0.1 that counts what it saw; it stops
/// when dropped.
pub struct Peer {
    pub addr: SocketAddr,
    stats: Arc<PeerStats>,
    task: JoinHandle<()>,
}

impl Peer {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Request heads received.
    pub fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }

    /// The request heads received, oldest first.
    pub fn heads(&self) -> Vec<String> {
        self.stats.heads.lock().expect("peer heads").clone()
    }

    /// Body bytes the peer managed to hand to the kernel.
    pub fn bytes_written(&self) -> u64 {
        self.stats.bytes_written.load(Ordering::SeqCst)
    }

    /// Connections on which a write failed because the client had gone.
    pub fn closed_early(&self) -> usize {
        self.stats.closed_early.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until `n` connections were handled to the end.
    pub async fn wait_finished(&self, n: usize) {
        let stats = self.stats.clone();
        wait_until(
            &format!("{n} connections finished at {}", self.addr),
            || stats.finished.load(Ordering::SeqCst) >= n,
        )
        .await;
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn spawn_peer(behaviour: Behaviour) -> Peer {
    let listener = TcpListener::bind((LOCALHOST, 0))
        .await
        .expect("bind a peer");
    let addr = listener.local_addr().expect("the peer's address");
    let stats = Arc::new(PeerStats::default());
    let shared = stats.clone();
    let task = accept_loop(listener, move |stream| {
        let (behaviour, stats) = (behaviour.clone(), shared.clone());
        async move {
            misbehave(stream, &behaviour, &stats).await;
            stats.finished.fetch_add(1, Ordering::SeqCst);
        }
    });
    Peer { addr, stats, task }
}

async fn misbehave(mut stream: TcpStream, behaviour: &Behaviour, stats: &PeerStats) {
    let Some(head) = read_request(&mut stream).await else {
        return;
    };
    let number = stats.requests.fetch_add(1, Ordering::SeqCst) + 1;
    stats.heads.lock().expect("peer heads").push(head);
    let answer = match behaviour {
        Behaviour::Garbage => GARBAGE.to_vec(),
        Behaviour::CloseBeforeHeaders => Vec::new(),
        Behaviour::Reset => {
            // SO_LINGER 0: closing sends RST instead of FIN.
            let _ = stream.set_zero_linger();
            return;
        }
        Behaviour::HeadersThenStall => {
            let head =
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n";
            let _ = stream.write_all(head).await;
            // Never sends the promised body; the test ends (and drops us) first.
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        Behaviour::SlowDrip => {
            let head =
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n";
            if stream.write_all(head).await.is_err() {
                return;
            }
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if stream.write_all(b"x").await.is_err() {
                    stats.closed_early.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                stats.bytes_written.fetch_add(1, Ordering::SeqCst);
            }
            return;
        }
        Behaviour::HugeBody(size) => {
            huge_body(&mut stream, *size, stats).await;
            return;
        }
        Behaviour::RedirectLoop => {
            let next = [("Location".to_owned(), format!("/loop/{number}"))];
            response(302, &next, b"round and round")
        }
        Behaviour::Status(code, headers, body) => response(*code, headers, body.as_bytes()),
        Behaviour::Delayed(delay, code, body) => {
            tokio::time::sleep(*delay).await;
            response(*code, &[], body.as_bytes())
        }
    };
    let _ = stream.write_all(&answer).await;
    let _ = stream.shutdown().await;
}

async fn huge_body(stream: &mut TcpStream, size: u64, stats: &PeerStats) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![b'z'; 64 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64);
        let Ok(len) = usize::try_from(n) else { return };
        if stream.write_all(&chunk[..len]).await.is_err() {
            stats.closed_early.fetch_add(1, Ordering::SeqCst);
            return;
        }
        stats.bytes_written.fetch_add(n, Ordering::SeqCst);
        left -= n;
    }
}

/// Reads the request, answers with an SSH banner, closes.
pub async fn spawn_garbage() -> Peer {
    spawn_peer(Behaviour::Garbage).await
}

/// Reads the request and closes (FIN) without a byte of answer.
pub async fn spawn_close_before_headers() -> Peer {
    spawn_peer(Behaviour::CloseBeforeHeaders).await
}

/// Reads the request and resets the connection (RST).
pub async fn spawn_reset() -> Peer {
    spawn_peer(Behaviour::Reset).await
}

/// Sends a valid head promising 1000 body bytes, then nothing.
pub async fn spawn_headers_then_stall() -> Peer {
    spawn_peer(Behaviour::HeadersThenStall).await
}

/// Sends a valid head promising 100 bytes, then one byte every 200ms.
pub async fn spawn_slow_drip() -> Peer {
    spawn_peer(Behaviour::SlowDrip).await
}

/// Answers 200 with a `bytes`-long body (Content-Length set), streamed.
pub async fn spawn_huge_body(bytes: u64) -> Peer {
    spawn_peer(Behaviour::HugeBody(bytes)).await
}

/// Answers every request with a 302 to a new path, forever.
pub async fn spawn_redirect_loop() -> Peer {
    spawn_peer(Behaviour::RedirectLoop).await
}

/// Answers `code` with these headers and body.
pub async fn spawn_status(code: u16, headers: &[(&str, &str)], body: &str) -> Peer {
    let headers = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    spawn_peer(Behaviour::Status(code, headers, body.to_owned())).await
}

/// Waits `delay`, then answers `code` with `body`.
pub async fn spawn_delayed(delay: Duration, code: u16, body: &str) -> Peer {
    spawn_peer(Behaviour::Delayed(delay, code, body.to_owned())).await
}

/// An address whose SYNs go unanswered, like a firewall that drops packets.
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
}

/// Makes a [`Blackhole`] on loopback: a listener with a backlog of 1 that
/// never accepts. Once its accept queue is full, Linux drops new SYNs
/// (`tcp_abort_on_overflow` off, the default) instead of refusing them, so a
/// client's connect hangs until its own timeout, exactly as with a firewall.
/// The queue is filled until a connect attempt goes unanswered, which proves
/// the blackhole works before the test relies on it.
pub async fn blackhole() -> Blackhole {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind the blackhole");
    let listener = socket.listen(1).expect("listen with backlog 1");
    let addr = listener.local_addr().expect("the blackhole's address");
    let mut queued = Vec::new();
    for _ in 0..16 {
        // A loopback handshake completes inside connect(); 500ms without
        // one means the SYN was dropped.
        match tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => queued.push(stream),
            Ok(Err(err)) => panic!("filling the blackhole's queue failed: {err}"),
            Err(_unanswered) => {
                return Blackhole {
                    addr,
                    _listener: listener,
                    _queued: queued,
                };
            }
        }
    }
    panic!(
        "{addr} still answers after 16 queued connections: this kernel does not drop SYNs on a full backlog"
    );
}
