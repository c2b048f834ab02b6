//! Email against a real SMTP server (aiosmtpd): the delivered message, and
//! how permanent, transient and connection failures are classified.

use std::sync::Arc;

use hopwatch::alert::{Notifier, format};
use serde_json::json;

use super::{build, firing};
use crate::helpers::{LOCALHOST, SmtpServer, free_port, read_maildir};

/// An email notifier sending through `server` with this `security`.
fn notifier(server: &SmtpServer, security: &str) -> Arc<dyn Notifier> {
    build(json!({
        "name": "oncall", "type": "email",
        "smtp": {"host": LOCALHOST, "port": server.port(), "security": security},
        "from": "hopwatch <alerts@example.com>",
        "to": ["oncall@example.com", "backup@example.com"],
    }))
}

#[tokio::test]
async fn email_arrives_with_subject_both_parts_and_delivery_id() {
    let server = SmtpServer::start(&[], false).await;
    let events = [firing()];
    notifier(&server, "none")
        .send("delivery-9", &events)
        .await
        .expect("delivered");
    let mail = read_maildir(&server.maildir());
    assert_eq!(mail.as_array().map(Vec::len), Some(1), "{mail:#}");
    let mail = &mail[0];
    assert_eq!(
        mail["subject"],
        "[FIRING] shop-5xx: shop-edge http_502 (origin)"
    );
    assert_eq!(mail["delivery"], "delivery-9");
    assert_eq!(mail["message_id"], "<hopwatch.delivery-9@example.com>");
    assert_eq!(mail["type"], "multipart/alternative");
    assert_eq!(mail["rcpt"], "oncall@example.com, backup@example.com");
    let parts = mail["parts"].as_array().expect("parts");
    let types: Vec<&str> = parts.iter().filter_map(|p| p["type"].as_str()).collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    let text = parts[0]["text"].as_str().expect("text");
    let html = parts[1]["text"].as_str().expect("html");
    // The parser may normalise line ends; the facts must survive intact.
    assert_eq!(text.replace("\r\n", "\n"), format::email_text(&events));
    let summary = "origin shop-origin refuses connections; the gateway answers 502";
    assert!(html.contains(summary), "{html}");
    assert!(
        html.contains("&lt;html&gt;502 Bad Gateway&lt;/html&gt;"),
        "{html}"
    );
}

#[tokio::test]
async fn a_full_mailbox_refusal_is_permanent() {
    // A 1 KiB size limit: the message is bigger, the server answers 552.
    let server = SmtpServer::start(&["-s", "1024"], false).await;
    let events = [firing()];
    let err = notifier(&server, "none")
        .send("d-5", &events)
        .await
        .expect_err("too large");
    assert!(!err.retryable, "{err}");
    assert!(err.message.starts_with("SMTP 552"), "{err}");
}

#[tokio::test]
async fn a_transient_refusal_is_retried() {
    let server = SmtpServer::start(&[], true).await;
    let events = [firing()];
    let err = notifier(&server, "none")
        .send("d-6", &events)
        .await
        .expect_err("greylisted");
    assert!(err.retryable, "{err}");
    assert!(err.message.starts_with("SMTP 451"), "{err}");
}

#[tokio::test]
async fn required_starttls_on_a_plain_server_is_permanent() {
    // Sending in clear text instead would defeat `security: starttls`.
    let server = SmtpServer::start(&[], false).await;
    let events = [firing()];
    let err = notifier(&server, "starttls")
        .send("d-7", &events)
        .await
        .expect_err("no STARTTLS offered");
    assert!(!err.retryable, "{err}");
    assert!(err.message.contains("STARTTLS"), "{err}");
    assert_eq!(read_maildir(&server.maildir()), json!([]));
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_retried() {
    let port = free_port();
    let notifier = build(json!({
        "name": "oncall", "type": "email",
        "smtp": {"host": LOCALHOST, "port": port, "security": "none"},
        "from": "alerts@example.com", "to": ["oncall@example.com"],
    }));
    let events = [firing()];
    let err = notifier
        .send("d-8", &events)
        .await
        .expect_err("nothing listens");
    assert!(err.retryable, "{err}");
}
