//! The icmp probe against real hosts: loopback (IPv4 and IPv6), and a
//! network namespace this test creates, answers from, routes into an
//! unreachable route, and then takes down; and the daemon in a namespace
//! that allows it neither socket kind.

use std::process::Command;

use hopwatch::config::MonitorConfig;
use hopwatch::config::compile;
use hopwatch::monitor::trust::TrustStore;
use hopwatch::probe::{Cause, CheckResult, Hop};
use serde_json::{Value, json};

use crate::helpers::{config_yaml, free_port, require, try_send};

/// Compiles an icmp monitor with `fields` through the config path and runs
/// one check.
async fn ping(fields: Value) -> CheckResult {
    let mut monitor = json!({"name": "p", "type": "icmp", "timeout": "2s"});
    let (Some(monitor_fields), Value::Object(extra)) = (monitor.as_object_mut(), fields) else {
        panic!("monitor fields must be an object");
    };
    monitor_fields.extend(extra);
    let config: MonitorConfig = serde_json::from_value(monitor).expect("a valid icmp monitor");
    let spec =
        compile::probe(&config, &TrustStore::default()).expect("an icmp monitor that compiles");
    hopwatch::probe::run(&spec).await
}

fn assert_up(result: &CheckResult) {
    assert_eq!(result.cause, Cause::Ok, "{:?}", result.error);
    assert_eq!(result.verdict.hop, Hop::None);
    assert_eq!(result.packet_loss, Some(0.0));
    let rtt = result.rtt_ms.expect("round trips of answered echoes");
    assert!(rtt.min <= rtt.avg && rtt.avg <= rtt.max, "{rtt:?}");
    assert!(
        result.verdict.summary.contains("0% loss"),
        "{:?}",
        result.verdict
    );
    let json = serde_json::to_value(result).unwrap();
    let phases = json["phases_ms"].as_object().expect("phases_ms");
    assert_eq!(phases.len(), 5, "all five phases stay: {phases:?}");
    assert!(json["packet_loss"].is_number() && json["rtt_ms"]["avg"].is_number());
}

#[tokio::test]
async fn loopback_v4_answers_without_loss() {
    let result = ping(json!({"target": "127.0.0.1"})).await;
    assert_up(&result);
    assert_eq!(
        result.remote_addr.map(|a| a.ip().to_string()).as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(result.phases_ms.dns, 0.0, "an IP literal has no dns phase");
}

#[tokio::test]
async fn loopback_v6_answers_without_loss() {
    let result = ping(json!({"target": "::1", "count": 2})).await;
    assert_up(&result);
    assert_eq!(
        result.remote_addr.map(|a| a.ip().to_string()).as_deref(),
        Some("::1")
    );
}

#[tokio::test]
async fn a_name_is_resolved_first() {
    let result = ping(json!({"target": "localhost", "count": 1})).await;
    assert_up(&result);
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_nxdomain() {
    let result = ping(json!({"target": "x.invalid"})).await;
    assert_eq!(result.cause, Cause::DnsNxdomain, "{:?}", result.error);
    assert_eq!(result.verdict.hop, Hop::Dns);
    assert_eq!(result.packet_loss, None, "nothing was sent");
}

/// A network namespace joined to this one by a veth pair, deleted (with the
/// pair) on drop.
struct Namespace {
    name: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|err| format!("cannot run ip: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Namespace {
    /// The namespace answers at `inner`; behind it, `routed` is on an
    /// `unreachable` route, which the namespace reports as ICMP host
    /// unreachable because it forwards.
    fn create(name: &str, outer_if: &str, inner_if: &str, net: u8) -> Result<Self, String> {
        ip(&["netns", "add", name])?;
        let ns = Namespace {
            name: name.to_owned(),
        };
        let outer = format!("198.18.{net}.1/29");
        let inner = format!("198.18.{net}.2/29");
        let behind = format!("198.19.{net}.0/30");
        let routed = format!("198.19.{net}.1");
        let via = format!("198.18.{net}.2");
        let exec = |args: &[&str]| {
            let mut all = vec!["netns", "exec", name];
            all.extend_from_slice(args);
            ip(&all)
        };
        ip(&[
            "link", "add", outer_if, "type", "veth", "peer", "name", inner_if,
        ])?;
        ip(&["link", "set", inner_if, "netns", name])?;
        ip(&["addr", "add", &outer, "dev", outer_if])?;
        ip(&["link", "set", outer_if, "up"])?;
        ip(&["route", "add", &behind, "via", &via])?;
        exec(&["ip", "addr", "add", &inner, "dev", inner_if])?;
        exec(&["ip", "link", "set", inner_if, "up"])?;
        exec(&["ip", "link", "set", "lo", "up"])?;
        exec(&["ip", "route", "add", "unreachable", &routed])?;
        exec(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])?;
        Ok(ns)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // The veth pair and the route through it go with the namespace.
        let _ = ip(&["netns", "del", &self.name]);
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[tokio::test]
async fn a_namespace_answers_reports_unreachable_then_falls_silent() {
    if !is_root() {
        eprintln!(
            "skipped: creating a network namespace needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
        );
        return;
    }
    let pid = std::process::id();
    let net = (pid % 200 + 20) as u8;
    let name = format!("hopwatch-icmp-{pid}");
    let (outer_if, inner_if) = (format!("hwi{pid}a"), format!("hwi{pid}b"));
    let ns = match Namespace::create(&name, &outer_if, &inner_if, net) {
        Ok(ns) => ns,
        Err(reason) => {
            // Containers without CAP_SYS_ADMIN cannot make namespaces.
            let _ = ip(&["netns", "del", &name]);
            eprintln!("skipped: cannot build the test network: {reason}");
            return;
        }
    };
    let inner = format!("198.18.{net}.2");

    let up = ping(json!({"target": inner, "count": 2})).await;
    assert_up(&up);

    let routed = format!("198.19.{net}.1");
    let unreachable = ping(json!({"target": routed})).await;
    assert_eq!(
        unreachable.cause,
        Cause::IcmpUnreachable,
        "{:?}",
        unreachable.error
    );
    assert_eq!(unreachable.verdict.hop, Hop::Network);
    assert_eq!(unreachable.packet_loss, Some(1.0));
    assert_eq!(unreachable.rtt_ms, None);
    let error = unreachable.error.as_deref().unwrap_or_default();
    assert!(error.contains("unreachable"), "{error}");

    // Taken down: the host's link goes away, so nothing answers at all.
    let exec = [
        "netns", "exec", &name, "ip", "link", "set", &inner_if, "down",
    ];
    ip(&exec).expect("the namespace's link goes down");
    let down = ping(json!({"target": inner, "count": 2, "timeout": "1s"})).await;
    assert!(
        matches!(down.cause, Cause::Timeout | Cause::IcmpUnreachable),
        "{:?}: {:?}",
        down.cause,
        down.error
    );
    assert_eq!(down.verdict.hop, Hop::Network, "{:?}", down.verdict);
    assert_eq!(down.packet_loss, Some(1.0));
    assert!(
        down.latency_ms <= 1500.0,
        "bounded by the timeout: {}",
        down.latency_ms
    );
    drop(ns);
}

/// Runs `check` on a thread of its own that has joined the network
/// namespace `name`: the probe's sockets are made there.
fn in_namespace<T: Send + 'static>(
    name: &str,
    check: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{name}");
    let file = std::fs::File::open(&path).map_err(|err| format!("{path}: {err}"))?;
    std::thread::spawn(move || {
        // SAFETY: the descriptor names a network namespace and stays open
        // for the call; only this thread moves into it.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(format!("setns: {}", std::io::Error::last_os_error()));
        }
        Ok(check())
    })
    .join()
    .map_err(|_| "the namespace's thread panicked".to_owned())?
}

#[test]
fn the_unprivileged_socket_answers_where_ping_group_range_allows_it() {
    if !is_root() {
        eprintln!("skipped: making a network namespace needs root");
        return;
    }
    let name = format!("hw-dgram-{}", std::process::id());
    if let Err(err) = ip(&["netns", "add", &name]) {
        eprintln!("skipped: cannot make a network namespace: {err}");
        return;
    }
    let ns = Namespace { name: name.clone() };
    let exec = |args: &[&str]| {
        let mut all = vec!["netns", "exec", name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    };
    exec(&["ip", "link", "set", "lo", "up"]).expect("loopback up");
    // Every group may open ICMP datagram sockets here, so the probe's
    // first choice, the unprivileged socket, is the one it uses (a raw
    // socket is only its fallback when this is refused).
    exec(&[
        "sysctl",
        "-q",
        "-w",
        "net.ipv4.ping_group_range=0 2147483647",
    ])
    .expect("open ping_group_range in the namespace");
    let result = in_namespace(&name, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(ping(json!({"target": "127.0.0.1", "count": 2})))
    })
    .expect("a check inside the namespace");
    drop(ns);
    assert_up(&result);
}

/// Kills the daemon it holds when dropped, so a failed assertion leaves no
/// process behind in the namespace.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The newest CHECK of monitor `name` from the daemon's API at `addr`,
/// polled (bounded, 20 s) until there is one.
async fn first_check(addr: std::net::SocketAddr, name: &str) -> Result<Value, String> {
    let path = format!("/api/v1/monitors/{name}/checks?limit=1");
    let mut last = String::from("no answer yet");
    for _ in 0..200 {
        let request = http::Request::get(path.as_str());
        match try_send(addr, request, Vec::new()).await {
            Ok(answer) if answer.status() == 200 => {
                let checks: Value = serde_json::from_slice(answer.body())
                    .map_err(|err| format!("the checks are not JSON: {err}"))?;
                if let Some(check) = checks.as_array().and_then(|all| all.first()) {
                    return Ok(check.clone());
                }
                last = "no check stored yet".to_owned();
            }
            Ok(answer) => last = format!("HTTP {}", answer.status()),
            Err(err) => last = err.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!("the daemon stored no check: {last}"))
}

#[test]
fn with_neither_socket_kind_allowed_the_first_check_says_what_to_set() {
    if !is_root() {
        eprintln!("skipped: making a network namespace needs root");
        return;
    }
    let setpriv = require("setpriv");
    let name = format!("hw-noping-{}", std::process::id());
    if let Err(err) = ip(&["netns", "add", &name]) {
        eprintln!("skipped: cannot make a network namespace: {err}");
        return;
    }
    let ns = Namespace { name: name.clone() };
    let exec = |args: &[&str]| {
        let mut all = vec!["netns", "exec", name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    };
    exec(&["ip", "link", "set", "lo", "up"]).expect("loopback up");
    // A low end above the high one admits no group at all (the kernel's
    // own default), so the unprivileged socket is refused to every user.
    exec(&["sysctl", "-q", "-w", "net.ipv4.ping_group_range=1 0"])
        .expect("close ping_group_range in the namespace");

    let dir = tempfile::tempdir().expect("temp dir");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = dir.path().join("hopwatch.yaml");
    let monitor = "  - { name: ping, type: icmp, target: 127.0.0.1, count: 1, \
                   interval: 1s, timeout: 1s }\n";
    std::fs::write(
        &config,
        config_yaml(
            &format!("listen: {addr}"),
            &dir.path().join("hopwatch.db"),
            &format!("monitors:\n{monitor}"),
        ),
    )
    .expect("write config");
    // The daemon as a user runs it, in the namespace and without
    // CAP_NET_RAW: root otherwise, so that file modes play no part, but
    // with the capability gone from its bounding and inheritable sets it
    // cannot get it back at exec.
    let daemon = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &name])
            .arg(setpriv)
            .args(["--inh-caps=-net_raw", "--bounding-set=-net_raw", "--"])
            .arg(env!("CARGO_BIN_EXE_hopwatch"))
            .arg("run")
            .arg("-c")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start hopwatch in the namespace"),
    );
    let check = in_namespace(&name, move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(first_check(addr, "ping"))
    })
    .expect("a client inside the namespace")
    .unwrap_or_else(|err| panic!("{err}"));
    drop(daemon);
    drop(ns);

    // hopwatch's own failure, not the host's: unknown, not down.
    assert_eq!(check["cause"], "unknown", "{check}");
    assert_eq!(check["ok"], false, "{check}");
    assert!(check["packet_loss"].is_null(), "nothing was sent: {check}");
    let error = check["error"].as_str().unwrap_or_default();
    eprintln!("the first check said: {error}");
    for needed in [
        "net.ipv4.ping_group_range=\"0 2147483647\"",
        "CAP_NET_RAW",
        "Permission denied",
        "Operation not permitted",
    ] {
        assert!(error.contains(needed), "{needed}: {error}");
    }
    assert!(!error.contains("panicked"), "{error}");
}
