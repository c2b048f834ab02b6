//! Name resolution for the http, tcp and tls probes: one process-wide
//! resolver without a cache, so that every check sees DNS as it is now.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;

use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::{Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RecordType};
use hickory_resolver::{Hosts, TokioResolver};

use super::Cause;
use crate::fdlimit::{is_out_of_descriptors, out_of_descriptors_message};

/// A failed lookup, already classified.
#[derive(Debug, Clone)]
pub struct LookupFailure {
    /// `dns_nxdomain`, `dns_error` or `dns_timeout`.
    pub cause: Cause,
    /// What the resolver said.
    pub message: String,
}

impl LookupFailure {
    fn new(cause: Cause, message: impl Into<String>) -> Self {
        Self {
            cause,
            message: message.into(),
        }
    }
}

/// The system's resolver and hosts file, read once for the process.
struct System {
    resolver: TokioResolver,
    /// Consulted before DNS and, on a hit, instead of it, as glibc's
    /// `hosts: files dns` does. Left to hickory, a name with only an A line
    /// in /etc/hosts would still send its AAAA query to the network and wait
    /// for that answer, so `localhost` could time out with DNS down.
    hosts: Hosts,
}

/// Resolves the names of http, tcp and tls monitors through the system's
/// name servers and hosts file, read once, on first use, and kept by the
/// owner (the daemon's [`super::Prober`]) for its life.
#[derive(Default)]
pub struct Resolver {
    system: OnceLock<Result<System, String>>,
}

impl System {
    fn load() -> Result<System, String> {
        let (config, mut options) = system_config();
        // The probes want every address in a fixed order, A first (the
        // contract's `addresses: first` means the first A record).
        options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        // Handled by `System::hosts` above.
        options.use_hosts_file = ResolveHosts::Never;
        uncached(&mut options);
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(|err| format!("cannot build the DNS resolver: {err}"))?;
        let hosts = Hosts::from_system().unwrap_or_else(|err| {
            tracing::warn!(%err, "cannot read the hosts file; resolving every name through DNS");
            Hosts::default()
        });
        Ok(System { resolver, hosts })
    }
}

/// The resolvers and options of resolv.conf. Without a readable one this
/// falls back to what glibc does then, a name server on 127.0.0.1:53, rather
/// than to a public resolver the operator never chose; logged once, as the
/// callers keep the result for the life of the process.
pub(super) fn system_config() -> (ResolverConfig, ResolverOpts) {
    match hickory_resolver::system_conf::read_system_conf() {
        Ok(config) => config,
        Err(err) => {
            tracing::warn!(%err, "cannot read the system resolver configuration; using 127.0.0.1:53");
            let local = NameServerConfig::udp_and_tcp(IpAddr::V4(Ipv4Addr::LOCALHOST));
            (
                ResolverConfig::from_parts(None, Vec::new(), vec![local]),
                ResolverOpts::default(),
            )
        }
    }
}

/// Turns the response cache off. A monitor must see DNS as clients do at
/// each check, as blackbox_exporter does: a cached answer would hide a
/// deleted record or a dead name server until its TTL ran out, and a cached
/// NXDOMAIN would keep reporting an outage that is already fixed.
pub(super) fn uncached(options: &mut ResolverOpts) {
    options.cache_size = 0;
}

/// [`Resolver::lookup`] with a resolver of its own, for a one-off lookup.
pub async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, LookupFailure> {
    Resolver::default().lookup(host, port).await
}

impl Resolver {
    /// Resolves `host` to socket addresses on `port`, A records before AAAA.
    /// IP literals (IPv6 with or without brackets) skip DNS; names in the hosts
    /// file are answered from it; `.invalid` names are NXDOMAIN without a query.
    #[tracing::instrument(skip_all, fields(host = %host))]
    pub async fn lookup(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, LookupFailure> {
        let unbracketed = host
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        if is_invalid_tld(host) {
            // hickory answers `.invalid` itself (RFC 6761), but only for the name
            // as given: with a search list it would go on to query
            // `name.invalid.<search domain>` over the network.
            return Err(LookupFailure::new(
                Cause::DnsNxdomain,
                format!("{host} does not exist (.invalid is reserved by RFC 6761)"),
            ));
        }
        let name = Name::from_utf8(host).map_err(|err| {
            LookupFailure::new(
                Cause::DnsError,
                format!("invalid host name {host:?}: {err}"),
            )
        })?;
        let system = self
            .system
            .get_or_init(System::load)
            .as_ref()
            .map_err(|err| LookupFailure::new(Cause::DnsError, err.clone()))?;
        let from_hosts = hosts_file_addresses(&system.hosts, &name);
        if !from_hosts.is_empty() {
            return Ok(from_hosts
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect());
        }
        match system.resolver.lookup_ip(name).await {
            Ok(found) => Ok(found.iter().map(|ip| SocketAddr::new(ip, port)).collect()),
            Err(err) => {
                let (cause, message) = classify(&err, host, "A or AAAA");
                Err(LookupFailure::new(cause, message))
            }
        }
    }
}

/// `true` for `invalid` and names under it, any case, with or without the
/// final dot.
fn is_invalid_tld(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let last = host.rsplit('.').next().unwrap_or(host);
    last.eq_ignore_ascii_case("invalid")
}

/// The A then AAAA addresses the hosts file gives `name`.
fn hosts_file_addresses(hosts: &Hosts, name: &Name) -> Vec<IpAddr> {
    [RecordType::A, RecordType::AAAA]
        .into_iter()
        .filter_map(|kind| hosts.lookup_static_host(&Query::query(name.clone(), kind)))
        .flat_map(|found| {
            found
                .answers()
                .iter()
                .filter_map(|record| record.data.ip_addr())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Classifies a resolver error from its type, never its text, into a cause
/// and a sentence naming `name`, the record `kind` asked for and the rcode.
pub(super) fn classify(err: &NetError, name: &str, kind: &str) -> (Cause, String) {
    match err {
        // The resolver could not get a socket: hopwatch's fault, not DNS's.
        NetError::Io(io) if is_out_of_descriptors(io) => (
            Cause::Unknown,
            out_of_descriptors_message(&format!("looking up {name}"), io),
        ),
        NetError::Timeout => (
            Cause::DnsTimeout,
            format!("no DNS answer for {name} in time"),
        ),
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => (
            Cause::DnsTimeout,
            format!("no DNS answer for {name} in time"),
        ),
        NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code: ResponseCode::NXDomain,
            ..
        })) => (
            Cause::DnsNxdomain,
            format!("{name} does not exist (NXDOMAIN)"),
        ),
        NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. })) => (
            Cause::DnsError,
            format!(
                "{name} has no {kind} records ({}, empty answer)",
                rcode_name(*response_code)
            ),
        ),
        NetError::Dns(DnsError::ResponseCode(code)) => (
            Cause::DnsError,
            format!("the DNS server answered {} for {name}", rcode_name(*code)),
        ),
        NetError::Io(io) => (
            Cause::DnsError,
            format!("cannot reach the DNS server for {name}: {io}"),
        ),
        other => (
            Cause::DnsError,
            format!("DNS lookup of {name} failed: {other}"),
        ),
    }
}

/// The mnemonic dig prints for an rcode (`SERVFAIL`), for error messages.
pub(super) fn rcode_name(code: ResponseCode) -> String {
    let name = match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        other => return format!("RCODE{}", u16::from(other)),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn query() -> Query {
        Query::query(
            Name::from_ascii("shop.example.com.").unwrap(),
            RecordType::A,
        )
    }

    #[test]
    fn invalid_tld_is_recognised_in_any_spelling() {
        for host in ["invalid", "name.invalid", "NAME.INVALID.", "a.b.Invalid"] {
            assert!(is_invalid_tld(host), "{host}");
        }
        for host in [
            "invalid.example.com",
            "example.com",
            "invalidx",
            "localhost",
        ] {
            assert!(!is_invalid_tld(host), "{host}");
        }
    }

    #[test]
    fn errors_are_classified_by_type() {
        let nx = NetError::from(NoRecords::new(query(), ResponseCode::NXDomain));
        assert_eq!(classify(&nx, "shop.example.com", "A").0, Cause::DnsNxdomain);

        let empty = NetError::from(NoRecords::new(query(), ResponseCode::NoError));
        let (cause, message) = classify(&empty, "shop.example.com", "A");
        assert_eq!(cause, Cause::DnsError);
        assert!(
            message.contains("no A records") && message.contains("NOERROR"),
            "{message}"
        );

        let servfail = NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail));
        let (cause, message) = classify(&servfail, "shop.example.com", "A");
        assert_eq!(cause, Cause::DnsError);
        assert!(message.contains("SERVFAIL"), "{message}");

        let refused = NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused));
        assert!(classify(&refused, "x", "A").1.contains("REFUSED"));

        assert_eq!(classify(&NetError::Timeout, "x", "A").0, Cause::DnsTimeout);
        let timed_out = NetError::Io(Arc::new(std::io::ErrorKind::TimedOut.into()));
        assert_eq!(classify(&timed_out, "x", "A").0, Cause::DnsTimeout);
        let refused_io = NetError::Io(Arc::new(std::io::ErrorKind::ConnectionRefused.into()));
        assert_eq!(classify(&refused_io, "x", "A").0, Cause::DnsError);
        let emfile = rustix::io::Errno::MFILE.raw_os_error();
        let no_socket = NetError::Io(Arc::new(std::io::Error::from_raw_os_error(emfile)));
        let (cause, message) = classify(&no_socket, "x", "A");
        assert_eq!(cause, Cause::Unknown, "hopwatch's own fault, not DNS's");
        assert!(message.contains("file descriptors"), "{message}");
        assert_eq!(
            classify(&NetError::NoConnections, "x", "A").0,
            Cause::DnsError
        );
    }

    #[test]
    fn unknown_rcodes_are_named_by_number() {
        assert_eq!(rcode_name(ResponseCode::ServFail), "SERVFAIL");
        assert_eq!(rcode_name(ResponseCode::Unknown(3841)), "RCODE3841");
    }

    #[test]
    fn hosts_file_answers_both_families_a_first() {
        let mut hosts = Hosts::default();
        hosts
            .read_hosts_conf("::1 box.test\n127.0.0.7 box.test\n".as_bytes())
            .unwrap();
        let name = Name::from_ascii("BOX.test").unwrap();
        assert_eq!(
            hosts_file_addresses(&hosts, &name),
            vec![
                IpAddr::from([127, 0, 0, 7]),
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
            ]
        );
        let other = Name::from_ascii("other.test").unwrap();
        assert!(hosts_file_addresses(&hosts, &other).is_empty());
    }

    #[tokio::test]
    async fn literals_skip_dns_and_invalid_names_never_resolve() {
        let v4 = lookup("127.0.0.9", 80).await.unwrap();
        assert_eq!(v4, vec!["127.0.0.9:80".parse().unwrap()]);
        let v6 = lookup("[::1]", 443).await.unwrap();
        assert_eq!(v6, vec!["[::1]:443".parse().unwrap()]);
        let bare_v6 = lookup("::1", 443).await.unwrap();
        assert_eq!(bare_v6, v6);
        let failure = lookup("nothing.invalid", 80).await.unwrap_err();
        assert_eq!(failure.cause, Cause::DnsNxdomain);
    }
}
