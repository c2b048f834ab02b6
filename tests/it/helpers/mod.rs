//! The integration-test harness: the daemon in process (`spawn_app`) or as a
//! binary, real gateways (nginx, haproxy) in front of a switchable origin,
//! misbehaving HTTP peers, TLS peers with made-up certs, and a real
//! PostgreSQL. Tests import from here; the files below hold one concern each.
// Every test file uses a part of this module, none uses all of it.
#![allow(dead_code)]

mod binary;
mod checks;
mod client;
mod daemon;
mod gateways;
mod origin;
mod outbox;
mod peers;
mod postgres;
mod proxy;
mod smtp;
mod tls;
mod webhook;
mod wire;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use binary::{count_rows, signal, sqlite_pool, start_binary, wait_exit};
pub use checks::{assert_cause, assert_hop, assert_responder, check, monitor as checks_monitor};
pub use client::{ClientError, http_get, send, try_send};
pub use daemon::{
    TestApp, config_text, config_yaml, spawn_app, spawn_app_config, spawn_app_in, spawn_app_stored,
    spawn_app_with, spawn_app_with_routes,
};
pub use gateways::{Gateway, GatewayOpts, Haproxy, Nginx};
pub use origin::{Mode, Origin};
pub use outbox::{dispatcher, firing_delivery, open_incident};
pub use peers::{
    Peer, blackhole, spawn_close_before_headers, spawn_delayed, spawn_garbage,
    spawn_headers_then_stall, spawn_huge_body, spawn_redirect_loop, spawn_reset, spawn_slow_drip,
    spawn_status,
};
pub use postgres::{TestDatabase, both_stores, test_database};
pub use proxy::Relay;
pub use smtp::{SmtpServer, read_maildir, spawn_scripted_smtp};
pub use tls::{CertFiles, CertKind, TlsPeer, cert_files, spawn_tls, spawn_tls_status};
pub use webhook::{Receiver, Reply};

/// Every server of the harness listens here.
pub const LOCALHOST: &str = "127.0.0.1";
/// Waiting for a process or a counter polls this often...
const POLL: Duration = Duration::from_millis(50);
/// ...at most this many times (10s): a hung dependency fails the test instead of hanging it.
const MAX_POLLS: usize = 200;

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

/// Polls `done` until it holds; panics with `what` after `within`. For
/// conditions that must ask the daemon (its API, its store).
pub async fn wait_until_async(what: &str, within: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if done().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("gave up waiting after {within:?}: {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}
