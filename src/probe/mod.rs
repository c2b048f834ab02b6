//! One check of one target: the probes (one module per type), how their
//! failures are classified, who answered, and which hop is at fault.

pub mod cause;
mod connect;
pub mod dns;
pub mod evidence;
mod expect;
pub mod fingerprint;
pub mod http;
pub mod redirect;
pub mod resolve;
pub mod result;
pub mod spec;
pub mod tcp;
pub mod tls;
pub mod verdict;

pub use cause::Cause;
pub use result::{CheckResult, Hop, Phases, Responder, Role, Verdict};
pub use spec::{FieldError, ProbeSpec};

use std::time::SystemTime;

/// Runs one check of `spec` and returns its result with a verdict. Probe
/// types are an enum, not trait objects: the set is closed and a check is
/// the hottest path, so a match beats a boxed future per check.
pub async fn run(spec: &ProbeSpec) -> CheckResult {
    let started = SystemTime::now();
    let mut result = match spec {
        ProbeSpec::Http(http) => http::check(http, started).await,
        ProbeSpec::Tcp(tcp) => tcp::check(tcp, started).await,
        ProbeSpec::Tls(tls) => tcp::check_tls(tls, started).await,
        ProbeSpec::Dns(dns) => dns::check(dns, started).await,
        ProbeSpec::Push => CheckResult::new(started, Cause::Unknown),
    };
    result.verdict = verdict::for_check(&result);
    if matches!(spec, ProbeSpec::Dns(_)) && result.cause == Cause::AssertionFailed {
        // A dns monitor's only hop is the name server: a wrong answer is a
        // DNS problem, not an application one.
        result.verdict = Verdict {
            hop: Hop::Dns,
            summary: format!(
                "the name server answered, but not as expected: {}",
                result.error.as_deref().unwrap_or("wrong answers")
            ),
        };
    }
    result
}
