//! Compiling the monitors about names: dns queries and domain
//! registrations.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use super::{DEFAULT_DOMAIN_MIN_DAYS, FieldError};
use crate::config::schema::MonitorConfig;
use crate::monitor::spec::{DnsSpec, DomainSpec};
use crate::monitor::trust::TrustStore;

pub(super) fn build_dns(
    m: &MonitorConfig,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<DnsSpec> {
    let query = m.query.clone();
    if query.as_deref().is_none_or(str::is_empty) {
        errors.push(FieldError::new(
            "query",
            "a dns monitor needs a query (the name to look up)",
        ));
    }
    let server = match m.server.as_deref() {
        None => None,
        Some(text) => match parse_server(text) {
            Some(addr) => Some(addr),
            None => {
                errors.push(FieldError::new(
                    "server",
                    format!("invalid server {text:?} (expected ip or ip:port, e.g. 1.1.1.1:53)"),
                ));
                return None;
            }
        },
    };
    Some(DnsSpec {
        query: query?,
        record: m.record.unwrap_or_default(),
        server,
        answers: m.expect.answers.clone(),
        timeout,
        max_latency: m.expect.max_latency,
    })
}

fn parse_server(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

pub(super) fn build_domain(
    m: &MonitorConfig,
    trust: &TrustStore,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<DomainSpec> {
    let domain = match m.domain.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(
                "domain",
                "a domain monitor needs a domain (the registered name, e.g. example.com)",
            ));
            None
        }
        Some(text) => registered_name(text).or_else(|| {
            errors.push(FieldError::new(
                "domain",
                format!("invalid domain {text:?} (expected a registered name such as example.com)"),
            ));
            None
        }),
    };
    let rdap_server = m
        .rdap_server
        .as_deref()
        .and_then(|text| match Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                Some(url)
            }
            _ => {
                errors.push(FieldError::new(
                    "rdap_server",
                    format!(
                        "invalid rdap_server {:?} (expected an http:// or https:// base URL)",
                        crate::mask::lone_url(text)
                    ),
                ));
                None
            }
        });
    // The registry is reached with the system's trust; its certificate is
    // not what this monitor watches.
    let tls = match trust.settings(false, None) {
        Ok(tls) => tls,
        Err(err) => {
            errors.push(FieldError::new("domain", err.to_string()));
            return None;
        }
    };
    Some(DomainSpec {
        domain: domain?,
        rdap_server,
        min_days: m.expect.min_days.unwrap_or(DEFAULT_DOMAIN_MIN_DAYS),
        tls,
        timeout,
    })
}

/// A domain name as RDAP wants it: IDNA (punycode), lower case, no
/// trailing dot, at least two labels (a TLD alone is not registered).
fn registered_name(text: &str) -> Option<String> {
    let text = text.strip_suffix('.').unwrap_or(text);
    match url::Host::parse(text).ok()? {
        url::Host::Domain(name) if name.contains('.') && !name.starts_with('.') => Some(name),
        _ => None,
    }
}
