//! A monitor compiled for probing: URLs parsed, regexes and JSONPaths built,
//! TLS settings loaded, once, so that each check only does network work.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use regex::Regex;
use serde_json_path::JsonPath;
use url::Url;

use crate::config::schema::{AddressMode, MonitorConfig, MonitorKind, RecordKind};
use crate::config::values::{FollowRedirects, StatusMatcher};

use super::tls;

/// Default `interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a body is read; more is not an error, just not read.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;
/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 10;

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

/// What a probe needs to run one check.
#[derive(Debug, Clone)]
pub enum ProbeSpec {
    /// HTTP or HTTPS request.
    Http(Box<HttpSpec>),
    /// TCP connect.
    Tcp(TcpSpec),
    /// TLS handshake.
    Tls(TlsSpec),
    /// DNS query.
    Dns(DnsSpec),
    /// Heartbeats arrive from outside; nothing to send.
    Push,
}

/// A `host:port` to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Name or IP literal (without IPv6 brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

/// Expectations on an HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpExpect {
    /// Accepted statuses; default `2xx`.
    pub status: Vec<StatusMatcher>,
    /// Substring the body must contain.
    pub body_contains: Option<String>,
    /// Regex the body must match.
    pub body_regex: Option<Regex>,
    /// JSONPath (as written, compiled) -> expected value.
    pub json: Vec<(String, JsonPath, serde_json::Value)>,
    /// Header -> expected value.
    pub headers: Vec<(HeaderName, String)>,
    /// Slower fails with `too_slow`.
    pub max_latency: Option<Duration>,
    /// Fewer days of certificate left fails with `tls_expiring`.
    pub cert_min_days: Option<u32>,
}

impl HttpExpect {
    /// Whether any expectation reads the body (and so needs all of it).
    pub fn reads_body(&self) -> bool {
        self.body_contains.is_some() || self.body_regex.is_some() || !self.json.is_empty()
    }
}

/// An HTTP monitor, compiled.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// The first URL requested.
    pub url: Url,
    /// Request method.
    pub method: Method,
    /// Request headers (beyond Host).
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
    /// Connect here instead of resolving the URL's host.
    pub resolve: Option<SocketAddr>,
    /// Whether and where redirects are followed (up to [`MAX_REDIRECTS`]).
    pub follow_redirects: FollowRedirects,
    /// TLS client settings (trust, verification).
    pub tls: tls::TlsSettings,
    /// What counts as healthy.
    pub expect: HttpExpect,
    /// First address or all.
    pub addresses: AddressMode,
    /// Whole-check deadline.
    pub timeout: Duration,
    /// Body bytes read at most.
    pub body_limit: usize,
}

/// A TCP monitor, compiled.
#[derive(Debug, Clone)]
pub struct TcpSpec {
    /// Where to connect.
    pub target: HostPort,
    /// First address or all.
    pub addresses: AddressMode,
    /// Whole-check deadline.
    pub timeout: Duration,
    /// Slower fails with `too_slow`.
    pub max_latency: Option<Duration>,
}

/// A TLS monitor, compiled.
#[derive(Debug, Clone)]
pub struct TlsSpec {
    /// Where to connect; the host is also the SNI name.
    pub target: HostPort,
    /// TLS client settings.
    pub tls: tls::TlsSettings,
    /// Fewer days left fails with `tls_expiring`.
    pub cert_min_days: Option<u32>,
    /// First address or all.
    pub addresses: AddressMode,
    /// Whole-check deadline.
    pub timeout: Duration,
    /// Slower fails with `too_slow`.
    pub max_latency: Option<Duration>,
}

/// A DNS monitor, compiled.
#[derive(Debug, Clone)]
pub struct DnsSpec {
    /// The name asked for.
    pub query: String,
    /// Record type.
    pub record: RecordKind,
    /// Resolver; `None` uses the system's.
    pub server: Option<SocketAddr>,
    /// Expected answers, if any (order ignored).
    pub answers: Option<Vec<String>>,
    /// Whole-check deadline.
    pub timeout: Duration,
    /// Slower fails with `too_slow`.
    pub max_latency: Option<Duration>,
}

impl ProbeSpec {
    /// Compiles a monitor whose `defaults` have already been merged in.
    /// Returns every problem found, not just the first.
    pub fn build(monitor: &MonitorConfig) -> Result<ProbeSpec, Vec<FieldError>> {
        let mut errors = Vec::new();
        let timeout = monitor.timeout.unwrap_or(DEFAULT_TIMEOUT);
        reject_foreign_fields(monitor, &mut errors);
        let spec = match monitor.kind {
            MonitorKind::Http => build_http(monitor, timeout, &mut errors)
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
                let settings = tls_settings(monitor, &mut errors);
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
        };
        match spec {
            Some(spec) if errors.is_empty() => Ok(spec),
            _ => Err(errors),
        }
    }

    /// The check deadline.
    pub fn timeout(&self) -> Duration {
        match self {
            ProbeSpec::Http(s) => s.timeout,
            ProbeSpec::Tcp(s) => s.timeout,
            ProbeSpec::Tls(s) => s.timeout,
            ProbeSpec::Dns(s) => s.timeout,
            ProbeSpec::Push => DEFAULT_TIMEOUT,
        }
    }
}

/// Keys that belong to another monitor type are refused: a `url` on a tcp
/// monitor is a mistake that would otherwise silently check something else.
fn reject_foreign_fields(m: &MonitorConfig, errors: &mut Vec<FieldError>) {
    let kind = m.kind;
    let is = |kinds: &[MonitorKind]| kinds.contains(&kind);
    use MonitorKind::*;
    let present: [(&str, bool, &[MonitorKind]); 13] = [
        ("url", m.url.is_some(), &[Http]),
        ("method", m.method.is_some(), &[Http]),
        ("headers", !m.headers.is_empty(), &[Http]),
        ("body", m.body.is_some(), &[Http]),
        ("resolve", m.resolve.is_some(), &[Http]),
        ("follow_redirects", m.follow_redirects.is_some(), &[Http]),
        ("insecure", m.insecure, &[Http, Tls]),
        ("ca_file", m.ca_file.is_some(), &[Http, Tls]),
        ("target", m.target.is_some(), &[Tcp, Tls]),
        ("query", m.query.is_some(), &[Dns]),
        ("record", m.record.is_some(), &[Dns]),
        ("server", m.server.is_some(), &[Dns]),
        ("grace", m.grace.is_some() || m.token.is_some(), &[Push]),
    ];
    for (key, set, kinds) in present {
        if set && !is(kinds) {
            let key = if key == "grace" && m.grace.is_none() {
                "token"
            } else {
                key
            };
            errors.push(FieldError::new(
                key,
                format!("not used by a {} monitor", kind.as_str()),
            ));
        }
    }
    let e = &m.expect;
    let expect_fields: [(&str, bool, &[MonitorKind]); 6] = [
        ("expect.status", e.status.is_some(), &[Http]),
        ("expect.body_contains", e.body_contains.is_some(), &[Http]),
        ("expect.body_regex", e.body_regex.is_some(), &[Http]),
        ("expect.json", !e.json.is_empty(), &[Http]),
        ("expect.headers", !e.headers.is_empty(), &[Http]),
        ("expect.answers", e.answers.is_some(), &[Dns]),
    ];
    for (key, set, kinds) in expect_fields {
        if set && !is(kinds) {
            errors.push(FieldError::new(
                key,
                format!("not used by a {} monitor", kind.as_str()),
            ));
        }
    }
    if e.cert_min_days.is_some() && !is(&[Http, Tls]) {
        errors.push(FieldError::new(
            "expect.cert_min_days",
            format!("not used by a {} monitor", kind.as_str()),
        ));
    }
    if m.addresses == AddressMode::All && !is(&[Http, Tcp, Tls]) {
        errors.push(FieldError::new(
            "addresses",
            format!("not used by a {} monitor", kind.as_str()),
        ));
    }
}

fn build_http(
    m: &MonitorConfig,
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
    let tls = tls_settings(m, errors);
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
            format!("a {} monitor needs a target (host:port)", m.kind.as_str()),
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

fn tls_settings(m: &MonitorConfig, errors: &mut Vec<FieldError>) -> Option<tls::TlsSettings> {
    match tls::TlsSettings::new(m.insecure, m.ca_file.as_deref()) {
        Ok(settings) => Some(settings),
        Err(err) => {
            errors.push(FieldError::new("ca_file", err.to_string()));
            None
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().last().unwrap_or(text).trim()
}

/// Reference-counted so that every check of a monitor shares one compiled spec.
pub type SharedSpec = Arc<ProbeSpec>;
