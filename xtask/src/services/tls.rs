//! The services' TLS: a CA made here for the test servers (trusted by nothing on the
//! machine; the tests name it) and a server certificate it signs for `127.0.0.1` and
//! `localhost`. Made once under the state directory and reused; each server gets its own
//! copy of the certificate and key, owned by the user it runs as.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};

use crate::paths::Paths;

/// The variable of the services file that names the CA's certificate (PEM).
pub(crate) const CA_VAR: &str = "P8FS_TEST_TLS_CA";

/// A server's certificate and key files.
pub(super) struct ServerCert {
    pub(super) cert: PathBuf,
    pub(super) key: PathBuf,
}

fn dir(p: &Paths) -> PathBuf {
    p.state.join("tls")
}

/// The CA certificate, made with the server certificate when missing.
pub(crate) fn ca(p: &Paths) -> Result<PathBuf> {
    let d = dir(p);
    let (ca, cert, key) = (d.join("ca.pem"), d.join("server.pem"), d.join("server-key.pem"));
    if ca.exists() && cert.exists() && key.exists() {
        return Ok(ca);
    }
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    let (ca_pem, cert_pem, key_pem) = make().context("making the test certificates")?;
    std::fs::write(&cert, cert_pem)?;
    write_key(&key, &key_pem)?;
    // The CA last: its presence says the set is complete.
    std::fs::write(&ca, ca_pem)?;
    Ok(ca)
}

/// The server certificate and its key (made with the CA when missing), for a test that
/// serves TLS itself.
pub(crate) fn server_files(p: &Paths) -> Result<(PathBuf, PathBuf)> {
    ca(p)?;
    Ok((dir(p).join("server.pem"), dir(p).join("server-key.pem")))
}

/// A copy of the server certificate and key in `into` (created), owned by `user` when
/// running as root, the key readable by its owner only (PostgreSQL insists).
pub(super) fn server_copy(p: &Paths, into: &Path, user: Option<&str>) -> Result<ServerCert> {
    ca(p)?;
    std::fs::create_dir_all(into).with_context(|| format!("creating {}", into.display()))?;
    let out = ServerCert { cert: into.join("server.pem"), key: into.join("server-key.pem") };
    std::fs::copy(dir(p).join("server.pem"), &out.cert)?;
    write_key(&out.key, &std::fs::read_to_string(dir(p).join("server-key.pem"))?)?;
    if let Some(user) = user
        && crate::cmd::is_root()
    {
        crate::cmd::output(std::process::Command::new("chown").args(["-R", &format!("{user}:")]).arg(into))?;
    }
    Ok(out)
}

/// Writes a private key readable by its owner only: created with mode 0600 (never
/// readable by others, not even between the write and a chmod), and set to 0600 when it
/// already existed.
fn write_key(path: &Path, pem: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(pem.as_bytes())?;
    Ok(())
}

/// (CA certificate, server certificate, server key), PEM.
fn make() -> Result<(String, String, String)> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "p8fs test services CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    server.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = server.signed_by(&key, &ca_cert, &ca_key)?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}
