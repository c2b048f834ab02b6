//! The icmp probe: `count` echo requests to one host, their loss and round
//! trips. A silent host is `timeout`, an ICMP error back `icmp_unreachable`.

pub mod packet;
pub mod socket;

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use tokio::time::{Instant as Deadline, sleep_until};

use self::packet::{Echoes, Family, Heard};
use self::socket::{EchoSocket, Kind, OpenError, Received};
use super::Cause;
use super::connect::{self, Failure, ms};
use super::expect;
use super::resolve::Resolver;
use crate::fdlimit::{is_out_of_descriptors, out_of_descriptors_message};
use crate::monitor::result::{CheckResult, Phases, RttStats};
use crate::monitor::spec::IcmpSpec;

/// Echo requests go at most this far apart (ping's default interval).
const MAX_SPACING: Duration = Duration::from_secs(1);

/// Messages read per echo sent before the check stops listening: a raw
/// socket sees all of the host's ICMP traffic, and a flood of it must not
/// keep a check busy.
const MESSAGES_PER_ECHO: usize = 64;

/// Bytes read per datagram: more than any echo reply or ICMP error a check
/// cares about (errors quote only the start of our request).
const BUFFER: usize = 1500;

/// Runs one icmp check.
pub async fn check(spec: &IcmpSpec, resolver: &Resolver, started: SystemTime) -> CheckResult {
    let clock = Instant::now();
    let deadline = Deadline::from_std(clock + spec.timeout);
    let mut phases = Phases::default();
    let target = match connect::resolve(resolver, &spec.host, 0, deadline, &mut phases).await {
        Ok(addrs) => addrs[0].ip(),
        Err(failure) => return connect::failed(started, clock, phases, failure),
    };
    let socket = match socket::open(Family::of(target)) {
        Ok(socket) => socket,
        Err(err) => {
            return connect::failed(started, clock, phases, open_failure(&err, target));
        }
    };
    let tally = ping(&socket, target, spec, deadline).await;
    let mut result = tally.result(spec, target, started, clock);
    result.phases_ms.dns = phases.dns;
    result
}

/// A socket that could not be opened is hopwatch's own problem, not the
/// target's: `unknown`, with what to change.
fn open_failure(err: &OpenError, target: IpAddr) -> Failure {
    let message = match err.io() {
        Some(io) if is_out_of_descriptors(io) => {
            out_of_descriptors_message(&format!("pinging {target}"), io)
        }
        _ => err.to_string(),
    };
    Failure::new(Cause::Unknown, message)
}

/// What came back of the echoes so far.
struct Tally {
    sent: u16,
    sent_at: Vec<Option<Instant>>,
    rtts: Vec<Option<f64>>,
    /// The first ICMP error that named one of our echoes, in words.
    undelivered: Option<String>,
    /// hopwatch's own failure (the socket broke), in words.
    own_error: Option<String>,
    /// A send refused locally (no route from here), in words.
    send_error: Option<String>,
}

async fn ping(socket: &EchoSocket, target: IpAddr, spec: &IcmpSpec, deadline: Deadline) -> Tally {
    let family = Family::of(target);
    let nonce = nonce();
    let mut payload = b"hopwatch".to_vec();
    payload.extend_from_slice(&nonce.to_be_bytes());
    let echoes = Echoes {
        target,
        id: socket.kernel_id.unwrap_or(nonce as u16),
        first_seq: (nonce >> 16) as u16,
        count: spec.count,
        payload: &payload,
    };
    let count = usize::from(spec.count);
    let mut tally = Tally {
        sent: 0,
        sent_at: vec![None; count],
        rtts: vec![None; count],
        undelivered: None,
        own_error: None,
        send_error: None,
    };
    // Spread the echoes over the timeout, leaving the last one as long to
    // come back as the others had; never closer than the kernel allows an
    // unprivileged ping and never farther apart than a second.
    let spacing = (spec.timeout / (u32::from(spec.count) + 1)).min(MAX_SPACING);
    let mut next_send = Deadline::now();
    let mut buf = vec![0u8; BUFFER];
    let mut budget = MESSAGES_PER_ECHO * count;
    while budget > 0 {
        if usize::from(tally.sent) < count && Deadline::now() >= next_send {
            let index = tally.sent;
            let seq = echoes.first_seq.wrapping_add(index);
            let request = packet::echo_request(family, echoes.id, seq, &payload);
            tally.sent_at[usize::from(index)] = Some(Instant::now());
            tally.sent += 1;
            next_send += spacing;
            if let Err(err) = socket.send(&request, target).await {
                tally.send_error = Some(format!("cannot send an echo request to {target}: {err}"));
                break;
            }
        }
        let all_sent = usize::from(tally.sent) == count;
        if all_sent && tally.rtts.iter().all(Option::is_some) {
            break;
        }
        if Deadline::now() >= deadline {
            break;
        }
        let wake = if all_sent {
            deadline
        } else {
            next_send.min(deadline)
        };
        let received = tokio::select! {
            received = socket.receive(&mut buf) => received,
            () = sleep_until(wake) => continue,
        };
        budget -= 1;
        match received {
            Ok(Received::Packet { len, from }) => {
                let raw_v4 = socket.kind == Kind::Raw && family == Family::V4;
                let message = packet::parse(family, &buf[..len], raw_v4);
                tally.hear(echoes.hear(&message, from), family);
            }
            Ok(Received::Error(err)) => tally.kernel_error(&err, target),
            Err(err) => {
                tally.own_error = Some(format!("reading the ICMP socket failed: {err}"));
                break;
            }
        }
        // One error stops the check: the rest would only repeat it, and
        // waiting out the timeout would hide how fast the network said so.
        let unreachable = tally.undelivered.is_some() && tally.rtts.iter().all(Option::is_none);
        if tally.own_error.is_some() || unreachable {
            break;
        }
    }
    tally
}

impl Tally {
    fn hear(&mut self, heard: Heard, family: Family) {
        match heard {
            Heard::Reply(index) => {
                let index = usize::from(index);
                if let (Some(at), None) = (self.sent_at[index], self.rtts[index]) {
                    self.rtts[index] = Some(ms(at.elapsed()));
                }
            }
            Heard::Undelivered {
                index: _,
                unreachable,
                code,
                from,
            } if self.undelivered.is_none() => {
                let what = if unreachable {
                    packet::unreachable_reason(family, code)
                } else {
                    "time to live exceeded in transit (a routing loop?)"
                };
                self.undelivered = Some(format!("{from} answered: {what} (ICMP code {code})"));
            }
            Heard::Undelivered { .. } | Heard::Ignored => {}
        }
    }

    /// An ICMP error the kernel matched to a datagram socket (the socket
    /// filters by identifier; the quoted destination is not shown).
    fn kernel_error(&mut self, err: &io::Error, target: IpAddr) {
        use rustix::io::Errno;
        let errno = err.raw_os_error().map(Errno::from_raw_os_error);
        let network = [
            Errno::HOSTUNREACH,
            Errno::NETUNREACH,
            Errno::CONNREFUSED,
            Errno::ACCESS,
            Errno::NOPROTOOPT,
        ];
        if errno.is_some_and(|e| network.contains(&e)) {
            if self.undelivered.is_none() {
                self.undelivered =
                    Some(format!("the network reported {target} unreachable: {err}"));
            }
        } else {
            self.own_error = Some(format!("the ICMP socket failed: {err}"));
        }
    }

    fn result(
        &self,
        spec: &IcmpSpec,
        target: IpAddr,
        started: SystemTime,
        clock: Instant,
    ) -> CheckResult {
        let answered: Vec<f64> = self.rtts.iter().flatten().copied().collect();
        let sent = usize::from(self.sent.max(1));
        let loss = 1.0 - answered.len() as f64 / sent as f64;
        let rtt = RttStats::of(&answered);
        let (cause, error) = if let Some(own) = &self.own_error {
            (Cause::Unknown, Some(own.clone()))
        } else if rtt.is_some() {
            let slow = rtt.and_then(|r| {
                expect::latency(spec.max_latency, Duration::from_secs_f64(r.avg / 1000.0))
            });
            match slow {
                Some(problem) => (
                    Cause::TooSlow,
                    Some(format!("average round trip {problem}")),
                ),
                None => (Cause::Ok, None),
            }
        } else if let Some(send) = &self.send_error {
            (Cause::IcmpUnreachable, Some(send.clone()))
        } else if let Some(undelivered) = &self.undelivered {
            (Cause::IcmpUnreachable, Some(undelivered.clone()))
        } else {
            (
                Cause::Timeout,
                Some(format!(
                    "no echo reply from {target} to {} request{} within {} ms",
                    self.sent,
                    if self.sent == 1 { "" } else { "s" },
                    spec.timeout.as_millis()
                )),
            )
        };
        let mut result = CheckResult::new(started, cause);
        result.latency_ms = ms(clock.elapsed());
        // The round trip is the network's time, as the connect phase is for
        // tcp: a too_slow verdict then blames the network, not an origin.
        result.phases_ms.connect = rtt.map_or(0.0, |r| r.avg);
        result.remote_addr = Some(std::net::SocketAddr::new(target, 0));
        result.error = error;
        result.packet_loss = Some(loss);
        result.rtt_ms = rtt;
        result
    }
}

/// A value that differs between checks, for the identifier of a raw
/// socket's echoes and their payload: two checks pinging at once, from
/// this process or another, must not take each other's replies.
fn nonce() -> u64 {
    // std's RandomState is seeded from the OS and advanced per instance,
    // which is all the randomness this needs.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::io::Errno;

    fn os(errno: Errno) -> io::Error {
        io::Error::from_raw_os_error(errno.raw_os_error())
    }

    #[test]
    fn a_socket_hopwatch_may_not_open_is_unknown_with_what_to_set() {
        let target = IpAddr::from([192, 0, 2, 7]);
        let refused = OpenError::NotAllowed {
            datagram: os(Errno::ACCESS),
            raw: os(Errno::PERM),
        };
        let failure = open_failure(&refused, target);
        assert_eq!(failure.cause, Cause::Unknown);
        assert!(
            failure.message.contains("ping_group_range"),
            "{}",
            failure.message
        );
        let no_fds = open_failure(&OpenError::Io(os(Errno::MFILE)), target);
        assert_eq!(no_fds.cause, Cause::Unknown);
        assert!(
            no_fds.message.contains("file descriptors"),
            "{}",
            no_fds.message
        );
    }

    #[test]
    fn kernel_errors_split_into_the_network_s_and_hopwatch_s() {
        let target = IpAddr::from([192, 0, 2, 7]);
        let fresh = || Tally {
            sent: 1,
            sent_at: vec![None],
            rtts: vec![None],
            undelivered: None,
            own_error: None,
            send_error: None,
        };
        let mut unreachable = fresh();
        unreachable.kernel_error(&os(Errno::HOSTUNREACH), target);
        assert!(unreachable.undelivered.is_some() && unreachable.own_error.is_none());
        let mut broken = fresh();
        broken.kernel_error(&os(Errno::NOBUFS), target);
        assert!(broken.own_error.is_some() && broken.undelivered.is_none());
    }
}
