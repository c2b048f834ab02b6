//! The websocket probe: the HTTP/1.1 upgrade (its accept key verified) on a
//! fresh connection, then optionally one text message out and one back.
//!
//! The client side is written here rather than taken from a WebSocket
//! crate: a check needs the upgrade's status and headers as hyper gives
//! them (for `http_status`, the responder and evidence), its own phases,
//! and then two frame kinds, which are a few lines of RFC 6455.

use std::net::SocketAddr;
use std::pin::pin;
use std::time::{Instant, SystemTime};

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::header::{
    CONNECTION, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
    USER_AGENT,
};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant as Deadline, timeout_at};

use super::connect::{self, Failure, ms};
use super::drive::Connection;
use super::resolve::Resolver;
use super::{Cause, evidence, expect, fingerprint};
use crate::monitor::result::{CertFacts, CheckResult, Phases};
use crate::monitor::spec::WebsocketSpec;

/// Appended to the key before hashing (RFC 6455 section 1.3).
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Frames read for one message, control frames included: a peer that
/// pings forever or fragments without end is cut off here.
const MAX_FRAMES: usize = 64;

const OP_CONTINUATION: u8 = 0;
const OP_TEXT: u8 = 1;
const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const OP_PING: u8 = 9;
const OP_PONG: u8 = 10;

/// How the exchange ended.
struct Session {
    status: u16,
    headers: HeaderMap,
    /// The refusal's body, or the reply message.
    body: Bytes,
    upgraded: bool,
    cert: Option<CertFacts>,
}

/// Runs one websocket check against the first resolved address.
pub async fn check(spec: &WebsocketSpec, resolver: &Resolver, started: SystemTime) -> CheckResult {
    let clock = Instant::now();
    let deadline = Deadline::from_std(clock + spec.timeout);
    let mut phases = Phases::default();
    let host = host(&spec.url);
    let port = spec.url.port_or_known_default().unwrap_or(80);
    let addr = match connect::resolve(resolver, host, port, deadline, &mut phases).await {
        Ok(addrs) => addrs[0],
        Err(failure) => return connect::failed(started, clock, phases, failure),
    };
    match session(spec, addr, deadline, &mut phases).await {
        Ok(session) => evaluate(spec, started, clock, phases, addr, session),
        Err(mut failure) => {
            failure.remote.get_or_insert(addr);
            connect::failed(started, clock, phases, failure)
        }
    }
}

/// The URL's host without IPv6 brackets.
fn host(url: &url::Url) -> &str {
    let host = url.host_str().unwrap_or_default();
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

async fn session(
    spec: &WebsocketSpec,
    addr: SocketAddr,
    deadline: Deadline,
    phases: &mut Phases,
) -> Result<Session, Failure> {
    let tcp = connect::tcp(addr, deadline, phases).await?;
    // The upgrade request and the message are separate small writes.
    let _ = tcp.set_nodelay(true);
    if spec.url.scheme() != "wss" {
        return exchange(spec, tcp, deadline, phases).await;
    }
    let tls = connect::tls(tcp, host(&spec.url), &spec.tls, deadline, phases).await?;
    let cert = connect::peer_cert(&tls);
    let mut session = exchange(spec, tls, deadline, phases).await?;
    session.cert = cert;
    Ok(session)
}

/// 16 random bytes: the upgrade's key, then each frame's mask, which must
/// be unpredictable so a client cannot steer what a proxy caches.
fn random<const N: usize>() -> Result<[u8; N], Failure> {
    let mut bytes = [0; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Failure::new(Cause::Unknown, "the system gave no random bytes"))?;
    Ok(bytes)
}

/// What the server must answer in `Sec-WebSocket-Accept` for `key`.
fn accept_for(key: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}{ACCEPT_GUID}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

fn build_request(spec: &WebsocketSpec, key: &str) -> Result<Request<Empty<Bytes>>, Failure> {
    let url = &spec.url;
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let invalid = |what: &str| Failure::new(Cause::ProtocolError, format!("invalid {what}"));
    let mut request = Request::get(path)
        .body(Empty::new())
        .map_err(|_| invalid("request path"))?;
    let headers = request.headers_mut();
    for (name, value) in &spec.headers {
        headers.insert(name, value.clone());
    }
    headers.insert(
        HOST,
        HeaderValue::from_str(&host).map_err(|_| invalid("Host header"))?,
    );
    headers
        .entry(USER_AGENT)
        .or_insert(HeaderValue::from_static(concat!(
            "hopwatch/",
            env!("CARGO_PKG_VERSION")
        )));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(
        SEC_WEBSOCKET_KEY,
        HeaderValue::from_str(key).map_err(|_| invalid("key"))?,
    );
    headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
    Ok(request)
}

/// The upgrade on an established stream, then the message exchange.
async fn exchange<S>(
    spec: &WebsocketSpec,
    stream: S,
    deadline: Deadline,
    phases: &mut Phases,
) -> Result<Session, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let key = base64::engine::general_purpose::STANDARD.encode(random::<16>()?);
    let request = build_request(spec, &key)?;
    let sent = Instant::now();
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|err| classify(&err))?;
    let mut connection = pin!(connection.with_upgrades());
    let mut state = Connection::default();
    let response = timeout_at(
        deadline,
        state.drive(connection.as_mut(), sender.send_request(request)),
    )
    .await
    .map_err(|_| {
        Failure::new(
            Cause::Timeout,
            "no answer to the WebSocket upgrade within the check's timeout",
        )
    })?
    .map_err(|err| classify(&err))?;
    let head_at = Instant::now();
    phases.ttfb += ms(head_at - sent);
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let limit = spec.body_limit;
        let read = state.drive(connection.as_mut(), async {
            let mut incoming = response.into_body();
            let mut body = BytesMut::new();
            // Bounded by `limit` and by the deadline around it.
            while let Some(frame) = incoming.frame().await {
                if let Ok(data) = frame?.into_data() {
                    let room = limit - body.len();
                    body.extend_from_slice(&data[..data.len().min(room)]);
                    if data.len() >= room {
                        break;
                    }
                }
            }
            Ok(body.freeze())
        });
        // The status is the finding; a body cut by the deadline or a reset
        // still leaves it, so it is judged with what arrived.
        let body = match timeout_at(deadline, read).await {
            Ok(Ok(body)) => body,
            _ => Bytes::new(),
        };
        phases.transfer += ms(head_at.elapsed());
        return Ok(Session {
            status,
            headers,
            body,
            upgraded: false,
            cert: None,
        });
    }
    verify_upgrade(&headers, &key)?;
    let upgraded = timeout_at(
        deadline,
        state.drive(connection.as_mut(), hyper::upgrade::on(response)),
    )
    .await
    .map_err(|_| Failure::new(Cause::Timeout, "the upgrade did not complete in time"))?
    .map_err(|err| classify(&err))?;
    let mut io = TokioIo::new(upgraded);
    let wants_reply = spec.send.is_some() || spec.body_contains.is_some();
    let mut body = Bytes::new();
    if wants_reply {
        if let Some(text) = &spec.send {
            let frame = client_frame(OP_TEXT, text.as_bytes(), random::<4>()?);
            timeout_at(deadline, io.write_all(&frame))
                .await
                .map_err(|_| Failure::new(Cause::Timeout, "the message could not be sent in time"))?
                .map_err(|err| broken(&err))?;
        }
        let reply = timeout_at(deadline, read_message(&mut io, spec.body_limit))
            .await
            .map_err(|_| {
                Failure::new(
                    Cause::Timeout,
                    "no reply message within the check's timeout",
                )
            })??;
        body = Bytes::from(reply);
    }
    phases.transfer += ms(head_at.elapsed());
    // A polite close (1000, normal): the server need not log a broken
    // connection for every check. Its answer is not awaited.
    if let Ok(mask) = random::<4>() {
        let close = client_frame(OP_CLOSE, &1000u16.to_be_bytes(), mask);
        let _ = timeout_at(deadline, io.write_all(&close)).await;
    }
    Ok(Session {
        status,
        headers,
        body,
        upgraded: true,
        cert: None,
    })
}

/// A 101 must name the protocol and prove it read our key.
fn verify_upgrade(headers: &HeaderMap, key: &str) -> Result<(), Failure> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if !text(UPGRADE).is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(Failure::new(
            Cause::ProtocolError,
            format!(
                "101 without Upgrade: websocket (Upgrade: {:?})",
                text(UPGRADE).unwrap_or("")
            ),
        ));
    }
    let expected = accept_for(key);
    match text(SEC_WEBSOCKET_ACCEPT) {
        Some(accept) if accept == expected => Ok(()),
        got => Err(Failure::new(
            Cause::ProtocolError,
            format!(
                "Sec-WebSocket-Accept is {:?}, expected {expected:?}: the server did not \
                 complete the handshake",
                got.unwrap_or("missing")
            ),
        )),
    }
}

/// One frame from client to server: always masked (RFC 6455 section 5.3).
fn client_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one data message (text or binary, fragments joined), answering
/// pings on the way. Past `limit` bytes the rest is not read: a big reply
/// is judged on its start.
async fn read_message<S>(io: &mut S, limit: usize) -> Result<Vec<u8>, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let protocol = |what: String| Failure::new(Cause::ProtocolError, what);
    let mut message = Vec::new();
    let mut started = false;
    for _ in 0..MAX_FRAMES {
        let mut head = [0u8; 2];
        io.read_exact(&mut head).await.map_err(|err| broken(&err))?;
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        if head[0] & 0x70 != 0 {
            return Err(protocol(
                "a frame with reserved bits set (no extension was agreed)".into(),
            ));
        }
        if head[1] & 0x80 != 0 {
            return Err(protocol(
                "a masked frame from the server (RFC 6455 forbids it)".into(),
            ));
        }
        let len = match head[1] & 0x7f {
            126 => u64::from(io.read_u16().await.map_err(|err| broken(&err))?),
            127 => io.read_u64().await.map_err(|err| broken(&err))?,
            len => u64::from(len),
        };
        if opcode >= OP_CLOSE {
            if len > 125 || !fin {
                return Err(protocol(format!(
                    "an invalid control frame (opcode {opcode})"
                )));
            }
            let mut payload = vec![0; len as usize];
            io.read_exact(&mut payload)
                .await
                .map_err(|err| broken(&err))?;
            match opcode {
                OP_CLOSE => {
                    let code = payload.first_chunk::<2>().map_or(String::new(), |c| {
                        format!(" (code {})", u16::from_be_bytes(*c))
                    });
                    return Err(Failure::new(
                        Cause::ConnectionReset,
                        format!("the server closed the WebSocket{code} before a reply"),
                    ));
                }
                OP_PING => {
                    let pong = client_frame(OP_PONG, &payload, random::<4>()?);
                    io.write_all(&pong).await.map_err(|err| broken(&err))?;
                }
                OP_PONG => {}
                other => {
                    return Err(protocol(format!(
                        "an unknown control frame (opcode {other})"
                    )));
                }
            }
            continue;
        }
        match (opcode, started) {
            (OP_TEXT | OP_BINARY, false) | (OP_CONTINUATION, true) => started = true,
            _ => return Err(protocol(format!("an unexpected frame (opcode {opcode})"))),
        }
        let room = (limit - message.len()) as u64;
        let take = len.min(room) as usize;
        let at = message.len();
        message.resize(at + take, 0);
        io.read_exact(&mut message[at..])
            .await
            .map_err(|err| broken(&err))?;
        if fin || len > room {
            return Ok(message);
        }
    }
    Err(protocol(format!(
        "no complete message in {MAX_FRAMES} frames"
    )))
}

/// An I/O error after the connection was up: the peer went away.
fn broken(err: &std::io::Error) -> Failure {
    let cause = match err.kind() {
        std::io::ErrorKind::TimedOut => Cause::Timeout,
        _ => Cause::ConnectionReset,
    };
    Failure::new(cause, format!("the WebSocket connection broke: {err}"))
}

/// A hyper error during the upgrade exchange.
fn classify(err: &hyper::Error) -> Failure {
    if err.is_parse() || err.is_parse_status() {
        Failure::new(
            Cause::ProtocolError,
            format!("the peer did not answer with valid HTTP ({err})"),
        )
    } else if err.is_timeout() {
        Failure::new(Cause::Timeout, format!("the upgrade timed out ({err})"))
    } else {
        Failure::new(
            Cause::ConnectionReset,
            format!("the connection closed before the upgrade's answer ({err})"),
        )
    }
}

fn evaluate(
    spec: &WebsocketSpec,
    started: SystemTime,
    clock: Instant,
    phases: Phases,
    remote: SocketAddr,
    session: Session,
) -> CheckResult {
    let latency = clock.elapsed();
    let (cause, error) = if !session.upgraded {
        let reason = StatusCode::from_u16(session.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        // Contract section 9: a refused upgrade is `http_status`, whatever
        // the code; the code stays on the check (and a gateway's own page
        // still names its responder).
        (
            Cause::HttpStatus,
            Some(format!(
                "status {} {reason}: the server did not upgrade to WebSocket (expected 101)",
                session.status
            )),
        )
    } else if let Some(needle) = spec
        .body_contains
        .as_ref()
        .filter(|needle| !String::from_utf8_lossy(&session.body).contains(needle.as_str()))
    {
        (
            Cause::AssertionFailed,
            Some(format!("the reply does not contain {needle:?}")),
        )
    } else if let Some(problem) = expect::cert_days(spec.cert_min_days, session.cert.as_ref()) {
        (Cause::TlsExpiring, Some(problem))
    } else if let Some(problem) = expect::latency(spec.max_latency, latency) {
        (Cause::TooSlow, Some(problem))
    } else {
        (Cause::Ok, None)
    };
    let mut result = CheckResult::new(started, cause);
    result.status = Some(session.status);
    result.latency_ms = ms(latency);
    result.phases_ms = phases;
    result.remote_addr = Some(remote);
    result.tls = session.cert;
    result.error = error;
    if !result.ok {
        if !session.upgraded {
            result.responder = Some(fingerprint::identify(
                session.status,
                &session.headers,
                &session.body,
            ));
        }
        result.evidence = Some(evidence::capture(&session.headers, &session.body));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        // RFC 6455 section 1.3.
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn client_frames_are_masked_with_the_right_length_form() {
        let mask = [1, 2, 3, 4];
        let frame = client_frame(OP_TEXT, b"Hi", mask);
        assert_eq!(frame, vec![0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2]);
        let frame = client_frame(OP_BINARY, &[0; 300], mask);
        assert_eq!(&frame[..4], &[0x82, 0x80 | 126, 1, 44]);
        assert_eq!(frame.len(), 4 + 4 + 300);
    }

    #[tokio::test]
    async fn a_message_is_joined_from_fragments_after_a_ping() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        server
            .write_all(&[
                0x89, 1, b'p', 0x01, 2, b'h', b'e', 0x80, 3, b'l', b'l', b'o',
            ])
            .await
            .unwrap();
        let message = read_message(&mut client, 1024).await.unwrap();
        assert_eq!(message, b"hello");
        let mut pong = [0u8; 7];
        server.read_exact(&mut pong).await.unwrap();
        assert_eq!(pong[0], 0x8a, "a pong answers the ping");
        assert_eq!(pong[1], 0x81, "masked, one byte");
        assert_eq!(pong[6] ^ pong[2], b'p');
    }

    #[tokio::test]
    async fn a_masked_server_frame_or_a_close_is_refused() {
        let (mut client, mut server) = tokio::io::duplex(64);
        server
            .write_all(&[0x81, 0x81, 0, 0, 0, 0, b'x'])
            .await
            .unwrap();
        let failure = read_message(&mut client, 64).await.unwrap_err();
        assert_eq!(failure.cause, Cause::ProtocolError, "{}", failure.message);
        let (mut client, mut server) = tokio::io::duplex(64);
        server.write_all(&[0x88, 2, 0x03, 0xe9]).await.unwrap();
        let failure = read_message(&mut client, 64).await.unwrap_err();
        assert_eq!(failure.cause, Cause::ConnectionReset);
        assert!(failure.message.contains("1001"), "{}", failure.message);
    }

    #[tokio::test]
    async fn a_long_reply_is_cut_at_the_limit() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        let mut frame = vec![0x81, 126, 0, 200];
        frame.extend_from_slice(&[b'a'; 200]);
        server.write_all(&frame).await.unwrap();
        assert_eq!(read_message(&mut client, 10).await.unwrap(), vec![b'a'; 10]);
    }
}
