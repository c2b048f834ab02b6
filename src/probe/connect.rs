//! The phases every network probe shares: resolve, TCP connect and TLS
//! handshake, each bounded by the check's deadline and timed into `Phases`.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use tokio::net::TcpStream;
use tokio::time::{Instant as Deadline, timeout_at};
use tokio_rustls::client::TlsStream;

use super::resolve::Resolver;
use super::{Cause, tls};
use crate::fdlimit::{is_out_of_descriptors, out_of_descriptors_message};
use crate::monitor::result::{AddressResult, CertFacts, CheckResult, Phases};
use crate::monitor::trust::TlsSettings;

/// A failed phase, already classified.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The cause code.
    pub cause: Cause,
    /// What happened, for people.
    pub message: String,
    /// The peer, when one was chosen.
    pub remote: Option<SocketAddr>,
}

impl Failure {
    /// A failure without a peer address yet.
    pub fn new(cause: Cause, message: impl Into<String>) -> Self {
        Self {
            cause,
            message: message.into(),
            remote: None,
        }
    }

    /// The same failure, at `remote`.
    pub fn at(mut self, remote: SocketAddr) -> Self {
        self.remote = Some(remote);
        self
    }
}

/// Milliseconds as a float, the unit of every figure in a result.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Resolves `host`, timing the dns phase.
pub async fn resolve(
    resolver: &Resolver,
    host: &str,
    port: u16,
    deadline: Deadline,
    phases: &mut Phases,
) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        // An IP literal has no dns phase: leave it at 0.
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let start = Instant::now();
    let outcome = timeout_at(deadline, resolver.lookup(host, port)).await;
    phases.dns += ms(start.elapsed());
    match outcome {
        Err(_) => Err(Failure::new(
            Cause::DnsTimeout,
            format!("no DNS answer for {host} in time"),
        )),
        Ok(Err(failure)) => Err(Failure::new(failure.cause, failure.message)),
        Ok(Ok(addrs)) if addrs.is_empty() => Err(Failure::new(
            Cause::DnsError,
            format!("{host} has no A or AAAA records"),
        )),
        Ok(Ok(addrs)) => Ok(addrs),
    }
}

/// Opens a TCP connection, timing the connect phase.
pub async fn tcp(
    addr: SocketAddr,
    deadline: Deadline,
    phases: &mut Phases,
) -> Result<TcpStream, Failure> {
    let start = Instant::now();
    let outcome = timeout_at(deadline, TcpStream::connect(addr)).await;
    phases.connect += ms(start.elapsed());
    match outcome {
        Err(_) => Err(Failure::new(
            Cause::ConnectTimeout,
            format!(
                "{addr} did not answer the TCP handshake in time (dropped by a firewall or route?)"
            ),
        )
        .at(addr)),
        Ok(Err(err)) => Err(connect_failure(addr, &err)),
        // No TCP_NODELAY here: a connect-only check sends nothing, and a
        // request written in one call is never held by Nagle (Linux holds a
        // small segment only behind another unacknowledged small one). The
        // callers that write more than once set it: `tls` and bodies.
        Ok(Ok(stream)) => Ok(stream),
    }
}

/// Classifies a failed connect. Running out of file descriptors is checked
/// first: the socket was never made, so the target is not to blame.
fn connect_failure(addr: SocketAddr, err: &std::io::Error) -> Failure {
    let (cause, message) = if is_out_of_descriptors(err) {
        let what = format!("connecting to {addr}");
        (Cause::Unknown, out_of_descriptors_message(&what, err))
    } else {
        match err.kind() {
            std::io::ErrorKind::ConnectionRefused => (
                Cause::ConnectRefused,
                format!("{addr} refused the connection"),
            ),
            std::io::ErrorKind::TimedOut => (
                Cause::ConnectTimeout,
                format!("{addr} did not answer the TCP handshake (timed out)"),
            ),
            _ => (
                Cause::ConnectError,
                format!("cannot connect to {addr}: {err}"),
            ),
        }
    };
    Failure::new(cause, message).at(addr)
}

/// Runs the TLS handshake for `host`, timing the tls phase.
pub async fn tls(
    stream: TcpStream,
    host: &str,
    settings: &TlsSettings,
    deadline: Deadline,
    phases: &mut Phases,
) -> Result<TlsStream<TcpStream>, Failure> {
    let remote = stream.peer_addr().ok();
    // The handshake and the request after it are several small writes;
    // Nagle would hold one behind the other's acknowledgement.
    let _ = stream.set_nodelay(true);
    let Some(name) = tls::server_name(host) else {
        return Err(Failure::new(
            Cause::TlsError,
            format!("{host} is not a valid TLS server name"),
        ));
    };
    let connector = tokio_rustls::TlsConnector::from(settings.client_config());
    let start = Instant::now();
    let outcome = timeout_at(deadline, connector.connect(name, stream)).await;
    phases.tls += ms(start.elapsed());
    let with_remote = |failure: Failure| match remote {
        Some(addr) => failure.at(addr),
        None => failure,
    };
    match outcome {
        Err(_) => Err(with_remote(Failure::new(
            Cause::TlsError,
            "the TLS handshake did not complete in time",
        ))),
        Ok(Err(err)) => {
            let cause = tls::handshake_cause(&err);
            Err(with_remote(Failure::new(
                cause,
                format!("TLS handshake failed: {err}"),
            )))
        }
        Ok(Ok(stream)) => Ok(stream),
    }
}

/// Facts of the leaf certificate the peer presented.
pub fn peer_cert(stream: &TlsStream<TcpStream>) -> Option<CertFacts> {
    let (_, connection) = stream.get_ref();
    let leaf = connection.peer_certificates()?.first()?;
    tls::cert_facts(leaf, SystemTime::now())
}

/// The first `std::io::Error` in an error's source chain.
pub fn find_io_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        current = err.source();
    }
    None
}

/// The result of a check that stopped at `failure`.
pub fn failed(
    started: SystemTime,
    clock: Instant,
    phases: Phases,
    failure: Failure,
) -> CheckResult {
    let mut result = CheckResult::new(started, failure.cause);
    result.latency_ms = ms(clock.elapsed());
    result.phases_ms = phases;
    result.remote_addr = failure.remote;
    result.error = Some(failure.message);
    result
}

/// Folds per-address results into one: the worst cause speaks, named.
pub fn combine_addresses(mut results: Vec<CheckResult>) -> CheckResult {
    let addresses: Vec<AddressResult> = results
        .iter()
        .filter_map(|r| {
            Some(AddressResult {
                addr: r.remote_addr?,
                ok: r.ok,
                cause: r.cause,
                status: r.status,
                latency_ms: r.latency_ms,
            })
        })
        .collect();
    let total = results.len();
    let failing = results.iter().filter(|r| !r.ok).count();
    let worst = results
        .iter()
        .enumerate()
        .max_by_key(|(_, r)| r.cause.severity())
        .map_or(0, |(i, _)| i);
    let mut result = results.swap_remove(worst);
    if failing > 0 {
        let what = match result.status {
            Some(status) if result.cause != Cause::AssertionFailed => format!("answers {status}"),
            _ => format!("fails with {}", result.cause),
        };
        let addr = result
            .remote_addr
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let detail = result.error.take().unwrap_or_default();
        result.error = Some(format!(
            "{failing} of {total} addresses {what}: {addr}; {detail}"
        ));
    }
    result.addresses = Some(addresses);
    result
}

/// What a check settles on once it has connected (and shaken hands) with
/// nothing left to ask: a certificate about to expire first, then
/// slowness, else ok. The tcp, tls and smtp checks end here.
pub fn settled(
    started: SystemTime,
    phases: Phases,
    addr: SocketAddr,
    cert: Option<CertFacts>,
    latency: Duration,
    limits: (Option<u32>, Option<Duration>),
) -> CheckResult {
    let (cert_min_days, max_latency) = limits;
    let (cause, error) =
        if let Some(problem) = super::expect::cert_days(cert_min_days, cert.as_ref()) {
            (Cause::TlsExpiring, Some(problem))
        } else if let Some(problem) = super::expect::latency(max_latency, latency) {
            (Cause::TooSlow, Some(problem))
        } else {
            (Cause::Ok, None)
        };
    let mut result = CheckResult::new(started, cause);
    result.latency_ms = ms(latency);
    result.phases_ms = phases;
    result.remote_addr = Some(addr);
    result.error = error;
    result.tls = cert;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::io::Errno;

    fn os_error(errno: Errno) -> std::io::Error {
        std::io::Error::from_raw_os_error(errno.raw_os_error())
    }

    #[test]
    fn a_connect_without_descriptors_is_unknown_not_a_failure() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 8080));
        for errno in [Errno::MFILE, Errno::NFILE] {
            let failure = connect_failure(addr, &os_error(errno));
            assert_eq!(failure.cause, Cause::Unknown, "{errno:?}");
            assert!(!failure.cause.is_failure());
            assert!(
                failure.message.contains("ran out of file descriptors"),
                "{}",
                failure.message
            );
            assert_eq!(failure.remote, Some(addr));
        }
    }

    #[test]
    fn the_target_s_own_refusals_stay_failures() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 8080));
        let cases = [
            (Errno::CONNREFUSED, Cause::ConnectRefused),
            (Errno::TIMEDOUT, Cause::ConnectTimeout),
            (Errno::NETUNREACH, Cause::ConnectError),
            (Errno::HOSTUNREACH, Cause::ConnectError),
        ];
        for (errno, cause) in cases {
            assert_eq!(
                connect_failure(addr, &os_error(errno)).cause,
                cause,
                "{errno:?}"
            );
        }
    }
}
