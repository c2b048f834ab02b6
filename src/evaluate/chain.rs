//! The verdict of a monitor judged with its `upstream`: with the server
//! behind a gateway checked directly, a 502 says which of the two broke.

use crate::monitor::{Cause, CheckResult, Hop, Role, Verdict};

/// An upstream taking at least this share of the edge's time is the slow
/// part: the edge's latency is about as long as the gateway waited.
const SLOW_SHARE: f64 = 0.9;

/// How the edge's failure relates to its upstream's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judgement {
    /// Nothing to add: the edge's own single-check verdict stands.
    Own,
    /// The upstream is healthy, so the gateway itself is at fault.
    Gateway,
    /// The gateway gave up on an upstream that answers, but slowly.
    OriginSlow,
    /// The edge is slow and so is the upstream: the origin is the slow part.
    SlowBehind,
    /// The edge is slow but its upstream is fast: the gateway adds the delay.
    SlowGateway,
    /// The upstream fails too and explains the edge's failure.
    Upstream,
}

/// The verdict of `edge` (its single-check verdict already set) given
/// `upstream`: the upstream monitor's name and latest result, with ITS
/// chain verdict already applied, so a chain CDN -> LB -> origin is judged
/// hop by hop from the origin up. No upstream result yet: the single verdict.
pub fn chain_verdict(edge: &CheckResult, upstream: Option<(&str, &CheckResult)>) -> Verdict {
    let Some((name, up)) = upstream else {
        return edge.verdict.clone();
    };
    let gw = gateway_label(edge);
    let (edge_ms, up_ms) = (edge.latency_ms, up.latency_ms);
    let (hop, summary) = match judge(edge, up) {
        Judgement::Own => return edge.verdict.clone(),
        Judgement::Gateway => (
            Hop::Gateway,
            format!(
                "{gw} {} but its upstream {name} is healthy ({up_ms:.0} ms): the gateway cannot \
                 get a valid answer from a healthy origin; check its upstream address, firewall \
                 rules and proxy config",
                edge_act(edge)
            ),
        ),
        Judgement::OriginSlow => {
            let gave_up = match edge.cause {
                Cause::Timeout => format!("sends no answer within {edge_ms:.0} ms"),
                _ => format!("gave up after {edge_ms:.0} ms"),
            };
            let summary = format!(
                "{gw} {gave_up}; origin {name} answers but takes {up_ms:.0} ms: speed up the \
                 origin or give the gateway a longer timeout"
            );
            (Hop::OriginSlow, summary)
        }
        Judgement::SlowBehind => (
            Hop::Origin,
            format!("{gw} takes {edge_ms:.0} ms, of which origin {name} takes {up_ms:.0} ms"),
        ),
        Judgement::SlowGateway => (
            Hop::Gateway,
            format!(
                "{gw} takes {edge_ms:.0} ms but its upstream {name} answers in {up_ms:.0} ms: \
                 the delay is in the gateway (queueing, retries, or its connection upstream)"
            ),
        ),
        Judgement::Upstream => (
            deeper_hop(up),
            format!("{}; {gw} {}", upstream_story(name, up), edge_act(edge)),
        ),
    };
    Verdict { hop, summary }
}

/// Whether the edge's failure is explained by the upstream's, so the
/// edge's alert should be folded into the upstream's incident instead of
/// paging twice. Only when the upstream itself fails: a healthy but slow
/// upstream has no incident to fold into.
pub fn folds_into_upstream(edge: &CheckResult, upstream: &CheckResult) -> bool {
    upstream_fails(upstream)
        && matches!(
            judge(edge, upstream),
            Judgement::Upstream | Judgement::OriginSlow
        )
}

fn judge(edge: &CheckResult, up: &CheckResult) -> Judgement {
    // Healthy, unknown, or failing before reaching the gateway (DNS, TCP,
    // TLS) or with a status of its own (404 routing): the edge's own
    // verdict already says it, and an unknown upstream says nothing.
    if !edge.cause.is_failure() || up.cause == Cause::Unknown || !passes_through(edge) {
        return Judgement::Own;
    }
    let waited = matches!(edge.cause, Cause::Http504 | Cause::Timeout)
        || (edge.cause == Cause::Http5xx && edge.status == Some(524));
    let serves = !upstream_fails(up);
    let slow = up.cause == Cause::TooSlow
        || (serves && edge.latency_ms > 0.0 && up.latency_ms >= SLOW_SHARE * edge.latency_ms);
    if waited && slow {
        return Judgement::OriginSlow;
    }
    if !serves {
        return Judgement::Upstream;
    }
    if gateway_error(edge) {
        return Judgement::Gateway;
    }
    // A slow edge whose own verdict blames what is behind it (not its DNS
    // or handshake): the upstream's time says where the delay is.
    let slow_behind = matches!(edge.verdict.hop, Hop::Origin | Hop::OriginSlow);
    match edge.cause {
        Cause::TooSlow if slow_behind && slow => Judgement::SlowBehind,
        Cause::TooSlow if slow_behind => Judgement::SlowGateway,
        _ => Judgement::Own,
    }
}

/// Failures that happen after the edge accepted the request, which an
/// upstream's failure can explain.
fn passes_through(edge: &CheckResult) -> bool {
    relayed(edge.cause) || matches!(edge.cause, Cause::TooSlow | Cause::AssertionFailed)
}

/// Failures a gateway passes on when what is behind it fails.
fn relayed(cause: Cause) -> bool {
    cause.is_5xx()
        || matches!(
            cause,
            Cause::ConnectionReset | Cause::ProtocolError | Cause::Timeout
        )
}

/// Failures a gateway shows when it gets no valid answer from behind it,
/// unless the origin's own page came through.
fn gateway_error(edge: &CheckResult) -> bool {
    let role = edge.responder.as_ref().map_or(Role::Unknown, |r| r.role);
    match edge.cause {
        Cause::Http502
        | Cause::Http503
        | Cause::Http504
        | Cause::ConnectionReset
        | Cause::ProtocolError
        | Cause::Timeout => role != Role::Origin,
        // Other 5xx from a known gateway: Cloudflare's 52x and the like.
        Cause::Http5xx => role == Role::Gateway,
        _ => false,
    }
}

/// The upstream is down for the chain. An expiring certificate is a
/// warning of its own: the upstream still serves.
fn upstream_fails(up: &CheckResult) -> bool {
    up.cause.is_failure() && up.cause != Cause::TlsExpiring
}

/// The hop to blame when the upstream explains the edge: a deeper hop the
/// upstream's own verdict names, else the origin (from the edge, an origin
/// that is unreachable or refuses is the origin's problem).
fn deeper_hop(up: &CheckResult) -> Hop {
    match up.verdict.hop {
        hop @ (Hop::Gateway | Hop::OriginSlow) => hop,
        _ => Hop::Origin,
    }
}

/// What broke behind the edge. An upstream that is itself a gateway
/// relaying a failure already tells the deeper story in its verdict.
fn upstream_story(name: &str, up: &CheckResult) -> String {
    let role = up.responder.as_ref().map(|r| r.role);
    let relays = matches!(role, Some(Role::Gateway | Role::Unknown))
        && relayed(up.cause)
        && matches!(up.verdict.hop, Hop::Gateway | Hop::Origin | Hop::OriginSlow);
    if relays {
        let summary = &up.verdict.summary;
        return match summary.contains(name) {
            true => summary.clone(),
            false => format!("{name}: {summary}"),
        };
    }
    let kind = match deeper_hop(up) {
        Hop::Gateway => "gateway",
        _ => "origin",
    };
    let ms = up.latency_ms;
    let what = match up.cause {
        Cause::DnsNxdomain | Cause::DnsError | Cause::DnsTimeout => {
            format!("does not resolve ({})", up.cause)
        }
        Cause::ConnectRefused => "refuses connections".to_owned(),
        Cause::ConnectTimeout => "does not answer TCP connections".to_owned(),
        Cause::ConnectError => "cannot be reached".to_owned(),
        Cause::TlsExpired => "has an expired certificate".to_owned(),
        Cause::TlsUntrusted | Cause::TlsHostname | Cause::TlsError => {
            format!("fails the TLS handshake ({})", up.cause)
        }
        Cause::Timeout => format!("accepts connections but sends no answer within {ms:.0} ms"),
        Cause::TooSlow => format!("is too slow ({ms:.0} ms)"),
        _ => edge_act(up),
    };
    format!("{kind} {name} {what}")
}

/// What a failing hop did, as a verb phrase: "answers 502".
fn edge_act(result: &CheckResult) -> String {
    let ms = result.latency_ms;
    match (result.cause, result.status) {
        (Cause::Timeout, _) => format!("sends no answer within {ms:.0} ms"),
        (Cause::ConnectionReset, _) => "closes the connection before answering".to_owned(),
        (Cause::ProtocolError, _) => "answers with invalid HTTP".to_owned(),
        (Cause::TooSlow, _) => format!("is too slow ({ms:.0} ms)"),
        (Cause::AssertionFailed, _) => "answers, but not as expected".to_owned(),
        (_, Some(status)) => format!("answers {status}"),
        (cause, None) => format!("fails ({cause})"),
    }
}

/// "the gateway shop-edge (nginx)": the monitor and product when known.
fn gateway_label(edge: &CheckResult) -> String {
    let mut label = "the gateway".to_owned();
    if let Some(name) = &edge.monitor {
        label = format!("{label} {name}");
    }
    let product = edge.responder.as_ref().filter(|r| r.role == Role::Gateway);
    if let Some(product) = product.and_then(|r| r.product.as_deref()) {
        label = format!("{label} ({product})");
    }
    label
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::monitor::Responder;
    use crate::probe::verdict::for_check;
    use Cause as C;

    /// A result of `monitor` taking `ms`, with its single-check verdict.
    fn result(monitor: &str, cause: Cause, status: u16, ms: f64) -> CheckResult {
        let mut result = CheckResult::new(UNIX_EPOCH, cause);
        result.monitor = Some(monitor.to_owned());
        result.status = (status > 0).then_some(status);
        result.latency_ms = ms;
        result.remote_addr = "10.0.0.5:8080".parse().ok();
        if cause == C::TooSlow {
            result.phases_ms.ttfb = ms * 0.9;
        }
        result.verdict = for_check(&result);
        result
    }

    fn by(mut result: CheckResult, role: Role, product: &str) -> CheckResult {
        let product = (!product.is_empty()).then(|| product.to_owned());
        result.responder = Some(Responder { role, product });
        result.verdict = for_check(&result);
        result
    }

    /// The edge, answered by its gateway, in 1000 ms.
    fn edge(cause: Cause, status: u16, product: &str) -> CheckResult {
        let result = result("shop-edge", cause, status, 1000.0);
        by(result, Role::Gateway, product)
    }

    fn origin(cause: Cause, status: u16, ms: f64) -> Option<CheckResult> {
        Some(result("shop-origin", cause, status, ms))
    }

    /// One case a row: edge, upstream, the hop, the words the summary
    /// holds (split at "|"). Kept out of rustfmt so the table stays a table.
    #[rustfmt::skip]
    fn cases() -> Vec<(CheckResult, Option<CheckResult>, Hop, &'static str)> {
        let healthy = || origin(C::Ok, 200, 40.0);
        let refused = || origin(C::ConnectRefused, 0, 1.0);
        vec![
            // The edge's own verdict: healthy, failing at the edge, no upstream.
            (result("shop-edge", C::Ok, 200, 90.0), refused(), Hop::None, "healthy: 200"),
            (edge(C::DnsNxdomain, 0, ""), refused(), Hop::Dns, "NXDOMAIN"),
            (edge(C::ConnectRefused, 0, ""), refused(), Hop::Network, "refuses connections"),
            (edge(C::TlsExpired, 0, ""), healthy(), Hop::Tls, "expired"),
            (edge(C::Http502, 502, "nginx"), None, Hop::Origin, "nginx answered 502"),
            (edge(C::Http502, 502, "nginx"), origin(C::Unknown, 0, 0.0), Hop::Origin, "nginx answered 502"),
            (edge(C::HttpStatus, 404, "nginx"), refused(), Hop::Gateway, "routing"),
            (by(result("shop-edge", C::Http500, 500, 80.0), Role::Origin, ""), healthy(), Hop::Origin,
                "the origin at 10.0.0.5:8080 answered 500"),
            (edge(C::AssertionFailed, 200, ""), healthy(), Hop::Origin, "answered 200 OK, but"),
            // A healthy upstream: the gateway is at fault.
            (edge(C::Http502, 502, "nginx"), healthy(), Hop::Gateway,
                "the gateway shop-edge (nginx) answers 502 but its upstream shop-origin is healthy \
                 (40 ms)|cannot get a valid answer from a healthy origin|check its upstream address, \
                 firewall rules and proxy config"),
            (edge(C::Http503, 503, "haproxy"), healthy(), Hop::Gateway, "haproxy) answers 503 but"),
            (edge(C::ConnectionReset, 0, ""), healthy(), Hop::Gateway, "closes the connection"),
            (edge(C::Http504, 504, "nginx"), healthy(), Hop::Gateway, "answers 504 but"),
            (edge(C::Http5xx, 522, "cloudflare"), healthy(), Hop::Gateway, "(cloudflare) answers 522"),
            (edge(C::Http502, 502, ""), origin(C::TlsExpiring, 0, 40.0), Hop::Gateway, "is healthy"),
            // A slow upstream behind a gateway that gave up.
            (edge(C::Http504, 504, "nginx"), origin(C::Ok, 200, 950.0), Hop::OriginSlow,
                "nginx) gave up after 1000 ms; origin shop-origin answers but takes 950 ms"),
            (edge(C::Http504, 504, ""), origin(C::TooSlow, 0, 400.0), Hop::OriginSlow, "takes 400 ms"),
            (edge(C::Http5xx, 524, "cloudflare"), origin(C::Ok, 200, 990.0), Hop::OriginSlow, "gave up"),
            (edge(C::Timeout, 0, ""), origin(C::Ok, 200, 980.0), Hop::OriginSlow,
                "sends no answer within 1000 ms; origin shop-origin answers but takes 980 ms"),
            (edge(C::TooSlow, 0, ""), origin(C::Ok, 200, 930.0), Hop::Origin,
                "takes 1000 ms, of which origin shop-origin takes 930 ms"),
            (edge(C::TooSlow, 0, ""), origin(C::Ok, 200, 100.0), Hop::Gateway,
                "answers in 100 ms: the delay is in the gateway"),
            // The upstream fails too: it is to blame, by name.
            (edge(C::Http502, 502, ""), refused(), Hop::Origin,
                "origin shop-origin refuses connections; the gateway shop-edge answers 502"),
            (edge(C::Http504, 504, "nginx"), origin(C::Timeout, 0, 10_000.0), Hop::Origin,
                "origin shop-origin accepts connections but sends no answer within 10000 ms; the \
                 gateway shop-edge (nginx) answers 504"),
            (edge(C::Http503, 503, ""), origin(C::ConnectTimeout, 0, 5000.0), Hop::Origin,
                "does not answer TCP connections; the gateway shop-edge answers 503"),
            (edge(C::Http502, 502, ""), origin(C::TlsUntrusted, 0, 9.0), Hop::Origin,
                "fails the TLS handshake (tls_untrusted)"),
            (edge(C::Http500, 500, ""), by(result("shop-origin", C::Http500, 500, 9.0), Role::Origin, "").into(),
                Hop::Origin, "origin shop-origin answers 500; the gateway shop-edge answers 500"),
            (edge(C::TooSlow, 0, ""), origin(C::TooSlow, 0, 990.0), Hop::Origin,
                "origin shop-origin is too slow (990 ms); the gateway shop-edge is too slow (1000 ms)"),
        ]
    }

    #[test]
    fn each_pair_of_hops_blames_the_right_one() {
        for (edge, up, hop, words) in cases() {
            let verdict = chain_verdict(&edge, up.as_ref().map(|r| ("shop-origin", r)));
            let up = up.map(|u| u.cause);
            let case = format!("{} / {up:?}: {}", edge.cause, verdict.summary);
            assert_eq!(verdict.hop, hop, "{case}");
            for word in words.split('|') {
                assert!(verdict.summary.contains(word), "{case} lacks {word:?}");
            }
        }
    }

    /// CDN -> LB -> origin, judged from the origin up as the pipeline does.
    fn three_hops(origin: CheckResult) -> (CheckResult, CheckResult) {
        let gateway =
            |name, product| by(result(name, C::Http502, 502, 20.0), Role::Gateway, product);
        let mut lb = gateway("shop-lb", "haproxy");
        lb.verdict = chain_verdict(&lb, Some(("shop-origin", &origin)));
        let mut cdn = gateway("shop-cdn", "cloudflare");
        cdn.verdict = chain_verdict(&cdn, Some(("shop-lb", &lb)));
        (lb, cdn)
    }

    #[test]
    fn a_three_hop_chain_blames_the_origin_from_both_upper_hops() {
        let origin = result("shop-origin", C::ConnectRefused, 0, 1.0);
        let (lb, cdn) = three_hops(origin.clone());
        let hops = (lb.verdict.hop, cdn.verdict.hop);
        assert_eq!(hops, (Hop::Origin, Hop::Origin));
        let expected = "origin shop-origin refuses connections; the gateway shop-lb (haproxy) \
                        answers 502; the gateway shop-cdn (cloudflare) answers 502";
        assert_eq!(cdn.verdict.summary, expected);
        assert!(folds_into_upstream(&lb, &origin));
        assert!(folds_into_upstream(&cdn, &lb));
    }

    #[test]
    fn a_three_hop_chain_blames_a_broken_middle_gateway() {
        let (lb, cdn) = three_hops(result("shop-origin", C::Ok, 200, 15.0));
        let hops = (lb.verdict.hop, cdn.verdict.hop);
        assert_eq!(hops, (Hop::Gateway, Hop::Gateway));
        let summary = &cdn.verdict.summary;
        let start = "the gateway shop-lb (haproxy) answers 502 but its upstream shop-origin";
        assert!(summary.starts_with(start), "{summary}");
        let end = "; the gateway shop-cdn (cloudflare) answers 502";
        assert!(summary.ends_with(end), "{summary}");
        assert!(
            folds_into_upstream(&cdn, &lb),
            "the LB's incident covers the CDN"
        );
    }

    #[test]
    #[rustfmt::skip]
    fn only_a_failure_the_upstream_explains_folds() {
        let up = |cause, ms| result("shop-origin", cause, 0, ms);
        let cases = [
            (edge(C::Http502, 502, ""), up(C::ConnectRefused, 1.0), true),
            (edge(C::Http504, 504, ""), up(C::TooSlow, 2000.0), true),
            (edge(C::Timeout, 0, ""), up(C::Timeout, 5000.0), true),
            (edge(C::Http502, 502, ""), up(C::Ok, 20.0), false),
            (edge(C::Http504, 504, ""), up(C::Ok, 990.0), false),
            (edge(C::Http502, 502, ""), up(C::TlsExpiring, 20.0), false),
            (edge(C::Http502, 502, ""), up(C::Unknown, 0.0), false),
            (edge(C::DnsNxdomain, 0, ""), up(C::ConnectRefused, 1.0), false),
            (edge(C::TlsExpired, 0, ""), up(C::Http500, 1.0), false),
            (result("shop-edge", C::Ok, 200, 5.0), up(C::ConnectRefused, 1.0), false),
        ];
        for (edge, up, expected) in cases {
            let folds = folds_into_upstream(&edge, &up);
            assert_eq!(folds, expected, "{} over {}", edge.cause, up.cause);
        }
    }
}
