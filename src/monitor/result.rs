//! What one check produced: the CHECK object of contract section 4.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
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

/// What a failed HTTP check saw, kept for incidents and alerts. Bounded and
/// masked when captured ([`super::evidence::capture`]); rows stored before
/// the bounds may be larger, and are shown as they are.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Evidence {
    /// Response headers, secrets masked, at most
    /// [`super::evidence::HEADERS_MAX`] of them.
    pub headers: BTreeMap<String, String>,
    /// Headers the bounds left out; serialized only when not 0.
    #[serde(default)]
    pub headers_dropped: usize,
    /// The first 2 KiB of the body (lossy UTF-8), URLs masked.
    pub body_excerpt: String,
    /// A request id header, when the response carried one.
    pub request_id: Option<String>,
    /// Headers and body excerpt are withheld from this reader: they are
    /// empty and left out of the JSON. Never stored; see [`Evidence::public`].
    #[serde(skip)]
    pub withheld: bool,
}

impl Evidence {
    /// What a reader without the right to see response content gets
    /// (`server.public_evidence: false`): the request id and the count of
    /// dropped headers, but neither headers nor body excerpt. The one
    /// place that decides what such a reader sees of a check's evidence.
    pub fn public(&self) -> Evidence {
        Evidence {
            headers_dropped: self.headers_dropped,
            request_id: self.request_id.clone(),
            withheld: true,
            ..Evidence::default()
        }
    }
}

/// Written by hand to leave out what a public view withholds; the stored
/// JSON of evidence is the same as a derived implementation would write.
impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Evidence", 4)?;
        if self.withheld {
            out.skip_field("headers")?;
            out.skip_field("body_excerpt")?;
        } else {
            out.serialize_field("headers", &self.headers)?;
            out.serialize_field("body_excerpt", &self.body_excerpt)?;
        }
        match &self.request_id {
            Some(id) => out.serialize_field("request_id", id)?,
            None => out.skip_field("request_id")?,
        }
        if self.headers_dropped > 0 {
            out.serialize_field("headers_dropped", &self.headers_dropped)?;
        } else {
            out.skip_field("headers_dropped")?;
        }
        out.end()
    }
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

/// What RDAP says of a domain's registration, on every domain check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainFacts {
    /// When the registration expires (the RDAP `expiration` event).
    #[serde(with = "crate::clock::rfc3339")]
    pub expires_at: SystemTime,
    /// Days left at check time (negative once expired).
    pub days_left: f64,
}

/// Round trips of an icmp check's answered echoes, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RttStats {
    /// The fastest.
    pub min: f64,
    /// The mean.
    pub avg: f64,
    /// The slowest.
    pub max: f64,
}

impl RttStats {
    /// The statistics of `samples`; `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let avg = samples.iter().sum::<f64>() / samples.len() as f64;
        Some(Self { min, avg, max })
    }
}

/// One finished check. A target being down is a result, never an `Err`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// When the check started.
    #[serde(with = "crate::clock::rfc3339")]
    pub at: SystemTime,
    /// The monitor's name; `None` for `hopwatch check`.
    pub monitor: Option<String>,
    /// The region it was checked from (`default` on a single node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Arc<str>>,
    /// The node or agent that checked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Arc<str>>,
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
    /// The registration's expiry (domain checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainFacts>,
    /// icmp: the share of echo requests left unanswered, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_loss: Option<f64>,
    /// icmp: round trips of the answered echoes; none when none came back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<RttStats>,
}

impl CheckResult {
    /// A result with the given cause and nothing else known yet; the verdict
    /// is filled in by [`super::verdict::for_check`].
    pub fn new(at: SystemTime, cause: Cause) -> Self {
        Self {
            at,
            monitor: None,
            region: None,
            node: None,
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
            domain: None,
            packet_loss: None,
            rtt_ms: None,
        }
    }

    /// Sets the cause and keeps `ok` in step with it.
    pub fn set_cause(&mut self, cause: Cause) {
        self.cause = cause;
        self.ok = cause.is_ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(headers_dropped: usize) -> Evidence {
        Evidence {
            headers: BTreeMap::from([("server".to_owned(), "nginx".to_owned())]),
            headers_dropped,
            body_excerpt: "<h1>502</h1>".to_owned(),
            request_id: Some("req-7".to_owned()),
            withheld: false,
        }
    }

    #[test]
    fn icmp_figures_show_only_when_set_and_read_back() {
        let mut result = CheckResult::new(std::time::UNIX_EPOCH, Cause::Ok);
        let bare = serde_json::to_string(&result).unwrap();
        assert!(
            !bare.contains("packet_loss") && !bare.contains("rtt_ms"),
            "{bare}"
        );
        result.packet_loss = Some(1.0 / 3.0);
        result.rtt_ms = RttStats::of(&[0.5, 1.5]);
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(
            json["rtt_ms"],
            serde_json::json!({"min": 0.5, "avg": 1.0, "max": 1.5})
        );
        let back: CheckResult = serde_json::from_value(json).unwrap();
        assert_eq!(back, result);
        assert_eq!(RttStats::of(&[]), None);
    }

    #[test]
    fn headers_dropped_shows_only_when_some_were() {
        assert_eq!(
            serde_json::to_string(&evidence(0)).unwrap(),
            r#"{"headers":{"server":"nginx"},"body_excerpt":"<h1>502</h1>","request_id":"req-7"}"#
        );
        assert_eq!(
            serde_json::to_string(&evidence(3)).unwrap(),
            r#"{"headers":{"server":"nginx"},"body_excerpt":"<h1>502</h1>","request_id":"req-7","headers_dropped":3}"#
        );
    }

    #[test]
    fn the_public_view_keeps_the_object_without_headers_and_body() {
        assert_eq!(
            serde_json::to_string(&evidence(3).public()).unwrap(),
            r#"{"request_id":"req-7","headers_dropped":3}"#
        );
        let bare = Evidence::default().public();
        assert_eq!(serde_json::to_string(&bare).unwrap(), "{}");
    }

    #[test]
    fn stored_rows_read_back_whole_also_from_before_headers_dropped() {
        let json = serde_json::to_string(&evidence(3)).unwrap();
        assert_eq!(
            serde_json::from_str::<Evidence>(&json).unwrap(),
            evidence(3)
        );
        let old =
            r#"{"headers":{"server":"nginx"},"body_excerpt":"<h1>502</h1>","request_id":"req-7"}"#;
        assert_eq!(serde_json::from_str::<Evidence>(old).unwrap(), evidence(0));
    }
}
