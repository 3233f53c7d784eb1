//! The bound on each connection's prepared statements.
//!
//! deadpool-postgres keeps every statement a connection prepared (`prepare_cached`), on the
//! client and on the server, for as long as the connection lives: a workload of ever new
//! statements (batches of every size, `IN` lists of every length) grows both without end.
//! Before a statement is prepared, a cache that holds [`crate::PgConfig::max_cached_statements`]
//! statements is emptied. Dropping the statements closes them on the server too. The
//! driver's cache keeps no order of use to evict the oldest by, and emptying it costs one
//! new prepare per statement still in use, once per `max_cached_statements` new ones.

use deadpool_postgres::StatementCache;

/// Empties `cache` when it holds `max` statements or more, so that one more prepared
/// statement keeps it at `max` at most.
pub(crate) fn make_room(cache: &StatementCache, max: usize) {
    if cache.size() >= max.max(1) {
        cache.clear();
    }
}
