//! Echo requests byte for byte, and what a received message means.
use super::*;

const TARGET: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
const PAYLOAD: &[u8] = b"hopwatch\x01\x02\x03\x04\x05\x06\x07\x08";

fn echoes(target: IpAddr) -> Echoes<'static> {
    Echoes {
        target,
        id: 0x1234,
        first_seq: 0xfffe,
        count: 3,
        payload: PAYLOAD,
    }
}

/// An IPv4 header (20 bytes) from `src` to `dst` carrying ICMP.
fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut header = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, PROTOCOL_ICMP, 0, 0];
    header.extend_from_slice(&src.octets());
    header.extend_from_slice(&dst.octets());
    header
}

/// An echo reply as a datagram socket delivers it (no IP header).
fn reply(family: Family, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = echo_request(family, id, seq, payload);
    packet[0] = family.echo_reply();
    packet
}

/// A Destination Unreachable quoting our request to `dest`.
fn unreachable_v4(code: u8, dest: Ipv4Addr, id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![3, code, 0, 0, 0, 0, 0, 0];
    packet.extend(ipv4_header(Ipv4Addr::new(10, 0, 0, 1), dest));
    packet.extend(&echo_request(Family::V4, id, seq, PAYLOAD)[..8]);
    packet
}

#[test]
fn the_checksum_is_rfc_1071() {
    // RFC 1071's worked example: the sum of these words is 0xddf2.
    assert_eq!(
        checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
        !0xddf2
    );
    // An odd length pads the last byte with zero.
    assert_eq!(checksum(&[0xab]), !0xab00);
    assert_eq!(checksum(&[]), 0xffff);
}

#[test]
fn an_ipv4_request_is_built_byte_for_byte_and_sums_to_zero() {
    let packet = echo_request(Family::V4, 0x1234, 0x0001, b"hi");
    assert_eq!(&packet[..2], &[8, 0]);
    assert_eq!(&packet[4..], &[0x12, 0x34, 0x00, 0x01, b'h', b'i']);
    // A packet with its checksum in place sums to all ones.
    assert_eq!(checksum(&packet), 0);
    // The same request, checksum computed by hand: !(0x0800 + 0x1234 + 0x0001 + 0x6869).
    assert_eq!(&packet[2..4], &0x7d61_u16.to_be_bytes());
}

#[test]
fn an_ipv6_request_leaves_the_checksum_to_the_kernel() {
    let packet = echo_request(Family::V6, 7, 9, b"");
    assert_eq!(packet, vec![128, 0, 0, 0, 0, 7, 0, 9]);
}

#[test]
fn replies_parse_with_and_without_an_ip_header() {
    let bare = reply(Family::V4, 0x1234, 5, PAYLOAD);
    let expected = Message::Reply {
        id: 0x1234,
        seq: 5,
        payload: PAYLOAD,
    };
    assert_eq!(parse(Family::V4, &bare, false), expected);
    let mut raw = ipv4_header(Ipv4Addr::new(192, 0, 2, 7), Ipv4Addr::new(192, 0, 2, 1));
    raw.extend(&bare);
    assert_eq!(parse(Family::V4, &raw, true), expected);
    let v6 = reply(Family::V6, 0x1234, 5, PAYLOAD);
    assert_eq!(parse(Family::V6, &v6, false), expected);
    // An ICMPv4 reply type means nothing on ICMPv6, and the other way round.
    assert_eq!(parse(Family::V6, &bare, false), Message::Other);
    assert_eq!(parse(Family::V4, &v6, false), Message::Other);
}

#[test]
fn errors_are_read_from_the_request_they_quote() {
    let dest = Ipv4Addr::new(192, 0, 2, 7);
    let packet = unreachable_v4(1, dest, 0x1234, 0xffff);
    assert_eq!(
        parse(Family::V4, &packet, false),
        Message::Undelivered {
            unreachable: true,
            code: 1,
            dest: IpAddr::V4(dest),
            id: 0x1234,
            seq: 0xffff,
        }
    );
    let mut exceeded = packet.clone();
    exceeded[0] = 11;
    assert!(matches!(
        parse(Family::V4, &exceeded, false),
        Message::Undelivered {
            unreachable: false,
            ..
        }
    ));
    // ICMPv6: type 1, then the quoted IPv6 header (next header 58).
    let dest6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7);
    let mut v6 = vec![1, 3, 0, 0, 0, 0, 0, 0];
    let mut header = vec![0x60, 0, 0, 0, 0, 16, NEXT_HEADER_ICMPV6, 64];
    header.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    header.extend_from_slice(&dest6.octets());
    v6.extend(header);
    v6.extend(echo_request(Family::V6, 0x1234, 2, PAYLOAD));
    assert_eq!(
        parse(Family::V6, &v6, false),
        Message::Undelivered {
            unreachable: true,
            code: 3,
            dest: IpAddr::V6(dest6),
            id: 0x1234,
            seq: 2,
        }
    );
}

#[test]
fn truncated_and_foreign_packets_are_other_never_a_panic() {
    let packet = unreachable_v4(1, Ipv4Addr::new(192, 0, 2, 7), 1, 1);
    for len in 0..packet.len() {
        let message = parse(Family::V4, &packet[..len], false);
        assert!(
            !matches!(message, Message::Undelivered { .. }),
            "{len}: {message:?}"
        );
        let _ = parse(Family::V4, &packet[..len], true);
        let _ = parse(Family::V6, &packet[..len], false);
    }
    // Our own request, as a raw socket sees it on loopback.
    let request = echo_request(Family::V4, 1, 1, PAYLOAD);
    assert_eq!(parse(Family::V4, &request, false), Message::Other);
    // An IP header that claims more than there is, or another protocol.
    let mut lying = ipv4_header(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
    lying[0] = 0x4f;
    lying.extend(reply(Family::V4, 1, 1, b""));
    assert_eq!(parse(Family::V4, &lying, true), Message::Other);
    let mut udp = ipv4_header(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
    udp[9] = 17;
    udp.extend(reply(Family::V4, 1, 1, b""));
    assert_eq!(parse(Family::V4, &udp, true), Message::Other);
}

#[test]
fn only_our_replies_from_our_target_count() {
    let echoes = echoes(TARGET);
    let heard = |packet: &[u8], from: IpAddr| echoes.hear(&parse(Family::V4, packet, false), from);
    // Sequence numbers wrap: 0xfffe, 0xffff, 0x0000 are echoes 0, 1, 2.
    assert_eq!(
        heard(&reply(Family::V4, 0x1234, 0xfffe, PAYLOAD), TARGET),
        Heard::Reply(0)
    );
    assert_eq!(
        heard(&reply(Family::V4, 0x1234, 0x0000, PAYLOAD), TARGET),
        Heard::Reply(2)
    );
    let other_host = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8));
    let ignored = [
        (
            reply(Family::V4, 0x1234, 0xfffe, PAYLOAD),
            other_host,
            "another host",
        ),
        (
            reply(Family::V4, 0x4321, 0xfffe, PAYLOAD),
            TARGET,
            "another identifier",
        ),
        (
            reply(Family::V4, 0x1234, 0x0001, PAYLOAD),
            TARGET,
            "a sequence not sent",
        ),
        (
            reply(Family::V4, 0x1234, 0xfffd, PAYLOAD),
            TARGET,
            "a sequence before ours",
        ),
        (
            reply(Family::V4, 0x1234, 0xfffe, b"someone else"),
            TARGET,
            "another payload",
        ),
        (
            echo_request(Family::V4, 0x1234, 0xfffe, PAYLOAD),
            TARGET,
            "a request",
        ),
    ];
    for (packet, from, what) in ignored {
        assert_eq!(heard(&packet, from), Heard::Ignored, "{what}");
    }
}

#[test]
fn errors_count_only_when_they_quote_our_request_to_our_target() {
    let echoes = echoes(TARGET);
    let router = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let IpAddr::V4(target) = TARGET else {
        unreachable!()
    };
    let ours = unreachable_v4(1, target, 0x1234, 0xffff);
    assert_eq!(
        echoes.hear(&parse(Family::V4, &ours, false), router),
        Heard::Undelivered {
            index: 1,
            unreachable: true,
            code: 1,
            from: router
        }
    );
    let elsewhere = unreachable_v4(1, Ipv4Addr::new(192, 0, 2, 99), 0x1234, 0xffff);
    let other_id = unreachable_v4(1, target, 0x9999, 0xffff);
    let other_seq = unreachable_v4(1, target, 0x1234, 0x0100);
    for packet in [elsewhere, other_id, other_seq] {
        assert_eq!(
            echoes.hear(&parse(Family::V4, &packet, false), router),
            Heard::Ignored
        );
    }
}

#[test]
fn unreachable_codes_read_as_ping_prints_them() {
    assert_eq!(unreachable_reason(Family::V4, 1), "host unreachable");
    assert_eq!(
        unreachable_reason(Family::V4, 13),
        "administratively prohibited"
    );
    assert_eq!(unreachable_reason(Family::V6, 3), "host unreachable");
    assert_eq!(unreachable_reason(Family::V6, 0), "no route to the network");
    assert_eq!(
        unreachable_reason(Family::V4, 200),
        "destination unreachable"
    );
}
