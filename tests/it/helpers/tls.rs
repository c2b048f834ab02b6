//! TLS peers with certificates made up by rcgen for each test: valid,
//! expiring, expired, self-signed, for the wrong name, or forged.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::LOCALHOST;
use super::wire::{accept_loop, healthy_response, read_request, response};

/// The certificate a TLS peer presents.
#[derive(Debug, Clone, Copy)]
pub enum CertKind {
    /// Signed by the test CA for `localhost` and `127.0.0.1`, expiring in this many days.
    Valid { days_left: i64 },
    /// For `localhost`, signed by itself: no CA vouches for it.
    SelfSigned,
    /// Signed by the test CA, expired two days ago.
    Expired,
    /// Signed by the test CA for `other.example` only.
    WrongName,
    /// Valid for `localhost`, but signed by an impostor that carries the test
    /// CA's name with another key (of another algorithm): untrusted, although
    /// a trusted CA of that name exists.
    ForgedIssuer,
}

/// An HTTPS server (HTTP/1.1 over rustls) answering 200 `{"status":"ok"}`.
pub struct TlsPeer {
    pub addr: SocketAddr,
    /// The CA that signed the leaf (the leaf itself when self-signed).
    pub ca_pem: String,
    ca_file: tempfile::TempPath,
    handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TlsPeer {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://localhost:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port())
    }

    /// `ca_pem` written to a file, for a monitor's `ca_file`.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// Handshakes completed (the client accepted the certificate).
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a TLS peer presenting a certificate of `kind`.
pub async fn spawn_tls(kind: CertKind) -> TlsPeer {
    spawn_tls_answering(kind, healthy_response()).await
}

/// A TLS peer answering `code` with these headers and body.
pub async fn spawn_tls_status(kind: CertKind, code: u16, headers: &[(&str, &str)]) -> TlsPeer {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    spawn_tls_answering(kind, response(code, &headers, b"")).await
}

async fn spawn_tls_answering(kind: CertKind, answer: Vec<u8>) -> TlsPeer {
    let (chain, key, ca_pem) = make_certs(kind);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a usable server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let mut ca_file = tempfile::Builder::new()
        .prefix("hopwatch-ca-")
        .suffix(".pem")
        .tempfile()
        .expect("a temp file for the CA");
    std::io::Write::write_all(&mut ca_file, ca_pem.as_bytes()).expect("write the CA file");
    let listener = TcpListener::bind((LOCALHOST, 0))
        .await
        .expect("bind a TLS peer");
    let addr = listener.local_addr().expect("the TLS peer's address");
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counter = handshakes.clone();
    let answer = Arc::new(answer);
    let task = accept_loop(listener, move |stream| {
        let (acceptor, counter, answer) = (acceptor.clone(), counter.clone(), answer.clone());
        async move {
            // A client that rejects the certificate aborts the handshake: fine.
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            if read_request(&mut tls).await.is_some() {
                let _ = tls.write_all(&answer).await;
            }
            let _ = tls.shutdown().await;
        }
    });
    TlsPeer {
        addr,
        ca_pem,
        ca_file: ca_file.into_temp_path(),
        handshakes,
        task,
    }
}

type Chain = Vec<rustls::pki_types::CertificateDer<'static>>;
type Key = rustls::pki_types::PrivateKeyDer<'static>;

/// A CA and a leaf of `kind`, both generated now so expiry is relative to today.
fn make_certs(kind: CertKind) -> (Chain, Key, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let now = time::OffsetDateTime::now_utc();
    let days = time::Duration::days;

    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    // Distinctive names: a CA or leaf named like an anchor of the system
    // trust store (some hosts trust a "CN=localhost") would be checked
    // against that anchor and fail differently.
    ca.distinguished_name
        .push(DnType::CommonName, "hopwatch test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = now - days(30);
    ca.not_after = now + days(3650);
    let ca_cert = ca.self_signed(&ca_key).expect("a CA certificate");

    let names = match kind {
        CertKind::WrongName => vec!["other.example".to_owned()],
        _ => vec!["localhost".to_owned(), LOCALHOST.to_owned()],
    };
    let mut leaf = CertificateParams::new(names.clone()).expect("leaf params");
    leaf.distinguished_name.push(
        DnType::CommonName,
        format!("hopwatch test leaf for {}", names[0]),
    );
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    (leaf.not_before, leaf.not_after) = match kind {
        CertKind::Valid { days_left } => (now - days(1), now + days(days_left)),
        CertKind::Expired => (now - days(30), now - days(2)),
        CertKind::SelfSigned | CertKind::WrongName | CertKind::ForgedIssuer => {
            (now - days(1), now + days(90))
        }
    };
    let leaf_key = KeyPair::generate().expect("a leaf key");
    let (leaf_cert, ca_pem) = match kind {
        CertKind::SelfSigned => {
            let cert = leaf
                .self_signed(&leaf_key)
                .expect("a self-signed certificate");
            let pem = cert.pem();
            (cert, pem)
        }
        CertKind::ForgedIssuer => {
            let impostor_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("an Ed25519 key");
            let issuer = Issuer::new(ca, &impostor_key);
            let cert = leaf
                .signed_by(&leaf_key, &issuer)
                .expect("a certificate signed by the impostor");
            (cert, ca_cert.pem())
        }
        _ => {
            let issuer = Issuer::new(ca, &ca_key);
            let cert = leaf
                .signed_by(&leaf_key, &issuer)
                .expect("a CA-signed certificate");
            (cert, ca_cert.pem())
        }
    };
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(leaf_key.serialize_der());
    (vec![leaf_cert.der().clone()], key.into(), ca_pem)
}

/// A certificate and its key as PEM files, for servers that read files
/// (aiosmtpd's `--tlscert`/`--tlskey`), and the CA that signed it.
pub struct CertFiles {
    pub cert: tempfile::TempPath,
    pub key: tempfile::TempPath,
    pub ca_file: tempfile::TempPath,
}

/// Writes a leaf of `kind`, its key and its CA to temp files.
pub fn cert_files(kind: CertKind) -> CertFiles {
    let (chain, key, ca_pem) = make_certs(kind);
    let cert_pem: String = chain.iter().map(|der| pem("CERTIFICATE", der)).collect();
    let key_pem = pem("PRIVATE KEY", key.secret_der());
    let write = |suffix: &str, text: &str| {
        let mut file = tempfile::Builder::new()
            .prefix("hopwatch-")
            .suffix(suffix)
            .tempfile()
            .expect("a temp file");
        std::io::Write::write_all(&mut file, text.as_bytes()).expect("write a PEM file");
        file.into_temp_path()
    };
    CertFiles {
        cert: write("-cert.pem", &cert_pem),
        key: write("-key.pem", &key_pem),
        ca_file: write("-ca.pem", &ca_pem),
    }
}

/// DER bytes as a PEM block of `label`.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
