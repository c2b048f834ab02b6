//! Compiling a monitor's config into what the probes run: every field
//! parsed and checked once, every problem reported, not just the first.

use std::net::SocketAddr;
use std::time::Duration;

use std::collections::HashSet;
use std::sync::Arc;

mod names;
mod net;
mod web;

use names::{build_dns, build_domain};
use net::{build_grpc, build_icmp, build_smtp};
use web::{build_http, build_websocket};

use super::LoadedConfig;
use super::schema::MonitorConfig;
use crate::monitor::spec::{HostPort, ProbeSpec, TcpSpec, TlsSpec};
use crate::monitor::trust::{TlsSettings, TrustStore};
use crate::monitor::{AddressMode, Monitor, MonitorKind};

/// Default `interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `expect.min_days` of a domain monitor: a month's notice leaves
/// time to renew through a registrar that needs days to act.
pub const DEFAULT_DOMAIN_MIN_DAYS: u32 = 30;
/// How much of a body is read; more is not an error, just not read.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// A problem with one field of a monitor, relative to the monitor
/// (`expect.body_regex`), so the config layer can prefix `monitors[3].`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Key path inside the monitor.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl FieldError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A monitor of a loaded config that did not compile (its CA file went
/// away between validation and start, say).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("monitor {name}: {message}")]
pub struct CompileError {
    /// The monitor.
    pub name: String,
    /// Every problem, `key: message; ...`.
    pub message: String,
}

impl LoadedConfig {
    /// Every monitor compiled, in config order, with store id 0 (the
    /// caller assigns ids).
    pub fn compile(&self) -> Result<Vec<Monitor>, CompileError> {
        each(&self.config.monitors, &self.trust)
            .into_iter()
            .collect()
    }
}

/// Each of `monitors` compiled, in order, with store id 0: the daemon's
/// whole config, or the monitors an agent is sent (which keeps the ones
/// that compile, and reports the others).
pub fn each(monitors: &[MonitorConfig], trust: &TrustStore) -> Vec<Result<Monitor, CompileError>> {
    let upstreams: HashSet<&str> = monitors
        .iter()
        .filter_map(|m| m.upstream.as_deref())
        .collect();
    monitors
        .iter()
        .map(|config| {
            monitor(config, upstreams.contains(config.name.as_str()), trust).map_err(|errors| {
                CompileError {
                    name: config.name.clone(),
                    message: errors
                        .iter()
                        .map(|e| format!("{}: {}", e.path, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                }
            })
        })
        .collect()
}

/// Compiles one monitor, `defaults` merged in.
pub fn monitor(
    config: &MonitorConfig,
    is_upstream: bool,
    trust: &TrustStore,
) -> Result<Monitor, Vec<FieldError>> {
    let spec = probe(config, trust)?;
    Ok(Monitor {
        id: 0,
        name: config.name.clone(),
        group: config.group.clone(),
        kind: config.kind,
        interval: config.interval.unwrap_or(DEFAULT_INTERVAL),
        timeout: config.timeout.unwrap_or(DEFAULT_TIMEOUT),
        confirm: config.confirm,
        grace: config.grace.unwrap_or_default(),
        token: config.token.clone().unwrap_or_default(),
        upstream: config.upstream.clone(),
        is_upstream,
        regions: config
            .regions
            .as_ref()
            .map(|regions| regions.iter().map(|r| Arc::from(r.as_str())).collect()),
        quorum: config.quorum,
        host: host_of(config),
        spec,
    })
}

/// Compiles a monitor whose `defaults` have already been merged in.
/// Returns every problem found, not just the first.
pub fn probe(monitor: &MonitorConfig, trust: &TrustStore) -> Result<ProbeSpec, Vec<FieldError>> {
    let mut errors = Vec::new();
    let timeout = monitor.timeout.unwrap_or(DEFAULT_TIMEOUT);
    reject_foreign_fields(monitor, &mut errors);
    let spec = match monitor.kind {
        MonitorKind::Http => build_http(monitor, trust, timeout, &mut errors)
            .map(Box::new)
            .map(ProbeSpec::Http),
        MonitorKind::Tcp => required_target(monitor, &mut errors).map(|target| {
            ProbeSpec::Tcp(TcpSpec {
                target,
                addresses: monitor.addresses,
                timeout,
                max_latency: monitor.expect.max_latency,
            })
        }),
        MonitorKind::Tls => {
            let target = required_target(monitor, &mut errors);
            let settings = tls_settings(monitor, trust, &mut errors);
            match (target, settings) {
                (Some(target), Some(tls)) => Some(ProbeSpec::Tls(TlsSpec {
                    target,
                    tls,
                    cert_min_days: monitor.expect.cert_min_days,
                    addresses: monitor.addresses,
                    timeout,
                    max_latency: monitor.expect.max_latency,
                })),
                _ => None,
            }
        }
        MonitorKind::Dns => build_dns(monitor, timeout, &mut errors).map(ProbeSpec::Dns),
        MonitorKind::Push => {
            if monitor.token.as_ref().is_none_or(|t| t.is_empty()) {
                errors.push(FieldError::new("token", "a push monitor needs a token"));
            }
            Some(ProbeSpec::Push)
        }
        MonitorKind::Smtp => build_smtp(monitor, trust, timeout, &mut errors).map(ProbeSpec::Smtp),
        MonitorKind::Domain => {
            build_domain(monitor, trust, timeout, &mut errors).map(ProbeSpec::Domain)
        }
        MonitorKind::Icmp => build_icmp(monitor, timeout, &mut errors).map(ProbeSpec::Icmp),
        MonitorKind::Grpc => build_grpc(monitor, trust, timeout, &mut errors).map(ProbeSpec::Grpc),
        MonitorKind::Websocket => build_websocket(monitor, trust, timeout, &mut errors)
            .map(Box::new)
            .map(ProbeSpec::Websocket),
    };
    match spec {
        Some(spec) if errors.is_empty() => Ok(spec),
        _ => Err(errors),
    }
}

/// `not used by an smtp monitor`: the refusal of a key another type owns.
pub fn not_used_by(kind: MonitorKind) -> String {
    format!("not used by {} monitor", a_kind(kind))
}

/// Keys that belong to another monitor type are refused: a `url` on a tcp
/// monitor is a mistake that would otherwise silently check something else.
fn reject_foreign_fields(m: &MonitorConfig, errors: &mut Vec<FieldError>) {
    let kind = m.kind;
    let is = |kinds: &[MonitorKind]| kinds.contains(&kind);
    use MonitorKind::*;
    let present: [(&str, bool, &[MonitorKind]); 20] = [
        ("url", m.url.is_some(), &[Http, Websocket]),
        ("method", m.method.is_some(), &[Http]),
        ("headers", !m.headers.is_empty(), &[Http, Websocket]),
        ("body", m.body.is_some(), &[Http]),
        ("resolve", m.resolve.is_some(), &[Http]),
        ("follow_redirects", m.follow_redirects.is_some(), &[Http]),
        ("insecure", m.insecure, &[Http, Tls, Smtp, Grpc, Websocket]),
        (
            "ca_file",
            m.ca_file.is_some(),
            &[Http, Tls, Smtp, Grpc, Websocket],
        ),
        ("target", m.target.is_some(), &[Tcp, Tls, Smtp, Icmp, Grpc]),
        ("query", m.query.is_some(), &[Dns]),
        ("record", m.record.is_some(), &[Dns]),
        ("server", m.server.is_some(), &[Dns]),
        ("grace", m.grace.is_some() || m.token.is_some(), &[Push]),
        ("starttls", m.starttls.is_some(), &[Smtp]),
        ("domain", m.domain.is_some(), &[Domain]),
        ("rdap_server", m.rdap_server.is_some(), &[Domain]),
        ("count", m.count.is_some(), &[Icmp]),
        ("service", m.service.is_some(), &[Grpc]),
        ("tls", m.tls.is_some(), &[Grpc]),
        ("send", m.send.is_some(), &[Websocket]),
    ];
    for (key, set, kinds) in present {
        if set && !is(kinds) {
            let key = if key == "grace" && m.grace.is_none() {
                "token"
            } else {
                key
            };
            errors.push(FieldError::new(key, not_used_by(kind)));
        }
    }
    let e = &m.expect;
    let expect_fields: [(&str, bool, &[MonitorKind]); 7] = [
        ("expect.status", e.status.is_some(), &[Http]),
        (
            "expect.body_contains",
            e.body_contains.is_some(),
            &[Http, Websocket],
        ),
        ("expect.body_regex", e.body_regex.is_some(), &[Http]),
        ("expect.json", !e.json.is_empty(), &[Http]),
        ("expect.headers", !e.headers.is_empty(), &[Http]),
        ("expect.answers", e.answers.is_some(), &[Dns]),
        ("expect.min_days", e.min_days.is_some(), &[Domain]),
    ];
    for (key, set, kinds) in expect_fields {
        if set && !is(kinds) {
            errors.push(FieldError::new(key, not_used_by(kind)));
        }
    }
    if e.cert_min_days.is_some() && !is(&[Http, Tls, Smtp, Grpc, Websocket]) {
        errors.push(FieldError::new("expect.cert_min_days", not_used_by(kind)));
    }
    // A domain check answers from a cache for hours: its latency says
    // nothing about the registry.
    if e.max_latency.is_some() && kind == Domain {
        errors.push(FieldError::new(
            "expect.max_latency",
            "not used by a domain monitor",
        ));
    }
    if m.addresses == AddressMode::All && !is(&[Http, Tcp, Tls]) {
        errors.push(FieldError::new("addresses", not_used_by(kind)));
    }
}

pub(super) fn required_target(m: &MonitorConfig, errors: &mut Vec<FieldError>) -> Option<HostPort> {
    let Some(text) = m.target.as_deref() else {
        errors.push(FieldError::new(
            "target",
            format!("{} monitor needs a target (host:port)", a_kind(m.kind)),
        ));
        return None;
    };
    match parse_host_port(text) {
        Some(target) => Some(target),
        None => {
            errors.push(FieldError::new(
                "target",
                format!("invalid target {text:?} (expected host:port, e.g. db.example.com:5432)"),
            ));
            None
        }
    }
}

/// Splits `host:port`, `[v6]:port` or `v4:port`.
pub fn parse_host_port(text: &str) -> Option<HostPort> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(HostPort {
            host: addr.ip().to_string(),
            port: addr.port(),
        });
    }
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    valid.then(|| HostPort {
        host: host.to_owned(),
        port,
    })
}

pub(super) fn tls_settings(
    m: &MonitorConfig,
    trust: &TrustStore,
    errors: &mut Vec<FieldError>,
) -> Option<TlsSettings> {
    match trust.settings(m.insecure, m.ca_file.as_deref()) {
        Ok(settings) => Some(settings),
        Err(err) => {
            errors.push(FieldError::new("ca_file", err.to_string()));
            None
        }
    }
}

/// `a tcp`, `an smtp`: the type with the article it is read with.
pub(super) fn a_kind(kind: MonitorKind) -> String {
    match kind.as_str() {
        name @ ("smtp" | "icmp") => format!("an {name}"),
        name => format!("a {name}"),
    }
}

pub(super) fn first_line(text: &str) -> &str {
    text.lines().last().unwrap_or(text).trim()
}

/// The host a monitor reaches: its URL's host, its target's host, its
/// domain, or else its name.
fn host_of(config: &MonitorConfig) -> String {
    let from_url = config
        .url
        .as_deref()
        .and_then(|url| url::Url::parse(url).ok())
        .and_then(|url| url.host_str().map(str::to_owned));
    let from_target = || {
        config
            .target
            .as_deref()
            .map(|target| parse_host_port(target).map_or_else(|| target.to_owned(), |hp| hp.host))
    };
    from_url
        .or_else(from_target)
        .or_else(|| config.domain.clone())
        .unwrap_or_else(|| config.name.clone())
}
