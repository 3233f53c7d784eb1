//! The rustls pieces of TLS to PostgreSQL: roots from a PEM file, and the verifier of the
//! explicit opt-out (`sslverify=false`).

use std::path::Path;
use std::sync::Arc;

use p8fs_sql_dialect::{Error, ErrorKind, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The certificate authorities of a PEM file.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] naming the file when it cannot be read, holds a malformed
/// certificate, or holds none.
pub(crate) fn root_store(path: &Path) -> Result<RootCertStore> {
    let bad = |what: String| Error::new(ErrorKind::InvalidInput, what).with_backend("postgres");
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(bad(format!("sslrootcert {} holds no certificate", path.display())));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// Accepts any server certificate (the handshake's signatures are still checked, so the
/// session is encrypted; who is at the other end is not known). Only `sslverify=false`.
#[derive(Debug)]
pub(crate) struct Unverified(Arc<CryptoProvider>);

impl Unverified {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> Self {
        Self(provider)
    }
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
