//! The socket an icmp check sends through: an unprivileged ICMP datagram
//! socket where `net.ipv4.ping_group_range` allows one, else a raw socket
//! where the process may (CAP_NET_RAW), else a clear error saying what to set.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::packet::Family;

/// Which kind of socket a check got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `SOCK_DGRAM` with `IPPROTO_ICMP(V6)`: the kernel sets the identifier
    /// and hands over only the replies to it, and reports ICMP errors as
    /// socket errors.
    Datagram,
    /// `SOCK_RAW`: every ICMP message for the host arrives, IPv4 ones with
    /// their IP header.
    Raw,
}

/// Why no socket could be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Neither socket kind is allowed to this process.
    #[error(
        "hopwatch may not send ICMP echo requests (unprivileged ICMP socket: {datagram}; raw \
         socket: {raw}): allow unprivileged ones with `sysctl \
         net.ipv4.ping_group_range=\"0 2147483647\"` (it covers IPv6 too), or give hopwatch \
         CAP_NET_RAW (`setcap cap_net_raw+ep` on the binary, or AmbientCapabilities=CAP_NET_RAW \
         in its systemd unit)"
    )]
    NotAllowed {
        /// What the datagram socket said.
        datagram: io::Error,
        /// What the raw socket said.
        raw: io::Error,
    },
    /// Another failure (no IPv6 here, out of descriptors...).
    #[error("cannot open an ICMP socket: {0}")]
    Io(#[source] io::Error),
}

impl OpenError {
    /// The I/O error behind a failure that is not about permission.
    pub fn io(&self) -> Option<&io::Error> {
        match self {
            OpenError::Io(err) => Some(err),
            OpenError::NotAllowed { .. } => None,
        }
    }
}

/// An open ICMP socket, registered with the runtime.
pub struct EchoSocket {
    // A `UdpSocket` is only a datagram fd here: its send_to/recv_from are
    // plain sendto/recvfrom, which both ICMP socket kinds take, with safe
    // byte slices and `SocketAddr`s, and tokio registers it safely.
    socket: UdpSocket,
    /// Which kind it is.
    pub kind: Kind,
    /// The identifier the kernel assigned (datagram sockets).
    pub kernel_id: Option<u16>,
}

fn is_not_permitted(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::Unsupported
    ) || err.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error())
}

/// Opens a socket for `family`: datagram first, raw when that is refused.
pub fn open(family: Family) -> Result<EchoSocket, OpenError> {
    let (domain, protocol) = match family {
        Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
        Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    let (socket, kind) = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(socket) => (socket, Kind::Datagram),
        Err(datagram) if is_not_permitted(&datagram) => {
            match Socket::new(domain, Type::RAW, Some(protocol)) {
                Ok(socket) => (socket, Kind::Raw),
                Err(raw) if is_not_permitted(&raw) => {
                    return Err(OpenError::NotAllowed { datagram, raw });
                }
                Err(raw) => return Err(OpenError::Io(raw)),
            }
        }
        Err(datagram) => return Err(OpenError::Io(datagram)),
    };
    socket.set_nonblocking(true).map_err(OpenError::Io)?;
    let mut kernel_id = None;
    if kind == Kind::Datagram {
        // Binding makes the kernel choose the identifier now, so replies can
        // be checked against it; without IP_RECVERR an unreachable host
        // would only ever show as silence.
        let any = match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        socket
            .bind(&SocketAddr::new(any, 0).into())
            .map_err(OpenError::Io)?;
        kernel_id = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port());
        receive_errors(&socket, family).map_err(OpenError::Io)?;
    }
    let socket = UdpSocket::from_std(std::net::UdpSocket::from(socket)).map_err(OpenError::Io)?;
    Ok(EchoSocket {
        socket,
        kind,
        kernel_id,
    })
}

/// Sets IP_RECVERR / IPV6_RECVERR: without it a datagram ICMP socket
/// reports only "fatal" errors, and host or network unreachable (the ones
/// that matter here) would pass in silence. Neither socket2 nor rustix
/// wraps this option.
fn receive_errors(socket: &Socket, family: Family) -> io::Result<()> {
    let (level, name) = match family {
        Family::V4 => (libc::SOL_IP, libc::IP_RECVERR),
        Family::V6 => (libc::SOL_IPV6, libc::IPV6_RECVERR),
    };
    let on: libc::c_int = 1;
    // SAFETY: the fd is open for the duration of the call, and the option
    // value is a live c_int whose size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What one wait on the socket gave.
#[derive(Debug)]
pub enum Received {
    /// A datagram of `len` bytes from `from`.
    Packet {
        /// Bytes read into the buffer.
        len: usize,
        /// The sender.
        from: IpAddr,
    },
    /// An ICMP error the kernel matched to this datagram socket.
    Error(io::Error),
}

impl EchoSocket {
    /// Sends `packet` to `target`.
    pub async fn send(&self, packet: &[u8], target: IpAddr) -> io::Result<()> {
        self.socket
            .send_to(packet, SocketAddr::new(target, 0))
            .await
            .map(drop)
    }

    /// Waits for the next datagram or socket error.
    pub async fn receive(&self, buf: &mut [u8]) -> io::Result<Received> {
        // Bounded: each turn returns or clears the readiness it woke for.
        for _ in 0..64 {
            let ready = self
                .socket
                .ready(Interest::READABLE | Interest::ERROR)
                .await?;
            if ready.is_error() {
                // An error alone does not make the socket readable, so it is
                // fetched with SO_ERROR, which also clears it; "would block"
                // once it is gone clears the readiness too.
                let taken = self.socket.try_io(Interest::ERROR, || {
                    self.socket
                        .take_error()?
                        .ok_or_else(|| io::ErrorKind::WouldBlock.into())
                });
                match taken {
                    Ok(err) => return Ok(Received::Error(err)),
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    Err(err) => return Err(err),
                }
            }
            if ready.is_readable() {
                match self.socket.try_recv_from(buf) {
                    Ok((len, from)) => {
                        return Ok(Received::Packet {
                            len,
                            from: from.ip(),
                        });
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    // A queued ICMP error surfaces here as the recv's error.
                    Err(err) => return Ok(Received::Error(err)),
                }
            }
        }
        Err(io::Error::other("the ICMP socket kept waking without data"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_sockets_say_what_to_set() {
        let err = OpenError::NotAllowed {
            datagram: io::Error::from_raw_os_error(rustix::io::Errno::ACCESS.raw_os_error()),
            raw: io::Error::from_raw_os_error(rustix::io::Errno::PERM.raw_os_error()),
        };
        assert!(is_not_permitted(&io::Error::from_raw_os_error(
            rustix::io::Errno::PERM.raw_os_error()
        )));
        let message = err.to_string();
        for needed in [
            "net.ipv4.ping_group_range=\"0 2147483647\"",
            "CAP_NET_RAW",
            "Permission denied",
            "Operation not permitted",
        ] {
            assert!(message.contains(needed), "{needed}: {message}");
        }
        assert!(err.io().is_none());
    }
}
