//! The `p8fs` command.
//!
//! Exit status: 0 on success, 2 for bad usage or input, 3 when a backend fails.

mod doctor;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// p8fs: entities, embeddings, key-value state and reverse name mappings on SQLite
/// (embedded, the default), PostgreSQL or TiDB.
#[derive(Debug, Parser)]
#[command(name = "p8fs", version, about)]
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
    /// Check the configured provider: reachable, flavor and version, and a JSON and vector
    /// round trip through a real table.
    Doctor,
    /// Serve the HTTP KV proxy (the legacy wire contract and /v1) in front of a KV backend.
    Serve(serve::ServeArgs),
}

/// Exit status for a failing backend.
const EXIT_BACKEND: u8 = 3;
/// Exit status for bad usage or input.
const EXIT_USAGE: u8 = 2;

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
            Command::Doctor => doctor::run(&cli.data_dir, cli.json).await,
            Command::Serve(args) => serve::run(&cli.data_dir, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("p8fs: {e:#}");
            let usage = e.downcast_ref::<p8fs_core::Error>().is_some_and(|e| matches!(e, p8fs_core::Error::Config(_)));
            ExitCode::from(if usage { EXIT_USAGE } else { EXIT_BACKEND })
        }
    }
}
