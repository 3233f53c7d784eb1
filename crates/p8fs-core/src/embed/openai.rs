//! `OpenAiEmbedder` (feature `openai`): the client of an OpenAI-compatible embeddings service
//! (`POST {base}/v1/embeddings`, the shape the platform's own embedding service speaks).

use std::time::Duration;

#[cfg(feature = "openai")]
use async_trait::async_trait;
#[cfg(feature = "openai")]
use serde_json::{Value, json};

#[cfg(feature = "openai")]
use super::{EmbedError, Embedder};
#[cfg(feature = "openai")]
use crate::{Error, Result};

/// Settings of an `OpenAiEmbedder`. There is no default base URL: it must be given.
/// Its `Debug` output hides the key and the URL's secrets ([`p8fs_redact`]).
#[derive(Clone)]
pub struct OpenAiConfig {
    /// Base URL, e.g. `https://api.openai.com` or the platform's service.
    pub base_url: String,
    /// Model, e.g. `text-embedding-3-small`.
    pub model: String,
    /// Bearer key, when the service needs one.
    pub api_key: Option<String>,
    /// Dimension the model returns (checked on every answer).
    pub dim: usize,
    /// Sent as `dimensions`, for models that can shorten their vectors (OpenAI's
    /// `text-embedding-3-*`); `None` sends nothing, for services that refuse the field.
    pub dimensions: Option<usize>,
    /// Texts per request.
    pub batch_size: usize,
    /// Retries after 429 or 5xx answers and transport errors.
    pub retries: u32,
    /// Deadline of one request.
    pub timeout: Duration,
}

impl OpenAiConfig {
    /// Defaults: batches of 64, 4 retries, 60 s per request; `dimensions` asked for
    /// `text-embedding-3-*` models (their native sizes, 1536 and 3072, do not fit the core
    /// models' 384-dimension columns).
    pub fn new(base_url: impl Into<String>, model: impl Into<String>, dim: usize) -> Self {
        let model = model.into();
        Self {
            base_url: base_url.into(),
            dimensions: model.starts_with("text-embedding-3").then_some(dim),
            model,
            api_key: None,
            dim,
            batch_size: 64,
            retries: 4,
            timeout: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &p8fs_redact::connection(&self.base_url))
            .field("model", &self.model)
            .field("api_key", &p8fs_redact::option(&self.api_key))
            .field("dim", &self.dim)
            .field("dimensions", &self.dimensions)
            .field("batch_size", &self.batch_size)
            .field("retries", &self.retries)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(feature = "openai")]
/// An OpenAI-compatible embeddings client.
#[derive(Debug, Clone)]
pub struct OpenAiEmbedder {
    cfg: OpenAiConfig,
    http: reqwest::Client,
}

#[cfg(feature = "openai")]
impl OpenAiEmbedder {
    /// A client for `cfg`.
    ///
    /// # Errors
    /// [`Error::Config`] for a base URL that is not http(s) or a zero dimension;
    /// [`Error::Internal`] when the HTTP client cannot be built.
    pub fn new(cfg: OpenAiConfig) -> Result<Self> {
        if !(cfg.base_url.starts_with("http://") || cfg.base_url.starts_with("https://")) || cfg.dim == 0 {
            return Err(Error::Config(format!(
                "embedding service URL {} must start with http(s):// and the dimension must be positive",
                p8fs_redact::connection(&cfg.base_url)
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| Error::Internal(format!("embedding HTTP client: {e}")))?;
        Ok(Self { cfg, http })
    }

    /// One request, retried after 429 and 5xx answers and transport errors.
    async fn batch(&self, texts: &[String]) -> std::result::Result<Vec<Vec<f32>>, EmbedError> {
        let url = format!("{}/v1/embeddings", self.cfg.base_url.trim_end_matches('/'));
        // For messages: without the URL's password or secret parameters.
        let shown = p8fs_redact::connection(&url);
        let mut body = json!({ "model": self.cfg.model, "input": texts });
        if let Some(d) = self.cfg.dimensions {
            body["dimensions"] = json!(d);
        }
        // reqwest's messages name the URL with its query: left out, `shown` says it.
        let transport =
            |e: reqwest::Error| EmbedError::Transport { service: shown.clone(), message: e.without_url().to_string() };
        let mut attempt = 0u32;
        loop {
            let mut req = self.http.post(&url).json(&body);
            if let Some(k) = &self.cfg.api_key {
                req = req.bearer_auth(k);
            }
            let (retry_after, err) = match req.send().await {
                Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                    Ok(bytes) => {
                        let v: Value = serde_json::from_slice(&bytes)
                            .map_err(|e| EmbedError::bad_answer(format!("{shown}: the answer is not JSON: {e}")))?;
                        return self.parse(&v, texts.len());
                    }
                    // The body broke off: as transient as a failed connection.
                    Err(e) => (None, transport(e)),
                },
                Ok(resp) => {
                    let status = resp.status();
                    let wait = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|h| h.to_str().ok())
                        .and_then(|s| s.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = resp.text().await.unwrap_or_default();
                    let err = EmbedError::Status {
                        service: shown.clone(),
                        status: status.as_u16(),
                        body: text.chars().take(200).collect(),
                    };
                    (wait, err)
                }
                Err(e) => (None, transport(e)),
            };
            if !err.is_retryable() || attempt >= self.cfg.retries {
                return Err(err);
            }
            attempt += 1;
            let backoff =
                retry_after.unwrap_or(Duration::from_millis(200 << attempt.min(6))).min(Duration::from_secs(30));
            tokio::time::sleep(backoff).await;
        }
    }

    fn parse(&self, v: &Value, n: usize) -> std::result::Result<Vec<Vec<f32>>, EmbedError> {
        let data =
            v.get("data").and_then(Value::as_array).ok_or_else(|| EmbedError::bad_answer("answer without data"))?;
        let mut out = vec![Vec::new(); n];
        for (pos, item) in data.iter().enumerate() {
            let i = item.get("index").and_then(Value::as_u64).map_or(pos, |i| i as usize);
            let emb = item
                .get("embedding")
                .and_then(Value::as_array)
                .ok_or_else(|| EmbedError::bad_answer("item without embedding"))?;
            let vec: Vec<f32> = emb.iter().map(|x| x.as_f64().unwrap_or(f64::NAN) as f32).collect();
            if vec.len() != self.cfg.dim || vec.iter().any(|x| !x.is_finite()) {
                return Err(EmbedError::bad_answer(format!(
                    "model {} returned a vector of {} dimensions (expected {}) or with non-finite values",
                    self.cfg.model,
                    vec.len(),
                    self.cfg.dim
                )));
            }
            *out.get_mut(i).ok_or_else(|| EmbedError::bad_answer(format!("answer index {i} out of range")))? = vec;
        }
        if out.iter().any(Vec::is_empty) {
            return Err(EmbedError::bad_answer(format!("the answer has {} embeddings for {n} texts", data.len())));
        }
        Ok(out)
    }
}

#[cfg(feature = "openai")]
#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn name(&self) -> &str {
        &self.cfg.model
    }

    fn dim(&self) -> usize {
        self.cfg.dim
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.cfg.batch_size.max(1)) {
            out.extend(self.batch(chunk).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key_and_the_urls_secrets() {
        let mut c = OpenAiConfig::new("https://u:S3cretPW@emb.local/?api_key=S3cretQ", "m", 3);
        c.api_key = Some("S3cretKEY".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("S3cret"), "{shown}");
        assert!(shown.contains("api_key: Some(\"***\")"), "{shown}");
    }

    #[cfg(feature = "openai")]
    #[tokio::test]
    async fn errors_name_the_service_without_its_secrets() {
        let mut c = OpenAiConfig::new("http://u:S3cretPW@127.0.0.1:1/?key=S3cretQ", "m", 3);
        c.api_key = Some("S3cretKEY".into());
        c.retries = 0;
        let e = OpenAiEmbedder::new(c).unwrap().embed(&["x".into()]).await.unwrap_err().to_string();
        assert!(!e.contains("S3cret") && e.contains("127.0.0.1:1"), "{e}");
        let e = OpenAiEmbedder::new(OpenAiConfig::new("ftp://u:S3cretPW@h", "m", 3)).unwrap_err().to_string();
        assert!(!e.contains("S3cret"), "{e}");
    }
}
