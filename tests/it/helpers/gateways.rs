//! Real gateways, nginx and haproxy, as processes in front of one upstream,
//! each with its own temp dir, killed when dropped.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::net::TcpStream;

use super::{LOCALHOST, MAX_POLLS, POLL, free_port, require};

/// Timeouts of a gateway towards its one upstream.
#[derive(Debug, Clone, Copy)]
pub struct GatewayOpts {
    /// nginx `proxy_read_timeout`, haproxy `timeout server`. Default 5s.
    pub read_timeout: Duration,
    /// nginx `proxy_connect_timeout`, haproxy `timeout connect`. Default 1s.
    pub connect_timeout: Duration,
}

impl Default for GatewayOpts {
    fn default() -> Self {
        Self {
            read_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
        }
    }
}

impl GatewayOpts {
    /// Gives up on the upstream after `read_timeout`: for 504 tests.
    pub fn read_timeout(read_timeout: Duration) -> Self {
        Self {
            read_timeout,
            ..Self::default()
        }
    }
}

/// A running gateway process with its own temp dir (config, pid, logs, temp
/// paths); killed when dropped.
pub struct Gateway {
    port: u16,
    product: &'static str,
    child: Child,
    dir: tempfile::TempDir,
}

impl Gateway {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// `nginx` or `haproxy`.
    pub fn product(&self) -> &'static str {
        self.product
    }

    /// Everything the gateway logged, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for name in ["error.log", "stderr.log"] {
            if let Ok(log) = std::fs::read_to_string(self.dir.path().join(name)) {
                text.push_str(&format!("--- {name}\n{log}"));
            }
        }
        text
    }

    /// Starts `exe` with the config `render` writes for a fresh port, retrying
    /// with another port when a parallel test took it first.
    async fn launch(
        product: &'static str,
        render: impl Fn(&Path, u16) -> (String, Vec<String>),
    ) -> Gateway {
        let exe = require(product);
        let mut last_logs = String::new();
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix(&format!("hopwatch-{product}-"))
                .tempdir()
                .expect("a temp dir for the gateway");
            let port = free_port();
            let (config, args) = render(dir.path(), port);
            std::fs::write(dir.path().join(format!("{product}.conf")), config)
                .expect("write the gateway config");
            let log = File::create(dir.path().join("stderr.log"))
                .expect("create the gateway's stderr.log");
            let child = Command::new(&exe)
                .args(&args)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone a file handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|err| panic!("cannot start {}: {err}", exe.display()));
            let mut gateway = Gateway {
                port,
                product,
                child,
                dir,
            };
            if gateway.wait_ready().await {
                return gateway;
            }
            last_logs = gateway.logs();
            if !last_logs.contains("in use") {
                break;
            }
        }
        panic!("{product} did not start:\n{last_logs}");
    }

    /// True once the port accepts; false when the process exited first.
    async fn wait_ready(&mut self) -> bool {
        for _ in 0..MAX_POLLS {
            if let Ok(Some(_status)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(self.addr()).await.is_ok() {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!(
            "{} does not listen on {} after 10s:\n{}",
            self.product,
            self.port,
            self.logs()
        );
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ms(duration: Duration) -> u128 {
    duration.as_millis().max(1)
}

/// nginx as a reverse proxy in front of one upstream.
pub struct Nginx;

impl Nginx {
    /// One process (`master_process off`, `daemon off`), so it runs as
    /// whoever starts it, root included, and dies with its `Child`.
    pub async fn start(upstream_port: u16, opts: GatewayOpts) -> Gateway {
        let connect = ms(opts.connect_timeout);
        let read = ms(opts.read_timeout);
        Self::launch(move |port| {
            format!(
                "    server {{
        listen {LOCALHOST}:{port};
        location / {{
            proxy_pass http://{LOCALHOST}:{upstream_port};
            proxy_connect_timeout {connect}ms;
            proxy_read_timeout {read}ms;
            proxy_send_timeout {read}ms;
        }}
    }}
"
            )
        })
        .await
    }

    /// nginx as a gRPC gateway: HTTP/2 without TLS (prior knowledge) on
    /// its port, `grpc_pass` to a plaintext gRPC upstream.
    pub async fn start_grpc(upstream_port: u16, opts: GatewayOpts) -> Gateway {
        let connect = ms(opts.connect_timeout);
        let read = ms(opts.read_timeout);
        Self::launch(move |port| {
            format!(
                "    server {{
        listen {LOCALHOST}:{port} http2;
        location / {{
            grpc_pass grpc://{LOCALHOST}:{upstream_port};
            grpc_connect_timeout {connect}ms;
            grpc_read_timeout {read}ms;
        }}
    }}
"
            )
        })
        .await
    }

    /// nginx in front of a WebSocket upstream, passing the upgrade on as
    /// its documentation says (HTTP/1.1 upstream, Upgrade and Connection).
    pub async fn start_websocket(upstream_port: u16, opts: GatewayOpts) -> Gateway {
        let connect = ms(opts.connect_timeout);
        let read = ms(opts.read_timeout);
        Self::launch(move |port| {
            format!(
                "    server {{
        listen {LOCALHOST}:{port};
        location / {{
            proxy_pass http://{LOCALHOST}:{upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection \"upgrade\";
            proxy_connect_timeout {connect}ms;
            proxy_read_timeout {read}ms;
        }}
    }}
"
            )
        })
        .await
    }

    /// Starts nginx with `server` (the `server {}` block for a port) in a
    /// config whose paths all stay in the gateway's temp dir.
    async fn launch(server: impl Fn(u16) -> String) -> Gateway {
        Gateway::launch("nginx", |dir, port| {
            let d = dir.display();
            let server = server(port);
            let config = format!(
                "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{server}}}
"
            );
            let args = vec![
                "-p".to_owned(),
                format!("{d}/"),
                "-c".to_owned(),
                format!("{d}/nginx.conf"),
                // Before reading its config nginx opens its built-in error
                // log; -e keeps even that inside the temp dir.
                "-e".to_owned(),
                format!("{d}/error.log"),
            ];
            (config, args)
        })
        .await
    }
}

/// haproxy in HTTP mode in front of one upstream server.
pub struct Haproxy;

impl Haproxy {
    /// The server has no health check, so haproxy really tries it on every
    /// request and answers with its own 502/503/504 pages.
    pub async fn start(upstream_port: u16, opts: GatewayOpts) -> Gateway {
        Gateway::launch("haproxy", |dir, port| {
            let config = format!(
                "global
    maxconn 256
defaults
    mode http
    retries 1
    timeout connect {connect}ms
    timeout client 30s
    timeout server {read}ms
frontend edge
    bind {LOCALHOST}:{port}
    default_backend app
backend app
    server origin {LOCALHOST}:{upstream_port}
",
                connect = ms(opts.connect_timeout),
                read = ms(opts.read_timeout),
            );
            // -db: stay in the foreground, so killing the child ends it.
            let args = vec![
                "-db".to_owned(),
                "-f".to_owned(),
                format!("{}/haproxy.conf", dir.display()),
            ];
            (config, args)
        })
        .await
    }
}
