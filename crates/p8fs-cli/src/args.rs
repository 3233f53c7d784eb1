//! Typed values of command-line options: clap refuses anything else with the list of
//! valid values (exit status 2), and nothing inside the commands branches on strings.

use clap::ValueEnum;
use p8fs_core::sql::{DialectKind, Metric};

/// `--dialect` of `p8fs schema`: the variants of [`DialectKind::ALL`], in its order and
/// with its names (a test holds both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DialectArg {
    /// TiDB (>= 8.4).
    Tidb,
    /// MariaDB (>= 11.7).
    Mariadb,
    /// PostgreSQL with pgvector.
    #[value(alias = "postgres", alias = "pg")]
    Postgresql,
    /// SQLite (the embedded default).
    Sqlite,
}

impl From<DialectArg> for DialectKind {
    fn from(d: DialectArg) -> Self {
        DialectKind::ALL[d as usize]
    }
}

/// `--metric` of `p8fs search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MetricArg {
    /// Cosine distance (score 1 - distance).
    Cosine,
    /// Euclidean distance.
    #[value(alias = "euclidean")]
    L2,
    /// Inner product.
    #[value(alias = "inner_product", alias = "dot")]
    Ip,
}

impl From<MetricArg> for Metric {
    fn from(m: MetricArg) -> Self {
        match m {
            MetricArg::Cosine => Metric::Cosine,
            MetricArg::L2 => Metric::L2,
            MetricArg::Ip => Metric::InnerProduct,
        }
    }
}

/// `--mode` of `p8fs search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModeArg {
    /// By meaning: embeddings.
    Vector,
    /// By words: full-text search.
    Text,
    /// Both, fused.
    Hybrid,
}

impl From<ModeArg> for p8fs_core::QueryMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Vector => p8fs_core::QueryMode::Vector,
            ModeArg::Text => p8fs_core::QueryMode::Text,
            ModeArg::Hybrid => p8fs_core::QueryMode::Hybrid,
        }
    }
}

/// `--embedder` (and `P8FS_EMBEDDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EmbedderArg {
    /// all-MiniLM-L6-v2, run locally (fetched once on first use).
    Minilm,
    /// No model: hashed words (shared words, not meaning).
    Lexical,
    /// An OpenAI-compatible service (P8FS_EMBEDDING_URL).
    Openai,
}

impl EmbedderArg {
    /// The value of `P8FS_EMBEDDER`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EmbedderArg::Minilm => "minilm",
            EmbedderArg::Lexical => "lexical",
            EmbedderArg::Openai => "openai",
        }
    }
}

/// `--log-format` of `p8fs serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per event.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_and_metric_maps_to_its_kind() {
        for arg in DialectArg::value_variants() {
            let name = arg.to_possible_value().map(|v| v.get_name().to_owned()).unwrap();
            assert_eq!(DialectKind::from(*arg).name(), name, "{arg:?}");
        }
        assert_eq!(DialectArg::value_variants().len(), DialectKind::ALL.len());
        let pg = DialectKind::from(DialectArg::from_str("pg", true).unwrap());
        assert_eq!(pg, "postgresql".parse::<DialectKind>().unwrap());
        for (arg, m) in [("cosine", Metric::Cosine), ("euclidean", Metric::L2), ("dot", Metric::InnerProduct)] {
            assert_eq!(Metric::from(MetricArg::from_str(arg, true).unwrap()), m, "{arg}");
        }
        assert!(DialectArg::from_str("oracle", true).is_err());
    }
}
