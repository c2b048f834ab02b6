//! The icmp probe against real hosts: loopback (IPv4 and IPv6), and a
//! network namespace this test creates, answers from, routes into an
//! unreachable route, and then takes down.

use std::process::Command;

use hopwatch::config::MonitorConfig;
use hopwatch::config::compile;
use hopwatch::monitor::trust::TrustStore;
use hopwatch::probe::{Cause, CheckResult, Hop};
use serde_json::{Value, json};

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
