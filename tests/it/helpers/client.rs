//! Clients for talking to a daemon: a hand-written HTTP/1.1 GET that sees
//! the raw answer, and hyper's client for everything else.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// How long [`send`] waits for a whole answer: a net under a hung daemon,
/// not a measurement.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// What can go wrong in [`try_send`].
pub type ClientError = Box<dyn std::error::Error + Send + Sync>;

/// Sends one request on a fresh HTTP/1.1 connection to `addr` through
/// hyper's client, with a `Host` header added, and reads the whole body
/// (still in its `Content-Encoding`). Errors come back, for callers that
/// poll a server coming up or report failures in their own words.
pub async fn try_send(
    addr: SocketAddr,
    request: http::request::Builder,
    body: impl Into<Bytes>,
) -> Result<http::Response<Bytes>, ClientError> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = request
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(body.into()))?;
    let (parts, body) = sender.send_request(request).await?.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(http::Response::from_parts(parts, body))
}

/// [`try_send`] that must answer within 30 s: any failure fails the test.
pub async fn send(
    addr: SocketAddr,
    request: http::request::Builder,
    body: impl Into<Bytes>,
) -> http::Response<Bytes> {
    tokio::time::timeout(ANSWER_WITHIN, try_send(addr, request, body))
        .await
        .unwrap_or_else(|_| panic!("no answer from {addr} within {ANSWER_WITHIN:?}"))
        .unwrap_or_else(|err| panic!("no HTTP answer from {addr}: {err}"))
}

/// A minimal HTTP GET for tests (the daemon's own probe would hide bugs);
/// (status, body), the body decoded lossily.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the daemon");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
