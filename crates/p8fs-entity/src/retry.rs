//! Transactions the engine aborted to settle a conflict (a deadlock victim, TiDB's 9007
//! write conflict, PostgreSQL's serialization failure) are run again by the providers, the
//! whole transaction each time, a few times with a growing pause. One rule for every
//! provider.

use std::time::Duration;

use p8fs_sql_dialect::{Error, ErrorKind};

/// Runs of a conflicted transaction after the first.
pub const MAX_CONFLICT_RETRIES: u32 = 5;

/// Whether a transaction that failed with `e` runs again: `e` is a conflict and fewer than
/// [`MAX_CONFLICT_RETRIES`] retries were made. Counts the retry in `attempt` and sleeps its
/// pause (20 ms, doubling) before answering yes. A caller whose own row check refused the
/// rows does not ask: the same statements would meet the same rows.
pub async fn retry_conflict(e: &Error, attempt: &mut u32, backend: &str) -> bool {
    if e.kind() != ErrorKind::Conflict || *attempt >= MAX_CONFLICT_RETRIES {
        return false;
    }
    *attempt += 1;
    let backoff = Duration::from_millis(10 << (*attempt).min(6));
    tracing::debug!(backend, attempt = *attempt, ?backoff, error = %e, "transaction conflict, retrying");
    tokio::time::sleep(backoff).await;
    true
}
