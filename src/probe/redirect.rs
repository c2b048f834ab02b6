//! Where a redirect may take a check, and what goes with it: the monitor's
//! headers and URL credentials stay with its own origin, and a hostile
//! target cannot steer a check into the monitor's own network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

use crate::monitor::FollowRedirects;

/// The scheme, host and port of a URL: what "same origin" compares.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// How far from the public internet an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Anything routable on the internet.
    Public,
    /// Loopback, private, carrier-grade NAT, unique local, unspecified:
    /// the monitor's own machine or network.
    Private,
    /// Link-local, where cloud metadata services answer.
    LinkLocal,
}

impl Reach {
    /// The reach of an address; IPv4-mapped IPv6 counts as its IPv4 form.
    pub fn of(ip: IpAddr) -> Reach {
        match ip {
            IpAddr::V4(v4) => reach_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => reach_v4(v4),
                None => reach_v6(v6),
            },
        }
    }
}

fn reach_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, ..] = ip.octets();
    if ip.is_link_local() {
        Reach::LinkLocal
    } else if ip.is_loopback()
        || ip.is_private()
        || ip.is_unspecified()
        // 0.0.0.0/8 reaches this host on Linux.
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT: another operator's private range.
        || (a == 100 && (b & 0xc0) == 64)
    {
        Reach::Private
    } else {
        Reach::Public
    }
}

fn reach_v6(ip: Ipv6Addr) -> Reach {
    let first = ip.segments()[0];
    if (first & 0xffc0) == 0xfe80 {
        Reach::LinkLocal
    } else if ip.is_loopback() || ip.is_unspecified() || (first & 0xfe00) == 0xfc00 {
        Reach::Private
    } else {
        Reach::Public
    }
}

/// Why a redirect from `from` (connected to `from_ip`) to `to` (which
/// resolved to `to_ip`) is not followed, or `None` when it may be.
pub fn refusal(
    policy: FollowRedirects,
    from: &Url,
    from_ip: IpAddr,
    to: &Url,
    to_ip: IpAddr,
) -> Option<String> {
    if policy == FollowRedirects::Any {
        return None;
    }
    let why = if from.scheme() == "https" && to.scheme() == "http" {
        "it would downgrade https to http"
    } else {
        match (Reach::of(from_ip), Reach::of(to_ip)) {
            (_, Reach::LinkLocal) => {
                "it leads into a link-local address (cloud metadata lives there)"
            }
            (Reach::Public, Reach::Private) => {
                "it leads from a public address into a loopback or private one"
            }
            _ => return None,
        }
    };
    Some(format!(
        "redirect to {} ({to_ip}) not followed: {why}; `follow_redirects: any` allows it",
        crate::mask::url(to.as_str()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test url")
    }

    #[test]
    fn reach_of_each_range() {
        let cases = [
            ("8.8.8.8", Reach::Public),
            ("203.0.113.7", Reach::Public),
            ("100.63.255.255", Reach::Public),
            ("100.64.0.1", Reach::Private),
            ("100.127.255.255", Reach::Private),
            ("100.128.0.0", Reach::Public),
            ("127.0.0.1", Reach::Private),
            ("127.8.9.10", Reach::Private),
            ("10.1.2.3", Reach::Private),
            ("172.16.0.1", Reach::Private),
            ("172.31.255.255", Reach::Private),
            ("172.32.0.1", Reach::Public),
            ("192.168.1.1", Reach::Private),
            ("0.0.0.0", Reach::Private),
            ("169.254.169.254", Reach::LinkLocal),
            ("::1", Reach::Private),
            ("::", Reach::Private),
            ("fd00::1", Reach::Private),
            ("fc00::1", Reach::Private),
            ("fe80::1", Reach::LinkLocal),
            ("febf::1", Reach::LinkLocal),
            ("2001:db8::1", Reach::Public),
            ("::ffff:127.0.0.1", Reach::Private),
            ("::ffff:169.254.169.254", Reach::LinkLocal),
            ("::ffff:8.8.8.8", Reach::Public),
        ];
        for (text, reach) in cases {
            assert_eq!(Reach::of(ip(text)), reach, "{text}");
        }
    }

    #[test]
    fn unsafe_hops_are_refused_unless_any() {
        let https = url("https://shop.example/");
        let http = url("http://shop.example/");
        let public = ip("203.0.113.7");
        let cases = [
            // (from, from ip, to, to ip, refused)
            (&https, public, &http, public, true),
            (&http, public, &https, public, false),
            (&http, public, &http, ip("127.0.0.1"), true),
            (&http, public, &http, ip("10.0.0.5"), true),
            (&http, public, &http, ip("::ffff:192.168.0.1"), true),
            (&http, public, &http, ip("169.254.169.254"), true),
            (&http, ip("127.0.0.1"), &http, ip("169.254.169.254"), true),
            (&http, ip("127.0.0.1"), &http, ip("fe80::1"), true),
            (&http, ip("127.0.0.1"), &http, ip("127.0.0.2"), false),
            (&http, ip("10.0.0.5"), &http, ip("192.168.1.1"), false),
            (&http, ip("10.0.0.5"), &http, public, false),
            (&http, public, &http, ip("198.51.100.1"), false),
        ];
        for (from, from_ip, to, to_ip, refused) in cases {
            let safe = refusal(FollowRedirects::Safe, from, from_ip, to, to_ip);
            assert_eq!(safe.is_some(), refused, "{from} {from_ip} -> {to} {to_ip}");
            assert_eq!(
                refusal(FollowRedirects::Any, from, from_ip, to, to_ip),
                None
            );
        }
    }

    #[test]
    fn the_refusal_says_why_and_masks_the_url() {
        let why = refusal(
            FollowRedirects::Safe,
            &url("http://a.example/"),
            ip("203.0.113.7"),
            &url("http://u:pw@b.example/x?token=t"),
            ip("169.254.169.254"),
        )
        .expect("refused");
        assert!(why.contains("link-local"), "{why}");
        assert!(why.contains("follow_redirects: any"), "{why}");
        assert!(!why.contains("pw") && !why.contains("token=t"), "{why}");
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let base = url("https://a.example/x");
        assert!(same_origin(&base, &url("https://a.example:443/y?q")));
        assert!(!same_origin(&base, &url("http://a.example/x")));
        assert!(!same_origin(&base, &url("https://a.example:8443/x")));
        assert!(!same_origin(&base, &url("https://b.example/x")));
    }
}
