//! The demo's own targets on loopback: an origin that can crash or slow
//! down, a gateway in front of it that can be misrouted, and a TLS endpoint
//! whose certificate is about to expire.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long the gateway waits for the origin's answer before its 504.
pub const GATEWAY_PATIENCE: Duration = Duration::from_millis(1_000);
/// How slow the origin is in the slow scene: past the gateway's patience,
/// within the origin monitor's own timeout.
pub const SLOW_ORIGIN: Duration = Duration::from_millis(1_500);

/// Reads a request head (the demo's monitors send no bodies).
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Some(head)
}

/// The application server behind the gateway.
pub struct Origin {
    addr: SocketAddr,
    delay: Arc<Mutex<Duration>>,
    /// Answering 503 with `Retry-After`: up, but shedding load.
    overloaded: Arc<AtomicBool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// The origin's answer when it sheds load.
const OVERLOADED: &str = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Type: text/plain\r\nContent-Length: 30\r\nConnection: close\r\n\r\nshop is overloaded, try later\n";

impl Origin {
    /// Starts a healthy origin on a free loopback port.
    pub async fn start() -> std::io::Result<Origin> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let origin = Origin {
            addr: listener.local_addr()?,
            delay: Arc::new(Mutex::new(Duration::ZERO)),
            overloaded: Arc::new(AtomicBool::new(false)),
            task: Mutex::new(None),
        };
        origin.serve(listener);
        Ok(origin)
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn serve(&self, listener: TcpListener) {
        let delay = self.delay.clone();
        let overloaded = self.overloaded.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let delay = *delay.lock().unwrap_or_else(|e| e.into_inner());
                let overloaded = overloaded.load(Ordering::Relaxed);
                tokio::spawn(async move {
                    if read_head(&mut stream).await.is_none() {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    let body = r#"{"status":"ok","service":"shop"}"#;
                    let answer = if overloaded {
                        OVERLOADED.to_owned()
                    } else {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        if let Ok(mut slot) = self.task.lock() {
            *slot = Some(task);
        }
    }

    /// Crashes: the listener closes, connects are refused.
    pub async fn crash(&self) {
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Sheds load (or stops shedding): every answer a 503 with
    /// `Retry-After`, which the gateway passes on as it is.
    pub fn overload(&self, on: bool) {
        self.overloaded.store(on, Ordering::Relaxed);
    }

    /// Comes back (same port), answering after `delay`.
    pub async fn recover(&self, delay: Duration) {
        self.overload(false);
        if let Ok(mut slot) = self.delay.lock() {
            *slot = delay;
        }
        if self.task.lock().is_ok_and(|t| t.is_some()) {
            return;
        }
        // Bounded: the port was ours a moment ago.
        for _ in 0..50 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::warn!(addr = %self.addr, "demo origin could not listen again");
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

/// A small reverse proxy that writes its own 502 and 504 pages.
pub struct Gateway {
    addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    task: JoinHandle<()>,
}

impl Gateway {
    /// Starts a gateway forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Gateway> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let upstream = Arc::new(Mutex::new(upstream));
        let target = upstream.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let to = *target.lock().unwrap_or_else(|e| e.into_inner());
                tokio::spawn(proxy(stream, to));
            }
        });
        Ok(Gateway {
            addr,
            upstream,
            task,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Points the gateway somewhere else (a misroute, or back).
    pub fn route_to(&self, upstream: SocketAddr) {
        if let Ok(mut slot) = self.upstream.lock() {
            *slot = upstream;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn proxy(mut client: TcpStream, upstream: SocketAddr) {
    let Some(head) = read_head(&mut client).await else {
        return;
    };
    let answer = match forward(&head, upstream).await {
        Ok(bytes) => bytes,
        Err(status) => error_page(status),
    };
    let _ = client.write_all(&answer).await;
    let _ = client.shutdown().await;
}

/// The origin's whole answer, or the status the gateway answers instead.
async fn forward(head: &[u8], upstream: SocketAddr) -> Result<Vec<u8>, u16> {
    let connect =
        tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(upstream)).await;
    let mut origin = match connect {
        Ok(Ok(stream)) => stream,
        _ => return Err(502),
    };
    origin.write_all(head).await.map_err(|_| 502u16)?;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(GATEWAY_PATIENCE, async {
        let mut chunk = [0u8; 4096];
        loop {
            match origin.read(&mut chunk).await {
                Ok(0) => return Ok(()),
                Ok(n) if answer.len() < 1 << 20 => answer.extend_from_slice(&chunk[..n]),
                Ok(_) | Err(_) => return Err(502),
            }
        }
    })
    .await;
    match read {
        Err(_) => Err(504),
        Ok(Err(status)) => Err(status),
        Ok(Ok(())) if answer.starts_with(b"HTTP/1.") => Ok(answer),
        Ok(Ok(())) => Err(502),
    }
}

/// The gateway's own error page, in the shape proxies use (a footer naming
/// the product), so hopwatch's fingerprints can tell it from the origin.
fn error_page(status: u16) -> Vec<u8> {
    let reason = if status == 504 {
        "Gateway Time-out"
    } else {
        "Bad Gateway"
    };
    let body = format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>hopwatch demo gateway</center>\r\n</body>\r\n</html>\r\n"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nServer: hopwatch-demo\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A TLS endpoint whose self-signed certificate expires in `days`.
pub struct ExpiringTls {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ExpiringTls {
    /// Starts it on a free loopback port.
    pub async fn start(days: i64) -> Result<ExpiringTls, Box<dyn std::error::Error + Send + Sync>> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?;
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(80);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(days);
        let key = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream)).await;
                });
            }
        });
        Ok(ExpiringTls { addr, task })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ExpiringTls {
    fn drop(&mut self) {
        self.task.abort();
    }
}
