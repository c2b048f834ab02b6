//! Certificates good and bad (generated with rcgen) through an https monitor
//! and a `type: tls` monitor, and the plain `type: tcp` connect check.

use hopwatch::probe::{Cause, CheckResult, Hop};
use serde_json::json;

use crate::helpers::{
    CertKind, TlsPeer, assert_cause, assert_hop, check, free_port, spawn_tls, wait_until,
};

/// An https check of the peer, trusting its CA through `ca_file`.
async fn https(peer: &TlsPeer, extra: serde_json::Value) -> CheckResult {
    let mut monitor = json!({ "url": peer.url("/health"), "ca_file": peer.ca_file() });
    merge(&mut monitor, extra);
    check(monitor).await
}

/// A `type: tls` check of `localhost:PORT`, trusting the peer's CA.
async fn tls(peer: &TlsPeer, extra: serde_json::Value) -> CheckResult {
    let target = format!("localhost:{}", peer.port());
    let mut monitor = json!({ "type": "tls", "target": target, "ca_file": peer.ca_file() });
    merge(&mut monitor, extra);
    check(monitor).await
}

fn merge(monitor: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(into), serde_json::Value::Object(from)) = (monitor.as_object_mut(), extra) {
        into.extend(from);
    }
}

fn without_ca_file() -> serde_json::Value {
    json!({ "ca_file": null })
}

/// A trusted, valid certificate: ok, with its facts recorded.
#[track_caller]
fn assert_trusted(result: &CheckResult, peer: &TlsPeer) {
    assert_cause(result, Cause::Ok);
    assert_hop(result, Hop::None);
    let cert = result
        .tls
        .as_ref()
        .unwrap_or_else(|| panic!("no certificate facts: {result:#?}"));
    assert!(cert.days_left > 0.0, "{cert:#?}");
    assert!(
        cert.sans.iter().any(|name| name == "localhost"),
        "{cert:#?}"
    );
    assert!(
        result.phases_ms.tls > 0.0,
        "the tls phase ran: {:?}",
        result.phases_ms
    );
    assert_eq!(
        result.remote_addr,
        Some(peer.addr),
        "localhost is 127.0.0.1 here"
    );
}

#[tokio::test]
async fn https_with_a_valid_certificate_from_ca_file_is_ok() {
    let peer = spawn_tls(CertKind::Valid { days_left: 90 }).await;
    let result = https(&peer, json!({})).await;
    assert_trusted(&result, &peer);
    assert_eq!(result.status, Some(200));
    // The answer came after the handshake, so the peer has counted it.
    assert_eq!(peer.handshakes(), 1);
    assert!(result.phases_ms.ttfb > 0.0, "{:?}", result.phases_ms);
}

#[tokio::test]
async fn https_with_a_self_signed_certificate_is_tls_untrusted() {
    let peer = spawn_tls(CertKind::SelfSigned).await;
    let result = https(&peer, without_ca_file()).await;
    assert_cause(&result, Cause::TlsUntrusted);
    assert_hop(&result, Hop::Tls);
    assert_eq!(peer.handshakes(), 0);
}

/// A trusted CA's name on a certificate its key did not sign.
#[tokio::test]
async fn https_with_a_forged_issuer_is_tls_untrusted() {
    let peer = spawn_tls(CertKind::ForgedIssuer).await;
    let result = https(&peer, json!({})).await;
    assert_cause(&result, Cause::TlsUntrusted);
    assert_eq!(peer.handshakes(), 0);
}

#[tokio::test]
async fn https_with_an_expired_certificate_is_tls_expired() {
    let peer = spawn_tls(CertKind::Expired).await;
    let result = https(&peer, json!({})).await;
    assert_cause(&result, Cause::TlsExpired);
    assert_hop(&result, Hop::Tls);
}

#[tokio::test]
async fn https_with_a_certificate_for_another_name_is_tls_hostname() {
    let peer = spawn_tls(CertKind::WrongName).await;
    let result = https(&peer, json!({})).await;
    assert_cause(&result, Cause::TlsHostname);
    assert_hop(&result, Hop::Tls);
}

#[tokio::test]
async fn https_with_fewer_days_left_than_cert_min_days_is_tls_expiring() {
    let peer = spawn_tls(CertKind::Valid { days_left: 3 }).await;
    let result = https(&peer, json!({ "expect": { "cert_min_days": 14 } })).await;
    assert_cause(&result, Cause::TlsExpiring);
    let days = result.tls.as_ref().map(|cert| cert.days_left);
    assert!(
        days.is_some_and(|days| days > 0.0 && days < 14.0),
        "{result:#?}"
    );
}

#[tokio::test]
async fn https_with_enough_days_left_is_ok() {
    let peer = spawn_tls(CertKind::Valid { days_left: 60 }).await;
    let result = https(&peer, json!({ "expect": { "cert_min_days": 14 } })).await;
    assert_trusted(&result, &peer);
}

#[tokio::test]
async fn https_insecure_accepts_a_self_signed_certificate() {
    let peer = spawn_tls(CertKind::SelfSigned).await;
    let result = https(&peer, json!({ "ca_file": null, "insecure": true })).await;
    assert_trusted(&result, &peer);
}

#[tokio::test]
async fn tls_monitor_with_a_valid_certificate_is_ok() {
    let peer = spawn_tls(CertKind::Valid { days_left: 90 }).await;
    let result = tls(&peer, json!({})).await;
    assert_trusted(&result, &peer);
    assert_eq!(result.status, None, "a tls check has no HTTP status");
    // The client may hang up before the server finishes its side: wait.
    wait_until("the peer completed a handshake", || peer.handshakes() == 1).await;
}

#[tokio::test]
async fn tls_monitor_with_a_self_signed_certificate_is_tls_untrusted() {
    let peer = spawn_tls(CertKind::SelfSigned).await;
    let result = tls(&peer, without_ca_file()).await;
    assert_cause(&result, Cause::TlsUntrusted);
    assert_hop(&result, Hop::Tls);
}

#[tokio::test]
async fn tls_monitor_with_an_expired_certificate_is_tls_expired() {
    let peer = spawn_tls(CertKind::Expired).await;
    let result = tls(&peer, json!({})).await;
    assert_cause(&result, Cause::TlsExpired);
}

#[tokio::test]
async fn tls_monitor_with_a_certificate_for_another_name_is_tls_hostname() {
    let peer = spawn_tls(CertKind::WrongName).await;
    let result = tls(&peer, json!({})).await;
    assert_cause(&result, Cause::TlsHostname);
}

#[tokio::test]
async fn tls_monitor_with_fewer_days_left_than_cert_min_days_is_tls_expiring() {
    let peer = spawn_tls(CertKind::Valid { days_left: 3 }).await;
    let result = tls(&peer, json!({ "expect": { "cert_min_days": 14 } })).await;
    assert_cause(&result, Cause::TlsExpiring);
}

#[tokio::test]
async fn tls_monitor_insecure_accepts_a_self_signed_certificate() {
    let peer = spawn_tls(CertKind::SelfSigned).await;
    let result = tls(&peer, json!({ "ca_file": null, "insecure": true })).await;
    assert_trusted(&result, &peer);
}

#[tokio::test]
async fn tcp_monitor_on_an_open_port_is_ok() {
    let peer = spawn_tls(CertKind::Valid { days_left: 90 }).await;
    let result =
        check(json!({ "type": "tcp", "target": format!("127.0.0.1:{}", peer.port()) })).await;
    assert_cause(&result, Cause::Ok);
    assert!(result.phases_ms.connect > 0.0, "{:?}", result.phases_ms);
    assert_eq!(result.phases_ms.tls, 0.0, "a tcp check does no handshake");
    assert_eq!(result.remote_addr, Some(peer.addr));
}

#[tokio::test]
async fn tcp_monitor_on_a_closed_port_is_connect_refused() {
    let port = free_port();
    let result = check(json!({ "type": "tcp", "target": format!("127.0.0.1:{port}") })).await;
    assert_cause(&result, Cause::ConnectRefused);
}
