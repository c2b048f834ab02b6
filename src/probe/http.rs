//! The http probe: one fresh connection per request (no pooling, so every
//! phase is measured), redirects followed by hand, bodies read up to a cap.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, HOST, LOCATION, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout_at;
use url::Url;

use super::connect::{self, Failure, ms};
use super::expect;
use super::resolve::Resolver;
use super::{Cause, evidence, fingerprint, redirect};
use crate::monitor::result::{CertFacts, CheckResult, Phases};
use crate::monitor::spec::{HttpSpec, MAX_REDIRECTS};
use crate::monitor::{AddressMode, FollowRedirects};

/// What one HTTP exchange (one hop of a redirect chain) returned.
pub(super) struct Exchange {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
    pub(super) truncated: bool,
    pub(super) remote: SocketAddr,
    pub(super) cert: Option<CertFacts>,
}

/// Runs one HTTP check. No `#[instrument]` on the probes: its wrapper moves
/// the check's large future and cost 3% of a check's instructions
/// (callgrind); the scheduler's span already names the monitor.
pub async fn check(spec: &HttpSpec, resolver: &Resolver, started: SystemTime) -> CheckResult {
    let clock = Instant::now();
    let deadline = tokio::time::Instant::from_std(clock + spec.timeout);
    let mut phases = Phases::default();
    let (host, port) = host_port(&spec.url);
    let addrs = match spec.resolve {
        Some(addr) => vec![addr],
        None => match connect::resolve(resolver, host, port, deadline, &mut phases).await {
            Ok(addrs) => addrs,
            Err(failure) => return connect::failed(started, clock, phases, failure),
        },
    };
    if spec.addresses == AddressMode::First || addrs.len() == 1 {
        return check_address(spec, resolver, addrs[0], started, clock, deadline, phases).await;
    }
    // `addresses: all`: the same request against every address at once,
    // each with its own phases; the worst result speaks for the check.
    let dns_phase = phases;
    let attempts = addrs
        .iter()
        .map(|addr| check_address(spec, resolver, *addr, started, clock, deadline, dns_phase));
    let results = futures_util::future::join_all(attempts).await;
    connect::combine_addresses(results)
}

async fn check_address(
    spec: &HttpSpec,
    resolver: &Resolver,
    first_addr: SocketAddr,
    started: SystemTime,
    clock: Instant,
    deadline: tokio::time::Instant,
    mut phases: Phases,
) -> CheckResult {
    let mut url = spec.url.clone();
    let mut method = spec.method.clone();
    let mut body = spec.body.clone();
    let mut addr = first_addr;
    let mut redirects = 0;
    loop {
        let exchange = match exchange(spec, &url, &method, &body, addr, deadline, &mut phases).await
        {
            Ok(exchange) => exchange,
            Err(mut failure) => {
                failure.remote.get_or_insert(addr);
                return connect::failed(started, clock, phases, failure);
            }
        };
        let location = redirect_target(spec, &url, &exchange);
        let Some(next) = location else {
            return evaluate(spec, started, clock, phases, exchange, None);
        };
        if redirects == MAX_REDIRECTS {
            let why = format!(
                "stopped after {MAX_REDIRECTS} redirects (a redirect loop?); last Location: {}",
                crate::mask::url(next.as_str())
            );
            return evaluate(spec, started, clock, phases, exchange, Some(why));
        }
        redirects += 1;
        if matches!(exchange.status, 301..=303) && method != Method::HEAD {
            // What browsers and curl do: the follow-up of a 301/302/303 is a GET.
            method = Method::GET;
            body = Bytes::new();
        }
        let (host, port) = host_port(&next);
        let next_addr = if host_port(&spec.url) == (host, port) {
            first_addr
        } else {
            match connect::resolve(resolver, host, port, deadline, &mut phases).await {
                Ok(addrs) => addrs[0],
                Err(failure) => return connect::failed(started, clock, phases, failure),
            }
        };
        // Judged on the address about to be connected to, so a DNS answer
        // cannot lead around it.
        if let Some(why) = redirect::refusal(
            spec.follow_redirects,
            &url,
            addr.ip(),
            &next,
            next_addr.ip(),
        ) {
            return evaluate(spec, started, clock, phases, exchange, Some(why));
        }
        addr = next_addr;
        url = next;
    }
}

/// The next URL when the response is a redirect we should follow.
pub(super) fn redirect_target(spec: &HttpSpec, url: &Url, exchange: &Exchange) -> Option<Url> {
    if spec.follow_redirects == FollowRedirects::Never
        || !matches!(exchange.status, 301..=303 | 307 | 308)
    {
        return None;
    }
    let location = exchange.headers.get(LOCATION)?.to_str().ok()?;
    url.join(location)
        .ok()
        .filter(|next| matches!(next.scheme(), "http" | "https"))
}

/// One request on a fresh connection: connect, TLS, send, read head and
/// body. The domain probe's RDAP query uses it too.
pub(super) async fn exchange(
    spec: &HttpSpec,
    url: &Url,
    method: &Method,
    body: &Bytes,
    addr: SocketAddr,
    deadline: tokio::time::Instant,
    phases: &mut Phases,
) -> Result<Exchange, Failure> {
    let tcp = connect::tcp(addr, deadline, phases).await?;
    let request = build_request(spec, url, method, body)?;
    if url.scheme() == "https" {
        let (host, _) = host_port(url);
        let tls = connect::tls(tcp, host, &spec.tls, deadline, phases).await?;
        let cert = connect::peer_cert(&tls);
        let mut exchange = send(tls, request, spec.body_limit, addr, deadline, phases).await?;
        exchange.cert = cert;
        Ok(exchange)
    } else {
        if !body.is_empty() {
            // hyper may write a body apart from the head.
            let _ = tcp.set_nodelay(true);
        }
        send(
            CloseOnDrop(tcp),
            request,
            spec.body_limit,
            addr,
            deadline,
            phases,
        )
        .await
    }
}

/// A plain TCP stream whose shutdown is left to its close. hyper shuts the
/// write side down when a `Connection: close` exchange ends, one system call
/// just before the close that sends the same FIN (or the same RST when a
/// truncated body is left unread). Under TLS the shutdown stays: it carries
/// the close_notify alert.
struct CloseOnDrop(TcpStream);

impl AsyncRead for CloseOnDrop {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for CloseOnDrop {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn build_request(
    spec: &HttpSpec,
    url: &Url,
    method: &Method,
    body: &Bytes,
) -> Result<Request<Full<Bytes>>, Failure> {
    let path = match url.query() {
        Some(query) => format!("{}?{}", url.path(), query),
        None => url.path().to_owned(),
    };
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut request = Request::builder()
        .method(method.clone())
        .uri(path)
        .body(Full::new(body.clone()))
        .map_err(|err| {
            Failure::new(Cause::ProtocolError, format!("cannot build request: {err}"))
        })?;
    let headers = request.headers_mut();
    if redirect::same_origin(url, &spec.url) {
        for (name, value) in &spec.headers {
            headers.insert(name, value.clone());
        }
    } else if let Some(agent) = spec.headers.get(USER_AGENT) {
        // Another origin gets no configured credentials or API keys (what
        // curl does since CVE-2018-1000007); the User-Agent is no secret.
        headers.insert(USER_AGENT, agent.clone());
    }
    let host = HeaderValue::from_str(&host)
        .map_err(|_| Failure::new(Cause::ProtocolError, "invalid Host header"))?;
    headers.insert(HOST, host);
    headers
        .entry(USER_AGENT)
        .or_insert(HeaderValue::from_static(concat!(
            "hopwatch/",
            env!("CARGO_PKG_VERSION")
        )));
    // Each check owns its connection; telling the peer spares it a keep-alive slot.
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    Ok(request)
}

/// HTTP/1.1 over an established stream. The connection future is polled
/// beside the request instead of being spawned: no task per check.
async fn send<S>(
    stream: S,
    request: Request<Full<Bytes>>,
    body_limit: usize,
    remote: SocketAddr,
    deadline: tokio::time::Instant,
    phases: &mut Phases,
) -> Result<Exchange, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let sent = Instant::now();
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|err| classify_hyper(&err))?;
    let mut connection = std::pin::pin!(connection);
    let head_and_body = async {
        let response = sender.send_request(request).await?;
        let head_at = Instant::now();
        let (parts, mut incoming) = response.into_parts();
        let mut body = BytesMut::new();
        let mut truncated = false;
        while let Some(frame) = incoming.frame().await {
            let frame = frame?;
            if let Ok(data) = frame.into_data() {
                let room = body_limit - body.len();
                if data.len() > room {
                    // Past the cap we stop reading; dropping the connection
                    // tells the peer, and a big body is not a failure.
                    body.extend_from_slice(&data[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&data);
            }
        }
        Ok::<_, hyper::Error>((parts, body.freeze(), truncated, head_at))
    };
    let mut head_and_body = std::pin::pin!(head_and_body);
    let outcome = timeout_at(deadline, async {
        let mut connection_done = false;
        loop {
            tokio::select! {
                outcome = &mut head_and_body => break outcome,
                _ = &mut connection, if !connection_done => connection_done = true,
            }
        }
    })
    .await;
    let finished = Instant::now();
    match outcome {
        Err(_elapsed) => Err(Failure::new(
            Cause::Timeout,
            "no complete response (head and body) within the check's timeout",
        )
        .at(remote)),
        Ok(Err(err)) => Err(classify_hyper(&err).at(remote)),
        Ok(Ok((parts, body, truncated, head_at))) => {
            phases.ttfb += ms(head_at - sent);
            phases.transfer += ms(finished - head_at);
            Ok(Exchange {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
                truncated,
                remote,
                cert: None,
            })
        }
    }
}

/// A hyper error's cause, from its typed predicates and the I/O error inside.
fn classify_hyper(err: &hyper::Error) -> Failure {
    let cause = if err.is_parse() || err.is_parse_status() {
        Cause::ProtocolError
    } else if err.is_timeout() {
        Cause::Timeout
    } else if let Some(io) = connect::find_io_error(err) {
        match io.kind() {
            std::io::ErrorKind::TimedOut => Cause::Timeout,
            _ => Cause::ConnectionReset,
        }
    } else {
        // Incomplete message, canceled or closed: the peer went away
        // before a complete response.
        Cause::ConnectionReset
    };
    Failure::new(cause, describe_hyper(err, cause))
}

fn describe_hyper(err: &hyper::Error, cause: Cause) -> String {
    match cause {
        Cause::ProtocolError => format!("the peer did not answer with valid HTTP ({err})"),
        Cause::ConnectionReset => {
            format!("the connection closed before a complete response ({err})")
        }
        _ => err.to_string(),
    }
}

/// Judges a complete response against the expectations; a redirect that
/// was not followed (`refused`: why) fails the check as `http_status`
/// whatever the status.
fn evaluate(
    spec: &HttpSpec,
    started: SystemTime,
    clock: Instant,
    phases: Phases,
    exchange: Exchange,
    refused: Option<String>,
) -> CheckResult {
    let latency = clock.elapsed();
    let expect = &spec.expect;
    let status_ok = expect.status.iter().any(|m| m.matches(exchange.status));
    let (cause, error) = if let Some(why) = refused {
        (Cause::HttpStatus, Some(why))
    } else if !status_ok {
        let reason = StatusCode::from_u16(exchange.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let accepted: Vec<String> = expect.status.iter().map(ToString::to_string).collect();
        (
            Cause::for_status(exchange.status),
            Some(format!(
                "status {} {reason} (expected {})",
                exchange.status,
                accepted.join(", ")
            )),
        )
    } else if let Some(problem) = expect::http(
        expect,
        &exchange.headers,
        &exchange.body,
        exchange.truncated,
    ) {
        (Cause::AssertionFailed, Some(problem))
    } else if let Some(problem) = expect::cert_days(expect.cert_min_days, exchange.cert.as_ref()) {
        (Cause::TlsExpiring, Some(problem))
    } else if let Some(problem) = expect::latency(expect.max_latency, latency) {
        (Cause::TooSlow, Some(problem))
    } else {
        (Cause::Ok, None)
    };
    let mut result = CheckResult::new(started, cause);
    result.status = Some(exchange.status);
    result.latency_ms = ms(latency);
    result.phases_ms = phases;
    result.remote_addr = Some(exchange.remote);
    result.tls = exchange.cert;
    result.error = error;
    if !result.ok {
        result.responder = Some(fingerprint::identify(
            exchange.status,
            &exchange.headers,
            &exchange.body,
        ));
        result.evidence = Some(evidence::capture(&exchange.headers, &exchange.body));
    }
    result
}

/// Host (without IPv6 brackets) and port of a URL.
pub(super) fn host_port(url: &Url) -> (&str, u16) {
    let host = url.host_str().unwrap_or_default();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (host, url.port_or_known_default().unwrap_or(80))
}
