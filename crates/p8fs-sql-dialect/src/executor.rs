//! The execution contract every SQL provider implements.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{Dialect, Result, Row, ServerInfo, Statement};

/// Checks the rows one statement of [`SqlExecutor::query_in_transaction`] returned, before
/// the next statement runs; called with the statement's index. An error rolls the whole
/// transaction back and is what the call returns: how a caller refuses a write whose
/// outcome it can only see inside the transaction (an upsert that matched a row other
/// than the one it named) without leaving anything of it behind.
pub type RowCheck = dyn Fn(usize, &[Row]) -> Result<()> + Send + Sync;

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
}
