//! Compiling a monitor's config into what the probes run: every field
//! parsed and checked once, every problem reported, not just the first.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use regex::Regex;
use serde_json_path::JsonPath;
use url::Url;

use std::collections::HashSet;

use super::LoadedConfig;
use super::schema::MonitorConfig;
use crate::monitor::spec::{
    DnsSpec, DomainSpec, GrpcSpec, HostPort, HttpExpect, HttpSpec, ICMP_DEFAULT_COUNT,
    ICMP_MAX_COUNT, IcmpSpec, ProbeSpec, SmtpSpec, TcpSpec, TlsSpec, WebsocketSpec,
};
use crate::monitor::trust::{TlsSettings, TrustStore};
use crate::monitor::{AddressMode, Monitor, MonitorKind, StatusMatcher};

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
        let monitors = &self.config.monitors;
        let upstreams: HashSet<&str> = monitors
            .iter()
            .filter_map(|m| m.upstream.as_deref())
            .collect();
        monitors
            .iter()
            .map(|config| {
                monitor(
                    config,
                    upstreams.contains(config.name.as_str()),
                    &self.trust,
                )
                .map_err(|errors| CompileError {
                    name: config.name.clone(),
                    message: errors
                        .iter()
                        .map(|e| format!("{}: {}", e.path, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                })
            })
            .collect()
    }
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

fn build_http(
    m: &MonitorConfig,
    trust: &TrustStore,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<HttpSpec> {
    let before = errors.len();
    let url = match m.url.as_deref() {
        None => {
            errors.push(FieldError::new("url", "an http monitor needs a url"));
            None
        }
        Some(text) => match Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                Some(url)
            }
            Ok(_) => {
                errors.push(FieldError::new(
                    "url",
                    format!(
                        "invalid url {:?} (expected http:// or https:// with a host)",
                        crate::mask::lone_url(text)
                    ),
                ));
                None
            }
            Err(err) => {
                errors.push(FieldError::new(
                    "url",
                    format!("invalid url {:?}: {err}", crate::mask::lone_url(text)),
                ));
                None
            }
        },
    };
    let method = match m.method.as_deref() {
        None => Some(Method::GET),
        Some(text) => match Method::from_bytes(text.to_ascii_uppercase().as_bytes()) {
            Ok(method) => Some(method),
            Err(_) => {
                errors.push(FieldError::new(
                    "method",
                    format!("invalid method {text:?}"),
                ));
                None
            }
        },
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &m.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.insert(name, value);
            }
            (Err(_), _) => errors.push(FieldError::new(
                format!("headers.{name}"),
                "invalid header name",
            )),
            (_, Err(_)) => errors.push(FieldError::new(
                format!("headers.{name}"),
                "invalid header value",
            )),
        }
    }
    let resolve = m
        .resolve
        .as_deref()
        .and_then(|text| match text.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                errors.push(FieldError::new(
                    "resolve",
                    format!("invalid address {text:?} (expected ip:port, e.g. 203.0.113.7:443)"),
                ));
                None
            }
        });
    let expect = build_http_expect(m, errors);
    let tls = tls_settings(m, trust, errors);
    if errors.len() > before {
        return None;
    }
    let mut url = url?;
    basic_auth_from_url(&mut url, &mut headers);
    Some(HttpSpec {
        url,
        method: method?,
        headers,
        body: Bytes::from(m.body.clone().unwrap_or_default()),
        resolve,
        follow_redirects: m.follow_redirects.unwrap_or_default(),
        tls: tls?,
        expect: expect?,
        addresses: m.addresses,
        timeout,
        body_limit: DEFAULT_BODY_LIMIT,
    })
}

/// Credentials in the URL become a Basic `Authorization` header (unless one
/// is configured) and leave the URL, so that they travel with the other
/// headers, only to the monitor's own origin.
fn basic_auth_from_url(url: &mut Url, headers: &mut HeaderMap) {
    use base64::Engine;
    if url.username().is_empty() && url.password().is_none() {
        return;
    }
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8_lossy()
            .into_owned()
    };
    let user = decode(url.username());
    let password = decode(url.password().unwrap_or_default());
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    if let Ok(mut value) = HeaderValue::from_str(&format!("Basic {encoded}")) {
        value.set_sensitive(true);
        headers.entry(http::header::AUTHORIZATION).or_insert(value);
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
}

fn build_http_expect(m: &MonitorConfig, errors: &mut Vec<FieldError>) -> Option<HttpExpect> {
    let e = &m.expect;
    let before = errors.len();
    let body_regex = e
        .body_regex
        .as_deref()
        .and_then(|text| match Regex::new(text) {
            Ok(re) => Some(re),
            Err(err) => {
                errors.push(FieldError::new(
                    "expect.body_regex",
                    format!("invalid regex: {}", first_line(&err.to_string())),
                ));
                None
            }
        });
    let mut json = Vec::new();
    for (path, value) in &e.json {
        match JsonPath::parse(path) {
            Ok(compiled) => json.push((path.clone(), compiled, value.clone())),
            Err(err) => errors.push(FieldError::new(
                format!("expect.json.{path}"),
                format!("invalid JSONPath: {err}"),
            )),
        }
    }
    let mut headers = Vec::new();
    for (name, value) in &e.headers {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(header) => headers.push((header, value.clone())),
            Err(_) => errors.push(FieldError::new(
                format!("expect.headers.{name}"),
                "invalid header name",
            )),
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(HttpExpect {
        status: e
            .status
            .clone()
            .unwrap_or_else(|| vec![StatusMatcher::Class(2)]),
        body_contains: e.body_contains.clone(),
        body_regex,
        json,
        headers,
        max_latency: e.max_latency,
        cert_min_days: e.cert_min_days,
    })
}

fn build_dns(
    m: &MonitorConfig,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<DnsSpec> {
    let query = m.query.clone();
    if query.as_deref().is_none_or(str::is_empty) {
        errors.push(FieldError::new(
            "query",
            "a dns monitor needs a query (the name to look up)",
        ));
    }
    let server = match m.server.as_deref() {
        None => None,
        Some(text) => match parse_server(text) {
            Some(addr) => Some(addr),
            None => {
                errors.push(FieldError::new(
                    "server",
                    format!("invalid server {text:?} (expected ip or ip:port, e.g. 1.1.1.1:53)"),
                ));
                return None;
            }
        },
    };
    Some(DnsSpec {
        query: query?,
        record: m.record.unwrap_or_default(),
        server,
        answers: m.expect.answers.clone(),
        timeout,
        max_latency: m.expect.max_latency,
    })
}

fn build_smtp(
    m: &MonitorConfig,
    trust: &TrustStore,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<SmtpSpec> {
    let starttls = m.starttls.unwrap_or(false);
    if !starttls {
        // Without STARTTLS there is no handshake for these to act on.
        let tls_keys = [
            ("insecure", m.insecure),
            ("ca_file", m.ca_file.is_some()),
            ("expect.cert_min_days", m.expect.cert_min_days.is_some()),
        ];
        for (key, set) in tls_keys {
            if set {
                errors.push(FieldError::new(
                    key,
                    "used by an smtp monitor only with starttls: true",
                ));
            }
        }
    }
    let target = required_target(m, errors);
    let tls = tls_settings(m, trust, errors);
    Some(SmtpSpec {
        target: target?,
        starttls,
        tls: tls?,
        cert_min_days: m.expect.cert_min_days,
        timeout,
        max_latency: m.expect.max_latency,
    })
}

fn build_domain(
    m: &MonitorConfig,
    trust: &TrustStore,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<DomainSpec> {
    let domain = match m.domain.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(
                "domain",
                "a domain monitor needs a domain (the registered name, e.g. example.com)",
            ));
            None
        }
        Some(text) => registered_name(text).or_else(|| {
            errors.push(FieldError::new(
                "domain",
                format!("invalid domain {text:?} (expected a registered name such as example.com)"),
            ));
            None
        }),
    };
    let rdap_server = m
        .rdap_server
        .as_deref()
        .and_then(|text| match Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                Some(url)
            }
            _ => {
                errors.push(FieldError::new(
                    "rdap_server",
                    format!(
                        "invalid rdap_server {:?} (expected an http:// or https:// base URL)",
                        crate::mask::lone_url(text)
                    ),
                ));
                None
            }
        });
    // The registry is reached with the system's trust; its certificate is
    // not what this monitor watches.
    let tls = match trust.settings(false, None) {
        Ok(tls) => tls,
        Err(err) => {
            errors.push(FieldError::new("domain", err.to_string()));
            return None;
        }
    };
    Some(DomainSpec {
        domain: domain?,
        rdap_server,
        min_days: m.expect.min_days.unwrap_or(DEFAULT_DOMAIN_MIN_DAYS),
        tls,
        timeout,
    })
}

/// A domain name as RDAP wants it: IDNA (punycode), lower case, no
/// trailing dot, at least two labels (a TLD alone is not registered).
fn registered_name(text: &str) -> Option<String> {
    let text = text.strip_suffix('.').unwrap_or(text);
    match url::Host::parse(text).ok()? {
        url::Host::Domain(name) if name.contains('.') && !name.starts_with('.') => Some(name),
        _ => None,
    }
}

fn parse_server(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

fn required_target(m: &MonitorConfig, errors: &mut Vec<FieldError>) -> Option<HostPort> {
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

fn tls_settings(
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

fn build_icmp(
    m: &MonitorConfig,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<IcmpSpec> {
    let count = match m.count {
        None => Some(ICMP_DEFAULT_COUNT),
        Some(n) => match u16::try_from(n) {
            Ok(n @ 1..=ICMP_MAX_COUNT) => Some(n),
            _ => {
                errors.push(FieldError::new(
                    "count",
                    format!("invalid count {n} (expected 1 to {ICMP_MAX_COUNT} echo requests)"),
                ));
                None
            }
        },
    };
    let host = match m.target.as_deref() {
        None => {
            errors.push(FieldError::new(
                "target",
                "an icmp monitor needs a target (a host name or IP address)",
            ));
            None
        }
        Some(text) => match parse_host(text) {
            Some(host) => Some(host),
            None => {
                errors.push(FieldError::new(
                    "target",
                    format!(
                        "invalid target {text:?} (expected a host name or IP address without a \
                         port, e.g. db.example.com or 2001:db8::7)"
                    ),
                ));
                None
            }
        },
    };
    Some(IcmpSpec {
        host: host?,
        count: count?,
        timeout,
        max_latency: m.expect.max_latency,
    })
}

/// A bare host: an IP literal (IPv6 with or without brackets) or a name.
/// A port is refused, since ICMP has none and one would hint at a mistake.
fn parse_host(text: &str) -> Option<String> {
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = unbracketed.parse::<std::net::IpAddr>() {
        return Some(ip.to_string());
    }
    let valid = !text.is_empty()
        && text.len() <= 253
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    valid.then(|| text.to_owned())
}

/// `a tcp`, `an smtp`: the type with the article it is read with.
fn a_kind(kind: MonitorKind) -> String {
    match kind.as_str() {
        name @ ("smtp" | "icmp") => format!("an {name}"),
        name => format!("a {name}"),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().last().unwrap_or(text).trim()
}

fn build_grpc(
    m: &MonitorConfig,
    trust: &TrustStore,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<GrpcSpec> {
    let target = required_target(m, errors);
    let use_tls = m.tls.unwrap_or(false);
    if !use_tls && (m.insecure || m.ca_file.is_some()) {
        let key = if m.insecure { "insecure" } else { "ca_file" };
        errors.push(FieldError::new(
            key,
            "only used with tls: true (this grpc monitor speaks plaintext h2c)",
        ));
    }
    // gRPC over TLS needs HTTP/2 agreed in ALPN: servers refuse without it.
    let tls = if use_tls {
        Some(tls_settings(m, trust, errors)?.with_alpn(&[b"h2"]))
    } else {
        None
    };
    Some(GrpcSpec {
        target: target?,
        service: m.service.clone().unwrap_or_default(),
        tls,
        cert_min_days: m.expect.cert_min_days,
        timeout,
        max_latency: m.expect.max_latency,
    })
}

fn build_websocket(
    m: &MonitorConfig,
    trust: &TrustStore,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<WebsocketSpec> {
    let before = errors.len();
    let url = match m.url.as_deref() {
        None => {
            errors.push(FieldError::new(
                "url",
                "a websocket monitor needs a url (ws:// or wss://)",
            ));
            None
        }
        Some(text) => match Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "ws" | "wss") && url.host_str().is_some() => {
                Some(url)
            }
            Ok(_) => {
                errors.push(FieldError::new(
                    "url",
                    format!(
                        "invalid url {:?} (expected ws:// or wss:// with a host)",
                        crate::mask::lone_url(text)
                    ),
                ));
                None
            }
            Err(err) => {
                errors.push(FieldError::new(
                    "url",
                    format!("invalid url {:?}: {err}", crate::mask::lone_url(text)),
                ));
                None
            }
        },
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &m.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.insert(name, value);
            }
            _ => errors.push(FieldError::new(
                format!("headers.{name}"),
                "invalid header name or value",
            )),
        }
    }
    let tls = tls_settings(m, trust, errors);
    if errors.len() > before {
        return None;
    }
    let mut url = url?;
    basic_auth_from_url(&mut url, &mut headers);
    Some(WebsocketSpec {
        url,
        headers,
        send: m.send.clone(),
        body_contains: m.expect.body_contains.clone(),
        tls: tls?,
        cert_min_days: m.expect.cert_min_days,
        timeout,
        max_latency: m.expect.max_latency,
        body_limit: DEFAULT_BODY_LIMIT,
    })
}
