//! The dns probe: one query of one record type against a chosen server (or
//! the system's), its rcode and answers classified into a cause.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::connect::ms;
use super::resolve;
use super::{Cause, CheckResult};
use crate::monitor::RecordKind;
use crate::monitor::spec::DnsSpec;

/// A resolver ready for one monitor's checks, and the server it asks when
/// that is a single known address.
#[derive(Clone)]
struct Prepared {
    resolver: TokioResolver,
    server: Option<SocketAddr>,
}

/// Which resolver a check needs: its server (`None` for the system's name
/// servers) and its timeout.
type ResolverKey = (Option<SocketAddr>, Duration);

/// Resolvers by (server, timeout), built on a monitor's first check and
/// reused by the next ones: a check runs every few seconds, and a resolver
/// keeps its TCP connection to the server open between them. The map grows
/// only with distinct configured pairs.
#[derive(Default)]
pub struct DnsResolvers {
    prepared: Mutex<HashMap<ResolverKey, Prepared>>,
}

/// Runs one DNS check: `spec.record` for `spec.query`, bounded by
/// `spec.timeout`, with answers compared as a set to `expect.answers`.
#[tracing::instrument(skip_all, fields(query = %spec.query, record = ?spec.record))]
pub async fn check(spec: &DnsSpec, resolvers: &DnsResolvers, started: SystemTime) -> CheckResult {
    let start = Instant::now();
    let mut result = CheckResult::new(started, Cause::Ok);
    let prepared = match resolvers.prepared(spec.server, spec.timeout) {
        Ok(prepared) => prepared,
        Err(message) => return failed(result, Cause::DnsError, message),
    };
    result.remote_addr = prepared.server;
    let kind = record_type(spec.record);
    let name = match absolute_name(&spec.query) {
        Ok(name) => name,
        Err(message) => return failed(result, Cause::DnsError, message),
    };
    let outcome = tokio::time::timeout(spec.timeout, prepared.resolver.lookup(name, kind)).await;
    let took = start.elapsed();
    result.phases_ms.dns = ms(took);
    result.latency_ms = ms(took);

    let answers = match outcome {
        Err(_) => {
            let message = format!(
                "no answer for {} {kind} within {}",
                spec.query,
                humantime::format_duration(spec.timeout)
            );
            return failed(result, Cause::DnsTimeout, message);
        }
        Ok(Ok(found)) => render(found.answers().iter().map(|r| &r.data), kind),
        // NODATA: the name exists without records of this type. Only a
        // monitor that says `answers: []` expects that.
        Ok(Err(NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code: ResponseCode::NoError,
            ..
        })))) => Vec::new(),
        Ok(Err(err)) => {
            let (cause, message) = resolve::classify(&err, &spec.query, kind_name(kind));
            return failed(result, cause, message);
        }
    };

    // An empty answer is the resolver's failure (dns_error, naming the
    // rcode) unless the monitor expects exactly none with `answers: []`.
    let expects_none = spec.answers.as_ref().is_some_and(Vec::is_empty);
    match &spec.answers {
        _ if answers.is_empty() && !expects_none => {
            let message = format!(
                "{} has no {kind} records (NOERROR, empty answer)",
                spec.query
            );
            return failed(result, Cause::DnsError, message);
        }
        None => {}
        Some(expected) => {
            let want: BTreeSet<String> =
                expected.iter().map(|a| normalise(a, spec.record)).collect();
            let got: BTreeSet<String> = answers.into_iter().collect();
            if want != got {
                let message = format!(
                    "expected answers [{}], got [{}]",
                    joined(&want),
                    joined(&got)
                );
                return failed(result, Cause::AssertionFailed, message);
            }
        }
    }

    if let Some(limit) = spec.max_latency
        && took > limit
    {
        let message = format!(
            "answered in {:.0} ms, more than max_latency {}",
            ms(took),
            humantime::format_duration(limit)
        );
        return failed(result, Cause::TooSlow, message);
    }
    result
}

fn failed(mut result: CheckResult, cause: Cause, message: String) -> CheckResult {
    result.set_cause(cause);
    result.error = Some(message);
    result
}

/// The resolver for `server` (or the system's), built once per pair.
impl DnsResolvers {
    fn prepared(&self, server: Option<SocketAddr>, timeout: Duration) -> Result<Prepared, String> {
        // A poisoned lock only means another check panicked mid-insert; the
        // map of cloneable handles is still sound.
        let mut map = self
            .prepared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = map.get(&(server, timeout)) {
            return Ok(found.clone());
        }
        let built = build(server, timeout)?;
        map.insert((server, timeout), built.clone());
        Ok(built)
    }
}

fn build(server: Option<SocketAddr>, timeout: Duration) -> Result<Prepared, String> {
    let (config, mut options) = match server {
        Some(addr) => {
            // UDP first; hickory retries over TCP when an answer comes back
            // truncated, as dig does.
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut ns.connections {
                connection.port = addr.port();
            }
            let config = ResolverConfig::from_parts(None, Vec::new(), vec![ns]);
            (config, ResolverOpts::default())
        }
        None => resolve::system_config(),
    };
    let known = match server {
        Some(addr) => Some(addr),
        None => single_server(&config),
    };
    // One query per check, judged as it came back: no cache, no retry of a
    // SERVFAIL (a retry would hide a flapping server) and no hosts file (a
    // dns monitor asks DNS, as dig does). The whole exchange gets the
    // check's timeout; tokio's timeout in `check` is the hard stop.
    resolve::uncached(&mut options);
    options.attempts = 0;
    options.timeout = timeout;
    options.use_hosts_file = ResolveHosts::Never;
    let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(options)
        .build()
        .map_err(|err| format!("cannot build a DNS resolver: {err}"))?;
    Ok(Prepared {
        resolver,
        server: known,
    })
}

/// The server's address when the system has exactly one name server.
fn single_server(config: &ResolverConfig) -> Option<SocketAddr> {
    match config.name_servers() {
        [only] => {
            let port = only.connections.first().map_or(53, |c| c.port);
            Some(SocketAddr::new(only.ip, port))
        }
        _ => None,
    }
}

/// The query as an absolute name: like dig, a dns monitor asks for exactly
/// the name written, without the search list.
fn absolute_name(query: &str) -> Result<Name, String> {
    let mut name =
        Name::from_utf8(query).map_err(|err| format!("invalid query name {query:?}: {err}"))?;
    name.set_fqdn(true);
    Ok(name)
}

fn record_type(kind: RecordKind) -> RecordType {
    match kind {
        RecordKind::A => RecordType::A,
        RecordKind::Aaaa => RecordType::AAAA,
        RecordKind::Cname => RecordType::CNAME,
        RecordKind::Mx => RecordType::MX,
        RecordKind::Txt => RecordType::TXT,
        RecordKind::Ns => RecordType::NS,
    }
}

fn kind_name(kind: RecordType) -> &'static str {
    match kind {
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        RecordType::CNAME => "CNAME",
        RecordType::MX => "MX",
        RecordType::TXT => "TXT",
        RecordType::NS => "NS",
        _ => "matching",
    }
}

/// The answers of type `kind` as text: IPs, names without the final dot,
/// MX as `10 mail.example.com`, TXT strings joined. A CNAME that led to the
/// answer is left out, so an A query yields only addresses.
fn render<'a>(records: impl Iterator<Item = &'a RData>, kind: RecordType) -> Vec<String> {
    records
        .filter(|data| data.record_type() == kind)
        .filter_map(|data| match data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(aaaa) => Some(aaaa.0.to_string()),
            RData::CNAME(cname) => Some(name_text(&cname.0)),
            RData::NS(ns) => Some(name_text(&ns.0)),
            RData::MX(mx) => Some(format!("{} {}", mx.preference, name_text(&mx.exchange))),
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// A name in lower case without the final dot; DNS names ignore case.
fn name_text(name: &Name) -> String {
    let text = name.to_utf8().to_lowercase();
    match text.strip_suffix('.') {
        Some(bare) if !bare.is_empty() => bare.to_owned(),
        _ => text,
    }
}

/// An expected answer in the form `render` produces, so that `2001:DB8::1`
/// matches `2001:db8::1` and `Mail.Example.com.` matches `mail.example.com`.
fn normalise(expected: &str, kind: RecordKind) -> String {
    let trimmed = expected.trim();
    let name = |text: &str| match Name::from_utf8(text) {
        Ok(name) => name_text(&name),
        Err(_) => text.to_owned(),
    };
    match kind {
        RecordKind::A | RecordKind::Aaaa => trimmed
            .parse::<IpAddr>()
            .map_or_else(|_| trimmed.to_owned(), |ip| ip.to_string()),
        RecordKind::Cname | RecordKind::Ns => name(trimmed),
        RecordKind::Mx => match trimmed.split_once(char::is_whitespace) {
            Some((preference, exchange)) => match preference.parse::<u16>() {
                Ok(preference) => format!("{preference} {}", name(exchange.trim())),
                Err(_) => trimmed.to_owned(),
            },
            None => trimmed.to_owned(),
        },
        // TXT content is data: kept exactly, spaces included.
        RecordKind::Txt => expected.to_owned(),
    }
}

fn joined(set: &BTreeSet<String>) -> String {
    set.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, NS, TXT};

    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    #[test]
    fn answers_render_as_dig_prints_them_without_final_dots() {
        let records = [
            RData::A(A(Ipv4Addr::new(203, 0, 113, 7))),
            RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
            RData::CNAME(CNAME(name("Edge.Example.com."))),
            RData::NS(NS(name("ns1.example.com."))),
            RData::MX(MX::new(10, name("mail.example.com."))),
            RData::TXT(TXT::new(vec!["v=spf1 ".into(), "-all".into()])),
        ];
        let text = |kind| render(records.iter(), kind);
        assert_eq!(text(RecordType::A), ["203.0.113.7"]);
        assert_eq!(text(RecordType::AAAA), ["2001:db8::1"]);
        assert_eq!(text(RecordType::CNAME), ["edge.example.com"]);
        assert_eq!(text(RecordType::NS), ["ns1.example.com"]);
        assert_eq!(text(RecordType::MX), ["10 mail.example.com"]);
        assert_eq!(text(RecordType::TXT), ["v=spf1 -all"]);
        assert!(text(RecordType::SOA).is_empty());
    }

    #[test]
    fn expected_answers_are_normalised_like_rendered_ones() {
        assert_eq!(normalise("2001:DB8:0::1", RecordKind::Aaaa), "2001:db8::1");
        assert_eq!(normalise(" 203.0.113.7 ", RecordKind::A), "203.0.113.7");
        assert_eq!(normalise("not-an-ip", RecordKind::A), "not-an-ip");
        assert_eq!(
            normalise("Edge.Example.COM.", RecordKind::Cname),
            "edge.example.com"
        );
        assert_eq!(
            normalise("10   Mail.example.com.", RecordKind::Mx),
            "10 mail.example.com"
        );
        assert_eq!(normalise("ten mail", RecordKind::Mx), "ten mail");
        assert_eq!(normalise(" spaced ", RecordKind::Txt), " spaced ");
        assert_eq!(name_text(&Name::root()), ".");
    }

    #[test]
    fn query_names_are_absolute() {
        assert!(absolute_name("shop").unwrap().is_fqdn());
        assert!(absolute_name("shop.example.com.").unwrap().is_fqdn());
    }

    #[test]
    fn a_single_system_server_is_reported_as_the_remote() {
        let one = ResolverConfig::from_parts(
            None,
            Vec::new(),
            vec![NameServerConfig::udp_and_tcp(IpAddr::from([127, 0, 0, 53]))],
        );
        assert_eq!(single_server(&one), Some("127.0.0.53:53".parse().unwrap()));
        let two = ResolverConfig::from_parts(
            None,
            Vec::new(),
            vec![
                NameServerConfig::udp(IpAddr::from([127, 0, 0, 53])),
                NameServerConfig::udp(IpAddr::from([127, 0, 0, 54])),
            ],
        );
        assert_eq!(single_server(&two), None);
    }
}
