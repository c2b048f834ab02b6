//! A real nginx and a real haproxy in front of an origin broken on purpose:
//! the check must name the status, the gateway that answered, and the hop.

use std::time::Duration;

use hopwatch::probe::{Cause, CheckResult, Hop, Role};
use serde_json::json;

use crate::helpers::{
    Gateway, GatewayOpts, Haproxy, Mode, Nginx, Origin, assert_cause, assert_hop, assert_responder,
    check,
};

#[derive(Clone, Copy)]
enum Via {
    Nginx,
    Haproxy,
}

impl Via {
    async fn start(self, origin: &Origin, opts: GatewayOpts) -> Gateway {
        match self {
            Via::Nginx => Nginx::start(origin.port(), opts).await,
            Via::Haproxy => Haproxy::start(origin.port(), opts).await,
        }
    }

    fn product(self) -> &'static str {
        match self {
            Via::Nginx => "nginx",
            Via::Haproxy => "haproxy",
        }
    }
}

/// The check a user would configure for the edge.
async fn check_edge(gateway: &Gateway) -> CheckResult {
    check(json!({ "url": gateway.url("/health"), "timeout": "5s" })).await
}

async fn origin_down(via: Via, cause: Cause, status: u16) {
    let origin = Origin::spawn().await;
    let gateway = via.start(&origin, GatewayOpts::default()).await;
    origin.set_mode(Mode::Stopped).await;

    let result = check_edge(&gateway).await;

    assert_cause(&result, cause);
    assert_eq!(
        result.status,
        Some(status),
        "{result:#?}\n{}",
        gateway.logs()
    );
    assert_responder(&result, Role::Gateway, Some(via.product()));
    assert_hop(&result, Hop::Origin);
    assert_eq!(
        origin.requests(),
        0,
        "a stopped origin cannot have answered"
    );
}

#[tokio::test]
async fn nginx_with_origin_down_answers_502_and_blames_the_origin() {
    origin_down(Via::Nginx, Cause::Http502, 502).await;
}

/// haproxy 2.6 answers a refused connection to its only server (no health
/// check, so the server is never marked down) with 503 "Service
/// Unavailable" after its retries, not 502: termination state `SC`.
#[tokio::test]
async fn haproxy_with_origin_down_answers_503_and_blames_the_origin() {
    origin_down(Via::Haproxy, Cause::Http503, 503).await;
}

async fn origin_slow(via: Via) {
    let origin = Origin::spawn().await;
    let gateway = via
        .start(&origin, GatewayOpts::read_timeout(Duration::from_secs(1)))
        .await;
    // Far beyond the gateway's 1s, well within the check's 5s.
    origin.set_mode(Mode::Slow(Duration::from_secs(3))).await;

    let result = check_edge(&gateway).await;

    assert_cause(&result, Cause::Http504);
    assert_eq!(result.status, Some(504), "{result:#?}\n{}", gateway.logs());
    assert_responder(&result, Role::Gateway, Some(via.product()));
    assert_hop(&result, Hop::OriginSlow);
    assert_eq!(
        origin.requests(),
        1,
        "the gateway must have reached the slow origin"
    );
}

#[tokio::test]
async fn nginx_with_slow_origin_answers_504_origin_slow() {
    origin_slow(Via::Nginx).await;
}

#[tokio::test]
async fn haproxy_with_slow_origin_answers_504_origin_slow() {
    origin_slow(Via::Haproxy).await;
}

async fn origin_broken(via: Via, mode: Mode) -> CheckResult {
    let origin = Origin::spawn().await;
    let gateway = via.start(&origin, GatewayOpts::default()).await;
    origin.set_mode(mode).await;

    let result = check_edge(&gateway).await;

    assert!(
        origin.requests() >= 1,
        "the gateway must have reached the origin"
    );
    result
}

/// nginx does not reject an upstream answer that is not HTTP: it logs
/// "upstream sent no valid HTTP/1.0 header" and relays the bytes as an
/// HTTP/0.9 response, so the check sees the garbage itself.
#[tokio::test]
async fn nginx_relays_garbage_from_origin_as_is() {
    let result = origin_broken(Via::Nginx, Mode::Garbage).await;
    assert_cause(&result, Cause::ProtocolError);
    assert_eq!(result.status, None);
}

/// An answer cut off inside its head is what nginx answers 502 for
/// ("upstream prematurely closed connection while reading response header").
#[tokio::test]
async fn nginx_with_truncated_answer_from_origin_answers_502() {
    let result = origin_broken(Via::Nginx, Mode::Truncated).await;
    assert_cause(&result, Cause::Http502);
    assert_eq!(result.status, Some(502));
    assert_responder(&result, Role::Gateway, Some("nginx"));
}

/// haproxy refuses an invalid response with its own 502 (termination state `PH`).
#[tokio::test]
async fn haproxy_with_garbage_from_origin_answers_502() {
    let result = origin_broken(Via::Haproxy, Mode::Garbage).await;
    assert_cause(&result, Cause::Http502);
    assert_eq!(result.status, Some(502));
    assert_responder(&result, Role::Gateway, Some("haproxy"));
}

/// A head cut off by the server is a 502 from haproxy too (state `SH`).
#[tokio::test]
async fn haproxy_with_truncated_answer_from_origin_answers_502() {
    let result = origin_broken(Via::Haproxy, Mode::Truncated).await;
    assert_cause(&result, Cause::Http502);
    assert_eq!(result.status, Some(502));
    assert_responder(&result, Role::Gateway, Some("haproxy"));
}

async fn origin_healthy(via: Via) {
    let origin = Origin::spawn().await;
    let gateway = via.start(&origin, GatewayOpts::default()).await;

    let result = check_edge(&gateway).await;

    assert_cause(&result, Cause::Ok);
    assert_eq!(result.status, Some(200));
    assert_hop(&result, Hop::None);
    assert!(
        result.responder.is_none(),
        "a healthy check names no responder: {result:#?}"
    );
    assert!(
        result.evidence.is_none(),
        "a healthy check keeps no evidence: {result:#?}"
    );
    assert_eq!(
        origin.requests(),
        1,
        "the answer must have come from the origin"
    );
}

#[tokio::test]
async fn nginx_with_healthy_origin_is_ok() {
    origin_healthy(Via::Nginx).await;
}

#[tokio::test]
async fn haproxy_with_healthy_origin_is_ok() {
    origin_healthy(Via::Haproxy).await;
}

/// The origin recovers: the same gateway goes from 502 back to ok, which
/// also proves `Origin::start` really listens again on the same port.
#[tokio::test]
async fn nginx_recovers_when_the_origin_comes_back() {
    let origin = Origin::spawn().await;
    let gateway = Nginx::start(origin.port(), GatewayOpts::default()).await;
    origin.stop().await;
    assert_cause(&check_edge(&gateway).await, Cause::Http502);

    origin.start().await;

    assert_cause(&check_edge(&gateway).await, Cause::Ok);
    assert_eq!(origin.requests(), 1);
}

/// An origin's own error passes through the gateway, which adds its
/// `Server` header: the responder is still the origin, not the gateway.
async fn origin_own_error(via: Via) {
    let origin = Origin::spawn().await;
    let gateway = via.start(&origin, GatewayOpts::default()).await;
    origin
        .set_mode(Mode::Status(
            503,
            "down for maintenance, back at 10:00".to_owned(),
        ))
        .await;

    let result = check_edge(&gateway).await;

    assert_cause(&result, Cause::Http503);
    assert_eq!(result.status, Some(503));
    // Without a gateway's own page the role is origin or, when even that
    // cannot be told, unknown; never the gateway that merely passed it on.
    let role = result.responder.as_ref().map(|r| r.role);
    assert!(
        matches!(role, Some(Role::Origin | Role::Unknown)),
        "{result:#?}"
    );
    assert_eq!(origin.requests(), 1);
}

#[tokio::test]
async fn nginx_passing_the_origins_own_503_names_the_origin() {
    origin_own_error(Via::Nginx).await;
}

#[tokio::test]
async fn haproxy_passing_the_origins_own_503_names_the_origin() {
    origin_own_error(Via::Haproxy).await;
}
