//! One check of one target: the probes (one module per type), how their
//! failures are classified, who answered, and which hop is at fault.

mod connect;
pub mod dns;
pub mod domain;
mod drive;
pub mod evidence;
mod expect;
pub mod fingerprint;
pub mod grpc;
pub mod http;
pub mod icmp;
pub mod redirect;
pub mod resolve;
pub mod smtp;
pub mod tcp;
pub mod tls;
pub mod verdict;
pub mod websocket;

pub use crate::monitor::{Cause, CheckResult, Hop, Phases, ProbeSpec, Responder, Role, Verdict};

use std::time::SystemTime;

/// Runs checks, and owns what checks share between them: the system's
/// resolver and hosts file, the resolvers of dns monitors and the RDAP
/// answers of domain monitors. The daemon keeps one for its life; a
/// one-off check may use [`run`].
#[derive(Default)]
pub struct Prober {
    resolver: resolve::Resolver,
    dns: dns::DnsResolvers,
    /// Registration expiries of domain monitors, kept for hours.
    rdap: domain::RdapCache,
}

impl Prober {
    /// Runs one check of `spec` and returns its result with the probe's
    /// verdict. Probe types are an enum, not trait objects: the set is
    /// closed and a check is the hottest path, so a match beats a boxed
    /// future per check.
    pub async fn check(&self, spec: &ProbeSpec) -> CheckResult {
        let started = SystemTime::now();
        let mut result = match spec {
            ProbeSpec::Http(http) => http::check(http, &self.resolver, started).await,
            ProbeSpec::Tcp(tcp) => tcp::check(tcp, &self.resolver, started).await,
            ProbeSpec::Tls(tls) => tcp::check_tls(tls, &self.resolver, started).await,
            ProbeSpec::Dns(dns) => dns::check(dns, &self.dns, started).await,
            ProbeSpec::Push => CheckResult::new(started, Cause::Unknown),
            ProbeSpec::Smtp(smtp) => smtp::check(smtp, &self.resolver, started).await,
            ProbeSpec::Domain(domain) => {
                domain::check(domain, &self.resolver, &self.rdap, started).await
            }
            ProbeSpec::Icmp(icmp) => icmp::check(icmp, &self.resolver, started).await,
            ProbeSpec::Grpc(grpc) => grpc::check(grpc, &self.resolver, started).await,
            ProbeSpec::Websocket(ws) => websocket::check(ws, &self.resolver, started).await,
        };
        result.verdict = verdict::for_probe(spec, &result);
        result
    }
}

/// One check with a [`Prober`] of its own (`hopwatch check`, tests).
pub async fn run(spec: &ProbeSpec) -> CheckResult {
    Prober::default().check(spec).await
}
