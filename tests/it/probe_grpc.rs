//! The grpc probe against a real `grpc.health.v1` server (tonic-health) in
//! the test, serving, not serving and stopped; against peers that do not
//! speak gRPC; and through nginx's `grpc_pass` for a chain verdict.

use std::net::SocketAddr;

use hopwatch::config::{Format, parse_with_env};
use hopwatch::evaluate::chain::chain_verdict;
use hopwatch::probe::{Cause, CheckResult, Hop, Role};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::helpers::{
    CertKind, GatewayOpts, Nginx, assert_cause, assert_hop, assert_responder, check, spawn_status,
    spawn_tls,
};

/// A tonic server with the standard health service on 127.0.0.1:0.
struct HealthServer {
    addr: SocketAddr,
    reporter: HealthReporter,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl HealthServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("a bound address");
        let (reporter, service) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("db", ServingStatus::Serving)
            .await;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stopped.await;
            });
        let task = tokio::spawn(async move {
            server.await.expect("the health server runs");
        });
        Self {
            addr,
            reporter,
            stop: Some(stop),
            task,
        }
    }

    fn target(&self) -> String {
        self.addr.to_string()
    }

    /// Stops serving and closes the listener: its port then refuses.
    async fn stop(mut self) -> SocketAddr {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        self.addr
    }
}

async fn grpc(target: &str, extra: serde_json::Value) -> CheckResult {
    let mut monitor = json!({ "type": "grpc", "target": target, "timeout": "5s" });
    if let (Some(into), serde_json::Value::Object(from)) = (monitor.as_object_mut(), extra) {
        into.extend(from);
    }
    check(monitor).await
}

#[tokio::test]
async fn a_serving_server_is_ok_with_its_phases() {
    let server = HealthServer::start().await;
    let result = grpc(&server.target(), json!({})).await;
    assert_cause(&result, Cause::Ok);
    assert_hop(&result, Hop::None);
    assert_eq!(result.remote_addr, Some(server.addr));
    assert!(result.phases_ms.connect > 0.0, "{:?}", result.phases_ms);
    assert!(result.phases_ms.ttfb > 0.0, "{:?}", result.phases_ms);
    assert_eq!(result.phases_ms.dns, 0.0, "an IP literal is not resolved");
    assert_eq!(result.phases_ms.tls, 0.0, "h2c has no handshake");
    let named = grpc(&server.target(), json!({ "service": "db" })).await;
    assert_cause(&named, Cause::Ok);
}

#[tokio::test]
async fn not_serving_is_grpc_not_serving_at_the_origin() {
    let server = HealthServer::start().await;
    server
        .reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    let result = grpc(&server.target(), json!({})).await;
    assert_cause(&result, Cause::GrpcNotServing);
    assert_hop(&result, Hop::Origin);
    let error = result.error.as_deref().unwrap_or_default();
    assert!(error.contains("NOT_SERVING"), "{error}");

    server
        .reporter
        .set_service_status("db", ServingStatus::NotServing)
        .await;
    let db = grpc(&server.target(), json!({ "service": "db" })).await;
    assert_cause(&db, Cause::GrpcNotServing);
    assert!(
        db.error.as_deref().unwrap_or_default().contains("\"db\""),
        "{db:#?}"
    );
}

#[tokio::test]
async fn an_unknown_service_is_not_serving_with_the_grpc_status_named() {
    let server = HealthServer::start().await;
    let result = grpc(&server.target(), json!({ "service": "nobody" })).await;
    assert_cause(&result, Cause::GrpcNotServing);
    let error = result.error.as_deref().unwrap_or_default();
    assert!(error.contains("grpc-status 5 NOT_FOUND"), "{error}");
    assert!(error.contains("service not registered"), "{error}");
}

#[tokio::test]
async fn a_stopped_server_refuses_the_connection() {
    let addr = HealthServer::start().await.stop().await;
    let result = grpc(&addr.to_string(), json!({})).await;
    assert_cause(&result, Cause::ConnectRefused);
    assert_hop(&result, Hop::Network);
}

#[tokio::test]
async fn an_http1_server_is_a_protocol_error() {
    let peer = spawn_status(200, &[], "plain HTTP/1.1").await;
    let result = grpc(&format!("127.0.0.1:{}", peer.port()), json!({})).await;
    assert_cause(&result, Cause::ProtocolError);
    let error = result.error.as_deref().unwrap_or_default();
    assert!(error.contains("HTTP/2"), "{error}");
}

#[tokio::test]
async fn a_tls_server_without_h2_in_alpn_is_a_protocol_error_after_the_handshake() {
    let peer = spawn_tls(CertKind::Valid { days_left: 90 }).await;
    let target = format!("localhost:{}", peer.port());
    let result = grpc(&target, json!({ "tls": true, "ca_file": peer.ca_file() })).await;
    assert_cause(&result, Cause::ProtocolError);
    assert!(result.phases_ms.tls > 0.0, "{:?}", result.phases_ms);
    assert!(
        result.error.as_deref().unwrap_or_default().contains("ALPN"),
        "{result:#?}"
    );
}

#[tokio::test]
async fn behind_nginx_grpc_pass_the_chain_blames_the_stopped_origin() {
    let server = HealthServer::start().await;
    let nginx = Nginx::start_grpc(server.addr.port(), GatewayOpts::default()).await;
    let edge_target = format!("127.0.0.1:{}", nginx.port());
    let through = grpc(&edge_target, json!({})).await;
    assert_cause(&through, Cause::Ok);

    server
        .reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    let not_serving = grpc(&edge_target, json!({})).await;
    assert_cause(&not_serving, Cause::GrpcNotServing);

    let addr = server.stop().await;
    let edge = grpc(&edge_target, json!({})).await;
    assert_cause(&edge, Cause::Http502);
    assert_responder(&edge, Role::Gateway, Some("nginx"));
    let origin = grpc(&addr.to_string(), json!({})).await;
    assert_cause(&origin, Cause::ConnectRefused);
    let verdict = chain_verdict(&edge, Some(("grpc-origin", &origin)));
    assert_ne!(verdict.hop, Hop::Gateway, "{verdict:?}\n{}", nginx.logs());
    assert!(verdict.summary.contains("grpc-origin"), "{verdict:?}");
}

#[test]
fn grpc_config_errors_name_their_keys() {
    let cases: &[(&str, &[&str])] = &[
        (
            "monitors: [{ name: g, type: grpc }]\n",
            &["hopwatch.yaml: monitors[0].target: a grpc monitor needs a target (host:port)"],
        ),
        (
            "monitors: [{ name: g, type: grpc, target: \"api:50051\", insecure: true }]\n",
            &[
                "hopwatch.yaml: monitors[0].insecure: only used with tls: true (this grpc monitor speaks plaintext h2c)",
            ],
        ),
        (
            "monitors: [{ name: g, type: grpc, target: \"api:50051\", send: hi, url: http://x }]\n",
            &[
                "hopwatch.yaml: monitors[0].send: not used by a grpc monitor",
                "hopwatch.yaml: monitors[0].url: not used by a grpc monitor",
            ],
        ),
        (
            "monitors: [{ name: t, type: tcp, target: \"db:5432\", service: x, tls: true }]\n",
            &[
                "hopwatch.yaml: monitors[0].service: not used by a tcp monitor",
                "hopwatch.yaml: monitors[0].tls: not used by a tcp monitor",
            ],
        ),
    ];
    for (text, expected) in cases {
        let errors = parse_with_env(text, Format::Yaml, "hopwatch.yaml", &|_| None)
            .map(|_| Vec::new())
            .unwrap_or_else(|e| e.errors);
        let mut errors = errors;
        errors.sort();
        assert_eq!(errors, *expected, "{text}");
    }
    let good = "monitors: [{ name: g, type: grpc, target: \"api:50051\", service: db, tls: true, insecure: true }]\n";
    assert!(parse_with_env(good, Format::Yaml, "hopwatch.yaml", &|_| None).is_ok());
}
