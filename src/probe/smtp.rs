//! The smtp probe: the banner, EHLO and, with `starttls`, the STARTTLS
//! upgrade and the certificate's facts, then a polite QUIT. Every read is
//! bounded in time (the check's deadline), line length and line count.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant as Deadline, timeout_at};

use super::Cause;
use super::connect::{self, Failure, ms};
use super::resolve::Resolver;
use crate::monitor::result::{CertFacts, CheckResult, Phases};
use crate::monitor::spec::SmtpSpec;

/// RFC 5321 allows reply lines of 512 octets; servers with long EHLO
/// keywords go past that, so allow some room before calling it garbage.
const LINE_MAX: usize = 2048;
/// Lines of one multi-line reply; an EHLO answer has a dozen or so.
const LINES_MAX: usize = 100;
/// How long QUIT may wait for its 221 once the check is decided: politeness
/// must not make a healthy check slow.
const QUIT_WAIT: Duration = Duration::from_secs(1);
/// Server text quoted in an error is cut here.
const QUOTE_MAX: usize = 200;

/// One reply: its code and its lines' text (after the code and separator).
#[derive(Debug)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    /// The reply as one line for people: `554 no service here`.
    fn quoted(&self) -> String {
        let text = self.lines.join(" / ");
        let text: String = text.chars().take(QUOTE_MAX).collect();
        format!("{} {}", self.code, text.trim())
    }

    fn is_refusal(&self) -> bool {
        (400..600).contains(&self.code)
    }
}

/// A stream with the bytes read past the last line kept for the next one.
struct Conn<S> {
    stream: S,
    buf: Vec<u8>,
    remote: SocketAddr,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn new(stream: S, remote: SocketAddr) -> Self {
        Self {
            stream,
            buf: Vec::with_capacity(512),
            remote,
        }
    }

    fn fail(&self, cause: Cause, message: impl Into<String>) -> Failure {
        Failure::new(cause, message).at(self.remote)
    }

    /// Sends one command line.
    async fn send(&mut self, line: &str, deadline: Deadline) -> Result<(), Failure> {
        let bytes = format!("{line}\r\n");
        match timeout_at(deadline, self.stream.write_all(bytes.as_bytes())).await {
            Err(_) => Err(self.fail(
                Cause::Timeout,
                format!("could not send {line} within the check's timeout"),
            )),
            Ok(Err(err)) => Err(self.fail(
                Cause::ConnectionReset,
                format!("the connection broke sending {line}: {err}"),
            )),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// One line without its CRLF (a bare LF is accepted, as servers send it).
    async fn line(&mut self, deadline: Deadline, what: &str) -> Result<Vec<u8>, Failure> {
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > LINE_MAX {
                return Err(self.fail(
                    Cause::ProtocolError,
                    format!("{what}: a line longer than {LINE_MAX} bytes (not SMTP?)"),
                ));
            }
            let mut chunk = [0u8; 1024];
            let read = timeout_at(deadline, self.stream.read(&mut chunk)).await;
            match read {
                Err(_) => {
                    return Err(self.fail(
                        Cause::Timeout,
                        format!("no complete {what} within the check's timeout"),
                    ));
                }
                Ok(Err(err)) => {
                    return Err(self.fail(
                        Cause::ConnectionReset,
                        format!("the connection broke waiting for the {what}: {err}"),
                    ));
                }
                Ok(Ok(0)) => {
                    return Err(self.fail(
                        Cause::ConnectionReset,
                        format!("the server closed the connection before a complete {what}"),
                    ));
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// One reply, single- or multi-line (`250-...` lines then `250 ...`).
    async fn reply(&mut self, deadline: Deadline, what: &str) -> Result<Reply, Failure> {
        let mut code = None;
        let mut lines = Vec::new();
        for _ in 0..LINES_MAX {
            let raw = self.line(deadline, what).await?;
            let Some((this, last, text)) = parse_line(&raw) else {
                let shown: String = String::from_utf8_lossy(&raw).chars().take(80).collect();
                return Err(self.fail(
                    Cause::ProtocolError,
                    format!("{what}: not an SMTP reply line: {shown:?}"),
                ));
            };
            if *code.get_or_insert(this) != this {
                return Err(self.fail(
                    Cause::ProtocolError,
                    format!("{what}: reply lines with different codes"),
                ));
            }
            lines.push(text);
            if last {
                return Ok(Reply { code: this, lines });
            }
        }
        Err(self.fail(
            Cause::ProtocolError,
            format!("{what}: more than {LINES_MAX} lines in one reply"),
        ))
    }
}

/// `250-text`, `250 text` or `250`: the code, whether it is the last line,
/// and the text. `None` for anything else.
fn parse_line(raw: &[u8]) -> Option<(u16, bool, String)> {
    let digits = raw.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&digits[0]) {
        return None;
    }
    let code = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let (last, text) = match raw.get(3) {
        None => (true, &[][..]),
        Some(b' ') => (true, &raw[4..]),
        Some(b'-') => (false, &raw[4..]),
        Some(_) => return None,
    };
    let text = String::from_utf8_lossy(text)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Some((code, last, text))
}

/// Whether an EHLO answer lists the STARTTLS extension (keywords are
/// case-insensitive; the first line is the greeting, not a keyword).
fn offers_starttls(ehlo: &Reply) -> bool {
    ehlo.lines.iter().skip(1).any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|word| word.eq_ignore_ascii_case("STARTTLS"))
    })
}

/// The EHLO argument: our address literal (RFC 5321 4.1.3), which needs no
/// hostname lookup and is true.
fn ehlo_name(local: Option<SocketAddr>) -> String {
    match local {
        Some(SocketAddr::V4(addr)) => format!("[{}]", addr.ip()),
        Some(SocketAddr::V6(addr)) => format!("[IPv6:{}]", addr.ip()),
        None => "[127.0.0.1]".to_owned(),
    }
}

/// Runs one SMTP check. Phases: dns, connect, tls (STARTTLS handshake) and
/// ttfb (connected until the banner); EHLO and QUIT count in the latency.
pub async fn check(spec: &SmtpSpec, resolver: &Resolver, started: SystemTime) -> CheckResult {
    let clock = Instant::now();
    let deadline = Deadline::from_std(clock + spec.timeout);
    let mut phases = Phases::default();
    let target = &spec.target;
    let addrs =
        match connect::resolve(resolver, &target.host, target.port, deadline, &mut phases).await {
            Ok(addrs) => addrs,
            Err(failure) => return connect::failed(started, clock, phases, failure),
        };
    let addr = addrs[0];
    let stream = match connect::tcp(addr, deadline, &mut phases).await {
        Ok(stream) => stream,
        Err(failure) => return connect::failed(started, clock, phases, failure),
    };
    match dialogue(spec, stream, addr, clock, deadline, &mut phases).await {
        Ok((cert, latency)) => judge(spec, started, phases, addr, cert, latency),
        Err(failure) => connect::failed(started, clock, phases, failure),
    }
}

/// Banner, EHLO, STARTTLS and QUIT. Returns the certificate (with
/// `starttls`) and the time from the check's start (`clock`) until the
/// server's health was known, which leaves out the polite QUIT.
async fn dialogue(
    spec: &SmtpSpec,
    stream: TcpStream,
    addr: SocketAddr,
    clock: Instant,
    deadline: Deadline,
    phases: &mut Phases,
) -> Result<(Option<CertFacts>, Duration), Failure> {
    let connected = Instant::now();
    let name = ehlo_name(stream.local_addr().ok());
    // Commands are one write each, answered before the next: Nagle would
    // hold none of them, but the STARTTLS handshake that follows is
    // several small writes (connect::tls sets it there).
    let mut conn = Conn::new(stream, addr);
    let banner = conn.reply(deadline, "banner").await?;
    phases.ttfb += ms(connected.elapsed());
    match banner.code {
        220 => {}
        code if (400..600).contains(&code) => {
            return Err(conn.fail(
                Cause::SmtpError,
                format!("the banner refuses mail: {}", banner.quoted()),
            ));
        }
        _ => {
            return Err(conn.fail(
                Cause::ProtocolError,
                format!("the banner is not 220: {}", banner.quoted()),
            ));
        }
    }
    let greeting = ehlo(&mut conn, &name, deadline).await?;
    if !spec.starttls {
        let latency = clock.elapsed();
        quit(&mut conn, deadline).await;
        return Ok((None, latency));
    }
    if !offers_starttls(&greeting) {
        return Err(conn.fail(
            Cause::SmtpError,
            "the server does not offer STARTTLS in its EHLO answer",
        ));
    }
    conn.send("STARTTLS", deadline).await?;
    let ready = conn.reply(deadline, "answer to STARTTLS").await?;
    if ready.code != 220 {
        let cause = if ready.is_refusal() {
            Cause::SmtpError
        } else {
            Cause::ProtocolError
        };
        return Err(conn.fail(cause, format!("STARTTLS refused: {}", ready.quoted())));
    }
    if !conn.buf.is_empty() {
        // Bytes sent before the handshake must not be read as if they came
        // over TLS (the STARTTLS injection of CVE-2011-0411).
        return Err(conn.fail(
            Cause::ProtocolError,
            "the server sent data after its STARTTLS answer, before the handshake",
        ));
    }
    let tls = connect::tls(conn.stream, &spec.target.host, &spec.tls, deadline, phases).await?;
    let cert = connect::peer_cert(&tls);
    // RFC 3207: forget what was said before TLS and greet again.
    let mut conn = Conn::new(tls, addr);
    ehlo(&mut conn, &name, deadline).await?;
    let latency = clock.elapsed();
    quit(&mut conn, deadline).await;
    let _ = timeout_at(quit_deadline(deadline), conn.stream.shutdown()).await;
    Ok((cert, latency))
}

async fn ehlo<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    name: &str,
    deadline: Deadline,
) -> Result<Reply, Failure> {
    conn.send(&format!("EHLO {name}"), deadline).await?;
    let reply = conn.reply(deadline, "answer to EHLO").await?;
    match reply.code {
        250 => Ok(reply),
        code if (400..600).contains(&code) => Err(conn.fail(
            Cause::SmtpError,
            format!("EHLO refused: {}", reply.quoted()),
        )),
        _ => Err(conn.fail(
            Cause::ProtocolError,
            format!("EHLO answered with {}", reply.quoted()),
        )),
    }
}

fn quit_deadline(deadline: Deadline) -> Deadline {
    deadline.min(Deadline::now() + QUIT_WAIT)
}

/// QUIT and wait briefly for the 221. The check is decided already, so
/// whatever happens here is ignored.
async fn quit<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Conn<S>, deadline: Deadline) {
    let deadline = quit_deadline(deadline);
    if conn.send("QUIT", deadline).await.is_ok() {
        let _ = conn.reply(deadline, "answer to QUIT").await;
    }
}

fn judge(
    spec: &SmtpSpec,
    started: SystemTime,
    phases: Phases,
    addr: SocketAddr,
    cert: Option<CertFacts>,
    latency: Duration,
) -> CheckResult {
    let limits = (spec.cert_min_days, spec.max_latency);
    connect::settled(started, phases, addr, cert, latency, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines_parse_with_and_without_text() {
        assert_eq!(
            parse_line(b"250-mail.example Hello"),
            Some((250, false, "mail.example Hello".to_owned()))
        );
        assert_eq!(
            parse_line(b"250 STARTTLS"),
            Some((250, true, "STARTTLS".to_owned()))
        );
        assert_eq!(parse_line(b"220"), Some((220, true, String::new())));
        assert_eq!(parse_line(b"HTTP/1.1 400 Bad Request"), None);
        assert_eq!(parse_line(b"250x"), None);
        assert_eq!(parse_line(b"099 low"), None);
        assert_eq!(parse_line(b""), None);
    }

    #[test]
    fn starttls_is_found_among_the_keywords_only() {
        let reply = |lines: &[&str]| Reply {
            code: 250,
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        };
        assert!(offers_starttls(&reply(&[
            "mx Hello", "SIZE 100", "starttls"
        ])));
        assert!(!offers_starttls(&reply(&["STARTTLS ready", "SIZE 100"])));
        assert!(!offers_starttls(&reply(&["mx Hello", "8BITMIME"])));
    }

    #[test]
    fn ehlo_names_are_address_literals() {
        assert_eq!(
            ehlo_name(Some(SocketAddr::from(([127, 0, 0, 1], 25)))),
            "[127.0.0.1]"
        );
        let v6: SocketAddr = "[::1]:25".parse().unwrap();
        assert_eq!(ehlo_name(Some(v6)), "[IPv6:::1]");
    }
}
