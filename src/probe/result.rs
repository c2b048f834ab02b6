//! What one check produced: the CHECK object of contract section 4.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize, Serializer};

use super::cause::Cause;

/// Time spent in each phase of a check, in milliseconds; 0 for a phase that
/// did not run (no DNS for an IP literal, no TLS for plain HTTP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// Name resolution.
    pub dns: f64,
    /// TCP handshake.
    pub connect: f64,
    /// TLS handshake.
    pub tls: f64,
    /// Request sent until the response head arrived.
    pub ttfb: f64,
    /// Reading the body.
    pub transfer: f64,
}

impl Phases {
    /// The phase names, in order, as used in metric labels.
    pub const NAMES: [&'static str; 5] = ["dns", "connect", "tls", "ttfb", "transfer"];

    /// The phases in the order of [`Phases::NAMES`].
    pub fn values(&self) -> [f64; 5] {
        [self.dns, self.connect, self.tls, self.ttfb, self.transfer]
    }
}

/// Who produced an HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A proxy's own error page.
    Gateway,
    /// The application behind the proxies.
    Origin,
    /// Cannot tell.
    Unknown,
}

impl Role {
    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Origin => "origin",
            Role::Unknown => "unknown",
        }
    }
}

/// The responder of a failed HTTP check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Responder {
    /// Gateway, origin or unknown.
    pub role: Role,
    /// The product when known: `nginx`, `haproxy`, `cloudflare`...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
}

/// The hop a verdict blames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hop {
    /// Name resolution.
    Dns,
    /// Routing, firewalls, the TCP path.
    Network,
    /// Certificates and handshakes.
    Tls,
    /// The proxy or load balancer in front.
    Gateway,
    /// The application server.
    Origin,
    /// A working origin too slow for the gateway's timeout.
    OriginSlow,
    /// Cannot tell.
    Unknown,
    /// Healthy: nothing at fault.
    None,
}

impl Hop {
    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Hop::Dns => "dns",
            Hop::Network => "network",
            Hop::Tls => "tls",
            Hop::Gateway => "gateway",
            Hop::Origin => "origin",
            Hop::OriginSlow => "origin_slow",
            Hop::Unknown => "unknown",
            Hop::None => "none",
        }
    }
}

/// Which hop is at fault, and a line for the person on call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The hop.
    pub hop: Hop,
    /// One human sentence.
    pub summary: String,
}

/// What a failed HTTP check saw, kept for incidents and alerts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Response headers, secrets masked.
    pub headers: BTreeMap<String, String>,
    /// The first 2 KiB of the body (lossy UTF-8).
    pub body_excerpt: String,
    /// A request id header, when the response carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The result for one address under `addresses: all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressResult {
    /// The address checked.
    pub addr: SocketAddr,
    /// Its check passed.
    pub ok: bool,
    /// Its cause.
    pub cause: Cause,
    /// Its HTTP status, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Its whole duration.
    pub latency_ms: f64,
}

/// Facts of the peer's leaf certificate, captured on every TLS check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertFacts {
    /// Expiry, seconds since the Unix epoch.
    pub not_after: i64,
    /// Days left at check time (negative once expired).
    pub days_left: f64,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Subject distinguished name.
    pub subject: String,
    /// DNS names and IPs the certificate is valid for.
    pub sans: Vec<String>,
}

/// One finished check. A target being down is a result, never an `Err`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// When the check started.
    #[serde(serialize_with = "rfc3339", deserialize_with = "from_rfc3339")]
    pub at: SystemTime,
    /// The monitor's name; `None` for `hopwatch check`.
    pub monitor: Option<String>,
    /// The cause is `ok`.
    pub ok: bool,
    /// Exactly one cause.
    pub cause: Cause,
    /// HTTP status, when a response head arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Whole check duration.
    pub latency_ms: f64,
    /// Per-phase timings.
    pub phases_ms: Phases,
    /// Who answered (failed HTTP checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responder: Option<Responder>,
    /// The address connected to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<SocketAddr>,
    /// What went wrong, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The hop at fault.
    pub verdict: Verdict,
    /// A failure that a confirming re-check did not repeat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flaky: Option<bool>,
    /// Per-address results under `addresses: all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<AddressResult>>,
    /// Headers and body excerpt of a failed HTTP check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// The peer certificate (https and tls checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<CertFacts>,
}

impl CheckResult {
    /// A result with the given cause and nothing else known yet; the verdict
    /// is filled in by [`super::verdict::for_check`].
    pub fn new(at: SystemTime, cause: Cause) -> Self {
        Self {
            at,
            monitor: None,
            ok: cause.is_ok(),
            cause,
            status: None,
            latency_ms: 0.0,
            phases_ms: Phases::default(),
            responder: None,
            remote_addr: None,
            error: None,
            verdict: Verdict {
                hop: Hop::Unknown,
                summary: String::new(),
            },
            flaky: None,
            addresses: None,
            evidence: None,
            tls: None,
        }
    }

    /// Sets the cause and keeps `ok` in step with it.
    pub fn set_cause(&mut self, cause: Cause) {
        self.cause = cause;
        self.ok = cause.is_ok();
    }
}

fn rfc3339<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*at))
}

fn from_rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
}
