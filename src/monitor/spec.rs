//! A monitor compiled for probing: URLs parsed, regexes and JSONPaths built,
//! TLS settings loaded, once, so that each check only does network work.
//! `config::compile` builds these; the probes run them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method};
use regex::Regex;
use serde_json_path::JsonPath;
use url::Url;

use super::trust::TlsSettings;
use super::values::{AddressMode, FollowRedirects, RecordKind, StatusMatcher};

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 10;

/// What a probe needs to run one check.
#[derive(Debug, Clone, PartialEq)]
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
    /// SMTP dialogue.
    Smtp(SmtpSpec),
    /// Domain registration expiry.
    Domain(DomainSpec),
    /// ICMP echo requests.
    Icmp(IcmpSpec),
    /// gRPC health check.
    Grpc(GrpcSpec),
    /// WebSocket upgrade and one message.
    Websocket(Box<WebsocketSpec>),
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

// Compiled regexes and JSONPaths have no `==`; they are compared by the
// text they were compiled from, which is what a reload changes.
impl PartialEq for HttpExpect {
    fn eq(&self, other: &Self) -> bool {
        let json = |e: &Self| {
            e.json
                .iter()
                .map(|(text, _, value)| (text.clone(), value.clone()))
                .collect::<Vec<_>>()
        };
        self.status == other.status
            && self.body_contains == other.body_contains
            && self.body_regex.as_ref().map(Regex::as_str)
                == other.body_regex.as_ref().map(Regex::as_str)
            && json(self) == json(other)
            && self.headers == other.headers
            && self.max_latency == other.max_latency
            && self.cert_min_days == other.cert_min_days
    }
}

impl HttpExpect {
    /// Whether any expectation reads the body (and so needs all of it).
    pub fn reads_body(&self) -> bool {
        self.body_contains.is_some() || self.body_regex.is_some() || !self.json.is_empty()
    }
}

/// An HTTP monitor, compiled.
#[derive(Debug, Clone, PartialEq)]
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
    pub tls: TlsSettings,
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
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
pub struct TlsSpec {
    /// Where to connect; the host is also the SNI name.
    pub target: HostPort,
    /// TLS client settings.
    pub tls: TlsSettings,
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
#[derive(Debug, Clone, PartialEq)]
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

/// An SMTP monitor, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpSpec {
    /// Where to connect; with `starttls` the host is also the SNI name.
    pub target: HostPort,
    /// Require STARTTLS and run the handshake.
    pub starttls: bool,
    /// TLS client settings, used with `starttls`.
    pub tls: TlsSettings,
    /// Fewer days of certificate left fails with `tls_expiring`.
    pub cert_min_days: Option<u32>,
    /// Whole-check deadline.
    pub timeout: Duration,
    /// Slower fails with `too_slow`.
    pub max_latency: Option<Duration>,
}

/// A domain monitor, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSpec {
    /// The registered name, lower case, without a trailing dot.
    pub domain: String,
    /// RDAP base URL; `None` finds it in the bootstrap shipped in the binary.
    pub rdap_server: Option<Url>,
    /// Fewer days of registration left fails with `domain_expiring`.
    pub min_days: u32,
    /// TLS client settings for the RDAP server (the system's trust).
    pub tls: TlsSettings,
    /// Whole-check deadline.
    pub timeout: Duration,
}

/// An icmp monitor, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct IcmpSpec {
    /// Name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Echo requests per check, 1 to [`ICMP_MAX_COUNT`].
    pub count: u16,
    /// Whole-check deadline.
    pub timeout: Duration,
    /// A slower average round trip fails with `too_slow`.
    pub max_latency: Option<Duration>,
}

/// Echo requests an icmp monitor sends by default.
pub const ICMP_DEFAULT_COUNT: u16 = 3;

/// Echo requests an icmp check may send at most: enough to measure loss,
/// few enough that a check stays a probe, not a flood.
pub const ICMP_MAX_COUNT: u16 = 20;

/// A gRPC monitor, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct GrpcSpec {
    /// Where to connect; the host is also the `:authority` and SNI name.
    pub target: HostPort,
    /// The service asked about; empty asks about the server as a whole.
    pub service: String,
    /// TLS (with ALPN `h2`) instead of h2c with prior knowledge.
    pub tls: Option<TlsSettings>,
    /// Fewer days of certificate left fails with `tls_expiring`.
    pub cert_min_days: Option<u32>,
    /// Whole-check deadline.
    pub timeout: Duration,
    /// Slower fails with `too_slow`.
    pub max_latency: Option<Duration>,
}

/// A WebSocket monitor, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct WebsocketSpec {
    /// The `ws://` or `wss://` URL.
    pub url: Url,
    /// Extra headers of the upgrade request (beyond Host and the upgrade's own).
    pub headers: HeaderMap,
    /// Text sent as one message after the upgrade; a reply is then read.
    pub send: Option<String>,
    /// Text the reply must contain (a reply is read even without `send`).
    pub body_contains: Option<String>,
    /// TLS client settings for `wss://`.
    pub tls: TlsSettings,
    /// Fewer days of certificate left fails with `tls_expiring`.
    pub cert_min_days: Option<u32>,
    /// Whole-check deadline.
    pub timeout: Duration,
    /// Slower fails with `too_slow`.
    pub max_latency: Option<Duration>,
    /// Bytes of a reply (or of a refusal's body) read at most.
    pub body_limit: usize,
}

impl ProbeSpec {
    /// The check deadline.
    pub fn timeout(&self) -> Duration {
        match self {
            ProbeSpec::Http(s) => s.timeout,
            ProbeSpec::Tcp(s) => s.timeout,
            ProbeSpec::Tls(s) => s.timeout,
            ProbeSpec::Dns(s) => s.timeout,
            ProbeSpec::Push => Duration::ZERO,
            ProbeSpec::Grpc(s) => s.timeout,
            ProbeSpec::Websocket(s) => s.timeout,
            ProbeSpec::Smtp(s) => s.timeout,
            ProbeSpec::Domain(s) => s.timeout,
            ProbeSpec::Icmp(s) => s.timeout,
        }
    }
}

/// Reference-counted so that every check of a monitor shares one compiled spec.
pub type SharedSpec = Arc<ProbeSpec>;
