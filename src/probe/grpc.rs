//! The grpc probe: the standard `grpc.health.v1.Health/Check` unary call on
//! a fresh connection, h2c with prior knowledge or TLS with ALPN `h2`.
//!
//! The call is framed by hand on hyper's HTTP/2 client rather than made
//! with tonic: tonic's channel brings tower layers, pooling and reconnects
//! that would hide the phases, where one check must open a fresh connection
//! and time dns, connect, tls and ttfb like every other probe. The request
//! is a 5-byte gRPC frame header and at most one protobuf string field, the
//! answer one enum field; tonic stays a test-only dependency (the health
//! server the tests run).

use std::net::SocketAddr;
use std::pin::pin;
use std::time::{Instant, SystemTime};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONTENT_TYPE, TE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout_at;

use super::connect::{self, Failure, ms};
use super::drive::Connection;
use super::resolve::Resolver;
use super::{Cause, evidence, expect, fingerprint};
use crate::monitor::result::{CertFacts, CheckResult, Phases};
use crate::monitor::spec::GrpcSpec;

/// Characters of a server's `grpc-message` quoted in a check's error.
const MESSAGE_MAX: usize = 200;

/// The health service's method, the one every gRPC health checker calls.
const PATH: &str = "/grpc.health.v1.Health/Check";

/// A health answer is a few bytes; more than this is not a health answer.
const RESPONSE_LIMIT: usize = 64 * 1024;

/// `HealthCheckResponse.ServingStatus` values.
const SERVING: u64 = 1;

/// The gRPC status codes by number, for error messages.
const STATUS_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// What the server answered.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    trailers: Option<HeaderMap>,
    cert: Option<CertFacts>,
}

/// Runs one gRPC health check against the first resolved address.
pub async fn check(spec: &GrpcSpec, resolver: &Resolver, started: SystemTime) -> CheckResult {
    let clock = Instant::now();
    let deadline = tokio::time::Instant::from_std(clock + spec.timeout);
    let mut phases = Phases::default();
    let target = &spec.target;
    let addr =
        match connect::resolve(resolver, &target.host, target.port, deadline, &mut phases).await {
            Ok(addrs) => addrs[0],
            Err(failure) => return connect::failed(started, clock, phases, failure),
        };
    match call(spec, addr, deadline, &mut phases).await {
        Ok(answer) => evaluate(spec, started, clock, phases, addr, answer),
        Err(mut failure) => {
            failure.remote.get_or_insert(addr);
            connect::failed(started, clock, phases, failure)
        }
    }
}

async fn call(
    spec: &GrpcSpec,
    addr: SocketAddr,
    deadline: tokio::time::Instant,
    phases: &mut Phases,
) -> Result<Answer, Failure> {
    let tcp = connect::tcp(addr, deadline, phases).await?;
    // HTTP/2 writes its preface, settings, headers and data apart; Nagle
    // would hold each behind the acknowledgement of the one before.
    let _ = tcp.set_nodelay(true);
    let request = build_request(spec)?;
    let Some(tls) = &spec.tls else {
        return exchange(tcp, request, deadline, phases).await;
    };
    let stream = connect::tls(tcp, &spec.target.host, tls, deadline, phases).await?;
    let cert = connect::peer_cert(&stream);
    if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
        return Err(Failure::new(
            Cause::ProtocolError,
            "the server did not agree to HTTP/2 in the TLS handshake (ALPN): not a gRPC server?",
        ));
    }
    let mut answer = exchange(stream, request, deadline, phases).await?;
    answer.cert = cert;
    Ok(answer)
}

fn build_request(spec: &GrpcSpec) -> Result<Request<Full<Bytes>>, Failure> {
    let scheme = if spec.tls.is_some() { "https" } else { "http" };
    let host = &spec.target.host;
    let authority = if host.contains(':') {
        format!("[{host}]:{}", spec.target.port)
    } else {
        format!("{host}:{}", spec.target.port)
    };
    Request::builder()
        .method(Method::POST)
        .uri(format!("{scheme}://{authority}{PATH}"))
        .header(CONTENT_TYPE, "application/grpc")
        // Required by gRPC: proxies that would drop trailers refuse instead.
        .header(TE, "trailers")
        .header(
            USER_AGENT,
            HeaderValue::from_static(concat!("hopwatch/", env!("CARGO_PKG_VERSION"))),
        )
        .body(Full::new(request_frame(&spec.service)))
        .map_err(|err| Failure::new(Cause::ProtocolError, format!("cannot build request: {err}")))
}

/// `HealthCheckRequest { string service = 1; }` in a gRPC frame: a zero
/// compression flag, a big-endian length, the protobuf message.
fn request_frame(service: &str) -> Bytes {
    let mut message = BytesMut::new();
    if !service.is_empty() {
        // Field 1, wire type 2 (length-delimited); an empty string is omitted.
        message.put_u8(0x0a);
        put_varint(&mut message, service.len() as u64);
        message.put_slice(service.as_bytes());
    }
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(message.len() as u32);
    frame.put_slice(&message);
    frame.freeze()
}

fn put_varint(out: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

/// One HTTP/2 request on an established stream: head, data and trailers.
async fn exchange<S>(
    stream: S,
    request: Request<Full<Bytes>>,
    deadline: tokio::time::Instant,
    phases: &mut Phases,
) -> Result<Answer, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let sent = Instant::now();
    let outcome = timeout_at(deadline, async {
        let (mut sender, connection) =
            hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                .await?;
        let connection = pin!(connection);
        let mut state = Connection::default();
        state
            .drive(connection, async {
                let response = sender.send_request(request).await?;
                let head_at = Instant::now();
                let (parts, mut incoming) = response.into_parts();
                let mut body = BytesMut::new();
                let mut trailers = None;
                // Bounded by RESPONSE_LIMIT and by the deadline around it.
                while let Some(frame) = incoming.frame().await {
                    match frame?.into_data() {
                        Ok(data) => {
                            if body.len() + data.len() > RESPONSE_LIMIT {
                                break;
                            }
                            body.extend_from_slice(&data);
                        }
                        Err(frame) => {
                            if let Ok(fields) = frame.into_trailers() {
                                trailers = Some(fields);
                                break;
                            }
                        }
                    }
                }
                Ok((parts, body.freeze(), trailers, head_at))
            })
            .await
    })
    .await;
    let finished = Instant::now();
    match outcome {
        Err(_elapsed) => Err(Failure::new(
            Cause::Timeout,
            "no complete gRPC answer (head, message and trailers) within the check's timeout",
        )),
        Ok(Err(err)) => Err(classify(&err)),
        Ok(Ok((parts, body, trailers, head_at))) => {
            phases.ttfb += ms(head_at - sent);
            phases.transfer += ms(finished - head_at);
            Ok(Answer {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
                trailers,
                cert: None,
            })
        }
    }
}

/// The cause of a failed HTTP/2 exchange, from the typed h2 error inside.
fn classify(err: &hyper::Error) -> Failure {
    if err.is_timeout() {
        return Failure::new(Cause::Timeout, format!("the gRPC call timed out ({err})"));
    }
    let h2 = find_h2_error(err);
    if let Some(io) = h2
        .and_then(h2::Error::get_io)
        .or_else(|| connect::find_io_error(err))
    {
        let cause = match io.kind() {
            std::io::ErrorKind::TimedOut => Cause::Timeout,
            _ => Cause::ConnectionReset,
        };
        return Failure::new(
            cause,
            format!("the connection broke before a complete gRPC answer: {io}"),
        );
    }
    match h2 {
        // Our side found the peer's bytes are not HTTP/2 (an HTTP/1 server
        // answering the preface with a status line, or garbage).
        Some(h2) if h2.is_library() => Failure::new(
            Cause::ProtocolError,
            format!("the peer does not speak HTTP/2 (not a gRPC server?): {h2}"),
        ),
        Some(h2) => Failure::new(
            Cause::ConnectionReset,
            format!("the server reset the call before a complete answer: {h2}"),
        ),
        None if err.is_parse() => Failure::new(
            Cause::ProtocolError,
            format!("the peer did not answer with valid HTTP/2 ({err})"),
        ),
        None => Failure::new(
            Cause::ConnectionReset,
            format!("the connection closed before a complete gRPC answer ({err})"),
        ),
    }
}

fn find_h2_error(err: &hyper::Error) -> Option<&h2::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = current {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            return Some(h2);
        }
        current = err.source();
    }
    None
}

/// Judges a complete answer. A `grpc-status` other than OK is
/// `grpc_not_serving` with the status named in the error, not a protocol
/// error: the peer spoke gRPC correctly, and what it said is that the
/// health check cannot report SERVING (UNIMPLEMENTED: no health service;
/// NOT_FOUND: the service is unknown; UNAVAILABLE: shutting down). The
/// origin is the hop to look at for all of them.
fn evaluate(
    spec: &GrpcSpec,
    started: SystemTime,
    clock: Instant,
    phases: Phases,
    remote: SocketAddr,
    answer: Answer,
) -> CheckResult {
    let latency = clock.elapsed();
    let mut result = CheckResult::new(started, Cause::Ok);
    result.latency_ms = ms(latency);
    result.phases_ms = phases;
    result.remote_addr = Some(remote);
    let (cause, error) = if answer.status != 200 {
        // A gateway's own page (nginx's 502 when the origin is down) keeps
        // its status cause, so chain verdicts read it as for an http check.
        result.status = Some(answer.status);
        result.responder = Some(fingerprint::identify(
            answer.status,
            &answer.headers,
            &answer.body,
        ));
        result.evidence = Some(evidence::capture(&answer.headers, &answer.body));
        (
            Cause::for_status(answer.status),
            Some(format!(
                "HTTP status {} instead of a gRPC answer (200)",
                answer.status
            )),
        )
    } else {
        judge(spec, &answer, latency)
    };
    result.set_cause(cause);
    result.error = error;
    result.tls = answer.cert;
    result
}

/// The cause of a 200 answer: its content type, grpc-status and message.
fn judge(
    spec: &GrpcSpec,
    answer: &Answer,
    latency: std::time::Duration,
) -> (Cause, Option<String>) {
    let content_type = answer
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/grpc") {
        return (
            Cause::ProtocolError,
            Some(format!(
                "content-type {content_type:?} is not application/grpc: not a gRPC server?"
            )),
        );
    }
    // A trailers-only answer (an error) carries grpc-status in its head.
    let status = answer
        .trailers
        .as_ref()
        .and_then(|t| t.get("grpc-status"))
        .or_else(|| answer.headers.get("grpc-status"));
    let Some(status) = status.and_then(|v| v.to_str().ok()?.parse::<usize>().ok()) else {
        return (
            Cause::ProtocolError,
            Some("the answer has no grpc-status (trailers missing or cut)".to_owned()),
        );
    };
    if status != 0 {
        let name = STATUS_NAMES
            .get(status)
            .copied()
            .unwrap_or("an unknown code");
        let message = answer
            .trailers
            .as_ref()
            .and_then(|t| t.get("grpc-message"))
            .or_else(|| answer.headers.get("grpc-message"))
            .and_then(|v| v.to_str().ok())
            // The peer's words: cut to a line's worth and masked before
            // they reach a check, a page or a log (contract section 10).
            .map(|m| {
                let decoded = percent_encoding::percent_decode_str(m).decode_utf8_lossy();
                let cut: String = decoded.chars().take(MESSAGE_MAX).collect();
                crate::mask::text(&cut)
            })
            .filter(|m| !m.is_empty())
            .map_or(String::new(), |m| format!(": {m}"));
        let hint = match status {
            12 => " (the server has no grpc.health.v1 service)",
            5 => " (the health service does not know this service)",
            _ => "",
        };
        return (
            Cause::GrpcNotServing,
            Some(format!("grpc-status {status} {name}{hint}{message}")),
        );
    }
    let serving = match serving_status(&answer.body) {
        Ok(serving) => serving,
        Err(problem) => return (Cause::ProtocolError, Some(problem)),
    };
    if serving != SERVING {
        let name = match serving {
            0 => "UNKNOWN",
            2 => "NOT_SERVING",
            3 => "SERVICE_UNKNOWN",
            _ => "an unknown status",
        };
        let service = if spec.service.is_empty() {
            "the server".to_owned()
        } else {
            format!("service {:?}", spec.service)
        };
        return (
            Cause::GrpcNotServing,
            Some(format!("{service} is {name} ({serving})")),
        );
    }
    if let Some(problem) = expect::cert_days(spec.cert_min_days, answer.cert.as_ref()) {
        (Cause::TlsExpiring, Some(problem))
    } else if let Some(problem) = expect::latency(spec.max_latency, latency) {
        (Cause::TooSlow, Some(problem))
    } else {
        (Cause::Ok, None)
    }
}

/// `HealthCheckResponse.status` from one gRPC frame; an absent field is
/// its default, 0 (UNKNOWN), as protobuf has it.
fn serving_status(body: &[u8]) -> Result<u64, String> {
    let Some((header, rest)) = body.split_first_chunk::<5>() else {
        return Err(format!(
            "the answer's message is cut ({} bytes, no gRPC frame)",
            body.len()
        ));
    };
    if header[0] != 0 {
        return Err("the answer is compressed, though no compression was offered".to_owned());
    }
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let Some(mut message) = rest.get(..length) else {
        return Err(format!(
            "the answer's message is cut ({} of {length} bytes)",
            rest.len()
        ));
    };
    let mut status = 0;
    // Each pass consumes at least one byte, so the loop ends.
    while !message.is_empty() {
        let key = varint(&mut message)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let value = varint(&mut message)?;
                if field == 1 {
                    status = value;
                }
            }
            1 | 5 => {
                let width = if wire == 1 { 8 } else { 4 };
                message = message.get(width..).ok_or("a cut protobuf field")?;
            }
            2 => {
                let len = varint(&mut message)? as usize;
                message = message.get(len..).ok_or("a cut protobuf field")?;
            }
            _ => return Err(format!("not a HealthCheckResponse (wire type {wire})")),
        }
    }
    Ok(status)
}

fn varint(input: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in 0..10 {
        let (&byte, rest) = input.split_first().ok_or("a cut protobuf varint")?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a protobuf varint longer than 10 bytes".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_grpc_frame_of_the_service_name() {
        assert_eq!(&request_frame("")[..], &[0, 0, 0, 0, 0]);
        assert_eq!(
            &request_frame("db")[..],
            &[0, 0, 0, 0, 4, 0x0a, 2, b'd', b'b']
        );
        let long = "s".repeat(200);
        let frame = request_frame(&long);
        assert_eq!(&frame[..8], &[0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01]);
    }

    #[test]
    fn the_serving_status_is_read_past_unknown_fields() {
        assert_eq!(serving_status(&[0, 0, 0, 0, 2, 0x08, 1]), Ok(1));
        assert_eq!(serving_status(&[0, 0, 0, 0, 0]), Ok(0));
        // An unknown string field 2 before the status.
        assert_eq!(
            serving_status(&[0, 0, 0, 0, 6, 0x12, 2, b'h', b'i', 0x08, 2]),
            Ok(2)
        );
        assert!(serving_status(&[0, 0, 0]).is_err());
        assert!(serving_status(&[0, 0, 0, 0, 9, 0x08]).is_err());
        assert!(serving_status(&[0, 0, 0, 0, 1, 0x08]).is_err());
        assert!(serving_status(&[1, 0, 0, 0, 2, 0x08, 1]).is_err());
    }
}
