//! http probe. (Stub.)
use std::time::SystemTime;
use super::{Cause, CheckResult, spec::HttpSpec};
/// HTTP check.
pub async fn check(_spec: &HttpSpec, started: SystemTime) -> CheckResult { CheckResult::new(started, Cause::ConnectError) }
