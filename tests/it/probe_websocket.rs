//! The websocket probe against a real WebSocket server (tokio-tungstenite)
//! that echoes, directly and behind nginx with the upgrade headers; against
//! an HTTP server that never upgrades and a peer that never answers.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use hopwatch::config::{Format, parse_with_env};
use hopwatch::probe::{Cause, CheckResult, Hop};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{GatewayOpts, Nginx, assert_cause, assert_hop, check, spawn_status};

/// A WebSocket server answering each text message with `echo: <text>`,
/// after a ping the client must answer; stopped when dropped.
struct EchoServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl EchoServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("a bound address");
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    while let Some(Ok(message)) = ws.next().await {
                        if let Message::Text(text) = message {
                            let _ = ws.send(Message::Ping("are you there".into())).await;
                            let reply = format!("echo: {}", text.as_str());
                            let _ = ws.send(Message::Text(reply.into())).await;
                        }
                    }
                });
            }
        });
        Self { addr, task }
    }

    fn url(&self) -> String {
        format!("ws://{}/chat", self.addr)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn websocket(url: &str, extra: serde_json::Value) -> CheckResult {
    let mut monitor = json!({ "type": "websocket", "url": url, "timeout": "5s" });
    if let (Some(into), serde_json::Value::Object(from)) = (monitor.as_object_mut(), extra) {
        into.extend(from);
    }
    check(monitor).await
}

#[tokio::test]
async fn the_upgrade_alone_is_ok() {
    let server = EchoServer::start().await;
    let result = websocket(&server.url(), json!({})).await;
    assert_cause(&result, Cause::Ok);
    assert_hop(&result, Hop::None);
    assert_eq!(result.status, Some(101));
    assert_eq!(result.remote_addr, Some(server.addr));
    assert!(result.phases_ms.connect > 0.0, "{:?}", result.phases_ms);
    assert!(result.phases_ms.ttfb > 0.0, "{:?}", result.phases_ms);
}

#[tokio::test]
async fn a_message_and_its_expected_reply_is_ok_past_a_ping() {
    let server = EchoServer::start().await;
    let result = websocket(
        &server.url(),
        json!({ "send": "hello", "expect": { "body_contains": "echo: hello" } }),
    )
    .await;
    assert_cause(&result, Cause::Ok);
}

#[tokio::test]
async fn a_reply_without_the_expected_text_is_assertion_failed() {
    let server = EchoServer::start().await;
    let result = websocket(
        &server.url(),
        json!({ "send": "hello", "expect": { "body_contains": "goodbye" } }),
    )
    .await;
    assert_cause(&result, Cause::AssertionFailed);
    assert_hop(&result, Hop::Origin);
    let evidence = result.evidence.as_ref().expect("evidence of the reply");
    assert_eq!(evidence.body_excerpt, "echo: hello");
}

#[tokio::test]
async fn an_http_answer_that_never_upgrades_is_http_status_with_its_code() {
    let peer = spawn_status(200, &[("content-type", "text/plain")], "just HTTP").await;
    let url = format!("ws://127.0.0.1:{}/chat", peer.port());
    let result = websocket(&url, json!({ "send": "hello" })).await;
    assert_cause(&result, Cause::HttpStatus);
    assert_eq!(result.status, Some(200));
    assert!(
        result.error.as_deref().unwrap_or_default().contains("101"),
        "{result:#?}"
    );
    let evidence = result.evidence.as_ref().expect("evidence of the refusal");
    assert_eq!(evidence.body_excerpt, "just HTTP");
}

#[tokio::test]
async fn a_peer_that_never_answers_the_upgrade_is_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("a bound address");
    // Accepts and holds the connection, reading nothing and answering nothing.
    let holder = tokio::spawn(async move {
        let held = listener.accept().await;
        std::future::pending::<()>().await;
        drop(held);
    });
    let url = format!("ws://{addr}/chat");
    let result = websocket(&url, json!({ "timeout": "1s" })).await;
    holder.abort();
    assert_cause(&result, Cause::Timeout);
}

#[tokio::test]
async fn behind_nginx_with_the_upgrade_headers_the_message_gets_through() {
    let server = EchoServer::start().await;
    let nginx = Nginx::start_websocket(server.addr.port(), GatewayOpts::default()).await;
    let url = format!("ws://127.0.0.1:{}/chat", nginx.port());
    let result = websocket(
        &url,
        json!({ "send": "via nginx", "expect": { "body_contains": "echo: via nginx" } }),
    )
    .await;
    assert!(result.ok, "{result:#?}\n{}", nginx.logs());

    drop(server);
    let down = websocket(&url, json!({ "send": "anyone?" })).await;
    assert_cause(&down, Cause::HttpStatus);
    assert_eq!(down.status, Some(502));
}

#[test]
fn websocket_config_errors_name_their_keys() {
    let cases: &[(&str, &[&str])] = &[
        (
            "monitors: [{ name: w, type: websocket }]\n",
            &["hopwatch.yaml: monitors[0].url: a websocket monitor needs a url (ws:// or wss://)"],
        ),
        (
            "monitors: [{ name: w, type: websocket, url: \"http://chat.example\" }]\n",
            &[
                r#"hopwatch.yaml: monitors[0].url: invalid url "http://chat.example" (expected ws:// or wss:// with a host)"#,
            ],
        ),
        (
            "monitors: [{ name: h, url: \"http://x\", send: hi }]\n",
            &["hopwatch.yaml: monitors[0].send: not used by a http monitor"],
        ),
        (
            "monitors: [{ name: w, type: websocket, url: \"ws://x\", target: \"x:1\", expect: { status: [200] } }]\n",
            &[
                "hopwatch.yaml: monitors[0].expect.status: not used by a websocket monitor",
                "hopwatch.yaml: monitors[0].target: not used by a websocket monitor",
            ],
        ),
    ];
    for (text, expected) in cases {
        let mut errors = parse_with_env(text, Format::Yaml, "hopwatch.yaml", &|_| None)
            .map(|_| Vec::new())
            .unwrap_or_else(|e| e.errors);
        errors.sort();
        assert_eq!(errors, *expected, "{text}");
    }
    let good = "monitors: [{ name: w, type: websocket, url: \"wss://chat.example/live\", send: ping, expect: { body_contains: pong } }]\n";
    assert!(parse_with_env(good, Format::Yaml, "hopwatch.yaml", &|_| None).is_ok());
}
