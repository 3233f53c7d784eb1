//! Typed values of command-line options: clap refuses anything else with the list of
//! valid values (exit status 2), and nothing inside the commands branches on strings.

use clap::ValueEnum;
use p8fs_core::sql::{DialectKind, Metric};

/// `--dialect` of `p8fs schema`.
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
        match d {
            DialectArg::Tidb => DialectKind::Tidb,
            DialectArg::Mariadb => DialectKind::MariaDb,
            DialectArg::Postgresql => DialectKind::Postgres,
            DialectArg::Sqlite => DialectKind::Sqlite,
        }
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
        for (arg, kind) in [
            ("tidb", DialectKind::Tidb),
            ("mariadb", DialectKind::MariaDb),
            ("postgresql", DialectKind::Postgres),
            ("pg", DialectKind::Postgres),
            ("sqlite", DialectKind::Sqlite),
        ] {
            assert_eq!(DialectKind::from(DialectArg::from_str(arg, true).unwrap()), kind, "{arg}");
        }
        for (arg, m) in [("cosine", Metric::Cosine), ("euclidean", Metric::L2), ("dot", Metric::InnerProduct)] {
            assert_eq!(Metric::from(MetricArg::from_str(arg, true).unwrap()), m, "{arg}");
        }
        assert!(DialectArg::from_str("oracle", true).is_err());
    }
}
