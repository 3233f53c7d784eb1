//! TLS to the SQL servers, which `cargo xtask services` starts with a certificate signed by a
//! CA it made (`P8FS_TEST_TLS_CA`): with that CA the session is encrypted (the server says
//! so); without it (the Web PKI roots) or with another CA the connection is refused with an
//! error that says the certificate is the problem, PostgreSQL's default `prefer` included;
//! only an explicit opt-out in the URL (`sslverify=false`, `verify_ca=false`) connects to a
//! server whose certificate is not trusted; a CA file that is missing is a clear error.

use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use p8fs_sql_dialect::{ErrorKind, SqlExecutor, SqlValue, Statement};

use crate::Backend;
use crate::harness::Ctx;

async fn connect(backend: Backend, url: &str) -> p8fs_sql_dialect::Result<Arc<dyn SqlExecutor>> {
    Ok(match backend {
        Backend::Postgres => {
            Arc::new(p8fs_postgres::PgProvider::connect(p8fs_postgres::PgConfig::from_url(url)?).await?)
        }
        _ => Arc::new(p8fs_tidb::TidbProvider::connect(p8fs_tidb::MySqlConfig::from_url(url)?).await?),
    })
}

/// Whether the server says this session is encrypted.
async fn encrypted(backend: Backend, db: &dyn SqlExecutor) -> Result<bool> {
    let sql = match backend {
        Backend::Postgres => "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        _ => "SHOW SESSION STATUS LIKE 'Ssl_cipher'",
    };
    let rows = db.query(&Statement::raw(sql)).await?;
    let row = rows.first().context("no answer about the session's TLS")?;
    Ok(match row.last() {
        Some(SqlValue::Bool(b)) => *b,
        Some(SqlValue::Int(i)) => *i != 0,
        Some(SqlValue::Text(cipher)) => !cipher.is_empty(),
        Some(SqlValue::Bytes(cipher)) => !cipher.is_empty(),
        other => bail!("unexpected answer about the session's TLS: {other:?}"),
    })
}

pub(crate) async fn tls_connections_verify_the_server_unless_told_not_to(ctx: Ctx) -> Result<()> {
    let backend = ctx.env.backend;
    // Without the services' `sslmode=disable`: the default is part of what is tested.
    let (url, _) = p8fs_sql_dialect::conn_url::take_params(ctx.env.url().context("no URL")?, &["sslmode"]);
    let url = url.as_str();
    let ca = ctx.env.var("P8FS_TEST_TLS_CA").context("no test CA (P8FS_TEST_TLS_CA): run cargo xtask services up")?;
    let dir = tempfile::tempdir()?;
    let wrong = dir.path().join("wrong-ca.pem");
    // A CA of its own, which signed nothing the servers hold.
    std::fs::write(&wrong, crate::certs::TestCa::new("p8fs test: a CA nobody uses")?.pem)?;
    let wrong = wrong.display().to_string();
    let missing = dir.path().join("missing.pem").display().to_string();
    let sep = if url.contains('?') { '&' } else { '?' };
    let (on, ca_param, opt_out) = match backend {
        Backend::Postgres => ("sslmode=verify-full", "sslrootcert", "sslverify=false"),
        _ => ("require_ssl=true", "ssl_ca", "verify_ca=false"),
    };
    let with = |extra: String| format!("{url}{sep}{extra}");

    // With no TLS setting, MySQL-protocol connections are plain text; PostgreSQL's default
    // `sslmode=prefer` uses the TLS the server offers and verifies it like every mode, so
    // the services' certificate (a CA the machine does not trust) is refused, and trusted
    // with the CA given; `disable` is plain text.
    if backend == Backend::Postgres {
        let e = match connect(backend, url).await {
            Ok(_) => bail!("sslmode=prefer connected to a certificate it cannot verify"),
            Err(e) => e,
        };
        let text = crate::error_chain(&e).to_lowercase();
        ensure!(text.contains("certificate") || text.contains("issuer"), "prefer: the error does not say why: {text}");
        let db = connect(backend, &with(format!("sslrootcert={ca}"))).await.context("prefer with the CA")?;
        ensure!(encrypted(backend, db.as_ref()).await?, "prefer with the CA is not encrypted");
        let plain = connect(backend, &with("sslmode=disable".to_owned())).await?;
        ensure!(!encrypted(backend, plain.as_ref()).await?, "sslmode=disable is encrypted");
    } else {
        let plain = connect(backend, url).await?;
        ensure!(!encrypted(backend, plain.as_ref()).await?, "a MySQL-protocol URL without TLS settings is encrypted");
    }

    // The services' CA: verified and encrypted.
    let db = connect(backend, &with(format!("{on}&{ca_param}={ca}"))).await.context(
        "TLS with the services' CA (services started by an older xtask have no TLS: cargo xtask services down, then up)",
    )?;
    ensure!(encrypted(backend, db.as_ref()).await?, "TLS with the right CA is not encrypted");
    db.query(&Statement::raw("SELECT 1")).await?;

    // Not trusted: the Web PKI roots (no CA given), then another CA. Refused, saying why.
    for (what, extra) in
        [("no CA (the Web PKI roots)", on.to_owned()), ("another CA", format!("{on}&{ca_param}={wrong}"))]
    {
        let e = match connect(backend, &with(extra)).await {
            Ok(_) => bail!("{what}: connected to a server whose certificate it cannot trust"),
            Err(e) => e,
        };
        let text = crate::error_chain(&e);
        let lower = text.to_lowercase();
        ensure!(
            lower.contains("certificate") || lower.contains("issuer"),
            "{what}: the error does not say why: {text}"
        );
        ensure!(!text.contains("p8fs:p8fs"), "{what}: the error shows the password: {text}");
    }

    // Only the explicit opt-out connects to an untrusted certificate (still encrypted).
    let db = connect(backend, &with(format!("{on}&{ca_param}={wrong}&{opt_out}")))
        .await
        .context("TLS with verification turned off")?;
    ensure!(encrypted(backend, db.as_ref()).await?, "TLS without verification is not encrypted");

    // A CA file that is not there.
    let e = match connect(backend, &with(format!("{on}&{ca_param}={missing}"))).await {
        Ok(_) => bail!("connected with a CA file that does not exist"),
        Err(e) => e,
    };
    let text = crate::error_chain(&e);
    ensure!(text.contains("missing.pem"), "the error does not name the CA file: {text}");
    if backend == Backend::Postgres {
        ensure!(e.kind() == ErrorKind::InvalidInput, "a missing CA file is {:?}: {text}", e.kind());
    }
    Ok(())
}
