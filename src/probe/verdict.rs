//! The hop at fault for one check and one line for the person on call; the
//! chain verdict across `upstream` is built on top of this elsewhere.

use http::StatusCode;

use crate::monitor::cause::Cause;
use crate::monitor::result::{CheckResult, Hop, Role, Verdict};
use crate::monitor::spec::ProbeSpec;

/// An error quoted in a summary is cut here, so the line stays a line.
const DETAIL_MAX: usize = 240;

/// The verdict of one check of `spec`: [`for_check`], except that a dns
/// monitor's only hop is the name server, so a wrong answer is a DNS
/// problem, not an application one.
pub fn for_probe(spec: &ProbeSpec, result: &CheckResult) -> Verdict {
    if let ProbeSpec::Icmp(_) = spec
        && let Some(verdict) = icmp(result)
    {
        return verdict;
    }
    if matches!(spec, ProbeSpec::Dns(_)) && result.cause == Cause::AssertionFailed {
        return Verdict {
            hop: Hop::Dns,
            summary: format!(
                "the name server answered, but not as expected: {}",
                result.error.as_deref().unwrap_or("wrong answers")
            ),
        };
    }
    for_check(result)
}

/// The verdict of a single check. It sees only the host it talked to, so a
/// failure to reach that host blames DNS, TLS or the network, and an answer
/// blames the origin unless a gateway's own page says more.
pub fn for_check(result: &CheckResult) -> Verdict {
    let facts = Facts(result);
    let (hop, summary) = match result.cause {
        Cause::Ok => (Hop::None, facts.healthy()),
        Cause::Unknown => (Hop::Unknown, facts.uncounted()),
        Cause::DnsNxdomain | Cause::DnsError | Cause::DnsTimeout => (Hop::Dns, facts.dns()),
        Cause::ConnectRefused | Cause::ConnectTimeout | Cause::ConnectError => {
            (Hop::Network, facts.connect())
        }
        Cause::TlsExpired
        | Cause::TlsUntrusted
        | Cause::TlsHostname
        | Cause::TlsError
        | Cause::TlsExpiring => (Hop::Tls, facts.tls()),
        Cause::ProtocolError | Cause::ConnectionReset | Cause::Timeout => facts.broken_exchange(),
        Cause::Http500 | Cause::Http502 | Cause::Http503 | Cause::Http504 | Cause::Http5xx => {
            facts.server_error()
        }
        Cause::HttpStatus => facts.unexpected_status(),
        Cause::AssertionFailed => (Hop::Origin, facts.assertion()),
        Cause::TooSlow => facts.too_slow(),
        Cause::IcmpUnreachable => (Hop::Network, facts.said("no route to")),
        Cause::GrpcNotServing => (Hop::Origin, facts.said("the gRPC service at")),
        Cause::SmtpError => (Hop::Origin, facts.said("the mail server at")),
        Cause::DomainExpiring => (Hop::Dns, facts.said("the registration checked at")),
    };
    let summary = one_line(&format!("{}{summary}", facts.addresses_prefix()));
    Verdict { hop, summary }
}

/// An icmp check's verdict: no port, no origin, only the path to a host, so
/// a silence blames the network, and the summary carries loss and round trips.
fn icmp(result: &CheckResult) -> Option<Verdict> {
    let facts = Facts(result);
    let host = result
        .remote_addr
        .map_or_else(|| "the host".to_owned(), |a| a.ip().to_string());
    let loss = result
        .packet_loss
        .map_or(String::new(), |loss| format!("{:.0}% loss", loss * 100.0));
    let rtt = result.rtt_ms.map_or(String::new(), |r| {
        format!("rtt min/avg/max {:.2}/{:.2}/{:.2} ms", r.min, r.avg, r.max)
    });
    let figures = [loss, rtt]
        .into_iter()
        .filter(|f| !f.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let (hop, summary) = match result.cause {
        Cause::Ok => (
            Hop::None,
            format!("healthy: {host} answers ping ({figures})"),
        ),
        Cause::Timeout => (
            Hop::Network,
            format!(
                "{host} did not answer ping{}: the host is down, or a firewall or route drops \
                 ICMP",
                facts.detail()
            ),
        ),
        Cause::IcmpUnreachable => (
            Hop::Network,
            format!("{host} is unreachable{}", facts.detail()),
        ),
        Cause::TooSlow => (
            Hop::Network,
            format!(
                "the path to {host} is too slow ({figures}){}",
                facts.detail()
            ),
        ),
        _ => return None,
    };
    Some(Verdict {
        hop,
        summary: one_line(&summary),
    })
}

const UNCOUNTED: &str = "hopwatch's own network check failed; result not counted";

/// The result, read for a summary.
struct Facts<'a>(&'a CheckResult);

impl Facts<'_> {
    /// The address we talked to, or a stand-in.
    fn peer(&self) -> String {
        let addr = self.0.remote_addr;
        addr.map_or_else(|| "the target".to_owned(), |a| a.to_string())
    }

    /// `<what> <peer>: <error>`: the probe's own words about a peer, for
    /// causes whose message already says what went wrong.
    fn said(&self, what: &str) -> String {
        format!("{what} {}{}", self.peer(), self.detail())
    }

    /// `: <error>` when the probe said something, else nothing.
    fn detail(&self) -> String {
        match self.0.error.as_deref().map(str::trim) {
            Some(error) if !error.is_empty() => format!(": {}", cut(error, DETAIL_MAX)),
            _ => String::new(),
        }
    }

    fn ms(&self) -> String {
        format!("{:.0} ms", self.0.latency_ms)
    }

    /// `502 Bad Gateway`, or the bare code for an unusual one.
    fn status_line(&self) -> String {
        let Some(status) = self.0.status else {
            return "an error".to_owned();
        };
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason());
        match reason {
            Some(reason) => format!("{status} {reason}"),
            None => status.to_string(),
        }
    }

    fn responder(&self) -> (Role, Option<&str>) {
        match &self.0.responder {
            Some(r) => (r.role, r.product.as_deref()),
            None => (Role::Unknown, None),
        }
    }

    /// The gateway by name, for a gateway responder.
    fn gateway_name(&self) -> &str {
        self.responder().1.unwrap_or("the gateway")
    }

    /// ` (request id X)` when the response carried one: what to grep for.
    fn request_id(&self) -> String {
        let evidence = self.0.evidence.as_ref();
        match evidence.and_then(|e| e.request_id.as_deref()) {
            Some(id) => format!(" (request id {})", cut(id, 80)),
            None => String::new(),
        }
    }

    /// With `addresses: all` and only some failing: which share broke.
    fn addresses_prefix(&self) -> String {
        let Some(addresses) = self.0.addresses.as_ref().filter(|a| a.len() > 1) else {
            return String::new();
        };
        let failing = addresses.iter().filter(|a| !a.ok).count();
        if failing == 0 || failing == addresses.len() {
            return String::new();
        }
        format!("{failing} of {} addresses fail; ", addresses.len())
    }

    /// Why an `unknown` check does not count: what the probe said (it ran
    /// out of file descriptors), else the usual reason.
    fn uncounted(&self) -> String {
        match self.detail() {
            detail if detail.is_empty() => UNCOUNTED.to_owned(),
            detail => format!("not counted{detail}"),
        }
    }

    fn healthy(&self) -> String {
        match self.0.status {
            Some(status) => format!("healthy: {status} in {}", self.ms()),
            None => format!("healthy ({})", self.ms()),
        }
    }

    fn dns(&self) -> String {
        let what = match self.0.cause {
            Cause::DnsNxdomain => {
                "the name does not exist in DNS (NXDOMAIN): check the record and the zone's \
                 delegation"
            }
            Cause::DnsTimeout => {
                "no DNS answer in time: the resolver or the zone's name servers are down or \
                 unreachable"
            }
            _ => "the DNS lookup failed (SERVFAIL, refused, or no address records)",
        };
        format!("{what}{}", self.detail())
    }

    fn connect(&self) -> String {
        let (host, port) = match self.0.remote_addr {
            Some(addr) => (addr.ip().to_string(), format!("port {}", addr.port())),
            None => ("the target".to_owned(), "its port".to_owned()),
        };
        match self.0.cause {
            Cause::ConnectRefused => format!(
                "{host} refuses connections on {port}: the service is not listening or a \
                 firewall rejects"
            ),
            Cause::ConnectTimeout => format!(
                "{host} did not answer the TCP handshake on {port} within {:.0} ms: a firewall \
                 drops the packets, a route is missing, or the host is down",
                self.0.phases_ms.connect
            ),
            _ => format!(
                "cannot connect to {host} on {port} (host or network unreachable, or reset \
                 during the handshake){}",
                self.detail()
            ),
        }
    }

    fn tls(&self) -> String {
        let peer = self.peer();
        let detail = self.detail();
        let cert = self.0.tls.as_ref();
        match self.0.cause {
            Cause::TlsExpiring => {
                let name = cert.and_then(|c| c.sans.first());
                let name = name.map_or(String::new(), |n| format!(" for {n}"));
                match cert {
                    Some(c) if detail.is_empty() => {
                        format!(
                            "renew the certificate{name}: it expires in {:.1} days",
                            c.days_left
                        )
                    }
                    _ => format!("renew the certificate{name}{detail}"),
                }
            }
            Cause::TlsExpired => {
                let expired = cert.filter(|c| c.days_left < 0.0);
                let ago =
                    expired.map_or(String::new(), |c| format!(" {:.0} days ago", -c.days_left));
                format!(
                    "the certificate of {peer} expired{ago}: renew it and reload the server{detail}"
                )
            }
            Cause::TlsUntrusted => format!(
                "the certificate of {peer} is not trusted (unknown issuer, self-signed, or a \
                 missing intermediate certificate){detail}"
            ),
            Cause::TlsHostname => {
                // A certificate may list hundreds of names; a few tell the story.
                let sans = cert.map_or(&[][..], |c| &c.sans[..]);
                let names = match sans {
                    [] => String::new(),
                    _ if sans.len() <= 5 => format!("; it covers {}", sans.join(", ")),
                    _ => format!("; it covers {}, …", sans[..5].join(", ")),
                };
                format!(
                    "the certificate of {peer} does not name this host (wrong certificate or SNI \
                     routing){names}{detail}"
                )
            }
            _ => format!("the TLS handshake with {peer} failed{detail}"),
        }
    }

    /// protocol_error, connection_reset, timeout: whoever we talked to broke
    /// the exchange, the origin unless a gateway is known to have answered.
    fn broken_exchange(&self) -> (Hop, String) {
        let (hop, who) = match self.responder() {
            (Role::Gateway, _) => (
                Hop::Gateway,
                format!("{} at {}", self.gateway_name(), self.peer()),
            ),
            _ => (Hop::Origin, self.peer()),
        };
        let (ms, detail) = (self.ms(), self.detail());
        let summary = match self.0.cause {
            Cause::ProtocolError => {
                format!(
                    "{who} answered, but not with valid HTTP (wrong port? TLS expected?){detail}"
                )
            }
            Cause::ConnectionReset => format!(
                "{who} closed the connection after {ms} before a complete response (a crashed \
                 worker, or a limit cut it){detail}"
            ),
            _ => format!(
                "{who} accepted the connection but sent no complete response within {ms}: the \
                 server is hanging or overloaded{detail}"
            ),
        };
        (hop, summary)
    }

    fn server_error(&self) -> (Hop, String) {
        let status = self.0.status.unwrap_or_default();
        let (line, id) = (self.status_line(), self.request_id());
        match self.responder() {
            (Role::Gateway, Some("cloudflare")) if (520..=530).contains(&status) => {
                cloudflare(status, &id)
            }
            (Role::Gateway, _) => self.gateway_error(status, &line, &id),
            (Role::Origin, product) => {
                let product = product.map_or(String::new(), |p| format!(" ({p})"));
                let hint = match status {
                    503 => "it is overloaded, starting, or in maintenance",
                    502 | 504 => "something the application calls in turn failed",
                    _ => "the application failed; check its logs",
                };
                let peer = self.peer();
                let summary =
                    format!("the origin at {peer}{product} answered {line} itself: {hint}{id}");
                (Hop::Origin, summary)
            }
            (Role::Unknown, _) => {
                let summary = format!(
                    "{} answered {line} with a page hopwatch does not recognise, so the gateway \
                     cannot be told from the origin: set `upstream` to check the origin \
                     directly{id}",
                    self.peer()
                );
                (Hop::Unknown, summary)
            }
        }
    }

    /// A gateway's own 5xx page: 502, 503 and 504 are about the server
    /// behind it; any other is the gateway's own failure.
    fn gateway_error(&self, status: u16, line: &str, id: &str) -> (Hop, String) {
        let gw = self.gateway_name();
        match status {
            502 => (
                Hop::Origin,
                format!(
                    "{gw} answered {line} itself: it got no valid answer from the server behind it \
                     (origin down, crashed, or the gateway points at the wrong address); check the \
                     origin directly{id}"
                ),
            ),
            503 => (
                Hop::Origin,
                format!(
                    "{gw} answered {line} itself: it has no healthy server behind it (origin down \
                     or failing the gateway's health checks); check the origin directly{id}"
                ),
            ),
            504 => (
                Hop::OriginSlow,
                format!(
                    "{gw} gave up waiting for the origin (504) after {}: the origin is slow or \
                     hanging{id}",
                    self.ms()
                ),
            ),
            _ => (
                Hop::Gateway,
                format!(
                    "{gw} failed on its own with {line}, not about the server behind it: check \
                     its error log{id}"
                ),
            ),
        }
    }

    fn unexpected_status(&self) -> (Hop, String) {
        let error = self.0.error.as_deref().unwrap_or_default();
        let expected = match error.rsplit_once("(expected ") {
            Some((_, rest)) => format!(", expected {}", rest.trim_end_matches(')')),
            None if !error.is_empty() => format!(": {}", cut(error, DETAIL_MAX)),
            None => String::new(),
        };
        let line = self.status_line();
        if let (Role::Gateway, _) = self.responder() {
            // The gateway's own page: the request stopped there.
            let gw = self.gateway_name();
            let summary = format!(
                "{gw} answered {line} itself{expected}: check its routing for this host and path"
            );
            return (Hop::Gateway, summary);
        }
        let hint = match self.0.status {
            Some(401 | 403) => " (credentials or an allow-list reject hopwatch)",
            Some(404) => " (the path or virtual host is gone)",
            Some(429) => " (rate limited)",
            Some(300..=399) => " (a redirect that was not followed)",
            _ => "",
        };
        (
            Hop::Origin,
            format!("{} answered {line}{expected}{hint}", self.peer()),
        )
    }

    fn assertion(&self) -> String {
        let (peer, line) = (self.peer(), self.status_line());
        format!(
            "{peer} answered {line}, but the answer is wrong{}",
            self.detail()
        )
    }

    /// Blames the phase that took most of the time: a slow resolver or path
    /// must not page the application's owners.
    fn too_slow(&self) -> (Hop, String) {
        let p = &self.0.phases_ms;
        let phases = [
            (Hop::Dns, "DNS resolution", p.dns),
            (Hop::Network, "the TCP handshake", p.connect),
            (Hop::Origin, "the TLS handshake", p.tls),
            (Hop::Origin, "waiting for the first byte", p.ttfb),
            (Hop::Origin, "reading the body", p.transfer),
        ];
        let slowest = phases.iter().max_by(|a, b| a.2.total_cmp(&b.2));
        let error = match self.0.error.as_deref() {
            Some(error) => cut(error, DETAIL_MAX).to_owned(),
            None => format!("took {}", self.ms()),
        };
        let summary = format!("too slow at {}: {error}", self.peer());
        match slowest {
            Some((hop, phase, ms)) if *ms > 0.0 => (
                *hop,
                format!("{summary}; most of it in {phase} ({ms:.0} ms)"),
            ),
            _ => (Hop::Origin, summary),
        }
    }
}

/// Cloudflare's own 52x codes each name what broke between it and the origin.
fn cloudflare(status: u16, id: &str) -> (Hop, String) {
    let (hop, what) = match status {
        520 => (
            Hop::Origin,
            "the origin sent Cloudflare an empty or invalid answer",
        ),
        521 => (
            Hop::Origin,
            "the origin refused Cloudflare: web server down or firewalled",
        ),
        522 => (
            Hop::Origin,
            "Cloudflare timed out connecting: origin down or packets dropped",
        ),
        523 => (
            Hop::Origin,
            "Cloudflare cannot reach the origin: wrong origin address?",
        ),
        524 => (
            Hop::OriginSlow,
            "Cloudflare gave up waiting for the origin's answer: it is slow",
        ),
        525 => (
            Hop::Origin,
            "the TLS handshake between Cloudflare and the origin failed",
        ),
        526 => (
            Hop::Origin,
            "the origin's certificate is not valid for Cloudflare",
        ),
        530 => (Hop::Origin, "Cloudflare cannot resolve or reach the origin"),
        _ => (
            Hop::Origin,
            "Cloudflare got no valid answer from the origin",
        ),
    };
    (hop, format!("{what} ({status}){id}"))
}

fn cut(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

/// Control characters and runs of whitespace become one space: a summary
/// is one line even when an error message was not.
fn one_line(text: &str) -> String {
    let words = text.split(|c: char| c.is_whitespace() || c.is_control());
    words
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
