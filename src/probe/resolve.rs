//! Name resolution for the http, tcp and tls probes. (Stub.)

use std::net::SocketAddr;

use super::Cause;

/// A failed lookup, already classified.
#[derive(Debug, Clone)]
pub struct LookupFailure {
    /// `dns_nxdomain`, `dns_error` or `dns_timeout`.
    pub cause: Cause,
    /// What the resolver said.
    pub message: String,
}

/// Resolves `host` to socket addresses on `port`; IP literals skip DNS.
pub async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, LookupFailure> {
    if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    tokio::net::lookup_host((host, port))
        .await
        .map(|addrs| addrs.collect())
        .map_err(|err| LookupFailure { cause: Cause::DnsError, message: err.to_string() })
}
