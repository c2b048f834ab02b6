//! Whom a monitor's TLS checks trust: the system store, an extra CA file,
//! or nobody (`insecure`). Built once per monitor at compile time; the
//! [`TrustStore`] shares the common configurations and reads the system
//! store once, and is owned by whoever compiles monitors (no globals).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Why TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// The `ca_file` could not be read or holds no certificate.
    #[error("cannot use CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// A TLS client configuration, built once per monitor and shared by its checks.
#[derive(Clone)]
pub struct TlsSettings {
    config: Arc<ClientConfig>,
    /// What it was built from: `insecure` and `ca_file`.
    source: (bool, Option<PathBuf>),
    /// The ALPN protocols offered; empty offers none.
    alpn: Vec<Vec<u8>>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSettings")
    }
}

impl TlsSettings {
    /// The rustls configuration.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// The same trust offering `protocols` in ALPN (`h2` for gRPC, which
    /// servers refuse without it). Built once per monitor, at compile time,
    /// because it copies the configuration.
    pub fn with_alpn(&self, protocols: &[&[u8]]) -> TlsSettings {
        let alpn: Vec<Vec<u8>> = protocols.iter().map(|p| p.to_vec()).collect();
        let mut config = ClientConfig::clone(&self.config);
        config.alpn_protocols = alpn.clone();
        TlsSettings {
            config: Arc::new(config),
            source: self.source.clone(),
            alpn,
        }
    }
}

// Two monitors with the same trust are the same monitor to a reload: the
// configuration is compared by what built it, not by its address.
impl PartialEq for TlsSettings {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.alpn == other.alpn
    }
}

/// Builds [`TlsSettings`], sharing one configuration among every monitor
/// that trusts the system store (or nobody), and reading the system store
/// once, on first use: reading it costs milliseconds.
#[derive(Default)]
pub struct TrustStore {
    roots: OnceLock<RootCertStore>,
    verified: OnceLock<Arc<ClientConfig>>,
    insecure: OnceLock<Arc<ClientConfig>>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrustStore")
    }
}

impl TrustStore {
    /// Trust the system store (honouring `SSL_CERT_FILE`/`SSL_CERT_DIR`) plus
    /// `ca_file`; or verify nothing when `insecure`.
    pub fn settings(
        &self,
        insecure: bool,
        ca_file: Option<&Path>,
    ) -> Result<TlsSettings, TlsSetupError> {
        let source = (insecure, ca_file.map(Path::to_path_buf));
        if insecure {
            let config = self.insecure.get_or_init(|| {
                Arc::new(
                    builder()
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
                        .with_no_client_auth(),
                )
            });
            return Ok(TlsSettings {
                config: config.clone(),
                source,
                alpn: Vec::new(),
            });
        }
        let Some(ca_file) = ca_file else {
            let config = self
                .verified
                .get_or_init(|| Arc::new(verified_config(self.system_roots().clone())));
            return Ok(TlsSettings {
                config: config.clone(),
                source,
                alpn: Vec::new(),
            });
        };
        let mut roots = self.system_roots().clone();
        let bad = |reason: String| TlsSetupError::CaFile {
            path: ca_file.display().to_string(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(ca_file)
            .map_err(|err| bad(err.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| bad(err.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in it".to_owned()));
        }
        for cert in certs {
            roots.add(cert).map_err(|err| bad(err.to_string()))?;
        }
        Ok(TlsSettings {
            config: Arc::new(verified_config(roots)),
            source,
            alpn: Vec::new(),
        })
    }

    /// The system trust store.
    fn system_roots(&self) -> &RootCertStore {
        self.roots.get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            for err in &loaded.errors {
                tracing::warn!(error = %err, "could not load part of the system trust store");
            }
            let mut roots = RootCertStore::empty();
            let (_added, _ignored) = roots.add_parsable_certificates(loaded.certs);
            roots
        })
    }
}

fn builder() -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
}

fn verified_config(roots: RootCertStore) -> ClientConfig {
    builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// `insecure: true`: the handshake completes whatever the certificate says,
/// so the check still measures the TLS phase and records the certificate.
#[derive(Debug)]
struct AcceptAnyCertificate;

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
