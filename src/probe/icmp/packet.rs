//! ICMP and ICMPv6 echo messages as bytes: building a request, reading what
//! comes back, and deciding whether it answers this check. Pure, so every
//! odd packet a network can send is a unit test.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IP version of a check, which fixes the ICMP type numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// ICMP (RFC 792).
    V4,
    /// ICMPv6 (RFC 4443).
    V6,
}

impl Family {
    /// The family of `ip`.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    fn echo_request(self) -> u8 {
        match self {
            Family::V4 => 8,
            Family::V6 => 128,
        }
    }

    fn echo_reply(self) -> u8 {
        match self {
            Family::V4 => 0,
            Family::V6 => 129,
        }
    }

    fn unreachable(self) -> u8 {
        match self {
            Family::V4 => 3,
            Family::V6 => 1,
        }
    }

    fn time_exceeded(self) -> u8 {
        match self {
            Family::V4 => 11,
            Family::V6 => 3,
        }
    }
}

/// ICMP header: type, code, checksum, identifier, sequence.
const HEADER: usize = 8;
const IPV6_HEADER: usize = 40;
const NEXT_HEADER_ICMPV6: u8 = 58;
const PROTOCOL_ICMP: u8 = 1;

/// An echo request with `id`, `seq` and `payload`. The ICMP checksum is
/// filled for IPv4; for ICMPv6 it covers a pseudo-header with addresses the
/// kernel chooses, so the kernel fills it (as it always does for ICMPv6).
pub fn echo_request(family: Family, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(HEADER + payload.len());
    packet.extend_from_slice(&[family.echo_request(), 0, 0, 0]);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(payload);
    if family == Family::V4 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The Internet checksum (RFC 1071): the ones' complement of the ones'
/// complement sum of 16-bit words, an odd last byte padded with zero.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = bytes.chunks_exact(2);
    for word in words.by_ref() {
        sum += u32::from(u16::from_be_bytes([word[0], word[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A received ICMP message, as far as a ping cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// An echo reply.
    Reply {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
        /// The echoed data.
        payload: &'a [u8],
    },
    /// A router (or the destination) could not deliver an echo request:
    /// the request it quotes went to `dest` with `id` and `seq`.
    Undelivered {
        /// `true` for Destination Unreachable, `false` for Time Exceeded.
        unreachable: bool,
        /// The ICMP code (host, network, port, administratively prohibited...).
        code: u8,
        /// Where the quoted request was going.
        dest: IpAddr,
        /// The quoted request's identifier.
        id: u16,
        /// The quoted request's sequence number.
        seq: u16,
    },
    /// Anything else: other types, our own requests seen on loopback,
    /// truncated or malformed packets.
    Other,
}

/// Reads one received datagram. `ip_header` says whether it starts with an
/// IPv4 header, as it does on a raw IPv4 socket (never on the others).
pub fn parse(family: Family, bytes: &[u8], ip_header: bool) -> Message<'_> {
    let icmp = if ip_header {
        match skip_ipv4_header(bytes, PROTOCOL_ICMP) {
            Some(rest) => rest,
            None => return Message::Other,
        }
    } else {
        bytes
    };
    let [kind, code, _, _, a, b, c, d, ..] = *icmp else {
        return Message::Other;
    };
    if kind == family.echo_reply() {
        return Message::Reply {
            id: u16::from_be_bytes([a, b]),
            seq: u16::from_be_bytes([c, d]),
            payload: &icmp[HEADER..],
        };
    }
    let unreachable = kind == family.unreachable();
    if !unreachable && kind != family.time_exceeded() {
        return Message::Other;
    }
    // The error quotes the offending packet's IP header and at least the
    // first 8 bytes after it: our echo request's header.
    let quoted = &icmp[HEADER..];
    let (dest, inner) = match family {
        Family::V4 => {
            let Some(inner) = skip_ipv4_header(quoted, PROTOCOL_ICMP) else {
                return Message::Other;
            };
            let dest = Ipv4Addr::new(quoted[16], quoted[17], quoted[18], quoted[19]);
            (IpAddr::V4(dest), inner)
        }
        Family::V6 => {
            if quoted.len() < IPV6_HEADER + HEADER
                || quoted[0] >> 4 != 6
                || quoted[6] != NEXT_HEADER_ICMPV6
            {
                return Message::Other;
            }
            let mut dest = [0u8; 16];
            dest.copy_from_slice(&quoted[24..40]);
            (IpAddr::V6(Ipv6Addr::from(dest)), &quoted[IPV6_HEADER..])
        }
    };
    match *inner {
        [kind, _, _, _, a, b, c, d, ..] if kind == family.echo_request() => Message::Undelivered {
            unreachable,
            code,
            dest,
            id: u16::from_be_bytes([a, b]),
            seq: u16::from_be_bytes([c, d]),
        },
        _ => Message::Other,
    }
}

/// What follows an IPv4 header carrying `protocol`, with room for an ICMP
/// header; `None` for anything else.
fn skip_ipv4_header(bytes: &[u8], protocol: u8) -> Option<&[u8]> {
    let first = *bytes.first()?;
    let length = usize::from(first & 0x0f) * 4;
    let valid = first >> 4 == 4 && length >= 20 && bytes.len() >= length + HEADER;
    (valid && bytes[9] == protocol).then(|| &bytes[length..])
}

/// The echo requests of one check: where they went, with which identifier
/// and payload, and how many.
#[derive(Debug, Clone)]
pub struct Echoes<'a> {
    /// The target.
    pub target: IpAddr,
    /// The identifier; on a datagram socket, the one the kernel assigned.
    pub id: u16,
    /// The first sequence number; echo `i` carries `first_seq + i`.
    pub first_seq: u16,
    /// How many were or will be sent.
    pub count: u16,
    /// The data every request carries, unique to the check.
    pub payload: &'a [u8],
}

/// What a received message means for this check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Echo `index` came back.
    Reply(u16),
    /// Echo `index` could not be delivered; `from` said so.
    Undelivered {
        /// Which echo.
        index: u16,
        /// Destination Unreachable (else Time Exceeded).
        unreachable: bool,
        /// The ICMP code.
        code: u8,
        /// Who reported it.
        from: IpAddr,
    },
    /// Not about this check: another host, identifier, sequence or payload.
    Ignored,
}

impl Echoes<'_> {
    /// Matches `message`, received from `from`, against these echoes. A
    /// raw socket sees every ICMP message for the host, and a datagram
    /// socket may still get a stray one, so anything that does not fit
    /// exactly is ignored.
    pub fn hear(&self, message: &Message<'_>, from: IpAddr) -> Heard {
        match *message {
            Message::Reply { id, seq, payload }
                if from == self.target && id == self.id && payload == self.payload =>
            {
                self.index(seq).map_or(Heard::Ignored, Heard::Reply)
            }
            Message::Undelivered {
                unreachable,
                code,
                dest,
                id,
                seq,
            } if dest == self.target && id == self.id => match self.index(seq) {
                Some(index) => Heard::Undelivered {
                    index,
                    unreachable,
                    code,
                    from,
                },
                None => Heard::Ignored,
            },
            _ => Heard::Ignored,
        }
    }

    fn index(&self, seq: u16) -> Option<u16> {
        let index = seq.wrapping_sub(self.first_seq);
        (index < self.count).then_some(index)
    }
}

/// A few words for an unreachable code, as ping prints them.
pub fn unreachable_reason(family: Family, code: u8) -> &'static str {
    match (family, code) {
        (Family::V4, 0) | (Family::V6, 0) => "no route to the network",
        (Family::V4, 1) | (Family::V6, 3) => "host unreachable",
        (Family::V4, 2) => "protocol unreachable",
        (Family::V4, 3) | (Family::V6, 4) => "port unreachable",
        (Family::V4, 9 | 10 | 13) | (Family::V6, 1 | 5 | 6) => "administratively prohibited",
        (Family::V6, 2) => "beyond the scope of the source address",
        _ => "destination unreachable",
    }
}

#[cfg(test)]
mod tests;
