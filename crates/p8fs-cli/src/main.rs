//! The `p8fs` command.
//!
//! Exit status ([`exit_status`]): 0 on success, 1 when the thing asked for does not exist,
//! 2 for bad usage, configuration or input (and a conflict with stored data), 3 when a
//! backend or the command fails.

mod args;
mod cmds;
mod corpus;
mod demo;
mod doctor;
mod hits;
mod lines;
mod model;
mod output;
mod rem;
mod serve;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use p8fs_core::ErrorKind;

/// Shown after `p8fs --help`.
const EXIT_STATUSES: &str = "Exit status: 0 success; 1 the thing asked for does not exist; 2 bad usage, \
configuration or input, or a conflict with stored data (an id another entity holds); 3 a backend failed \
(unreachable, timed out, refused, a database error) or a doctor check failed.";

/// p8fs: entities, embeddings, key-value state and reverse name mappings on SQLite
/// (embedded, the default), PostgreSQL or TiDB.
#[derive(Debug, Parser)]
#[command(name = "p8fs", version, after_help = EXIT_STATUSES)]
struct Cli {
    /// Where the embedded default keeps its files.
    #[arg(long, global = true, env = "P8FS_DATA_DIR", default_value = p8fs_core::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Print one JSON document per result instead of text for people.
    #[arg(long, global = true)]
    json: bool,
    /// The embedder: minilm (all-MiniLM-L6-v2, run locally, fetched once on first use),
    /// lexical (no model: shared words, not meaning) or openai (P8FS_EMBEDDING_URL).
    /// Default: minilm, falling back to lexical when the model cannot be had.
    #[arg(long, global = true, value_enum, env = "P8FS_EMBEDDER")]
    embedder: Option<args::EmbedderArg>,
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
        /// vector: by meaning (embeddings); text: by words (the engine's full-text
        /// search); hybrid: both, fused.
        #[arg(long, value_enum, default_value_t = args::ModeArg::Vector)]
        mode: args::ModeArg,
        /// Hybrid: fuse by reciprocal rank fusion with this k (each result scores
        /// 1 / (k + rank) per side; 60 is usual) instead of by weights.
        #[arg(long, conflicts_with = "text_weight")]
        rrf_k: Option<f64>,
        /// Hybrid: the text side's weight (each side's scores scaled to 0..1, the vector
        /// side gets 1 - this). Default 0.2 (measured: docs/retrieval-eval.md).
        #[arg(long)]
        text_weight: Option<f64>,
    },
    /// Run a REM query: LOOKUP, GET, SEARCH, FUZZY, SELECT or TRAVERSE (anything else is
    /// a SEARCH); the grammar is in docs/rem.md.
    Rem {
        /// The query.
        query: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// SEARCH: only hits with at least this score.
        #[arg(long)]
        threshold: Option<f64>,
        /// SEARCH: by meaning (vector), by words (text) or both (hybrid).
        #[arg(long, value_enum, default_value_t = args::ModeArg::Vector)]
        mode: args::ModeArg,
    },
    /// Graph edges of an entity (its `graph_paths`).
    #[command(subcommand)]
    Edge(rem::EdgeCmd),
    /// The local embedding model (all-MiniLM-L6-v2): install it ahead of first use, or
    /// see where it is.
    #[command(subcommand)]
    Model(model::ModelCmd),
}

/// The exit status of a failure of this kind (`None`: an error no layer gave a kind, such
/// as an I/O error writing the output or a failed `doctor` check). The one place that
/// decides exit statuses; README.md's table says the same.
fn exit_status(kind: Option<ErrorKind>) -> u8 {
    match kind {
        Some(ErrorKind::NotFound) => 1,
        Some(ErrorKind::InvalidInput | ErrorKind::Config | ErrorKind::Conflict) => 2,
        // Unavailable, PermissionDenied, Unsupported, Internal, and no kind: a backend or
        // the command failed.
        _ => 3,
    }
}

/// The kind of the first core error in the chain (the commands report every failure of
/// the layers below, and their own bad input and "not found", as [`p8fs_core::Error`]).
fn kind_of(e: &anyhow::Error) -> Option<ErrorKind> {
    e.chain().find_map(|c| c.downcast_ref::<p8fs_core::Error>()).map(p8fs_core::Error::kind)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors are bad input.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit_status(Some(ErrorKind::InvalidInput)) } else { 0 });
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("p8fs: cannot start the async runtime: {e}");
            return ExitCode::from(exit_status(None));
        }
    };
    if let Some(e) = cli.embedder {
        let _ = cmds::EMBEDDER.set(e.as_str().to_owned());
    }
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
            Command::Search { text, ty, tenant, limit, metric, mode, rrf_k, text_weight } => {
                let fusion = match (rrf_k, text_weight) {
                    (_, Some(w)) if !(0.0..=1.0).contains(&w) => {
                        return Err(cmds::bad_input("--text-weight must be a number from 0 to 1"));
                    }
                    (_, Some(w)) => p8fs_core::Fusion::Weighted { text: w, vector: 1.0 - w },
                    (Some(k), None) => p8fs_core::Fusion::Rrf { k },
                    (None, None) => p8fs_core::Fusion::default(),
                };
                cmds::search(&cli.data_dir, cli.json, &text, &ty, &tenant, limit, metric.into(), mode.into(), fusion)
                    .await
            }
            Command::Rem { query, tenant, threshold, mode } => {
                rem::rem(&cli.data_dir, cli.json, &query, &tenant, threshold, mode.into()).await
            }
            Command::Edge(c) => rem::edge(&cli.data_dir, cli.json, c).await,
            Command::Model(c) => tokio::task::block_in_place(|| model::run(cli.json, c)),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("p8fs: {e:#}");
            ExitCode::from(exit_status(kind_of(&e)))
        }
    }
}
