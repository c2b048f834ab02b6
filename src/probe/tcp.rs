//! tcp and tls probes. (Stub.)
use std::time::SystemTime;
use super::{Cause, CheckResult, spec::{TcpSpec, TlsSpec}};
/// TCP check.
pub async fn check(_spec: &TcpSpec, started: SystemTime) -> CheckResult { CheckResult::new(started, Cause::ConnectError) }
/// TLS check.
pub async fn check_tls(_spec: &TlsSpec, started: SystemTime) -> CheckResult { CheckResult::new(started, Cause::TlsError) }
