//! Compiling the monitors that talk to a host directly: smtp, icmp and
//! grpc.

use std::time::Duration;

use super::{FieldError, required_target, tls_settings};
use crate::config::schema::MonitorConfig;
use crate::monitor::spec::{GrpcSpec, ICMP_DEFAULT_COUNT, ICMP_MAX_COUNT, IcmpSpec, SmtpSpec};
use crate::monitor::trust::TrustStore;

pub(super) fn build_smtp(
    m: &MonitorConfig,
    trust: &TrustStore,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<SmtpSpec> {
    let starttls = m.starttls.unwrap_or(false);
    if !starttls {
        // Without STARTTLS there is no handshake for these to act on.
        let tls_keys = [
            ("insecure", m.insecure),
            ("ca_file", m.ca_file.is_some()),
            ("expect.cert_min_days", m.expect.cert_min_days.is_some()),
        ];
        for (key, set) in tls_keys {
            if set {
                errors.push(FieldError::new(
                    key,
                    "used by an smtp monitor only with starttls: true",
                ));
            }
        }
    }
    let target = required_target(m, errors);
    let tls = tls_settings(m, trust, errors);
    Some(SmtpSpec {
        target: target?,
        starttls,
        tls: tls?,
        cert_min_days: m.expect.cert_min_days,
        timeout,
        max_latency: m.expect.max_latency,
    })
}

pub(super) fn build_icmp(
    m: &MonitorConfig,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<IcmpSpec> {
    let count = match m.count {
        None => Some(ICMP_DEFAULT_COUNT),
        Some(n) => match u16::try_from(n) {
            Ok(n @ 1..=ICMP_MAX_COUNT) => Some(n),
            _ => {
                errors.push(FieldError::new(
                    "count",
                    format!("invalid count {n} (expected 1 to {ICMP_MAX_COUNT} echo requests)"),
                ));
                None
            }
        },
    };
    let host = match m.target.as_deref() {
        None => {
            errors.push(FieldError::new(
                "target",
                "an icmp monitor needs a target (a host name or IP address)",
            ));
            None
        }
        Some(text) => match parse_host(text) {
            Some(host) => Some(host),
            None => {
                errors.push(FieldError::new(
                    "target",
                    format!(
                        "invalid target {text:?} (expected a host name or IP address without a \
                         port, e.g. db.example.com or 2001:db8::7)"
                    ),
                ));
                None
            }
        },
    };
    Some(IcmpSpec {
        host: host?,
        count: count?,
        timeout,
        max_latency: m.expect.max_latency,
    })
}

/// A bare host: an IP literal (IPv6 with or without brackets) or a name.
/// A port is refused, since ICMP has none and one would hint at a mistake.
fn parse_host(text: &str) -> Option<String> {
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = unbracketed.parse::<std::net::IpAddr>() {
        return Some(ip.to_string());
    }
    let valid = !text.is_empty()
        && text.len() <= 253
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    valid.then(|| text.to_owned())
}

pub(super) fn build_grpc(
    m: &MonitorConfig,
    trust: &TrustStore,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<GrpcSpec> {
    let target = required_target(m, errors);
    let use_tls = m.tls.unwrap_or(false);
    if !use_tls && (m.insecure || m.ca_file.is_some()) {
        let key = if m.insecure { "insecure" } else { "ca_file" };
        errors.push(FieldError::new(
            key,
            "only used with tls: true (this grpc monitor speaks plaintext h2c)",
        ));
    }
    // gRPC over TLS needs HTTP/2 agreed in ALPN: servers refuse without it.
    let tls = if use_tls {
        Some(tls_settings(m, trust, errors)?.with_alpn(&[b"h2"]))
    } else {
        None
    };
    Some(GrpcSpec {
        target: target?,
        service: m.service.clone().unwrap_or_default(),
        tls,
        cert_min_days: m.expect.cert_min_days,
        timeout,
        max_latency: m.expect.max_latency,
    })
}
