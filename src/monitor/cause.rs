//! The cause codes of contract section 3: exactly one per check, and the
//! hop a cause points at when nothing better is known.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a check ended. `Ok` is success, `Unknown` is neither, the rest fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cause {
    /// Every expectation met.
    #[serde(rename = "ok")]
    Ok,
    /// The name does not exist.
    #[serde(rename = "dns_nxdomain")]
    DnsNxdomain,
    /// The resolver failed (SERVFAIL, refused, no records, garbage).
    #[serde(rename = "dns_error")]
    DnsError,
    /// No DNS answer in time.
    #[serde(rename = "dns_timeout")]
    DnsTimeout,
    /// TCP refused (RST).
    #[serde(rename = "connect_refused")]
    ConnectRefused,
    /// No answer to the TCP handshake.
    #[serde(rename = "connect_timeout")]
    ConnectTimeout,
    /// Unreachable, reset during connect, or another connect failure.
    #[serde(rename = "connect_error")]
    ConnectError,
    /// The certificate has expired.
    #[serde(rename = "tls_expired")]
    TlsExpired,
    /// Unknown issuer or self-signed.
    #[serde(rename = "tls_untrusted")]
    TlsUntrusted,
    /// The certificate does not name the host.
    #[serde(rename = "tls_hostname")]
    TlsHostname,
    /// Another handshake failure.
    #[serde(rename = "tls_error")]
    TlsError,
    /// Fewer days left than `cert_min_days`.
    #[serde(rename = "tls_expiring")]
    TlsExpiring,
    /// The peer answered, but not with valid HTTP.
    #[serde(rename = "protocol_error")]
    ProtocolError,
    /// Closed or reset before a complete response.
    #[serde(rename = "connection_reset")]
    ConnectionReset,
    /// Connected, but the response did not complete in time.
    #[serde(rename = "timeout")]
    Timeout,
    /// HTTP 500.
    #[serde(rename = "http_500")]
    Http500,
    /// HTTP 502.
    #[serde(rename = "http_502")]
    Http502,
    /// HTTP 503.
    #[serde(rename = "http_503")]
    Http503,
    /// HTTP 504.
    #[serde(rename = "http_504")]
    Http504,
    /// Any other 5xx.
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// Any other status not in `expect.status`.
    #[serde(rename = "http_status")]
    HttpStatus,
    /// Status fine, but a body, JSON or header expectation failed.
    #[serde(rename = "assertion_failed")]
    AssertionFailed,
    /// Complete and correct, but slower than `max_latency`.
    #[serde(rename = "too_slow")]
    TooSlow,
    /// An ICMP "unreachable" answered the echo request (icmp).
    #[serde(rename = "icmp_unreachable")]
    IcmpUnreachable,
    /// The gRPC health service answered NOT_SERVING or SERVICE_UNKNOWN (grpc).
    #[serde(rename = "grpc_not_serving")]
    GrpcNotServing,
    /// The mail server refused: a 4xx/5xx banner or EHLO, or no STARTTLS
    /// when it was asked for (smtp).
    #[serde(rename = "smtp_error")]
    SmtpError,
    /// The domain's registration ends in fewer days than `expect.min_days`
    /// (domain).
    #[serde(rename = "domain_expiring")]
    DomainExpiring,
    /// hopwatch's own connectivity check failed: neither up nor down.
    #[serde(rename = "unknown")]
    Unknown,
}

impl Cause {
    /// Every cause, in a fixed order (the order of their numeric codes).
    pub const ALL: [Cause; 28] = [
        Cause::Ok,
        Cause::DnsNxdomain,
        Cause::DnsError,
        Cause::DnsTimeout,
        Cause::ConnectRefused,
        Cause::ConnectTimeout,
        Cause::ConnectError,
        Cause::TlsExpired,
        Cause::TlsUntrusted,
        Cause::TlsHostname,
        Cause::TlsError,
        Cause::TlsExpiring,
        Cause::ProtocolError,
        Cause::ConnectionReset,
        Cause::Timeout,
        Cause::Http500,
        Cause::Http502,
        Cause::Http503,
        Cause::Http504,
        Cause::Http5xx,
        Cause::HttpStatus,
        Cause::AssertionFailed,
        Cause::TooSlow,
        Cause::Unknown,
        // Appended, never inserted: a cause's code is its place in this list.
        Cause::IcmpUnreachable,
        Cause::GrpcNotServing,
        Cause::SmtpError,
        Cause::DomainExpiring,
    ];

    /// The contract's name for this cause.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Ok => "ok",
            Cause::DnsNxdomain => "dns_nxdomain",
            Cause::DnsError => "dns_error",
            Cause::DnsTimeout => "dns_timeout",
            Cause::ConnectRefused => "connect_refused",
            Cause::ConnectTimeout => "connect_timeout",
            Cause::ConnectError => "connect_error",
            Cause::TlsExpired => "tls_expired",
            Cause::TlsUntrusted => "tls_untrusted",
            Cause::TlsHostname => "tls_hostname",
            Cause::TlsError => "tls_error",
            Cause::TlsExpiring => "tls_expiring",
            Cause::ProtocolError => "protocol_error",
            Cause::ConnectionReset => "connection_reset",
            Cause::Timeout => "timeout",
            Cause::Http500 => "http_500",
            Cause::Http502 => "http_502",
            Cause::Http503 => "http_503",
            Cause::Http504 => "http_504",
            Cause::Http5xx => "http_5xx",
            Cause::HttpStatus => "http_status",
            Cause::AssertionFailed => "assertion_failed",
            Cause::TooSlow => "too_slow",
            Cause::Unknown => "unknown",
            Cause::IcmpUnreachable => "icmp_unreachable",
            Cause::GrpcNotServing => "grpc_not_serving",
            Cause::SmtpError => "smtp_error",
            Cause::DomainExpiring => "domain_expiring",
        }
    }

    /// A stable small number for compact storage.
    pub fn code(self) -> u8 {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0) as u8
    }

    /// The cause stored under `code`.
    pub fn from_code(code: u8) -> Option<Cause> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The cause for an HTTP status that `expect.status` did not accept.
    pub fn for_status(status: u16) -> Cause {
        match status {
            500 => Cause::Http500,
            502 => Cause::Http502,
            503 => Cause::Http503,
            504 => Cause::Http504,
            501 | 505..=599 => Cause::Http5xx,
            _ => Cause::HttpStatus,
        }
    }

    /// Success.
    pub fn is_ok(self) -> bool {
        self == Cause::Ok
    }

    /// Passing with a warning: slower than `max_latency`, or a certificate
    /// or domain registration expiring soon. The monitor shows `degraded`;
    /// alert rules still see a failure (see [`Cause::is_failure`]).
    pub fn is_degraded(self) -> bool {
        matches!(
            self,
            Cause::TooSlow | Cause::TlsExpiring | Cause::DomainExpiring
        )
    }

    /// Whether uptime counts this check as up: `ok` and the degraded causes.
    /// A site that serves fine with a certificate expiring in 5 days was up.
    pub fn counts_as_up(self) -> bool {
        self.is_ok() || self.is_degraded()
    }

    /// A failure (neither `ok` nor `unknown`).
    pub fn is_failure(self) -> bool {
        !matches!(self, Cause::Ok | Cause::Unknown)
    }

    /// One of the 5xx causes.
    pub fn is_5xx(self) -> bool {
        matches!(
            self,
            Cause::Http500 | Cause::Http502 | Cause::Http503 | Cause::Http504 | Cause::Http5xx
        )
    }

    /// How bad a cause is when several addresses disagree: the worst one is
    /// reported. Network-level failures outrank answers, answers outrank
    /// slowness.
    pub fn severity(self) -> u8 {
        match self {
            Cause::Ok => 0,
            Cause::Unknown => 1,
            Cause::TooSlow => 2,
            Cause::TlsExpiring | Cause::DomainExpiring => 3,
            Cause::AssertionFailed | Cause::GrpcNotServing | Cause::SmtpError => 4,
            Cause::HttpStatus => 5,
            Cause::Http5xx | Cause::Http500 | Cause::Http503 => 6,
            Cause::Http502 | Cause::Http504 => 7,
            Cause::Timeout | Cause::ConnectionReset | Cause::ProtocolError => 8,
            Cause::TlsError | Cause::TlsHostname | Cause::TlsUntrusted | Cause::TlsExpired => 9,
            Cause::ConnectError
            | Cause::ConnectTimeout
            | Cause::ConnectRefused
            | Cause::IcmpUnreachable => 10,
            Cause::DnsError | Cause::DnsTimeout | Cause::DnsNxdomain => 11,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a cause code.
#[derive(Debug, thiserror::Error)]
#[error("unknown cause {0:?}")]
pub struct UnknownCause(pub String);

impl FromStr for Cause {
    type Err = UnknownCause;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCause(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_codes() {
        for cause in Cause::ALL {
            let json = serde_json::to_string(&cause).unwrap();
            assert_eq!(json, format!("\"{}\"", cause.as_str()));
            assert_eq!(cause.as_str().parse::<Cause>().unwrap(), cause);
            assert_eq!(Cause::from_code(cause.code()), Some(cause));
        }
    }

    #[test]
    fn ok_and_degraded_causes_count_as_up_and_nothing_else() {
        let up: Vec<Cause> = Cause::ALL
            .into_iter()
            .filter(|c| c.counts_as_up())
            .collect();
        assert_eq!(
            up,
            [
                Cause::Ok,
                Cause::TlsExpiring,
                Cause::TooSlow,
                Cause::DomainExpiring
            ]
        );
        assert!(!Cause::Unknown.counts_as_up() && !Cause::TlsExpired.counts_as_up());
    }

    #[test]
    fn statuses_map_to_their_causes() {
        assert_eq!(Cause::for_status(502), Cause::Http502);
        assert_eq!(Cause::for_status(507), Cause::Http5xx);
        assert_eq!(Cause::for_status(404), Cause::HttpStatus);
    }
}
