//! The tcp probe (can we connect, how fast) and the tls probe (does the
//! handshake succeed, is the certificate trusted, how long until it expires).

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use super::connect::{self};
use super::resolve::Resolver;
use crate::monitor::AddressMode;
use crate::monitor::result::{CheckResult, Phases};
use crate::monitor::spec::{HostPort, TcpSpec, TlsSpec};

/// Runs one TCP check.
pub async fn check(spec: &TcpSpec, resolver: &Resolver, started: SystemTime) -> CheckResult {
    let plan = Plan {
        resolver,
        target: &spec.target,
        addresses: spec.addresses,
        timeout: spec.timeout,
        max_latency: spec.max_latency,
        tls: None,
    };
    plan.run(started).await
}

/// Runs one TLS check.
pub async fn check_tls(spec: &TlsSpec, resolver: &Resolver, started: SystemTime) -> CheckResult {
    let plan = Plan {
        resolver,
        target: &spec.target,
        addresses: spec.addresses,
        timeout: spec.timeout,
        max_latency: spec.max_latency,
        tls: Some(spec),
    };
    plan.run(started).await
}

/// What the tcp and tls probes share: resolve, then one or all addresses.
struct Plan<'a> {
    resolver: &'a Resolver,
    target: &'a HostPort,
    addresses: AddressMode,
    timeout: std::time::Duration,
    max_latency: Option<std::time::Duration>,
    tls: Option<&'a TlsSpec>,
}

impl Plan<'_> {
    async fn run(&self, started: SystemTime) -> CheckResult {
        let clock = Instant::now();
        let deadline = tokio::time::Instant::from_std(clock + self.timeout);
        let mut phases = Phases::default();
        let addrs = match connect::resolve(
            self.resolver,
            &self.target.host,
            self.target.port,
            deadline,
            &mut phases,
        )
        .await
        {
            Ok(addrs) => addrs,
            Err(failure) => return connect::failed(started, clock, phases, failure),
        };
        if self.addresses == AddressMode::First || addrs.len() == 1 {
            return self.one(addrs[0], started, clock, deadline, phases).await;
        }
        let attempts = addrs
            .iter()
            .map(|addr| self.one(*addr, started, clock, deadline, phases));
        connect::combine_addresses(futures_util::future::join_all(attempts).await)
    }

    async fn one(
        &self,
        addr: SocketAddr,
        started: SystemTime,
        clock: Instant,
        deadline: tokio::time::Instant,
        mut phases: Phases,
    ) -> CheckResult {
        let stream = match connect::tcp(addr, deadline, &mut phases).await {
            Ok(stream) => stream,
            Err(failure) => return connect::failed(started, clock, phases, failure),
        };
        let mut cert = None;
        if let Some(spec) = self.tls {
            match connect::tls(stream, &self.target.host, &spec.tls, deadline, &mut phases).await {
                Ok(tls) => cert = connect::peer_cert(&tls),
                Err(failure) => return connect::failed(started, clock, phases, failure),
            }
        }
        let latency = clock.elapsed();
        let min_days = self.tls.and_then(|spec| spec.cert_min_days);
        let limits = (min_days, self.max_latency);
        connect::settled(started, phases, addr, cert, latency, limits)
    }
}
