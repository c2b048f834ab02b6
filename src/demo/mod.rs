//! `hopwatch demo`: a built-in origin, gateway, name server, gRPC inventory
//! service and expiring certificate on loopback that break on a script,
//! monitored with alerts to a built-in sink.

mod dns;
mod grpc;
mod servers;
mod sink;
mod story;

pub use sink::Sink;
pub use story::{SCRIPT, Scene};

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::Application;
use crate::config::{self, Format};
use servers::{ExpiringTls, Gateway, Origin};

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Status page address.
    pub listen: String,
    /// Length of a healthy scene; fault scenes last two beats. Default 17 s.
    pub beat: Duration,
    /// Stop the story after this many cycles (tests); `None` loops.
    pub cycles: Option<u32>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            // Eighteen beats of the script: about five minutes.
            beat: Duration::from_secs(17),
            cycles: None,
        }
    }
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A built-in server could not start.
    #[error("cannot start the demo's servers: {0}")]
    Servers(String),
    /// The generated config was refused (a bug).
    #[error("demo config: {0}")]
    Config(String),
    /// The daemon failed.
    #[error(transparent)]
    App(#[from] crate::app::AppError),
}

/// A running demo's handles, for tests.
pub struct Demo {
    /// The webhook sink.
    pub sink: Sink,
    /// Where the status page is.
    pub addr: SocketAddr,
}

/// Runs the demo until `shutdown`; `started` learns the sink and address.
pub async fn run(
    options: DemoOptions,
    shutdown: impl Future<Output = ()>,
    started: impl FnOnce(Demo),
) -> Result<(), DemoError> {
    let servers = |e: std::io::Error| DemoError::Servers(e.to_string());
    let origin = Origin::start().await.map_err(servers)?;
    let gateway = Gateway::start(origin.addr()).await.map_err(servers)?;
    let names = dns::NameServer::start().await.map_err(servers)?;
    let inventory = grpc::Inventory::start().await.map_err(servers)?;
    let tls = ExpiringTls::start(5)
        .await
        .map_err(|e| DemoError::Servers(e.to_string()))?;
    // A port that was free a moment ago: the misrouted gateway's target.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(servers)?;
    // The sink's URL must name the real port, so `:0` is resolved first.
    let listen = std::net::TcpListener::bind(&options.listen)
        .and_then(|l| l.local_addr())
        .map_err(|e| DemoError::Servers(format!("cannot listen on {}: {e}", options.listen)))?;
    let data = std::env::temp_dir().join(format!("hopwatch-demo-{}", std::process::id()));
    let targets = Targets {
        origin: &origin,
        gateway: &gateway,
        tls: &tls,
        names: &names,
        inventory: &inventory,
    };
    let text = demo_config(listen, &data, &targets);
    let loaded = config::parse(&text, Format::Yaml, "demo.yaml")
        .map_err(|e| DemoError::Config(e.to_string()))?;
    let sink = Sink::default();
    let mut app = Application::build(loaded).await?;
    app.add_routes(sink.router());
    let addr = app.local_addr();
    println!(
        "hopwatch demo: status page on http://{addr}/ , alerts the demo received on http://{addr}/demo/alerts"
    );
    started(Demo {
        sink: sink.clone(),
        addr,
    });
    let stop = CancellationToken::new();
    let story = {
        let (stop, sink) = (stop.clone(), sink.clone());
        let (beat, cycles) = (options.beat, options.cycles);
        async move {
            let cast = story::Cast {
                origin: &origin,
                gateway: &gateway,
                nowhere,
                names: &names,
                inventory: &inventory,
            };
            story::play(cast, &sink, beat, cycles, stop).await
        }
    };
    let story = tokio::spawn(story);
    let outcome = app.run_until(shutdown).await;
    stop.cancel();
    let _ = story.await;
    drop(tls);
    let _ = std::fs::remove_dir_all(&data);
    Ok(outcome?)
}

/// What the demo's monitors watch.
struct Targets<'a> {
    origin: &'a Origin,
    gateway: &'a Gateway,
    tls: &'a ExpiringTls,
    names: &'a dns::NameServer,
    inventory: &'a grpc::Inventory,
}

/// The demo's monitors: the edge through the gateway (with the origin as
/// its upstream), the origin directly, the shop's name at its name server,
/// the inventory service's gRPC health, and the expiring certificate.
fn demo_config(listen: SocketAddr, data: &std::path::Path, targets: &Targets<'_>) -> String {
    format!(
        r#"server:
  listen: {listen}
  title: hopwatch demo
  public_evidence: true
storage:
  path: {db}
monitors:
  - name: shop-edge
    title: Shop (through the gateway)
    group: Shop
    url: http://{gateway}/health
    upstream: shop-origin
    interval: 2s
    timeout: 2s
    runbook: https://github.com/search?q=502+bad+gateway
  - name: shop-origin
    title: Shop origin (direct)
    group: Shop
    url: http://{origin}/health
    interval: 3s
    timeout: 3s
  - name: shop-dns
    title: Shop name (DNS)
    group: Shop
    type: dns
    query: {name}
    server: {dns}
    interval: 2s
    timeout: 1s
    expect: {{ answers: ['127.0.0.1'] }}
  - name: shop-inventory
    title: Inventory service (gRPC health)
    group: Shop
    type: grpc
    target: {inventory}
    service: {inventory_service}
    interval: 2s
    timeout: 1s
  - name: shop-cert
    title: Shop certificate
    group: Certificates
    type: tls
    target: localhost:{tls_port}
    insecure: true
    interval: 10s
    expect: {{ cert_min_days: 14 }}
alerts:
  - name: shop-down
    monitors: ["group:Shop"]
    when: {{ consecutive_failures: 2 }}
    notify: [demo-sink]
  - name: cert-expiring
    monitors: [shop-cert]
    when: {{ cert_expiry: {{ below: 14d }} }}
    severity: warning
    notify: [demo-sink]
notifiers:
  - name: demo-sink
    type: webhook
    url: http://{listen}/demo/sink
"#,
        db = data.join("demo.db").display(),
        gateway = targets.gateway.addr(),
        origin = targets.origin.addr(),
        tls_port = targets.tls.addr().port(),
        name = dns::NAME,
        dns = targets.names.addr(),
        inventory = targets.inventory.addr(),
        inventory_service = grpc::SERVICE,
    )
}
