//! The integration-test harness: real gateways (nginx, haproxy) in front of a
//! switchable origin, misbehaving HTTP peers, and TLS peers with made-up certs.
// Every test file uses a part of this module, none uses all of it.
#![allow(dead_code)]

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hopwatch::config::MonitorConfig;
use hopwatch::config::compile;
use hopwatch::monitor::trust::TrustStore;
use hopwatch::probe::{Cause, CheckResult, Hop, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Every server of the harness listens here.
pub const LOCALHOST: &str = "127.0.0.1";
/// Connections a test server accepts before it stops: a bound on every accept loop.
const MAX_CONNECTIONS: usize = 10_000;
/// Waiting for a process or a counter polls this often...
const POLL: Duration = Duration::from_millis(50);
/// ...at most this many times (10s): a hung dependency fails the test instead of hanging it.
const MAX_POLLS: usize = 200;
/// The healthy answer of the origin and of the TLS peers.
pub const HEALTHY_BODY: &str = r#"{"status":"ok"}"#;

// ---------------------------------------------------------------- basics

/// A port that was free a moment ago. Whoever binds it next may lose a race
/// with another test, so the gateway launchers retry on "address in use".
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind((LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// Where the `name` program is: on PATH, else in the sbin folders that are
/// missing from many users' PATH (nginx and haproxy live there). When it is
/// nowhere, the path it would have in `/usr/sbin`.
pub fn sbin(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let sbins = ["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from);
    on_path
        .into_iter()
        .chain(sbins)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| Path::new("/usr/sbin").join(name))
}

/// The path of `cmd`, or a panic that says how to get it: a test that needs
/// a real gateway must fail loudly without one, never pass by skipping.
pub fn require(cmd: &str) -> PathBuf {
    let path = sbin(cmd);
    assert!(path.is_file(), "{cmd} not installed: run scripts/test");
    path
}

/// A monitor from JSON, the shape a config file has; `name` defaults to `test`.
pub fn monitor(mut json: serde_json::Value) -> MonitorConfig {
    if let Some(fields) = json.as_object_mut() {
        fields.entry("name").or_insert_with(|| "test".into());
    }
    serde_json::from_value(json.clone())
        .unwrap_or_else(|err| panic!("not a monitor: {err}\n{json:#}"))
}

/// Compiles the monitor and runs one check of it, as the scheduler would.
pub async fn check(json: serde_json::Value) -> CheckResult {
    let monitor = monitor(json);
    let spec = compile::probe(&monitor, &TrustStore::default())
        .unwrap_or_else(|errors| panic!("monitor does not compile: {errors:?}"));
    hopwatch::probe::run(&spec).await
}

/// Asserts the cause, showing the whole result when it differs.
#[track_caller]
pub fn assert_cause(result: &CheckResult, cause: Cause) {
    assert_eq!(
        result.cause, cause,
        "wrong cause; the whole result:\n{result:#?}"
    );
    assert_eq!(
        result.ok,
        cause == Cause::Ok,
        "ok disagrees with the cause:\n{result:#?}"
    );
}

/// Asserts who answered.
#[track_caller]
pub fn assert_responder(result: &CheckResult, role: Role, product: Option<&str>) {
    let responder = result
        .responder
        .as_ref()
        .unwrap_or_else(|| panic!("no responder:\n{result:#?}"));
    assert_eq!(responder.role, role, "wrong responder role:\n{result:#?}");
    assert_eq!(
        responder.product.as_deref(),
        product,
        "wrong responder product:\n{result:#?}"
    );
}

/// Asserts the hop the verdict blames.
#[track_caller]
pub fn assert_hop(result: &CheckResult, hop: Hop) {
    assert_eq!(result.verdict.hop, hop, "wrong verdict:\n{result:#?}");
}

/// Polls `done` until it holds; panics with `what` after [`MAX_POLLS`].
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..MAX_POLLS {
        if done() {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!("gave up waiting: {what}");
}

/// Reads one request head, and the body a Content-Length announces, so that
/// closing afterwards sends FIN (unread data would turn the close into RST).
/// `None` when the client went away or sent an absurd head.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    const MAX_HEAD: usize = 64 * 1024;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let announced = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut missing = announced.saturating_sub(buf.len() - head_end);
    while missing > 0 {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        missing = missing.saturating_sub(n);
    }
    Some(head)
}

/// A complete HTTP/1.1 response that closes the connection.
fn response(status: u16, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Whatever");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn healthy_response() -> Vec<u8> {
    let json = [("Content-Type".to_owned(), "application/json".to_owned())];
    response(200, &json, HEALTHY_BODY.as_bytes())
}

/// What a misconfigured port speaks instead of HTTP: an SSH banner.
const GARBAGE: &[u8] =
    b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x00\x01\x14\x0a\x14 not http at all\r\n";

/// Runs `serve` on every connection `listener` accepts. The connections live
/// in a `JoinSet` owned by the loop, so aborting the loop ends them too.
fn accept_loop<F, Fut>(listener: TcpListener, serve: F) -> JoinHandle<()>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        for _ in 0..MAX_CONNECTIONS {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            connections.spawn(serve(stream));
            while connections.try_join_next().is_some() {}
        }
    })
}

// ---------------------------------------------------------------- origin

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

// ---------------------------------------------------------------- gateways

/// Timeouts of a gateway towards its one upstream.
#[derive(Debug, Clone, Copy)]
pub struct GatewayOpts {
    /// nginx `proxy_read_timeout`, haproxy `timeout server`. Default 5s.
    pub read_timeout: Duration,
    /// nginx `proxy_connect_timeout`, haproxy `timeout connect`. Default 1s.
    pub connect_timeout: Duration,
}

impl Default for GatewayOpts {
    fn default() -> Self {
        Self {
            read_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
        }
    }
}

impl GatewayOpts {
    /// Gives up on the upstream after `read_timeout`: for 504 tests.
    pub fn read_timeout(read_timeout: Duration) -> Self {
        Self {
            read_timeout,
            ..Self::default()
        }
    }
}

/// A running gateway process with its own temp dir (config, pid, logs, temp
/// paths); killed when dropped.
pub struct Gateway {
    port: u16,
    product: &'static str,
    child: Child,
    dir: tempfile::TempDir,
}

impl Gateway {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// `nginx` or `haproxy`.
    pub fn product(&self) -> &'static str {
        self.product
    }

    /// Everything the gateway logged, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for name in ["error.log", "stderr.log"] {
            if let Ok(log) = std::fs::read_to_string(self.dir.path().join(name)) {
                text.push_str(&format!("--- {name}\n{log}"));
            }
        }
        text
    }

    /// Starts `exe` with the config `render` writes for a fresh port, retrying
    /// with another port when a parallel test took it first.
    async fn launch(
        product: &'static str,
        render: impl Fn(&Path, u16) -> (String, Vec<String>),
    ) -> Gateway {
        let exe = require(product);
        let mut last_logs = String::new();
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix(&format!("hopwatch-{product}-"))
                .tempdir()
                .expect("a temp dir for the gateway");
            let port = free_port();
            let (config, args) = render(dir.path(), port);
            std::fs::write(dir.path().join(format!("{product}.conf")), config)
                .expect("write the gateway config");
            let log = File::create(dir.path().join("stderr.log"))
                .expect("create the gateway's stderr.log");
            let child = Command::new(&exe)
                .args(&args)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone a file handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|err| panic!("cannot start {}: {err}", exe.display()));
            let mut gateway = Gateway {
                port,
                product,
                child,
                dir,
            };
            if gateway.wait_ready().await {
                return gateway;
            }
            last_logs = gateway.logs();
            if !last_logs.contains("in use") {
                break;
            }
        }
        panic!("{product} did not start:\n{last_logs}");
    }

    /// True once the port accepts; false when the process exited first.
    async fn wait_ready(&mut self) -> bool {
        for _ in 0..MAX_POLLS {
            if let Ok(Some(_status)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(self.addr()).await.is_ok() {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!(
            "{} does not listen on {} after 10s:\n{}",
            self.product,
            self.port,
            self.logs()
        );
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ms(duration: Duration) -> u128 {
    duration.as_millis().max(1)
}

/// nginx as a reverse proxy in front of one upstream.
pub struct Nginx;

impl Nginx {
    /// One process (`master_process off`, `daemon off`), so it runs as
    /// whoever starts it, root included, and dies with its `Child`.
    pub async fn start(upstream_port: u16, opts: GatewayOpts) -> Gateway {
        Gateway::launch("nginx", |dir, port| {
            let d = dir.display();
            let config = format!(
                "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen {LOCALHOST}:{port};
        location / {{
            proxy_pass http://{LOCALHOST}:{upstream_port};
            proxy_connect_timeout {connect}ms;
            proxy_read_timeout {read}ms;
            proxy_send_timeout {read}ms;
        }}
    }}
}}
",
                connect = ms(opts.connect_timeout),
                read = ms(opts.read_timeout),
            );
            let args = vec![
                "-p".to_owned(),
                format!("{d}/"),
                "-c".to_owned(),
                format!("{d}/nginx.conf"),
                // Before reading its config nginx opens its built-in error
                // log; -e keeps even that inside the temp dir.
                "-e".to_owned(),
                format!("{d}/error.log"),
            ];
            (config, args)
        })
        .await
    }
}

/// haproxy in HTTP mode in front of one upstream server.
pub struct Haproxy;

impl Haproxy {
    /// The server has no health check, so haproxy really tries it on every
    /// request and answers with its own 502/503/504 pages.
    pub async fn start(upstream_port: u16, opts: GatewayOpts) -> Gateway {
        Gateway::launch("haproxy", |dir, port| {
            let config = format!(
                "global
    maxconn 256
defaults
    mode http
    retries 1
    timeout connect {connect}ms
    timeout client 30s
    timeout server {read}ms
frontend edge
    bind {LOCALHOST}:{port}
    default_backend app
backend app
    server origin {LOCALHOST}:{upstream_port}
",
                connect = ms(opts.connect_timeout),
                read = ms(opts.read_timeout),
            );
            // -db: stay in the foreground, so killing the child ends it.
            let args = vec![
                "-db".to_owned(),
                "-f".to_owned(),
                format!("{}/haproxy.conf", dir.display()),
            ];
            (config, args)
        })
        .await
    }
}

// ---------------------------------------------------------------- peers

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

// ---------------------------------------------------------------- TLS

/// The certificate a TLS peer presents.
#[derive(Debug, Clone, Copy)]
pub enum CertKind {
    /// Signed by the test CA for `localhost` and `127.0.0.1`, expiring in this many days.
    Valid { days_left: i64 },
    /// For `localhost`, signed by itself: no CA vouches for it.
    SelfSigned,
    /// Signed by the test CA, expired two days ago.
    Expired,
    /// Signed by the test CA for `other.example` only.
    WrongName,
    /// Valid for `localhost`, but signed by an impostor that carries the test
    /// CA's name with another key (of another algorithm): untrusted, although
    /// a trusted CA of that name exists.
    ForgedIssuer,
}

/// An HTTPS server (HTTP/1.1 over rustls) answering 200 `{"status":"ok"}`.
pub struct TlsPeer {
    pub addr: SocketAddr,
    /// The CA that signed the leaf (the leaf itself when self-signed).
    pub ca_pem: String,
    ca_file: tempfile::TempPath,
    handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TlsPeer {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://localhost:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port())
    }

    /// `ca_pem` written to a file, for a monitor's `ca_file`.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// Handshakes completed (the client accepted the certificate).
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a TLS peer presenting a certificate of `kind`.
pub async fn spawn_tls(kind: CertKind) -> TlsPeer {
    spawn_tls_answering(kind, healthy_response()).await
}

/// A TLS peer answering `code` with these headers and body.
pub async fn spawn_tls_status(kind: CertKind, code: u16, headers: &[(&str, &str)]) -> TlsPeer {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    spawn_tls_answering(kind, response(code, &headers, b"")).await
}

async fn spawn_tls_answering(kind: CertKind, answer: Vec<u8>) -> TlsPeer {
    let (chain, key, ca_pem) = make_certs(kind);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a usable server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let mut ca_file = tempfile::Builder::new()
        .prefix("hopwatch-ca-")
        .suffix(".pem")
        .tempfile()
        .expect("a temp file for the CA");
    std::io::Write::write_all(&mut ca_file, ca_pem.as_bytes()).expect("write the CA file");
    let listener = TcpListener::bind((LOCALHOST, 0))
        .await
        .expect("bind a TLS peer");
    let addr = listener.local_addr().expect("the TLS peer's address");
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counter = handshakes.clone();
    let answer = Arc::new(answer);
    let task = accept_loop(listener, move |stream| {
        let (acceptor, counter, answer) = (acceptor.clone(), counter.clone(), answer.clone());
        async move {
            // A client that rejects the certificate aborts the handshake: fine.
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            if read_request(&mut tls).await.is_some() {
                let _ = tls.write_all(&answer).await;
            }
            let _ = tls.shutdown().await;
        }
    });
    TlsPeer {
        addr,
        ca_pem,
        ca_file: ca_file.into_temp_path(),
        handshakes,
        task,
    }
}

type Chain = Vec<rustls::pki_types::CertificateDer<'static>>;
type Key = rustls::pki_types::PrivateKeyDer<'static>;

/// A CA and a leaf of `kind`, both generated now so expiry is relative to today.
fn make_certs(kind: CertKind) -> (Chain, Key, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let now = time::OffsetDateTime::now_utc();
    let days = time::Duration::days;

    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    // Distinctive names: a CA or leaf named like an anchor of the system
    // trust store (some hosts trust a "CN=localhost") would be checked
    // against that anchor and fail differently.
    ca.distinguished_name
        .push(DnType::CommonName, "hopwatch test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = now - days(30);
    ca.not_after = now + days(3650);
    let ca_cert = ca.self_signed(&ca_key).expect("a CA certificate");

    let names = match kind {
        CertKind::WrongName => vec!["other.example".to_owned()],
        _ => vec!["localhost".to_owned(), LOCALHOST.to_owned()],
    };
    let mut leaf = CertificateParams::new(names.clone()).expect("leaf params");
    leaf.distinguished_name.push(
        DnType::CommonName,
        format!("hopwatch test leaf for {}", names[0]),
    );
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    (leaf.not_before, leaf.not_after) = match kind {
        CertKind::Valid { days_left } => (now - days(1), now + days(days_left)),
        CertKind::Expired => (now - days(30), now - days(2)),
        CertKind::SelfSigned | CertKind::WrongName | CertKind::ForgedIssuer => {
            (now - days(1), now + days(90))
        }
    };
    let leaf_key = KeyPair::generate().expect("a leaf key");
    let (leaf_cert, ca_pem) = match kind {
        CertKind::SelfSigned => {
            let cert = leaf
                .self_signed(&leaf_key)
                .expect("a self-signed certificate");
            let pem = cert.pem();
            (cert, pem)
        }
        CertKind::ForgedIssuer => {
            let impostor_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("an Ed25519 key");
            let issuer = Issuer::new(ca, &impostor_key);
            let cert = leaf
                .signed_by(&leaf_key, &issuer)
                .expect("a certificate signed by the impostor");
            (cert, ca_cert.pem())
        }
        _ => {
            let issuer = Issuer::new(ca, &ca_key);
            let cert = leaf
                .signed_by(&leaf_key, &issuer)
                .expect("a CA-signed certificate");
            (cert, ca_cert.pem())
        }
    };
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(leaf_key.serialize_der());
    (vec![leaf_cert.der().clone()], key.into(), ca_pem)
}
