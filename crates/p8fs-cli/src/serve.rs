//! `p8fs serve`: the HTTP KV proxy, and with a SQL provider (`--sql URL`, or
//! `P8FS_STORAGE_PROVIDER`) the entity, search, REM and edge routes too.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use p8fs_core::{KvSettings, P8fs, Settings, SqlConfig, connect_kv};
use p8fs_server::auth::TokenSet;
use p8fs_server::{Limits, Metrics, ServerConfig};

/// Options of `p8fs serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "P8FS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// KV backend URL (embedded:///path, tikv://pd1:2379,pd2:2379, http(s)://proxy,
    /// mysql://, postgres://, sqlite://, auto:); default: the embedded store in the data
    /// directory.
    #[arg(long, env = "P8FS_KV_URL")]
    kv: Option<String>,
    /// SQL provider URL (postgres://, mysql://, sqlite://PATH): also serve entities,
    /// search, REM and edges under /v1 (with P8FS_STORAGE_PROVIDER set, the P8FS_*
    /// provider variables name it instead). Without either: KV only.
    #[arg(long)]
    sql: Option<String>,
    /// Token file: `TOKEN TENANT[,TENANT...]` or `TOKEN *` per line.
    #[arg(long, env = "P8FS_AUTH_TOKENS_FILE")]
    auth_tokens: Option<PathBuf>,
    /// Serve without tokens on a non-loopback address.
    #[arg(long)]
    allow_unauthenticated: bool,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, env = "P8FS_TLS_CERT_FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "P8FS_TLS_KEY_FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Longest logical key, bytes.
    #[arg(long, env = "P8FS_PROXY_MAX_KEY_BYTES", default_value_t = Limits::default().max_key_bytes)]
    max_key_bytes: usize,
    /// Largest value, bytes.
    #[arg(long, env = "P8FS_PROXY_MAX_VALUE_BYTES", default_value_t = Limits::default().max_value_bytes)]
    max_value_bytes: usize,
    /// Most entries per batch request.
    #[arg(long, env = "P8FS_PROXY_MAX_BATCH", default_value_t = Limits::default().max_batch)]
    max_batch: usize,
    /// Largest request body, bytes.
    #[arg(long, env = "P8FS_PROXY_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Request timeout, seconds.
    #[arg(long, env = "P8FS_PROXY_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// Most bytes of one scan or batch-get answer (a scan ends early, a batch get answers 413).
    #[arg(long, env = "P8FS_PROXY_MAX_RESPONSE_BYTES", default_value_t = Limits::default().max_response_bytes)]
    max_response_bytes: usize,
    /// Most data requests served at once; more answer 503.
    #[arg(long, env = "P8FS_PROXY_MAX_CONCURRENT_REQUESTS", default_value_t = Limits::default().max_concurrent_requests)]
    max_concurrent_requests: usize,
    /// Most bytes the data requests in flight may hold together (each reserves its worst
    /// case before it is read; more wait up to 5 s, then 503).
    #[arg(long, env = "P8FS_PROXY_MAX_INFLIGHT_BYTES", default_value_t = Limits::default().max_inflight_bytes)]
    max_inflight_bytes: usize,
    /// Most open connections; more wait in the listen backlog.
    #[arg(long, env = "P8FS_PROXY_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// Longest wait for a request head, seconds; also how long a keep-alive connection may
    /// stay idle.
    #[arg(long, env = "P8FS_PROXY_HEADER_READ_TIMEOUT_SECS", default_value_t = Limits::default().header_read_timeout.as_secs())]
    header_read_timeout_secs: u64,
    /// Largest request head (request line and headers), bytes (at least 8192).
    #[arg(long, env = "P8FS_PROXY_MAX_HEADER_BYTES", default_value_t = Limits::default().max_header_bytes)]
    max_header_bytes: usize,
    /// A client that takes none of its answer for this long is disconnected, seconds.
    #[arg(long, env = "P8FS_PROXY_WRITE_TIMEOUT_SECS", default_value_t = Limits::default().write_timeout.as_secs())]
    write_timeout_secs: u64,
    /// Log format.
    #[arg(long, env = "P8FS_LOG_FORMAT", value_enum, default_value_t = crate::args::LogFormat::Text)]
    log_format: crate::args::LogFormat,
    /// Print the OpenAPI document and exit.
    #[arg(long)]
    print_openapi: bool,
}

pub(crate) async fn run(data_dir: &Path, args: ServeArgs) -> Result<()> {
    if args.print_openapi {
        println!("{}", serde_json::to_string_pretty(p8fs_server::openapi::document())?);
        return Ok(());
    }
    init_logs(args.log_format);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(p8fs_server::TlsConfig::from_pem_files(cert, key).map_err(p8fs_core::Error::Config)?)
        }
        _ => None,
    };
    let tokens = match &args.auth_tokens {
        Some(path) => Some(TokenSet::load(path).map_err(p8fs_core::Error::Config)?),
        None => None,
    };
    if tokens.is_none() && !args.listen.ip().is_loopback() && !args.allow_unauthenticated {
        return Err(p8fs_core::Error::Config(format!(
            "refusing to serve {} without authentication: give --auth-tokens FILE, listen on a loopback address, or pass --allow-unauthenticated",
            args.listen
        ))
        .into());
    }
    // --kv overrides P8FS_KV_URL and --sql the provider variables; every other variable
    // (the token for a proxy behind this one, the TiKV keyspace, the embedder) still comes
    // from the environment.
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let vars = |k: &str| match k {
        "P8FS_KV_URL" if args.kv.is_some() => args.kv.clone(),
        "P8FS_STORAGE_PROVIDER" if args.sql.is_some() => None,
        _ => env(k),
    };
    let settings = KvSettings::from_vars(vars, data_dir)?;
    let full = if args.sql.is_some() || env("P8FS_STORAGE_PROVIDER").is_some() {
        let mut full = Settings::from_vars(vars, data_dir)?;
        if let Some(url) = &args.sql {
            full.sql = SqlConfig::from_url(url)?;
        }
        Some(full)
    } else {
        None
    };
    // With a SQL provider, the proxy's KV backend is the one `P8fs` keeps its reverse
    // mappings in, so both sides agree.
    let (backend, p8fs) = match full {
        Some(full) => {
            let described = full.sql.describe();
            let p8fs = P8fs::open(&full).await.with_context(|| {
                format!("opening the SQL provider {described} and the KV backend {}", settings.describe())
            })?;
            let migrated = p8fs.migrate().await.with_context(|| format!("migrating {described}"))?;
            tracing::info!(
                sql = %described,
                models = migrated.len(),
                embedder = p8fs.embedder().name(),
                "serving entities, search, REM and edges"
            );
            if let Some(note) = p8fs.embedder_note() {
                tracing::warn!("{note}");
            }
            let p8fs = Arc::new(p8fs);
            (Arc::clone(p8fs.kv().backend()), Some(p8fs))
        }
        None => {
            let backend = connect_kv(&settings)
                .await
                .with_context(|| format!("opening the KV backend {}", settings.describe()))?;
            (backend, None)
        }
    };
    let cfg = ServerConfig {
        limits: Limits {
            max_key_bytes: args.max_key_bytes,
            max_value_bytes: args.max_value_bytes,
            max_batch: args.max_batch,
            max_body_bytes: args.max_body_bytes,
            max_scan_limit: backend.capability().max_scan_limit,
            request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
            max_response_bytes: args.max_response_bytes.max(1),
            max_concurrent_requests: args.max_concurrent_requests.max(1),
            max_inflight_bytes: args.max_inflight_bytes.max(1),
            max_connections: args.max_connections.max(1),
            header_read_timeout: Duration::from_secs(args.header_read_timeout_secs.max(1)),
            max_header_bytes: args.max_header_bytes,
            write_timeout: Duration::from_secs(args.write_timeout_secs.max(1)),
        },
        tokens,
        // Served without tokens on an open address on purpose: its clients name it by
        // whatever host they reach it as.
        allow_any_host: args.allow_unauthenticated && !args.listen.ip().is_loopback(),
    };
    let limits = cfg.limits;
    let authenticated = cfg.tokens.is_some();
    let sql_side = p8fs.is_some();
    let router = match p8fs {
        Some(p8fs) => p8fs_server::router_with_entities(p8fs, cfg, Arc::new(Metrics::default())),
        None => p8fs_server::router(backend, cfg, Arc::new(Metrics::default())),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let https = args.tls_cert.is_some();
    tracing::info!(%addr, kv = %settings.describe(), sql = sql_side, authenticated, https, "p8fs proxy listening");
    // Scripts read this line to learn the port when they asked for port 0.
    match tls {
        None => {
            println!("listening on http://{addr}");
            p8fs_server::serve(listener, router, limits, shutdown_signal()).await.context("serving")?;
        }
        Some(tls) => {
            println!("listening on https://{addr}");
            p8fs_server::serve_tls(listener, router, limits, tls, shutdown_signal()).await.context("serving")?;
        }
    }
    tracing::info!("p8fs proxy stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT; requests in flight then finish.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM: finishing requests in flight"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: finishing requests in flight"),
    }
}

fn init_logs(format: crate::args::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("P8FS_LOG").unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    match format {
        crate::args::LogFormat::Json => builder.json().init(),
        crate::args::LogFormat::Text => builder.init(),
    }
}
