//! The demo's own name server on loopback (UDP): it answers one name with
//! 127.0.0.1 until the story makes it forget the name (NXDOMAIN), the way a
//! deleted record or a broken zone transfer looks to a client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// The name the demo's DNS monitor asks for.
pub const NAME: &str = "shop.demo.test";

const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
const NXDOMAIN: u8 = 3;
const REFUSED: u8 = 5;
const FORMERR: u8 = 1;

/// A name server for [`NAME`] alone.
pub struct NameServer {
    addr: SocketAddr,
    forgotten: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl NameServer {
    /// Starts answering on a free loopback port.
    pub async fn start() -> std::io::Result<NameServer> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let addr = socket.local_addr()?;
        let forgotten = Arc::new(AtomicBool::new(false));
        let flag = forgotten.clone();
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
                if let Some(reply) = answer(&buf[..n], flag.load(Ordering::Relaxed)) {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        });
        Ok(NameServer {
            addr,
            forgotten,
            task,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Forgets the name (NXDOMAIN from now on), or learns it again.
    pub fn forget(&self, forgotten: bool) {
        self.forgotten.store(forgotten, Ordering::Relaxed);
    }
}

impl Drop for NameServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reply to one query: the question echoed, then an A record for
/// [`NAME`] (TTL 0, so no resolver keeps it), NXDOMAIN for it when
/// forgotten, NOERROR without records for its other types, REFUSED for
/// other names. `None` for what is not a query at all.
fn answer(query: &[u8], forgotten: bool) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    let question_count = u16::from_be_bytes([query[4], query[5]]);
    let Some((name, end)) = question_name(query).filter(|_| question_count == 1) else {
        return Some(header(query, FORMERR, 0, &[]));
    };
    let question = &query[12..end + 4];
    let kind = u16::from_be_bytes([query[end], query[end + 1]]);
    let class = u16::from_be_bytes([query[end + 2], query[end + 3]]);
    if !name.eq_ignore_ascii_case(NAME) {
        return Some(header(query, REFUSED, 0, question));
    }
    if forgotten {
        return Some(header(query, NXDOMAIN, 0, question));
    }
    if kind != TYPE_A || class != CLASS_IN {
        return Some(header(query, 0, 0, question));
    }
    let mut reply = header(query, 0, 1, question);
    // The answer names the question by a pointer to offset 12.
    reply.extend_from_slice(&[0xc0, 0x0c]);
    reply.extend_from_slice(&TYPE_A.to_be_bytes());
    reply.extend_from_slice(&CLASS_IN.to_be_bytes());
    reply.extend_from_slice(&0u32.to_be_bytes());
    reply.extend_from_slice(&4u16.to_be_bytes());
    reply.extend_from_slice(&[127, 0, 0, 1]);
    Some(reply)
}

/// The question's name (dotted, without the root) and where its type starts;
/// `None` for a name that is malformed or runs past the packet.
fn question_name(query: &[u8]) -> Option<(String, usize)> {
    let mut at = 12;
    let mut labels = Vec::new();
    // A name has at most 127 labels; the bound keeps the loop finite.
    for _ in 0..128 {
        let len = usize::from(*query.get(at)?);
        if len == 0 {
            let end = at + 1;
            return (query.len() >= end + 4).then(|| (labels.join("."), end));
        }
        if len > 63 {
            return None;
        }
        let label = query.get(at + 1..at + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += 1 + len;
    }
    None
}

/// A reply header for `query` with `rcode` and `answers`, then `question`.
fn header(query: &[u8], rcode: u8, answers: u16, question: &[u8]) -> Vec<u8> {
    let mut reply = Vec::with_capacity(64);
    reply.extend_from_slice(&query[..2]);
    // QR, the query's opcode and RD; RA; the rcode.
    reply.push(0x80 | (query[2] & 0x79));
    reply.push(0x80 | rcode);
    let questions = u16::from(!question.is_empty());
    reply.extend_from_slice(&questions.to_be_bytes());
    reply.extend_from_slice(&answers.to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]);
    reply.extend_from_slice(question);
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, kind: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&kind.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    #[test]
    fn answers_its_name_until_it_forgets_it() {
        let reply = answer(&query(NAME, TYPE_A), false).expect("a reply");
        assert_eq!(&reply[..2], &[0x12, 0x34], "the query's id");
        assert_eq!(reply[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([reply[6], reply[7]]), 1, "one answer");
        assert_eq!(&reply[reply.len() - 4..], &[127, 0, 0, 1]);
        let forgotten = answer(&query(NAME, TYPE_A), true).expect("a reply");
        assert_eq!(forgotten[3] & 0x0f, NXDOMAIN);
        let other = answer(&query("example.com", TYPE_A), false).expect("a reply");
        assert_eq!(other[3] & 0x0f, REFUSED);
    }

    #[test]
    fn malformed_packets_get_formerr_or_nothing() {
        assert!(answer(&[0; 5], false).is_none(), "too short to be a query");
        let mut q = query(NAME, TYPE_A);
        q[2] |= 0x80;
        assert!(answer(&q, false).is_none(), "a response, not a query");
        let mut looping = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        looping.extend_from_slice(&[200, b'a']);
        let reply = answer(&looping, false).expect("a reply");
        assert_eq!(reply[3] & 0x0f, FORMERR);
    }
}
