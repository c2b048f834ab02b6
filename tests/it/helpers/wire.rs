//! The HTTP/1.1 wire under the harness's servers: read a request, write a
//! closing response, accept connections in a bounded loop.

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Connections a test server accepts before it stops: a bound on every accept loop.
const MAX_CONNECTIONS: usize = 10_000;
/// The healthy answer of the origin and of the TLS peers.
pub const HEALTHY_BODY: &str = r#"{"status":"ok"}"#;

/// Reads one request head, and the body a Content-Length announces, so that
/// closing afterwards sends FIN (unread data would turn the close into RST).
/// `None` when the client went away or sent an absurd head.
pub(super) async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    const MAX_HEAD: usize = 64 * 1024;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let announced = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut missing = announced.saturating_sub(buf.len() - head_end);
    while missing > 0 {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        missing = missing.saturating_sub(n);
    }
    Some(head)
}

/// A complete HTTP/1.1 response that closes the connection.
pub(super) fn response(status: u16, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Whatever");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

pub(super) fn healthy_response() -> Vec<u8> {
    let json = [("Content-Type".to_owned(), "application/json".to_owned())];
    response(200, &json, HEALTHY_BODY.as_bytes())
}

/// What a misconfigured port speaks instead of HTTP: an SSH banner.
pub(super) const GARBAGE: &[u8] =
    b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x00\x01\x14\x0a\x14 not http at all\r\n";

/// Runs `serve` on every connection `listener` accepts. The connections live
/// in a `JoinSet` owned by the loop, so aborting the loop ends them too.
pub(super) fn accept_loop<F, Fut>(listener: TcpListener, serve: F) -> JoinHandle<()>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        for _ in 0..MAX_CONNECTIONS {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            connections.spawn(serve(stream));
            while connections.try_join_next().is_some() {}
        }
    })
}
