//! TLS client settings shared by the http and tls probes, how handshake
//! failures map to causes, and the certificate facts captured on each check.

use std::time::{SystemTime, UNIX_EPOCH};

use rustls::CertificateError;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::monitor::cause::Cause;
use crate::monitor::result::CertFacts;

/// The cause of a failed handshake, from the typed rustls error inside the
/// I/O error tokio-rustls returns.
pub fn handshake_cause(err: &std::io::Error) -> Cause {
    let Some(tls) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return match err.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe => Cause::TlsError,
            _ => Cause::TlsError,
        };
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                Cause::TlsExpired
            }
            // A signature that does not verify (or cannot, with the
            // algorithm used) leaves the chain unproven: untrusted.
            CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                Cause::TlsUntrusted
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Cause::TlsHostname
            }
            _ => Cause::TlsError,
        },
        _ => Cause::TlsError,
    }
}

/// Reads expiry, issuer, subject and names from the leaf certificate.
pub fn cert_facts(leaf: &CertificateDer<'_>, now: SystemTime) -> Option<CertFacts> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let sans = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    x509_parser::extensions::GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    x509_parser::extensions::GeneralName::IPAddress(bytes) => ip_from_bytes(bytes),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(CertFacts {
        not_after,
        days_left: (not_after as f64 - now_secs) / 86_400.0,
        issuer: cert.issuer().to_string(),
        subject: cert.subject().to_string(),
        sans,
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}

/// The SNI name for a host, or `None` when rustls cannot use it.
pub fn server_name(host: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
    .ok()
}
