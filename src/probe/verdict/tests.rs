//! The verdict of each cause, with and without a responder.
use std::net::SocketAddr;
use std::time::UNIX_EPOCH;

use super::*;
use crate::monitor::result::{AddressResult, CertFacts, Evidence, Responder};
use Cause as C;
use Role as R;

/// A failed check against 10.0.0.5:8080 that took 1234 ms.
fn check(cause: Cause, error: &str) -> CheckResult {
    let mut result = CheckResult::new(UNIX_EPOCH, cause);
    result.remote_addr = Some(addr("10.0.0.5:8080"));
    result.latency_ms = 1234.4;
    result.error = (!error.is_empty()).then(|| error.to_owned());
    result
}

/// An HTTP answer from `role` (`product` "" for none).
fn http(cause: Cause, status: u16, role: Role, product: &str, error: &str) -> CheckResult {
    let mut result = check(cause, error);
    result.status = Some(status);
    answered_by(result, role, product)
}

fn answered_by(mut result: CheckResult, role: Role, product: &str) -> CheckResult {
    let product = (!product.is_empty()).then(|| product.to_owned());
    result.responder = Some(Responder { role, product });
    result
}

fn with(mut result: CheckResult, change: impl FnOnce(&mut CheckResult)) -> CheckResult {
    change(&mut result);
    result
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn cert(days_left: f64) -> Option<CertFacts> {
    let sans = ["shop.example.com", "www.shop.example.com"];
    Some(CertFacts {
        not_after: 0,
        days_left,
        issuer: "CN=R11".to_owned(),
        subject: "CN=shop.example.com".to_owned(),
        sans: sans.map(str::to_owned).to_vec(),
    })
}

const NXDOMAIN: &str = "no record for shop.example.com";
const NO_ROUTE: &str = "cannot connect: No route to host";
const EXPIRING: &str = "certificate expires in 5.2 days (expected at least 14)";
const HUNG: &str = "no complete response within the 10s timeout";
const NOT_FOUND: &str = "status 404 Not Found (expected 2xx, 301)";
const LOOP: &str = "stopped after 10 redirects (a redirect loop?); last Location: /a";
const BODY: &str = r#"body does not contain "ok""#;
const SLOW: &str = "took 1234 ms, more than max_latency 800 ms";
const NO_FDS: &str = "hopwatch ran out of file descriptors (Too many open files) while connecting";

/// One case a row: the result, the hop, and the words its summary must
/// hold (split at "|"). Kept out of rustfmt so the table stays a table.
#[rustfmt::skip]
fn cases() -> Vec<(CheckResult, Hop, &'static str)> {
    vec![
        (http(C::Ok, 200, R::Unknown, "", ""), Hop::None, "healthy: 200 in 1234 ms"),
        (check(C::Unknown, ""), Hop::Unknown, "own network check failed|not counted"),
        (check(C::Unknown, NO_FDS), Hop::Unknown, "not counted|ran out of file descriptors"),
        // Not reaching the host: DNS, network, TLS.
        (check(C::DnsNxdomain, NXDOMAIN), Hop::Dns, "NXDOMAIN|shop.example.com"),
        (check(C::DnsTimeout, ""), Hop::Dns, "no DNS answer in time"),
        (check(C::DnsError, "SERVFAIL from 1.1.1.1"), Hop::Dns, "lookup failed|SERVFAIL from"),
        (check(C::ConnectRefused, ""), Hop::Network,
            "10.0.0.5 refuses connections on port 8080|not listening or a firewall rejects"),
        (with(check(C::ConnectTimeout, ""), |r| r.phases_ms.connect = 5000.0), Hop::Network,
            "10.0.0.5 did not answer the TCP handshake on port 8080 within 5000 ms|firewall"),
        (check(C::ConnectError, NO_ROUTE), Hop::Network, "unreachable|No route to host"),
        (with(check(C::TlsExpired, ""), |r| r.tls = cert(-3.0)), Hop::Tls,
            "certificate of 10.0.0.5:8080 expired 3 days ago|renew"),
        (check(C::TlsUntrusted, ""), Hop::Tls, "not trusted|missing intermediate"),
        (with(check(C::TlsHostname, ""), |r| r.tls = cert(60.0)), Hop::Tls,
            "does not name this host|it covers shop.example.com, www.shop.example.com"),
        (with(check(C::TlsHostname, ""), |r| r.tls = many_names(9)), Hop::Tls,
            "it covers a0.example, a1.example, a2.example, a3.example, a4.example, …"),
        (check(C::TlsError, ""), Hop::Tls, "TLS handshake with 10.0.0.5:8080 failed"),
        (with(check(C::TlsExpiring, EXPIRING), |r| r.tls = cert(5.2)), Hop::Tls,
            "renew the certificate for shop.example.com|5.2 days|at least 14"),
        // A broken exchange: whoever we talked to.
        (check(C::ProtocolError, ""), Hop::Origin, "10.0.0.5:8080 answered, but not with"),
        (answered_by(check(C::ConnectionReset, ""), R::Gateway, "haproxy"), Hop::Gateway,
            "haproxy at 10.0.0.5:8080 closed the connection after 1234 ms"),
        (check(C::Timeout, HUNG), Hop::Origin, "within 1234 ms|hanging|the 10s timeout"),
        // A gateway's own page about the server behind it.
        (http(C::Http502, 502, R::Gateway, "nginx", ""), Hop::Origin,
            "nginx answered 502 Bad Gateway itself|behind it|check the origin directly"),
        (http(C::Http503, 503, R::Gateway, "haproxy", ""), Hop::Origin,
            "haproxy answered 503 Service Unavailable itself|no healthy server"),
        (http(C::Http504, 504, R::Gateway, "nginx", ""), Hop::OriginSlow,
            "nginx gave up waiting for the origin (504) after 1234 ms|slow or hanging"),
        (http(C::Http504, 504, R::Gateway, "", ""), Hop::OriginSlow, "the gateway gave up"),
        (http(C::Http500, 500, R::Gateway, "nginx", ""), Hop::Gateway,
            "nginx failed on its own with 500 Internal Server Error|error log"),
        (http(C::Http5xx, 522, R::Gateway, "cloudflare", ""), Hop::Origin,
            "Cloudflare timed out connecting|(522)"),
        (http(C::Http5xx, 524, R::Gateway, "cloudflare", ""), Hop::OriginSlow,
            "Cloudflare gave up waiting|(524)"),
        // The origin's own answers, and ones nobody can place.
        (with(http(C::Http500, 500, R::Origin, "gunicorn", ""), |r| r.evidence = evidence()),
            Hop::Origin,
            "origin at 10.0.0.5:8080 (gunicorn) answered 500 Internal Server Error|id r-42"),
        (http(C::Http503, 503, R::Origin, "", ""), Hop::Origin, "503 Service|overloaded"),
        (http(C::Http502, 502, R::Unknown, "", ""), Hop::Unknown,
            "10.0.0.5:8080 answered 502 Bad Gateway|does not recognise|`upstream`"),
        (http(C::HttpStatus, 404, R::Origin, "", NOT_FOUND), Hop::Origin,
            "answered 404 Not Found, expected 2xx, 301|path"),
        (http(C::HttpStatus, 404, R::Gateway, "nginx", NOT_FOUND), Hop::Gateway,
            "nginx answered 404 Not Found itself, expected 2xx, 301|routing"),
        (http(C::HttpStatus, 301, R::Origin, "", LOOP), Hop::Origin,
            "301 Moved Permanently: stopped after 10 redirects"),
        (http(C::AssertionFailed, 200, R::Origin, "", BODY), Hop::Origin,
            "answered 200 OK, but|body does not contain \"ok\""),
        // Too slow: the slowest phase is to blame.
        (with(check(C::TooSlow, SLOW), |r| r.phases_ms.ttfb = 1200.0), Hop::Origin,
            "max_latency 800 ms|most of it in waiting for the first byte (1200 ms)"),
        (with(check(C::TooSlow, SLOW), |r| r.phases_ms.dns = 1100.0), Hop::Dns,
            "DNS resolution (1100 ms)"),
        (with(check(C::TooSlow, SLOW), |r| r.phases_ms.connect = 1150.0), Hop::Network,
            "the TCP handshake (1150 ms)"),
    ]
}

fn many_names(count: usize) -> Option<CertFacts> {
    let sans = (0..count).map(|i| format!("a{i}.example")).collect();
    cert(60.0).map(|c| CertFacts { sans, ..c })
}

fn evidence() -> Option<Evidence> {
    let request_id = Some("r-42".to_owned());
    Some(Evidence {
        request_id,
        ..Evidence::default()
    })
}

#[test]
fn each_cause_family_blames_its_hop_in_plain_words() {
    for (result, hop, words) in cases() {
        let verdict = for_check(&result);
        assert_eq!(verdict.hop, hop, "{}: {}", result.cause, verdict.summary);
        for word in words.split('|') {
            let summary = &verdict.summary;
            assert!(summary.contains(word), "{summary:?} lacks {word:?}");
        }
    }
}

#[test]
fn every_cause_gets_one_line_and_only_ok_is_healthy() {
    for cause in Cause::ALL {
        let verdict = for_check(&check(cause, "line one\nline two\r\n\tthree"));
        assert_eq!(verdict.hop == Hop::None, cause == Cause::Ok, "{cause}");
        assert!(!verdict.summary.is_empty(), "{cause}");
        let multiline = verdict.summary.contains(['\n', '\r', '\t']);
        assert!(!multiline, "{cause}: {:?}", verdict.summary);
    }
}

#[test]
fn a_partial_failure_across_addresses_says_how_many() {
    let one = |text, ok| AddressResult {
        addr: addr(text),
        ok,
        cause: if ok { Cause::Ok } else { Cause::Http502 },
        status: Some(if ok { 200 } else { 502 }),
        latency_ms: 10.0,
    };
    let mut result = http(C::Http502, 502, R::Gateway, "nginx", "");
    let (bad, good) = (one("10.0.0.5:80", false), one("10.0.0.6:80", true));
    result.addresses = Some(vec![bad.clone(), good.clone(), good]);
    let summary = for_check(&result).summary;
    let expected = "1 of 3 addresses fail; nginx answered 502";
    assert!(summary.starts_with(expected), "{summary}");
    result.addresses = Some(vec![bad.clone(), bad]);
    let summary = for_check(&result).summary;
    assert!(summary.starts_with("nginx answered 502"), "{summary}");
}
