//! Webhooks against a real HTTP receiver: signature, delivery id, the
//! classification of each kind of refusal, and the chat and PagerDuty formats.

use std::time::Duration;

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use hopwatch::alert::webhook::WebhookNotifier;
use hopwatch::alert::{DeliveryError, Notifier, format};
use hopwatch::config::WebhookFormat;
use hopwatch::incident::AlertEvent;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{build, firing, resolved};
use crate::helpers::{LOCALHOST, Receiver, Reply, free_port};

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
        .to_str()
        .expect("an ASCII header")
}

/// A webhook in `format` to `receiver`, giving up after a short time.
fn webhook(receiver_url: String, format: WebhookFormat) -> WebhookNotifier {
    let key = (format == WebhookFormat::Pagerduty).then(|| "R0UT1NG".into());
    WebhookNotifier::new("hook", receiver_url, format, None, key)
        .expect("a valid notifier")
        .with_timeout(Duration::from_millis(500))
}

async fn answer_with(answer: Reply) -> DeliveryError {
    let receiver = Receiver::start(answer).await;
    let events = [firing()];
    let result = webhook(receiver.url(), WebhookFormat::Json)
        .send("d-1", &events)
        .await;
    assert_eq!(receiver.seen().len(), 1, "the request reached the receiver");
    result.expect_err("the receiver refused")
}

#[tokio::test]
async fn json_webhook_is_signed_and_carries_the_delivery_id() {
    let receiver = Receiver::start(Reply::Status(204)).await;
    let notifier = build(json!({
        "name": "ops-hook", "type": "webhook", "url": receiver.url(), "secret": "s3cr3t",
    }));
    let events = [firing()];
    for _ in 0..2 {
        notifier
            .send("delivery-7", &events)
            .await
            .expect("delivered");
    }
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    for (headers, body) in &seen {
        assert_eq!(header(headers, "x-hopwatch-delivery"), "delivery-7");
        assert_eq!(header(headers, "content-type"), "application/json");
        assert!(header(headers, "user-agent").starts_with("hopwatch/"));
        let signature = header(headers, "x-hopwatch-signature");
        let hex = signature.strip_prefix("sha256=").expect("sha256= prefix");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"s3cr3t").expect("any key");
        mac.update(body);
        let expected = hex_decode(hex);
        mac.verify_slice(&expected)
            .expect("the signature verifies with the secret");
        assert_eq!(body.as_ref(), format::json_body(&events).as_slice());
        assert!(!String::from_utf8_lossy(body).contains("s3cr3t"));
        let parsed: Value = serde_json::from_slice(body).expect("JSON body");
        assert_eq!(parsed["event"], "firing");
        assert_eq!(parsed["verdict"]["hop"], "origin");
    }
}

fn hex_decode(hex: &str) -> Vec<u8> {
    assert_eq!(hex.len(), 64, "a SHA-256 digest in hex: {hex}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect()
}

#[tokio::test]
async fn without_a_secret_nothing_is_signed() {
    let receiver = Receiver::start(Reply::Status(200)).await;
    let events = [resolved()];
    webhook(receiver.url(), WebhookFormat::Json)
        .send("d-2", &events)
        .await
        .expect("delivered");
    let (headers, body) = receiver.seen().pop().expect("one request");
    assert!(headers.get("x-hopwatch-signature").is_none());
    let parsed: Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(parsed["event"], "resolved");
    assert_eq!(parsed["resolved_at"], "2026-01-02T03:14:05.678Z");
}

#[tokio::test]
async fn server_errors_and_throttling_are_retried() {
    for code in [500, 502, 503, 408, 429] {
        let err = answer_with(Reply::Status(code)).await;
        assert!(err.retryable, "{code} should be retried: {err}");
        assert!(err.message.starts_with(&format!("HTTP {code}")), "{err}");
        assert!(err.message.contains("receiver says: not now"), "{err}");
    }
}

#[tokio::test]
async fn other_client_errors_are_permanent() {
    for code in [400, 401, 404, 410] {
        let err = answer_with(Reply::Status(code)).await;
        assert!(!err.retryable, "{code} should not be retried: {err}");
        assert!(err.message.starts_with(&format!("HTTP {code}")), "{err}");
    }
}

#[tokio::test]
async fn a_receiver_that_hangs_is_retried() {
    let err = answer_with(Reply::Hang).await;
    assert!(err.retryable, "{err}");
    assert!(err.message.starts_with("timed out"), "{err}");
}

#[tokio::test]
async fn a_refused_connection_is_retried_without_showing_the_url() {
    let url = format!("http://{LOCALHOST}:{}/hook?token=t0ps3cret", free_port());
    let events = [firing()];
    let err = webhook(url, WebhookFormat::Json)
        .send("d-3", &events)
        .await
        .expect_err("nothing listens");
    assert!(err.retryable, "{err}");
    assert!(err.message.starts_with("cannot connect"), "{err}");
    assert!(!err.message.contains("t0ps3cret"), "{err}");
}

/// Sends `events` in `format` and returns the JSON bodies received.
async fn bodies_in(format: WebhookFormat, events: &[AlertEvent]) -> Vec<Value> {
    let receiver = Receiver::start(Reply::Status(202)).await;
    webhook(receiver.url(), format)
        .send("d-4", events)
        .await
        .expect("delivered");
    receiver
        .seen()
        .iter()
        .map(|(headers, body)| {
            assert_eq!(header(headers, "content-type"), "application/json");
            assert_eq!(header(headers, "x-hopwatch-delivery"), "d-4");
            serde_json::from_slice(body).expect("well-formed JSON")
        })
        .collect()
}

fn keys(body: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn chat_formats_post_their_own_json() {
    let events = [firing(), resolved()];
    let slack = bodies_in(WebhookFormat::Slack, &events).await;
    assert_eq!(slack.len(), 1);
    assert_eq!(keys(&slack[0]), ["attachments", "text"]);
    assert_eq!(slack[0]["attachments"].as_array().map(Vec::len), Some(2));

    let discord = bodies_in(WebhookFormat::Discord, &events).await;
    assert_eq!(discord.len(), 1);
    assert_eq!(keys(&discord[0]), ["allowed_mentions", "content", "embeds"]);
    assert_eq!(discord[0]["embeds"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn pagerduty_gets_one_event_per_request() {
    let events = [firing(), resolved()];
    let bodies = bodies_in(WebhookFormat::Pagerduty, &events).await;
    assert_eq!(bodies.len(), 2);
    for (body, action) in bodies.iter().zip(["trigger", "resolve"]) {
        assert_eq!(
            keys(body),
            [
                "client",
                "client_url",
                "dedup_key",
                "event_action",
                "links",
                "payload",
                "routing_key"
            ]
        );
        assert_eq!(body["routing_key"], "R0UT1NG");
        assert_eq!(body["event_action"], action);
        assert_eq!(body["dedup_key"], "inc-42");
        assert_eq!(body["payload"]["source"], "shop-edge");
    }
}
