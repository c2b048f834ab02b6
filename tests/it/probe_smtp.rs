//! The smtp probe against Debian's aiosmtpd, plain and with STARTTLS (a
//! certificate made by rcgen), and against in-process peers that refuse,
//! talk garbage or stall.

use hopwatch::probe::{Cause, CheckResult, Hop};
use serde_json::json;

use crate::helpers::{
    CertFiles, CertKind, SmtpServer, assert_cause, assert_hop, cert_files, check,
    spawn_scripted_smtp,
};

/// aiosmtpd offering STARTTLS with `files`, not requiring it.
async fn starttls_server(files: &CertFiles) -> SmtpServer {
    let cert = files.cert.to_str().expect("a UTF-8 temp path");
    let key = files.key.to_str().expect("a UTF-8 temp path");
    let args = ["--tlscert", cert, "--tlskey", key, "--no-requiretls"];
    SmtpServer::start(&args, false).await
}

/// A `type: smtp` check of `target` with more keys.
async fn smtp(target: String, extra: serde_json::Value) -> CheckResult {
    let mut monitor = json!({ "type": "smtp", "target": target });
    if let (Some(into), serde_json::Value::Object(from)) = (monitor.as_object_mut(), extra) {
        into.extend(from);
    }
    check(monitor).await
}

#[tokio::test]
async fn a_plain_server_s_banner_and_ehlo_are_ok() {
    let server = SmtpServer::start(&[], false).await;
    let result = smtp(format!("127.0.0.1:{}", server.port()), json!({})).await;
    assert_cause(&result, Cause::Ok);
    assert_hop(&result, Hop::None);
    assert!(result.phases_ms.ttfb > 0.0, "{:?}", result.phases_ms);
    assert_eq!(result.phases_ms.tls, 0.0, "no TLS without starttls");
    assert!(result.tls.is_none(), "{result:#?}");
    assert_eq!(result.remote_addr.map(|a| a.port()), Some(server.port()));
}

#[tokio::test]
async fn starttls_with_a_trusted_certificate_is_ok_with_its_facts() {
    let files = cert_files(CertKind::Valid { days_left: 90 });
    let server = starttls_server(&files).await;
    let target = format!("localhost:{}", server.port());
    let trusted = json!({ "starttls": true, "ca_file": &*files.ca_file });
    let result = smtp(target.clone(), trusted).await;
    assert_cause(&result, Cause::Ok);
    let cert = result
        .tls
        .as_ref()
        .unwrap_or_else(|| panic!("no certificate facts: {result:#?}"));
    assert!((88.0..91.0).contains(&cert.days_left), "{cert:#?}");
    assert!(cert.sans.iter().any(|n| n == "localhost"), "{cert:#?}");
    assert!(result.phases_ms.tls > 0.0, "{:?}", result.phases_ms);

    let wants_more = json!({
        "starttls": true, "ca_file": &*files.ca_file, "expect": { "cert_min_days": 120 }
    });
    let expiring = smtp(target.clone(), wants_more).await;
    assert_cause(&expiring, Cause::TlsExpiring);
    assert_hop(&expiring, Hop::Tls);
    assert!(expiring.tls.is_some(), "{expiring:#?}");

    // The system store does not know the test CA.
    let untrusted = smtp(target, json!({ "starttls": true })).await;
    assert_cause(&untrusted, Cause::TlsUntrusted);
}

#[tokio::test]
async fn starttls_asked_for_but_not_offered_is_an_smtp_error() {
    let server = SmtpServer::start(&[], false).await;
    let target = format!("127.0.0.1:{}", server.port());
    let result = smtp(target, json!({ "starttls": true })).await;
    assert_cause(&result, Cause::SmtpError);
    assert_hop(&result, Hop::Origin);
    let error = result.error.as_deref().unwrap_or_default();
    assert!(error.contains("STARTTLS"), "{result:#?}");
}

#[tokio::test]
async fn a_refusing_banner_is_an_smtp_error_with_its_words() {
    let peer = spawn_scripted_smtp(b"554 5.3.2 mx.test no service today\r\n", b"").await;
    let result = smtp(peer.target(), json!({})).await;
    assert_cause(&result, Cause::SmtpError);
    assert_hop(&result, Hop::Origin);
    assert!(
        result
            .verdict
            .summary
            .contains("554 5.3.2 mx.test no service today"),
        "{result:#?}"
    );
}

#[tokio::test]
async fn a_refused_ehlo_is_an_smtp_error() {
    let peer = spawn_scripted_smtp(b"220 mx.test ESMTP\r\n", b"421 4.3.2 shutting down\r\n").await;
    let result = smtp(peer.target(), json!({})).await;
    assert_cause(&result, Cause::SmtpError);
    assert!(
        result.error.as_deref().unwrap_or_default().contains("421"),
        "{result:#?}"
    );
}

#[tokio::test]
async fn garbage_and_endless_replies_are_protocol_errors() {
    let ssh = spawn_scripted_smtp(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", b"").await;
    let result = smtp(ssh.target(), json!({ "timeout": "5s" })).await;
    assert_cause(&result, Cause::ProtocolError);

    let endless = "250-x\r\n".repeat(500);
    let chatty = spawn_scripted_smtp(b"220 mx.test\r\n", endless.as_bytes()).await;
    let result = smtp(chatty.target(), json!({ "timeout": "5s" })).await;
    assert_cause(&result, Cause::ProtocolError);

    let long_line = format!("220 {}", "x".repeat(10_000));
    let rambling = spawn_scripted_smtp(long_line.as_bytes(), b"").await;
    let result = smtp(rambling.target(), json!({ "timeout": "5s" })).await;
    assert_cause(&result, Cause::ProtocolError);
}

#[tokio::test]
async fn a_silent_or_stalling_server_times_out() {
    let silent = spawn_scripted_smtp(b"", b"").await;
    let result = smtp(silent.target(), json!({ "timeout": "1s" })).await;
    assert_cause(&result, Cause::Timeout);

    // The banner comes, the answer to EHLO never does.
    let stalls = spawn_scripted_smtp(b"220 mx.test ESMTP\r\n", b"").await;
    let result = smtp(stalls.target(), json!({ "timeout": "1s" })).await;
    assert_cause(&result, Cause::Timeout);
    assert!(result.phases_ms.ttfb > 0.0, "{:?}", result.phases_ms);
}
