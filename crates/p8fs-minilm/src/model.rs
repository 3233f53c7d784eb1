//! The model: tokenizer, BERT forward pass, mean pooling, L2 normalisation.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams, TruncationStrategy};

use crate::Error;

/// The dimension of every vector.
pub const DIM: usize = 384;

/// Word pieces per text, `[CLS]` and `[SEP]` included: the model's `max_seq_length` in
/// sentence-transformers (the file `tokenizer.json` itself says 128; sentence-transformers
/// overrides it, and so does this crate).
pub const MAX_SEQ_LEN: usize = 256;

/// The provider name recorded with each embedding: the model, as the Python system names
/// it.
pub const PROVIDER: &str = "all-MiniLM-L6-v2";

/// Texts per forward pass, after sorting by length (so a batch pads little). Memory of
/// one pass is about `batch x 12 heads x len^2` floats for attention: 100 MB at 32 x 256.
const BATCH: usize = 32;

/// all-MiniLM-L6-v2, loaded. `Send + Sync`: one instance serves many threads (each call
/// uses candle's thread pool for its matrix products).
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm").field("provider", &PROVIDER).field("dim", &DIM).finish()
    }
}

impl MiniLm {
    /// Loads the model from an installed directory (`model.safetensors`, `tokenizer.json`,
    /// `config.json`; see [`crate::install`]).
    ///
    /// # Errors
    /// Missing or unreadable files, a configuration that is not this model's.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let config_path = dir.join("config.json");
        let raw = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let config: Config = serde_json::from_str(&raw).map_err(|e| Error::Config(e.to_string()))?;
        if config.hidden_size != DIM {
            return Err(Error::Config(format!("hidden size {} is not {DIM}", config.hidden_size)));
        }
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tok_path).map_err(|e| Error::Tokenizer(format!("{}: {e}", tok_path.display())))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_SEQ_LEN,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                ..TruncationParams::default()
            }))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        tokenizer
            .with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..PaddingParams::default() }));
        let device = Device::Cpu;
        let weights = dir.join("model.safetensors");
        // Read, not memory-mapped: mapping needs `unsafe`, which the workspace forbids, and
        // 87 MiB read once costs tens of milliseconds.
        let bytes = std::fs::read(&weights).map_err(|e| Error::io(&weights, e))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)?;
        let model = BertModel::load(vb, &config)?;
        Ok(Self { model, tokenizer, device })
    }

    /// Word pieces of `text` after truncation, `[CLS]` and `[SEP]` included.
    ///
    /// # Errors
    /// The tokenizer's.
    pub fn token_count(&self, text: &str) -> Result<usize, Error> {
        let enc = self.tokenizer.encode(text, true).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().len())
    }

    /// One unit vector of [`DIM`] floats per text, in order. Long texts are truncated at
    /// [`MAX_SEQ_LEN`] word pieces; an empty text embeds `[CLS] [SEP]`, as in
    /// sentence-transformers. Runs on all cores (candle's matrix products and the
    /// tokenizer's batch encoding are parallel); blocking: call it off an async executor.
    ///
    /// # Errors
    /// The tokenizer's and candle's (never expected for valid UTF-8 input).
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>, Error> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        // Longest first, so each batch pads to a similar length (by bytes, a cheap proxy).
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].as_ref().len()));
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_ref()).collect();
            for (&i, v) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, Error> {
        let encodings =
            self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| Error::Tokenizer(e.to_string()))?;
        let len = encodings.first().map_or(0, |e| e.get_ids().len());
        let n = encodings.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (n, len, DIM)
        // Mean over the real tokens (sentence-transformers' Pooling, mean mode), then L2
        // (its Normalize module): sum(h * m) / max(sum(m), 1e-9), v / max(|v|, 1e-12).
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let summed = hidden.broadcast_mul(&m)?.sum(1)?; // (n, DIM)
        let counts = m.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (n, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
        Ok(mean.broadcast_div(&norms)?.to_vec2::<f32>()?)
    }
}
