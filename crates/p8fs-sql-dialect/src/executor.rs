//! The execution contract every SQL provider implements.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{Dialect, Metric, Result, Row, ServerInfo, Statement};

/// Checks the rows one statement of [`SqlExecutor::query_in_transaction`] returned, before
/// the next statement runs; called with the statement's index. An error rolls the whole
/// transaction back and is what the call returns: how a caller refuses a write whose
/// outcome it can only see inside the transaction (an upsert that matched a row other
/// than the one it named) without leaving anything of it behind.
pub type RowCheck = dyn Fn(usize, &[Row]) -> Result<()> + Send + Sync;

/// A nearest-neighbour search an executor may answer itself, from an index it keeps in
/// process (the embedded default, `p8fs-sqlite`), instead of running the dialect's search
/// statement. The store has already checked it (dimensions, limit, fields, finite values).
#[derive(Debug, Clone, Copy)]
pub struct NearestQuery<'a> {
    /// The embeddings table's schema (`None` where the engine has none).
    pub schema: Option<&'a str>,
    /// The embeddings table (a model's name, never user text).
    pub table: &'a str,
    /// Only this tenant's rows are candidates.
    pub tenant: &'a str,
    /// The query vector.
    pub query: &'a [f32],
    /// The distance.
    pub metric: Metric,
    /// Only these embedded fields (empty: all).
    pub fields: &'a [String],
    /// Most results.
    pub limit: usize,
    /// Every row compared (true nearest neighbours), or through an approximate index.
    pub exact: bool,
    /// Approximate: how many candidates to take from the index first.
    pub candidates: Option<usize>,
}

/// One nearest embedding found by [`SqlExecutor::nearest`].
#[derive(Debug, Clone, PartialEq)]
pub struct NearestHit {
    /// The entity's id.
    pub entity_id: String,
    /// The embedded field.
    pub field: String,
    /// The distance, exactly as [`Metric::distance`] computes it.
    pub distance: f64,
}

/// The answer of [`SqlExecutor::nearest`]: best first (distance, then entity id).
#[derive(Debug, Clone, PartialEq)]
pub struct NearestAnswer {
    /// Best first.
    pub hits: Vec<NearestHit>,
    /// Whether every candidate row was compared.
    pub exact: bool,
    /// Candidates taken from the index (approximate only).
    pub candidates_examined: Option<usize>,
}

/// Executes [`Statement`]s built by this crate against one database.
///
/// Implemented by `p8fs-tidb` (TiDB and MariaDB over the MySQL protocol), `p8fs-postgres`
/// and `p8fs-sqlite`. Every method fails with an error whose [`crate::Error::backend`]
/// names the provider; none waits forever: a server that stops answering produces
/// [`crate::ErrorKind::Unavailable`] or [`crate::ErrorKind::Timeout`].
#[async_trait]
pub trait SqlExecutor: Send + Sync + std::fmt::Debug {
    /// The dialect statements for this executor must be built with.
    fn dialect(&self) -> &'static dyn Dialect;

    /// Identifies the database for caches (the URL without its password, or the file):
    /// two executors on the same database return the same key.
    fn cache_key(&self) -> String {
        self.dialect().kind().name().to_owned()
    }

    /// Asks the server what it is (flavor and version), from the server itself.
    ///
    /// # Errors
    /// When the server cannot be reached or answers something unreadable.
    async fn server_info(&self) -> Result<ServerInfo>;

    /// Executes a statement that returns no rows; returns the affected row count as the
    /// engine reports it.
    ///
    /// # Errors
    /// The engine's error, mapped to an [`crate::ErrorKind`].
    async fn execute(&self, stmt: &Statement) -> Result<u64>;

    /// Executes statements in order in one transaction: all commit or none does. Returns
    /// each statement's affected row count.
    ///
    /// # Errors
    /// The first failing statement's error; the transaction is rolled back.
    async fn execute_in_transaction(&self, stmts: &[Statement]) -> Result<Vec<u64>>;

    /// [`SqlExecutor::execute_in_transaction`] that returns each statement's rows (the
    /// `RETURNING` rows of writes, the rows of selects), passing each statement's rows to
    /// `check` (when given) before the next statement runs.
    ///
    /// # Errors
    /// As [`SqlExecutor::execute_in_transaction`]; `check`'s error (the transaction is
    /// rolled back); [`crate::ErrorKind::Unsupported`] from providers that do not offer
    /// it (the default).
    async fn query_in_transaction(&self, _stmts: &[Statement], _check: Option<Arc<RowCheck>>) -> Result<Vec<Vec<Row>>> {
        Err(crate::Error::new(crate::ErrorKind::Unsupported, "this provider returns no rows from a transaction"))
    }

    /// Runs `setup` (session settings such as `SET LOCAL hnsw.ef_search`) and then `stmt`
    /// in one transaction on one connection, returning `stmt`'s rows.
    ///
    /// # Errors
    /// The first failing statement's error.
    async fn query_with_setup(&self, setup: &[Statement], stmt: &Statement) -> Result<Vec<Row>>;

    /// Executes a statement and returns all its rows.
    ///
    /// # Errors
    /// The engine's error, mapped to an [`crate::ErrorKind`]; [`crate::ErrorKind::Decode`]
    /// for a column of a type the provider cannot read.
    async fn query(&self, stmt: &Statement) -> Result<Vec<Row>>;

    /// Answers a nearest-neighbour search from an index the executor keeps itself, or
    /// `None` (the default) when the store should run the dialect's search statement.
    ///
    /// # Errors
    /// Inside the `Some`: the engine's errors, or a stored vector whose dimensions differ
    /// from the query's.
    async fn nearest(&self, _query: &NearestQuery<'_>) -> Option<Result<NearestAnswer>> {
        None
    }
}
