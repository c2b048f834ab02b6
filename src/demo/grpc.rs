//! The shop's inventory service in the demo: a gRPC health server on
//! loopback (h2c) whose health the story can turn to NOT_SERVING.
//!
//! It answers `grpc.health.v1.Health/Check` by hand on hyper's HTTP/2
//! server, as the grpc probe asks it by hand: tonic stays a test-only
//! dependency, and one unary method needs no more than a frame header,
//! one enum field and the `grpc-status` trailer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The service the demo's grpc monitor asks about; `""` (the whole
/// server) is answered the same.
pub const SERVICE: &str = "shop.Inventory";

/// The one method served.
const PATH: &str = "/grpc.health.v1.Health/Check";

/// A health request is a service name; more than this is not one.
const REQUEST_LIMIT: usize = 1024;

/// How long one connection may stay open: far past a check's timeout, so
/// a client that never closes does not keep a task forever.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(10);

/// `HealthCheckResponse.ServingStatus` values.
const SERVING: u8 = 1;
const NOT_SERVING: u8 = 2;

/// gRPC status codes this server answers with.
const OK: u16 = 0;
const NOT_FOUND: u16 = 5;
const UNIMPLEMENTED: u16 = 12;

/// A body of whole frames: the message, then the trailers.
type Body =
    StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

/// The inventory service's health server.
pub struct Inventory {
    addr: SocketAddr,
    serving: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Inventory {
    /// Starts a serving health server on a free loopback port.
    pub async fn start() -> std::io::Result<Inventory> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let serving = Arc::new(AtomicBool::new(true));
        let flag = serving.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let flag = flag.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let serving = flag.load(Ordering::Relaxed);
                        answer(request, serving)
                    });
                    let connection = http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service);
                    let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
                });
            }
        });
        Ok(Inventory {
            addr,
            serving,
            task,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reports SERVING (true) or NOT_SERVING (false) from now on.
    pub fn serve(&self, serving: bool) {
        self.serving.store(serving, Ordering::Relaxed);
    }
}

impl Drop for Inventory {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One call: the health status of the service asked about, or a gRPC
/// error for another method or service, as a real health server has it.
async fn answer(request: Request<Incoming>, serving: bool) -> Result<Response<Body>, Infallible> {
    if request.uri().path() != PATH {
        return Ok(failed(UNIMPLEMENTED, "only the health service is here"));
    }
    // The whole request is read before answering: a server that answers
    // first resets the client's unfinished stream, which reads as an error.
    let body = match Limited::new(request.into_body(), REQUEST_LIMIT)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(failed(UNIMPLEMENTED, "not a health request")),
    };
    match asked_service(&body) {
        Some(service) if service.is_empty() || service == SERVICE => {}
        _ => return Ok(failed(NOT_FOUND, "unknown service")),
    }
    let status = if serving { SERVING } else { NOT_SERVING };
    // `HealthCheckResponse { status = 1 }`: field 1, varint, in one frame.
    let mut message = BytesMut::with_capacity(7);
    message.put_u8(0);
    message.put_u32(2);
    message.put_slice(&[0x08, status]);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(OK));
    let frames = vec![
        Ok(Frame::data(message.freeze())),
        Ok(Frame::trailers(trailers)),
    ];
    Ok(grpc_response(frames, HeaderMap::new()))
}

/// A trailers-only answer: the status in the head, no message.
fn failed(code: u16, message: &'static str) -> Response<Body> {
    let mut head = HeaderMap::new();
    head.insert("grpc-status", HeaderValue::from(code));
    head.insert("grpc-message", HeaderValue::from_static(message));
    grpc_response(Vec::new(), head)
}

fn grpc_response(frames: Vec<Result<Frame<Bytes>, Infallible>>, head: HeaderMap) -> Response<Body> {
    let mut response = Response::new(StreamBody::new(futures_util::stream::iter(frames)));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.extend(head);
    response
}

/// The `service` of a framed `HealthCheckRequest`: `""` when the message
/// is empty; `None` when it is not one frame of field 1 as a short string.
fn asked_service(body: &[u8]) -> Option<String> {
    let (header, message) = body.split_first_chunk::<5>()?;
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if header[0] != 0 || message.len() != length {
        return None;
    }
    match message {
        [] => Some(String::new()),
        // Names under 128 bytes have a one-byte length, and the demo's
        // monitor asks about one; anything else is not its request.
        [0x0a, len, name @ ..] if usize::from(*len) == name.len() && *len < 0x80 => {
            String::from_utf8(name.to_vec()).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_its_service() {
        let frame = |message: &[u8]| {
            let mut body = vec![0, 0, 0, 0, message.len() as u8];
            body.extend_from_slice(message);
            body
        };
        assert_eq!(asked_service(&frame(&[])).as_deref(), Some(""));
        let mut named = vec![0x0a, SERVICE.len() as u8];
        named.extend_from_slice(SERVICE.as_bytes());
        assert_eq!(asked_service(&frame(&named)).as_deref(), Some(SERVICE));
        assert_eq!(asked_service(&frame(&[0x0a, 9, b'x'])), None, "cut");
        assert_eq!(asked_service(b"\x01\0\0\0\0"), None, "compressed");
        assert_eq!(asked_service(b"\0\0"), None, "no frame");
    }
}
