//! TLS for the proxy itself (rustls with ring): a certificate chain and its key from PEM
//! files. HTTP/1.1 only, as the plain listener; TLS 1.2 and 1.3 with rustls's safe
//! defaults. A TLS listener speaks nothing else: a plain-text request gets no answer.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The proxy's TLS settings, ready to serve ([`crate::serve_tls`]). Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig(pub(crate) Arc<ServerConfig>);

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

impl TlsConfig {
    /// The certificate chain (leaf first) and private key (PKCS#8, PKCS#1 or SEC1) of
    /// these PEM files.
    ///
    /// # Errors
    /// A message naming the file that cannot be read or holds no certificate or key, or
    /// saying the key does not match the certificate.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, String> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| format!("TLS certificate {}: {e}", cert.display()))?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("TLS key {}: {e}", key.display()))?;
        Self::new(chain, key)
    }

    /// As [`TlsConfig::from_pem_files`], from PEM text.
    ///
    /// # Errors
    /// As [`TlsConfig::from_pem_files`].
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<Self, String> {
        let chain = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("TLS certificate: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("TLS key: {e}"))?;
        Self::new(chain, key)
    }

    fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<Self, String> {
        if chain.is_empty() {
            return Err("the TLS certificate file holds no certificate".into());
        }
        let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("the TLS key does not fit the certificate: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self(Arc::new(config)))
    }
}
