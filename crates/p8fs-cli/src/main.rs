//! The `p8fs` command.
//!
//! Exit status: 0 on success, 1 when the thing asked for does not exist, 2 for bad usage or
//! input, 3 when a backend fails.

mod args;
mod cmds;
mod corpus;
mod demo;
mod doctor;
mod lines;
mod output;
mod serve;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// p8fs: entities, embeddings, key-value state and reverse name mappings on SQLite
/// (embedded, the default), PostgreSQL or TiDB.
#[derive(Debug, Parser)]
#[command(name = "p8fs", version)]
struct Cli {
    /// Where the embedded default keeps its files.
    #[arg(long, global = true, env = "P8FS_DATA_DIR", default_value = p8fs_core::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Print one JSON document per result instead of text for people.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a built-in corpus of 300 resources, then look them up by name and storage key,
    /// do a KV round trip and run semantic searches, timing each step.
    Demo {
        /// Tenant the demo writes to.
        #[arg(long, default_value = "demo")]
        tenant: String,
    },
    /// Check the configured provider and KV backend: reachable, flavor and version, a JSON
    /// and vector round trip through a real table, vector indexes and TiFlash replicas.
    Doctor,
    /// Import entities from JSON lines (one object per line; `-` reads stdin).
    Import {
        /// The file.
        file: PathBuf,
        /// Entity type (model).
        #[arg(long = "type")]
        ty: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Check every line before writing any: a bad line stops the import with nothing
        /// written (default: report and skip it). A database failure during the writes
        /// leaves the batches before it written; importing again is idempotent.
        #[arg(long)]
        strict: bool,
        /// Ignore the lines' ids (ids then derive from tenant and name): for copies that
        /// must not share ids with their source (ids are unique per tenant).
        #[arg(long)]
        fresh_ids: bool,
    },
    /// Export a tenant's entities of one type as JSON lines, readable by `import`.
    Export {
        /// Entity type (model).
        #[arg(long = "type")]
        ty: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Serve the HTTP KV proxy (the legacy wire contract and /v1) in front of a KV backend.
    Serve(serve::ServeArgs),
    /// Print the DDL of the core models for a dialect (no database needed).
    Schema {
        /// The dialect.
        #[arg(long, value_enum)]
        dialect: args::DialectArg,
        /// Only this model.
        #[arg(long)]
        model: Option<String>,
    },
    /// Create or update the tables of the configured provider.
    Migrate,
    /// Key-value state of a tenant.
    #[command(subcommand)]
    Kv(cmds::KvCmd),
    /// Entities with embeddings and reverse mappings.
    #[command(subcommand)]
    Entity(cmds::EntityCmd),
    /// Semantic search by text.
    Search {
        /// The text.
        text: String,
        /// Entity type (model).
        #[arg(long = "type")]
        ty: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Most results.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// The distance.
        #[arg(long, value_enum, default_value_t = args::MetricArg::Cosine)]
        metric: args::MetricArg,
    },
}

/// Exit status for a failing backend.
const EXIT_BACKEND: u8 = 3;
/// Exit status for bad usage or input.
const EXIT_USAGE: u8 = 2;
/// Exit status when the thing asked for does not exist.
const EXIT_NOT_FOUND: u8 = 1;

/// 1 for "not found", 2 for bad usage or input, 3 for a failing backend.
fn exit_status(e: &anyhow::Error) -> u8 {
    use p8fs_core::kv_layer::{KvError, KvErrorKind};
    use p8fs_core::sql::ErrorKind;
    let bad_kv = |k: &KvError| {
        matches!(
            k.kind(),
            KvErrorKind::InvalidKey | KvErrorKind::InvalidArgument | KvErrorKind::TooLarge | KvErrorKind::Serde
        )
    };
    for cause in e.chain() {
        if cause.is::<cmds::NotFound>() {
            return EXIT_NOT_FOUND;
        }
        if cause.is::<cmds::BadInput>() {
            return EXIT_USAGE;
        }
        if let Some(k) = cause.downcast_ref::<KvError>() {
            return if bad_kv(k) { EXIT_USAGE } else { EXIT_BACKEND };
        }
        if let Some(s) = cause.downcast_ref::<p8fs_core::sql::Error>() {
            return if matches!(s.kind(), ErrorKind::InvalidInput | ErrorKind::UniqueViolation) {
                EXIT_USAGE
            } else {
                EXIT_BACKEND
            };
        }
        if let Some(c) = cause.downcast_ref::<p8fs_core::Error>() {
            return match c {
                p8fs_core::Error::Config(_) => EXIT_USAGE,
                p8fs_core::Error::Sql(s)
                    if matches!(s.kind(), ErrorKind::InvalidInput | ErrorKind::UniqueViolation) =>
                {
                    EXIT_USAGE
                }
                p8fs_core::Error::Kv(k) if bad_kv(k) => EXIT_USAGE,
                _ => EXIT_BACKEND,
            };
        }
    }
    EXIT_BACKEND
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("p8fs: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_BACKEND);
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Demo { tenant } => demo::run(&cli.data_dir, cli.json, &tenant).await,
            Command::Doctor => doctor::run(&cli.data_dir, cli.json).await,
            Command::Import { file, ty, tenant, strict, fresh_ids } => {
                transfer::import(&cli.data_dir, cli.json, &file, &ty, &tenant, strict, fresh_ids).await
            }
            Command::Export { ty, tenant, output } => transfer::export(&cli.data_dir, &ty, &tenant, output).await,
            Command::Serve(args) => serve::run(&cli.data_dir, args).await,
            Command::Schema { dialect, model } => cmds::schema(dialect.into(), model.as_deref()),
            Command::Migrate => cmds::migrate(&cli.data_dir, cli.json).await,
            Command::Kv(c) => cmds::kv(&cli.data_dir, cli.json, c).await,
            Command::Entity(c) => cmds::entity(&cli.data_dir, cli.json, c).await,
            Command::Search { text, ty, tenant, limit, metric } => {
                cmds::search(&cli.data_dir, cli.json, &text, &ty, &tenant, limit, metric.into()).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("p8fs: {e:#}");
            ExitCode::from(exit_status(&e))
        }
    }
}
