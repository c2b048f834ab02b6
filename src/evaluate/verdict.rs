//! The one place a probe's verdict is adjusted with what a single check
//! cannot know: whether hopwatch's own network works, that a push monitor's
//! only hop is the job, that an origin refusing connections is down itself,
//! and what the upstream's latest result says about an edge.

use crate::monitor::{Cause, CheckResult, Hop, Monitor, MonitorKind, Verdict};

use super::chain::chain_verdict;

/// What is known beside the result when it is judged.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The monitor that produced the result.
    pub monitor: &'a Monitor,
    /// hopwatch's own connectivity check passes (or none is configured).
    pub connectivity_ok: bool,
    /// The latest result of the monitor's `upstream`, if it has one.
    pub upstream: Option<&'a CheckResult>,
}

/// Adjusts `result`'s verdict (and, when hopwatch's own network is down,
/// its cause) in place. Pure: the same result and context give the same
/// verdict.
pub fn adjust(result: &mut CheckResult, context: &Context) {
    let monitor = context.monitor;
    if result.cause.is_failure() && !context.connectivity_ok {
        let original = result.cause;
        result.set_cause(Cause::Unknown);
        result.verdict = Verdict {
            hop: Hop::Unknown,
            summary: format!(
                "hopwatch's own network check failed, so this {original} is not counted"
            ),
        };
        return;
    }
    if monitor.kind == MonitorKind::Push
        && let Some(error) = &result.error
    {
        result.verdict = Verdict {
            hop: Hop::Origin,
            summary: format!("{error}: look at the job's own logs"),
        };
    }
    // An origin that refuses connections is down itself; the path to it is
    // not what broke.
    if monitor.is_upstream && result.cause == Cause::ConnectRefused {
        result.verdict = Verdict {
            hop: Hop::Origin,
            summary: format!(
                "origin {} refuses connections: the service is down or not listening",
                monitor.name
            ),
        };
    }
    // An edge is judged together with its upstream's latest result.
    if let (Some(name), Some(upstream)) = (monitor.upstream.as_deref(), context.upstream)
        && !result.ok
    {
        result.verdict = chain_verdict(result, Some((name, upstream)));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::monitor::ProbeSpec;
    use crate::probe::verdict::for_check;

    fn monitor(kind: MonitorKind, upstream: Option<&str>, is_upstream: bool) -> Monitor {
        Monitor {
            id: 1,
            name: "m".to_owned(),
            group: None,
            kind,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            confirm: 0,
            grace: Duration::ZERO,
            token: Default::default(),
            upstream: upstream.map(str::to_owned),
            is_upstream,
            regions: None,
            quorum: None,
            host: "m".to_owned(),
            spec: ProbeSpec::Push,
        }
    }

    fn result(cause: Cause, error: Option<&str>) -> CheckResult {
        let mut result = CheckResult::new(SystemTime::UNIX_EPOCH, cause);
        result.error = error.map(str::to_owned);
        result.verdict = for_check(&result);
        result
    }

    /// (case, monitor, connectivity ok, upstream's latest, result, cause
    /// after, hop after)
    type Case<'a> = (
        &'a str,
        Monitor,
        bool,
        Option<&'a CheckResult>,
        CheckResult,
        Cause,
        Hop,
    );

    #[test]
    fn each_adjustment_and_what_it_leaves_alone() {
        use MonitorKind::{Http, Push};
        let refused = result(Cause::ConnectRefused, Some("refused"));
        let origin_down = result(Cause::ConnectRefused, None);
        let cases: Vec<Case> = vec![
            (
                "own network down: a failure is not counted",
                monitor(Http, None, false),
                false,
                None,
                result(Cause::Http502, None),
                Cause::Unknown,
                Hop::Unknown,
            ),
            (
                "own network down: a success still counts",
                monitor(Http, None, false),
                false,
                None,
                result(Cause::Ok, None),
                Cause::Ok,
                Hop::None,
            ),
            (
                "a push that says down is the job's",
                monitor(Push, None, false),
                true,
                None,
                result(Cause::AssertionFailed, Some("the job pushed status=down")),
                Cause::AssertionFailed,
                Hop::Origin,
            ),
            (
                "a missed push is the job's",
                monitor(Push, None, false),
                true,
                None,
                result(Cause::Timeout, Some("no push arrived")),
                Cause::Timeout,
                Hop::Origin,
            ),
            (
                "an origin refusing connections is down itself",
                monitor(Http, None, true),
                true,
                None,
                refused.clone(),
                Cause::ConnectRefused,
                Hop::Origin,
            ),
            (
                "a refusing edge that is no one's upstream is the network's",
                monitor(Http, None, false),
                true,
                None,
                refused.clone(),
                Cause::ConnectRefused,
                Hop::Network,
            ),
            (
                "a 502 edge whose upstream refuses: the upstream",
                monitor(Http, Some("origin"), false),
                true,
                Some(&origin_down),
                result(Cause::Http502, None),
                Cause::Http502,
                Hop::Origin,
            ),
            (
                "a passing edge keeps its verdict whatever the upstream",
                monitor(Http, Some("origin"), false),
                true,
                Some(&origin_down),
                result(Cause::Ok, None),
                Cause::Ok,
                Hop::None,
            ),
        ];
        for (case, monitor, connectivity_ok, upstream, mut result, cause, hop) in cases {
            let before = result.verdict.hop;
            let context = Context {
                monitor: &monitor,
                connectivity_ok,
                upstream,
            };
            adjust(&mut result, &context);
            assert_eq!((result.cause, result.verdict.hop), (cause, hop), "{case}");
            assert_eq!(result.ok, cause.is_ok(), "{case}: ok follows the cause");
            if case.contains(": the upstream") {
                assert_ne!(before, hop, "{case}: the chain changed the verdict");
            }
        }
    }
}
