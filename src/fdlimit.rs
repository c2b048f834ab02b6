//! The process's open-file limit: raised to the hard limit at start, and the
//! share of it the web server may hold, so that checks always find sockets.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// The most client connections served at once when the config says nothing,
/// however high the file limit: more would only feed a flood.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The open-file limit; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimit {
    /// What the process may open now.
    pub soft: Option<u64>,
    /// What the soft limit may be raised to without privileges.
    pub hard: Option<u64>,
}

/// The open-file limit now.
pub fn current() -> FileLimit {
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    FileLimit {
        soft: current,
        hard: maximum,
    }
}

/// Raises the soft open-file limit to the hard one and logs both. Many
/// systems start services with a soft limit of 1024 although they allow far
/// more; every check and every web client needs a descriptor. A refusal is
/// logged and the limit stays as it was.
pub fn raise() -> FileLimit {
    let before = current();
    if before.soft.is_some() && before.soft != before.hard {
        let wanted = Rlimit {
            current: before.hard,
            maximum: before.hard,
        };
        if let Err(err) = setrlimit(Resource::Nofile, wanted) {
            tracing::warn!(soft = ?before.soft, hard = ?before.hard, error = %err, "cannot raise the open-file limit");
            return before;
        }
    }
    let after = current();
    tracing::info!(
        soft = %shown(after.soft),
        hard = %shown(after.hard),
        was = %shown(before.soft),
        "open-file limit"
    );
    after
}

/// Whether an I/O error means hopwatch itself ran out of file descriptors
/// (EMFILE: its own limit; ENFILE: the whole system's).
pub fn is_out_of_descriptors(err: &std::io::Error) -> bool {
    use rustix::io::Errno;
    matches!(Errno::from_io_error(err), Some(Errno::MFILE | Errno::NFILE))
}

fn shown(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}

/// How many client connections the web server holds at once, from the soft
/// open-file limit. By default a quarter of it, at most
/// [`DEFAULT_MAX_CONNECTIONS`]: the other three quarters stay for checks,
/// the database and the resolver. A configured `server.max_connections` is
/// honoured up to half of the limit, never more, so that no setting lets web
/// clients take the sockets checks need. Always at least 1.
pub fn connection_cap(soft: Option<u64>, configured: Option<usize>) -> usize {
    let share = |divisor: u64| {
        soft.map_or(usize::MAX, |soft| {
            usize::try_from(soft / divisor).unwrap_or(usize::MAX)
        })
    };
    match configured {
        Some(wanted) => wanted.min(share(2)).max(1),
        None => share(4).clamp(1, DEFAULT_MAX_CONNECTIONS),
    }
}

/// What to say when a check could not get a socket (see
/// [`is_out_of_descriptors`]): whose fault it is and what to change. Such a
/// check says nothing about its target: its cause is `unknown`, never a page.
pub fn out_of_descriptors_message(what: &str, err: &std::io::Error) -> String {
    format!(
        "hopwatch ran out of file descriptors ({err}) while {what}: hopwatch's own fault, \
         not the target's; raise its open-file limit (ulimit -n, systemd LimitNOFILE=) \
         or lower server.max_connections"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_the_web_gets_a_quarter_of_the_limit_at_most_a_few_thousand() {
        assert_eq!(connection_cap(Some(256), None), 64);
        assert_eq!(connection_cap(Some(1024), None), 256);
        assert_eq!(connection_cap(Some(1 << 20), None), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(connection_cap(None, None), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(connection_cap(Some(2), None), 1, "never none at all");
    }

    #[test]
    fn a_configured_cap_is_honoured_up_to_half_the_limit() {
        assert_eq!(connection_cap(Some(1024), Some(100)), 100);
        assert_eq!(connection_cap(Some(1024), Some(10_000)), 512);
        assert_eq!(connection_cap(None, Some(10_000)), 10_000);
        assert_eq!(connection_cap(Some(1024), Some(0)), 1);
    }

    #[test]
    fn emfile_and_enfile_are_running_out_and_nothing_else_is() {
        use rustix::io::Errno;
        let os = |errno: Errno| std::io::Error::from_raw_os_error(errno.raw_os_error());
        assert!(is_out_of_descriptors(&os(Errno::MFILE)));
        assert!(is_out_of_descriptors(&os(Errno::NFILE)));
        assert!(!is_out_of_descriptors(&os(Errno::NETUNREACH)));
        assert!(!is_out_of_descriptors(&os(Errno::NOMEM)));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(!is_out_of_descriptors(&refused));
    }

    #[test]
    fn raising_ends_at_the_hard_limit() {
        let after = raise();
        assert_eq!(after, current());
        if after.hard.is_some() {
            assert_eq!(after.soft, after.hard);
        }
    }

    #[test]
    fn running_out_of_descriptors_is_our_own_fault() {
        let emfile = std::io::Error::from_raw_os_error(rustix::io::Errno::MFILE.raw_os_error());
        let message = out_of_descriptors_message("connecting to 127.0.0.1:80", &emfile);
        assert!(
            message.contains("hopwatch ran out of file descriptors"),
            "{message}"
        );
        assert!(message.contains("not the target's"), "{message}");
    }
}
