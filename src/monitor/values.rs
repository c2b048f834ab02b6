//! The small vocabulary of a monitor's settings: its type, which addresses
//! it checks, DNS record types, accepted statuses and the redirect policy.
//! Config reads them from the file (and writes them back for an agent, in
//! the same spellings); the probes act on them.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// What kind of probe a monitor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MonitorKind {
    /// HTTP or HTTPS request (`url`). The default.
    #[default]
    Http,
    /// TCP connect (`target`).
    Tcp,
    /// TLS handshake and certificate (`target`).
    Tls,
    /// DNS query (`query`, `record`, `server`).
    Dns,
    /// Heartbeats pushed to hopwatch.
    Push,
    /// SMTP banner, EHLO and optionally STARTTLS (`target`, `starttls`).
    Smtp,
    /// Domain registration expiry from RDAP (`domain`, `rdap_server`).
    Domain,
    /// ICMP echo requests (`target`, `count`).
    Icmp,
    /// gRPC health check, `grpc.health.v1.Health/Check` (`target`).
    Grpc,
    /// WebSocket upgrade and one message (`url`, `send`).
    Websocket,
}

impl MonitorKind {
    /// The name used in config, API and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Dns => "dns",
            Self::Push => "push",
            Self::Smtp => "smtp",
            Self::Domain => "domain",
            Self::Icmp => "icmp",
            Self::Grpc => "grpc",
            Self::Websocket => "websocket",
        }
    }
}

/// Which resolved addresses an http/tcp/tls monitor checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AddressMode {
    /// The first address the resolver returns. The default.
    #[default]
    First,
    /// Every A/AAAA address, each checked apart.
    All,
}

/// DNS record types a `dns` monitor may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordKind {
    /// IPv4 address. The default.
    #[default]
    A,
    /// IPv6 address.
    Aaaa,
    /// Canonical name.
    Cname,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Name server.
    Ns,
}

/// One accepted status: an exact code or a class such as `2xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatcher {
    /// Exactly this code.
    Code(u16),
    /// Any code whose hundreds digit is this (2 for `2xx`).
    Class(u8),
}

impl StatusMatcher {
    /// Whether `status` is accepted.
    pub fn matches(self, status: u16) -> bool {
        match self {
            Self::Code(code) => code == status,
            Self::Class(class) => status / 100 == u16::from(class),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(digit) = text.strip_suffix("xx").or_else(|| text.strip_suffix("XX")) {
            return match digit.parse::<u8>() {
                Ok(class @ 1..=5) if digit.len() == 1 => Some(Self::Class(class)),
                _ => None,
            };
        }
        match text.parse::<u16>() {
            Ok(code @ 100..=599) => Some(Self::Code(code)),
            _ => None,
        }
    }
}

impl fmt::Display for StatusMatcher {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "{code}"),
            Self::Class(class) => write!(f, "{class}xx"),
        }
    }
}

/// A code as a number, a class as its text (`"2xx"`): what the file says.
impl Serialize for StatusMatcher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Code(code) => s.serialize_u16(*code),
            Self::Class(_) => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for StatusMatcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StatusVisitor;
        impl Visitor<'_> for StatusVisitor {
            type Value = StatusMatcher;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code (200) or class (\"2xx\")")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusMatcher, E> {
                StatusMatcher::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "invalid status {v:?} (expected a code 100-599 or a class such as \"2xx\")"
                    ))
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusMatcher, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusMatcher, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(StatusVisitor)
    }
}

/// `follow_redirects`: `true` follows redirects under the safety rules of
/// the contract (no https -> http, no hop into link-local or from a public
/// into a private address), `false` never, `any` lifts those refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FollowRedirects {
    /// Never follow; a redirect is judged as the answer.
    Never,
    /// Follow up to 10 redirects, refusing unsafe hops. The default.
    #[default]
    Safe,
    /// Follow up to 10 redirects wherever they lead.
    Any,
}

struct FollowRedirectsVisitor;

impl Visitor<'_> for FollowRedirectsVisitor {
    type Value = FollowRedirects;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("true, false or \"any\"")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FollowRedirects, E> {
        Ok(if v {
            FollowRedirects::Safe
        } else {
            FollowRedirects::Never
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<FollowRedirects, E> {
        match v {
            "any" => Ok(FollowRedirects::Any),
            "true" => Ok(FollowRedirects::Safe),
            "false" => Ok(FollowRedirects::Never),
            other => Err(E::custom(format!(
                "invalid follow_redirects {other:?} (expected true, false or \"any\")"
            ))),
        }
    }
}

/// `true`, `false` or `"any"`, as the file says it.
impl Serialize for FollowRedirects {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Never => s.serialize_bool(false),
            Self::Safe => s.serialize_bool(true),
            Self::Any => s.serialize_str("any"),
        }
    }
}

impl<'de> Deserialize<'de> for FollowRedirects {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FollowRedirectsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_matchers_parse_codes_and_classes() {
        assert_eq!(StatusMatcher::parse("2xx"), Some(StatusMatcher::Class(2)));
        assert_eq!(StatusMatcher::parse("204"), Some(StatusMatcher::Code(204)));
        assert_eq!(StatusMatcher::parse("6xx"), None);
        assert_eq!(StatusMatcher::parse("99"), None);
        assert!(StatusMatcher::Class(5).matches(502));
        assert!(!StatusMatcher::Code(200).matches(201));
    }

    #[test]
    fn follow_redirects_takes_a_bool_or_any() {
        let parse = |text: &str| serde_json::from_str::<FollowRedirects>(text);
        assert_eq!(parse("true").unwrap(), FollowRedirects::Safe);
        assert_eq!(parse("false").unwrap(), FollowRedirects::Never);
        assert_eq!(parse("\"any\"").unwrap(), FollowRedirects::Any);
        let err = parse("\"all\"").unwrap_err().to_string();
        assert!(err.contains("expected true, false or \"any\""), "{err}");
    }

    #[test]
    fn what_is_written_reads_back() {
        for follow in [
            FollowRedirects::Never,
            FollowRedirects::Safe,
            FollowRedirects::Any,
        ] {
            let text = serde_json::to_string(&follow).unwrap();
            assert_eq!(
                serde_json::from_str::<FollowRedirects>(&text).unwrap(),
                follow
            );
        }
        for status in [StatusMatcher::Code(204), StatusMatcher::Class(3)] {
            let text = serde_json::to_string(&status).unwrap();
            assert_eq!(
                serde_json::from_str::<StatusMatcher>(&text).unwrap(),
                status
            );
        }
        assert_eq!(
            serde_json::to_string(&StatusMatcher::Class(2)).unwrap(),
            "\"2xx\""
        );
        assert_eq!(
            serde_json::to_string(&RecordKind::Aaaa).unwrap(),
            "\"AAAA\""
        );
    }
}
