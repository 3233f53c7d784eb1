//! all-MiniLM-L6-v2, run locally ([`p8fs_minilm`]): the model the Python system embedded
//! with by default, so vectors it stored and vectors p8fs makes are comparable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use p8fs_minilm::MiniLm;

use super::{EmbedError, Embedder};
use crate::{Error, Result};

/// all-MiniLM-L6-v2 in this process. Embedding runs on tokio's blocking pool, on all
/// cores; one loaded model is shared by every embedder of the same directory.
#[derive(Debug, Clone)]
pub struct MiniLmEmbedder {
    model: Arc<MiniLm>,
    dir: PathBuf,
}

impl MiniLmEmbedder {
    /// The model in `cache_dir` (default: `P8FS_MODEL_CACHE`, then the user's cache
    /// directory), fetched and checked first if it is not installed (see
    /// [`p8fs_minilm::install`]); `progress` reports the fetch on stderr.
    ///
    /// # Errors
    /// [`Error::Config`] saying why the model could not be installed or loaded.
    pub async fn open(cache_dir: Option<PathBuf>, progress: bool) -> Result<Self> {
        let opts = p8fs_minilm::InstallOptions { cache_dir, progress, ..Default::default() };
        tokio::task::spawn_blocking(move || {
            let dir = p8fs_minilm::install(&opts).map_err(|e| Error::Config(format!("all-MiniLM-L6-v2: {e}")))?;
            Self::load(&dir)
        })
        .await
        .map_err(|e| Error::Config(format!("all-MiniLM-L6-v2: loading stopped: {e}")))?
    }

    /// The installed model in `dir` (no fetching). Loaded once per process and directory.
    ///
    /// # Errors
    /// [`Error::Config`] when the files cannot be loaded.
    pub fn load(dir: &Path) -> Result<Self> {
        static LOADED: Mutex<Option<HashMap<PathBuf, Arc<MiniLm>>>> = Mutex::new(None);
        let mut loaded = LOADED.lock().map_err(|_| Error::Config("all-MiniLM-L6-v2: loader poisoned".into()))?;
        let cache = loaded.get_or_insert_with(HashMap::new);
        let model = match cache.get(dir) {
            Some(m) => Arc::clone(m),
            None => {
                let m = Arc::new(MiniLm::load(dir).map_err(|e| Error::Config(format!("all-MiniLM-L6-v2: {e}")))?);
                cache.insert(dir.to_path_buf(), Arc::clone(&m));
                m
            }
        };
        Ok(Self { model, dir: dir.to_path_buf() })
    }

    /// Where the model's files are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Embedder for MiniLmEmbedder {
    fn name(&self) -> &str {
        p8fs_minilm::PROVIDER
    }

    fn dim(&self) -> usize {
        p8fs_minilm::DIM
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = Arc::clone(&self.model);
        let texts = texts.to_vec();
        let vectors = tokio::task::spawn_blocking(move || model.embed(&texts))
            .await
            .map_err(|e| EmbedError::bad_answer(format!("all-MiniLM-L6-v2 stopped: {e}")))?
            .map_err(|e| EmbedError::bad_answer(format!("all-MiniLM-L6-v2: {e}")))?;
        Ok(vectors)
    }
}
